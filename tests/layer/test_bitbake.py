"""BitBake itself parses the layer and resolves the image for every kas machine.

The cheaper checks (oelint-adv, the name index, kas's schema, systemd-analyze) read the
files; only BitBake sees what its parser, its QA checks at parse time and its provider
resolution make of them. For each kas machine: ``bitbake -p`` (every recipe of every layer),
then ``bitbake -g`` of the images (every runtime dependency resolved to a provider,
nothing built or fetched). For the first machine also ``bitbake-layers show-appends`` and
the ``bitbake -e`` environment of each recipe of this layer and of each recipe it appends
to (tests/layer/bitbake_env.py: the same parse and expansion, in one BitBake session instead
of one 15-20 s cache load per recipe). The layer's recipes, bbappends and images are found
by globbing, so a new recipe is judged without a change here.

The build directory is made by tests/layer/bitbakelib.py from the kas files and the layer
snapshots; one module-scoped run does all of it and the tests below judge its output. The
parse cache is reused by every command of a machine; a second machine is a second full
parse, because BitBake keys its cache by a hash of the configuration, MACHINE included.
"""

from __future__ import annotations

import json
import locale
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.layer import bitbakelib
from tests.layer.layerlib import LAYER, Recipe, layer_recipes, load_recipes
from tests.layer.test_overrides import distro_overrides

# Two full parses (one per machine): 8-15 minutes on an idle 2-core machine, 45 on one
# shared by many builds. pytest-timeout counts the module fixture into the first test.
pytestmark = [pytest.mark.bitbake, pytest.mark.timeout(3 * 3600)]

# MLINFER_BITBAKE_MACHINES (space-separated) limits the run to some machines while working on
# the layer; CI judges all of them.
KAS_FILES = [
    path
    for path in bitbakelib.machine_kas_files()
    if not os.environ.get("MLINFER_BITBAKE_MACHINES")
    or bitbakelib.kas_config(path)["machine"] in os.environ["MLINFER_BITBAKE_MACHINES"].split()
]
# Warnings BitBake may print for this configuration without the layer being at fault.
# Empty: a parse of these layers with this distro prints none, so any warning is news.
ALLOWED_WARNINGS: tuple[str, ...] = ()
# A recipe no layer of ours touches: variables that fail to expand there too (meta-tegra's
# TEGRA_UEFI_FW_VERSION outside its recipes, for one) are not this layer's failures.
BASELINE_RECIPE = "zlib"


def own_recipes() -> list[Recipe]:
    return [r for r in load_recipes() if not r.is_append]


def own_images() -> list[str]:
    return sorted(p.stem.split("_", 1)[0] for p in LAYER.glob("recipes-*/images/*.bb"))


def bbappends() -> list[Path]:
    return [p for p in layer_recipes() if p.suffix == ".bbappend"]


def appended_pn(path: Path) -> str:
    return path.stem.split("_", 1)[0]


def environment_targets() -> list[str]:
    """``bitbake -e`` runs for the layer's recipes and the recipes it appends to."""
    return list(
        dict.fromkeys([r.pn for r in own_recipes()] + [appended_pn(p) for p in bbappends()])
    )


@dataclass
class MachineRun:
    machine: str
    parse: bitbakelib.Run
    graph_targets: list[str]
    config: dict[str, Any]
    graph: bitbakelib.Run | None = None
    buildlist: set[str] = field(default_factory=set)
    edges: dict[str, set[str]] = field(default_factory=dict)
    appends: bitbakelib.Run | None = None
    env_run: bitbakelib.Run | None = None
    environments: dict[str, dict[str, Any]] = field(default_factory=dict)


def _terminal(config: pytest.Config) -> bitbakelib.Progress:
    """Progress on the terminal past pytest's capture: the whole run takes minutes."""
    capture = config.pluginmanager.getplugin("capturemanager")

    def show(message: str) -> None:
        with capture.global_and_fixture_disabled():
            print(message, flush=True)

    return show


def _preflight() -> None:
    repos = bitbakelib.kas_config(KAS_FILES[0])["repos"]
    for name, spec in repos.items():
        if (spec or {}).get("url") and not (bitbakelib.SNAPSHOTS / f"{name}.tar.xz").exists():
            pytest.skip(f"no snapshot of {name} in {bitbakelib.SNAPSHOTS} (MLINFER_YOCTO_LAYERS)")
    try:
        bitbakelib.run_as_user()
    except LookupError as error:
        pytest.skip(f"BitBake refuses to run as root and {error}; {bitbakelib.INSTALL_HINT}")
    try:
        locale.setlocale(locale.LC_ALL, "en_US.UTF-8")
    except locale.Error:
        pytest.skip(f"BitBake needs the en_US.UTF-8 locale; {bitbakelib.INSTALL_HINT}")
    finally:
        locale.setlocale(locale.LC_ALL, "")
    for tool in ("gawk", "chrpath", "diffstat", "lz4", "zstd", "cpio"):
        if shutil.which(tool) is None:
            pytest.skip(f"BitBake's sanity check needs {tool}; {bitbakelib.INSTALL_HINT}")


