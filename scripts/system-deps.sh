#!/usr/bin/env bash
# Installs the Debian packages given as arguments when they are missing (as root, with
# apt-get); elsewhere it names the missing ones and leaves the rest to the operator.
#   make serve/test: libmagic1 (content sniffing), postgresql (the real server tests start)
#   make test:       chromium (the web UI's browser tests; Playwright drives it, downloads none),
#                    nginx-light (the nginx the X-Accel-Redirect delivery tests start on
#                    127.0.0.1; Debian also starts its own nginx on port 80 where a
#                    service manager runs, as it starts PostgreSQL's system cluster)
#   make bench:      wrk (the load generator of bench/bench_delivery.py), nginx-light (its
#                    accel row)
set -euo pipefail
wanted=("$@")
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "!! missing system packages: ${missing[*]} (install them with apt-get as root)" >&2
  exit 0
fi
echo "installing system packages: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
