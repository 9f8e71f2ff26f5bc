"""YOLO-style detections: raw head output -> scored, de-duplicated boxes in image pixels.

The head is YOLOv8's (also YOLOv9/v10/11 exports without built-in NMS): one tensor
``[4 + classes, anchors]`` per image (``channels_first``; ``channels_last`` is the transposed
export), rows cx, cy, w, h in model-input pixels followed by one score per class, no objectness.
Each anchor keeps its best class. Non-maximum suppression is class-aware (a box only suppresses
boxes of its own class) and runs in numpy: one vectorised IoU of the current best box against
all remaining candidates per kept box, so the loop runs at most ``max_detections`` times.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from mlinfer.core.errors import InternalError
from mlinfer.imaging.geometry import BoxTransform

DetectionLayout = Literal["channels_first", "channels_last"]
DETECTION_LAYOUTS: tuple[DetectionLayout, ...] = ("channels_first", "channels_last")
MAX_CANDIDATES = 30_000  # best-scoring boxes considered by NMS (bounds its cost)


@dataclass(frozen=True)
class DetectionConfig:
    score_threshold: float = 0.25
    iou_threshold: float = 0.45
    max_detections: int = 100
    layout: DetectionLayout = "channels_first"


def xywh_to_xyxy(boxes: NDArray[Any]) -> NDArray[np.float64]:
    b = boxes.astype(np.float64)
    half_w, half_h = b[:, 2] / 2, b[:, 3] / 2
    return np.stack([b[:, 0] - half_w, b[:, 1] - half_h, b[:, 0] + half_w, b[:, 1] + half_h], 1)


def _areas(boxes: NDArray[np.float64]) -> NDArray[np.float64]:
    widths = np.clip(boxes[:, 2] - boxes[:, 0], 0, None)
    heights = np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    areas: NDArray[np.float64] = widths * heights
    return areas


def iou_one_to_many(
    box: NDArray[np.float64],
    others: NDArray[np.float64],
    area: float | None = None,
    others_areas: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """IoU of one x1,y1,x2,y2 box with each of ``others`` ([N, 4]); 0 where both are empty."""
    if area is None:
        area = float(_areas(box[None])[0])
    if others_areas is None:
        others_areas = _areas(others)
    width = np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0])
    height = np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1])
    inter = np.clip(width, 0, None) * np.clip(height, 0, None)
    union = area + others_areas - inter
    iou: NDArray[np.float64] = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return iou


def nms(
    boxes: NDArray[np.float64],
    scores: NDArray[Any],
    classes: NDArray[Any],
    iou_threshold: float,
    max_detections: int,
) -> NDArray[np.intp]:
    """Indices kept by class-aware greedy NMS, best score first (ties: lower index first).

    Boxes of different classes are moved apart by a per-class offset larger than any
    coordinate, so one pass over all classes never lets classes suppress each other. The
    candidates are sorted once and compacted after each kept box, so every iteration is a
    handful of vectorised operations over the survivors.
    """
    if boxes.shape[0] == 0 or max_detections <= 0:
        return np.empty(0, dtype=np.intp)
    span = float(np.abs(boxes).max()) * 2 + 1
    order = np.argsort(-scores.astype(np.float64), kind="stable")
    remaining = boxes[order] + (classes[order].astype(np.float64) * span)[:, None]
    areas = _areas(remaining)
    keep: list[int] = []
    while order.size and len(keep) < max_detections:
        keep.append(int(order[0]))
        iou = iou_one_to_many(remaining[0], remaining[1:], float(areas[0]), areas[1:])
        survivors = iou <= iou_threshold
        order, remaining, areas = (
            order[1:][survivors],
            remaining[1:][survivors],
            areas[1:][survivors],
        )
    return np.asarray(keep, dtype=np.intp)


def detect(
    output: NDArray[Any],
    config: DetectionConfig,
    labels: Sequence[str],
    transform: BoxTransform,
) -> list[dict[str, Any]]:
    """``[{"label", "class_index", "score", "box": [x1, y1, x2, y2]}]`` in original pixels."""
    rows = _rows(output, config.layout)
    if rows.shape[1] < 5:
        raise InternalError(
            f"detection output has {rows.shape[1]} values per anchor; expected 4 box values "
            "and at least one class score"
        )
    class_scores = rows[:, 4:]
    classes = np.argmax(class_scores, axis=1)
    scores = class_scores[np.arange(rows.shape[0]), classes].astype(np.float64)
    selected = np.flatnonzero(scores >= config.score_threshold)
    if selected.size > MAX_CANDIDATES:
        best = np.argpartition(-scores[selected], MAX_CANDIDATES - 1)[:MAX_CANDIDATES]
        selected = np.sort(selected[best])
    boxes = xywh_to_xyxy(rows[selected, :4])
    kept = nms(
        boxes, scores[selected], classes[selected], config.iou_threshold, config.max_detections
    )
    mapped = transform.to_original(boxes[kept]) if kept.size else np.empty((0, 4))
    results = []
    for box, index in zip(mapped, selected[kept], strict=True):
        cls = int(classes[index])
        results.append(
            {
                "label": labels[cls] if cls < len(labels) else str(cls),
                "class_index": cls,
                "score": float(scores[index]),
                "box": [float(v) for v in box],
            }
        )
    return results


def _rows(output: NDArray[Any], layout: DetectionLayout) -> NDArray[Any]:
    """One row per anchor: [cx, cy, w, h, score_0, ...]."""
    array = np.asarray(output)
    if array.ndim == 3:
        if array.shape[0] != 1:
            raise InternalError(
                f"detection output has batch size {array.shape[0]}; expected one image"
            )
        array = array[0]
    if array.ndim != 2:
        raise InternalError(
            f"detection output has shape {list(np.shape(output))}; expected "
            "[1, 4+classes, anchors] or [1, anchors, 4+classes]"
        )
    return array.T if layout == "channels_first" else array
