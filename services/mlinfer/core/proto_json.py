"""Protobuf messages as the JSON Triton's REST API writes: the one place they are rendered.

Statistics, metadata and configs travel as tritonclient's messages; REST renders them here.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

_LABEL_REPEATED = FieldDescriptor.LABEL_REPEATED
_TYPE_MESSAGE = FieldDescriptor.TYPE_MESSAGE
_TYPE_ENUM = FieldDescriptor.TYPE_ENUM
_TYPE_BYTES = FieldDescriptor.TYPE_BYTES


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
