"""The layer's structure and the mlinfer recipe against the package it builds.

No BitBake here: these read the metadata (tests/layer/layerlib.py) and compare it with
pyproject.toml, the layer's files and the unit templates.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.layer.layerlib import (
    LAYER,
    REPO,
    Recipe,
    layer_recipes,
    load_recipes,
    read_metadata,
    recipe,
    unit_templates,
    unit_values,
    words_of,
)
from tests.layer.test_overrides import distro_overrides

# conf/distro/mlinfer.conf's DISTROOVERRIDES: the condition of every bbappend change.
(DISTRO_OVERRIDE,) = distro_overrides(LAYER / "conf/distro/mlinfer.conf")
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())

# PyPI project -> OE package, where the OE name is not python3-<canonical name>.
OE_NAME = {
    "tritonclient": "triton-client",  # meta-tegra-community; holds the Python client
    "python-multipart": "python3-multipart",
    "python-dotenv": "python3-dotenv",
    "python-json-logger": "python3-json-logger",
}
# Never on the image: the `embedded` extra. On the appliance Triton serves the models.
FORBIDDEN = {"onnxruntime", "python3-onnxruntime", "onnx", "python3-onnx"}


def oe_name(project: str) -> str:
    name = canonicalize_name(project)
    return OE_NAME.get(name, f"python3-{name}")


def test_recipe_files_follow_oe_layout() -> None:
    """recipes-<category>/<name>/<name>_<version>.bb, bbappends named like their recipe."""
    pattern = re.compile(
        r"recipes-[a-z0-9-]+/(?P<dir>[a-z0-9.+-]+)/(?P<pn>[a-z0-9.+-]+)(_[^_/]+)?\.bb(append)?"
    )
    for path in layer_recipes():
        rel = path.relative_to(LAYER).as_posix()
        match = pattern.fullmatch(rel)
        assert match, f"{rel}: not recipes-<category>/<name>/<name>_<version>.bb"
        # images/ and packagegroups/ group recipes by kind, as in oe-core
        if path.suffix == ".bb" and match["dir"] not in ("images", "packagegroups"):
            assert match["dir"] == match["pn"], f"{rel}: directory and recipe name differ"


def test_layer_conf() -> None:
    assignments, _ = read_metadata(LAYER / "conf" / "layer.conf")
    values = {a.var: a.value for a in assignments}
    assert values["BBFILE_COLLECTIONS"] == "ml-inference"
    assert values["LAYERSERIES_COMPAT_ml-inference"] == "scarthgap"
    assert set(values["LAYERDEPENDS_ml-inference"].split()) == {
        "core",
        "tegra",
        "tegra-community",
        "openembedded-layer",
        "meta-python",
        "networking-layer",
        "webserver",
        "filesystems-layer",
    }
    assert values["BBFILE_PATTERN_ml-inference"] == "^${LAYERDIR}/"


def test_every_local_file_exists() -> None:
    """Each file:// of SRC_URI is found where the fetcher looks for it."""
    missing = []
    for r in load_recipes():
        for name in r.src_uri_files():
            if not any((d / name).exists() for d in r.filespath()):
                missing.append(f"{r.path.relative_to(LAYER)}: file://{name}")
    assert not missing, "missing files:\n" + "\n".join(missing)


def test_every_layer_file_is_used() -> None:
    """No stray template in files/: each one is in some recipe's SRC_URI."""
    used = {
        (d / name).resolve()
        for r in load_recipes()
        for name in r.src_uri_files()
        for d in r.filespath()
    }
    stray = [
        p.relative_to(LAYER) for p in LAYER.glob("recipes-*/*/files/*") if p.resolve() not in used
    ]
    assert not stray, f"files no recipe fetches: {stray}"


def test_mlinfer_recipe_version_is_the_package_version() -> None:
    assert recipe("mlinfer").pv == PYPROJECT["project"]["version"]


