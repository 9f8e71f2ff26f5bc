#!/usr/bin/env bash
# The whole check on a fresh Debian machine (run as root, like CI): installs what the tests
# need, then ruff, mypy (strict on the package) and pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh "embedded,samples,fast,dev"
if [ -x scripts/ci/deploy-tools.sh ]; then
  scripts/ci/deploy-tools.sh
fi
scripts/ci/bitbake-tools.sh
if [ -x scripts/ci/services.sh ]; then
  scripts/ci/services.sh
fi
export PATH="$PWD/.venv/bin:$PATH"
echo "==> ruff"
ruff check services tests
echo "==> mypy"
mypy
echo "==> pytest"
python -m pytest "$@"
