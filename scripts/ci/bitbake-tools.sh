#!/usr/bin/env bash
# Host setup for the real BitBake parse and task-graph test (tests/layer/test_bitbake.py)
# on Debian 12, as root, like CI. Idempotent. Starts nothing.
#
#   apt:     the host tools BitBake's sanity check and oe-core's parse need (gawk, chrpath,
#            diffstat, file, lz4, zstd, cpio, python3, xz-utils to unpack the layer
#            snapshots, locales), plus nftables (nft -c on the appliance firewall) and
#            xfsprogs (mkfs.xfs for the data-partition first-boot script).
#   locale:  en_US.UTF-8 (BitBake refuses to start without a UTF-8 locale it can name).
#   user:    BitBake refuses to run as root; the test runs it as $MLINFER_BITBAKE_USER
#            (default: bitbake), a system user made here.
set -euo pipefail
cd "$(dirname "$0")/../.."

apt_packages=(gawk chrpath diffstat file lz4 zstd cpio python3 xz-utils locales util-linux
  nftables xfsprogs)

source "$(dirname "$0")/apt.sh"
apt_install_missing bitbake-tools "${apt_packages[@]}"

if ! locale -a 2>/dev/null | grep -qix 'en_US.utf8'; then
  echo "==> bitbake-tools: generating the en_US.UTF-8 locale"
  sed -i 's/^# *\(en_US.UTF-8 UTF-8\)/\1/' /etc/locale.gen
  grep -q '^en_US.UTF-8 UTF-8' /etc/locale.gen || echo 'en_US.UTF-8 UTF-8' >> /etc/locale.gen
  locale-gen >/dev/null
fi

user="${MLINFER_BITBAKE_USER:-bitbake}"
if ! id -u "$user" >/dev/null 2>&1; then
  echo "==> bitbake-tools: creating the unprivileged user $user"
  useradd --system --create-home --shell /bin/bash "$user"
fi

for tool in gawk chrpath diffstat file lz4 zstd cpio xz runuser nft mkfs.xfs; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] \
    || { echo "bitbake-tools.sh: $tool missing after install" >&2; exit 1; }
done
echo "==> bitbake-tools: ready (user $user, locale en_US.UTF-8)"
