"""deploy/kubernetes autoscaling: the HPA, the Prometheus adapter rules and KEDA's
ScaledObject act on mlinfer's signals at the in-box autoscaler's thresholds.

The HPA's arithmetic (Kubernetes' documented rule) is applied to the rendered HPA; the
adapter's and KEDA's PromQL are evaluated by promtool on known series. KEDA's CRD schema
is not carried in the repository: its required fields are checked here, and its embedded
HPA behavior against the Kubernetes schema.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import yaml

from tests.layer.k8s import K8S, VERSIONS, Doc, find, one, rendered, validate
from tests.layer.layerlib import require_tool
from tests.layer.promql import metric_names

# The in-box autoscaler's defaults (the specification's: scale up above 75 % GPU
# utilization or queue time above target, down below 30 %, 1..4, cooldowns 60 s / 300 s);
# checked against mlinfer.autoscaler's PolicyConfig where that package is installed.
SPEC = {
    "scale_up_utilization": 0.75,
    "scale_down_utilization": 0.30,
    "min_instances": 1,
    "max_instances": 4,
    "cooldown_up_s": 60.0,
    "cooldown_down_s": 300.0,
    "queue_time_target_us": 20_000.0,
}


def _quantity(value: str | int | float) -> float:
    text = str(value)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def hpa_desired(hpa: Doc, current: int, values: dict[str, float]) -> int:
    """Kubernetes' HPA rule for one evaluation: per metric ceil(current x value / target)
    outside the tolerance band, the largest of them, within min/max replicas."""
    spec, behavior = hpa["spec"], hpa["spec"]["behavior"]
    up = _quantity(behavior["scaleUp"].get("tolerance", "100m"))
    down = _quantity(behavior["scaleDown"].get("tolerance", "100m"))
    proposals = []
    for metric in spec["metrics"]:
        source = metric[metric["type"].lower()]
        target = source["target"]
        goal = _quantity(target.get("averageValue", target.get("value")))
        ratio = values[source["metric"]["name"]] / goal
        within = 1 - down <= ratio <= 1 + up
        proposals.append(current if within else math.ceil(current * ratio))
    return max(spec["minReplicas"], min(spec["maxReplicas"], max(proposals)))


def in_box_policy() -> dict[str, float]:
    try:
        from mlinfer.autoscaler.policy import PolicyConfig  # type: ignore[import-not-found]
    except ImportError:
        return SPEC
    config = PolicyConfig()
    return {name: getattr(config, name) for name in SPEC}


def test_the_in_box_policy_is_the_specification() -> None:
    assert in_box_policy() == SPEC


def test_hpa_scales_at_the_in_box_thresholds() -> None:
    hpa = one(rendered("x86-gpu"), "HorizontalPodAutoscaler", "mlinfer-serving")
    policy = in_box_policy()
    target = policy["queue_time_target_us"]
    idle = {"mlinfer_queue_time_per_request_us": 0.0, "mlinfer_pending_requests": 0.0}

    def desired(current: int, utilization: float, queue_us: float = 0.0) -> int:
        return hpa_desired(
            hpa,
            current,
            {
                **idle,
                "mlinfer_gpu_utilization": utilization,
                "mlinfer_queue_time_per_request_us": queue_us,
            },
        )

    up, down = policy["scale_up_utilization"], policy["scale_down_utilization"]
    assert desired(1, up + 0.01) == 2  # busy GPU: one more pod
    assert desired(2, up - 0.01) == 2  # just under: hold
    assert desired(2, down + 0.01) == 2  # just above the low mark: hold
    assert desired(2, down - 0.01) == 1  # idle: one fewer
    assert desired(1, 0.5, queue_us=target * 1.2) == 2  # queueing: one more pod
    assert desired(1, 0.5, queue_us=target * 0.9) == 1
    assert desired(4, 1.0, queue_us=target * 10) == policy["max_instances"]
    assert desired(1, 0.0) == policy["min_instances"]
    behavior = hpa["spec"]["behavior"]
    assert behavior["scaleUp"]["stabilizationWindowSeconds"] == policy["cooldown_up_s"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == policy["cooldown_down_s"]


ADAPTER = yaml.safe_load((K8S / "autoscaling/prometheus-adapter-values.yaml").read_text())


def test_the_adapter_serves_every_metric_the_hpa_reads() -> None:
    hpa = one(rendered("x86-gpu"), "HorizontalPodAutoscaler", "mlinfer-serving")
    served = {
        "Pods": {r["name"]["as"] for r in ADAPTER["rules"]["custom"]},
        "External": {r["name"]["as"] for r in ADAPTER["rules"]["external"]},
    }
    for metric in hpa["spec"]["metrics"]:
        name = metric[metric["type"].lower()]["metric"]["name"]
        assert name in served[metric["type"]], f"{metric['type']} metric {name}: no adapter rule"


def test_the_adapter_reads_metrics_that_are_exported() -> None:
    """Triton's names, which mlinfer renders too; nv_gpu_utilization from the exporter."""
    from mlinfer.exporter import triton_metrics

    exported = {name for name, _, _ in triton_metrics.COUNTERS}
    exported |= {"nv_inference_pending_request_count", "nv_gpu_utilization"}
    exported |= {"nv_inference_request_success", "nv_inference_request_failure"}
    for rule in (*ADAPTER["rules"]["custom"], *ADAPTER["rules"]["external"]):
        query = (
            rule["metricsQuery"].replace("<<.LabelMatchers>>", "").replace("<<.GroupBy>>", "pod")
        )
        used = metric_names(query) | metric_names(rule["seriesQuery"].strip("'"))
        assert used and used <= exported, f"{rule['name']['as']}: {sorted(used - exported)}"