def test_mlinfer_runtime_dependencies_match_pyproject() -> None:
    rdepends = set(recipe("mlinfer").words_by_var("RDEPENDS")["RDEPENDS:mlinfer"])
    needed = {oe_name(Requirement(dep).name) for dep in PYPROJECT["project"]["dependencies"]}
    assert not needed - rdepends, (
        f"pyproject dependencies missing from RDEPENDS:${{PN}}: {sorted(needed - rdepends)}"
    )
    assert not FORBIDDEN & set(recipe("mlinfer").words("RDEPENDS")), (
        "onnxruntime must not be on the image"
    )
    assert "onnxruntime" in str(PYPROJECT["project"]["optional-dependencies"]["embedded"])


def test_layer_python_recipes_satisfy_pyproject() -> None:
    """Every version this layer packages is one pyproject.toml accepts."""
    own = {
        r.pn: Version(r.pv)
        for r in load_recipes()
        if r.pn.startswith("python3-") and not r.is_append
    }
    extras = [
        dep for deps in PYPROJECT["project"]["optional-dependencies"].values() for dep in deps
    ]
    checked = 0
    for dep in [*PYPROJECT["project"]["dependencies"], *extras]:
        requirement = Requirement(dep)
        name = oe_name(requirement.name)
        if name in own:
            checked += 1
            assert own[name] in requirement.specifier, f"{name} {own[name]} does not satisfy {dep}"
    assert checked >= 10


def test_optimizer_package_depends_on_tensorrt() -> None:
    r = recipe("mlinfer")
    assert "mlinfer-optimizer" in r.packages()
    optimizer = r.words_by_var("RDEPENDS")["RDEPENDS:mlinfer-optimizer"]
    assert {"python3-tensorrt", "tensorrt-core", "mlinfer"} <= set(optimizer)


# Units that are not services of their own (no subcommand, not long-running).
HELPER_UNITS = {
    "mlinfer-secrets.service.in",
    "mlinfer-tls.service.in",
    "mlinfer-firewall.service.in",
}


def service_templates() -> list[Path]:
    return [t for t in unit_templates() if t.name not in HELPER_UNITS]


def test_one_unit_per_service() -> None:
    """MLINFER_SERVICES, the unit templates in SRC_URI and the SYSTEMD_SERVICE lists agree:
    each service's unit is enabled by exactly one package, the one whose FILES ship it."""
    r = recipe("mlinfer")
    services = (r.value("MLINFER_SERVICES") or "").split()
    split = (r.value("MLINFER_SPLIT_SERVICES") or "").split()
    assert {"gateway", "grpc", "registry", "exporter", "autoscaler"} <= set(services)
    assert set(split) <= set(services)
    templates = sorted(
        n for n in r.src_uri_files() if n.endswith(".service.in") and n not in HELPER_UNITS
    )
    assert templates == sorted(f"mlinfer-{s}.service.in" for s in services)
    systemd = r.value("SYSTEMD_SERVICE:${PN}") or ""
    assert "MLINFER_SERVICES" in systemd  # generated from the list, one unit per service
    assert "mlinfer-secrets.service" in systemd
    packages = r.value("SYSTEMD_PACKAGES") or ""
    assert "MLINFER_SPLIT_SERVICES" in packages
    files = r.words_by_var("FILES")
    for name in split:
        unit = f"mlinfer-{name}.service"
        assert r.value(f"SYSTEMD_SERVICE:${{PN}}-{name}") == unit
        assert f"${{systemd_system_unitdir}}/{unit}" in files[f"FILES:mlinfer-{name}"]
        assert f"mlinfer-{name}" in r.words("PACKAGE_BEFORE_PN"), "split before ${PN}"
        assert f"{name}.env.in" in r.src_uri_files()
        assert f"${{sysconfdir}}/mlinfer/{name}.env" in files[f"FILES:mlinfer-{name}"]
        assert r.value(f"CONFFILES:${{PN}}-{name}") == f"${{sysconfdir}}/mlinfer/{name}.env"


