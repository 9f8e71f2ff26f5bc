"""Preprocessing numbers checked element by element on tiny images, and config validation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image
from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.core.model_config import parse_config
from mlinfer.imaging import ImageConfigError, ImagePreprocessor
from mlinfer.imaging.geometry import BoxTransform
from mlinfer.samples.models import image_cnn

# A 2x2 image with distinct channels: pixel (x, y) = (10x + 20y + 1, 100 + x, 200 - y).
PIXELS = np.array(
    [[[1, 100, 200], [11, 101, 200]], [[21, 100, 199], [31, 101, 199]]], dtype=np.uint8
)


def tiny() -> Image.Image:
    return Image.fromarray(PIXELS)


def config(
    dims: str = "3, 2, 2",
    params: dict[str, str] | None = None,
    data_type: str = "TYPE_FP32",
    fmt: str = "",
    max_batch_size: int = 4,
    extra_input: str = "",
) -> mc.ModelConfig:
    fmt_field = f"format: {fmt}" if fmt else ""
    text = (
        f'name: "m"\nmax_batch_size: {max_batch_size}\n'
        f'input [ {{ name: "img" data_type: {data_type} {fmt_field} dims: [ {dims} ] }}'
        f"{extra_input} ]\n"
        'output [ { name: "out" data_type: TYPE_FP32 dims: [ 3 ] } ]\n'
    )
    for key, value in (params or {}).items():
        text += f'parameters {{ key: "{key}" value {{ string_value: "{value}" }} }}\n'
    return parse_config(text)


def expected(
    pixels: NDArray[Any], scale: float, mean: list[float], std: list[float]
) -> NDArray[np.float32]:
    """Reference normalisation in float64, per channel, HWC."""
    out = (pixels.astype(np.float64) * scale - np.asarray(mean)) / np.asarray(std)
    result: NDArray[np.float32] = out.astype(np.float32)
    return result


def test_nchw_scale_mean_std_exact() -> None:
    pre = ImagePreprocessor.from_config(
        config(
            params={
                "image_scale": "0.00392156862745098",
                "image_mean": "0.485, 0.456, 0.406",
                "image_std": "0.229,0.224,0.225",
            }
        )
    )
    tensor = pre.to_tensor(tiny())
    assert (tensor.name, tensor.datatype, tensor.shape) == ("img", "FP32", (1, 3, 2, 2))
    want = expected(PIXELS, 1 / 255, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    np.testing.assert_array_equal(tensor.data[0], want.transpose(2, 0, 1))
    assert tensor.data.dtype == np.float32 and tensor.data.flags.c_contiguous


def test_defaults_scale_to_unit_range() -> None:
    pre = ImagePreprocessor.from_config(config(fmt="FORMAT_NCHW"))
    tensor = pre.to_tensor(tiny())
    np.testing.assert_array_equal(
        tensor.data[0], expected(PIXELS, 1 / 255, [0.0] * 3, [1.0] * 3).transpose(2, 0, 1)
    )


def test_nhwc_and_bgr() -> None:
    pre = ImagePreprocessor.from_config(
        config(
            dims="2, 2, 3",
            params={
                "image_channel_order": "BGR",
                "image_scale": "1",
                "image_mean": "103.94,116.78,123.68",  # in the model's (BGR) order
            },
        )
    )
    assert pre.layout == "NHWC"  # from dims: the channel axis is last
    tensor = pre.to_tensor(tiny())
    assert tensor.shape == (1, 2, 2, 3)
    bgr = PIXELS[:, :, ::-1]
    np.testing.assert_array_equal(
        tensor.data[0], expected(bgr, 1.0, [103.94, 116.78, 123.68], [1] * 3)
    )


def test_fp16_fp64_and_uint8_inputs() -> None:
    for data_type, dtype in (("TYPE_FP16", np.float16), ("TYPE_FP64", np.float64)):
        tensor = ImagePreprocessor.from_config(config(data_type=data_type)).to_tensor(tiny())
        assert tensor.data.dtype == dtype
        want = ((PIXELS.astype(np.float64) / 255).astype(dtype)).transpose(2, 0, 1)
        np.testing.assert_array_equal(tensor.data[0], want)
    raw = ImagePreprocessor.from_config(config(data_type="TYPE_UINT8")).to_tensor(tiny())
    assert raw.datatype == "UINT8"
    np.testing.assert_array_equal(raw.data[0], PIXELS.transpose(2, 0, 1))


def test_greyscale_model() -> None:
    pre = ImagePreprocessor.from_config(config(dims="1, 2, 2", params={"image_scale": "1"}))
    tensor = pre.to_tensor(tiny())
    assert tensor.shape == (1, 1, 2, 2)
    luma = np.asarray(tiny().convert("L")).astype(np.float32)
    np.testing.assert_array_equal(tensor.data[0, 0], luma)


def test_unbatched_and_explicit_batch_dimension() -> None:
    plain = ImagePreprocessor.from_config(config(max_batch_size=0))
    assert plain.to_tensor(tiny()).shape == (3, 2, 2)
    explicit = ImagePreprocessor.from_config(config(dims="1, 3, 2, 2", max_batch_size=0))
    assert explicit.to_tensor(tiny()).shape == (1, 3, 2, 2)


def test_letterbox_pads_and_reports_the_transform() -> None:
    pre = ImagePreprocessor.from_config(
        config(
            dims="3, 4, 4",
            params={"image_resize": "letterbox", "image_scale": "1", "image_pad_value": "114"},
        )
    )
    wide = Image.fromarray(np.concatenate([PIXELS, PIXELS], axis=1))  # 4 wide, 2 high
    tensor, transform = pre.prepare_image(wide)
    chw = tensor.data[0]
    # Rows 0 and 3 are padding; rows 1-2 are the unscaled image.
    np.testing.assert_array_equal(chw[:, 0, :], np.full((3, 4), 114, np.float32))
    np.testing.assert_array_equal(chw[:, 3, :], np.full((3, 4), 114, np.float32))
    np.testing.assert_array_equal(chw[:, 1:3, :], np.asarray(wide).transpose(2, 0, 1))
    assert transform == BoxTransform(1.0, 1.0, 0.0, 1.0, 4, 2)


def test_letterbox_downscale_transform() -> None:
    pre = ImagePreprocessor.from_config(
        config(dims="3, 32, 32", params={"image_resize": "letterbox"})
    )
    _, transform = pre.prepare_image(Image.new("RGB", (128, 64)))
    assert transform == BoxTransform(0.25, 0.25, 0.0, 8.0, 128, 64)


def test_center_crop_takes_the_middle() -> None:
    pre = ImagePreprocessor.from_config(
        config(
            params={
                "image_resize": "center_crop",
                "image_interpolation": "nearest",
                "image_scale": "1",
            }
        )
    )
    row = np.arange(4 * 3, dtype=np.uint8).reshape(1, 4, 3) * 10
    wide = Image.fromarray(np.concatenate([row, row + 1], axis=0))  # 4 wide, 2 high
    tensor, transform = pre.prepare_image(wide)
    np.testing.assert_array_equal(tensor.data[0], np.asarray(wide)[:, 1:3].transpose(2, 0, 1))
    assert transform == BoxTransform(1.0, 1.0, -1.0, 0.0, 4, 2)


def test_stretch_resizes_both_axes() -> None:
    pre = ImagePreprocessor.from_config(config(dims="3, 2, 4"))  # 4 wide, 2 high
    tensor, transform = pre.prepare_image(Image.new("RGB", (8, 8), (255, 255, 255)))
    assert tensor.shape == (1, 3, 2, 4)
    np.testing.assert_array_equal(tensor.data, np.ones((1, 3, 2, 4), np.float32))
    assert transform == BoxTransform(0.5, 0.25, 0.0, 0.0, 8, 8)


def test_image_size_for_variable_dims() -> None:
    pre = ImagePreprocessor.from_config(
        config(dims="3, -1, -1", params={"image_size": "6x4"}, fmt="FORMAT_NCHW")
    )
    assert (pre.width, pre.height) == (6, 4)
    assert pre.to_tensor(tiny()).shape == (1, 3, 4, 6)
    square = ImagePreprocessor.from_config(
        config(dims="3, -1, -1", params={"image_size": "5"}, fmt="FORMAT_NCHW")
    )
    assert (square.width, square.height) == (5, 5)


def test_sample_image_cnn_config_works_as_is() -> None:
    pre = ImagePreprocessor.from_config(parse_config(image_cnn().config))
    assert (pre.input_name, pre.layout, pre.width, pre.height) == ("image", "NCHW", 32, 32)
    assert pre.to_tensor(Image.new("RGB", (50, 40))).shape == (1, 3, 32, 32)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"params": {"image_size": "big"}}, "'image_size' must be WIDTHxHEIGHT or N"),
        ({"params": {"image_size": "0x4"}}, "'image_size' must be WIDTHxHEIGHT or N"),
        ({"params": {"image_size": "3x2"}}, "'image_size' gives width 3 but input 'img' has a"),
        ({"dims": "3, -1, -1", "fmt": "FORMAT_NCHW"}, "'image_size' is required"),
        ({"params": {"image_resize": "squash"}}, "'image_resize' must be one of stretch"),
        ({"params": {"image_layout": "CHW"}}, "'image_layout' must be one of NCHW, NHWC"),
        ({"params": {"image_channel_order": "RGBA"}}, "'image_channel_order' must be one of"),
        ({"params": {"image_mean": "1,2"}}, "'image_mean' needs 1 or 3 comma-separated values"),
        ({"params": {"image_mean": "a,b,c"}}, "'image_mean' must be a number, got 'a'"),
        ({"params": {"image_std": "1,0,1"}}, "'image_std' must not contain 0"),
        ({"params": {"image_scale": "nan"}}, "'image_scale' must be finite"),
        ({"params": {"image_pad_value": "300"}}, "'image_pad_value' must be between 0 and 255"),
        ({"params": {"image_jpeg_draft": "maybe"}}, "'image_jpeg_draft' must be true or false"),
        ({"params": {"image_sise": "32"}}, "'image_sise' is not an image parameter"),
        ({"data_type": "TYPE_UINT8", "params": {"image_scale": "0.5"}}, "'image_scale' needs a"),
        ({"data_type": "TYPE_STRING"}, "has datatype BYTES; image inference supports"),
        ({"dims": "4, 2, 2", "fmt": "FORMAT_NCHW"}, "has 4 channels in layout NCHW"),
        ({"dims": "3, 3, 3"}, "cannot tell the layout of input 'img'"),
        ({"dims": "64"}, r"has dims \[64\] .*needs \[C,H,W\] or \[H,W,C\]"),
        ({"extra_input": ', { name: "b" data_type: TYPE_FP32 dims: [ 1 ] }'}, "has 2 inputs"),
        ({"params": {"image_input": "nope"}}, "'image_input' names no input of the model"),
    ],
)
def test_config_errors_name_the_problem(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ImageConfigError, match=message):
        ImagePreprocessor.from_config(config(**kwargs))


def test_image_input_picks_one_of_several() -> None:
    cfg = config(
        params={"image_input": "img"},
        extra_input=', { name: "meta" data_type: TYPE_FP32 dims: [ 2 ] }',
    )
    assert ImagePreprocessor.from_config(cfg).input_name == "img"
