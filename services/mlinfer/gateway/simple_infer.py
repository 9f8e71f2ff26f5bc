"""``POST /infer``'s body and answer: nested lists in, named outputs (and classes) out.

The route reads the body itself, after authentication and within the size limit, so
parsing here is what FastAPI would do with the model, with Triton's 400 for every problem.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from mlinfer.core.errors import InvalidInputError
from mlinfer.core.model_spec import ModelSpec
from mlinfer.core.tensors import tensor_from_list, tensor_to_list
from mlinfer.core.types import InferRequest, InferResponse, RequestedOutput, Tensor
from mlinfer.gateway.codec import parse_json
from mlinfer.gateway.errors import validation_problems

ClassificationFormat = Literal["structured", "triton"]


class SimpleInferRequest(BaseModel):
    model_name: str = Field(..., description="Model to run.")
    model_version: str = Field("", description="Version; empty = newest ready version.")
    inputs: dict[str, Any] = Field(
        ..., description="Input name -> nested list (shape inferred, datatype from the model)."
    )
    outputs: list[str] | None = Field(None, description="Outputs to return (default: all).")
    top_k: int = Field(0, ge=0, description="Classification: top-k labels per output.")
    classification_format: ClassificationFormat = Field(
        "structured",
        description="With top_k: 'structured' answers {label, index, score} objects per "
        "batch item; 'triton' answers Triton's 'score:index:label' strings as tritonclient "
        "reads them.",
    )
    priority: int = Field(0, ge=0, description="1 = highest; 0 = the model's default.")
    timeout_us: int = Field(0, ge=0, description="Queue timeout override in microseconds.")


class ClassificationResult(BaseModel):
    label: str = Field(..., description="The class's label (its index where it has none).")
    index: int = Field(..., ge=0, description="Position of the class in the output.")
    score: float = Field(..., description="The output's value for the class.")


class SimpleOutput(BaseModel):
    datatype: str = Field(..., description="Datatype of 'data' (BYTES for classification).")
    shape: list[int] = Field(..., description="Dimensions of the output tensor.")
    data: list[Any] | None = Field(
        None, description="Elements, flat in row-major order (absent for structured classes)."
    )
    classifications: list[list[ClassificationResult]] | list[ClassificationResult] | None = Field(
        None,
        description="With top_k (structured): classes best first, one list per batch "
        "item (a single list for models without a batch dimension).",
    )


class SimpleInferResponse(BaseModel):
    model_name: str
    model_version: str = Field(..., description="The version that served the request.")
    outputs: dict[str, SimpleOutput]
    latency_ms: float


def parse_simple_request(body: bytes) -> SimpleInferRequest:
    """The request in ``body``; 400 naming every problem (never FastAPI's 422)."""
    try:
        return SimpleInferRequest.model_validate(parse_json(body))
    except ValidationError as exc:
        raise InvalidInputError(f"invalid request: {validation_problems(exc.errors())}") from None


def build_infer_request(body: SimpleInferRequest, spec: ModelSpec) -> InferRequest:
    tensors = []
    for name, value in body.inputs.items():
        tspec = spec.input(name)
        if tspec is None:
            raise InvalidInputError(f"unexpected inference input '{name}' for model '{spec.name}'")
        tensors.append(tensor_from_list(name, tspec.datatype, nested_shape(name, value), value))
    outputs = None
    if body.outputs is not None or body.top_k:
        names = body.outputs or [o.name for o in spec.outputs]
        outputs = [RequestedOutput(n, False, body.top_k) for n in names]
    return InferRequest(
        model_name=body.model_name,
        model_version=body.model_version,
        inputs=tensors,
        outputs=outputs,
        priority=body.priority,
        timeout_us=body.timeout_us,
    )


def nested_shape(name: str, value: Any) -> tuple[int, ...]:
    """The shape of nested lists, level by level (no recursion); ragged lists are a 400.

    numpy would raise a ValueError on ``[[0.1, 0.1], [0.2]]`` (or, for BYTES, build a
    1-d array of lists): neither says what the client got wrong.
    """
    shape: list[int] = []
    level = [value]
    while level and isinstance(level[0], list):
        if not all(isinstance(item, list) for item in level):
            raise InvalidInputError(
                f"input '{name}' mixes lists and single values at depth {len(shape) + 1}: "
                "nest every element equally deep"
            )
        lengths = sorted({len(item) for item in level})
        if len(lengths) > 1:
            shown = " and ".join(map(str, lengths[:4]))
            raise InvalidInputError(
                f"input '{name}' is ragged: its lists at depth {len(shape) + 1} have lengths "
                f"{shown}; nested lists must form a rectangular array"
            )
        shape.append(lengths[0])
        level = [element for item in level for element in item]
    if any(isinstance(item, list) for item in level):
        raise InvalidInputError(
            f"input '{name}' mixes lists and single values at depth {len(shape) + 1}: "
            "nest every element equally deep"
        )
    return tuple(shape)


def encode_outputs(body: SimpleInferRequest, response: InferResponse) -> dict[str, Any]:
    structured = bool(body.top_k) and body.classification_format == "structured"
    return {t.name: _output(t, structured) for t in response.outputs}


def _output(tensor: Tensor, structured: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"datatype": tensor.datatype, "shape": list(tensor.shape)}
    if not structured or tensor.datatype != "BYTES":
        out["data"] = tensor_to_list(tensor)
        return out
    dims = list(tensor.shape) or [1]
    rows = tensor.data.reshape(math.prod(dims[:-1]), dims[-1])
    classes = [[_classification(entry) for entry in row] for row in rows]
    out["classifications"] = classes if len(tensor.shape) > 1 else classes[0]
    return out


def _classification(entry: Any) -> dict[str, Any]:
    """Triton's classification string ``"score:index[:label]"`` as an object."""
    text = entry.decode("utf-8", "replace") if isinstance(entry, bytes) else str(entry)
    score, index, *label = text.split(":", 2)
    return {"label": label[0] if label else index, "index": int(index), "score": float(score)}
