"""The device part of the engine key on a real NVIDIA GPU (runs where nvidia-smi is)."""

from __future__ import annotations

import re
import shutil

import pytest

from mlinfer.optimizer.device import current_device
from mlinfer.optimizer.engine_key import device_part

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(shutil.which("nvidia-smi") is None, reason="no NVIDIA GPU (nvidia-smi)"),
]


def test_the_gpu_is_identified_for_the_engine_key() -> None:
    device = current_device()
    assert device is not None
    assert re.fullmatch(r"\d+\.\d+", device.compute_capability), device
    assert device.name and device.jetson_model is None
    part = device_part(device)
    assert part["compute_capability"] == device.compute_capability
