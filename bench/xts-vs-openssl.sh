#!/usr/bin/env bash
# AES-256-XTS throughput: `openssl speed` (OpenSSL's own upper bound, one buffer re-encrypted
# without re-keying or re-tweaking) against XtsSectorCipher under BenchmarkDotNet, single thread,
# in one run on one machine. Extra arguments go to BenchmarkDotNet.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=3
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== machine"
echo "nproc: $(nproc)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "aes flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(aes|vaes|avx2|avx512f|vpclmulqdq)$' | tr '\n' ' ')"
echo "openssl: $(openssl version)"
echo "dotnet: $(dotnet --version)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# MB/s (10^6 bytes/s) of `openssl speed` for one size and direction.
openssl_speed() { # bytes [-decrypt]
    openssl speed ${2:-} -seconds "$seconds" -bytes "$1" -evp aes-256-xts 2>/dev/null \
        | awk '/^AES-256-XTS/ { sub(/k$/, "", $2); printf "%.0f", $2 / 1000 }'
}

echo
echo "== openssl speed -evp aes-256-xts (single thread, ${seconds}s each)"
declare -A ossl
for bytes in 4096 65536; do
    ossl[enc-$bytes]=$(openssl_speed "$bytes")
    ossl[dec-$bytes]=$(openssl_speed "$bytes" -decrypt)
    echo "encrypt $bytes bytes: ${ossl[enc-$bytes]} MB/s"
    echo "decrypt $bytes bytes: ${ossl[dec-$bytes]} MB/s"
done

echo
echo "== BenchmarkDotNet (bench/EncFs.Benchmarks, short job)"
dotnet run -c Release --project bench/EncFs.Benchmarks -- \
    --filter '*Xts*' --artifacts "$out/bdn" "$@" > "$out/bdn.log" 2>&1 || { cat "$out/bdn.log"; exit 1; }
sed -n '/^BenchmarkDotNet v/,/^$/{p;/^$/q}' "$out/bdn.log"
grep -E '^\|' "$out/bdn.log"

# Look a result up in the CSV reports by header name: method engine sector-size.
ours() {
    awk -F';' -v m="$1" -v e="$2" -v s="$3" '
        FNR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        $col["Method"] == m && $col["Engine"] == e && $col["SectorSize"] == s { print $col["MB/s"] }
    ' "$out"/bdn/results/*-report.csv
}

echo
echo "== side by side (MB/s, single thread; ratio = XtsSectorCipher / openssl speed)"
printf '%-34s %14s %14s %7s\n' "case" "openssl speed" "XtsSector" "ratio"
row() { # label ours-mb/s openssl-mb/s
    printf '%-34s %14s %14s %6.0f%%\n' "$1" "$3" "$2" "$(echo "$2 $3" | awk '{ print 100 * $1 / $2 }')"
}
for engine in OpenSSL ECB; do
    for bytes in 4096 65536; do
        row "$engine encrypt, $bytes B sector" "$(ours Encrypt "$engine" "$bytes")" "${ossl[enc-$bytes]}"
        row "$engine decrypt, $bytes B sector" "$(ours Decrypt "$engine" "$bytes")" "${ossl[dec-$bytes]}"
    done
    row "$engine encrypt, batch 256 x 4096 B" "$(ours EncryptBatch "$engine" 4096)" "${ossl[enc-4096]}"
    row "$engine decrypt, batch 256 x 4096 B" "$(ours DecryptBatch "$engine" 4096)" "${ossl[dec-4096]}"
done
