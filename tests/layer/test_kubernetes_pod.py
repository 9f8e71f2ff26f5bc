"""The rendered pods' containers run as processes on loopback, with their own settings.

No cluster runs here, but what a pod's containers are told is checked by running it: the
serving pod's Triton with the flags of the manifest (the tritonserver of nvidia-pytriton,
Python-backend twins of the sample models), `mlinfer gateway` and `mlinfer grpc` with the
ConfigMap and container environment, and the KServe runtime's `mlinfer serve` on the
embedded engine. Only what a pod's network namespace decides is changed: ports become free
loopback ports (each manifest port mapped to one), addresses loopback, paths temporary.
Then the manifest's own probes must pass, inference must need the token, and Triton's
metrics must hold every series the Prometheus adapter rules read.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mlinfer.auth.tokens import issue_token, new_jwt_secret
from tests.layer.k8s import K8S, Doc, containers, env, one, rendered
from tests.layer.promql import metric_names
from tests.support.ports import free_port
from tests.support.servers import cli_command, wait_until
from tests.support.triton.targets import python_repository, require_triton, start_triton

SIMPLE = {
    "inputs": [
        {"name": n, "datatype": "INT32", "shape": [1, 16], "data": list(range(16))}
        for n in ("INPUT0", "INPUT1")
    ]
}


def environment(container: Doc, config: dict[str, str], secret: str) -> dict[str, str]:
    """What the kubelet gives the container: ConfigMap (envFrom), then env, the Secret."""
    values = {}
    for source in container.get("envFrom", []):
        assert "configMapRef" in source, source
        values.update(config)
    for name, entry in env(container).items():
        if "value" in entry:
            values[name] = entry["value"]
        else:
            assert entry["valueFrom"]["secretKeyRef"]["key"] == "MLINFER_AUTH_JWT_SECRET"
            values[name] = secret
    return values


def relocate(values: dict[str, str], ports: dict[int, int], repository: Path) -> dict[str, str]:
    """Pod-network values for this machine: mapped ports, loopback, the test repository."""
    out = {}
    for name, value in values.items():
        address = re.fullmatch(r"(127\.0\.0\.1:)?(\d+)", value)
        if name == "MLINFER_HOST":
            value = "127.0.0.1"
        elif name == "MLINFER_MODEL_REPOSITORY":
            value = str(repository)
        elif name.endswith(("_PORT", "_URL")) and address and int(address[2]) in ports:
            value = (address[1] or "") + str(ports[int(address[2])])
        out[name] = value
    return out


def probe_ok(probe: Doc, ports: dict[int, int], container: Doc) -> bool:
    """Run one of the manifest's probes against the process (True: the kubelet passes it)."""
    if "httpGet" in probe:
        port = probe["httpGet"]["port"]
        if isinstance(port, str):
            port = next(p["containerPort"] for p in container["ports"] if p["name"] == port)
        url = f"http://127.0.0.1:{ports[port]}{probe['httpGet']['path']}"
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False
    if "grpc" in probe:
        channel = grpc.insecure_channel(f"127.0.0.1:{ports[probe['grpc']['port']]}")
        try:
            request = health_pb2.HealthCheckRequest(service=probe["grpc"].get("service", ""))
            reply = health_pb2_grpc.HealthStub(channel).Check(request, timeout=2)
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
        except grpc.RpcError:
            return False
        finally:
            channel.close()
    command = [sys.executable if w == "python3" else w for w in probe["exec"]["command"]]
    command = [
        re.sub(r"127\.0\.0\.1:(\d+)", lambda m: f"127.0.0.1:{ports[int(m[1])]}", w) for w in command
    ]
    return subprocess.run(command, capture_output=True, timeout=10).returncode == 0


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        proc.terminate()
    for proc in started:
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def start(args: list[str], values: dict[str, str], log: Path) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MLINFER_")}
    with log.open("w") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            cli_command(*args),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env={**clean, **values},
        )


def wait_for_probes(
    container: Doc, ports: dict[int, int], proc: subprocess.Popen[str], log: Path
) -> None:
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        if kind in container:

            def passes(probe: Doc = container[kind]) -> bool:
                assert proc.poll() is None, f"{container['name']} exited: {log.read_text()[-3000:]}"
                return probe_ok(probe, ports, container)

            wait_until(passes, f"{container['name']} {kind}")


