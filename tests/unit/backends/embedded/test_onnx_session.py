"""ONNX Runtime session options the embedded engine derives from a model's config."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.backends.embedded import onnx_session
from mlinfer.core.errors import ModelLoadError
from mlinfer.samples.models import simple_add_sub
from mlinfer.samples.writer import write_model

SPIN_KEY = "session.intra_op.allow_spinning"


def _config(text: str) -> mc.ModelConfig:
    head = 'name: "simple" platform: "onnxruntime_onnx" '
    return text_format.Parse(head + text, mc.ModelConfig())


def _instances(count: int, threads: int) -> str:
    return (
        f"instance_group [ {{ count: {count} kind: KIND_CPU }} ] "
        f'parameters {{ key: "intra_op_thread_count" value {{ string_value: "{threads}" }} }}'
    )


@pytest.mark.parametrize(
    ("count", "threads", "spinning"),
    [
        (1, 1, True),
        (1, 2, True),
        (2, 1, True),
        (2, 2, False),
        (3, 1, False),
        (1, 0, True),  # 0 = ORT's default, a thread per core
        (2, 0, False),
    ],
)
def test_threads_spin_only_while_the_instances_fit_in_the_cores(
    monkeypatch: pytest.MonkeyPatch, count: int, threads: int, spinning: bool
) -> None:
    monkeypatch.setattr(onnx_session.os, "cpu_count", lambda: 2)
    config = _config(_instances(count, threads))
    assert onnx_session.spinning_by_default(config, threads) is spinning


def _session_spinning(tmp_path: Path, text: str) -> str:
    write_model(simple_add_sub(), tmp_path)
    config = _config(text)
    placement = onnx_session.placements(config, [])[0]
    path = tmp_path / "simple" / "1" / "model.onnx"
    session = onnx_session.create_session(path, config, placement, 0)
    return str(session.get_session_options().get_session_config_entry(SPIN_KEY))


def test_the_session_gets_the_setting_and_the_parameter_overrides_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(onnx_session.os, "cpu_count", lambda: 2)
    assert _session_spinning(tmp_path / "a", _instances(1, 2)) == "1"
    assert _session_spinning(tmp_path / "b", _instances(2, 2)) == "0"
    keep_spinning = 'parameters { key: "allow_spinning" value { string_value: "true" } }'
    assert _session_spinning(tmp_path / "c", _instances(2, 2) + keep_spinning) == "1"


def test_a_malformed_spinning_parameter_fails_the_load_naming_it(tmp_path: Path) -> None:
    bad = 'parameters { key: "allow_spinning" value { string_value: "sometimes" } }'
    with pytest.raises(ModelLoadError, match="'allow_spinning' must be 'true' or 'false'"):
        _session_spinning(tmp_path, bad)