def _input(name: str, values: str, **labels: str) -> dict[str, str]:
    inner = ",".join(f'{k}="{v}"' for k, v in {"namespace": "mlinfer", **labels}.items())
    return {"series": f"{name}{{{inner}}}", "values": values}


QUEUE, OK, FAIL, PENDING = (
    "nv_inference_queue_duration_us",
    "nv_inference_request_success",
    "nv_inference_request_failure",
    "nv_inference_pending_request_count",
)
PROMQL_INPUT = [
    # Pod a, two models: 450 ms of queueing per 15 s over 15 requests = 30 ms per request.
    _input(QUEUE, "0+300000x40", pod="a", model="m1"),
    _input(QUEUE, "0+150000x40", pod="a", model="m2"),
    _input(OK, "0+10x40", pod="a", model="m1"),
    _input(OK, "0+4x40", pod="a", model="m2"),
    _input(FAIL, "0+0x40", pod="a", model="m1"),
    _input(FAIL, "0+1x40", pod="a", model="m2"),
    _input(PENDING, "7x40", pod="a", model="m1"),
    _input(PENDING, "5x40", pod="a", model="m2"),
    # Pod b: no traffic at all (0, not NaN).
    *(_input(name, "0x40", pod="b", model="m1") for name in (QUEUE, OK, FAIL, PENDING)),
    # Two GPU nodes' exporters.
    _input("nv_gpu_utilization", "0.5x40", pod="exporter-1", gpu_uuid="g1"),
    _input("nv_gpu_utilization", "0.9x40", pod="exporter-2", gpu_uuid="g2"),
]


