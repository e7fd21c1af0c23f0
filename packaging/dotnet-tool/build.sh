#!/usr/bin/env bash
# Builds the efs .NET tool package (EncFs.Tool, command `efs`, framework-dependent: it runs on
# the installed .NET 10 runtime) with `dotnet pack`.
#
# usage: packaging/dotnet-tool/build.sh [--output DIR]
#   --output DIR  where the .nupkg goes (default: artifacts/nupkg); its path is printed on stdout
# then:  dotnet tool install --global --add-source DIR EncFs.Tool --version VERSION
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
output="$root/artifacts/nupkg"
while (($#)); do
  case "$1" in
    --output) output="$2"; shift 2 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
version="$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$root/Directory.Build.props" | head -n1)"
[[ -n "$version" ]] || { echo "build.sh: no <Version> in Directory.Build.props" >&2; exit 1; }
mkdir -p "$output"
output="$(cd "$output" && pwd)"
dotnet pack "$root/src/EncFs.Cli" -c Release -o "$output" -nologo -v quiet >&2
package="$output/EncFs.Tool.$version.nupkg"
[[ -f "$package" ]] || { echo "build.sh: dotnet pack made no $package" >&2; exit 1; }
echo "$package"
