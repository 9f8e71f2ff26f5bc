"""The appliance's settings files and setup scripts, run for real.

- The env files the recipe installs (/etc/mlinfer/*.env), rendered as the recipe renders
  them, are read by the services' own settings classes: every line is a field, every value
  valid (a threshold in percent where a fraction belongs fails here, not on the device).
- mlinfer-secrets-setup makes the device's secrets, keeps them on later boots, adds what an
  older file lacks; the services' API key is accepted by the key store the services use.
- mlinfer-registry-db-setup, on a real PostgreSQL (initdb + pg_ctl as an unprivileged
  user): the socket directory the services can see, the registry's role and database, and
  `mlinfer registry serve` migrating its schema there with the URL form registry.env uses.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from mlinfer.auth.apikeys import ApiKeySpec, ApiKeyStore
from mlinfer.auth.identity import Scope
from mlinfer.auth.settings import AuthSettings
from mlinfer.autoscaler.settings import AutoscalerSettings
from mlinfer.exporter.settings import ExporterSettings
from mlinfer.registry.settings import RegistrySettings
from mlinfer.settings import Settings
from tests.layer.layerlib import LAYER, find_tool
from tests.layer.test_units import render
from tests.support.ports import free_port
from tests.support.postgres import UNPRIVILEGED, postgres_bindir

FILES = LAYER / "recipes-mlinfer/mlinfer/files"
SECRETS_SETUP = FILES / "mlinfer-secrets-setup"
DB_SETUP = FILES / "mlinfer-registry-db-setup"


def env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as systemd's EnvironmentFile= reads them here: comments and blank
    lines skipped, one pair of surrounding single quotes removed."""
    values = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z_][A-Z0-9_]*", key), f"{path.name}: {line!r}"
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        else:
            assert "'" not in value and '"' not in value[:1], f"{path.name}: quote {line!r}"
        values[key] = value
    return values


def rendered_env(name: str, tmp_path: Path) -> dict[str, str]:
    path = tmp_path / name
    path.write_text(render(FILES / f"{name}.in", {"sysconfdir": "/etc", "bindir": "/usr/bin"}))
    return env_file(path)


def fields(settings_class: type, prefix: str) -> set[str]:
    return {prefix + name.upper() for name in settings_class.model_fields}


