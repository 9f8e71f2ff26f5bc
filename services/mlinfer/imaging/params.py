"""Reading the image pipeline's ``parameters`` from config.pbtxt, with errors naming the key.

Everything the pipeline does to an image is declared by the model's author in its config,
never guessed from the model's name. Every key this package reads is listed in
:data:`IMAGE_PARAMETERS`; a typo'd ``image_*`` / ``classification_*`` / ``detection_*`` key is
an error rather than a silently ignored setting.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.core.errors import ModelLoadError

IMAGE_PARAMETERS: dict[str, str] = {
    "image_input": "input that receives the image (default: the model's only input)",
    "image_size": "model input size WIDTHxHEIGHT ('640x480') or N for NxN; default: from dims",
    "image_resize": "stretch (default) | letterbox | center_crop",
    "image_interpolation": "bilinear (default) | nearest | bicubic | lanczos | box",
    "image_pad_value": "letterbox padding, 0..255 per pixel channel (default 114)",
    "image_layout": "NCHW | NHWC (default: the input's format, else from dims)",
    "image_channel_order": "RGB (default) | BGR",
    "image_scale": "pixel multiplier before mean/std (default 1/255 for float inputs)",
    "image_mean": "subtracted after scaling: one value or one per channel (model order)",
    "image_std": "divided by after mean: one value or one per channel (model order)",
    "image_jpeg_draft": "true: decode JPEGs at a reduced DCT scale when large (default false)",
    "image_postprocess": "none (default: raw outputs) | classification | detection",
    "image_output": "output to post-process (default: the model's only output)",
    "classification_top_k": "classes returned (default 5)",
    "classification_softmax": "true: apply softmax to the scores first (default false)",
    "detection_layout": "channels_first (default, YOLOv8 [1,4+C,A]) | channels_last [1,A,4+C]",
    "detection_score_threshold": "minimum class score (default 0.25)",
    "detection_iou_threshold": "NMS IoU above which a same-class box is dropped (default 0.45)",
    "detection_max_detections": "detections returned at most (default 100)",
}
_PREFIXES = ("image_", "classification_", "detection_")
_Choice = TypeVar("_Choice", bound=str)


class ImageConfigError(ModelLoadError):
    """The model's image parameters are missing, malformed or inconsistent with its inputs."""


class Params:
    """Typed access to a config's string parameters; every error names model and key."""

    def __init__(self, config: mc.ModelConfig) -> None:
        self.model = config.name
        self._values = {k: str(v.string_value) for k, v in config.parameters.items()}

    def error(self, key: str, problem: str) -> ImageConfigError:
        return ImageConfigError(f"model '{self.model}': parameter '{key}' {problem}")

    def check_known(self) -> None:
        for key in sorted(self._values):
            if key.startswith(_PREFIXES) and key not in IMAGE_PARAMETERS:
                raise self.error(key, f"is not an image parameter (known: {_known()})")

    def has(self, key: str) -> bool:
        return key in self._values

    def text(self, key: str, default: str) -> str:
        return self._values.get(key, default).strip()

    def choice(self, key: str, choices: Sequence[_Choice], default: _Choice) -> _Choice:
        raw = self.text(key, default)
        lowered = {c.lower(): c for c in choices}
        if raw.lower() not in lowered:
            raise self.error(key, f"must be one of {', '.join(choices)}, got '{raw}'")
        return lowered[raw.lower()]

    def flag(self, key: str, default: bool) -> bool:
        raw = self.text(key, "true" if default else "false").lower()
        if raw in ("true", "1", "yes", "on"):
            return True
        if raw in ("false", "0", "no", "off"):
            return False
        raise self.error(key, f"must be true or false, got '{raw}'")

    def number(
        self, key: str, default: float, *, low: float = -math.inf, high: float = math.inf
    ) -> float:
        if key not in self._values:
            return default
        return self._check_range(key, self._parse_float(key, self.text(key, "")), low, high)

    def integer(self, key: str, default: int, *, low: int, high: int) -> int:
        if key not in self._values:
            return default
        raw = self.text(key, "")
        try:
            value = int(raw)
        except ValueError:
            raise self.error(key, f"must be an integer, got '{raw}'") from None
        return int(self._check_range(key, value, low, high))

    def numbers(self, key: str, default: tuple[float, ...], channels: int) -> tuple[float, ...]:
        """One value (used for every channel) or exactly ``channels`` values, comma-separated."""
        if key not in self._values:
            return default * channels if len(default) == 1 else default
        parts = [p.strip() for p in self.text(key, "").split(",")]
        values = tuple(self._parse_float(key, p) for p in parts)
        if len(values) == 1:
            values = values * channels
        if len(values) != channels:
            raise self.error(key, f"needs 1 or {channels} comma-separated values, got {len(parts)}")
        return values

    def _parse_float(self, key: str, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise self.error(key, f"must be a number, got '{raw}'") from None
        if not math.isfinite(value):
            raise self.error(key, f"must be finite, got '{raw}'")
        return value

    def _check_range(self, key: str, value: float, low: float, high: float) -> float:
        if not low <= value <= high:
            raise self.error(key, f"must be between {low:g} and {high:g}, got {value:g}")
        return value


def _known() -> str:
    return ", ".join(IMAGE_PARAMETERS)
