"""NMS and YOLO decoding on hand-made boxes; classification top-k with labels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from numpy.typing import NDArray

from mlinfer.core.errors import InternalError
from mlinfer.imaging import BoxTransform, DetectionConfig, detect, nms, top_k

IDENTITY = BoxTransform(1.0, 1.0, 0.0, 0.0, 1000, 1000)


def _nms(
    boxes: Sequence[Sequence[float]], scores: list[float], classes: list[int], **kw: float
) -> list[int]:
    kept = nms(
        np.asarray(boxes, np.float64),
        np.asarray(scores),
        np.asarray(classes),
        kw.get("iou", 0.45),
        int(kw.get("max_detections", 100)),
    )
    return kept.tolist()  # type: ignore[no-any-return]


def test_overlapping_same_class_is_suppressed_other_class_kept() -> None:
    boxes = [
        [0, 0, 10, 10],  # 0: best
        [1, 1, 11, 11],  # 1: IoU 81/119 = 0.68 with box 0, same class -> dropped
        [1, 1, 11, 11],  # 2: same place, other class -> kept
        [20, 20, 30, 30],  # 3: no overlap -> kept
        [0, 0, 10, 9],  # 4: IoU 0.9 with box 0 -> dropped
    ]
    assert _nms(boxes, [0.9, 0.8, 0.7, 0.6, 0.5], [0, 0, 1, 0, 0]) == [0, 2, 3]


def test_iou_threshold_is_exclusive_and_order_follows_score() -> None:
    boxes = [[0, 0, 10, 5], [0, 0, 10, 10]]  # IoU exactly 0.5
    assert _nms(boxes, [0.2, 0.9], [0, 0], iou=0.5) == [1, 0]
    assert _nms(boxes, [0.2, 0.9], [0, 0], iou=0.49) == [1]


def test_max_detections_and_empty_input() -> None:
    boxes = [[i * 20, 0, i * 20 + 10, 10] for i in range(5)]
    assert _nms(boxes, [0.1, 0.5, 0.3, 0.9, 0.7], [0] * 5, max_detections=2) == [3, 4]
    assert _nms([], [], []) == []


def test_degenerate_boxes_do_not_divide_by_zero() -> None:
    assert _nms([[5, 5, 5, 5], [5, 5, 5, 5]], [0.9, 0.8], [0, 0]) == [0, 1]


def yolo_output(
    anchors: list[tuple[float, float, float, float, list[float]]],
) -> NDArray[np.float32]:
    """[1, 4 + classes, anchors] like YOLOv8: rows cx, cy, w, h, class scores."""
    columns = [[cx, cy, w, h, *scores] for cx, cy, w, h, scores in anchors]
    return np.asarray(columns, np.float32).T[None]


def test_detect_thresholds_nms_and_labels() -> None:
    output = yolo_output(
        [
            (50, 50, 20, 20, [0.9, 0.1]),  # person
            (51, 51, 20, 20, [0.8, 0.2]),  # duplicate person -> suppressed
            (50, 50, 20, 20, [0.1, 0.7]),  # car at the same place -> kept
            (200, 200, 10, 10, [0.2, 0.24]),  # below the 0.25 threshold
        ]
    )
    found = detect(output, DetectionConfig(), ["person", "car"], IDENTITY)
    assert [(d["label"], d["class_index"]) for d in found] == [("person", 0), ("car", 1)]
    assert found[0]["score"] == pytest.approx(0.9)
    assert found[0]["box"] == pytest.approx([40, 40, 60, 60])
    strict = detect(output, DetectionConfig(score_threshold=0.75), ["person", "car"], IDENTITY)
    assert [d["label"] for d in strict] == ["person"]


def test_channels_last_layout_and_missing_labels() -> None:
    output = yolo_output([(10, 10, 4, 4, [0.1, 0.2, 0.9])]).transpose(0, 2, 1)
    found = detect(output, DetectionConfig(layout="channels_last"), ["a"], IDENTITY)
    assert (found[0]["label"], found[0]["class_index"]) == ("2", 2)


def test_boxes_map_back_through_letterbox_and_clip() -> None:
    # A 128x64 image letterboxed into 64x64: scale 0.5, 16 rows of padding on top.
    letterbox = BoxTransform(0.5, 0.5, 0.0, 16.0, 128, 64)
    output = yolo_output(
        [
            (32, 32, 20, 10, [0.9]),  # model box 22,27 - 42,37
            (60, 20, 10, 10, [0.8]),  # reaches into the top padding and past the right edge
        ]
    )
    found = detect(output, DetectionConfig(), ["thing"], letterbox)
    assert found[0]["box"] == pytest.approx([44, 22, 84, 42])
    assert found[1]["box"] == pytest.approx([110, 0, 128, 18])


def test_stretch_mapping_scales_axes_independently() -> None:
    stretch = BoxTransform(64 / 640, 64 / 320, 0.0, 0.0, 640, 320)
    output = yolo_output([(32, 32, 16, 16, [0.9])])
    (found,) = detect(output, DetectionConfig(), [], stretch)
    assert found["box"] == pytest.approx([240, 120, 400, 200])


def test_unexpected_output_shapes_are_server_errors() -> None:
    with pytest.raises(InternalError, match="expected 4 box values"):
        detect(np.zeros((1, 4, 10), np.float32), DetectionConfig(), [], IDENTITY)
    with pytest.raises(InternalError, match="batch size 2"):
        detect(np.zeros((2, 6, 10), np.float32), DetectionConfig(), [], IDENTITY)
    with pytest.raises(InternalError, match="expected"):
        detect(np.zeros((6,), np.float32), DetectionConfig(), [], IDENTITY)


def test_top_k_with_labels_and_ties() -> None:
    scores = np.array([0.1, 0.5, 0.2, 0.5, 0.05], np.float32)
    labels = ["cat", "dog", "fox", "owl"]  # one label short
    best = top_k(scores, labels, 3)
    assert [(c["label"], c["index"]) for c in best] == [("dog", 1), ("owl", 3), ("fox", 2)]
    assert best[0]["score"] == pytest.approx(0.5)
    assert [c["label"] for c in top_k(scores, labels, 10)][-1] == "4"  # unlabelled: its index
    assert len(top_k(scores, labels, 10)) == 5


def test_top_k_softmax() -> None:
    logits = np.array([[1.0, 3.0, 2.0]], np.float32)
    best = top_k(logits, ["a", "b", "c"], 2, apply_softmax=True)
    probabilities = np.exp([1.0, 3.0, 2.0]) / np.exp([1.0, 3.0, 2.0]).sum()
    assert [c["label"] for c in best] == ["b", "c"]
    assert [c["score"] for c in best] == pytest.approx(list(probabilities[[1, 2]]))
