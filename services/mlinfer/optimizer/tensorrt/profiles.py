"""Optimization profiles from config.pbtxt: min batch 1, opt the largest preferred batch size,
max ``max_batch_size``. Other dynamic dimensions need explicit shapes in the config file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mlinfer.optimizer.config import Profile
from mlinfer.optimizer.errors import ConfigError
from mlinfer.optimizer.inspect import ModelInfo

Shape = tuple[int, ...]


@dataclass(frozen=True)
class InputProfile:
    name: str
    min: Shape
    opt: Shape
    max: Shape

    def as_lists(self) -> list[list[int]]:
        return [list(self.min), list(self.opt), list(self.max)]


def _fixed(dims: Sequence[int | str], name: str, what: str) -> Shape:
    unknown = [d for d in dims if not isinstance(d, int) or d < 0]
    if unknown:
        raise ConfigError(
            f"input '{name}' has dynamic dimensions {list(dims)} {what}: give its shapes in "
            f"optimization_config.yaml under tensorrt.profiles.{name} (min/opt/max)"
        )
    return tuple(int(d) for d in dims)


def derive_profiles(
    info: ModelInfo,
    max_batch_size: int,
    preferred_batch_sizes: Sequence[int],
    config_dims: Mapping[str, Sequence[int]] | None = None,
    overrides: Mapping[str, Profile] | None = None,
) -> list[InputProfile]:
    """One profile per input. ``config_dims``: per-sample dims from config.pbtxt (they win over
    the ONNX file's symbolic dims)."""
    profiles = []
    opt_batch = max((b for b in preferred_batch_sizes if b <= max_batch_size), default=0)
    opt_batch = opt_batch or max_batch_size
    for tensor in info.inputs:
        override = (overrides or {}).get(tensor.name)
        if override is not None:
            profiles.append(InputProfile(tensor.name, override.min, override.opt, override.max))
            continue
        if max_batch_size > 0:
            dims = (config_dims or {}).get(tensor.name) or tensor.shape[1:]
            per_sample = _fixed(list(dims), tensor.name, "besides the batch")
            profiles.append(
                InputProfile(
                    tensor.name,
                    (1, *per_sample),
                    (opt_batch, *per_sample),
                    (max_batch_size, *per_sample),
                )
            )
        else:
            full = _fixed(list(tensor.shape), tensor.name, "and max_batch_size is 0")
            profiles.append(InputProfile(tensor.name, full, full, full))
    return profiles
