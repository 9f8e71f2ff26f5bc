from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mlinfer.core.model_config import read_config
from mlinfer.optimizer.data import Dataset, load_dataset, synthetic_dataset
from mlinfer.optimizer.errors import DataError, TooFewSamplesError
from mlinfer.optimizer.inspect import inspect_model


def test_npz_with_labels_and_disjoint_slices(
    digits_onnx: Path, digits_data: tuple[Path, Path]
) -> None:
    info = inspect_model(digits_onnx)
    _, val = digits_data
    first = load_dataset(str(val), info, purpose="validation", samples=100)
    rest = load_dataset(str(val), info, purpose="validation", samples=1000, skip=100)
    assert len(first) == 100 and len(rest) == 350  # 450 test samples in all
    assert first.labels is not None and first.labels.dtype == np.int64
    assert not np.array_equal(first.inputs["pixels"][:5], rest.inputs["pixels"][:5])
    batches = list(first.batches(32))
    assert [len(b["pixels"]) for b in batches] == [32, 32, 32, 4]


def test_wrong_shape_names_the_input_and_expected_shape(digits_onnx: Path, tmp_path: Path) -> None:
    info = inspect_model(digits_onnx)
    path = tmp_path / "bad.npz"
    np.savez(path, pixels=np.zeros((20, 8, 8), np.float32))
    expected = r"input 'pixels' has shape \[20, 8, 8\], expected \[N, 64\]"
    with pytest.raises(DataError, match=expected):
        load_dataset(str(path), info, purpose="calibration", samples=10)


def test_wrong_dtype_and_missing_input(digits_onnx: Path, tmp_path: Path) -> None:
    info = inspect_model(digits_onnx)
    path = tmp_path / "bad.npz"
    np.savez(path, pixels=np.zeros((20, 64)))
    with pytest.raises(DataError, match="'pixels' has dtype float64, expected float32"):
        load_dataset(str(path), info, purpose="calibration", samples=10)
    np.savez(path, image=np.zeros((20, 64), np.float32))
    with pytest.raises(DataError, match=r"no data for input 'pixels'.*it has: \['image'\]"):
        load_dataset(str(path), info, purpose="calibration", samples=10)


def test_too_few_samples_says_the_count(digits_onnx: Path, tmp_path: Path) -> None:
    info = inspect_model(digits_onnx)
    path = tmp_path / "few.npy"
    np.save(path, np.zeros((7, 64), np.float32))
    with pytest.raises(TooFewSamplesError, match="has 7 samples; at least 10 are needed"):
        load_dataset(str(path), info, purpose="calibration", samples=500, minimum=10)


def test_labels_must_match_the_samples(digits_onnx: Path, tmp_path: Path) -> None:
    info = inspect_model(digits_onnx)
    path = tmp_path / "l.npz"
    np.savez(path, pixels=np.zeros((4, 64), np.float32), labels=np.zeros(3, np.int64))
    with pytest.raises(DataError, match="labels must be 4 integers"):
        load_dataset(str(path), info, purpose="validation", samples=4)


def test_entry_point_yielding_feeds(
    digits_onnx: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my_feeds.py").write_text(
        "import numpy as np\n"
        "def feeds():\n"
        "    for i in range(3):\n"
        "        yield {'pixels': np.full((4, 64), i, np.float32), 'labels': np.full(4, i)}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    info = inspect_model(digits_onnx)
    data = load_dataset("my_feeds:feeds", info, purpose="calibration", samples=100)
    assert len(data) == 12 and data.labels is not None and list(data.labels[::4]) == [0, 1, 2]
    with pytest.raises(DataError, match="cannot load data entry point 'my_feeds:nope'"):
        load_dataset("my_feeds:nope", info, purpose="calibration", samples=1)
    sys.modules.pop("my_feeds", None)


def test_image_directory_goes_through_the_models_preprocessing(repo: Path, tmp_path: Path) -> None:
    config = read_config(repo / "image_cnn")
    info = inspect_model(repo / "image_cnn" / "1" / "model.onnx")
    labels = [f"class_{i}" for i in range(10)]
    for label, colour in (("class_3", (255, 0, 0)), ("class_7", (0, 0, 255))):
        (tmp_path / label).mkdir()
        for i in range(2):
            Image.new("RGB", (64, 48), colour).save(tmp_path / label / f"{i}.png")
    data = load_dataset(
        str(tmp_path), info, purpose="calibration", samples=10, image_config=(config, tuple(labels))
    )
    assert data.inputs["image"].shape == (4, 3, 32, 32)
    assert data.labels is not None and list(data.labels) == [3, 3, 7, 7]
    red = data.inputs["image"][0]
    assert red[0].min() == pytest.approx(1.0) and red[2].max() == pytest.approx(0.0)


def test_synthetic_inputs_for_profiling(repo: Path) -> None:
    info = inspect_model(repo / "image_cnn" / "1" / "model.onnx")
    data = synthetic_dataset(info, samples=3)
    assert isinstance(data, Dataset) and data.inputs["image"].shape == (3, 3, 32, 32)
    with pytest.raises(DataError, match="dynamic dimensions"):
        synthetic_dataset(inspect_model(repo / "text_encoder" / "1" / "model.onnx"))
