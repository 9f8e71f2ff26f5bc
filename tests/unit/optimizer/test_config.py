from __future__ import annotations

from pathlib import Path

import pytest

from mlinfer.optimizer.config import ModelOptimization, load_config, with_overrides
from mlinfer.optimizer.errors import ConfigError


def test_defaults_merge_under_the_models_section(tmp_path: Path) -> None:
    path = tmp_path / "optimization_config.yaml"
    path.write_text(
        "defaults:\n  precisions: [int8]\n  budget: {min_cosine: 0.95, min_sqnr_db: 20}\n"
        "models:\n  digits:\n    budget: {min_cosine: 0.999}\n"
        "    calibration: {source: calib.npz, samples: 64}\n"
    )
    digits = load_config(path, "digits")
    assert digits.precisions == ("int8",)
    assert digits.budget.min_cosine == 0.999  # the model's own value wins
    assert digits.budget.min_sqnr_db == 20  # the default's survives the merge
    assert digits.calibration.samples == 64
    other = load_config(path, "resnet50")
    assert other.budget.min_cosine == 0.95 and other.calibration.source is None


def test_a_single_model_file_and_per_output_budgets(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("budget:\n  min_cosine: 0.9\n  outputs:\n    boxes: {min_sqnr_db: 30}\n")
    budget = load_config(path, "any").budget
    assert budget.for_output("boxes").min_sqnr_db == 30
    assert budget.for_output("boxes").min_cosine == 0.9
    assert budget.for_output("scores").min_sqnr_db is None


def test_unknown_keys_and_bad_values_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("models:\n  m:\n    int8: {methd: entropy}\n")
    with pytest.raises(ConfigError, match=r"int8\.methd"):
        load_config(path, "m")
    path.write_text("precisions: [int4]\n")
    with pytest.raises(ConfigError, match=r"precisions\.0"):
        load_config(path, "m")
    path.write_text("- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(path, "m")


def test_flags_override_the_file() -> None:
    config = with_overrides(
        ModelOptimization(),
        {"budget.min_cosine": 0.5, "int8.method": "entropy", "target": None},
    )
    assert config.budget.min_cosine == 0.5 and config.int8.method == "entropy"
    assert config.target == "onnxruntime"  # None means "flag not given"
    with pytest.raises(ConfigError, match=r"command line.*calibration\.samples"):
        with_overrides(config, {"calibration.samples": 0})


def test_tensorrt_refuses_dynamic_int8() -> None:
    with pytest.raises(ConfigError, match="int8_dynamic"):
        with_overrides(ModelOptimization(), {"target": "tensorrt", "precisions": ["int8_dynamic"]})


def test_machine_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from mlinfer.optimizer.settings import OptimizerSettings

    monkeypatch.setenv("MLINFER_OPTIMIZER_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("MLINFER_OPTIMIZER_TRTEXEC", "/opt/trt/bin/trtexec")
    settings = OptimizerSettings()
    assert settings.cache_dir == tmp_path and settings.trtexec == "/opt/trt/bin/trtexec"
