#!/usr/bin/env bash
# Start time and peak memory of `efs --version` and `efs status <volume> --json` for three
# builds of the same efs: NativeAOT (an experiment, not shipped: docs/PERFORMANCE.md), the
# self-contained single-file JIT binary (installer/linux/install.sh's publish) and
# `dotnet efs.dll` (framework-dependent).
# Wall time with hyperfine (3 warm-up runs, then 20); peak RSS with /usr/bin/time over 20 runs.
#
# usage: bench/startup.sh [--aot FILE] [--single-file FILE] [--dll FILE]
#   defaults: artifacts/aot/efs, artifacts/linux-x64/efs, src/EncFs.Cli/bin/Release/net10.0/efs.dll
#   (build them first: the NativeAOT command in docs/PERFORMANCE.md, installer/linux/install.sh
#   --destdir D, dotnet build src/EncFs.Cli -c Release). Results: Markdown on stdout.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
aot="$root/artifacts/aot/efs" single="$root/artifacts/linux-x64/efs" dll="$root/src/EncFs.Cli/bin/Release/net10.0/efs.dll"
while (($#)); do
  case "$1" in
    --aot) aot="$2"; shift 2 ;;
    --single-file) single="$2"; shift 2 ;;
    --dll) dll="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "startup.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for f in "$aot" "$single" "$dll"; do [[ -f "$f" ]] || { echo "startup.sh: $f is missing" >&2; exit 1; }; done
command -v hyperfine >/dev/null || { echo "startup.sh: hyperfine is missing (apt-get install hyperfine)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export EFS_KEYSTORE="$work/keystore"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/key"
"$single" init "$work/volume" --key-file "$work/key" >/dev/null

declare -A build=([aot]="$aot" [single-file]="$single" [dll]="dotnet $dll")
echo "| build | command | mean ± σ (ms) | min … max (ms) | peak RSS median / max (MiB) |"
echo "|---|---|---:|---:|---:|"
for name in aot single-file dll; do
  for args in "--version" "status $work/volume --json"; do
    cmd="${build[$name]} $args"
    hyperfine -N --warmup 3 --runs 20 --export-json "$work/h.json" "$cmd" >/dev/null 2>&1
    times="$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.1f ± %.1f|%.1f … %.1f" % (r["mean"]*1e3, r["stddev"]*1e3, r["min"]*1e3, r["max"]*1e3))' "$work/h.json")"
    : > "$work/rss"
    for _ in $(seq 20); do
      # shellcheck disable=SC2086
      /usr/bin/time -f "%M" -a -o "$work/rss" $cmd >/dev/null 2>&1
    done
    rss="$(sort -n "$work/rss" | awk '{ v[NR] = $1 } END { printf "%.1f / %.1f", v[int((NR + 1) / 2)] / 1024, v[NR] / 1024 }')"
    echo "| $name | \`efs ${args/$work/\$V}\` | ${times%%|*} | ${times##*|} | $rss |"
  done
done
