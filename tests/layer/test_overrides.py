"""The distro's override names collide with no recipe or package name.

bitbake.conf puts DISTROOVERRIDES (default: ${DISTRO}) into OVERRIDES. If an override is
also a recipe's PN, every ``VAR:${PN}`` of that recipe turns into a distro override of the
plain variable: insane.bbclass stops the parse (pn-overrides, pkgvarcheck), and a package
of that name would get its package-specific values applied to the whole recipe. This finds
it from the files alone, seconds before the BitBake test (test_bitbake.py) would.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.layer.layerlib import LAYER, load_recipes, read_metadata
from tests.layer.test_names import index

# Override suffixes that are operators or name a package/class rather than a condition.
OPERATORS = {"append", "prepend", "remove"}


def distro_confs() -> list[Path]:
    return sorted(LAYER.glob("conf/distro/*.conf"))


def distro_overrides(conf: Path) -> list[str]:
    """DISTROOVERRIDES as the distro sets it, or bitbake.conf's default, ${DISTRO}."""
    assignments, _ = read_metadata(conf)
    values = [a.value for a in assignments if a.var == "DISTROOVERRIDES" and a.flag is None]
    value = values[-1] if values else conf.stem
    value = value.replace("${DISTRO}", conf.stem)
    return [name for name in value.split(":") if name]


def own_names() -> dict[str, str]:
    """Every recipe PN and package name of the layer -> the file that makes it."""
    names = {}
    for r in load_recipes():
        if not r.is_append:
            for name in r.packages():
                names[name] = r.path.name
    return names


@pytest.mark.parametrize("conf", distro_confs(), ids=lambda p: p.name)
def test_distro_overrides_are_no_recipe_or_package_name(conf: Path) -> None:
    overrides = distro_overrides(conf)
    assert overrides, f"{conf.name}: no distro override"
    own = own_names()
    known = index()
    for name in overrides:
        assert name not in own, (
            f"{conf.name}: distro override {name!r} is also made by {own[name]}: "
            "set DISTROOVERRIDES to a name no recipe or package has"
        )
        assert name not in known, (
            f"{conf.name}: distro override {name!r} is a recipe or package of "
            f"{sorted({e.layer for e in known[name]})}"
        )


def test_bbappends_use_only_the_distro_override() -> None:
    """Every condition a bbappend puts on its assignments is the distro's override, so a
    renamed override cannot leave an assignment behind that never applies."""
    allowed = {name for conf in distro_confs() for name in distro_overrides(conf)}
    for r in load_recipes():
        if not r.is_append:
            continue
        for a in r.assignments:
            if a.path != r.path or a.flag is not None:  # a flag takes no override
                continue
            parts = a.var.split(":")[1:]
            conditions = [p for p in parts if p not in OPERATORS and p != "${PN}"]
            assert conditions, f"{r.path.name}: {a.var} applies without the distro override"
            unknown = set(conditions) - allowed
            assert not unknown, f"{r.path.name}: {a.var}: {sorted(unknown)} is no distro override"
