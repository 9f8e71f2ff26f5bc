"""Every package or recipe name the layer depends on exists on scarthgap.

The names come from tests/layer/data/scarthgap-names.tsv (every recipe, package and
provides name that oe-core, meta-openembedded, meta-tegra, meta-tegra-community and
meta-virtualization offer on scarthgap; data/README.md says how it was made) and the
PACKAGES_DYNAMIC patterns in scarthgap-dynamic.txt, restricted to the layers the kas
configuration puts in the build, plus this layer's own recipes and packages. That catches
typos and names that only exist on other branches or in layers the build does not have.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import pytest
import yaml

from tests.layer.layerlib import DATA, KAS, Recipe, load_recipes

# kas repository/layer directory -> the "layer" column of the name index
INDEX_LAYER = {
    ("openembedded-core", "meta"): "oe-core",
    ("meta-openembedded", "meta-oe"): "meta-oe",
    ("meta-openembedded", "meta-python"): "meta-python",
    ("meta-openembedded", "meta-networking"): "meta-networking",
    ("meta-openembedded", "meta-webserver"): "meta-webserver",
    ("meta-openembedded", "meta-filesystems"): "meta-filesystems",
    ("meta-openembedded", "meta-multimedia"): "meta-multimedia",
    ("meta-openembedded", "meta-perl"): "meta-perl",
    ("meta-tegra", "."): "meta-tegra",
    ("meta-tegra-community", "."): "meta-tegra-community",
}
# layer column -> BBFILE_COLLECTIONS name (for the index's external-<collection> tags)
COLLECTION = {
    "oe-core": "core",
    "meta-oe": "openembedded-layer",
    "meta-python": "meta-python",
    "meta-networking": "networking-layer",
    "meta-webserver": "webserver",
    "meta-filesystems": "filesystems-layer",
    "meta-multimedia": "multimedia-layer",
    "meta-perl": "perl-layer",
    "meta-tegra": "tegra",
    "meta-tegra-community": "tegra-community",
}
DEPENDENCY_VARIABLES = ("DEPENDS", "RDEPENDS", "RRECOMMENDS", "RSUGGESTS", "IMAGE_INSTALL")
SUFFIXES = ("-dev", "-dbg", "-staticdev", "-doc", "-src", "-ptest")


@dataclass(frozen=True)
class Entry:
    kind: str
    layer: str
    tags: frozenset[str]


def enabled_layers() -> set[str]:
    common = yaml.safe_load((KAS / "include" / "common.yml").read_text())
    layers = set()
    for repo, spec in common["repos"].items():
        for layer, state in ((spec or {}).get("layers") or {".": None}).items():
            if state != "disabled" and (repo, layer) in INDEX_LAYER:
                layers.add(INDEX_LAYER[(repo, layer)])
    return layers


@cache
def index() -> dict[str, list[Entry]]:
    layers = enabled_layers()
    collections = {COLLECTION[x] for x in layers} | {"ml-inference"}
    names: dict[str, list[Entry]] = {}
    lines = (DATA / "scarthgap-names.tsv").read_text().splitlines()
    for line in lines[1:]:
        name, kind, layer, *rest = line.split("\t")
        tags = frozenset(t for t in (rest[0] if rest else "").split(",") if t)
        external = [t.removeprefix("external-") for t in tags if t.startswith("external-")]
        if layer not in layers or any(c not in collections for c in external):
            continue
        names.setdefault(name, []).append(Entry(kind, layer, tags))
    return names


@cache
def dynamic_patterns() -> list[re.Pattern[str]]:
    layers = enabled_layers()
    patterns = []
    for line in (DATA / "scarthgap-dynamic.txt").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        regex, layer, _recipe = line.split("\t")
        if layer in layers and "${" not in regex:
            patterns.append(re.compile(regex))
    return patterns


def own_names() -> dict[str, set[str]]:
    """This layer's packages, each with the variants its recipe has (BBCLASSEXTEND)."""
    names: dict[str, set[str]] = {}
    for r in load_recipes():
        if not r.is_append:
            variants = set(r.words("BBCLASSEXTEND"))
            for package in r.packages():
                names[package] = variants
    return names


def dependencies(r: Recipe) -> Iterator[tuple[str, str]]:
    for var in DEPENDENCY_VARIABLES:
        for word in r.words(var):
            yield var, word
    for word in r.packageconfig_dependencies():
        yield "PACKAGECONFIG", word


def problem(word: str, own: dict[str, set[str]]) -> str | None:
    """Why a dependency name does not resolve, or None if it does."""
    if "${" in word or word.startswith("virtual/"):
        return None
    name, variant = word, ""
    if name.endswith("-native"):
        name, variant = name.removesuffix("-native"), "native"
    elif name.startswith("nativesdk-"):
        name, variant = name.removeprefix("nativesdk-"), "nativesdk"
    for suffix in SUFFIXES:
        if name.endswith(suffix) and name not in index() and name not in own:
            name = name.removesuffix(suffix)
    if name in own:
        if variant and variant not in own[name]:
            return f"this layer's recipe has no {variant} variant (BBCLASSEXTEND)"
        return None
    entries = index().get(name)
    if entries is None:
        if any(p.match(name) for p in dynamic_patterns()):
            return None
        return "no such recipe or package on scarthgap in the layers of the build"
    if variant and not any(
        variant in e.tags or "native-only" in e.tags or e.kind == "python3-split" for e in entries
    ):
        return f"exists, but has no {variant} variant (BBCLASSEXTEND)"
    return None


def test_index_covers_the_build() -> None:
    assert enabled_layers() == {
        "oe-core",
        "meta-oe",
        "meta-python",
        "meta-networking",
        "meta-webserver",
        "meta-filesystems",
        "meta-tegra",
        "meta-tegra-community",
    }
    assert "python3-numpy" in index()
    assert "python3-fastapi" not in index()  # not on scarthgap: this layer provides it
    assert (
        "nvidia-container-toolkit" not in index()
    )  # meta-tegra external/, needs meta-virtualization


@pytest.mark.parametrize("r", load_recipes(), ids=lambda r: r.path.name)
def test_dependency_names_resolve(r: Recipe) -> None:
    own = own_names()
    unresolved = [
        f"{var}: {word}: {why}"
        for var, word in dependencies(r)
        if (why := problem(word, own)) is not None
    ]
    assert not unresolved, "\n".join(unresolved)


def test_unknown_names_are_reported() -> None:
    own = own_names()
    assert problem("python3-fastapi", own) is None  # this layer's
    assert problem("python3-fastapi-native", own) is not None  # target only
    assert problem("python3-grpcio-tools-native", own) is None
    assert problem("python3-numpy-dev", own) is None
    assert problem("kernel-module-nvgpu", own) is None  # PACKAGES_DYNAMIC
    assert problem("python3-fastapii", own) is not None
    assert problem("docker-moby", own) is not None  # meta-virtualization is not in the build
    assert problem("python3-tritonclient", own) is not None  # scarthgap: triton-client


def test_bbappends_extend_existing_recipes() -> None:
    for r in load_recipes():
        if r.is_append:
            entries = index().get(r.pn, [])
            assert any(e.kind == "recipe" for e in entries), f"{r.path.name}: no recipe {r.pn}"


def test_own_recipes_do_not_shadow_the_build() -> None:
    """A recipe of this layer must not duplicate one the build already has."""
    clashes = [
        r.pn
        for r in load_recipes()
        if not r.is_append and any(e.kind == "recipe" for e in index().get(r.pn, []))
    ]
    assert not clashes, f"already provided by the build: {clashes}"
