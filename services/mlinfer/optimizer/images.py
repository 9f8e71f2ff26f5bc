"""A directory of images as calibration/validation data, through the model's own preprocessing.

Images are preprocessed exactly as ``POST /infer/image`` does for the model (the ``image_*``
parameters of its config.pbtxt, :class:`~mlinfer.imaging.ImagePreprocessor`), so calibration
sees the tensors serving will. Images in sub-directories are labelled by the sub-directory's
position in the model's label file when it has one, else by the sorted sub-directory names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlinfer.core.errors import MLInferError
from mlinfer.optimizer.errors import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def _label_names(images: list[Path], root: Path, labels: tuple[str, ...]) -> list[str] | None:
    folders = sorted({p.parent.relative_to(root).as_posix() for p in images} - {"."})
    if not folders:
        return None
    return list(labels) if labels and set(folders) <= set(labels) else folders


def read_image_directory(root: Path, image_config: Any, label_key: str) -> dict[str, NDArray[Any]]:
    """``image_config`` is ``(model_config, labels)``: the config.pbtxt and its label names."""
    from mlinfer.imaging import ImagePreprocessor, decode_image

    if image_config is None:
        raise DataError(f"{root}: an image directory needs the model's config.pbtxt")
    config, labels = image_config
    try:
        preprocessor = ImagePreprocessor.from_config(config)
    except MLInferError as exc:
        raise DataError(f"{root}: the model's image preprocessing is not usable: {exc}") from None
    images = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise DataError(f"{root} holds no {'/'.join(IMAGE_SUFFIXES)} images")
    names = _label_names(images, root, tuple(labels))
    tensors, targets = [], []
    for path in images:
        try:
            decoded = decode_image(path.read_bytes())
        except MLInferError as exc:
            raise DataError(f"{path}: {exc}") from None
        tensor = np.asarray(preprocessor.to_tensor(decoded).data)
        tensors.append(tensor[0] if preprocessor.batched else tensor)
        if names is not None:
            targets.append(names.index(path.parent.relative_to(root).as_posix()))
    arrays = {preprocessor.input_name: np.stack(tensors)}
    if names is not None:
        arrays[label_key] = np.asarray(targets, np.int64)
    return arrays
