#!/usr/bin/env bash
# Side-by-side benchmark: efs (with and without the infrastructure layer), the plain backing
# directory, gocryptfs, CryFS, securefs and EncFS, in one run, through ../shared/tools/peers.sh
# (fio sequential 1 GiB write / cold read, 4 KiB random read and write at 1 and 2 jobs, a tree
# of ~10,000 small files extracted / listed / read / deleted, daemon peak RSS).
#
# usage: bench/run.sh [peers.sh environment overrides, e.g. SEQ_SIZE=256m BENCH_FS="plain gocryptfs"]
# Results: Markdown on stdout, JSON in bench/results/peers-<date>.json.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
peers="${PEERS_SH:-$root/../shared/tools/peers.sh}"
[[ -x "$peers" || -f "$peers" ]] || { echo "peers.sh not found at $peers (set PEERS_SH)" >&2; exit 2; }

dotnet build "$root/src/EncFs.Cli" -c Release -v quiet -nologo >&2
efs="dotnet $root/src/EncFs.Cli/bin/Release/net10.0/efs.dll"
mkdir -p "$root/bench/results"

export BENCH_FS="${BENCH_FS-plain gocryptfs cryfs securefs encfs efs efsinfra}"
export BENCH_OUT="${BENCH_OUT:-$root/bench/results/peers-$(date +%Y%m%d-%H%M%S).json}"
for name in efs efsinfra; do
  extra=""; [[ $name == efsinfra ]] && extra="--infrastructure-encryption"
  export "FS_INIT_$name=$efs init --passphrase-file {passfile} $extra {backing}"
  export "FS_MOUNT_$name=$efs mount --passphrase-file {passfile} {backing} {mount}"
  export "FS_UNMOUNT_$name=$efs unmount {mount}"
  export "FS_VERSION_$name=$efs --version"
done
export FS_DESC_efs="AES-256-XTS, 4 KiB sectors, Argon2id KDF (~0.5 s)"
export FS_DESC_efsinfra="AES-256-XTS + ChaCha20-Poly1305 infrastructure layer, 4 KiB sectors, Argon2id KDF"
exec bash "$peers"
