"""Turning a decoded image into the model's input tensor, exactly as its config declares.

Normalisation is ``(pixel * image_scale - image_mean[c]) / image_std[c]`` per channel, in the
channel order the model sees (after an RGB->BGR swap), computed once per configuration into a
256-entry table per channel: the per-request work is a table lookup that writes each channel
plane straight into the requested layout, and the values are exact (computed in float64).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.core import datatypes
from mlinfer.core.types import Tensor
from mlinfer.imaging.decode import DecodedImage
from mlinfer.imaging.geometry import (
    INTERPOLATIONS,
    RESIZE_MODES,
    BoxTransform,
    ResizeMode,
    fit,
    needed_size,
    with_draft_scale,
)
from mlinfer.imaging.params import ImageConfigError, Params

Layout = Literal["NCHW", "NHWC"]
ChannelOrder = Literal["RGB", "BGR"]
LAYOUTS: tuple[Layout, ...] = ("NCHW", "NHWC")
CHANNEL_ORDERS: tuple[ChannelOrder, ...] = ("RGB", "BGR")
_FLOAT_TYPES = ("FP16", "FP32", "FP64")
_SUPPORTED_TYPES = (*_FLOAT_TYPES, "UINT8")


@dataclass(frozen=True)
class ImagePreprocessor:
    """Validated preprocessing of one model input; build with :meth:`from_config`."""

    input_name: str
    datatype: str
    width: int
    height: int
    channels: int  # 3 (colour) or 1 (greyscale)
    layout: Layout
    batched: bool  # the tensor gets a leading batch dimension of 1
    resize: ResizeMode = "stretch"
    interpolation: str = "bilinear"
    pad_value: int = 114
    channel_order: ChannelOrder = "RGB"
    scale: float = 1 / 255
    mean: tuple[float, ...] = (0.0,)  # one value for every channel, or one per channel
    std: tuple[float, ...] = (1.0,)
    jpeg_draft: bool = False
    _table: NDArray[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        for values in (self.mean, self.std):
            if len(values) not in (1, self.channels):
                raise ValueError(f"mean and std need 1 or {self.channels} values, got {values}")
        dtype = datatypes.from_name(self.datatype).numpy
        pixels = np.arange(256, dtype=np.float64)
        if self.datatype == "UINT8":
            table = np.tile(pixels, (self.channels, 1))
        else:
            mean = np.asarray(self.mean, np.float64)[:, None]
            std = np.asarray(self.std, np.float64)[:, None]
            table = np.broadcast_to(
                (pixels[None, :] * self.scale - mean) / std, (self.channels, 256)
            )
        object.__setattr__(self, "_table", np.ascontiguousarray(table.astype(dtype)))

    @classmethod
    def from_config(cls, config: mc.ModelConfig) -> ImagePreprocessor:
        """Read and check the ``image_*`` parameters against the chosen input's config."""
        params = Params(config)
        params.check_known()
        model_input = _image_input(config, params)
        datatype = datatypes.BY_CONFIG[model_input.data_type].name
        if datatype not in _SUPPORTED_TYPES:
            raise ImageConfigError(
                f"model '{config.name}': image input '{model_input.name}' has datatype "
                f"{datatype}; image inference supports {', '.join(_SUPPORTED_TYPES)}"
            )
        dims, batched = _image_dims(config, model_input)
        layout = _layout(config, params, model_input, dims)
        c_axis, h_axis, w_axis = (0, 1, 2) if layout == "NCHW" else (2, 0, 1)
        c_dim, h_dim, w_dim = dims[c_axis], dims[h_axis], dims[w_axis]
        if c_dim not in (1, 3):
            raise ImageConfigError(
                f"model '{config.name}': image input '{model_input.name}' has {c_dim} channels "
                f"in layout {layout} (dims {list(dims)}); expected 1 or 3"
            )
        width, height = _size(params, model_input.name, w_dim, h_dim)
        is_float = datatype in _FLOAT_TYPES
        scale = params.number("image_scale", 1 / 255 if is_float else 1.0)
        mean = params.numbers("image_mean", (0.0,), c_dim)
        std = params.numbers("image_std", (1.0,), c_dim)
        if not is_float and (scale != 1.0 or any(mean) or any(s != 1.0 for s in std)):
            key = next(k for k in ("image_scale", "image_mean", "image_std") if params.has(k))
            raise params.error(key, f"needs a floating-point input, but input is {datatype}")
        if any(s == 0.0 for s in std):
            raise params.error("image_std", "must not contain 0")
        return cls(
            input_name=model_input.name,
            datatype=datatype,
            width=width,
            height=height,
            channels=c_dim,
            layout=layout,
            batched=batched,
            resize=params.choice("image_resize", RESIZE_MODES, "stretch"),
            interpolation=params.choice("image_interpolation", tuple(INTERPOLATIONS), "bilinear"),
            pad_value=params.integer("image_pad_value", 114, low=0, high=255),
            channel_order=params.choice("image_channel_order", CHANNEL_ORDERS, "RGB"),
            scale=scale,
            mean=mean,
            std=std,
            jpeg_draft=params.flag("image_jpeg_draft", False),
        )

    @property
    def shape(self) -> tuple[int, ...]:
        hw = (self.channels, self.height, self.width)
        dims = hw if self.layout == "NCHW" else (self.height, self.width, self.channels)
        return (1, *dims) if self.batched else dims

    def draft_size(self, original: tuple[int, int]) -> tuple[int, int]:
        """For :func:`decode_image`'s ``draft``: the least resolution this resize needs."""
        return needed_size(original, (self.width, self.height), self.resize)

    def prepare(self, decoded: DecodedImage) -> tuple[Tensor, BoxTransform]:
        """The input tensor and the map from original-image to model-input pixels."""
        tensor, transform = self.prepare_image(decoded.image)
        if decoded.scale != (1.0, 1.0) or decoded.image.size != decoded.size:
            transform = with_draft_scale(transform, decoded.scale, decoded.size)
        return tensor, transform

    def to_tensor(self, image: Image.Image | DecodedImage) -> Tensor:
        """The model's input tensor for ``image`` (shape ``[1, ...]`` for batched models)."""
        if isinstance(image, DecodedImage):
            return self.prepare(image)[0]
        return self.prepare_image(image)[0]

    def prepare_image(self, image: Image.Image) -> tuple[Tensor, BoxTransform]:
        """Like :meth:`prepare` for an in-memory image (its own size is the original)."""
        if image.mode != "RGB":
            image = image.convert("RGB")
        resample = INTERPOLATIONS[self.interpolation]
        fitted, transform = fit(
            image, (self.width, self.height), self.resize, resample, self.pad_value
        )
        if self.channels == 1:
            pixels = np.asarray(fitted.convert("L"))[:, :, None]
        else:
            pixels = np.asarray(fitted)
            if self.channel_order == "BGR":
                pixels = pixels[:, :, ::-1]
        data = self._normalise(pixels)
        return Tensor(
            self.input_name, self.datatype, self.shape, data.reshape(self.shape)
        ), transform

    def _normalise(self, pixels: NDArray[np.uint8]) -> NDArray[Any]:
        table = self._table
        if self.layout == "NCHW":
            out = np.empty((self.channels, self.height, self.width), dtype=table.dtype)
            for c in range(self.channels):
                np.take(table[c], pixels[:, :, c], out=out[c])
            return out
        out = np.empty((self.height, self.width, self.channels), dtype=table.dtype)
        for c in range(self.channels):
            out[:, :, c] = np.take(table[c], pixels[:, :, c])
        return out


