"""The benchmark model repository: ResNet-50, BERT-base, YOLOv8n, the custom CNN, ``simple``.

Each model is generated locally (seeded random weights, nothing downloaded) into a Triton-layout
repository with a config sized for a small CPU: two instances of one ONNX Runtime thread each
(``intra_op_thread_count`` 1, no thread pool to spin), dynamic batching whose preferred sizes
let both instances fill at modest concurrency. ``quick=True`` builds shrunken variants with the
same inputs and outputs, for smoke tests and CI.

``<name>_nobatch`` is the same model without ``dynamic_batching`` (its ``model.onnx`` is a
symlink to the batched model's), for the batching on/off comparison.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench.bert import bert
from bench.layers import Network
from bench.vision import custom_cnn, resnet50, yolov8
from mlinfer.samples.models import simple_add_sub
from mlinfer.samples.writer import write_model

NOBATCH_SUFFIX = "_nobatch"
INFO_FILENAME = "bench-info.json"  # MACs and parameters, beside config.pbtxt
BERT_SEQUENCE = 128


@dataclass(frozen=True)
class SpecTarget:
    """A row of the specification's performance table (targets for a Jetson AGX Orin GPU)."""

    title: str
    requests_per_s: float
    batch: int
    latency_ms: float


@dataclass(frozen=True)
class TensorConfig:
    name: str
    data_type: str  # TYPE_FP32, ...
    dims: tuple[int, ...]  # without the batch dimension
    image: bool = False


@dataclass(frozen=True)
class BenchModel:
    name: str
    title: str
    description: str
    build: Callable[[bool], Network]
    inputs: tuple[TensorConfig, ...]
    outputs: tuple[TensorConfig, ...]
    max_batch_size: int
    preferred_batch_sizes: tuple[int, ...]
    max_queue_delay_us: int
    instances: int = 2
    intra_op_threads: int = 1
    target: SpecTarget | None = None
    heavy: bool = True
    """Compute-bound: measured with longer windows."""
    extra: dict[str, str] = field(default_factory=dict)

    def config(
        self,
        *,
        dynamic_batching: bool = True,
        name: str | None = None,
        outputs: Sequence[TensorConfig] | None = None,
    ) -> str:
        return model_config(self, dynamic_batching=dynamic_batching, name=name, outputs=outputs)


def _tensors(tensors: Sequence[TensorConfig], with_format: bool) -> str:
    rows = []
    for t in tensors:
        fmt = " format: FORMAT_NCHW" if with_format and t.image else ""
        dims = ", ".join(str(d) for d in t.dims)
        rows.append(f'  {{ name: "{t.name}" data_type: {t.data_type}{fmt} dims: [ {dims} ] }}')
    return ",\n".join(rows)


def model_config(
    model: BenchModel,
    *,
    dynamic_batching: bool = True,
    name: str | None = None,
    outputs: Sequence[TensorConfig] | None = None,
) -> str:
    """config.pbtxt text for ``model`` (optionally without ``dynamic_batching``).

    ``outputs`` overrides the declared outputs (a quick variant's smaller dims).
    """
    lines = [
        f'name: "{name or model.name}"',
        'platform: "onnxruntime_onnx"',
        f"max_batch_size: {model.max_batch_size}",
        f"input [\n{_tensors(model.inputs, True)}\n]",
        f"output [\n{_tensors(outputs or model.outputs, False)}\n]",
    ]
    if dynamic_batching:
        sizes = ", ".join(str(s) for s in model.preferred_batch_sizes)
        lines.append(
            f"dynamic_batching {{ preferred_batch_size: [ {sizes} ] "
            f"max_queue_delay_microseconds: {model.max_queue_delay_us} }}"
        )
    lines.append(f"instance_group [ {{ count: {model.instances} kind: KIND_CPU }} ]")
    params = {"intra_op_thread_count": str(model.intra_op_threads), **model.extra}
    for key, value in params.items():
        lines.append(f'parameters {{ key: "{key}" value {{ string_value: "{value}" }} }}')
    return "\n".join(lines) + "\n"


def _resnet(quick: bool) -> Network:
    return resnet50(width=16, blocks=(1, 1, 1, 1)) if quick else resnet50()


def _bert(quick: bool) -> Network:
    if quick:
        return bert(layers=2, hidden=128, heads=2, sequence=BERT_SEQUENCE)
    return bert(sequence=BERT_SEQUENCE)


def _yolo(quick: bool) -> Network:
    return yolov8(width_multiple=0.125) if quick else yolov8()


def _cnn(quick: bool) -> Network:
    return custom_cnn(channels=(8, 16, 32, 64)) if quick else custom_cnn()


_IMAGE = "TYPE_FP32"

