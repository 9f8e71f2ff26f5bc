"""The kas configuration: valid for kas, pinned, and consistent with the layer.

`kas dump` needs every repository checked out, which needs the network; the dump test
builds a path-only variant instead: the same files in a scratch git repository, with each
remote repository replaced by a local directory holding a stub layer. kas then resolves
the includes, merges the lock file, validates and prints the configuration without
fetching anything.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.layer.layerlib import KAS, LAYER, REPO, require_tool

MACHINES = {
    "jetson-agx-orin-devkit.yml": "jetson-agx-orin-devkit",
    "p3768-0000-p3767-0000.yml": "p3768-0000-p3767-0000",
}
COMMON = KAS / "include" / "common.yml"
LOCK = KAS / "include" / "common.lock.yml"


def kas_files() -> list[Path]:
    return sorted(KAS.rglob("*.yml"))


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def kas_schema() -> dict:
    pytest.importorskip(
        "kas", reason="kas is not installed; scripts/ci/deploy-tools.sh installs it"
    )
    import kas

    return json.loads((Path(kas.__file__).parent / "schema-kas.json").read_text())


@pytest.mark.parametrize("path", kas_files(), ids=lambda p: str(p.relative_to(KAS)))
def test_kas_file_matches_kas_schema(path: Path, kas_schema: dict) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(load(path), kas_schema)


def test_one_kas_file_per_machine() -> None:
    for name, machine in MACHINES.items():
        config = load(KAS / name)
        assert config["machine"] == machine
        assert config["header"]["includes"] == ["kas/include/common.yml"]


def test_common_configuration_builds_the_appliance() -> None:
    common = load(COMMON)
    assert common["target"] == "ml-inference-image"
    assert (LAYER / "recipes-mlinfer" / "images" / f"{common['target']}.bb").exists()
    assert (LAYER / "conf" / "distro" / f"{common['distro']}.conf").exists()
    assert common["repos"]["mlinfer"] == {"layers": {"meta-ml-inference": None}}
    assert "local_conf_header" in common


def test_every_remote_repository_is_pinned() -> None:
    repos = load(COMMON)["repos"]
    pins = load(LOCK)["overrides"]["repos"]
    remote = {name for name, spec in repos.items() if spec and spec.get("url")}
    assert remote == set(pins), "lock file and repositories differ"
    for name, pin in pins.items():
        assert re.fullmatch(r"[0-9a-f]{40}", pin["commit"]), f"{name}: not a full commit id"
    assert repos["bitbake"]["branch"] == "2.8"  # bitbake's branch for scarthgap
    assert load(COMMON)["defaults"]["repos"]["branch"] == "scarthgap"


def test_pins_are_the_revisions_the_name_index_was_made_from() -> None:
    """The name check (test_names.py) is only as good as this match."""
    readme = (REPO / "tests" / "layer" / "data" / "README.md").read_text()
    pins = load(LOCK)["overrides"]["repos"]
    for repo in ("openembedded-core", "meta-openembedded", "meta-tegra", "meta-tegra-community"):
        assert pins[repo]["commit"] in readme, (
            f"{repo} is pinned to a revision the name index was not made from: "
            "regenerate tests/layer/data with the new pins"
        )


def test_layers_cover_the_layer_dependencies() -> None:
    from tests.layer.layerlib import read_metadata

    assignments, _ = read_metadata(LAYER / "conf" / "layer.conf")
    depends = next(a.value for a in assignments if a.var == "LAYERDEPENDS_ml-inference").split()
    provided = {
        ("openembedded-core", "meta"): "core",
        ("meta-openembedded", "meta-oe"): "openembedded-layer",
        ("meta-openembedded", "meta-python"): "meta-python",
        ("meta-openembedded", "meta-networking"): "networking-layer",
        ("meta-openembedded", "meta-webserver"): "webserver",
        ("meta-openembedded", "meta-filesystems"): "filesystems-layer",
        ("meta-tegra", "."): "tegra",
        ("meta-tegra-community", "."): "tegra-community",
    }
    layers = {
        provided[(repo, layer)]
        for repo, spec in load(COMMON)["repos"].items()
        for layer, state in ((spec or {}).get("layers") or {}).items()
        if state != "disabled" and (repo, layer) in provided
    }
    assert set(depends) <= layers


def _path_only_tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "kas").mkdir(parents=True)
    for path in kas_files():
        target = root / "kas" / path.relative_to(KAS)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    common = load(COMMON)
    for name, spec in common["repos"].items():
        if spec and spec.get("url"):
            stub = tmp_path / "layers" / name
            for layer in spec.get("layers") or {".": None}:
                (stub / layer / "conf").mkdir(parents=True, exist_ok=True)
                (stub / layer / "conf" / "layer.conf").write_text("")
            spec.pop("url")
            spec.pop("branch", None)
            spec["path"] = str(stub)
        else:
            common["repos"][name] = {**(spec or {}), "path": str(REPO)}
    (root / "kas" / "include" / "common.yml").write_text(yaml.safe_dump(common, sort_keys=False))
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_kas_dump_of_path_only_variant(name: str, tmp_path: Path) -> None:
    kas = require_tool("kas", "kas dump")
    require_tool("git", "kas dump (kas finds the repository root with git)")
    root = _path_only_tree(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "KAS_WORK_DIR": str(work)}
    result = subprocess.run(
        [kas, "dump", "--format", "json", str(root / "kas" / name)],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    dumped = json.loads(result.stdout)
    assert dumped["machine"] == MACHINES[name]
    assert dumped["distro"] == "mlinfer"
    assert dumped["target"] == "ml-inference-image"
    pins = dumped["overrides"]["repos"]
    assert pins == load(LOCK)["overrides"]["repos"], "lock file not merged"
    assert set(dumped["repos"]) == set(load(COMMON)["repos"])
