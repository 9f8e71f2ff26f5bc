from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from mlinfer.optimizer.candidates import CandidateBuilder, GateInputs
from mlinfer.optimizer.clean import clean_model
from mlinfer.optimizer.config import Fp16Options, Int8Options, ModelOptimization, with_overrides
from mlinfer.optimizer.data import Dataset
from mlinfer.optimizer.fp16 import convert_fp16
from mlinfer.optimizer.int8 import (
    cpu_has_vnni,
    quantize_int8_dynamic,
    quantize_int8_static,
)
from mlinfer.optimizer.progress import Progress
from mlinfer.optimizer.runner import open_session, run_dataset
from mlinfer.optimizer.sensitivity import node_damage


def _inits(path: Path) -> dict[str, np.ndarray]:
    return {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}


def _digits_dataset(n: int = 64) -> Dataset:
    from mlinfer.samples.models import digits_split

    x, _, _, _ = digits_split()
    return Dataset({"pixels": x[:n]}, None, "digits")


@pytest.mark.parametrize(
    ("target", "activation_type"),
    [("tensorrt", TensorProto.INT8), ("onnxruntime", TensorProto.UINT8)],
)
def test_static_int8_types_follow_the_target(
    digits_onnx: Path, tmp_path: Path, target: str, activation_type: int
) -> None:
    out = quantize_int8_static(
        digits_onnx, tmp_path / "q.onnx", _digits_dataset(), Int8Options(), target_kind=target
    )  # type: ignore[arg-type]
    model = onnx.load(str(out))
    zero_points = {n.input[2]: n for n in model.graph.node if n.op_type == "QuantizeLinear"}
    inits = _inits(out)
    assert zero_points, "no activation was quantized"
    for name in zero_points:
        zp = model.graph.initializer[[i.name for i in model.graph.initializer].index(name)]
        assert zp.data_type == activation_type
        if target == "tensorrt":  # symmetric: TensorRT's explicit quantization needs zero 0
            assert not inits[name].any()


def test_reduce_range_follows_vnni(tmp_path: Path) -> None:
    flags = tmp_path / "cpuinfo"
    flags.write_text("flags\t\t: fpu sse2 avx2 fma\n")
    assert not cpu_has_vnni(flags)
    flags.write_text("flags\t\t: fpu avx2 avx512f avx512_vnni\n")
    assert cpu_has_vnni(flags)
    assert not cpu_has_vnni(tmp_path / "missing")


def test_dynamic_int8_for_a_transformer_encoder(repo: Path, tmp_path: Path) -> None:
    source = repo / "text_encoder" / "1" / "model.onnx"
    out = quantize_int8_dynamic(source, tmp_path / "d.onnx", Int8Options())
    ops = {n.op_type for n in onnx.load(str(out)).graph.node}
    assert ops & {"DynamicQuantizeLinear", "MatMulInteger", "DynamicQuantizeMatMul"}
    ids = np.random.default_rng(0).integers(0, 1000, (2, 16), dtype=np.int64)
    feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    ref = open_session(source).run(None, feeds)[0]
    got = open_session(out).run(None, feeds)[0]
    assert got.shape == ref.shape
    cos = np.sum(ref * got) / (np.linalg.norm(ref) * np.linalg.norm(got))
    assert cos > 0.98


def test_fp16_keeps_io_fp32_and_honours_the_block_list(digits_onnx: Path, tmp_path: Path) -> None:
    out = convert_fp16(digits_onnx, tmp_path / "h.onnx", Fp16Options())
    model = onnx.load(str(out))
    assert model.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert model.graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert {i.data_type for i in model.graph.initializer} == {TensorProto.FLOAT16}
    blocked = convert_fp16(
        digits_onnx, tmp_path / "b.onnx", Fp16Options(op_block_list=("Softmax",))
    )
    model = onnx.load(str(blocked))
    softmax = next(n for n in model.graph.node if n.op_type == "Softmax")
    cast = next(n for n in model.graph.node if softmax.input[0] in n.output)
    assert cast.op_type == "Cast" and cast.attribute[0].i == TensorProto.FLOAT
    x = np.random.default_rng(0).random((4, 64), dtype=np.float32)
    ref = open_session(digits_onnx).run(None, {"pixels": x})[0]
    for path in (out, blocked):
        np.testing.assert_allclose(open_session(path).run(None, {"pixels": x})[0], ref, atol=2e-3)


def _outlier_model(path: Path) -> None:
    """x -> MatMul(first) -> Add(one huge column) -> MatMul(second) -> y.

    The huge column forces a coarse scale on the Add's output, which wipes out the other
    columns for 'second': the node whose quantized input does the damage.
    """
    rng = np.random.default_rng(0)
    w1 = rng.standard_normal((16, 16)).astype(np.float32)
    bias = np.zeros(16, np.float32)
    bias[0] = 5000.0
    w2 = rng.standard_normal((16, 8)).astype(np.float32)
    w2[0] = 0.0  # the outlier column does not reach the output
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"], name="first"),
        helper.make_node("Add", ["h", "bias"], ["hb"], name="shift"),
        helper.make_node("MatMul", ["hb", "w2"], ["y"], name="second"),
    ]
    graph = helper.make_graph(
        nodes,
        "outlier",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 8])],
        [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (bias, "bias"), (w2, "w2"))],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_sensitivity_blames_the_node_reading_the_outlier(tmp_path: Path) -> None:
    source = tmp_path / "outlier.onnx"
    _outlier_model(source)
    data = Dataset(
        {"x": np.random.default_rng(1).standard_normal((32, 16), np.float32)}, None, "random"
    )
    quant = quantize_int8_static(
        source, tmp_path / "q.onnx", data, Int8Options(), target_kind="tensorrt"
    )
    ranked = node_damage(source, quant, data.take(0, 8))
    assert ranked[0].node == "second", ranked
    assert ranked[0].drop_db > 10
    assert node_damage(source, quant, data.take(0, 8), skip=["second"])[0].node != "second"


