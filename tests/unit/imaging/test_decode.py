"""Decoding real encoded images made here with Pillow, and refusing hostile ones."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from mlinfer.core.errors import InvalidInputError, PayloadTooLargeError
from mlinfer.imaging.decode import DecodeLimits, decode_image

RED, BLUE = (255, 0, 0), (0, 0, 255)


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def halves(width: int = 40, height: int = 20) -> Image.Image:
    """Left half red, right half blue."""
    image = Image.new("RGB", (width, height), RED)
    image.paste(BLUE, (width // 2, 0, width, height))
    return image


def close(pixel: object, colour: tuple[int, int, int], tolerance: int = 24) -> bool:
    return bool(np.all(np.abs(np.asarray(pixel, int) - np.asarray(colour)) <= tolerance))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_decodes_jpeg_and_png(fmt: str) -> None:
    decoded = decode_image(encode(halves(), fmt, **({"quality": 95} if fmt == "JPEG" else {})))
    assert (decoded.format, decoded.size, decoded.image.mode) == (fmt, (40, 20), "RGB")
    assert close(decoded.image.getpixel((5, 10)), RED)
    assert close(decoded.image.getpixel((35, 10)), BLUE)
    assert decoded.scale == (1.0, 1.0)


def test_exif_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: display rotated 90 degrees clockwise
    decoded = decode_image(encode(halves(), "JPEG", quality=95, exif=exif.tobytes()))
    assert decoded.size == (20, 40) and decoded.image.size == (20, 40)
    # Clockwise rotation takes the left (red) half to the top.
    assert close(decoded.image.getpixel((10, 5)), RED)
    assert close(decoded.image.getpixel((10, 35)), BLUE)


@pytest.mark.parametrize(
    "mode, colour",
    [("L", 128), ("LA", (128, 255)), ("RGBA", (10, 20, 30, 0)), ("P", 3), ("1", 1)],
)
def test_other_png_modes_become_rgb(mode: str, colour: object) -> None:
    decoded = decode_image(encode(Image.new(mode, (4, 4), colour), "PNG"))  # type: ignore[arg-type]
    assert decoded.image.mode == "RGB"


def test_sixteen_bit_greyscale_png_keeps_its_range() -> None:
    wide = Image.fromarray(np.full((2, 2), 65535, dtype=np.uint16))
    decoded = decode_image(encode(wide, "PNG"))
    assert decoded.image.getpixel((0, 0)) == (255, 255, 255)


def test_greyscale_and_cmyk_jpeg_become_rgb() -> None:
    for image in (Image.new("L", (8, 8), 200), Image.new("CMYK", (8, 8), (0, 0, 0, 0))):
        decoded = decode_image(encode(image, "JPEG"))
        assert decoded.image.mode == "RGB"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_image_is_invalid(fmt: str) -> None:
    noisy = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))
    data = encode(noisy, fmt)
    with pytest.raises(InvalidInputError, match=f"invalid {fmt} image data"):
        decode_image(data[: len(data) // 2])


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty image"),
        (b"hello, world", "not a JPEG or PNG image"),
        (b'{"inputs": []}', "not a JPEG or PNG image"),
        (b"\xff\xd8\xff\xe0broken", "invalid"),
    ],
)
def test_non_images_are_invalid(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        decode_image(data)


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_other_formats_are_rejected_by_name(fmt: str) -> None:
    with pytest.raises(
        InvalidInputError, match=f"unsupported image format {fmt}: send JPEG or PNG"
    ):
        decode_image(encode(halves(), fmt))


def test_encoded_size_limit() -> None:
    data = encode(halves(), "PNG")
    with pytest.raises(PayloadTooLargeError, match=f"image of {len(data)} bytes exceeds"):
        decode_image(data, DecodeLimits(max_bytes=len(data) - 1))


def _png_claiming(width: int, height: int) -> bytes:
    """A real PNG whose header claims ``width`` x ``height`` (a decompression bomb's shape)."""
    data = bytearray(encode(Image.new("L", (1, 1)), "PNG"))
    ihdr = 8 + 8  # signature, then IHDR's length and type
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr - 4 : ihdr + 13]))
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", crc)
    return bytes(data)


def test_pixel_limit_is_checked_before_decoding() -> None:
    with pytest.raises(PayloadTooLargeError, match="8000x8000 = 64000000 pixels exceeds"):
        decode_image(_png_claiming(8000, 8000))  # over the 40 MP default
    with pytest.raises(PayloadTooLargeError, match="pixels exceeds the limit of 100"):
        decode_image(encode(halves(), "PNG"), DecodeLimits(max_pixels=100))


def test_huge_decompression_bomb_is_refused() -> None:
    with pytest.raises(PayloadTooLargeError):
        decode_image(_png_claiming(100_000, 100_000), DecodeLimits(max_pixels=10**12))


def test_jpeg_draft_decodes_large_images_at_reduced_scale() -> None:
    big = halves(1600, 1200)
    decoded = decode_image(encode(big, "JPEG"), draft=lambda size: (100, 100))
    assert decoded.size == (1600, 1200)
    assert decoded.image.size == (200, 150)  # 1/8 scale, still >= 100x100
    assert decoded.scale == (0.125, 0.125)
    assert close(decoded.image.getpixel((20, 75)), RED)


def test_draft_respects_exif_rotation() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(halves(1600, 800), "JPEG", exif=exif.tobytes())
    # Upright the image is 800x1600; ask for 200 wide x 400 high of it.
    decoded = decode_image(data, draft=lambda size: (size[0] // 4, size[1] // 4))
    assert decoded.size == (800, 1600)
    assert decoded.image.size == (200, 400)
    assert decoded.scale == (0.25, 0.25)