def _read_graph(run: MachineRun, build: Path, directory: str) -> None:
    run.buildlist = set((build / directory / "pn-buildlist").read_text().split())
    for line in (build / directory / "task-depends.dot").read_text().splitlines():
        match = re.match(r'^"([^"]+)" -> "([^"]+)"', line)
        if match:
            run.edges.setdefault(match[1], set()).add(match[2])


def _run_machine(
    layout: bitbakelib.Layout,
    config: dict[str, Any],
    targets: list[str],
    first: bool,
    show: bitbakelib.Progress,
) -> MachineRun:
    machine = config["machine"]
    bitbakelib.write_conf(layout, config)
    bitbakelib.hand_over(layout.build / "conf")
    show(f"{machine}: bitbake -p (minutes: every recipe of every layer)")
    run = MachineRun(machine, bitbakelib.bitbake(layout, "bitbake -p", show), targets, config)
    if run.parse.returncode != 0:  # nothing else can be judged; say so in each test
        return run
    graph_dir = f"graph-{machine}"
    show(f"{machine}: bitbake -g {' '.join(targets)}")
    run.graph = bitbakelib.bitbake(
        layout,
        f"bitbake -g {' '.join(targets)} && mkdir -p {graph_dir} && "
        f"mv task-depends.dot pn-buildlist {graph_dir}/",
        show,
    )
    if run.graph.returncode == 0:
        _read_graph(run, layout.build, graph_dir)
    if first:
        show(f"{machine}: bitbake-layers show-appends")
        run.appends = bitbakelib.bitbake(layout, "bitbake-layers show-appends", show)
        targets_env = [*environment_targets(), BASELINE_RECIPE]
        show(f"{machine}: bitbake -e of {len(targets_env)} recipes")
        script = layout.checkout / "tests/layer/bitbake_env.py"
        output = layout.build / "environments.json"
        run.env_run = bitbakelib.bitbake(
            layout, f"python3 {script} {output} {' '.join(targets_env)}", show
        )
        if run.env_run.returncode == 0:
            run.environments = json.loads(output.read_text())
    return run


@pytest.fixture(scope="module")
def runs(pytestconfig: pytest.Config) -> Iterator[list[MachineRun]]:
    _preflight()
    show = _terminal(pytestconfig)
    configs = [bitbakelib.kas_config(path) for path in KAS_FILES]
    assert all(c["repos"] == configs[0]["repos"] for c in configs), "machines differ in layers"
    work = Path(tempfile.mkdtemp(prefix="mlinfer-bitbake-"))
    try:
        show(f"unpacking the layers into {work}")
        layout = bitbakelib.lay_out(work, configs[0])
        bitbakelib.hand_over(work)
        targets = list(dict.fromkeys([configs[0]["target"], *own_images()]))
        results = []
        for index, config in enumerate(configs):
            results.append(_run_machine(layout, config, targets, index == 0, show))
            # The next machine's configuration must be read afresh by a new server.
            bitbakelib.stop_server(layout, show)
        for run in results:
            graph = f"{run.graph.seconds:.0f} s" if run.graph else "not run"
            show(f"{run.machine}: parse {run.parse.seconds:.0f} s, graph {graph}")
        yield results
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _by_machine(runs: list[MachineRun], machine: str) -> MachineRun:
    return next(r for r in runs if r.machine == machine)


MACHINES = [bitbakelib.kas_config(p)["machine"] for p in KAS_FILES]


def _problems(result: bitbakelib.Run) -> list[str]:
    errors = result.messages("ERROR")
    warnings = [w for w in result.messages("WARNING") if not any(a in w for a in ALLOWED_WARNINGS)]
    return errors + warnings


def _assert_clean(result: bitbakelib.Run, label: str) -> None:
    problems = _problems(result)
    detail = "\n".join(problems) if problems else result.output[-4000:]
    assert result.returncode == 0 and not problems, f"{label} (exit {result.returncode}):\n{detail}"


@pytest.mark.parametrize("machine", MACHINES)
def test_parse_is_clean(runs: list[MachineRun], machine: str) -> None:
    _assert_clean(_by_machine(runs, machine).parse, f"bitbake -p for {machine}")


@pytest.mark.parametrize("machine", MACHINES)
def test_image_task_graph_resolves(runs: list[MachineRun], machine: str) -> None:
    graph = _by_machine(runs, machine).graph
    assert graph is not None, f"no task graph for {machine}: bitbake -p failed"
    _assert_clean(graph, f"bitbake -g for {machine}")


