"""The optimization_config.yaml example in docs/OPTIMIZATION.md is valid configuration."""

from __future__ import annotations

import re
from pathlib import Path

from mlinfer.optimizer.config import load_config

DOC = Path(__file__).resolve().parents[3] / "docs" / "OPTIMIZATION.md"


def test_the_documented_example_validates(tmp_path: Path) -> None:
    (block,) = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    path = tmp_path / "optimization_config.yaml"
    path.write_text(block)
    digits = load_config(path, "digits")
    assert digits.int8.method == "entropy" and digits.validation.samples == 450
    yolo = load_config(path, "yolov8n")
    assert yolo.tensorrt.dla_core == 0 and yolo.budget.min_cosine is None
    assert yolo.budget.for_output("output0").min_sqnr_db == 25
    assert yolo.tensorrt.profiles["images"].opt == (4, 3, 640, 640)
