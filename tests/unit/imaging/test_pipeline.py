"""Bytes in, JSON-ready results out: the sample CNN for real, and a YOLO-style detector."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image
from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.core.errors import InternalError, InvalidInputError
from mlinfer.core.model_config import parse_config
from mlinfer.core.model_spec import spec_from_config
from mlinfer.core.types import InferResponse, Tensor
from mlinfer.imaging import ImageConfigError, ImagePipeline
from mlinfer.samples.models import image_cnn

LABELS = [f"class_{i}" for i in range(10)]


def jpeg(width: int, height: int, colour: tuple[int, int, int] = (200, 30, 60)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def cnn_config() -> mc.ModelConfig:
    config = parse_config(image_cnn().config)
    config.parameters["image_postprocess"].string_value = "classification"
    config.parameters["classification_top_k"].string_value = "3"
    return config


def test_image_cnn_end_to_end_on_onnx_runtime() -> None:
    ort = pytest.importorskip("onnxruntime")
    sample = image_cnn()
    session = ort.InferenceSession(
        sample.onnx_model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    spec = spec_from_config(cnn_config(), {"probabilities": LABELS})
    pipeline = ImagePipeline.from_spec(spec)
    prepared = pipeline.prepare(jpeg(64, 48))
    request = pipeline.request(prepared, request_id="req-1", priority=1)
    assert [o.name for o in request.outputs or []] == ["probabilities"]
    (tensor,) = request.inputs
    (probabilities,) = session.run(["probabilities"], {tensor.name: tensor.data})
    response = InferResponse(
        "image_cnn", "1", [Tensor("probabilities", "FP32", (1, 10), probabilities)], id="req-1"
    )
    result = pipeline.interpret(response, prepared)
    json.dumps(result)  # JSON-ready
    assert result["id"] == "req-1" and result["model_version"] == "1"
    assert result["image"] == {"width": 64, "height": 48, "format": "JPEG"}
    classes = result["classifications"]
    assert len(classes) == 3
    best = int(np.argmax(probabilities[0]))
    assert classes[0] == {
        "label": f"class_{best}",
        "index": best,
        "score": pytest.approx(float(probabilities[0, best])),
    }
    assert [c["score"] for c in classes] == sorted((c["score"] for c in classes), reverse=True)
    assert len(pipeline.interpret(response, prepared, top_k=10)["classifications"]) == 10
    with pytest.raises(InvalidInputError, match="top_k must be at least 1"):
        pipeline.interpret(response, prepared, top_k=0)


def test_without_postprocess_the_raw_outputs_are_returned() -> None:
    config = parse_config(image_cnn().config)
    del config.parameters["image_postprocess"]
    del config.parameters["classification_top_k"]
    pipeline = ImagePipeline.from_config(config)
    prepared = pipeline.prepare(jpeg(32, 32))
    assert pipeline.request(prepared).outputs is None
    response = InferResponse(
        "image_cnn", "1", [Tensor("probabilities", "FP32", (1, 2), np.array([[0.25, 0.75]]))]
    )
    assert pipeline.interpret(response, prepared)["outputs"] == [
        {"name": "probabilities", "datatype": "FP32", "shape": [1, 2], "data": [0.25, 0.75]}
    ]


DETECTOR = """name: "yolo"
platform: "onnxruntime_onnx"
max_batch_size: 1
input [ { name: "images" data_type: TYPE_FP32 format: FORMAT_NCHW dims: [ 3, 64, 64 ] } ]
output [ { name: "output0" data_type: TYPE_FP32 dims: [ 6, -1 ] label_filename: "labels.txt" } ]
parameters { key: "image_resize" value { string_value: "letterbox" } }
parameters { key: "image_postprocess" value { string_value: "detection" } }
parameters { key: "detection_score_threshold" value { string_value: "0.5" } }
parameters { key: "detection_iou_threshold" value { string_value: "0.5" } }
parameters { key: "detection_max_detections" value { string_value: "10" } }
"""


def test_detector_end_to_end_maps_boxes_to_the_sent_image() -> None:
    pipeline = ImagePipeline.from_config(parse_config(DETECTOR), {"output0": ["person", "car"]})
    prepared = pipeline.prepare(jpeg(128, 64))
    assert prepared.tensor.shape == (1, 3, 64, 64)
    # Letterbox padding rows (top 16, bottom 16) hold 114/255.
    assert prepared.tensor.data[0, 0, 0, 0] == np.float32(114 / 255)
    head = np.array(
        [[32, 32, 20, 10, 0.9, 0.0], [33, 32, 20, 10, 0.8, 0.1], [10, 40, 4, 4, 0.0, 0.6]],
        np.float32,
    ).T[None]  # [1, 6, 3]
    response = InferResponse("yolo", "1", [Tensor("output0", "FP32", head.shape, head)])
    detections = pipeline.interpret(response, prepared)["detections"]
    assert [d["label"] for d in detections] == ["person", "car"]
    assert detections[0]["box"] == pytest.approx([44, 22, 84, 42])
    assert detections[1]["box"] == pytest.approx([16, 44, 24, 52])


def test_jpeg_draft_keeps_boxes_in_original_pixels() -> None:
    config = parse_config(DETECTOR)
    config.parameters["image_jpeg_draft"].string_value = "true"
    pipeline = ImagePipeline.from_config(config, {"output0": ["person", "car"]})
    prepared = pipeline.prepare(jpeg(1024, 512))
    head = np.array([[32, 32, 20, 10, 0.9, 0.0]], np.float32).T[None]
    response = InferResponse("yolo", "1", [Tensor("output0", "FP32", head.shape, head)])
    (found,) = pipeline.interpret(response, prepared)["detections"]
    assert (prepared.width, prepared.height) == (1024, 512)
    assert found["box"] == pytest.approx([352, 176, 672, 336])  # letterbox scale 1/16


def test_missing_or_bytes_output_is_a_server_error() -> None:
    pipeline = ImagePipeline.from_config(parse_config(DETECTOR))
    prepared = pipeline.prepare(jpeg(64, 64))
    with pytest.raises(InternalError, match="returned no output 'output0'"):
        pipeline.interpret(InferResponse("yolo", "1", []), prepared)
    strings = Tensor("output0", "BYTES", (1,), np.array([b"x"], dtype=np.object_))
    with pytest.raises(InternalError, match="is BYTES"):
        pipeline.interpret(InferResponse("yolo", "1", [strings]), prepared)


OUTPUT0 = '{ name: "output0" data_type: TYPE_FP32 dims: [ 6, -1 ] }'


def _detector(outputs: str = OUTPUT0, **params: str) -> mc.ModelConfig:
    """DETECTOR with its outputs replaced and parameters set (or added)."""
    output_line = next(line for line in DETECTOR.splitlines() if line.startswith("output ["))
    config = parse_config(DETECTOR.replace(output_line, f"output [ {outputs} ]"))
    for key, value in params.items():
        config.parameters[key].string_value = value
    return config


@pytest.mark.parametrize(
    "config, message",
    [
        (_detector(OUTPUT0.replace("6, -1", "7, -1")), "reads 3 classes .* has 2 labels"),
        (_detector(OUTPUT0.replace("6, -1", "6")), r"expected \[4\+classes, anchors\]"),
        (_detector(image_output="x"), "'image_output' names no output of the model: 'x'"),
        (
            _detector(detection_score_threshold="1.5"),
            "'detection_score_threshold' must be between 0 and 1",
        ),
        (
            _detector(detection_max_detections="0"),
            "'detection_max_detections' must be between 1 and 10000",
        ),
        (
            _detector(image_postprocess="segmentation"),
            "'image_postprocess' must be one of none, classification, detection",
        ),
        (
            _detector(f"{OUTPUT0}, {OUTPUT0.replace('output0', 'extra')}"),
            "has 2 outputs; set parameter 'image_output'",
        ),
        (_detector(detection_layout="sideways"), "'detection_layout' must be one of"),
    ],
)
def test_detector_config_errors(config: mc.ModelConfig, message: str) -> None:
    with pytest.raises(ImageConfigError, match=message):
        ImagePipeline.from_config(config, {"output0": ["person", "car"]})


def test_channels_last_detector_checks_the_last_dimension() -> None:
    config = _detector(OUTPUT0.replace("6, -1", "-1, 6"), detection_layout="channels_last")
    pipeline = ImagePipeline.from_config(config, {"output0": ["person", "car"]})
    assert pipeline.detection.layout == "channels_last"
