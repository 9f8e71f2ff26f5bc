"""Per-model overrides: YAML over config.pbtxt parameters over defaults; bad config fails early."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlinfer.autoscaler.config import (
    AutoscalerConfigError,
    from_model_parameters,
    load_overrides,
    resolve,
)
from mlinfer.autoscaler.policy import PolicyConfig
from mlinfer.autoscaler.settings import AutoscalerSettings

SERVED = ["image_cnn", "simple"]


def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "autoscaler.yaml"
    path.write_text(text)
    return path


def test_yaml_wins_over_model_parameters_which_win_over_defaults(tmp_path: Path) -> None:
    defaults, per_model = load_overrides(
        _yaml(tmp_path, "defaults: {cooldown_up_s: 10}\nmodels:\n  image_cnn: {max_instances: 3}\n")
    )
    # As GET /v2/models/{m}/config returns the parameters of config.pbtxt.
    served_params = {
        "autoscaler_max_instances": {"string_value": "2"},
        "autoscaler_queue_time_target_us": {"string_value": "5000"},
        "image_resize": {"string_value": "stretch"},
    }
    params = {"image_cnn": from_model_parameters(served_params)}
    default, configs = resolve(PolicyConfig(), defaults, per_model, params, SERVED)
    assert default.cooldown_up_s == 10 and default.max_instances == 4
    cnn = configs["image_cnn"]
    assert cnn.max_instances == 3  # YAML over the parameter's 2
    assert cnn.queue_time_target_us == 5000  # from config.pbtxt
    assert cnn.cooldown_up_s == 10  # YAML defaults
    assert "simple" not in configs


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models:\n  nope: {max_instances: 2}\n", "model(s) the server does not have: ['nope']"),
        ("models:\n  image_cnn: {min_instances: 3, max_instances: 2}\n",
         "min_instances (3) > max_instances (2)"),
        ("defaults: {cooldown_down_s: -1}\n", "cooldown_down_s must not be negative"),
        ("models:\n  image_cnn: {max_instance: 2}\n",
         "unknown autoscaler setting(s) ['max_instance']"),
        ("models:\n  image_cnn: {max_instances: many}\n", "max_instances must be an integer"),
        ("models:\n  image_cnn: {max_instances: 2.5}\n", "max_instances must be an integer"),
        ("defaults: {cooldown_up_s: soon}\n", "cooldown_up_s must be a number, got 'soon'"),
        ("models: [1, 2]\n", "'defaults' and 'models' must be mappings"),
        ("scale: fast\n", "top level must be a mapping of 'defaults', 'models'"),
        ("models: {image_cnn: [\n", "not valid YAML"),
    ],
)  # fmt: skip
def test_bad_config_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(AutoscalerConfigError) as info:
        defaults, per_model = load_overrides(_yaml(tmp_path, text))
        resolve(PolicyConfig(), defaults, per_model, {}, SERVED)
    assert message in str(info.value)


def test_a_bad_model_parameter_names_the_model_and_where() -> None:
    params = {
        "image_cnn": from_model_parameters({"autoscaler_cooldown_up_s": {"string_value": "-3"}})
    }
    with pytest.raises(AutoscalerConfigError, match=r"model 'image_cnn'.*cooldown_up_s"):
        resolve(PolicyConfig(), {}, {}, params, SERVED)


def test_missing_file_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(AutoscalerConfigError, match="cannot read autoscaler config"):
        load_overrides(tmp_path / "absent.yaml")


def test_environment_sets_the_defaults_for_every_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLINFER_AUTOSCALER_COOLDOWN_UP_S", "5")
    monkeypatch.setenv("MLINFER_AUTOSCALER_MAX_INSTANCES", "3")
    monkeypatch.setenv("MLINFER_AUTOSCALER_MODELS", '["image_cnn"]')
    settings = AutoscalerSettings()
    assert settings.policy_defaults() == PolicyConfig(cooldown_up_s=5, max_instances=3)
    assert settings.models == ["image_cnn"]
    assert settings.server_metrics_url == "http://127.0.0.1:8000/metrics"
