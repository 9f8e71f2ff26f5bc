"""Decoding untrusted JPEG/PNG bytes into an upright RGB image, within memory limits.

The bytes come straight from a client, so: the encoded size is bounded, only JPEG and PNG
decoders are ever consulted (Pillow would otherwise try every format it knows, some of them
rarely exercised), and the pixel count is checked from the header *before* decoding, so a
small file that expands to gigabytes (a decompression bomb) is refused without allocating.
This module never changes Pillow's process-wide settings (``MAX_IMAGE_PIXELS``,
``LOAD_TRUNCATED_IMAGES``): a truncated image stays an error.

Decoding is CPU work that releases the GIL in Pillow's C code: call it in a worker thread.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mlinfer.core.errors import InvalidInputError, PayloadTooLargeError

ACCEPTED_FORMATS = ("JPEG", "PNG")
_ORIENTATION_TAG = 0x0112
_TRANSPOSED_ORIENTATIONS = (5, 6, 7, 8)  # EXIF orientations that swap width and height
_SIGNATURES = {  # of formats people send by mistake: named in the error message
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
    b"BM": "BMP",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
    b"\x00\x00\x01\x00": "ICO",
}

Size = tuple[int, int]


@dataclass(frozen=True)
class DecodeLimits:
    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000  # ~120 MB as RGB


@dataclass(frozen=True)
class DecodedImage:
    """An upright RGB image; ``size`` is the original's (after EXIF orientation).

    ``image`` can be smaller than ``size`` when JPEG draft decoding was used; ``scale`` is
    ``image`` pixels per original pixel (1.0 unless drafted), so coordinates can be mapped
    back to the image the client sent.
    """

    image: Image.Image
    size: Size
    format: str
    scale: tuple[float, float] = (1.0, 1.0)


DraftSize = Callable[[Size], Size]
"""Given the upright original size, the smallest size the preprocessing needs."""


def decode_image(
    data: bytes, limits: DecodeLimits = DecodeLimits(), draft: DraftSize | None = None
) -> DecodedImage:
    """Decode, check and orient ``data``; errors name the problem (400 or 413)."""
    if not data:
        raise InvalidInputError("empty image: send JPEG or PNG bytes")
    if len(data) > limits.max_bytes:
        raise PayloadTooLargeError(
            f"image of {len(data)} bytes exceeds the limit of {limits.max_bytes} bytes"
        )
    image = _open(data)
    width, height = image.size
    if width <= 0 or height <= 0:
        raise InvalidInputError(f"image has an empty size {width}x{height}")
    if width * height > limits.max_pixels:
        raise PayloadTooLargeError(
            f"image of {width}x{height} = {width * height} pixels exceeds the limit of "
            f"{limits.max_pixels} pixels"
        )
    orientation = _orientation(image)
    upright: Size = (height, width) if orientation in _TRANSPOSED_ORIENTATIONS else (width, height)
    scale = (1.0, 1.0)
    if draft is not None and image.format == "JPEG":
        scale = _draft(image, draft(upright), orientation)
    try:
        image.load()
        if orientation != 1:
            image = ImageOps.exif_transpose(image)
        rgb = _to_rgb(image)
    except Image.DecompressionBombError as exc:
        raise PayloadTooLargeError(f"image refused as a decompression bomb: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow reports truncated or corrupt data as OSError ("image file is truncated"...).
        raise InvalidInputError(f"invalid {image.format} image data: {exc}") from None
    return DecodedImage(rgb, upright, str(image.format), scale)


def _open(data: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data), formats=list(ACCEPTED_FORMATS))
    except UnidentifiedImageError:
        raise InvalidInputError(_not_accepted(data)) from None
    except Image.DecompressionBombError as exc:
        raise PayloadTooLargeError(f"image refused as a decompression bomb: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidInputError(f"invalid image header: {exc}") from None
    # JPEG files with a multi-picture extension open as "MPO": still a JPEG.
    if image.format == "MPO":
        image.format = "JPEG"
    if image.format not in ACCEPTED_FORMATS:  # pragma: no cover - formats= already limits it
        raise InvalidInputError(_not_accepted(data))
    return image


def _not_accepted(data: bytes) -> str:
    for signature, name in _SIGNATURES.items():
        if data.startswith(signature):
            return f"unsupported image format {name}: send JPEG or PNG"
    return "the body is not a JPEG or PNG image"


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(_ORIENTATION_TAG, 1)
    except (OSError, SyntaxError, ValueError, EOFError, KeyError, TypeError):
        return 1  # unreadable EXIF: no orientation, not an error
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _draft(image: Image.Image, needed: Size, orientation: int) -> tuple[float, float]:
    """Let libjpeg decode at 1/2, 1/4 or 1/8 scale while staying at least ``needed``."""
    original = image.size
    if orientation in _TRANSPOSED_ORIENTATIONS:
        needed = (needed[1], needed[0])
    result = image.draft(image.mode, needed)
    if result is None:
        return (1.0, 1.0)
    _, box = result
    # box: the original image's extent in drafted pixels (fractional at odd edges).
    sx, sy = box[2] / original[0], box[3] / original[1]
    return (sy, sx) if orientation in _TRANSPOSED_ORIENTATIONS else (sx, sy)


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale PNG: keep the top 8 bits (Pillow's convert would clip at 255).
        wide = np.asarray(image).astype(np.uint32)
        return Image.fromarray((np.clip(wide, 0, 65535) >> 8).astype(np.uint8)).convert("RGB")
    return image.convert("RGB")
