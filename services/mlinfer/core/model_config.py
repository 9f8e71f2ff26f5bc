"""config.pbtxt: parsing into Triton's ``ModelConfig`` and checking what the engine honours.

A field the embedded engine does not implement is a load error naming the field: silently
ignoring e.g. ``sequence_batching`` would serve wrong answers.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from google.protobuf import json_format, text_format
from google.protobuf.message import Message
from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.core.errors import ModelLoadError, UnsupportedError

CONFIG_FILENAME = "config.pbtxt"

# Field paths (dotted, repeated fields without index) the embedded engine honours.
SUPPORTED_FIELDS = frozenset(
    {
        "name",
        "platform",
        "backend",
        "max_batch_size",
        "default_model_filename",
        "input",
        "input.name",
        "input.data_type",
        "input.dims",
        "input.format",
        "input.reshape",
        "input.reshape.shape",
        "output",
        "output.name",
        "output.data_type",
        "output.dims",
        "output.reshape",
        "output.reshape.shape",
        "output.label_filename",
        "version_policy",
        "version_policy.latest",
        "version_policy.latest.num_versions",
        "version_policy.all",
        "version_policy.specific",
        "version_policy.specific.versions",
        "instance_group",
        "instance_group.name",
        "instance_group.count",
        "instance_group.kind",
        "instance_group.gpus",
        "dynamic_batching",
        "dynamic_batching.preferred_batch_size",
        "dynamic_batching.max_queue_delay_microseconds",
        "dynamic_batching.preserve_ordering",
        "dynamic_batching.priority_levels",
        "dynamic_batching.default_priority_level",
        "dynamic_batching.default_queue_policy",
        "dynamic_batching.priority_queue_policy",
        "dynamic_batching.priority_queue_policy.key",
        "dynamic_batching.priority_queue_policy.value",
        "model_warmup",
        "model_warmup.name",
        "model_warmup.batch_size",
        "model_warmup.count",
        "model_warmup.inputs",
        "model_warmup.inputs.key",
        "model_warmup.inputs.value",
        "model_warmup.inputs.value.data_type",
        "model_warmup.inputs.value.dims",
        "model_warmup.inputs.value.zero_data",
        "model_warmup.inputs.value.random_data",
        "parameters",
        "parameters.key",
        "parameters.value",
        "parameters.value.string_value",
        "optimization",
        "optimization.execution_accelerators",
        "optimization.execution_accelerators.gpu_execution_accelerator",
        "optimization.execution_accelerators.gpu_execution_accelerator.name",
        "optimization.execution_accelerators.gpu_execution_accelerator.parameters",
        "optimization.execution_accelerators.gpu_execution_accelerator.parameters.key",
        "optimization.execution_accelerators.gpu_execution_accelerator.parameters.value",
        "response_cache",
        "response_cache.enable",
    }
)
_QUEUE_POLICY_FIELDS = (
    "timeout_action",
    "default_timeout_microseconds",
    "allow_timeout_override",
    "max_queue_size",
)
SUPPORTED_FIELDS = SUPPORTED_FIELDS | {
    f"{prefix}.{f}"
    for prefix in (
        "dynamic_batching.default_queue_policy",
        "dynamic_batching.priority_queue_policy.value",
    )
    for f in _QUEUE_POLICY_FIELDS
}
SUPPORTED_PLATFORMS = ("", "onnxruntime_onnx", "pytorch_libtorch")
SUPPORTED_BACKENDS = ("", "onnxruntime", "pytorch")
# Triton's file names when default_model_filename is not set.
_MODEL_FILENAMES = {"pytorch_libtorch": "model.pt", "pytorch": "model.pt"}


def parse_config(text: str, source: str = CONFIG_FILENAME) -> mc.ModelConfig:
    config = mc.ModelConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as exc:
        raise ModelLoadError(f"failed to parse {source}: {exc}") from None
    return config


def read_config(model_dir: Path) -> mc.ModelConfig:
    """Read ``<model_dir>/config.pbtxt``; a missing file gives an empty config to autocomplete."""
    path = model_dir / CONFIG_FILENAME
    config = parse_config(path.read_text(), str(path)) if path.is_file() else mc.ModelConfig()
    if not config.name:
        config.name = model_dir.name
    elif config.name != model_dir.name:
        raise ModelLoadError(
            f"model name '{config.name}' in {path} does not match its directory '{model_dir.name}'"
        )
    return config


def unsupported_fields(message: Message, prefix: str = "") -> list[str]:
    """Dotted paths of every set field the embedded engine does not implement."""
    found: list[str] = []
    for descriptor, value in message.ListFields():
        path = f"{prefix}{descriptor.name}"
        if path not in SUPPORTED_FIELDS:
            found.append(path)
            continue
        if descriptor.message_type is None:
            continue
        children: list[Any]
        if _is_repeated(descriptor):
            is_map = descriptor.message_type.GetOptions().map_entry
            children = [v for v in value.values()] if is_map else list(value)
            if is_map:
                found.extend(_map_value_fields(value, path))
                continue
        else:
            children = [value]
        for child in children:
            found.extend(unsupported_fields(child, f"{path}."))
    return found


def _map_value_fields(mapping: Any, path: str) -> list[str]:
    found: list[str] = []
    for item in mapping.values():
        if isinstance(item, Message):
            found.extend(unsupported_fields(item, f"{path}.value."))
    return found


def check_supported(config: mc.ModelConfig) -> None:
    """Raise naming the first unsupported field, platform or backend."""
    if config.platform not in SUPPORTED_PLATFORMS:
        raise UnsupportedError(
            f"model '{config.name}': platform '{config.platform}' is not supported by the "
            f"embedded engine (supported: {', '.join(p for p in SUPPORTED_PLATFORMS if p)})"
        )
    if config.backend not in SUPPORTED_BACKENDS:
        raise UnsupportedError(
            f"model '{config.name}': backend '{config.backend}' is not supported by the "
            f"embedded engine (supported: {', '.join(b for b in SUPPORTED_BACKENDS if b)})"
        )
    bad = unsupported_fields(config)
    if bad:
        raise UnsupportedError(
            f"model '{config.name}': config field '{bad[0]}' is not supported by the embedded "
            f"engine" + (f" (also: {', '.join(bad[1:])})" if len(bad) > 1 else "")
        )


def parse_override(name: str, text: str) -> mc.ModelConfig:
    """A load's ``config`` parameter (a JSON ModelConfig) for model ``name``, with the checks
    that hold before any engine completes it: it parses, names no other model, and batches
    no fewer than 0. (Triton refuses these too, but as INTERNAL "failed to poll".)"""
    config = mc.ModelConfig()
    try:
        json_format.Parse(text, config)
    except json_format.ParseError as exc:
        raise ModelLoadError(f"invalid 'config' override for '{name}': {exc}") from None
    if config.name and config.name != name:
        raise ModelLoadError(
            f"model name '{config.name}' in the 'config' override does not match model '{name}'"
        )
    config.name = name
    if config.max_batch_size < 0:
        raise ModelLoadError(f"'max_batch_size' must be non-negative value for {name}")
    return config


def validate_config(config: mc.ModelConfig) -> None:
    """Refuse what Triton's config validation refuses (an invalid_argument load error).

    These hold for every engine, for config.pbtxt and for a load's ``config`` override alike;
    a refused config never replaces the one serving. Messages follow Triton's wording (what
    Triton 2.51 refuses was checked against it; it takes any instance count, a count below 1
    being one instance). Two inputs or outputs of one name are refused as well: Triton loads
    them, but which tensor such a name means is undefined.
    """
    name = config.name
    if config.max_batch_size < 0:
        raise ModelLoadError(f"'max_batch_size' must be non-negative value for {name}")
    for kind, tensors in (("input", config.input), ("output", config.output)):
        seen: set[str] = set()
        for t in tensors:
            if not t.name:
                raise ModelLoadError(f"model {kind} must specify 'name' for {name}")
            if t.name in seen:
                raise ModelLoadError(
                    f"model {kind} '{t.name}' is specified more than once in {name}"
                )
            seen.add(t.name)
            if t.data_type == mc.TYPE_INVALID:
                raise ModelLoadError(f"model {kind} '{t.name}' must specify 'data_type' for {name}")
            shapes = [list(t.dims)] + ([list(t.reshape.shape)] if t.HasField("reshape") else [])
            if any(d < 1 and d != -1 for shape in shapes for d in shape):
                raise ModelLoadError(
                    f"model {kind} '{t.name}' dimension must be integer >= 1, or -1 to indicate "
                    f"a variable-size dimension for {name}"
                )
    for warmup in config.model_warmup:
        if config.max_batch_size > 0 and warmup.batch_size > config.max_batch_size:
            raise ModelLoadError(
                f"failed to run warmup sample '{warmup.name}': batch size {warmup.batch_size} "
                f"for '{name}', max allowed is {config.max_batch_size}"
            )
    if config.HasField("dynamic_batching"):
        _validate_dynamic_batching(config)


def _validate_dynamic_batching(config: mc.ModelConfig) -> None:
    name, batching = config.name, config.dynamic_batching
    for size in batching.preferred_batch_size:
        if size <= 0:
            raise ModelLoadError(f"dynamic batching preferred size must be positive for {name}")
        if size > config.max_batch_size:
            raise ModelLoadError(
                f"dynamic batching preferred size must be <= max batch size for {name}"
            )
    levels = batching.priority_levels
    if levels:
        if not 1 <= batching.default_priority_level <= levels:
            raise ModelLoadError(
                f"default priority level must be in range [1, {levels}] for {name}"
            )
        for level in batching.priority_queue_policy:
            if not 1 <= level <= levels:
                raise ModelLoadError(
                    f"priority queue policy must have priority level in range [1, {levels}] "
                    f"for {name}"
                )


_WITH_DEFAULTS: dict[str, Any] = (
    {"always_print_fields_with_no_presence": True}
    if "always_print_fields_with_no_presence"
    in inspect.signature(json_format.MessageToDict).parameters
    else {"including_default_value_fields": True}
)


def config_to_json(config: mc.ModelConfig) -> dict[str, Any]:
    """Config as Triton's REST API returns it: proto field names, integers as numbers."""
    # Triton prints every field, defaults included (clients read e.g. max_batch_size: 0).
    data = json_format.MessageToDict(config, preserving_proto_field_name=True, **_WITH_DEFAULTS)
    return _ints_from_strings(config, data)