def test_service_packages_carry_their_extras() -> None:
    """mlinfer-registry depends on pyproject's `registry` extra, mlinfer-exporter on
    `gpu-telemetry` (without nvidia-ml-py: Jetson has no NVML), one OE package each."""
    r = recipe("mlinfer")
    rdepends = r.words_by_var("RDEPENDS")
    extras = PYPROJECT["project"]["optional-dependencies"]
    for package, extra, left_out in [
        ("mlinfer-registry", "registry", set()),
        ("mlinfer-exporter", "gpu-telemetry", {"python3-nvidia-ml-py"}),
    ]:
        needed = {oe_name(Requirement(dep).name) for dep in extras[extra]} - left_out
        assert needed, extra
        missing = needed - set(rdepends[f"RDEPENDS:{package}"])
        assert not missing, f"{extra} extra missing from RDEPENDS:{package}: {sorted(missing)}"
        assert "mlinfer" in rdepends[f"RDEPENDS:{package}"]
    assert "libpq" in recipe("python3-psycopg").words("RDEPENDS")
    boto3 = set(recipe("python3-boto3").words("RDEPENDS"))
    assert {"python3-botocore", "python3-s3transfer"} <= boto3


def test_first_boot_secret_unit() -> None:
    text = (LAYER / "recipes-mlinfer/mlinfer/files/mlinfer-secrets.service.in").read_text()
    assert unit_values(text, "Type") == ["oneshot"]
    # Every boot, not only the first: the script adds what an update brings and keeps the rest.
    assert not unit_values(text, "ConditionPathExists")
    assert unit_values(text, "ExecStart") == [
        "@SBINDIR@/mlinfer-secrets-setup @SYSCONFDIR@/mlinfer/secrets.env"
    ]
    assert unit_values(text, "UMask") == ["0077"]
    assert unit_values(text, "ReadWritePaths") == ["@SYSCONFDIR@/mlinfer"]
    before = set(words_of(unit_values(text, "Before")))
    for template in service_templates():
        if template.name.startswith("mlinfer-") and template.name != "mlinfer-exporter.service.in":
            env = unit_values(template.read_text(), "EnvironmentFile")
            assert "-@SYSCONFDIR@/mlinfer/secrets.env" in env, template.name
            assert template.name.removesuffix(".in") in before, template.name


