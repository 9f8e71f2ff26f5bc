"""mlinfer's core types <-> what ``tritonclient.grpc.aio`` sends and receives."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tritonclient.grpc as grpcclient
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from tritonclient.grpc import service_pb2 as pb

from mlinfer.core.grpc_messages import output_array, parameters_to_dict
from mlinfer.core.types import InferRequest, InferResponse, Tensor

# Request parameters that travel as dedicated arguments (or are transport-only) rather than
# as free-form parameters; tritonclient refuses some of them in ``parameters``.
_RESERVED_PARAMETERS = frozenset(
    {
        "priority",
        "timeout",
        "sequence_id",
        "sequence_start",
        "sequence_end",
        "binary_data_output",
        "binary_data",
        "binary_data_size",
        "classification",
    }
)


_LABEL_REPEATED = FieldDescriptor.LABEL_REPEATED
_TYPE_MESSAGE = FieldDescriptor.TYPE_MESSAGE
_TYPE_ENUM = FieldDescriptor.TYPE_ENUM
_TYPE_BYTES = FieldDescriptor.TYPE_BYTES


def infer_inputs(request: InferRequest) -> list[grpcclient.InferInput]:
    """Each input as raw bytes (``raw_input_contents``), never typed contents."""
    inputs = []
    for tensor in request.inputs:
        infer_input = grpcclient.InferInput(tensor.name, list(tensor.shape), tensor.datatype)
        infer_input.set_data_from_numpy(tensor.data)
        inputs.append(infer_input)
    return inputs


def requested_outputs(request: InferRequest) -> list[grpcclient.InferRequestedOutput] | None:
    """None asks Triton for every output; ``class_count`` selects its classification."""
    if request.outputs is None:
        return None
    return [
        grpcclient.InferRequestedOutput(out.name, class_count=out.class_count)
        for out in request.outputs
    ]


def infer_arguments(request: InferRequest) -> dict[str, Any]:
    """Keyword arguments of ``InferenceServerClient.infer`` other than model, inputs, outputs."""
    params = request.parameters
    kwargs: dict[str, Any] = {
        "model_version": request.model_version,
        "request_id": request.id,
        "priority": request.priority,
        "timeout": request.timeout_us or None,
        "headers": dict(request.trace_headers) or None,
        "parameters": forwarded_parameters(params) or None,
    }
    sequence_id = params.get("sequence_id")
    if isinstance(sequence_id, (int, str)) and not isinstance(sequence_id, bool) and sequence_id:
        kwargs["sequence_id"] = sequence_id
        kwargs["sequence_start"] = bool(params.get("sequence_start", False))
        kwargs["sequence_end"] = bool(params.get("sequence_end", False))
    return kwargs


def forwarded_parameters(params: Mapping[str, Any]) -> dict[str, Any]:
    """Custom request parameters Triton hands to the model (scalars only, as its protocol)."""
    return {
        key: value
        for key, value in params.items()
        if key not in _RESERVED_PARAMETERS and isinstance(value, (str, bool, int, float))
    }


def response_from_proto(message: pb.ModelInferResponse) -> InferResponse:
    outputs = [
        Tensor(out.name, out.datatype, tuple(int(d) for d in out.shape), output_array(message, i))
        for i, out in enumerate(message.outputs)
    ]
    return InferResponse(
        model_name=message.model_name,
        model_version=message.model_version,
        outputs=outputs,
        id=message.id,
        parameters=parameters_to_dict(message.parameters),
    )


def message_to_dict(message: Message) -> dict[str, Any]:
    """A protobuf message as a dict with every field present and 64-bit integers as ints.

    The shape Triton's REST API writes (and the embedded engine's statistics have), unlike
    ``json_format.MessageToDict`` which drops zero fields and writes int64 as strings.
    """
    out: dict[str, Any] = {}
    descriptor: Any = message.DESCRIPTOR  # typed loosely: the stubs trail the runtime API
    for field in descriptor.fields:
        value = getattr(message, field.name)
        if _is_map(field):
            value_field = field.message_type.fields_by_name["value"]
            out[field.name] = {
                key: _value(value_field, item) for key, item in sorted(value.items())
            }
        elif field.label == _LABEL_REPEATED:
            out[field.name] = [_value(field, item) for item in value]
        else:
            out[field.name] = _value(field, value)
    return out


def _is_map(field: Any) -> bool:
    return bool(
        field.label == _LABEL_REPEATED
        and field.type == _TYPE_MESSAGE
        and field.message_type.GetOptions().map_entry
    )


def _value(field: Any, value: Any) -> Any:
    if field.type == _TYPE_MESSAGE:
        return message_to_dict(value)
    if field.type == _TYPE_ENUM:
        return field.enum_type.values_by_number[int(value)].name
    if field.type == _TYPE_BYTES:
        return bytes(value)
    return value