@pytest.mark.parametrize(
    ("name", "settings_class", "prefix"),
    [
        ("registry.env", RegistrySettings, "MLINFER_REGISTRY_"),
        ("exporter.env", ExporterSettings, "MLINFER_EXPORTER_"),
        ("autoscaler.env", AutoscalerSettings, "MLINFER_AUTOSCALER_"),
    ],
)
def test_service_env_files_are_valid_settings(
    name: str, settings_class: type, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = rendered_env(name, tmp_path)
    unknown = set(values) - fields(settings_class, prefix)
    assert not unknown, f"{name}: no such setting {sorted(unknown)}"
    for key in [k for k in os.environ if k.startswith("MLINFER_")]:
        monkeypatch.delenv(key)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    settings = settings_class()
    for key in values:  # each line took effect (no field silently ignored)
        field = key.removeprefix(prefix).lower()
        assert field in settings.model_fields_set, key
    if isinstance(settings, AutoscalerSettings):
        settings.policy_defaults().validate("every model")
        assert settings.exporter_url == "http://127.0.0.1:9400/metrics"
        assert settings.server_url == "http://127.0.0.1:8100"  # Triton's HTTP on loopback
    if isinstance(settings, ExporterSettings):
        assert settings.port == 9400 and settings.host == "0.0.0.0"
        assert "nvml" not in settings.collectors  # Jetson has no NVML
    if isinstance(settings, RegistrySettings):
        url = make_url(settings.database_url)
        assert (url.drivername, url.username, url.database) == (
            "postgresql+psycopg",
            "mlinfer",
            "mlinfer",
        )
        assert url.query["host"] == "/run/postgresql" and url.password is None
        assert settings.artifact_dir.is_absolute()
        assert str(settings.serving_repository) == "/data/mlinfer/model_repository"
        assert settings.port == 8090 and settings.host == "127.0.0.1"


def test_gateways_subscribe_to_the_registry_the_unit_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mlinfer.env gives the gateways the registry's URL and a policy cache on /data."""
    common = rendered_env("mlinfer.env", tmp_path)
    registry = rendered_env("registry.env", tmp_path)
    for key in [k for k in os.environ if k.startswith("MLINFER_")]:
        monkeypatch.delenv(key)
    for key, value in common.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MLINFER_AUTH_JWT_SECRET", "ab" * 32)  # from secrets.env on the device
    settings = Settings()
    port = registry["MLINFER_REGISTRY_PORT"]
    assert settings.registry.url == f"http://127.0.0.1:{port}"
    assert str(settings.registry.policy_cache).startswith("/data/mlinfer/state/registry/")


def _run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_secrets_setup_makes_keeps_and_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "secrets.env"
    first = _run(SECRETS_SETUP, path)
    assert first.returncode == 0, first.stderr
    assert path.stat().st_mode & 0o777 == 0o600
    values = env_file(path)
    assert re.fullmatch(r"[0-9a-f]{64}", values["MLINFER_AUTH_JWT_SECRET"])
    key = values["MLINFER_SERVICES_API_KEY"]
    assert values["MLINFER_REGISTRY_API_KEY"] == values["MLINFER_REGISTRY_SERVING_API_KEY"] == key
    # The services' key is accepted, with the scopes deploys and subscriptions need.
    monkeypatch.setenv("MLINFER_AUTH_API_KEYS", values["MLINFER_AUTH_API_KEYS"])
    monkeypatch.setenv("MLINFER_AUTH_JWT_SECRET", values["MLINFER_AUTH_JWT_SECRET"])
    auth = AuthSettings()
    identity = ApiKeyStore(auth.api_keys).lookup(key)
    assert identity is not None and identity.subject == "mlinfer-services"
    assert {Scope.MODELS_ADMIN, Scope.MODELS_READ, Scope.INFER} <= set(identity.scopes)
    assert ApiKeyStore(auth.api_keys).lookup(key + "x") is None

    before = path.read_text()
    again = _run(SECRETS_SETUP, path)
    assert again.returncode == 0 and again.stdout == "", again.stdout + again.stderr
    assert path.read_text() == before  # kept on every later boot

    # A file from an image before the API key: the JWT secret stays, the key is added.
    old = tmp_path / "old.env"
    old.write_text("MLINFER_AUTH_JWT_SECRET=" + "ab" * 32 + "\n")
    assert _run(SECRETS_SETUP, old).returncode == 0
    upgraded = env_file(old)
    assert upgraded["MLINFER_AUTH_JWT_SECRET"] == "ab" * 32
    assert upgraded["MLINFER_SERVICES_API_KEY"] != key  # each device its own

    # Rotation: delete the key's line; every line that named the old key follows.
    old.write_text(
        "".join(
            line
            for line in old.read_text().splitlines(keepends=True)
            if not line.startswith("MLINFER_SERVICES_API_KEY=")
        )
    )
    assert _run(SECRETS_SETUP, old).returncode == 0
    rotated = env_file(old)
    new_key = rotated["MLINFER_SERVICES_API_KEY"]
    assert new_key != upgraded["MLINFER_SERVICES_API_KEY"]
    assert rotated["MLINFER_REGISTRY_SERVING_API_KEY"] == new_key
    specs = [ApiKeySpec.model_validate(s) for s in json.loads(rotated["MLINFER_AUTH_API_KEYS"])]
    assert ApiKeyStore(specs).lookup(new_key) is not None
    assert old.read_text().count("MLINFER_AUTH_API_KEYS=") == 1


def test_secrets_setup_warns_when_the_key_list_lacks_the_services_key(tmp_path: Path) -> None:
    path = tmp_path / "secrets.env"
    assert _run(SECRETS_SETUP, path).returncode == 0
    text = re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, path.read_text())
    path.write_text(text)
    result = _run(SECRETS_SETUP, path)
    assert result.returncode == 0
    assert "lacks the hash of MLINFER_SERVICES_API_KEY" in result.stderr
    assert path.read_text() == text  # an operator's list is never rewritten


# --- the registry's database on a real PostgreSQL ------------------------------------------