BENCH_MODELS: tuple[BenchModel, ...] = (
    BenchModel(
        name="custom_cnn",
        title="Custom CNN",
        description=(
            "the sample image_cnn scaled up: 3x128x128, four conv3x3+ReLU+maxpool stages "
            "(32/64/128/256 channels), global pooling, 10 classes; 0.24 GMACs, 0.39M params"
        ),
        build=_cnn,
        inputs=(TensorConfig("image", _IMAGE, (3, 128, 128), image=True),),
        outputs=(TensorConfig("probabilities", _IMAGE, (10,)),),
        max_batch_size=16,
        preferred_batch_sizes=(4, 8, 16),
        max_queue_delay_us=1000,
        target=SpecTarget("Custom CNN", 800, 8, 25),
        heavy=False,
    ),
    BenchModel(
        name="resnet50",
        title="ResNet-50",
        description=(
            "ResNet-50 v1.5, 224x224 NCHW FP32, bottlenecks [3,4,6,3], BN folded; "
            "4.09 GMACs, 25.5M params"
        ),
        build=_resnet,
        inputs=(TensorConfig("image", _IMAGE, (3, 224, 224), image=True),),
        outputs=(TensorConfig("probabilities", _IMAGE, (1000,)),),
        max_batch_size=16,
        preferred_batch_sizes=(4, 8, 16),
        max_queue_delay_us=2000,
        target=SpecTarget("ResNet-50", 1000, 16, 15),
    ),
    BenchModel(
        name="bert_base",
        title="BERT-base",
        description=(
            "BERT-base encoder + pooler, 12 layers, hidden 768, 12 heads, sequence 128, "
            "INT64 input_ids/attention_mask/token_type_ids; 11.2 GMACs, 109.5M params"
        ),
        build=_bert,
        inputs=tuple(
            TensorConfig(n, "TYPE_INT64", (BERT_SEQUENCE,))
            for n in ("input_ids", "attention_mask", "token_type_ids")
        ),
        outputs=(TensorConfig("pooled_output", _IMAGE, (768,)),),
        max_batch_size=8,
        preferred_batch_sizes=(4, 8),
        max_queue_delay_us=2000,
        target=SpecTarget("BERT-base", 200, 8, 50),
    ),
    BenchModel(
        name="yolov8n",
        title="YOLOv8-nano",
        description=(
            "YOLOv8n-shaped detector (yolov8.yaml at width 0.25, depth 0.33, DFL head), "
            "640x640 -> [N,84,8400]; 4.37 GMACs (8.7 GFLOPs), 3.2M params; RANDOM weights"
        ),
        build=_yolo,
        inputs=(TensorConfig("images", _IMAGE, (3, 640, 640), image=True),),
        outputs=(TensorConfig("output0", _IMAGE, (84, 8400)),),
        max_batch_size=8,
        preferred_batch_sizes=(4, 8),
        max_queue_delay_us=2000,
        target=SpecTarget("YOLOv8-nano", 500, 8, 20),
    ),
)

TINY_MODEL = "simple"


def bench_model(name: str) -> BenchModel:
    for model in BENCH_MODELS:
        if model.name == name:
            return model
    raise KeyError(f"unknown benchmark model {name!r} (known: {[m.name for m in BENCH_MODELS]})")


@dataclass(frozen=True)
class BuiltModel:
    model: BenchModel
    path: Path
    macs: int
    params: int
    bytes: int


def write_bench_model(
    model: BenchModel, repository: Path, *, quick: bool = False, nobatch: bool = True
) -> BuiltModel:
    """Build ``model`` into ``repository`` (plus its ``_nobatch`` twin); return what was built."""
    from mlinfer.samples.models import SampleModel

    network = model.build(quick)
    outputs = _graph_outputs(model, network)
    sample = SampleModel(model.name, network.onnx_model, model.config(outputs=outputs), {})
    path = write_model(sample, repository)
    size = path.stat().st_size
    info = {"macs": network.macs, "params": network.params, "quick": quick}
    (repository / model.name / INFO_FILENAME).write_text(json.dumps(info), encoding="utf-8")
    if nobatch:
        twin = repository / f"{model.name}{NOBATCH_SUFFIX}"
        (twin / "1").mkdir(parents=True, exist_ok=True)
        (twin / "config.pbtxt").write_text(
            model.config(dynamic_batching=False, name=twin.name, outputs=outputs),
            encoding="utf-8",
        )
        link = twin / "1" / "model.onnx"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(os.path.relpath(path, link.parent))
    return BuiltModel(model, path, network.macs, network.params, size)


def _graph_outputs(model: BenchModel, network: Network) -> list[TensorConfig]:
    """The declared outputs with their dims as the built graph has them (quick variants)."""
    shapes = {
        o.name: tuple(d.dim_value for d in o.type.tensor_type.shape.dim[1:])
        for o in network.onnx_model.graph.output
    }
    return [
        replace(t, dims=shapes[t.name]) if all(shapes.get(t.name, (0,))) else t
        for t in model.outputs
    ]


def write_bench_repository(
    repository: Path,
    *,
    quick: bool = False,
    only: Sequence[str] | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> list[BuiltModel]:
    """Write the benchmark models (and the tiny ``simple``) into ``repository``."""
    repository.mkdir(parents=True, exist_ok=True)
    built = []
    for model in BENCH_MODELS:
        if only and model.name not in only:
            continue
        progress(f"building {model.title}{' (quick variant)' if quick else ''} ...")
        item = write_bench_model(model, repository, quick=quick)
        progress(f"  {item.path} ({item.bytes / 1e6:.1f} MB, {item.macs / 1e9:.2f} GMACs)")
        built.append(item)
    if not only or TINY_MODEL in only:
        write_model(simple_add_sub(), repository)
    return built
