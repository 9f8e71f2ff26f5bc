#!/usr/bin/env bash
# Creates ./.venv (if missing) and installs mlinfer with the given extras, pinned by
# constraints.txt so every machine gets the versions the tests ran with.
# Usage: scripts/bootstrap.sh "embedded,samples,fast"
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-embedded,samples,fast}"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $("$python" --version)"
  "$python" -m venv .venv
fi
echo "==> installing mlinfer[$extras] into .venv"
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -c constraints.txt -e ".[$extras]"
