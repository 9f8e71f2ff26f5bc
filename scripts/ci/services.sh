#!/usr/bin/env bash
# Installs the Debian packages the tests run for real (run as root by CI on Debian 12,
# before pytest). Idempotent: apt-get update and install only when something is missing.
# It starts nothing: tests start their own redis-server on free loopback ports, so the
# install runs under a policy-rc.d that forbids starting the package's service (no stray
# server on port 6379 outliving CI).
#   redis-server   tests/support/redis_server.py (rate limiting; response cache)
set -euo pipefail

source "$(dirname "$0")/apt.sh"
apt_install_missing services redis-server
