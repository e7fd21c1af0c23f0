#!/usr/bin/env bash
# Builds the efs Debian package (amd64) with dpkg-deb: the files are those that
# installer/linux/install.sh stages with --destdir (one install list for both), owned by root.
#
# usage: packaging/deb/build-deb.sh [--no-build] [--output DIR] [--compress xz|gzip|zstd]
#   --no-build    reuse artifacts/linux-x64/efs (the self-contained publish of install.sh)
#   --output DIR  where the .deb goes (default: artifacts/); its path is printed on stdout
#   --compress    dpkg-deb's compressor (default xz: smallest; gzip: fastest to build)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$root/packaging/deb"
output="$root/artifacts" build=() compress=xz
while (($#)); do
  case "$1" in
    --no-build) build=(--no-build); shift ;;
    --output) output="$2"; shift 2 ;;
    --compress) compress="$2"; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "build-deb.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
command -v dpkg-deb >/dev/null || { echo "build-deb.sh: dpkg-deb is missing (Debian's dpkg)" >&2; exit 1; }

version="$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$root/Directory.Build.props" | head -n1)"
[[ -n "$version" ]] || { echo "build-deb.sh: no <Version> in Directory.Build.props" >&2; exit 1; }

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
pkg="$stage/efs"
bash "$root/installer/linux/install.sh" --destdir "$pkg" "${build[@]}"
install -m 0644 "$root/LICENSE" "$pkg/usr/share/doc/efs/copyright"

install -d -m 0755 "$pkg/DEBIAN"
for script in postinst prerm postrm; do
  install -m 0755 "$here/$script" "$pkg/DEBIAN/$script"
done
# The service configuration is the administrator's: dpkg keeps their edits on upgrade and
# removes it only on purge. The keystore is no conffile and is never removed (see postrm).
echo /etc/efs/service.json > "$pkg/DEBIAN/conffiles"
chmod 0644 "$pkg/DEBIAN/conffiles"
# The binary is self-contained: the .NET runtime is inside it. It needs the C and C++
# runtimes, OpenSSL's libcrypto.so.3 (which .NET loads at run time for its cryptography) and
# FUSE 3 (fusermount3, for mounts by users other than root).
cat > "$pkg/DEBIAN/control" <<CONTROL
Package: efs
Version: $version
Architecture: amd64
Maintainer: EncFs maintainers <efs@localhost>
Installed-Size: $(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
Depends: libc6 (>= 2.31), libgcc-s1, libstdc++6, libssl3, fuse3
Section: admin
Priority: optional
Description: transparent encrypting filesystem (FUSE)
 efs stores every file of a volume in a backing directory as sectors encrypted
 with AES-256-XTS, with names, symlink targets and extended attributes
 encrypted too. Data keys exist per encryption scope and are kept only wrapped
 by a key encryption key that lives off the disk (platform keystore,
 passphrase, provided key, PKCS#11 HSM or Azure Key Vault).
 .
 The efs.service unit keeps the volumes listed in /etc/efs/service.json
 mounted. Platform keys live in /var/lib/efs/keystore, which removing or
 purging the package never deletes.
CONTROL
chmod 0644 "$pkg/DEBIAN/control"

mkdir -p "$output"
deb="$(cd "$output" && pwd)/efs_${version}_amd64.deb"
dpkg-deb --root-owner-group -Z"$compress" --build "$pkg" "$deb" >&2
echo "$deb"
