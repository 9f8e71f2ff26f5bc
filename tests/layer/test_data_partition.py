"""The data partition: XFS, formatted on first boot only when blank, and never again.

The first boot is systemd's: the fstab line's x-systemd.makefs makes systemd-fstab-generator
run systemd-makefs before the mount, and systemd-makefs formats only a device without a
file system. Here the same systemd-makefs runs on a sparse file standing in for the blank
partition (it probes and formats files as it does block devices), with mkfs.xfs from
xfsprogs as on the image.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.layer.layerlib import LAYER, find_tool, recipe
from tests.layer.test_units import render

FSTAB = LAYER / "recipes-mlinfer/mlinfer/files/mlinfer-data.fstab.in"
MAKEFS = Path("/usr/lib/systemd/systemd-makefs")


def fstab_line() -> list[str]:
    lines = [line for line in render(FSTAB, {}).splitlines() if line and line[0] != "#"]
    assert len(lines) == 1, lines
    return lines[0].split()


def test_fstab_mounts_xfs_formatted_on_first_boot() -> None:
    device, mountpoint, fstype, options, _dump, passno = fstab_line()
    assert (device, mountpoint, fstype) == ("/dev/disk/by-partlabel/UDA", "/data", "xfs")
    flags = options.split(",")
    assert {"x-systemd.makefs", "nofail", "noexec", "nodev", "nosuid"} <= set(flags)
    # systemd-growfs grows ext4 and btrfs only; on XFS it would fail every boot.
    assert "x-systemd.growfs" not in flags
    assert passno == "0", "fsck.xfs does nothing; XFS checks itself at mount"


def test_data_package_brings_mkfs_xfs() -> None:
    assert "xfsprogs" in recipe("mlinfer").words_by_var("RDEPENDS")["RDEPENDS:mlinfer-data"]


def _blkid(path: Path) -> dict[str, str]:
    blkid = find_tool("blkid")
    assert blkid is not None
    result = subprocess.run(
        [blkid, "-o", "export", str(path)], capture_output=True, text=True, check=False
    )
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)


def test_first_boot_formats_a_blank_partition_once(tmp_path: Path) -> None:
    if not MAKEFS.exists():
        pytest.skip(f"{MAKEFS} is missing (Debian: systemd)")
    if find_tool("mkfs.xfs") is None or find_tool("blkid") is None:
        pytest.skip("mkfs.xfs or blkid is missing; scripts/ci/bitbake-tools.sh installs xfsprogs")
    _device, _mountpoint, fstype, *_ = fstab_line()
    partition = tmp_path / "UDA.img"
    with partition.open("wb") as blank:  # sparse: XFS needs at least 300 MiB
        blank.truncate(512 * 1024 * 1024)
    assert _blkid(partition) == {}

    first = subprocess.run(
        [str(MAKEFS), fstype, str(partition)], capture_output=True, text=True, timeout=120
    )
    assert first.returncode == 0, first.stderr
    formatted = _blkid(partition)
    assert formatted.get("TYPE") == "xfs", formatted

    second = subprocess.run(
        [str(MAKEFS), fstype, str(partition)], capture_output=True, text=True, timeout=120
    )
    assert second.returncode == 0, second.stderr
    assert "not empty" in second.stdout + second.stderr
    assert _blkid(partition)["UUID"] == formatted["UUID"], "the second boot formatted again"


def test_database_lives_on_the_data_partition() -> None:
    """PostgreSQL's cluster is on /data (postgresql.service.d drop-in), made on first start,
    and waits for the mount; tmpfiles creates its directory for the postgres user."""
    dropin = render(LAYER / "recipes-mlinfer/mlinfer/files/mlinfer-postgresql.conf.in", {})
    assert "RequiresMountsFor=/data" in dropin
    assert "Environment=PGDATA=/data/postgresql/data" in dropin
    assert 'test -f "$PGDATA/PG_VERSION" ||' in dropin and "initdb" in dropin
    tmpfiles = render(LAYER / "recipes-mlinfer/mlinfer/files/mlinfer-tmpfiles.conf.in", {})
    assert re.search(r"^d /data/postgresql\s+0700 postgres postgres -$", tmpfiles, re.M)
    files = recipe("mlinfer").words_by_var("FILES")["FILES:mlinfer-data"]
    assert "${systemd_system_unitdir}/postgresql.service.d/mlinfer-data.conf" in files
