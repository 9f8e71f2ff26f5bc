"""Request checks against a model signature: every refusal, and the batch size returned."""

from __future__ import annotations

import re

import numpy as np
import pytest
from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.core.errors import InvalidInputError, ModelLoadError
from mlinfer.core.model_spec import ModelSpec, TensorSpec, spec_from_config
from mlinfer.core.types import InferRequest, RequestedOutput, Tensor
from mlinfer.core.validation import validate_request


def _spec(max_batch_size: int = 8, second_input: bool = False) -> ModelSpec:
    inputs = [TensorSpec("x", "FP32", (-1, 16))]
    if second_input:
        inputs.append(TensorSpec("y", "INT64", (3,)))
    return ModelSpec(
        name="m",
        platform="onnxruntime_onnx",
        max_batch_size=max_batch_size,
        inputs=tuple(inputs),
        outputs=(TensorSpec("probabilities", "FP32", (10,)), TensorSpec("logits", "FP32", (10,))),
        config=mc.ModelConfig(name="m"),
    )


def _x(*shape: int, datatype: str = "FP32", name: str = "x") -> Tensor:
    dtype = np.int64 if datatype == "INT64" else np.float32
    return Tensor(name, datatype, tuple(shape), np.zeros(shape, dtype))


def _refused(spec: ModelSpec, request: InferRequest, message: str) -> None:
    with pytest.raises(InvalidInputError, match=f"^{re.escape(message)}$"):
        validate_request(spec, request)


def test_batched_request_returns_its_batch_size() -> None:
    spec = _spec()
    assert validate_request(spec, InferRequest("m", [_x(3, 5, 16)])) == 3
    assert validate_request(spec, InferRequest("m", [_x(1, 2, 16)])) == 1


def test_batch_equal_to_the_maximum_is_accepted_one_more_is_not() -> None:
    spec = _spec(max_batch_size=4)
    assert validate_request(spec, InferRequest("m", [_x(4, 1, 16)])) == 4
    _refused(
        spec,
        InferRequest("m", [_x(5, 1, 16)]),
        "inference request batch-size must be <= 4 for 'm'",
    )


def test_batch_zero_is_refused() -> None:
    _refused(
        _spec(),
        InferRequest("m", [_x(0, 1, 16)]),
        "inference request batch-size must be >= 1 for 'm', got 0",
    )


def test_unbatched_model_returns_one_and_takes_the_shape_as_is() -> None:
    spec = _spec(max_batch_size=0)
    assert validate_request(spec, InferRequest("m", [_x(7, 16)])) == 1
    # The first dimension is not a batch dimension here, so the rank must be the model's.
    _refused(
        spec,
        InferRequest("m", [_x(1, 7, 16)]),
        "unexpected shape for input 'x' for model 'm'. Expected [-1,16], got [1,7,16]",
    )


def test_rank_differing_from_the_model_is_refused() -> None:
    spec = _spec()
    _refused(
        spec,
        InferRequest("m", [_x(1, 16, 1)]),
        "unexpected shape for input 'x' for model 'm'. Expected [-1,-1,16], got [1,16,1]",
    )
    _refused(
        spec,
        InferRequest("m", [_x(2, 16)]),
        "unexpected shape for input 'x' for model 'm'. Expected [-1,-1,16], got [2,16]",
    )


def test_variable_dimension_takes_any_size_fixed_one_only_its_own() -> None:
    spec = _spec()
    for rows in (1, 2, 16, 17):
        assert validate_request(spec, InferRequest("m", [_x(2, rows, 16)])) == 2
    for width in (1, 15, 17):
        _refused(
            spec,
            InferRequest("m", [_x(2, 3, width)]),
            f"unexpected shape for input 'x' for model 'm'. Expected [-1,-1,16], got [2,3,{width}]",
        )


def test_missing_batch_dimension_is_refused() -> None:
    _refused(
        _spec(),
        InferRequest("m", [Tensor("x", "FP32", (), np.zeros((), np.float32))]),
        "inference input 'x' for model 'm' must have a batch dimension: the model has "
        "max_batch_size > 0",
    )


def test_inputs_whose_batch_sizes_disagree_are_refused() -> None:
    spec = _spec(second_input=True)
    same = InferRequest("m", [_x(2, 1, 16), _x(2, 3, datatype="INT64", name="y")])
    assert validate_request(spec, same) == 2
    _refused(
        spec,
        InferRequest("m", [_x(2, 1, 16), _x(3, 3, datatype="INT64", name="y")]),
        "input 'y' batch size 3 does not match other inputs' batch size 2 for model 'm'",
    )


