"""The wire format of stream frames.

A request is a text frame holding the REST JSON body, or a binary frame laid out as the
binary tensor extension's body with its JSON header's length in front (what REST sends in
``Inference-Header-Content-Length``)::

    uint32 little-endian header length | JSON header | binary tensors

An answer is a text frame when it is all JSON, else a binary frame in the same layout. Every
answer's JSON carries ``seq`` (the frame's 1-based position in the stream) and ``dropped``
(frames the stream's ``latest`` policy skipped so far); error frames carry ``error``,
``status`` (the HTTP status REST would answer) and ``code`` beside them and leave the stream
open.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import orjson

from mlinfer.core.errors import InvalidInputError, MLInferError
from mlinfer.core.types import InferRequest, InferResponse
from mlinfer.transport.codec import decode_infer_request, encode_infer_response

_LENGTH = struct.Struct("<I")

Message = str | bytes  # a text or a binary frame


@dataclass(frozen=True)
class Frame:
    seq: int
    data: Message


def pack_binary(header: bytes, tensors: bytes = b"") -> bytes:
    """A binary frame: the header's length, the JSON header, the tensors (clients use it)."""
    return _LENGTH.pack(len(header)) + header + tensors


def decode_tensor_frame(model: str, version: str, data: Message) -> InferRequest:
    if isinstance(data, str):
        return decode_infer_request(model, version, data.encode(), None)
    if len(data) < _LENGTH.size:
        raise InvalidInputError(
            f"binary frame of {len(data)} bytes is shorter than its 4-byte header length"
        )
    (header_length,) = _LENGTH.unpack_from(data)
    return decode_infer_request(model, version, data[_LENGTH.size :], str(header_length))


def encode_tensor_answer(
    response: InferResponse, request: InferRequest, stream_fields: dict[str, Any]
) -> Message:
    payload, header_length = encode_infer_response(response, request, stream_fields)
    if header_length is None:
        return payload.decode()
    return _LENGTH.pack(header_length) + payload


def json_answer(doc: dict[str, Any]) -> str:
    return orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def error_answer(exc: MLInferError, stream_fields: dict[str, Any], request_id: str) -> str:
    doc: dict[str, Any] = {
        **stream_fields,
        "error": exc.message,
        "status": exc.status.value,
        "code": exc.status.name,
    }
    if request_id:
        doc["id"] = request_id
    if exc.retry_after is not None:
        doc["retry_after"] = exc.retry_after
    return json_answer(doc)
