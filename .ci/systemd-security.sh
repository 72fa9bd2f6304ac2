#!/usr/bin/env bash
# deploy/icpgate.service keeps systemd's exposure rating at 2.0 or lower (issue: "Run it like
# nginx"). `systemd-analyze security --offline=true` rates the unit file itself, so no running
# systemd is needed; --threshold is the rating times ten and fails the command above it.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v systemd-analyze >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends systemd >/dev/null
  else
    echo "error: systemd-analyze is missing and cannot be installed" >&2
    exit 1
  fi
fi

unit=deploy/icpgate.service
report=$(systemd-analyze security --offline=true --threshold=20 "$unit" 2>&1) || {
  printf '%s\n' "$report" | grep -v '^✓' >&2
  echo "error: $unit is rated above 2.0 (the findings are above)" >&2
  exit 1
}
printf '%s\n' "$report" | tail -n 1
