"""A real Triton for tests: the tritonserver bundled in nvidia-pytriton, Python-backend models.

Besides starting Triton on a converted copy of the sample repository this module names the
protocol test targets (``Target``: mlinfer embedded, mlinfer in front of Triton, Triton) and
holds the observables the Triton-backed tests need: a ``gate`` model that holds its one
instance until a file appears (so requests queue up in Triton deterministically, without
timing), Triton's Prometheus gauges, and a small OTLP/HTTP receiver for Triton's OpenTelemetry
trace export.
"""

from __future__ import annotations

import re
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.otlp import OtlpReceiver
from tests.support.triton.python_backend import write_python_backend_repository
from tests.support.triton.server_process import (
    TritonServerProcess,
    TritonStartError,
    tritonserver_binary,
)

SKIP_REASON = (
    "tritonserver binary not found: install nvidia-pytriton==0.7.0 (dev extra), it ships "
    "pytriton/tritonserver/bin/tritonserver"
)


def require_triton() -> None:
    if tritonserver_binary() is None:
        pytest.skip(SKIP_REASON)
    pytest.importorskip("onnxruntime", reason="the Python-backend models run ONNX Runtime")


def python_repository(onnx_repository: Path, out: Path, models: list[str] | None = None) -> Path:
    """The Python-backend twin of an ONNX repository (what this Triton can serve)."""
    write_python_backend_repository(onnx_repository, out, models)
    return out


def start_triton(repository: Path, log_path: Path, **kwargs: Any) -> TritonServerProcess:
    """Start Triton and wait until it (and ``load_models``) are ready; fail with its log."""
    proc = TritonServerProcess(repository, log_path=log_path, **kwargs)
    proc.start()
    try:
        models = [m for m in kwargs.get("load_models") or () if m != "*"]
        proc.wait_ready(models=models, timeout_s=240)
    except TritonStartError:
        proc.stop()
        raise
    return proc


# -- protocol targets ----------------------------------------------------------------------

EMBEDDED, MLINFER_TRITON, TRITON = "embedded", "mlinfer-triton", "triton"
TARGET_KINDS = (EMBEDDED, MLINFER_TRITON, TRITON)
MLINFER_KINDS = (EMBEDDED, MLINFER_TRITON)


@dataclass(frozen=True)
class Target:
    """One server under test; ``kind`` is one of ``TARGET_KINDS``."""

    kind: str
    http: str  # host:port
    grpc: str  # host:port

    @property
    def is_mlinfer(self) -> bool:
        return self.kind in MLINFER_KINDS

    @property
    def server_name(self) -> str:
        """What the server metadata calls itself."""
        return "mlinfer" if self.is_mlinfer else "triton"


# -- gate: a model that holds its instance until released ------------------------------------

GATE_CONFIG = """name: "gate"
backend: "python"
max_batch_size: 1
input [ {{ name: "INPUT0" data_type: TYPE_INT32 dims: [ 1 ] }} ]
output [ {{ name: "OUTPUT0" data_type: TYPE_INT32 dims: [ 1 ] }} ]
dynamic_batching {{
  priority_levels: 2
  default_priority_level: 2
  default_queue_policy {{ default_timeout_microseconds: 600000000 allow_timeout_override: true }}
}}
instance_group [ {{ count: 1 kind: KIND_CPU }} ]
parameters {{ key: "gate_dir" value {{ string_value: "{gate_dir}" }} }}
"""

GATE_MODEL = '''"""Executes each request only once the file ``open`` exists in ``gate_dir``."""

import json
import os
import time

import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        self.gate_dir = config["parameters"]["gate_dir"]["string_value"]

    def execute(self, requests):
        responses = []
        for request in requests:
            value = pb_utils.get_input_tensor_by_name(request, "INPUT0").as_numpy()
            tag = str(int(value.reshape(-1)[0]))
            open(os.path.join(self.gate_dir, "started-" + tag), "w").close()
            deadline = time.monotonic() + 300
            while not os.path.exists(os.path.join(self.gate_dir, "open")):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.002)
            with open(os.path.join(self.gate_dir, "order.log"), "a") as log:
                log.write(tag + "\\n")
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT0", value)]))
        return responses
'''


class Gate:
    """Test side of the ``gate`` model: open/close it, see what started and in which order."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        (self.directory / "open").unlink(missing_ok=True)
        (self.directory / "order.log").unlink(missing_ok=True)
        for started in self.directory.glob("started-*"):
            started.unlink()

    def open(self) -> None:
        (self.directory / "open").touch()

    def started(self, tag: int) -> bool:
        return (self.directory / f"started-{tag}").exists()

    def order(self) -> list[int]:
        log = self.directory / "order.log"
        return [int(x) for x in log.read_text().split()] if log.exists() else []


def write_gate_model(repository: Path, gate_dir: Path) -> None:
    model = repository / "gate"
    (model / "1").mkdir(parents=True, exist_ok=True)
    (model / "config.pbtxt").write_text(GATE_CONFIG.format(gate_dir=gate_dir))
    (model / "1" / "model.py").write_text(GATE_MODEL)


# -- Triton's Prometheus metrics ------------------------------------------------------------


def triton_gauge(proc: TritonServerProcess, metric: str, model: str) -> float | None:
    """One per-model series from Triton's metrics endpoint (None when absent)."""
    with urllib.request.urlopen(proc.metrics_url, timeout=5) as response:
        text = response.read().decode()
    pattern = re.compile(
        rf'^{re.escape(metric)}\{{[^}}]*model="{re.escape(model)}"[^}}]*\}} (\S+)$'
    )
    for line in text.splitlines():
        match = pattern.match(line)
        if match:
            return float(match.group(1))
    return None





def triton_trace_args(receiver: OtlpReceiver) -> list[str]:
    """tritonserver flags: trace every request with OpenTelemetry, export each span at once."""
    return [
        "--trace-config=mode=opentelemetry",
        f"--trace-config=opentelemetry,url={receiver.url}",
        "--trace-config=opentelemetry,bsp_max_export_batch_size=1",
        "--trace-config=opentelemetry,bsp_schedule_delay=20",
        "--trace-config=rate=1",
        "--trace-config=level=TIMESTAMPS",
    ]
