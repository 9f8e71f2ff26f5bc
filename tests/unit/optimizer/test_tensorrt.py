"""The TensorRT stage. Building needs TensorRT, which no machine here has (no tensorrt module,
no trtexec; NVIDIA's wheels do not install here): those tests are skipped with that reason and
run wherever TensorRT exists. Everything that decides *what* is built runs here for real."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from mlinfer.optimizer.config import Profile, TensorRTOptions
from mlinfer.optimizer.data import Dataset
from mlinfer.optimizer.device import DeviceInfo, current_device, jetson_identity
from mlinfer.optimizer.engine_key import (
    cached_engine_matches,
    runtime_parts,
    verify_engine,
    write_key,
)
from mlinfer.optimizer.errors import ConfigError, EngineMismatchError, ToolUnavailableError
from mlinfer.optimizer.inspect import inspect_model
from mlinfer.optimizer.source import resolve_source
from mlinfer.optimizer.tensorrt.api import tensorrt_module
from mlinfer.optimizer.tensorrt.build import Toolchain, build_engine, engine_key
from mlinfer.optimizer.tensorrt.profiles import derive_profiles
from mlinfer.optimizer.tensorrt.trtexec import (
    BuildFlags,
    command,
    find_trtexec,
    parse_timing,
    parse_version,
)

NO_TENSORRT = "TensorRT is not installed here (no tensorrt module); runs where TensorRT exists"
NO_TRTEXEC = "trtexec is not on PATH here; runs where TensorRT's trtexec exists"
ORIN = DeviceInfo(
    "Orin",
    "8.7",
    "NVIDIA Jetson AGX Orin Developer Kit",
    ("nvidia,p3737-0000+p3701-0005", "nvidia,p3701-0005", "nvidia,tegra234"),
    "11.4",
)


def test_profiles_from_config(repo: Path) -> None:
    source = resolve_source(repo / "image_cnn")  # max_batch_size 32, preferred [8, 16]
    info = inspect_model(source.onnx_path)
    (p,) = derive_profiles(info, source.max_batch_size, source.preferred_batch_sizes())
    assert (p.name, p.min, p.opt, p.max) == (
        "image",
        (1, 3, 32, 32),
        (16, 3, 32, 32),
        (32, 3, 32, 32),
    )
    (no_preferred,) = derive_profiles(info, 8, ())
    assert no_preferred.opt == (8, 3, 32, 32)


def test_dynamic_sequence_needs_explicit_shapes(repo: Path) -> None:
    info = inspect_model(repo / "text_encoder" / "1" / "model.onnx")
    with pytest.raises(ConfigError, match=r"tensorrt\.profiles\.input_ids"):
        derive_profiles(info, 8, (4,))
    shapes = Profile(min=(1, 16), opt=(4, 64), max=(8, 64))
    profiles = derive_profiles(
        info, 8, (4,), overrides={"input_ids": shapes, "attention_mask": shapes}
    )
    assert [p.opt for p in profiles] == [(4, 64), (4, 64)]


@pytest.mark.parametrize(
    ("banner", "version"),
    [
        ("&&&& RUNNING TensorRT.trtexec [TensorRT v8502] # trtexec", "8.5.2"),
        ("&&&& RUNNING TensorRT.trtexec [TensorRT v100300] # trtexec", "10.3.0"),
        ("no banner", None),
    ],
)
def test_trtexec_version_banner(banner: str, version: str | None) -> None:
    assert parse_version(banner) == version


def test_trtexec_commands_for_both_versions(repo: Path) -> None:
    info = inspect_model(repo / "image_cnn" / "1" / "model.onnx")
    profiles = derive_profiles(info, 32, (8, 16))
    flags = BuildFlags("int8", workspace_mib=512, timing_cache=Path("/c/t.cache"), dla_core=0)
    old = command("trtexec", Path("m.onnx"), Path("m.plan"), profiles, flags, "8.5.2")
    assert "--minShapes=image:1x3x32x32" in old and "--maxShapes=image:32x3x32x32" in old
    assert "--memPoolSize=workspace:512" in old and "--buildOnly" in old
    assert {
        "--int8",
        "--fp16",
        "--useDLACore=0",
        "--allowGPUFallback",
        "--timingCacheFile=/c/t.cache",
    } <= set(old)
    new = command(
        "trtexec",
        Path("m.onnx"),
        Path("m.plan"),
        profiles,
        BuildFlags("int8", strongly_typed=True),
        "10.3.0",
    )
    assert "--stronglyTyped" in new and "--skipInference" in new
    assert "--int8" not in new  # a strongly typed network takes its precisions from Q/DQ


def test_trtexec_timing_lines() -> None:
    out = (
        "[I] Throughput: 1234.5 qps\n[I] Latency: min = 0.7 ms, max = 2.0 ms, mean = 0.8 ms,"
        " median = 0.79 ms, percentile(90%) = 0.9 ms, percentile(95%) = 1.0 ms, "
        "percentile(99%) = 1.5 ms\n"
    )
    assert parse_timing(out) == {
        "throughput_qps": 1234.5,
        "mean_ms": 0.8,
        "p50_ms": 0.79,
        "p99_ms": 1.5,
    }


def test_jetson_module_from_the_device_tree(tmp_path: Path) -> None:
    (tmp_path / "model").write_bytes(b"NVIDIA Jetson AGX Orin Developer Kit\0")
    (tmp_path / "compatible").write_bytes(
        b"nvidia,p3737-0000+p3701-0005\0nvidia,p3701-0005\0nvidia,tegra234\0"
    )
    model, compatible = jetson_identity(tmp_path)
    assert model == "NVIDIA Jetson AGX Orin Developer Kit"
    assert compatible[1] == "nvidia,p3701-0005"
    device = current_device(tmp_path)
    assert device is not None and device.compute_capability == "8.7"
    (tmp_path / "compatible").write_bytes(b"raspberrypi,4-model-b\0brcm,bcm2711\0")
    assert jetson_identity(tmp_path) == (None, ())


def _key(
    onnx: Path,
    precision: str = "int8",
    version: str = "8.5.2",
    device: DeviceInfo = ORIN,
    data: Dataset | None = None,
):  # type: ignore[no-untyped-def]
    profiles = derive_profiles(inspect_model(onnx), 64, ())
    return engine_key(
        onnx,
        precision,
        data,
        profiles,
        BuildFlags(precision),
        Toolchain(version, trtexec="trtexec"),
        device,
    )


def test_every_part_changes_the_key(digits_onnx: Path, tmp_path: Path) -> None:
    base = _key(digits_onnx)
    other_onnx = tmp_path / "m.onnx"
    changed = onnx.load(str(digits_onnx))
    changed.doc_string = "retrained"
    onnx.save(changed, str(other_onnx))
    nano = DeviceInfo(
        "Orin", "8.7", "NVIDIA Jetson Orin Nano", ("nvidia,p3767-0005", "nvidia,tegra234"), "11.4"
    )
    data = Dataset({"pixels": np.zeros((2, 64), np.float32)}, None, "d")
    variants = [
        _key(digits_onnx, precision="fp16"),
        _key(digits_onnx, version="10.3.0"),
        _key(digits_onnx, device=nano),
        _key(digits_onnx, data=data),
        _key(other_onnx),
    ]
    digests = {base.digest, *(v.digest for v in variants)}
    assert len(digests) == 6
    assert _key(digits_onnx).digest == base.digest  # and nothing else does


def test_a_mismatching_engine_is_never_loaded(digits_onnx: Path, tmp_path: Path) -> None:
    engine = tmp_path / "model.plan"
    engine.write_bytes(b"engine")
    with pytest.raises(EngineMismatchError, match=r"no readable model\.plan\.key\.json"):
        verify_engine(engine, runtime_parts("8.5.2", "11.4", ORIN))
    write_key(engine, _key(digits_onnx))
    verify_engine(engine, runtime_parts("8.5.2", "11.4", ORIN))  # same TensorRT and module
    with pytest.raises(
        EngineMismatchError,
        match=r"tensorrt_version: engine has '8.5.2', "
        r"now '10.3.0'.*rebuild",
    ):
        verify_engine(engine, runtime_parts("10.3.0", "11.4", ORIN))


def test_a_matching_cached_engine_is_reused_and_a_changed_key_rebuilds(
    digits_onnx: Path, tmp_path: Path
) -> None:
    toolchain = Toolchain("10.3.0", trtexec=str(tmp_path / "no-trtexec"))
    options = TensorRTOptions(timing_cache=tmp_path / "t.cache")
    profiles = derive_profiles(inspect_model(digits_onnx), 64, ())
    key = engine_key(
        digits_onnx,
        "fp16",
        None,
        profiles,
        BuildFlags("fp16", timing_cache=tmp_path / "t.cache"),
        toolchain,
        current_device(),
    )
    cached = tmp_path / "cache" / "engines" / f"{key.digest}.plan"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"previously built engine")
    write_key(cached, key)
    target = tmp_path / "model.plan"
    got = build_engine(
        digits_onnx,
        "fp16",
        profiles,
        options,
        toolchain=toolchain,
        cache_dir=tmp_path / "cache",
        target=target,
    )
    assert got.digest == key.digest and target.read_bytes() == b"previously built engine"
    assert cached_engine_matches(target, key)
    with pytest.raises(ToolUnavailableError, match="cannot run"):  # int8: a new key, a build
        build_engine(
            digits_onnx,
            "int8",
            profiles,
            options,
            toolchain=toolchain,
            cache_dir=tmp_path / "cache",
            target=target,
        )


@pytest.mark.tensorrt
@pytest.mark.skipif(tensorrt_module() is None, reason=NO_TENSORRT)
@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_build_with_the_python_api(repo: Path, tmp_path: Path, precision: str) -> None:
    from mlinfer.optimizer.config import Int8Options
    from mlinfer.optimizer.int8 import quantize_int8_static

    source = resolve_source(repo / "image_cnn")
    onnx_path = source.onnx_path
    if precision == "int8":
        data = Dataset(
            {"image": np.random.default_rng(0).random((16, 3, 32, 32), np.float32)}, None, "random"
        )
        onnx_path = quantize_int8_static(
            onnx_path, tmp_path / "q.onnx", data, Int8Options(), target_kind="tensorrt"
        )
    profiles = derive_profiles(inspect_model(onnx_path), 32, (8, 16))
    toolchain = Toolchain(str(tensorrt_module().__version__), module=tensorrt_module())
    target = tmp_path / "model.plan"
    key = build_engine(
        onnx_path,
        precision,
        profiles,
        TensorRTOptions(),
        toolchain=toolchain,
        cache_dir=tmp_path / "cache",
        target=target,
    )
    assert target.stat().st_size > 0 and cached_engine_matches(target, key)
    assert (tmp_path / "cache" / "timing").is_dir()  # the timing cache was saved


@pytest.mark.tensorrt
@pytest.mark.skipif(find_trtexec("trtexec") is None, reason=NO_TRTEXEC)
def test_build_with_trtexec(repo: Path, tmp_path: Path) -> None:
    from mlinfer.optimizer.tensorrt.trtexec import trtexec_version

    binary = find_trtexec("trtexec")
    assert binary is not None
    source = resolve_source(repo / "image_cnn")
    profiles = derive_profiles(inspect_model(source.onnx_path), 32, (8, 16))
    toolchain = Toolchain(trtexec_version(binary), trtexec=binary)
    target = tmp_path / "model.plan"
    build_engine(
        source.onnx_path,
        "fp16",
        profiles,
        TensorRTOptions(),
        toolchain=toolchain,
        cache_dir=tmp_path / "cache",
        target=target,
    )
    assert target.stat().st_size > 0
    assert shutil.which(binary) or Path(binary).is_file()
