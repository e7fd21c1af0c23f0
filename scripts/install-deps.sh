#!/usr/bin/env bash
# Installs what building and testing EncFs needs on Debian 12: the independent crypto oracles
# (python3-cryptography, the OpenSSL CLI) and the filesystem tools the tests use.
set -euo pipefail
# The FUSE tests (tests/EncFs.Fuse.Tests) mount for real and drive the mount with fuse3, fio,
# sqlite3, git, attr (setfattr/getfattr), util-linux (flock, setpriv, fallocate, findmnt),
# procps (pgrep, kill), psmisc, tar, diffutils and coreutils.
# The PKCS#11 key source tests (tests/EncFs.Keys.Tests/Pkcs11, tests/EncFs.Cli.Tests) drive a
# private SoftHSM2 token (softhsm2) and delete keys from it with pkcs11-tool (opensc).
packages=(python3 python3-cryptography openssl attr fuse3 fio sqlite3 git util-linux psmisc procps tar diffutils coreutils softhsm2 opensc)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
command -v dotnet >/dev/null || { echo "the .NET 10 SDK is required (dotnet on PATH)" >&2; exit 1; }
