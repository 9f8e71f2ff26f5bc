"""The benchmark model builders: shapes, inputs and costs (quick variants, run on ONNX Runtime)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from bench.bert import INPUT_NAMES, bert
from bench.layers import Network
from bench.models import (
    BENCH_MODELS,
    NOBATCH_SUFFIX,
    bench_model,
    model_config,
    write_bench_repository,
)
from bench.vision import conv8, custom_cnn, resnet50, yolov8
from tests.support.triton.python_backend import load_model_config


def _session(network: Network) -> ort.InferenceSession:
    return ort.InferenceSession(
        network.onnx_model.SerializeToString(), providers=["CPUExecutionProvider"]
    )


def test_yolo_quick_variant_keeps_the_yolov8_output_layout() -> None:
    session = _session(yolov8(width_multiple=0.125))
    (output,) = session.run(None, {"images": np.zeros((1, 3, 640, 640), np.float32)})
    assert output.shape == (1, 84, 8400)
    assert np.isfinite(output).all()
    scores = output[:, 4:, :]
    assert ((scores >= 0) & (scores <= 1)).all()  # sigmoid class scores


def test_yolo_anchor_count_follows_the_input_size() -> None:
    session = _session(yolov8(size=320, width_multiple=0.125))
    (output,) = session.run(None, {"images": np.zeros((2, 3, 320, 320), np.float32)})
    assert output.shape == (2, 84, 40 * 40 + 20 * 20 + 10 * 10)


def test_yolo_nano_has_the_published_size_and_cost() -> None:
    network = yolov8()  # 0.1 s to build: no run needed
    assert network.params == pytest.approx(3.2e6, rel=0.03)
    assert 2 * network.macs == pytest.approx(8.7e9, rel=0.03)  # Ultralytics: 8.7 GFLOPs


def test_resnet_quick_variant_classifies_into_1000_probabilities() -> None:
    session = _session(resnet50(width=8, blocks=(1, 1, 1, 1)))
    image = np.random.default_rng(0).random((2, 3, 224, 224), dtype=np.float32)
    (probabilities,) = session.run(None, {"image": image})
    assert probabilities.shape == (2, 1000)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-4)


def test_bert_mini_takes_the_three_int64_inputs_and_pools() -> None:
    network = bert(layers=2, hidden=64, heads=2, vocab=1000)
    session = _session(network)
    inputs = {i.name: i for i in session.get_inputs()}
    assert list(inputs) == list(INPUT_NAMES)
    assert all(i.type == "tensor(int64)" for i in inputs.values())
    feeds = {name: np.ones((3, 16), np.int64) for name in INPUT_NAMES}
    (pooled,) = session.run(None, feeds)
    assert [o.name for o in session.get_outputs()] == ["pooled_output"]
    assert pooled.shape == (3, 64)
    assert (np.abs(pooled) <= 1).all()  # tanh


def test_bert_counts_the_macs_of_bert_base_per_sequence() -> None:
    # 12 layers x (4 h^2 + 2 h*4h) x 128 tokens + attention + pooler ~ 11.2 GMACs; build a
    # 1-layer model with the real width and scale, so the test stays small.
    one_layer = bert(layers=1, vocab=100, max_positions=128)
    per_layer = one_layer.macs - 768 * 768
    assert 12 * per_layer + 768 * 768 == pytest.approx(11.17e9, rel=0.01)


def test_custom_cnn_outputs_ten_probabilities() -> None:
    network = custom_cnn(size=64, channels=(4, 8, 8, 8))
    (probabilities,) = _session(network).run(None, {"image": np.zeros((4, 3, 64, 64), np.float32)})
    assert probabilities.shape == (4, 10)


def test_the_hot_path_cnn_has_eight_convolutions_on_3x64x64() -> None:
    network = conv8()
    convs = [n for n in network.onnx_model.graph.node if n.op_type == "Conv"]
    assert len(convs) == 8
    assert round(network.macs / 1e6) == 54  # 0.05 GMACs, as the page says
    (probabilities,) = _session(network).run(None, {"image": np.ones((2, 3, 64, 64), np.float32)})
    assert probabilities.shape == (2, 10)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_configs_parse_as_triton_model_configs(tmp_path: Path) -> None:
    for model in BENCH_MODELS:
        for batching in (True, False):
            path = tmp_path / f"{model.name}-{batching}.pbtxt"
            path.write_text(model_config(model, dynamic_batching=batching), encoding="utf-8")
            config = load_model_config(path)
            assert config.max_batch_size == model.max_batch_size
            assert config.HasField("dynamic_batching") is batching
            assert config.instance_group[0].count == model.instances
            assert config.parameters["intra_op_thread_count"].string_value == "1"
            if batching:
                assert list(config.dynamic_batching.preferred_batch_size) == list(
                    model.preferred_batch_sizes
                )


def test_quick_repository_has_models_twins_and_simple(tmp_path: Path) -> None:
    built = write_bench_repository(tmp_path, quick=True, only=["custom_cnn", "bert_base"])
    assert {b.model.name for b in built} == {"custom_cnn", "bert_base"}
    twin = tmp_path / f"custom_cnn{NOBATCH_SUFFIX}"
    assert (twin / "1" / "model.onnx").is_symlink()
    assert (twin / "1" / "model.onnx").resolve() == (
        tmp_path / "custom_cnn" / "1" / "model.onnx"
    ).resolve()
    assert not load_model_config(twin / "config.pbtxt").HasField("dynamic_batching")
    # the quick BERT is narrower: the config follows the graph
    bert_config = load_model_config(tmp_path / "bert_base" / "config.pbtxt")
    assert list(bert_config.output[0].dims) == [128]
    assert not (tmp_path / "simple").exists()  # not asked for


def test_unknown_bench_model_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="resnet50"):
        bench_model("nope")