@pytest.mark.parametrize("template", service_templates(), ids=lambda p: p.name)
def test_unit_template_conventions(template: Path) -> None:
    text = template.read_text()
    exec_start = unit_values(text, "ExecStart")
    assert len(exec_start) == 1 and exec_start[0].startswith("@BINDIR@/"), "ExecStart via @BINDIR@"
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    assert not re.search(r"(?<![@\w])/(usr|etc|data|opt)/", body), "hard-coded path in a template"
    for key, expected in [
        ("Restart", "on-failure"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("PrivateTmp", "yes"),
        ("ProtectHome", "yes"),
        ("CapabilityBoundingSet", ""),
    ]:
        assert expected in unit_values(text, key), f"{key}={expected}"
    user = unit_values(text, "User")
    assert user and user[0].startswith("@") and user[0] != "@root@", "dedicated system user"
    assert unit_values(text, "EnvironmentFile"), "settings from /etc/mlinfer"
    assert unit_values(text, "WantedBy") == ["multi-user.target"]


# What each service's unit orders itself after and wants (Wants=, so a restart of one of
# them leaves the service running), beyond network-online.target.
NEEDS = {
    "mlinfer-gateway.service.in": {
        "tritonserver.service",
        "redis.service",
        "mlinfer-secrets.service",
    },
    "mlinfer-grpc.service.in": {
        "tritonserver.service",
        "redis.service",
        "mlinfer-secrets.service",
    },
    "mlinfer-registry.service.in": {
        "postgresql.service",
        "mlinfer-gateway.service",
        "mlinfer-secrets.service",
    },
    "mlinfer-autoscaler.service.in": {
        "tritonserver.service",
        "mlinfer-exporter.service",
        "mlinfer-secrets.service",
    },
    "mlinfer-exporter.service.in": set(),
}


@pytest.mark.parametrize(
    "template",
    [p for p in service_templates() if p.name.startswith("mlinfer-")],
    ids=lambda p: p.name,
)
def test_mlinfer_units_order_after_what_they_use(template: Path) -> None:
    text = template.read_text()
    assert template.name in NEEDS, f"{template.name}: add what it needs to NEEDS"
    for key in ("After", "Wants"):
        names = set(words_of(unit_values(text, key)))
        assert NEEDS[template.name] | {"network-online.target"} <= names, key
    assert not unit_values(text, "Requires")
    assert unit_values(text, "EnvironmentFile")[0] == "-@SYSCONFDIR@/mlinfer/mlinfer.env"
    name = template.name.removeprefix("mlinfer-").removesuffix(".service.in")
    if name not in ("gateway", "grpc"):
        assert f"-@SYSCONFDIR@/mlinfer/{name}.env" in unit_values(text, "EnvironmentFile")
    if name in ("gateway", "grpc", "registry"):  # they write below the data partition
        assert unit_values(text, "ReadWritePaths") == ["-@MLINFER_DATADIR@"]
    else:
        assert not unit_values(text, "ReadWritePaths")


def test_templates_only_use_placeholders_the_renderer_knows() -> None:
    renderer = (LAYER / "classes" / "mlinfer_layout.bbclass").read_text()
    known = set(re.findall(r"s[,#]@([A-Z_]+)@[,#]", renderer))
    for path in LAYER.glob("recipes-*/*/files/*.in"):
        used = set(re.findall(r"@([A-Z_]+)@", path.read_text()))
        assert used <= known, f"{path.name}: {sorted(used - known)} not rendered by mlinfer_render"


def test_mlinfer_reaches_triton_on_its_grpc_port() -> None:
    """mlinfer.env's MLINFER_TRITON_URL and tritonserver.env's gRPC port are one setting."""
    env = (LAYER / "recipes-mlinfer/mlinfer/files/mlinfer.env.in").read_text()
    triton = (LAYER / "recipes-mlinfer/tritonserver-service/files/tritonserver.env.in").read_text()
    assert "MLINFER_TRITON_URL=127.0.0.1:@MLINFER_TRITON_GRPC_PORT@" in env
    assert "MLINFER_TRITON_HTTP_URL=127.0.0.1:@MLINFER_TRITON_HTTP_PORT@" in env
    assert "TRITON_HTTP_PORT=@MLINFER_TRITON_HTTP_PORT@" in triton
    assert "TRITON_GRPC_PORT=@MLINFER_TRITON_GRPC_PORT@" in triton
    assert "TRITON_GRPC_ADDRESS=127.0.0.1" in triton
    for name in (
        "HOST",
        "HTTP_PORT",
        "GRPC_PORT",
        "MODEL_REPOSITORY",
        "MODEL_CONTROL_MODE",
        "TRITON_URL",
        "LOG_LEVEL",
        "MAX_REQUEST_BYTES",
        "AUTH_MODE",
    ):
        assert re.search(rf"^MLINFER_{name}=", env, re.M), (
            f"MLINFER_{name} missing from mlinfer.env"
        )


def test_triton_bbappends_enable_grpc_and_metrics_for_the_distro_only() -> None:
    server = Recipe.load(LAYER / "recipes-devtools/triton/triton-server_2.22.0.bbappend")
    enabled = server.words_by_var("PACKAGECONFIG")
    server_enabled = set(enabled[f"PACKAGECONFIG:append:{DISTRO_OVERRIDE}"])
    assert server_enabled == {"gprc", "metrics", "stats", "tracing"}
    core = Recipe.load(LAYER / "recipes-devtools/triton/triton-core_2.22.0.bbappend")
    core_enabled = core.words_by_var("PACKAGECONFIG")[f"PACKAGECONFIG:append:{DISTRO_OVERRIDE}"]
    assert set(core_enabled) == {"stats", "metrics", "tracing"}
    for r in load_recipes():
        if r.is_append:
            plain = [
                a.var
                for a in r.assignments
                if a.flag is None and DISTRO_OVERRIDE not in a.var.split(":")
            ]
            assert not plain, f"{r.path.name}: {plain} apply without DISTRO = mlinfer"


def test_image_is_tegraflash_for_jetson() -> None:
    image = recipe("ml-inference-image")
    assert "tegraflash" in image.words("IMAGE_FSTYPES")
    assert image.value("COMPATIBLE_MACHINE") == "(tegra)"
    assert "packagegroup-mlinfer" in image.words("IMAGE_INSTALL")
    assert (LAYER / "conf/distro/mlinfer.conf").exists()
