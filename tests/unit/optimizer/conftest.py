"""Small real models and data for the optimizer's stage tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlinfer.samples.models import digits_classifier, digits_split, image_cnn, text_encoder
from mlinfer.samples.writer import write_model


@pytest.fixture(scope="session")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("optimizer-repo")
    for build in (digits_classifier, image_cnn, text_encoder):
        write_model(build(), root)
    return root


@pytest.fixture(scope="session")
def digits_onnx(repo: Path) -> Path:
    return repo / "digits" / "1" / "model.onnx"


@pytest.fixture(scope="session")
def digits_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(calibration .npz, validation .npz with labels) from scikit-learn's digits."""
    root = tmp_path_factory.mktemp("digits-data")
    x_train, _, x_test, y_test = digits_split()
    calib, val = root / "calib.npz", root / "val.npz"
    np.savez(calib, pixels=x_train)
    np.savez(val, pixels=x_test, labels=y_test)
    return calib, val
