#!/usr/bin/python3
"""Independent EncFs decryptor, written from docs/FORMAT.md alone.

Uses only Debian's python3-cryptography (AES-XTS, AES-GCM, AES-SIV, ChaCha20-Poly1305) and the
OpenSSL CLI (`openssl kdf ... HKDF`) for key derivation. Given a backing directory and a scope's
DEK (as printed by `efs recover`), it writes the plaintext tree of that scope to an output
directory: file contents, names, symlink targets and extended attributes.

usage: efs_decrypt.py BACKING OUTPUT --dek HEX [--infra-key HEX]
"""
import argparse
import base64
import os
import struct
import subprocess
import sys

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV, ChaCha20Poly1305

FILE_HEADER_SIZE = 96
SEAL_OVERHEAD = 28


def hkdf(ikm: bytes, salt: bytes, info: str, length: int) -> bytes:
    """HKDF-SHA256 through the OpenSSL CLI; an empty salt is left out (RFC 5869 zeros)."""
    cmd = ["openssl", "kdf", "-keylen", str(length), "-kdfopt", "digest:SHA256",
           "-kdfopt", "hexkey:" + ikm.hex(), "-kdfopt", "info:" + info]
    if salt:
        cmd += ["-kdfopt", "hexsalt:" + salt.hex()]
    out = subprocess.run(cmd + ["HKDF"], check=True, capture_output=True, text=True).stdout
    return bytes.fromhex(out.strip().replace(":", ""))


def unpad(padded: bytes) -> str:
    """Names, targets and attribute names are NUL-padded to a multiple of 16 bytes."""
    return padded.rstrip(b"\0").decode("utf-8")


def b64u_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Scope:
    def __init__(self, dek: bytes, infra_key: bytes | None):
        self.dek = dek
        self.infra_key = infra_key
        self.siv = AESSIV(hkdf(dek, b"", "EncFs/v1/names", 64))

    def name(self, directory_id: bytes, encrypted: str) -> str:
        return unpad(self.siv.decrypt(b64u_decode(encrypted), [directory_id]))


def read_directory_id(backing_dir: str) -> bytes:
    with open(os.path.join(backing_dir, ".efsdir"), "rb") as f:
        record = f.read()
    assert record[:4] == b"EFSD" and len(record) == 76, "bad directory record"
    return record[8:24]


def decrypt_file(scope: Scope, path: str) -> bytes:
    with open(path, "rb") as f:
        data = f.read()
    header = data[:FILE_HEADER_SIZE]
    assert header[:4] == b"EFSF" and header[4] == 1, "bad file header"
    infrastructure = bool(header[5] & 1)
    sector_size = 1 << header[6]
    file_id = header[8:24]
    header_key = hkdf(scope.dek, file_id, "EncFs/v1/header", 32)
    size_plain = AESGCM(header_key).decrypt(header[48:60], header[60:68] + header[68:84], header[:48])
    (size,) = struct.unpack("<Q", size_plain)
    xts_key = hkdf(scope.dek, file_id, "EncFs/v1/xts", 64)
    infra = ChaCha20Poly1305(hkdf(scope.infra_key, file_id, "EncFs/v1/infra", 32)) if infrastructure else None
    stride = sector_size + (SEAL_OVERHEAD if infrastructure else 0)
    out = bytearray()
    sector = 0
    while len(out) < size:
        stored = data[FILE_HEADER_SIZE + sector * stride:FILE_HEADER_SIZE + (sector + 1) * stride]
        if len(stored) != stride:
            raise ValueError(f"{path}: sector {sector} truncated")
        if infra is not None:
            aad = file_id + struct.pack("<Q", sector)
            stored = infra.decrypt(stored[:12], stored[12:], aad)
        elif stored == bytes(stride):
            out += bytes(sector_size)  # a hole
            sector += 1
            continue
        tweak = struct.pack("<QQ", sector, 0)
        decryptor = Cipher(algorithms.AES(xts_key), modes.XTS(tweak)).decryptor()
        out += decryptor.update(stored) + decryptor.finalize()
        sector += 1
    return bytes(out[:size])


def decrypt_symlink(scope: Scope, stored_target: str) -> str:
    raw = b64u_decode(stored_target)
    nonce = raw[20:36]
    return unpad(scope.siv.decrypt(raw[36:], [b"EncFs/v1/symlink", nonce]))


def decrypt_xattrs(scope: Scope, path: str) -> dict:
    result = {}
    for stored_name in os.listxattr(path, follow_symlinks=False):
        if not stored_name.startswith("user.efs."):
            continue
        encrypted = stored_name[len("user.efs."):]
        name = unpad(scope.siv.decrypt(b64u_decode(encrypted), [b"EncFs/v1/xattr-name"]))
        value = os.getxattr(path, stored_name, follow_symlinks=False)
        result[name] = scope.siv.decrypt(value[16:], [b"EncFs/v1/xattr-value", value[:16], encrypted.encode("ascii")])
    return result


def walk(scope: Scope, backing_dir: str, output_dir: str, xattr_lines: list, rel: str = "") -> None:
    directory_id = read_directory_id(backing_dir)
    for entry in sorted(os.listdir(backing_dir)):
        if entry.startswith(".") or (entry.startswith("~") and entry.endswith(".name")):
            continue
        encrypted = entry
        if entry.startswith("~"):
            with open(os.path.join(backing_dir, entry + ".name"), "r", encoding="ascii") as f:
                encrypted = f.read()
        name = scope.name(directory_id, encrypted)
        source = os.path.join(backing_dir, entry)
        target = os.path.join(output_dir, name)
        if os.path.islink(source):
            os.symlink(decrypt_symlink(scope, os.readlink(source)), target)
        elif os.path.isdir(source):
            os.mkdir(target)
            walk(scope, source, target, xattr_lines, rel + "/" + name)
        elif os.path.isfile(source):
            with open(target, "wb") as f:
                f.write(decrypt_file(scope, source))
        else:
            continue
        if not os.path.islink(source):
            for xname, xvalue in sorted(decrypt_xattrs(scope, source).items()):
                xattr_lines.append(f"{rel}/{name}\t{xname}\t{xvalue.hex()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("backing")
    parser.add_argument("output")
    parser.add_argument("--dek", required=True)
    parser.add_argument("--infra-key")
    args = parser.parse_args()
    scope = Scope(bytes.fromhex(args.dek), bytes.fromhex(args.infra_key) if args.infra_key else None)
    os.makedirs(args.output, exist_ok=True)
    xattr_lines: list = []
    walk(scope, os.path.join(args.backing, "root"), args.output, xattr_lines)
    # Extended attributes are listed beside the tree rather than set, so any filesystem works.
    with open(os.path.join(args.output, "..", os.path.basename(args.output) + ".xattrs"), "w") as f:
        f.write("\n".join(xattr_lines) + ("\n" if xattr_lines else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
