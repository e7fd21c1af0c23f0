#!/usr/bin/env bash
# The main job in one command: install what is needed, create a volume with the default key
# source (a platform key kept in this machine's keystore, outside the backing directory),
# mount it, use it, and show that the backing directory holds only ciphertext. Leaves it
# mounted.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
demo="${1:-/tmp/efs-demo}"
"$root/scripts/install-deps.sh"
mkdir -p "$demo/plain"
if ! grep -q " $demo/plain " /proc/self/mountinfo; then
  [[ -f "$demo/backing/efs.volume" ]] || "$root/efs" init "$demo/backing"
  "$root/efs" mount "$demo/backing" "$demo/plain"
fi
echo "hello from EncFs, $(date)" > "$demo/plain/hello.txt"
echo "--- plaintext view ($demo/plain):"; ls -l "$demo/plain"; cat "$demo/plain/hello.txt"
echo "--- backing directory ($demo/backing/root):"; ls -l "$demo/backing/root"
echo "--- status:"; "$root/efs" status "$demo/plain/hello.txt"
echo "Unmount with: $root/efs unmount $demo/plain"