def test_wrong_datatype_is_refused() -> None:
    _refused(
        _spec(),
        InferRequest("m", [_x(1, 1, 16, datatype="INT64")]),
        "inference input 'x' data-type is 'INT64', but model 'm' expects 'FP32'",
    )


def test_duplicate_inputs_are_refused() -> None:
    _refused(
        _spec(second_input=True),
        InferRequest("m", [_x(1, 1, 16), _x(1, 1, 16), _x(1, 3, datatype="INT64", name="y")]),
        "input 'x' is given more than once",
    )


def test_unknown_and_missing_inputs_are_named() -> None:
    spec = _spec(second_input=True)
    _refused(
        spec,
        InferRequest("m", [_x(1, 1, 16), _x(1, 3, name="z")]),
        "unexpected inference input 'z' for model 'm'",
    )
    _refused(
        spec,
        InferRequest("m", [_x(1, 1, 16)]),
        "expected 2 inputs but got 1 inputs for model 'm'. Got input(s) ['x'], but missing "
        "required input(s) ['y']. Please provide all required input(s).",
    )


def test_requested_outputs_must_exist() -> None:
    request = InferRequest("m", [_x(1, 1, 16)], outputs=[RequestedOutput("logits")])
    assert validate_request(_spec(), request) == 1
    request.outputs = [RequestedOutput("logits"), RequestedOutput("scores")]
    _refused(_spec(), request, "unexpected inference output 'scores' for model 'm'")


def test_class_count_zero_or_more_is_accepted_negative_is_refused() -> None:
    for count in (0, 1, 10):
        request = InferRequest(
            "m", [_x(1, 1, 16)], outputs=[RequestedOutput("probabilities", class_count=count)]
        )
        assert validate_request(_spec(), request) == 1
    request = InferRequest(
        "m", [_x(1, 1, 16)], outputs=[RequestedOutput("probabilities", class_count=-1)]
    )
    _refused(_spec(), request, "classification count for output 'probabilities' must be >= 0")


def _ids(*shape: int) -> InferRequest:
    return InferRequest("enc", [_x(*shape, datatype="INT64", name="ids")])


def _sequence_spec(limit: str | None, reshape: tuple[int, ...] | None = None) -> ModelSpec:
    config = mc.ModelConfig(name="enc", max_batch_size=4)
    config.input.add(name="ids", data_type=mc.TYPE_INT64, dims=[-1])
    if reshape is not None:
        config.input[0].reshape.shape.extend(reshape)
    config.output.add(name="out", data_type=mc.TYPE_FP32, dims=[2])
    if limit is not None:
        config.parameters["max_sequence_length"].string_value = limit
    return spec_from_config(config)


def test_declared_max_sequence_length_is_enforced_on_variable_dims() -> None:
    spec = _sequence_spec("8")
    assert validate_request(spec, _ids(2, 8)) == 2
    _refused(
        spec,
        _ids(2, 9),
        "input 'ids' for model 'enc' has 9 elements in dimension 1 (shape [2,9]), more than "
        "the model's max_sequence_length 8",
    )
    unlimited = _sequence_spec(None)
    assert validate_request(unlimited, _ids(1, 900)) == 1


@pytest.mark.parametrize("raw", ["", "0", "-3", "sixty", "٦٤"])
def test_malformed_max_sequence_length_is_a_load_error(raw: str) -> None:
    with pytest.raises(ModelLoadError, match="'max_sequence_length' must be a positive integer"):
        _sequence_spec(raw)


def test_a_shape_the_reshape_cannot_take_is_refused() -> None:
    spec = _sequence_spec(None, reshape=(-1, 4))
    assert validate_request(spec, _ids(1, 8)) == 1
    _refused(
        spec,
        _ids(1, 6),
        "input 'ids' for model 'enc' has shape [1,6]: its 6 elements per batch item cannot be "
        "reshaped to [-1,4]",
    )
    fixed = _sequence_spec(None, reshape=(2, 3))
    assert validate_request(fixed, _ids(1, 6)) == 1
    _refused(
        fixed,
        _ids(1, 5),
        "input 'ids' for model 'enc' has shape [1,5]: its 5 elements per batch item cannot be "
        "reshaped to [2,3]",
    )
