"""config.pbtxt for the TorchScript runtime: tensor order, graph buckets, parameters."""

from __future__ import annotations

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.backends.embedded import torch_config
from mlinfer.backends.embedded.torch_config import TorchTensor
from mlinfer.core.errors import ModelLoadError


def _config(text: str) -> mc.ModelConfig:
    return text_format.Parse('name: "m" platform: "pytorch_libtorch" ' + text, mc.ModelConfig())


def _t(name: str) -> TorchTensor:
    return TorchTensor(name, "FP32", (4,))


def test_buckets_are_preferred_sizes_when_given() -> None:
    config = _config("max_batch_size: 64 dynamic_batching { preferred_batch_size: [ 32, 8 ] }")
    assert torch_config.graph_batch_sizes(config) == (8, 32)


def test_buckets_default_to_powers_of_two_and_the_maximum() -> None:
    assert torch_config.graph_batch_sizes(_config("max_batch_size: 12")) == (1, 2, 4, 8, 12)
    assert torch_config.graph_batch_sizes(_config("max_batch_size: 8")) == (1, 2, 4, 8)
    assert torch_config.graph_batch_sizes(_config("max_batch_size: 0")) == ()


def test_bucket_parameter_overrides_and_is_checked() -> None:
    good = _config(
        'max_batch_size: 16 parameters { key: "cuda_graph_batch_sizes" '
        'value { string_value: "4, 1" } }'
    )
    assert torch_config.graph_batch_sizes(good) == (1, 4)
    for bad in ("0,2", "32", "a,b", ","):
        config = _config(
            'max_batch_size: 16 parameters { key: "cuda_graph_batch_sizes" '
            f'value {{ string_value: "{bad}" }} }}'
        )
        with pytest.raises(ModelLoadError, match="cuda_graph_batch_sizes"):
            torch_config.graph_batch_sizes(config)


def test_bucket_for_pads_up_and_misses_past_the_largest() -> None:
    assert torch_config.bucket_for((1, 2, 4, 8), 3) == 4
    assert torch_config.bucket_for((1, 2, 4, 8), 8) == 8
    assert torch_config.bucket_for((1, 2, 4, 8), 9) is None
    assert torch_config.bucket_for((8, 32), 1) == 8


def test_indexed_inputs_go_in_index_order_whatever_the_declaration() -> None:
    config = _config("")
    ordered = torch_config.input_order(config, [_t("B__1"), _t("A__0")], ["x", "y"])
    assert [t.name for t in ordered] == ["A__0", "B__1"]
    with pytest.raises(ModelLoadError, match=r"0\.\.1 without gaps"):
        torch_config.input_order(config, [_t("A__0"), _t("B__2")], ["x", "y"])


def test_named_inputs_follow_forward_arguments_else_declaration() -> None:
    config = _config("")
    named = torch_config.input_order(config, [_t("scale"), _t("ids")], ["ids", "scale"])
    assert [t.name for t in named] == ["ids", "scale"]
    other = torch_config.input_order(config, [_t("b"), _t("a")], ["x", "y"])
    assert [t.name for t in other] == ["b", "a"]
    with pytest.raises(ModelLoadError, match=r"forward\(\) takes 1 input"):
        torch_config.input_order(config, [_t("a"), _t("b")], ["x"])


def test_outputs_by_index_or_declaration() -> None:
    config = _config("")
    assert [t.name for t in torch_config.output_order(config, [_t("O__1"), _t("O__0")])] == [
        "O__0",
        "O__1",
    ]
    assert [t.name for t in torch_config.output_order(config, [_t("z"), _t("a")])] == ["z", "a"]


def test_declared_tensors_are_required_and_typed() -> None:
    with pytest.raises(ModelLoadError, match="needs every input and output declared"):
        torch_config.declared(_config("max_batch_size: 4"))
    text = (
        'input [ { name: "s" data_type: TYPE_STRING dims: [ 1 ] } ] '
        'output [ { name: "o" data_type: TYPE_FP32 dims: [ 1 ] } ]'
    )
    with pytest.raises(ModelLoadError, match="input 's' is BYTES"):
        torch_config.declared(_config(text))
    reshaped = (
        'input [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] reshape { shape: [ 2, 2 ] } } ] '
        'output [ { name: "o" data_type: TYPE_FP16 dims: [ 3 ] } ]'
    )
    inputs, outputs = torch_config.declared(_config(reshaped))
    assert inputs == [TorchTensor("x", "FP32", (2, 2))]
    assert outputs == [TorchTensor("o", "FP16", (3,))]


def test_options() -> None:
    default = torch_config.options(_config("max_batch_size: 2"))
    assert (default.half, default.cuda_graphs, default.graph_batch_sizes) == (False, True, (1, 2))
    half = torch_config.options(
        _config(
            'parameters { key: "precision" value { string_value: "FP16" } } '
            'parameters { key: "cuda_graphs" value { string_value: "false" } }'
        )
    )
    assert (half.half, half.cuda_graphs) == (True, False)
    with pytest.raises(ModelLoadError, match="precision='int8'"):
        torch_config.options(
            _config('parameters { key: "precision" value { string_value: "int8" } }')
        )
    with pytest.raises(ModelLoadError, match=r"'cuda_graphs' must be .*got 'maybe'"):
        torch_config.options(
            _config('parameters { key: "cuda_graphs" value { string_value: "maybe" } }')
        )
