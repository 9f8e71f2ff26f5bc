"""TorchScript ResNet-50 and BERT-base for the GPU benchmarks (platform pytorch_libtorch).

The same architectures as the ONNX builders in the bench package, with seeded random
weights: ResNet-50 v1.5 with BatchNorm folded into conv biases (``image`` FP32
[N, 3, 224, 224] -> ``probabilities`` FP32 [N, 1000]) and BERT-base, post-LN encoder + tanh
pooler (``input_ids``, ``attention_mask``, ``token_type_ids`` INT64 [N, 128] ->
``pooled_output`` FP32 [N, 768]). Built where they run (110M parameters are 440 MB on disk):
``python -m bench.torchscript_models REPOSITORY``.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

BERT_SEQUENCE = 128


# -- ResNet-50 --------------------------------------------------------------------------------
class _Bottleneck(nn.Module):
    def __init__(self, inplanes: int, planes: int, stride: int) -> None:
        super().__init__()
        out = planes * 4
        self.conv1 = nn.Conv2d(inplanes, planes, 1)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1)  # v1.5: stride here
        self.conv3 = nn.Conv2d(planes, out, 1)
        self.shortcut = (
            nn.Conv2d(inplanes, out, 1, stride=stride)
            if stride != 1 or inplanes != out
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.conv1(x))
        y = F.relu(self.conv2(y))
        return F.relu(self.conv3(y) + self.shortcut(x))


class ResNet50(nn.Module):
    def __init__(self, width: int = 64, blocks: tuple[int, ...] = (3, 4, 6, 3)) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, width, 7, stride=2, padding=3)
        layers: list[nn.Module] = []
        inplanes = width
        for stage, count in enumerate(blocks):
            planes = width * 2**stage
            for i in range(count):
                layers.append(_Bottleneck(inplanes, planes, 2 if i == 0 and stage > 0 else 1))
                inplanes = planes * 4
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(inplanes, 1000)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.stem(image)), 3, 2, 1)
        x = self.layers(x).mean(dim=(2, 3))
        return torch.softmax(self.fc(x), dim=1)


# -- BERT-base --------------------------------------------------------------------------------
class _EncoderLayer(nn.Module):
    def __init__(self, hidden: int, heads: int, inner: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)
        self.ln1 = nn.LayerNorm(hidden, eps=1e-12)
        self.ffn_in = nn.Linear(hidden, inner)
        self.ffn_out = nn.Linear(inner, hidden)
        self.ln2 = nn.LayerNorm(hidden, eps=1e-12)

    def forward(self, h: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        n, s, d = h.shape
        qkv = self.qkv(h).view(n, s, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        ctx = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=bias)
        h = self.ln1(h + self.out(ctx.transpose(1, 2).reshape(n, s, d)))
        return self.ln2(h + self.ffn_out(F.gelu(self.ffn_in(h))))


class BertBase(nn.Module):
    def __init__(
        self,
        layers: int = 12,
        hidden: int = 768,
        heads: int = 12,
        vocab: int = 30522,
        max_positions: int = 512,
    ) -> None:
        super().__init__()
        self.word = nn.Embedding(vocab, hidden)
        self.position = nn.Embedding(max_positions, hidden)
        self.token_type = nn.Embedding(2, hidden)
        self.ln = nn.LayerNorm(hidden, eps=1e-12)
        self.encoder = nn.ModuleList(
            [_EncoderLayer(hidden, heads, 4 * hidden) for _ in range(layers)]
        )
        self.pooler = nn.Linear(hidden, hidden)
        for p in self.parameters():  # BERT's initializer range
            if p.dim() > 1:
                nn.init.normal_(p, std=0.02)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        h = self.word(input_ids) + self.position(positions) + self.token_type(token_type_ids)
        h = self.ln(h)
        # Additive mask [N, 1, 1, S] in the compute dtype: 0 where attended, -10000 on padding.
        bias = (1.0 - attention_mask.to(h.dtype)) * -10000.0
        bias = bias[:, None, None, :]
        for layer in self.encoder:
            h = layer(h, bias)
        return torch.tanh(self.pooler(h[:, 0]))


# -- repository -------------------------------------------------------------------------------
@dataclass(frozen=True)
class TorchBenchModel:
    name: str
    inputs: str  # config.pbtxt input list
    output: str
    build: str  # "resnet50" | "bert"
    macs: int  # per item


RESNET50 = TorchBenchModel(
    "resnet50_torch",
    '{ name: "image" data_type: TYPE_FP32 dims: [ 3, 224, 224 ] }',
    '{ name: "probabilities" data_type: TYPE_FP32 dims: [ 1000 ] }',
    "resnet50",
    4_100_000_000,
)
BERT = TorchBenchModel(
    "bert_torch",
    ", ".join(
        f'{{ name: "{n}" data_type: TYPE_INT64 dims: [ {BERT_SEQUENCE} ] }}'
        for n in ("input_ids", "attention_mask", "token_type_ids")
    ),
    '{ name: "pooled_output" data_type: TYPE_FP32 dims: [ 768 ] }',
    "bert",
    11_200_000_000,
)
MODELS = (RESNET50, BERT)
NOBATCH = "_nobatch"


def config_text(
    model: TorchBenchModel,
    *,
    name: str | None = None,
    max_batch_size: int = 256,
    dynamic_batching: bool = True,
    max_queue_delay_us: int = 0,
    instances: int = 2,
    graph_sizes: str = "",
    cuda_graphs: bool = True,
    kind: str = "KIND_GPU",
) -> str:
    params = {"precision": "fp16", "cuda_graphs": "true" if cuda_graphs else "false"}
    if graph_sizes:
        params["cuda_graph_batch_sizes"] = graph_sizes
    lines = [
        f'name: "{name or model.name}"',
        'platform: "pytorch_libtorch"',
        f"max_batch_size: {max_batch_size}",
        f"input [ {model.inputs} ]",
        f"output [ {model.output} ]",
        f"instance_group [ {{ count: {instances} kind: {kind}"
        + (" gpus: [ 0 ]" if kind == "KIND_GPU" else "")
        + " } ]",
    ]
    if dynamic_batching:
        lines.append(f"dynamic_batching {{ max_queue_delay_microseconds: {max_queue_delay_us} }}")
    lines += [
        f'parameters {{ key: "{k}" value {{ string_value: "{v}" }} }}' for k, v in params.items()
    ]
    return "\n".join(lines) + "\n"


def scripted(model: TorchBenchModel, tiny: bool = False) -> torch.jit.ScriptModule:
    """``tiny``: same inputs and outputs, a fraction of the layers (smoke runs on a CPU)."""
    torch.manual_seed(50 if model.build == "resnet50" else 12)
    if model.build == "resnet50":
        module: nn.Module = ResNet50(8, (1, 1, 1, 1)) if tiny else ResNet50()
    else:
        module = BertBase(layers=1) if tiny else BertBase()
    if model.build == "resnet50":
        # He init, with each residual branch's last conv scaled down (what BatchNorm's learned
        # scale does): activations then stay well inside FP16's range through 16 blocks.
        for m in module.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
                nn.init.normal_(m.weight, std=math.sqrt(2.0 / fan_in))
                nn.init.zeros_(m.bias)
        for block in module.modules():
            if isinstance(block, _Bottleneck):
                block.conv3.weight.data.mul_(0.2)
    return torch.jit.script(module.eval())


def write_repository(
    root: Path,
    models: tuple[TorchBenchModel, ...] = MODELS,
    kind: str = "KIND_GPU",
    tiny: bool = False,
) -> None:
    """Each model batched (dynamic batching, graphs for 1..256) and ``_nobatch`` (one at a time)."""
    for model in models:
        nobatch = model.name + NOBATCH
        for name, config in (
            (model.name, config_text(model, kind=kind)),
            (
                nobatch,
                config_text(
                    model, name=nobatch, dynamic_batching=False, graph_sizes="1", kind=kind
                ),
            ),
        ):
            directory = root / name
            (directory / "1").mkdir(parents=True, exist_ok=True)
            (directory / "config.pbtxt").write_text(config)
            target = directory / "1" / "model.pt"
            if name == model.name:
                scripted(model, tiny).save(str(target))
            elif not target.exists():
                target.symlink_to(root / model.name / "1" / "model.pt")
        print(f"wrote {model.name} (+{NOBATCH})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repository", type=Path)
    write_repository(parser.parse_args().repository)


if __name__ == "__main__":
    main()
