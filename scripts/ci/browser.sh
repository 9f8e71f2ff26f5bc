#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests (tests/browser/, Playwright drives it:
# Playwright cannot download its own browser build here, so it launches /usr/bin/chromium).
# Idempotent; starts nothing.
set -euo pipefail

source "$(dirname "$0")/apt.sh"
apt_install_missing browser chromium fonts-dejavu-core