def test_fallback_keeps_the_damaging_node_in_float_until_it_fits(tmp_path: Path) -> None:
    source = tmp_path / "outlier.onnx"
    _outlier_model(source)
    rng = np.random.default_rng(2)
    calibration = Dataset({"x": rng.standard_normal((64, 16), np.float32)}, None, "random")
    validation = Dataset({"x": rng.standard_normal((64, 16), np.float32)}, None, "random")
    fp32 = clean_model(source, tmp_path / "clean.onnx")
    reference = run_dataset(open_session(source), validation)
    config = with_overrides(
        ModelOptimization(),
        {
            "target": "tensorrt",
            "budget.min_cosine": 0.999,
            "fallback.nodes_per_round": 1,
        },
    )
    builder = CandidateBuilder(
        fp32, tmp_path, config, GateInputs(validation, reference, calibration), Progress()
    )
    report = builder.build("int8")
    assert report.status == "passed", report.gate and report.gate.reasons
    assert report.fallback_rounds >= 1 and report.excluded_nodes[0] == "second"

    no_fallback = with_overrides(config, {"fallback.max_rounds": 0})
    refused = CandidateBuilder(
        fp32, tmp_path, no_fallback, GateInputs(validation, reference, calibration), Progress()
    )
    failed = refused.build("int8")
    assert failed.status == "over budget" and failed.gate is not None
    assert "cosine" in failed.gate.reasons[0]


def test_a_conversion_the_converter_gets_wrong_is_an_error_not_a_broken_file(
    digits_onnx: Path, tmp_path: Path
) -> None:
    from mlinfer.optimizer.errors import OptimizerError

    with pytest.raises(OptimizerError, match="could not convert this model to FP16"):
        convert_fp16(digits_onnx, tmp_path / "b.onnx", Fp16Options(op_block_list=("MatMul",)))
    assert not (tmp_path / "b.onnx").exists()


def test_mixed_precision_when_plain_fp16_breaks_the_budget(
    digits_onnx: Path, tmp_path: Path
) -> None:
    validation = _digits_dataset(64)
    fp32 = clean_model(digits_onnx, tmp_path / "clean.onnx")
    reference = run_dataset(open_session(digits_onnx), validation)
    # plain FP16 reaches ~80 dB on digits: a 100 dB floor refuses it
    config = with_overrides(ModelOptimization(), {"budget.min_sqnr_db": 100.0})
    plain = CandidateBuilder(
        fp32, tmp_path, config, GateInputs(validation, reference, None), Progress()
    ).build("fp16")
    assert plain.status == "over budget"
    amp = with_overrides(config, {"fp16.auto_mixed_precision": True})
    report = CandidateBuilder(
        fp32, tmp_path, amp, GateInputs(validation, reference, None), Progress()
    ).build("fp16")
    assert report.status == "passed", report.error or (report.gate and report.gate.reasons)
    assert report.fallback_rounds >= 1 and report.excluded_nodes
    assert report.path is not None
    kept = {i.data_type for i in onnx.load(str(report.path)).graph.initializer}
    assert TensorProto.FLOAT in kept  # some weights stayed FP32


def test_fp16_of_an_integer_mask_cast_into_float(tmp_path: Path) -> None:
    """BERT's pattern: an INT64 attention mask cast to float, then arithmetic on it."""
    nodes = [
        helper.make_node("Cast", ["mask"], ["maskf"], name="cast_mask", to=TensorProto.FLOAT),
        helper.make_node("Mul", ["maskf", "x"], ["masked"], name="apply"),
        helper.make_node("MatMul", ["masked", "w"], ["y"], name="project"),
    ]
    w = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
    graph = helper.make_graph(
        nodes,
        "mask",
        [
            helper.make_tensor_value_info("mask", TensorProto.INT64, ["batch", 8]),
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
        [numpy_helper.from_array(w, "w")],
    )
    source = tmp_path / "mask.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), source)
    out = convert_fp16(source, tmp_path / "mask.fp16.onnx", Fp16Options())
    cast = next(n for n in onnx.load(str(out)).graph.node if n.name == "cast_mask")
    assert cast.attribute[0].i == TensorProto.FLOAT16
    feeds = {
        "mask": np.array([[1] * 6 + [0] * 2], np.int64),
        "x": np.random.default_rng(1).standard_normal((1, 8)).astype(np.float32),
    }
    np.testing.assert_allclose(
        open_session(out).run(None, feeds)[0],
        open_session(source).run(None, feeds)[0],
        rtol=1e-2,
        atol=1e-2,
    )
