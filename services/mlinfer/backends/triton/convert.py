"""mlinfer's core types <-> what ``tritonclient.grpc.aio`` sends and receives."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tritonclient.grpc as grpcclient
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
