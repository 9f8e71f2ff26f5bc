from __future__ import annotations

from pathlib import Path

import pytest

from mlinfer.core.model_config import read_config
from mlinfer.optimizer.errors import ConfigError
from mlinfer.optimizer.inspect import inspect_model
from mlinfer.optimizer.publish import next_version, publish, published_config
from mlinfer.optimizer.source import resolve_source


def test_publish_carries_the_source_config_over(repo: Path, tmp_path: Path) -> None:
    source = resolve_source(repo / "image_cnn")
    info = inspect_model(source.onnx_path)
    config = published_config(source, info, "image_cnn", ".onnx", "int8")
    out = tmp_path / "out"
    folder = publish(
        out,
        "image_cnn",
        source.onnx_path,
        config,
        source=source,
        extra_files={"optimization_report.json": b"{}"},
    )
    assert folder == out / "image_cnn" / "1"
    assert sorted(p.name for p in folder.iterdir()) == ["model.onnx", "optimization_report.json"]
    published = read_config(out / "image_cnn")
    original = read_config(repo / "image_cnn")
    assert published.platform == "onnxruntime_onnx"
    assert published.max_batch_size == original.max_batch_size
    assert published.dynamic_batching == original.dynamic_batching  # preferred sizes, priorities
    assert list(published.input) == list(original.input)
    assert published.parameters["optimized_precision"].string_value == "int8"
    assert (out / "image_cnn" / "labels.txt").read_text() == (
        repo / "image_cnn" / "labels.txt"
    ).read_text()
    again = publish(out, "image_cnn", source.onnx_path, config, source=source, extra_files={})
    assert again.name == "2" and next_version(out / "image_cnn") == 3
    assert not [p for p in (out / "image_cnn").iterdir() if p.name.startswith(".")]


def test_a_plan_gets_the_tensorrt_platform_and_gpu_instances(repo: Path) -> None:
    source = resolve_source(repo / "image_cnn")
    config = published_config(source, inspect_model(source.onnx_path), "cnn_trt", ".plan", "fp16")
    assert config.platform == "tensorrt_plan" and config.default_model_filename == "model.plan"
    assert "intra_op_thread_count" not in config.parameters  # ONNX Runtime only
    assert all(g.kind == g.KIND_GPU for g in config.instance_group)


def test_refuses_to_mix_platforms_or_overwrite(repo: Path, tmp_path: Path) -> None:
    source = resolve_source(repo / "digits")
    info = inspect_model(source.onnx_path)
    out = tmp_path / "out"
    onnx_config = published_config(source, info, "digits", ".onnx", "int8")
    publish(out, "digits", source.onnx_path, onnx_config, source=source, extra_files={})
    plan = tmp_path / "model.plan"
    plan.write_bytes(b"engine")
    plan_config = published_config(source, info, "digits", ".plan", "int8")
    with pytest.raises(ConfigError, match="serves platform 'onnxruntime_onnx'"):
        publish(out, "digits", plan, plan_config, source=source, extra_files={})
    with pytest.raises(ConfigError, match="version 1 of 'digits' already exists"):
        publish(
            out, "digits", source.onnx_path, onnx_config, source=source, extra_files={}, version=1
        )
    assert sorted(p.name for p in (out / "digits").iterdir()) == ["1", "config.pbtxt", "labels.txt"]


def test_a_bare_onnx_file_gets_a_config_from_the_model(tmp_path: Path, digits_onnx: Path) -> None:
    bare = tmp_path / "m.onnx"
    bare.write_bytes(digits_onnx.read_bytes())
    source = resolve_source(bare)
    assert source.name == "m" and source.config is None
    config = published_config(source, inspect_model(bare), "m", ".onnx", "fp16")
    assert config.max_batch_size == 0 and list(config.input[0].dims) == [-1, 64]
