#!/usr/bin/env bash
# Installs the Debian packages the tests run for real (run as root by CI on Debian 12,
# before pytest). Idempotent: apt-get update and install only when something is missing.
# It starts nothing: tests start their own redis-server on free loopback ports, so the
# install runs under a policy-rc.d that forbids starting the package's service (no stray
# server on port 6379 outliving CI).
#   redis-server   tests/support/redis_server.py (rate limiting; response cache)
set -euo pipefail

packages=(redis-server)

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "==> services: ${packages[*]} already installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "services.sh: need root to install: ${missing[*]}" >&2
  exit 1
fi

echo "==> services: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d exit 101 tells invoke-rc.d not to start services during the install
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
  created_policy=1
fi
trap 'if [ "$created_policy" -eq 1 ]; then rm -f "$policy"; fi' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}"
