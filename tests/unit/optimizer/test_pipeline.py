from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlinfer.optimizer.config import ModelOptimization, with_overrides
from mlinfer.optimizer.errors import DataError
from mlinfer.optimizer.inspect import inspect_model
from mlinfer.optimizer.pipeline import load_data
from mlinfer.optimizer.source import resolve_source


def test_one_source_serves_calibration_and_held_out_validation(
    repo: Path, digits_data: tuple[Path, Path]
) -> None:
    _, val = digits_data  # 450 samples with labels
    source = resolve_source(repo / "digits")
    info = inspect_model(source.onnx_path)
    config = with_overrides(
        ModelOptimization(),
        {
            "calibration.source": str(val),
            "calibration.samples": 300,
            "validation.samples": 1000,
        },
    )
    calibration, validation = load_data(info, source, config, need_calibration=True)
    assert calibration is not None and len(calibration) == 300 and len(validation) == 150
    everything = np.load(val)["pixels"]
    np.testing.assert_array_equal(validation.inputs["pixels"][0], everything[300])
    assert validation.labels is not None  # held-out samples keep their labels


def test_missing_data_says_which_flag(repo: Path) -> None:
    source = resolve_source(repo / "digits")
    info = inspect_model(source.onnx_path)
    with pytest.raises(DataError, match="give --calibration"):
        load_data(info, source, ModelOptimization(), need_calibration=True)
    with pytest.raises(DataError, match="give --validation"):
        load_data(info, source, ModelOptimization(), need_calibration=False)