def _ints_from_strings(message: Message, data: dict[str, Any]) -> dict[str, Any]:
    # MessageToDict writes int64 fields as JSON strings; Triton (and perf_analyzer) use numbers.
    int64_types = {
        message.DESCRIPTOR.fields[0].TYPE_INT64,
        message.DESCRIPTOR.fields[0].TYPE_UINT64,
    }
    for descriptor in message.DESCRIPTOR.fields:
        key = descriptor.name
        value = getattr(message, key)
        if key not in data:
            continue
        if descriptor.type in int64_types:
            data[key] = (
                [int(v) for v in data[key]] if isinstance(data[key], list) else int(data[key])
            )
        elif descriptor.message_type is not None:
            if descriptor.message_type.GetOptions().map_entry:
                value_field = descriptor.message_type.fields_by_name["value"]
                if value_field.message_type is not None:
                    for k, v in value.items():
                        _ints_from_strings(v, data[key][str(k)])
            elif _is_repeated(descriptor):
                for child, child_data in zip(value, data[key], strict=False):
                    _ints_from_strings(child, child_data)
            else:
                _ints_from_strings(value, data[key])
    return data


def _is_repeated(descriptor: Any) -> bool:
    # protobuf >= 6.31 has is_repeated; protobuf 7 removed FieldDescriptor.label.
    if hasattr(descriptor, "is_repeated"):
        return bool(descriptor.is_repeated)
    return bool(descriptor.label == descriptor.LABEL_REPEATED)


def model_filename(config: mc.ModelConfig) -> str:
    """The model file in each version directory: ``default_model_filename`` or the platform's."""
    if config.default_model_filename:
        return str(config.default_model_filename)
    return _MODEL_FILENAMES.get(config.platform) or _MODEL_FILENAMES.get(
        config.backend, "model.onnx"
    )


def parameter(config: mc.ModelConfig, key: str, default: str = "") -> str:
    if key in config.parameters:
        return str(config.parameters[key].string_value)
    return default


_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def boolean_parameter(config: mc.ModelConfig, key: str, default: bool) -> bool:
    """A yes/no parameter (true/false, 1/0, yes/no, on/off; empty = ``default``); anything
    else fails the load with an error naming the parameter and the value."""
    raw = parameter(config, key)
    value = raw.strip().lower()
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ModelLoadError(
        f"model '{config.name}': parameter '{key}' must be 'true' or 'false', got '{raw}'"
    )
