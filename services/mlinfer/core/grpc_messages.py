"""Open Inference Protocol gRPC messages (tritonclient's service_pb2) <-> mlinfer's core types.

Shared by the gRPC transport (server side) and the Triton backend (client side).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from numpy.typing import NDArray
from tritonclient.grpc import service_pb2 as pb

from mlinfer.core import datatypes
from mlinfer.core.errors import InvalidInputError
from mlinfer.core.parameters import classification, non_negative
from mlinfer.core.tensors import tensor_from_bytes, tensor_from_list, tensor_to_bytes
from mlinfer.core.types import InferRequest, InferResponse, ModelIndexEntry, RequestedOutput, Tensor

# Which InferTensorContents field carries each datatype (FP16 has none: raw only).
CONTENTS_FIELD = {
    "BOOL": "bool_contents",
    "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents", "UINT16": "uint_contents", "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents", "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}  # fmt: skip


def parameter_value(param: Any) -> Any:
    kind = param.WhichOneof("parameter_choice")
    return getattr(param, kind) if kind else None


def parameters_to_dict(params: Mapping[str, Any]) -> dict[str, Any]:
    return {key: parameter_value(value) for key, value in params.items()}


def set_parameter(target: Any, value: Any) -> None:
    if isinstance(value, bool):
        target.bool_param = value
    elif isinstance(value, int):
        target.int64_param = value
    elif isinstance(value, float):
        target.double_param = value
    else:
        target.string_param = str(value)


def request_from_proto(message: pb.ModelInferRequest) -> InferRequest:
    raw = message.raw_input_contents
    if raw and len(raw) != len(message.inputs):
        raise InvalidInputError(
            f"expected {len(message.inputs)} raw_input_contents (one per input), got {len(raw)}; "
            "give either raw contents for every input or typed contents for all"
        )
    inputs = [
        _input_from_proto(tensor, raw[i] if raw else None)
        for i, tensor in enumerate(message.inputs)
    ]
    outputs = None
    if message.outputs:
        outputs = [
            RequestedOutput(
                out.name, True, classification(parameters_to_dict(out.parameters), out.name)
            )
            for out in message.outputs
        ]
    parameters = parameters_to_dict(message.parameters)
    return InferRequest(
        model_name=message.model_name,
        model_version=message.model_version,
        id=message.id,
        inputs=inputs,
        outputs=outputs,
        parameters=parameters,
        priority=non_negative(parameters, "priority"),
        timeout_us=non_negative(parameters, "timeout"),
    )


def _input_from_proto(tensor: pb.ModelInferRequest.InferInputTensor, raw: bytes | None) -> Tensor:
    name, datatype, shape = tensor.name, tensor.datatype, list(tensor.shape)
    if raw is not None:
        if tensor.HasField("contents"):
            raise InvalidInputError(
                f"input '{name}' has both typed contents and raw_input_contents"
            )
        return tensor_from_bytes(name, datatype, shape, raw)
    field = CONTENTS_FIELD.get(datatype)
    if field is None:
        datatypes.from_name(datatype)  # unknown names are reported as such
        raise InvalidInputError(
            f"input '{name}': {datatype} has no typed contents field; send it in raw_input_contents"
        )
    return tensor_from_list(name, datatype, shape, list(getattr(tensor.contents, field)))


def response_to_proto(response: InferResponse) -> pb.ModelInferResponse:
    message = pb.ModelInferResponse(
        model_name=response.model_name, model_version=response.model_version, id=response.id
    )
    for key, value in response.parameters.items():
        set_parameter(message.parameters[key], value)
    for tensor in response.outputs:
        message.outputs.add(name=tensor.name, datatype=tensor.datatype, shape=tensor.shape)
        message.raw_output_contents.append(bytes(tensor_to_bytes(tensor)))
    return message


def index_to_proto(rows: list[ModelIndexEntry]) -> pb.RepositoryIndexResponse:
    return pb.RepositoryIndexResponse(
        models=[
            pb.RepositoryIndexResponse.ModelIndex(
                name=r.name, version=r.version, state=r.state, reason=r.reason
            )
            for r in rows
        ]
    )


def output_array(message: pb.ModelInferResponse, index: int) -> NDArray[Any]:
    """Decode one raw output (used by the Triton backend and tests)."""
    out = message.outputs[index]
    return tensor_from_bytes(
        out.name, out.datatype, list(out.shape), message.raw_output_contents[index]
    ).data
