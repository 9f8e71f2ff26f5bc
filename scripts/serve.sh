#!/usr/bin/env bash
# The appliance on the embedded ONNX Runtime engine with the sample models:
# installs into ./.venv, generates the sample models once, then runs `mlinfer serve`.
# Extra arguments go to `mlinfer serve` (e.g. --host 0.0.0.0 --http-port 9000).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh "embedded,samples,fast,docs"
if ! ls model_repository/*/1/model.onnx >/dev/null 2>&1; then
  .venv/bin/mlinfer models generate --output model_repository
fi
# The quick start runs without authentication, said explicitly here (the server warns
# loudly); set MLINFER_AUTH_MODE=required plus a secret or API keys to turn it on.
export MLINFER_AUTH_MODE="${MLINFER_AUTH_MODE:-disabled}"
exec .venv/bin/mlinfer serve --model-repository model_repository "$@"