def _image_input(config: mc.ModelConfig, params: Params) -> mc.ModelInput:
    if params.has("image_input"):
        name = params.text("image_input", "")
        for model_input in config.input:
            if model_input.name == name:
                return model_input
        known = ", ".join(i.name for i in config.input)
        raise params.error(
            "image_input", f"names no input of the model: '{name}' (inputs: {known})"
        )
    if len(config.input) != 1:
        raise ImageConfigError(
            f"model '{config.name}' has {len(config.input)} inputs; set parameter 'image_input' "
            "to the one that receives the image"
        )
    return config.input[0]


def _image_dims(config: mc.ModelConfig, model_input: mc.ModelInput) -> tuple[tuple[int, ...], bool]:
    dims = tuple(int(d) for d in model_input.dims)
    if config.max_batch_size > 0 and len(dims) == 3:
        return dims, True
    if config.max_batch_size == 0 and len(dims) == 4 and dims[0] in (1, -1):
        return dims[1:], True  # an explicit batch dimension of 1
    if config.max_batch_size == 0 and len(dims) == 3:
        return dims, False
    raise ImageConfigError(
        f"model '{config.name}': input '{model_input.name}' has dims {list(dims)} "
        f"(max_batch_size {config.max_batch_size}); image inference needs [C,H,W] or [H,W,C]"
    )


def _layout(
    config: mc.ModelConfig, params: Params, model_input: mc.ModelInput, dims: tuple[int, ...]
) -> Layout:
    if params.has("image_layout"):
        return params.choice("image_layout", LAYOUTS, "NCHW")
    if model_input.format == mc.ModelInput.FORMAT_NCHW:
        return "NCHW"
    if model_input.format == mc.ModelInput.FORMAT_NHWC:
        return "NHWC"
    first, last = dims[0] in (1, 3), dims[2] in (1, 3)
    if first != last:
        return "NCHW" if first else "NHWC"
    raise ImageConfigError(
        f"model '{config.name}': cannot tell the layout of input '{model_input.name}' "
        f"(dims {list(dims)}); set parameter 'image_layout' to NCHW or NHWC, or the input's "
        "format to FORMAT_NCHW or FORMAT_NHWC"
    )


def _size(params: Params, input_name: str, w_dim: int, h_dim: int) -> tuple[int, int]:
    if not params.has("image_size"):
        if w_dim <= 0 or h_dim <= 0:
            raise params.error(
                "image_size",
                f"is required: input '{input_name}' has a variable height or width",
            )
        return w_dim, h_dim
    raw = params.text("image_size", "")
    parts = raw.lower().split("x")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) == 1:
        numbers *= 2
    if len(numbers) != 2 or min(numbers) <= 0 or max(numbers) > 16384:
        raise params.error(
            "image_size", f"must be WIDTHxHEIGHT or N (1..16384), e.g. '640x480', got '{raw}'"
        )
    width, height = numbers
    for key_dim, value, name in ((w_dim, width, "width"), (h_dim, height, "height")):
        if key_dim > 0 and key_dim != value:
            raise params.error(
                "image_size",
                f"gives {name} {value} but input '{input_name}' has a fixed {name} of {key_dim}",
            )
    return width, height
