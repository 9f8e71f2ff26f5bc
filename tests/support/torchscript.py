"""Small TorchScript models for the pytorch_libtorch tests (needs torch: import on use)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

AFFINE_CONFIG = """name: "{name}"
platform: "pytorch_libtorch"
max_batch_size: 8
input [ {{ name: "INPUT__0" data_type: TYPE_FP32 dims: [ 4 ] }} ]
output [
  {{ name: "OUTPUT__1" data_type: TYPE_INT64 dims: [ 1 ] }},
  {{ name: "OUTPUT__0" data_type: TYPE_FP32 dims: [ 3 ] }}
]
{extra}
"""

# Inputs declared in the opposite order to forward(ids, scale): matched by argument name.
EMBED_CONFIG = """name: "{name}"
platform: "pytorch_libtorch"
max_batch_size: 16
input [
  {{ name: "scale" data_type: TYPE_FP32 dims: [ 1 ] }},
  {{ name: "ids" data_type: TYPE_INT64 dims: [ 6 ] }}
]
output [ {{ name: "pooled" data_type: TYPE_FP32 dims: [ 8 ] }} ]
{extra}
"""
VOCAB = 50


def affine_module() -> Any:
    """x [N, 4] -> (y = x W + b [N, 3], argmax(y) [N, 1]): two outputs, returned as a tuple."""
    import torch

    class Affine(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            generator = torch.Generator().manual_seed(4)
            self.weight = torch.nn.Parameter(torch.randn(4, 3, generator=generator))
            self.bias = torch.nn.Parameter(torch.randn(3, generator=generator))

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            y = x @ self.weight + self.bias
            return y, y.argmax(dim=1, keepdim=True)

    return torch.jit.script(Affine().eval())


def embed_module() -> Any:
    """(ids INT64 [N, 6], scale FP32 [N, 1]) -> mean embedding * scale [N, 8]."""
    import torch

    class Embed(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(6)
            self.embedding = torch.nn.Embedding(VOCAB, 8)

        def forward(self, ids: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
            return self.embedding(ids).mean(dim=1) * scale

    return torch.jit.script(Embed().eval())


def write_torch_model(repository: Path, name: str, module: Any, config: str) -> Path:
    directory = repository / name
    (directory / "1").mkdir(parents=True, exist_ok=True)
    (directory / "config.pbtxt").write_text(config)
    path = directory / "1" / "model.pt"
    module.save(str(path))
    return path


def write_affine(repository: Path, name: str = "affine", extra: str = "") -> Any:
    module = affine_module()
    write_torch_model(repository, name, module, AFFINE_CONFIG.format(name=name, extra=extra))
    return module


def write_embed(repository: Path, name: str = "embed", extra: str = "") -> Any:
    module = embed_module()
    write_torch_model(repository, name, module, EMBED_CONFIG.format(name=name, extra=extra))
    return module
