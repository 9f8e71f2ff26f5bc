"""Fitting an image to the model's input size, and mapping model coordinates back.

Each resize mode is an axis-aligned affine map from original-image pixels to model-input
pixels (``model = original * scale + offset`` per axis), which is all a detector's boxes need
to be reported in the coordinates of the image the client sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from PIL import Image

ResizeMode = Literal["stretch", "letterbox", "center_crop"]
RESIZE_MODES: tuple[ResizeMode, ...] = ("stretch", "letterbox", "center_crop")

INTERPOLATIONS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
}


@dataclass(frozen=True)
class BoxTransform:
    """``model = original * scale + offset`` per axis; ``width``/``height``: original size."""

    scale_x: float
    scale_y: float
    offset_x: float
    offset_y: float
    width: int
    height: int

    def to_original(self, boxes: NDArray[np.float64]) -> NDArray[np.float64]:
        """Map ``[N, 4]`` x1,y1,x2,y2 boxes from model input to original pixels, clipped."""
        out = np.empty_like(boxes, dtype=np.float64)
        out[:, 0::2] = (boxes[:, 0::2] - self.offset_x) / self.scale_x
        out[:, 1::2] = (boxes[:, 1::2] - self.offset_y) / self.scale_y
        np.clip(out[:, 0::2], 0.0, self.width, out=out[:, 0::2])
        np.clip(out[:, 1::2], 0.0, self.height, out=out[:, 1::2])
        return out


def fit(
    image: Image.Image,
    target: tuple[int, int],
    mode: ResizeMode,
    resample: Image.Resampling,
    pad_value: int,
) -> tuple[Image.Image, BoxTransform]:
    """``image`` resized to ``target`` (width, height) and the map from image to model pixels.

    stretch: both axes scaled independently to the target. letterbox: scaled to fit inside,
    aspect kept, centred on a ``pad_value`` canvas (YOLO's convention). center_crop: scaled to
    cover the target, aspect kept, the centre cut out (read straight from the source region,
    no intermediate image).
    """
    w, h = image.size
    tw, th = target
    if mode == "stretch":
        out = image.resize((tw, th), resample) if (w, h) != (tw, th) else image
        return out, BoxTransform(tw / w, th / h, 0.0, 0.0, w, h)
    if mode == "letterbox":
        ratio = min(tw / w, th / h)
        nw, nh = max(1, round(w * ratio)), max(1, round(h * ratio))
        left, top = (tw - nw) // 2, (th - nh) // 2
        resized = image.resize((nw, nh), resample) if (nw, nh) != (w, h) else image
        canvas = Image.new(image.mode, (tw, th), (pad_value,) * len(image.getbands()))
        canvas.paste(resized, (left, top))
        return canvas, BoxTransform(nw / w, nh / h, float(left), float(top), w, h)
    ratio = max(tw / w, th / h)
    crop_w, crop_h = tw / ratio, th / ratio
    x0, y0 = (w - crop_w) / 2, (h - crop_h) / 2
    out = image.resize((tw, th), resample, box=(x0, y0, x0 + crop_w, y0 + crop_h))
    return out, BoxTransform(ratio, ratio, -x0 * ratio, -y0 * ratio, w, h)


def needed_size(
    original: tuple[int, int], target: tuple[int, int], mode: ResizeMode
) -> tuple[int, int]:
    """The smallest source resolution that loses nothing for ``mode`` (for JPEG drafts)."""
    w, h = original
    tw, th = target
    if mode == "stretch":
        return (min(w, tw), min(h, th))
    ratio = min(tw / w, th / h) if mode == "letterbox" else max(tw / w, th / h)
    ratio = min(ratio, 1.0)
    return (max(1, int(np.ceil(w * ratio))), max(1, int(np.ceil(h * ratio))))


def with_draft_scale(
    transform: BoxTransform, scale: tuple[float, float], size: tuple[int, int]
) -> BoxTransform:
    """Compose with a draft decode: ``scale`` drafted pixels per original pixel."""
    sx, sy = scale
    return BoxTransform(
        transform.scale_x * sx,
        transform.scale_y * sy,
        transform.offset_x,
        transform.offset_y,
        size[0],
        size[1],
    )
