"""Inferences forwarded to Triton as the client encoded them, instead of re-encoded.

In front of Triton most of a small inference's cost was re-encoding: the decoded tensors
(kept: the DataPlane validates them, as for every backend) written again as tritonclient's
InferInput objects, Triton's answer wrapped in an InferResult, decoded to arrays and encoded
once more for the client. When no gateway feature needs the answer's tensors, the client's
own message goes to Triton instead and Triton's answer goes back as it came: a gRPC
``ModelInferRequest`` over the shared channel here, a REST body over HTTP in
:mod:`mlinfer.backends.triton.http_forward`.
"""

from __future__ import annotations

import grpc
import tritonclient.grpc.aio as aiogrpcclient
from tritonclient.grpc import service_pb2 as pb
from tritonclient.utils import InferenceServerException

from mlinfer.core.grpc_messages import parameters_to_dict
from mlinfer.core.model_spec import ModelSpec
from mlinfer.core.types import InferRequest, InferResponse


def forwardable(spec: ModelSpec, request: InferRequest) -> bool:
    """Whether a request can go to Triton as the client encoded it.

    Not when a gateway feature reads the answer's tensors (the response cache stores them;
    a classifier's predictions are counted per version for A/B reports), nor when the
    priority came from outside the request (REST's ``X-Priority`` header): the client's own
    encoding would not carry it to Triton. The model's part is decided from its config,
    read once per version and cached.
    """
    if spec.response_cache or any(o.labels for o in spec.outputs):
        return False
    if request.outputs is not None and any(o.class_count for o in request.outputs):
        return False
    return not request.priority or "priority" in request.parameters


async def forward_message(
    client: aiogrpcclient.InferenceServerClient,
    request: InferRequest,
    message: pb.ModelInferRequest,
    timeout_s: float,
) -> InferResponse:
    """``message`` to Triton's ModelInfer on the client's channel; errors as tritonclient's
    own calls raise them, so the backend maps them in one place."""
    if message.model_version != request.model_version:  # a traffic policy chose a version
        message.model_version = request.model_version
    metadata = tuple(request.trace_headers.items()) or None
    try:
        # tritonclient's stub on its channel: the one connection every call to Triton shares.
        answer: pb.ModelInferResponse = await client._client_stub.ModelInfer(
            request=message, metadata=metadata, timeout=timeout_s
        )
    except grpc.aio.AioRpcError as exc:
        raise InferenceServerException(
            msg=exc.details() or "", status=str(exc.code()), debug_details=exc.debug_error_string()
        ) from None
    return InferResponse(
        model_name=answer.model_name,
        model_version=answer.model_version,
        outputs=[],
        id=answer.id,
        parameters=parameters_to_dict(answer.parameters),
        grpc_message=answer,
    )
