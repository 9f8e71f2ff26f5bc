"""The class a classifier's response predicted: from classification strings or by arg-max."""

from __future__ import annotations

import numpy as np
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from mlinfer.core.classification import classify
from mlinfer.core.model_spec import ModelSpec, spec_from_config
from mlinfer.core.types import InferRequest, InferResponse, RequestedOutput, Tensor
from mlinfer.registry.classes import predicted_classes

CONFIG = """
name: "animals" max_batch_size: {batch}
input [ {{ name: "x" data_type: TYPE_FP32 dims: [ 3 ] }} ]
output [
  {{ name: "embedding" data_type: TYPE_FP32 dims: [ 2 ] }},
  {{ name: "scores" data_type: TYPE_FP32 dims: [ 3 ] label_filename: "labels.txt" }}
]
"""
SCORES = np.array([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1], [0.2, 0.1, 0.9]], np.float32)
EMBEDDING = np.zeros((3, 2), np.float32)


def _spec(labels: list[str] | None = None, batch: int = 8) -> ModelSpec:
    config = text_format.Parse(CONFIG.format(batch=batch), mc.ModelConfig())
    return spec_from_config(config, {"scores": labels} if labels is not None else {})


def _request(outputs: list[RequestedOutput] | None = None) -> InferRequest:
    return InferRequest("animals", [], outputs=outputs)


def _response(*tensors: Tensor) -> InferResponse:
    return InferResponse("animals", "2", list(tensors))


def test_arg_max_of_the_labelled_output() -> None:
    spec = _spec(["cat", "dog", "bird"])
    response = _response(
        Tensor("embedding", "FP32", (3, 2), EMBEDDING), Tensor("scores", "FP32", (3, 3), SCORES)
    )
    assert predicted_classes(spec, _request(), response) == ["dog", "cat", "bird"]
    # Fewer labels than classes: the index names the rest.
    short = _spec(["cat"])
    assert predicted_classes(short, _request(), response) == ["1", "cat", "2"]


def test_a_model_without_labels_predicts_no_class() -> None:
    response = _response(Tensor("scores", "FP32", (3, 3), SCORES))
    assert predicted_classes(_spec(None), _request(), response) == []
    assert predicted_classes(_spec(["a", "b", "c"]), _request(), _response()) == []


def test_classification_strings_give_the_top_class() -> None:
    spec = _spec(["cat", "dog", "bird"])
    top2 = classify(Tensor("scores", "FP32", (3, 3), SCORES), 2, ["cat", "dog", "bird"], True)
    asked = _request([RequestedOutput("scores", class_count=2)])
    assert predicted_classes(spec, asked, _response(top2)) == ["dog", "cat", "bird"]
    # Without labels the strings carry the index only; a label may contain ':'.
    unlabelled = classify(Tensor("scores", "FP32", (3, 3), SCORES), 1, [], True)
    assert predicted_classes(_spec(None), asked, _response(unlabelled)) == ["1", "0", "2"]
    odd = classify(Tensor("scores", "FP32", (3, 3), SCORES), 1, ["a:b", "c:d", "e"], True)
    assert predicted_classes(spec, asked, _response(odd)) == ["c:d", "a:b", "e"]
    # A string output the client did not ask to classify is not parsed.
    raw = _request([RequestedOutput("scores")])
    assert predicted_classes(_spec(None), raw, _response(top2)) == []


def test_unbatched_models_predict_one_class_per_response() -> None:
    spec = _spec(["cat", "dog", "bird"], batch=0)
    one = SCORES[2]
    assert predicted_classes(spec, _request(), _response(Tensor("scores", "FP32", (3,), one))) == [
        "bird"
    ]
    strings = classify(Tensor("scores", "FP32", (3,), one), 3, ["cat", "dog", "bird"], False)
    asked = _request([RequestedOutput("scores", class_count=3)])
    assert predicted_classes(spec, asked, _response(strings)) == ["bird"]


def test_an_empty_batch_predicts_nothing() -> None:
    spec = _spec(["cat", "dog", "bird"])
    empty = Tensor("scores", "FP32", (0, 3), np.zeros((0, 3), np.float32))
    assert predicted_classes(spec, _request(), _response(empty)) == []
    no_classes = Tensor("scores", "FP32", (2, 0), np.zeros((2, 0), np.float32))
    assert predicted_classes(spec, _request(), _response(no_classes)) == []
