"""Transport-neutral request/response objects shared by REST, gRPC and every backend."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from numpy.typing import NDArray

if TYPE_CHECKING:
    from tritonclient.grpc import service_pb2 as pb

Parameters = dict[str, Any]


@dataclass
class Tensor:
    """A named tensor; ``data`` is already shaped (BYTES as a numpy object array of bytes)."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    data: NDArray[Any]
    parameters: Parameters = field(default_factory=dict)


# The REST binary extension's header: the length of the JSON that binary tensors follow.
HEADER_LENGTH = "Inference-Header-Content-Length"


@dataclass(frozen=True)
class HttpBody:
    """An inference body as REST encodes it: the bytes, and the length of the JSON header
    when binary tensors follow it (``Inference-Header-Content-Length``; None: all JSON)."""

    data: bytes
    header_length: int | None = None


@dataclass
class RequestedOutput:
    name: str
    # Transport hint: send this output as binary (REST binary extension). None = default.
    binary: bool | None = None
    # Classification extension: return the top-k classes instead of the raw tensor.
    class_count: int = 0


@dataclass
class InferRequest:
    model_name: str
    inputs: list[Tensor]
    model_version: str = ""  # "" = what the version policy serves (the newest ready)
    id: str = ""
    outputs: list[RequestedOutput] | None = None  # None = every output, raw
    parameters: Parameters = field(default_factory=dict)
    priority: int = 0  # 0 = model default; 1 is the highest priority (Triton semantics)
    timeout_us: int = 0  # 0 = the model's default queue timeout
    # When the client stops waiting (``time.monotonic()``; its gRPC deadline), None = never:
    # a backend that waits on a peer waits no longer than this.
    deadline: float | None = None
    # W3C trace context headers, forwarded to the backend.
    trace_headers: dict[str, str] = field(default_factory=dict)
    # What a traffic policy's sticky key may name: request headers / gRPC metadata
    # (looked up by lower-case name) and the authenticated subject.
    route_headers: Mapping[str, str] = field(default_factory=dict)
    subject: str = ""
    # The body the client sent over REST (identity-encoded), for a backend that can forward
    # it unchanged instead of re-encoding the decoded tensors (Triton's HTTP pass-through).
    http_body: HttpBody | None = None
    # The same for gRPC: the message the client sent, forwarded as it is (its version set to
    # the one a traffic policy chose).
    grpc_message: pb.ModelInferRequest | None = None


@dataclass
class InferResponse:
    model_name: str
    model_version: str
    outputs: list[Tensor]
    id: str = ""
    parameters: Parameters = field(default_factory=dict)
    # Set by a backend that forwarded ``InferRequest.http_body``: the answer's bytes as they
    # came back, which REST sends as they are (``outputs`` is then empty, never decoded).
    http_body: HttpBody | None = None
    # Set by a backend that forwarded ``InferRequest.grpc_message``: the answer's message.
    grpc_message: pb.ModelInferResponse | None = None


@dataclass(frozen=True)
class ModelIndexEntry:
    """One row of the repository index (Triton: name, version, state, reason)."""

    name: str
    version: str = ""
    state: str = ""
    reason: str = ""
