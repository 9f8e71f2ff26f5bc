#!/usr/bin/env bash
# Installs Locust for tests/load (the locustfile and its headless smoke run) into its own
# virtualenv, ./.venv-locust: Locust >= 2.20 needs geventhttpclient >= 2.5, and
# tritonclient[http] 2.51 (in ./.venv) pins geventhttpclient <= 2.0.2, so they cannot share
# one environment. The locustfile's gRPC user needs only tritonclient[grpc] beside Locust.
# Idempotent: pip installs only what is not there at the pinned version.
set -euo pipefail
cd "$(dirname "$0")/../.."
python="${PYTHON:-python3}"
pin() { grep -E "^$1==" constraints.txt | cut -d= -f3; }
if [ ! -x .venv-locust/bin/python ]; then
  echo "==> creating .venv-locust"
  "$python" -m venv .venv-locust
fi
echo "==> installing locust into .venv-locust"
.venv-locust/bin/python -m pip install --quiet --disable-pip-version-check \
  "locust==2.47.0" "tritonclient[grpc]==2.51.0" \
  "numpy==$(pin numpy)" "grpcio==$(pin grpcio)" "protobuf==$(pin protobuf)"
