from __future__ import annotations

import re

import pytest

from mlinfer.core.errors import ModelLoadError, UnsupportedError
from mlinfer.core.model_config import (
    check_supported,
    config_to_json,
    parse_config,
    validate_config,
)

BASE = 'name: "m" max_batch_size: 4 input [ { name: "x" data_type: TYPE_FP32 dims: [ -1, 8 ] } ]'


def test_supported_config_passes() -> None:
    config = parse_config(
        BASE
        + """
        dynamic_batching { preferred_batch_size: [2] priority_levels: 2
          priority_queue_policy { key: 1 value { max_queue_size: 3 timeout_action: DELAY } } }
        instance_group [ { count: 2 kind: KIND_CPU } ]
        parameters { key: "intra_op_thread_count" value { string_value: "1" } }"""
    )
    check_supported(config)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ("sequence_batching { }", "sequence_batching"),
        ("ensemble_scheduling { }", "ensemble_scheduling"),
        (
            "dynamic_batching { default_queue_policy { max_queue_size: 1 } } "
            "batch_input [ { kind: BATCH_ELEMENT_COUNT } ]",
            "batch_input",
        ),
        (
            'model_warmup [ { name: "w" inputs { key: "x" value { input_data_file: "f" } } } ]',
            "model_warmup.inputs.value.input_data_file",
        ),
    ],
)
def test_unsupported_field_is_named(extra: str, field: str) -> None:
    with pytest.raises(UnsupportedError, match=f"config field '{field}' is not supported"):
        check_supported(parse_config(BASE + " " + extra))


def test_platform_and_backend_checked() -> None:
    with pytest.raises(UnsupportedError, match="platform 'tensorrt_plan'"):
        check_supported(parse_config(BASE + ' platform: "tensorrt_plan"'))
    with pytest.raises(UnsupportedError, match="backend 'python'"):
        check_supported(parse_config(BASE + ' backend: "python"'))


def test_parse_error_names_the_file() -> None:
    with pytest.raises(ModelLoadError, match=r"failed to parse x/config\.pbtxt"):
        parse_config("max_batch_size: nope", "x/config.pbtxt")


def test_json_has_triton_shape() -> None:
    data = config_to_json(
        parse_config(
            BASE
            + """
        dynamic_batching { max_queue_delay_microseconds: 100
          priority_queue_policy { key: 1 value { default_timeout_microseconds: 7 } } }"""
        )
    )
    assert data["input"][0]["dims"] == [-1, 8]
    assert data["max_batch_size"] == 4
    assert data["dynamic_batching"]["max_queue_delay_microseconds"] == 100
    assert (
        data["dynamic_batching"]["priority_queue_policy"]["1"]["default_timeout_microseconds"] == 7
    )
    assert data["output"] == []  # defaults are printed, like Triton


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("max_batch_size: -1", "'max_batch_size' must be non-negative value for m"),
        (
            "dynamic_batching { preferred_batch_size: [0] }",
            "dynamic batching preferred size must be positive for m",
        ),
        (
            "dynamic_batching { priority_levels: 3 default_priority_level: 4 }",
            "default priority level must be in range [1, 3] for m",
        ),
        (
            "dynamic_batching { priority_levels: 2 default_priority_level: 1 "
            "priority_queue_policy { key: 3 value { max_queue_size: 1 } } }",
            "priority queue policy must have priority level in range [1, 2] for m",
        ),
        (
            'output [ { name: "y" data_type: TYPE_FP32 dims: [ 2, -2 ] } ]',
            "model output 'y' dimension must be integer >= 1, or -1 to indicate a "
            "variable-size dimension for m",
        ),
        (
            'input [ { name: "z" data_type: TYPE_FP32 dims: [ 8 ] reshape { shape: [ 0 ] } } ]',
            "model input 'z' dimension must be integer >= 1",
        ),
        (
            'output [ { name: "y" data_type: TYPE_FP32 dims: [ 2 ] }, '
            '{ name: "y" data_type: TYPE_FP32 dims: [ 2 ] } ]',
            "model output 'y' is specified more than once in m",
        ),
    ],
)
def test_config_validation_refuses_what_triton_refuses(extra: str, message: str) -> None:
    if extra.startswith("max_batch_size"):
        config = parse_config(BASE.replace("max_batch_size: 4", extra))
    else:
        config = parse_config(BASE + " " + extra)
    with pytest.raises(ModelLoadError, match=re.escape(message)):
        validate_config(config)


def test_config_validation_passes_what_triton_takes() -> None:
    config = parse_config(
        BASE
        + """
        dynamic_batching { preferred_batch_size: [2, 4] priority_levels: 2
          default_priority_level: 2 priority_queue_policy { key: 1 value { max_queue_size: 3 } } }
        instance_group [ { count: -1 kind: KIND_CPU } ]"""
    )
    validate_config(config)
