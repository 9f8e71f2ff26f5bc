"""``POST /infer/image`` without the HTTP: bytes -> request -> JSON-ready results.

The route builds one :class:`ImagePipeline` per loaded model version (construction validates
the config, so a bad parameter is reported once and clearly), then per request::

    prepared = await asyncio.to_thread(pipeline.prepare, body)     # decode + preprocess
    response = await dataplane.infer(pipeline.request(prepared, request_id=...))
    return pipeline.interpret(response, prepared, top_k=query_top_k)

The request asks only for the output that post-processing reads, so a response cache entry
holds just that tensor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.core.errors import InternalError, InvalidInputError
from mlinfer.core.model_spec import ModelSpec
from mlinfer.core.tensors import tensor_to_list
from mlinfer.core.types import InferRequest, InferResponse, RequestedOutput, Tensor
from mlinfer.imaging.classify import top_k as classify_top_k
from mlinfer.imaging.decode import DecodeLimits, decode_image
from mlinfer.imaging.detection import DETECTION_LAYOUTS, DetectionConfig, detect
from mlinfer.imaging.geometry import BoxTransform
from mlinfer.imaging.params import ImageConfigError, Params
from mlinfer.imaging.preprocess import ImagePreprocessor

Postprocess = Literal["none", "classification", "detection"]
POSTPROCESS_KINDS: tuple[Postprocess, ...] = ("none", "classification", "detection")


@dataclass(frozen=True)
class PreparedImage:
    """One decoded, preprocessed image and what is needed to interpret its results."""

    tensor: Tensor
    transform: BoxTransform  # original-image pixels -> model-input pixels
    width: int  # of the image as sent, after EXIF orientation
    height: int
    format: str


@dataclass(frozen=True)
class ImagePipeline:
    model_name: str
    preprocessor: ImagePreprocessor
    postprocess: Postprocess = "none"
    output_name: str | None = None
    labels: tuple[str, ...] = ()
    top_k: int = 5
    softmax: bool = False
    detection: DetectionConfig = field(default_factory=DetectionConfig)
    limits: DecodeLimits = field(default_factory=DecodeLimits)

    @classmethod
    def from_spec(cls, spec: ModelSpec, limits: DecodeLimits | None = None) -> ImagePipeline:
        """From a loaded model's spec; labels come from its outputs' label files."""
        labels = {o.name: o.labels for o in spec.outputs}
        return cls.from_config(spec.config, labels, limits)

    @classmethod
    def from_config(
        cls,
        config: mc.ModelConfig,
        labels: Mapping[str, Sequence[str]] | None = None,
        limits: DecodeLimits | None = None,
    ) -> ImagePipeline:
        preprocessor = ImagePreprocessor.from_config(config)
        params = Params(config)
        kind = params.choice("image_postprocess", POSTPROCESS_KINDS, "none")
        output = _output(config, params) if kind != "none" else None
        output_labels = tuple((labels or {}).get(output.name, ())) if output else ()
        detection = DetectionConfig(
            score_threshold=params.number("detection_score_threshold", 0.25, low=0, high=1),
            iou_threshold=params.number("detection_iou_threshold", 0.45, low=0, high=1),
            max_detections=params.integer("detection_max_detections", 100, low=1, high=10_000),
            layout=params.choice("detection_layout", DETECTION_LAYOUTS, "channels_first"),
        )
        if kind == "detection" and output is not None:
            _check_detection_output(config, params, output, output_labels, detection)
        return cls(
            model_name=config.name,
            preprocessor=preprocessor,
            postprocess=kind,
            output_name=output.name if output else None,
            labels=output_labels,
            top_k=params.integer("classification_top_k", 5, low=1, high=100_000),
            softmax=params.flag("classification_softmax", False),
            detection=detection,
            limits=limits or DecodeLimits(),
        )

    def prepare(self, data: bytes) -> PreparedImage:
        """Decode and preprocess (CPU-bound: run it in a worker thread)."""
        pre = self.preprocessor
        decoded = decode_image(data, self.limits, pre.draft_size if pre.jpeg_draft else None)
        tensor, transform = pre.prepare(decoded)
        return PreparedImage(tensor, transform, decoded.size[0], decoded.size[1], decoded.format)

    def request(
        self,
        prepared: PreparedImage,
        *,
        request_id: str = "",
        model_version: str = "",
        priority: int = 0,
        timeout_us: int = 0,
    ) -> InferRequest:
        outputs = [RequestedOutput(self.output_name)] if self.output_name else None
        return InferRequest(
            self.model_name,
            [prepared.tensor],
            model_version=model_version,
            id=request_id,
            outputs=outputs,
            priority=priority,
            timeout_us=timeout_us,
        )

    def interpret(
        self, response: InferResponse, prepared: PreparedImage, *, top_k: int | None = None
    ) -> dict[str, Any]:
        """JSON-ready result: classifications, detections or (``none``) the raw outputs."""
        result: dict[str, Any] = {
            "model_name": response.model_name,
            "model_version": response.model_version,
            "id": response.id,
            "image": {
                "width": prepared.width,
                "height": prepared.height,
                "format": prepared.format,
            },
        }
        if self.postprocess == "none":
            result["outputs"] = [_raw(t) for t in response.outputs]
            return result
        tensor = self._output(response)
        if self.postprocess == "classification":
            k = self.top_k if top_k is None else top_k
            if k < 1:
                raise InvalidInputError(f"top_k must be at least 1, got {k}")
            scores = tensor.data[0] if self.preprocessor.batched else tensor.data
            result["classifications"] = classify_top_k(scores, self.labels, k, self.softmax)
        else:
            result["detections"] = detect(
                tensor.data, self.detection, self.labels, prepared.transform
            )
        return result

    def _output(self, response: InferResponse) -> Tensor:
        for tensor in response.outputs:
            if tensor.name == self.output_name:
                if tensor.datatype == "BYTES":
                    raise InternalError(
                        f"model '{self.model_name}': output '{tensor.name}' is BYTES; "
                        f"{self.postprocess} needs numbers"
                    )
                return tensor
        raise InternalError(
            f"model '{self.model_name}' returned no output '{self.output_name}' to post-process"
        )


def _raw(tensor: Tensor) -> dict[str, Any]:
    return {
        "name": tensor.name,
        "datatype": tensor.datatype,
        "shape": list(tensor.shape),
        "data": tensor_to_list(tensor),
    }


def _output(config: mc.ModelConfig, params: Params) -> mc.ModelOutput:
    if params.has("image_output"):
        name = params.text("image_output", "")
        for output in config.output:
            if output.name == name:
                return output
        known = ", ".join(o.name for o in config.output)
        raise params.error("image_output", f"names no output of the model: '{name}' ({known})")
    if len(config.output) != 1:
        raise ImageConfigError(
            f"model '{config.name}' has {len(config.output)} outputs; set parameter "
            "'image_output' to the one to post-process"
        )
    return config.output[0]


def _check_detection_output(
    config: mc.ModelConfig,
    params: Params,
    output: mc.ModelOutput,
    labels: Sequence[str],
    detection: DetectionConfig,
) -> None:
    dims = [int(d) for d in output.dims]
    if config.max_batch_size == 0 and len(dims) == 3:
        dims = dims[1:]
    if len(dims) != 2:
        raise ImageConfigError(
            f"model '{config.name}': detection output '{output.name}' has dims {list(output.dims)}"
            "; expected [4+classes, anchors] (channels_first) or [anchors, 4+classes]"
        )
    rows = dims[0] if detection.layout == "channels_first" else dims[1]
    if rows > 0 and labels and rows - 4 != len(labels):
        raise params.error(
            "detection_layout",
            f"({detection.layout}) reads {rows - 4} classes from output '{output.name}' "
            f"dims {list(output.dims)}, but its label file has {len(labels)} labels",
        )
