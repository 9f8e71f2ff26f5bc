"""Image inference: safe JPEG/PNG decoding, config-declared preprocessing and post-processing.

Transport-independent: the ``POST /infer/image`` route hands bytes to :class:`ImagePipeline`
and sends back the JSON-ready dict it returns. The keys a model's config.pbtxt may set are in
:data:`IMAGE_PARAMETERS`.
"""

from mlinfer.imaging.classify import top_k
from mlinfer.imaging.decode import DecodedImage, DecodeLimits, decode_image
from mlinfer.imaging.detection import DetectionConfig, detect, nms
from mlinfer.imaging.geometry import BoxTransform
from mlinfer.imaging.params import IMAGE_PARAMETERS, ImageConfigError
from mlinfer.imaging.pipeline import ImagePipeline, PreparedImage
from mlinfer.imaging.preprocess import ImagePreprocessor

__all__ = [
    "IMAGE_PARAMETERS",
    "BoxTransform",
    "DecodeLimits",
    "DecodedImage",
    "DetectionConfig",
    "ImageConfigError",
    "ImagePipeline",
    "ImagePreprocessor",
    "PreparedImage",
    "decode_image",
    "detect",
    "nms",
    "top_k",
]