def test_the_autoscaling_queries_compute_the_signals(tmp_path: Path) -> None:
    """The adapter's and KEDA's PromQL on known series, evaluated by promtool."""
    promtool = require_tool("promtool", "evaluating the autoscaling queries")
    rules = {
        r["name"]["as"]: r["metricsQuery"]
        for r in (*ADAPTER["rules"]["custom"], *ADAPTER["rules"]["external"])
    }

    def expand(query: str, matchers: str, group_by: str) -> str:
        return query.replace("<<.LabelMatchers>>", matchers).replace("<<.GroupBy>>", group_by)

    pods = 'namespace="mlinfer",pod=~"a|b"'
    tests = [
        (expand(rules["mlinfer_queue_time_per_request_us"], pods, "pod"), [("a", 30000), ("b", 0)]),
        (expand(rules["mlinfer_pending_requests"], pods, "pod"), [("a", 12), ("b", 0)]),
        (
            expand(rules["mlinfer_gpu_utilization"], 'namespace="mlinfer"', "namespace"),
            [(None, 0.7)],
        ),
    ]
    cases = []
    for expr, samples in tests:
        exp = [
            {"labels": "{}" if pod is None else f'{{pod="{pod}"}}', "value": value}
            for pod, value in samples
        ]
        if samples[0][0] is None:
            exp = [{"labels": '{namespace="mlinfer"}', "value": samples[0][1]}]
        cases.append({"expr": expr, "eval_time": "8m", "exp_samples": exp})
    keda = one(rendered("x86-gpu+keda"), "ScaledObject", "mlinfer-serving")
    keda_values = {"queue-time": 30000, "pending-requests": 12, "gpu-utilization": 0.7}
    for trigger in keda["spec"]["triggers"]:
        query = trigger["metadata"]["query"].replace("mlinfer-serving-.*", "a|b")
        cases.append(
            {
                "expr": query,
                "eval_time": "8m",
                "exp_samples": [{"labels": "{}", "value": keda_values[trigger["name"]]}],
            }
        )
    test_file = tmp_path / "autoscaling.test.yml"
    test_file.write_text(
        yaml.safe_dump(
            {
                "evaluation_interval": "15s",
                "tests": [
                    {"interval": "15s", "input_series": PROMQL_INPUT, "promql_expr_test": cases}
                ],
            }
        )
    )
    result = subprocess.run(
        [promtool, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_keda_replaces_the_hpa_with_the_same_signals_and_thresholds() -> None:
    """KEDA's ScaledObject: the fields its CRD requires, checked here (no CRD schema)."""
    docs = rendered("x86-gpu+keda")
    assert not find(docs, "HorizontalPodAutoscaler"), "two autoscalers on one Deployment"
    scaled = one(docs, "ScaledObject", "mlinfer-serving")
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    spec = scaled["spec"]
    assert spec["scaleTargetRef"]["name"] in {
        d["metadata"]["name"] for d in find(docs, "Deployment")
    }
    policy = in_box_policy()
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (
        policy["min_instances"],
        policy["max_instances"],
    )
    thresholds = {t["name"]: float(t["metadata"]["threshold"]) for t in spec["triggers"]}
    assert thresholds == {
        "queue-time": policy["queue_time_target_us"],
        "pending-requests": 100.0,
        "gpu-utilization": policy["scale_up_utilization"],
    }
    for trigger in spec["triggers"]:
        assert trigger["type"] == "prometheus"
        assert trigger["metricType"] in ("Value", "AverageValue", "Utilization")
        for key in ("serverAddress", "query", "threshold"):
            assert isinstance(trigger["metadata"][key], str) and trigger["metadata"][key], key
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "keda-behavior"},
        "spec": {
            "scaleTargetRef": spec["scaleTargetRef"],
            "maxReplicas": spec["maxReplicaCount"],
            "behavior": spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"],
        },
    }
    assert validate(hpa, VERSIONS[0]) is None


def test_the_in_box_autoscaler_reaches_triton_and_the_nodes_exporter() -> None:
    docs = rendered("jetson-k3s+in-box-autoscaler")
    spec = one(docs, "Deployment", "mlinfer-serving")["spec"]["template"]["spec"]
    by_name = {c["name"]: c for c in (*spec["initContainers"], *spec["containers"])}
    flags = dict(a.removeprefix("--").split("=", 1) for a in by_name["triton"]["args"])
    variables = {e["name"]: e["value"] for e in by_name["autoscaler"]["env"]}
    assert variables["MLINFER_AUTOSCALER_ACTUATOR"] == "triton"
    assert variables["MLINFER_AUTOSCALER_SERVER_URL"] == f"http://127.0.0.1:{flags['http-port']}"
    metrics = f"http://127.0.0.1:{flags['metrics-port']}/metrics"
    assert variables["MLINFER_AUTOSCALER_METRICS_URL"] == metrics
    local = one(docs, "Service", "mlinfer-exporter-local")
    assert local["spec"]["internalTrafficPolicy"] == "Local"
    exporter = one(docs, "DaemonSet", "mlinfer-exporter")["spec"]["template"]
    assert local["spec"]["selector"].items() <= exporter["metadata"]["labels"].items()
    (port,) = local["spec"]["ports"]
    url = f"http://{local['metadata']['name']}:{port['port']}/metrics"
    assert variables["MLINFER_AUTOSCALER_EXPORTER_URL"] == url
    assert port["targetPort"] in {p["name"] for p in exporter["spec"]["containers"][0]["ports"]}
    try:
        from mlinfer.autoscaler.settings import AutoscalerSettings  # type: ignore[import-not-found]
    except ImportError:
        return  # the autoscaler's settings are checked where it is installed
    known = {f"MLINFER_AUTOSCALER_{name.upper()}" for name in AutoscalerSettings.model_fields}
    assert set(variables) <= known, sorted(set(variables) - known)