def _reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


@pytest.mark.parametrize("machine", MACHINES)
def test_every_layer_recipe_is_in_an_image(runs: list[MachineRun], machine: str) -> None:
    """Each recipe of the layer is built for the image and its packages go into a root
    file system (a do_package_write task the image's do_rootfs depends on)."""
    run = _by_machine(runs, machine)
    assert run.graph is not None and run.graph.returncode == 0, (
        "no task graph (see test_image_task_graph_resolves)"
    )
    installed: set[str] = set()
    for image in run.graph_targets:
        assert image in run.buildlist, f"{image} missing from pn-buildlist"
        for task in _reachable(run.edges, f"{image}.do_rootfs"):
            pn, _, name = task.rpartition(".")
            if name.startswith("do_package_write_"):
                installed.add(pn)
    images = set(own_images())
    missing = sorted(r.pn for r in own_recipes() if r.pn not in images and r.pn not in installed)
    assert not missing, (
        f"{machine}: layer recipes no image installs: {missing}"
        f" (not in pn-buildlist: {sorted(set(missing) - run.buildlist)})"
    )


def test_every_bbappend_applies(runs: list[MachineRun]) -> None:
    appends = runs[0].appends
    assert appends is not None, "not run: bitbake -p failed"
    _assert_clean(appends, "bitbake-layers show-appends")
    applied = set(re.findall(r"^\s+(/\S+\.bbappend)", appends.output, re.M))
    for path in bbappends():
        assert any(a.endswith(str(path.relative_to(LAYER.parent))) for a in applied), (
            f"{path.name} applies to no recipe"
        )


def _environment(runs: list[MachineRun], pn: str) -> dict[str, Any]:
    env_run = runs[0].env_run
    assert env_run is not None, "not run: bitbake -p failed"
    _assert_clean(env_run, "bitbake -e (tests/layer/bitbake_env.py)")
    return runs[0].environments[pn]


@pytest.mark.parametrize("pn", environment_targets())
def test_recipe_environment(runs: list[MachineRun], pn: str) -> None:
    """Like ``bitbake -e``: the recipe parses with its bbappends, and every variable
    expands (except those that fail in a recipe the layer does not touch as well)."""
    env = _environment(runs, pn)
    baseline = {e.split(": ", 2)[1] for e in _environment(runs, BASELINE_RECIPE)["errors"]}
    errors = [e for e in env["errors"] if e.split(": ", 2)[1] not in baseline]
    assert not errors, "\n".join(errors)
    values = env["values"]
    assert values.get("PN") == pn
    assert values.get("DISTRO") == runs[0].config["distro"]
    assert values.get("MACHINE") == runs[0].config["machine"]
    overrides = values["OVERRIDES"].split(":")
    assert _distro_override() in overrides
    assert pn not in set(_distro_override_names(values)), f"{pn} is a distro override"


def _distro_override_names(values: dict[str, str]) -> list[str]:
    return [name for name in values.get("DISTROOVERRIDES", "").split(":") if name]


def _distro_override() -> str:
    (name,) = distro_overrides(LAYER / "conf/distro/mlinfer.conf")
    return name


@pytest.mark.parametrize("path", bbappends(), ids=lambda p: p.name)
def test_bbappend_changes_reach_the_recipe(runs: list[MachineRun], path: Path) -> None:
    """Every word a bbappend appends under the distro override is in the recipe's final
    value, and every value it sets under that override wins: the override means what it
    meant before it was renamed."""
    target = appended_pn(path)
    expanded_pn = {"${PN}": target}
    override = _distro_override()
    env = _environment(runs, target)
    assert any(a.endswith(str(path.relative_to(LAYER.parent))) for a in env["appends"]), (
        f"{path.name} is not applied to {target}: {env['appends']}"
    )
    values = env["values"]
    checked = 0
    for a in Recipe.load(path).assignments:
        if a.path != path or a.flag is not None:
            continue
        parts = a.var.split(":")
        if override not in parts or "${" in a.value:  # a value with references: not textual
            continue
        operations = {override, "append", "prepend"}
        name = ":".join(expanded_pn.get(p, p) for p in parts if p not in operations)
        final = values.get(name)
        assert final is not None, f"{path.name}: {name} not in bitbake -e {target}"
        if "append" in parts or "prepend" in parts:
            missing = set(a.value.split()) - set(final.split())
            assert not missing, f"{path.name}: {name} lacks {sorted(missing)}: {final!r}"
        else:
            assert final == a.value, f"{path.name}: {name} is {final!r}, not {a.value!r}"
        checked += 1
    assert checked, f"{path.name}: nothing checked"
