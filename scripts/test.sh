#!/usr/bin/env bash
# The whole check on a fresh Debian machine (run as root, like CI): installs what the tests
# need, then ruff, mypy (strict on the package) and pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh "embedded,samples,fast,docs,dev,torch,optimizer,registry,gpu-telemetry"  # torch: the CPU build pinned in constraints.txt
if [ -x scripts/ci/deploy-tools.sh ]; then
  scripts/ci/deploy-tools.sh
fi
scripts/ci/bitbake-tools.sh
if [ -x scripts/ci/services.sh ]; then
  scripts/ci/services.sh
fi
if [ -x scripts/ci/registry-services.sh ]; then
  scripts/ci/registry-services.sh
fi
scripts/ci/browser.sh
scripts/ci/locust.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "==> ruff"
ruff check services tests bench
echo "==> import-linter (layers)"
lint-imports
echo "==> mypy"
mypy
echo "==> pytest"
python -m pytest "$@"
