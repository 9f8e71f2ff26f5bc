"""Inference bodies <-> core types: JSON tensors and the binary tensor data extension.

The REST body and the WebSocket frame carry the same layout (a JSON header, then the
binary tensors), so both transports decode and encode it here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlinfer.core import json_text
from mlinfer.core.errors import InvalidInputError
from mlinfer.core.parameters import classification, non_negative
from mlinfer.core.tensors import (
    tensor_from_bytes,
    tensor_from_list,
    tensor_to_bytes,
    tensor_to_list,
)
from mlinfer.core.types import HEADER_LENGTH, InferRequest, InferResponse, RequestedOutput, Tensor


def parse_json(raw: bytes | memoryview, what: str = "request") -> Any:
    try:
        return json_text.loads(raw)
    except ValueError as exc:
        raise InvalidInputError(f"failed to parse the {what} JSON buffer: {exc}") from None


def decode_infer_request(
    model_name: str, model_version: str, body: bytes, header_length: str | None
) -> InferRequest:
    """Parse an inference request body; ``header_length`` is the binary extension header."""
    view = memoryview(body)
    if header_length is not None:
        try:
            json_size = int(header_length)
        except ValueError:
            raise InvalidInputError(
                f"{HEADER_LENGTH} must be an integer, got '{header_length}'"
            ) from None
        if json_size <= 0 or json_size > len(body):
            raise InvalidInputError(
                f"inference header size should be in range (0, {len(body)}], got: {json_size}"
            )
        header, binary = view[:json_size], view[json_size:]
    else:
        header, binary = view, view[:0]
    doc = parse_json(header)
    if not isinstance(doc, dict):
        raise InvalidInputError("inference request JSON must be an object")
    parameters = _object(doc.get("parameters", {}), "parameters")
    raw_inputs = doc.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise InvalidInputError("inference request must have a non-empty 'inputs' array")
    offset = 0
    inputs: list[Tensor] = []
    for raw in raw_inputs:
        tensor, offset = _decode_input(_object(raw, "input"), binary, offset)
        inputs.append(tensor)
    if offset != len(binary):
        raise InvalidInputError(
            f"unexpected additional input data: {len(binary) - offset} bytes after the last "
            "binary input"
        )
    outputs = _decode_outputs(doc.get("outputs"), parameters)
    return InferRequest(
        model_name=model_name,
        model_version=model_version,
        id=str(doc.get("id", "")),
        inputs=inputs,
        outputs=outputs,
        parameters=parameters,
        priority=non_negative(parameters, "priority"),
        timeout_us=non_negative(parameters, "timeout"),
    )


def _decode_input(raw: dict[str, Any], binary: memoryview, offset: int) -> tuple[Tensor, int]:
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInputError("every input needs a string 'name'")
    datatype = raw.get("datatype")
    if not isinstance(datatype, str):
        raise InvalidInputError(f"input '{name}' needs a string 'datatype'")
    shape = raw.get("shape")
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) for d in shape
    ):
        raise InvalidInputError(f"input '{name}' needs 'shape' as an array of integers")
    params = _object(raw.get("parameters", {}), f"parameters of input '{name}'")
    size = params.get("binary_data_size")
    if size is not None:
        if "data" in raw:
            raise InvalidInputError(f"input '{name}' has both 'data' and 'binary_data_size'")
        if not isinstance(size, int) or size < 0:
            raise InvalidInputError(f"input '{name}': binary_data_size must be an integer >= 0")
        if offset + size > len(binary):
            raise InvalidInputError(
                f"unexpected end of binary data for input '{name}': needs {size} bytes at "
                f"offset {offset}, {len(binary) - offset} available"
            )
        return tensor_from_bytes(name, datatype, shape, binary[offset : offset + size]), (
            offset + size
        )
    if "data" not in raw:
        raise InvalidInputError(f"input '{name}' has neither 'data' nor binary data")
    return tensor_from_list(name, datatype, shape, raw["data"]), offset


def _decode_outputs(raw: Any, parameters: dict[str, Any]) -> list[RequestedOutput] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise InvalidInputError("'outputs' must be an array")
    default_binary = bool(parameters.get("binary_data_output", False))
    outputs = []
    for item in raw:
        item = _object(item, "output")
        name = item.get("name")
        if not isinstance(name, str):
            raise InvalidInputError("every requested output needs a string 'name'")
        params = _object(item.get("parameters", {}), f"parameters of output '{name}'")
        binary = params.get("binary_data", default_binary)
        outputs.append(RequestedOutput(name, bool(binary), classification(params, name)))
    return outputs


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInputError(f"{what} must be a JSON object")
    return value


def encode_infer_response(
    response: InferResponse,
    request: InferRequest,
    extra: Mapping[str, Any] | None = None,
) -> tuple[bytes, int | None]:
    """Body and, when any output travels as binary, the JSON header's length.

    ``extra`` adds top-level fields to the JSON header (a stream's sequence number).
    """
    binary_by_name = {o.name: o.binary for o in request.outputs or ()}
    default_binary = bool(request.parameters.get("binary_data_output", False))
    chunks: list[bytes | memoryview] = []
    outputs = []
    non_finite = False
    for tensor in response.outputs:
        entry: dict[str, Any] = {
            "name": tensor.name,
            "datatype": tensor.datatype,
            "shape": list(tensor.shape),
        }
        wanted = binary_by_name.get(tensor.name)
        if wanted if wanted is not None else default_binary:
            raw = tensor_to_bytes(tensor)
            entry["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            entry["data"] = tensor_to_list(tensor)
            non_finite = non_finite or json_text.has_non_finite(tensor.data)
        outputs.append(entry)
    doc: dict[str, Any] = {
        "model_name": response.model_name,
        "model_version": response.model_version,
        "outputs": outputs,
    }
    if response.id:
        doc["id"] = response.id
    if response.parameters:
        doc["parameters"] = response.parameters
    if extra:
        doc.update(extra)
    header = json_text.dumps(doc, non_finite)
    if not chunks:
        return header, None
    return b"".join([header, *chunks]), len(header)
