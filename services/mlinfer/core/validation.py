"""Request checks against a model's signature, worded as Triton words them."""

from __future__ import annotations

import math
from collections.abc import Sequence

from mlinfer.core.errors import InvalidInputError
from mlinfer.core.model_spec import ModelSpec, TensorSpec
from mlinfer.core.types import InferRequest


def validate_request(spec: ModelSpec, request: InferRequest) -> int:
    """Check inputs and requested outputs; return the request's batch size (1 if unbatched)."""
    model = spec.name
    _check_input_names(spec, request)
    batch_size = 0
    for tensor in request.inputs:
        expected = spec.input(tensor.name)
        assert expected is not None  # names were checked above
        if tensor.datatype != expected.datatype:
            raise InvalidInputError(
                f"inference input '{tensor.name}' data-type is '{tensor.datatype}', but model "
                f"'{model}' expects '{expected.datatype}'"
            )
        dims = tensor.shape
        if spec.batched:
            if not dims:
                raise InvalidInputError(
                    f"inference input '{tensor.name}' for model '{model}' must have a batch "
                    "dimension: the model has max_batch_size > 0"
                )
            this_batch, dims = dims[0], dims[1:]
            if this_batch > spec.max_batch_size:
                raise InvalidInputError(
                    f"inference request batch-size must be <= {spec.max_batch_size} for '{model}'"
                )
            if this_batch < 1:
                raise InvalidInputError(
                    f"inference request batch-size must be >= 1 for '{model}', got {this_batch}"
                )
            if batch_size and this_batch != batch_size:
                raise InvalidInputError(
                    f"input '{tensor.name}' batch size {this_batch} does not match other "
                    f"inputs' batch size {batch_size} for model '{model}'"
                )
            batch_size = this_batch
        if not _dims_match(expected.dims, dims):
            raise InvalidInputError(
                f"unexpected shape for input '{tensor.name}' for model '{model}'. Expected "
                f"{_fmt(spec.full_shape(expected))}, got {_fmt(tensor.shape)}"
            )
        _check_declared_limits(spec, expected, tensor.shape, dims)
    _check_outputs(spec, request)
    return batch_size or 1


def _check_declared_limits(
    spec: ModelSpec, expected: TensorSpec, shape: Sequence[int], dims: Sequence[int]
) -> None:
    """What the config declares beyond dims: a shape the model cannot take is the client's
    error, said before the engine fails on it (ONNX Runtime's broadcast error is a 500)."""
    name, model = expected.name, spec.name
    limit = spec.max_sequence_length
    offset = len(shape) - len(dims)  # 1 when the batch dimension was split off
    if limit:
        for i, (want, got) in enumerate(zip(expected.dims, dims, strict=True)):
            if want == -1 and got > limit:
                raise InvalidInputError(
                    f"input '{name}' for model '{model}' has {got} elements in dimension "
                    f"{i + offset} (shape {_fmt(shape)}), more than the model's "
                    f"max_sequence_length {limit}"
                )
    if expected.reshape is not None and 0 not in expected.reshape:
        fixed = math.prod(d for d in expected.reshape if d != -1)
        count = math.prod(dims)
        fits = count % fixed == 0 if -1 in expected.reshape else count == fixed
        if not fits:
            raise InvalidInputError(
                f"input '{name}' for model '{model}' has shape {_fmt(shape)}: its "
                f"{count} elements per batch item cannot be reshaped to {_fmt(expected.reshape)}"
            )


def _check_input_names(spec: ModelSpec, request: InferRequest) -> None:
    model = spec.name
    seen: set[str] = set()
    for tensor in request.inputs:
        if tensor.name in seen:
            raise InvalidInputError(f"input '{tensor.name}' is given more than once")
        seen.add(tensor.name)
        if spec.input(tensor.name) is None:
            raise InvalidInputError(
                f"unexpected inference input '{tensor.name}' for model '{model}'"
            )
    missing = [t.name for t in spec.inputs if t.name not in seen]
    if missing:
        got = [t.name for t in request.inputs]
        raise InvalidInputError(
            f"expected {len(spec.inputs)} inputs but got {len(got)} inputs for model "
            f"'{model}'. Got input(s) {got}, but missing required input(s) {missing}. "
            "Please provide all required input(s)."
        )


def _check_outputs(spec: ModelSpec, request: InferRequest) -> None:
    for output in request.outputs or ():
        out_spec: TensorSpec | None = spec.output(output.name)
        if out_spec is None:
            raise InvalidInputError(
                f"unexpected inference output '{output.name}' for model '{spec.name}'"
            )
        if output.class_count < 0:
            raise InvalidInputError(f"classification count for output '{output.name}' must be >= 0")


def _dims_match(expected: Sequence[int], got: Sequence[int]) -> bool:
    if len(expected) != len(got):
        return False
    return all(e == -1 or e == g for e, g in zip(expected, got, strict=True))


def _fmt(shape: Sequence[int]) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"
