#!/usr/bin/env bash
# Installs efs on Linux: the self-contained binary, the systemd unit, the configuration and
# keystore directories with owner-only permissions. Uninstalling never removes data, keys or
# configuration unless --purge is given.
#
# usage: installer/linux/install.sh [--destdir DIR] [--no-build]        install (DIR: staging root, for packaging)
#        installer/linux/install.sh --uninstall [--purge] [--destdir DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
destdir="" build=1 uninstall=0 purge=0
while (($#)); do
  case "$1" in
    --destdir) destdir="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --uninstall) uninstall=1; shift ;;
    --purge) purge=1; shift ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

lib="$destdir/usr/lib/efs" bin="$destdir/usr/bin" unit="$destdir/lib/systemd/system/efs.service"
etc="$destdir/etc/efs" keystore="$destdir/var/lib/efs/keystore"

if ((uninstall)); then
  [[ -z "$destdir" ]] && command -v systemctl >/dev/null && systemctl disable --now efs.service 2>/dev/null || true
  rm -rf "$lib" "$bin/efs" "$unit"
  if ((purge)); then
    echo "install.sh: --purge removes $etc and $keystore: volumes whose keys are there become unreadable" >&2
    rm -rf "$etc" "$destdir/var/lib/efs"
  else
    echo "install.sh: kept $etc and $keystore (configuration and platform keys); --purge removes them" >&2
  fi
  exit 0
fi

if ((build)); then
  dotnet publish "$root/src/EncFs.Cli" -c Release -r linux-x64 --self-contained -p:PublishSingleFile=true -o "$root/artifacts/linux-x64" -v quiet -nologo >&2
fi
[[ -x "$root/artifacts/linux-x64/efs" ]] || { echo "install.sh: $root/artifacts/linux-x64/efs is missing (run without --no-build)" >&2; exit 1; }

install -d -m 0755 "$lib" "$bin" "$(dirname "$unit")"
install -m 0755 "$root/artifacts/linux-x64/efs" "$lib/efs"
ln -sf /usr/lib/efs/efs "$bin/efs"
install -m 0644 "$root/installer/linux/efs.service" "$unit"
install -d -m 0700 "$etc" "$keystore"
install -d -m 0755 "$destdir/usr/share/doc/efs"
install -m 0644 "$root/README.md" "$root/LICENSE" "$destdir/usr/share/doc/efs/"
if [[ ! -f "$etc/service.json" ]]; then
  install -m 0600 /dev/null "$etc/service.json"
  cat > "$etc/service.json" <<'JSON'
{
  "volumes": [
  ],
  "retrySeconds": 2,
  "maxRetrySeconds": 60,
  "auditLog": "/var/log/efs/audit.jsonl"
}
JSON
fi
echo "Installed efs in ${destdir:-/}: list volumes in /etc/efs/service.json, then 'systemctl enable --now efs'" >&2
