# Sourced by the CI install scripts: install Debian packages that are missing, without
# starting their services (tests start their own servers on free loopback ports).
# Usage: apt_install_missing LABEL PACKAGE...

apt_install_missing() {
  local label=$1
  shift
  local missing=() pkg
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    echo "==> $label: $* already installed"
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "$label: need root to install: ${missing[*]}" >&2
    return 1
  fi
  echo "==> $label: apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d exit 101 tells invoke-rc.d not to start the packages' services
  # (nginx on :80, prometheus on :9090, redis on :6379) during the install.
  local policy=/usr/sbin/policy-rc.d created=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod +x "$policy"
    created=1
  fi
  apt-get update -qq
  # --no-install-recommends: prometheus would recommend node-exporter and friends.
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  local status=$?
  if [ "$created" -eq 1 ]; then rm -f "$policy"; fi
  return $status
}