@pytest.mark.triton
def test_the_serving_pod_runs_as_its_manifest_says(
    sample_repository: Path, tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    require_triton()
    docs = rendered("x86-gpu")
    spec = one(docs, "Deployment", "mlinfer-serving")["spec"]["template"]["spec"]
    config = one(docs, "ConfigMap", "mlinfer-config")["data"]
    by_name = {c["name"]: c for c in containers(spec)}
    triton = by_name["triton"]
    flags = dict(a.removeprefix("--").split("=", 1) for a in triton["args"])
    ports = {int(flags[k]): free_port() for k in ("http-port", "grpc-port", "metrics-port")}
    ports |= {p["containerPort"]: free_port() for c in containers(spec) for p in c.get("ports", [])}
    assert flags["http-address"] == flags["grpc-address"] == "127.0.0.1"  # loopback in the pod
    handled = {"model-repository", "model-control-mode", "load-model", "allow-gpu-metrics"}
    handled |= {
        f"{kind}-{part}" for kind in ("http", "grpc", "metrics") for part in ("address", "port")
    }
    assert flags["allow-gpu-metrics"] == "false"  # GPU metrics: the exporter's
    # One volume, /models, in all three containers.
    repository = python_repository(sample_repository, tmp_path / "models", ["simple"])
    server = start_triton(
        repository,
        tmp_path / "triton.log",
        http_port=ports[int(flags["http-port"])],
        grpc_port=ports[int(flags["grpc-port"])],
        metrics_port=ports[int(flags["metrics-port"])],
        model_control_mode=flags["model-control-mode"],
        load_models=[flags["load-model"]],
        extra_args=[f"--{k}={v}" for k, v in flags.items() if k not in handled],
    )
    try:
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert probe_ok(triton[kind], ports, triton), kind
        secret = new_jwt_secret()
        for name in ("gateway", "grpc"):
            container = by_name[name]
            values = relocate(environment(container, config, secret), ports, repository)
            log = tmp_path / f"{name}.log"
            processes.append(start(container["args"], values, log))
            wait_for_probes(container, ports, processes[-1], log)
        rest = f"http://127.0.0.1:{ports[8000]}/v2/models/simple/infer"
        assert httpx.post(rest, json=SIMPLE, timeout=30).status_code == 401
        token = issue_token(secret, "camera-1", ["infer"])
        reply = httpx.post(
            rest, json=SIMPLE, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        assert reply.status_code == 200, reply.text
        scrape = httpx.get(f"http://127.0.0.1:{ports[int(flags['metrics-port'])]}/metrics").text
        exported = {
            line.split("{")[0].split(" ")[0] for line in scrape.splitlines() if line[:1].isalpha()
        }
        adapter = yaml.safe_load((K8S / "autoscaling/prometheus-adapter-values.yaml").read_text())
        for rule in adapter["rules"]["custom"]:
            query = (
                rule["metricsQuery"]
                .replace("<<.LabelMatchers>>", "")
                .replace("<<.GroupBy>>", "pod")
            )
            missing = metric_names(query) - exported
            assert not missing, f"Triton does not export {missing} ({rule['name']['as']})"
    finally:
        server.stop()


def test_the_kserve_runtime_runs_as_its_manifest_says(
    sample_repository: Path, tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    pytest.importorskip("onnxruntime", reason="the embedded engine (the `embedded` extra)")
    runtime = one(rendered("kserve"), "ClusterServingRuntime", "mlinfer")["spec"]
    (container,) = runtime["containers"]
    secret = new_jwt_secret()
    values = environment(container, {}, secret)
    ports = {int(values[k]): free_port() for k in ("MLINFER_HTTP_PORT", "MLINFER_GRPC_PORT")}
    values = relocate(values, ports, sample_repository)  # /mnt/models: the storage initializer's
    log = tmp_path / "kserve.log"
    processes.append(start(container["args"], values, log))
    wait_for_probes(container, ports, processes[-1], log)
    rest = f"http://127.0.0.1:{ports[8080]}/v2/models/simple/infer"
    assert httpx.post(rest, json=SIMPLE, timeout=30).status_code == 401
    token = issue_token(secret, "kserve-client", ["infer"])
    reply = httpx.post(rest, json=SIMPLE, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert reply.status_code == 200, reply.text
    assert reply.json()["outputs"][0]["data"] == [2 * i for i in range(16)]
    channel = grpc.insecure_channel(f"127.0.0.1:{ports[9000]}")
    try:
        check = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
        assert check.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        channel.close()