class _Cluster:
    """initdb + pg_ctl as an unprivileged user, as postgresql.service runs them."""

    def __init__(self, root: Path) -> None:
        bindir = postgres_bindir()
        if bindir is None:
            pytest.skip("PostgreSQL not installed; scripts/ci/registry-services.sh installs it")
        self.bin = bindir
        self.root = root
        self.data = root / "data"
        self.sockets = root / "run"
        self.port = free_port()
        self.as_other = os.geteuid() == 0
        self.env = {
            "PGDATA": str(self.data),
            "PGPORT": str(self.port),
            "MLINFER_PG_SOCKET_DIR": str(self.sockets),
            "PATH": f"{self.bin}:{os.environ['PATH']}",
        }

    def run(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        command = [str(a) for a in args]
        if self.as_other:  # runuser resets the environment: pass it explicitly
            pairs = [f"{k}={v}" for k, v in self.env.items()]
            command = ["runuser", "-u", UNPRIVILEGED, "--", "env", *pairs, *command]
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=180,
            cwd=self.root,
            env={**os.environ, **self.env},
        )

    def check(self, *args: str | Path) -> str:
        result = self.run(*args)
        assert result.returncode == 0, f"{args}: {result.stdout}{result.stderr}"
        return result.stdout

    def query(self, sql: str) -> str:
        return self.check(
            self.bin / "psql", f"--host={self.sockets}", "--dbname=postgres", "-XtAc", sql
        ).strip()


@pytest.fixture
def cluster() -> Iterator[_Cluster]:
    root = Path(tempfile.mkdtemp(prefix="pg-registry-"))
    os.chmod(root, 0o755)
    c = _Cluster(root)
    c.data.mkdir()
    c.sockets.mkdir()
    # A copy the unprivileged user can reach: the checkout may sit in a 0700 directory.
    shutil.copy2(DB_SETUP, root / DB_SETUP.name)
    if c.as_other:
        for path in (root, c.data, c.sockets):
            shutil.chown(path, UNPRIVILEGED)
    # As the drop-in runs it, except trust for the test's own connections (peer
    # authentication would need a system user named like the role).
    c.check(c.bin / "initdb", f"--pgdata={c.data}", "--auth=trust", "--encoding=UTF8", "--no-sync")
    try:
        yield c
    finally:
        c.run(c.bin / "pg_ctl", "-D", c.data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def test_registry_database_setup_and_schema(cluster: _Cluster, tmp_path: Path) -> None:
    conf = cluster.data / "postgresql.conf"
    setup = cluster.root / DB_SETUP.name
    assert "mlinfer-registry-db-setup" in cluster.check(setup, "socket")
    cluster.check(setup, "socket")
    assert conf.read_text().count("mlinfer-registry-db-setup") == 1  # idempotent
    # Started as postgresql.service starts it: no -k, the socket directories come from
    # postgresql.conf.
    cluster.check(
        cluster.bin / "pg_ctl", "-D", cluster.data, "-o", f"-p {cluster.port} -c fsync=off",
        "-l", cluster.root / "log", "-w", "start",
    )  # fmt: skip
    assert (cluster.sockets / f".s.PGSQL.{cluster.port}").is_socket()

    out = cluster.check(setup, "database", "mlinfer")
    assert "created the role mlinfer" in out and "created the database mlinfer" in out
    assert cluster.check(setup, "database", "mlinfer") == ""  # idempotent
    assert (
        cluster.query(
            "SELECT rolcanlogin, rolsuper, rolcreatedb FROM pg_roles WHERE rolname = 'mlinfer'"
        )
        == "t|f|f"
    )
    owner = "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'mlinfer'"
    assert cluster.query(owner) == "mlinfer"
    bad = cluster.run(setup, "database", "mlinfer; DROP DATABASE postgres")
    assert bad.returncode == 2 and "names are" in bad.stderr

    # The registry, as registry.env points it at the database (over the socket).
    mlinfer = find_tool("mlinfer")
    assert mlinfer is not None, "the mlinfer console script is not installed"
    url = f"postgresql+psycopg://mlinfer@/mlinfer?host={cluster.sockets}&port={cluster.port}"
    port = free_port()
    log = (tmp_path / "registry.log").open("w+")
    process = subprocess.Popen(
        [
            mlinfer,
            "registry",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--database-url",
            url,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
        env={**os.environ, "MLINFER_AUTH_MODE": "disabled"},
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"the registry did not start:\n{log.read()[-4000:]}")
            time.sleep(0.2)
        tables = cluster.check(
            cluster.bin / "psql", f"--host={cluster.sockets}", "--dbname=mlinfer", "-XtAc",
            "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public'",
        )  # fmt: skip
        rows = dict(line.split("|") for line in tables.split())
        assert "alembic_version" in rows and len(rows) > 3, rows
        assert set(rows.values()) == {"mlinfer"}  # the registry's role owns its schema
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
