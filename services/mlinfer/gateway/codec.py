"""The REST routes' view of the shared inference body codec (:mod:`mlinfer.transport.codec`).

The codec moved to the transport layer so the WebSocket transport shares it without
importing the gateway; the REST routes keep importing these names from here.
"""

from mlinfer.core.types import HEADER_LENGTH
from mlinfer.transport.codec import decode_infer_request, encode_infer_response, parse_json

__all__ = ["HEADER_LENGTH", "decode_infer_request", "encode_infer_response", "parse_json"]
