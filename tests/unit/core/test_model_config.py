from __future__ import annotations

import pytest

from mlinfer.core.errors import ModelLoadError, UnsupportedError
from mlinfer.core.model_config import check_supported, config_to_json, parse_config

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
