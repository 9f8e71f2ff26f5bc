from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from mlinfer.optimizer.clean import clean_model
from mlinfer.optimizer.errors import ModelCheckError, UnsupportedOpError
from mlinfer.optimizer.inspect import inspect_model
from mlinfer.optimizer.runner import open_session


def _model(op_type: str, domain: str = "", opset: int = 17) -> onnx.ModelProto:
    node = helper.make_node(op_type, ["x"], ["y"], name="the_node", domain=domain)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
    )
    imports = [helper.make_opsetid("", opset)]
    if domain:
        imports.append(helper.make_opsetid(domain, 1))
    return helper.make_model(graph, opset_imports=imports)


def test_describes_inputs_outputs_and_ops(digits_onnx: Path, repo: Path) -> None:
    info = inspect_model(digits_onnx)
    assert info.opset == 17 and info.batched
    assert info.inputs[0].name == "pixels" and info.inputs[0].shape == ("batch", 64)
    assert info.inputs[0].dynamic_axes == (0,)
    assert info.op_types["MatMul"] == 2 and not info.looks_like_transformer
    assert inspect_model(repo / "text_encoder" / "1" / "model.onnx").looks_like_transformer


def test_an_unknown_op_names_op_and_node(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(_model("Frobnicate"), path)
    with pytest.raises(UnsupportedOpError, match="node 'the_node' uses op Frobnicate"):
        inspect_model(path)


def test_an_op_without_a_kernel_here_names_op_and_node(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(_model("Frobnicate", domain="com.example"), path)
    inspect_model(path)  # a custom domain is legal ONNX ...
    with pytest.raises(UnsupportedOpError, match="node 'the_node' uses op Frobnicate"):
        open_session(path)  # ... but nothing here runs it


def test_a_type_the_op_cannot_take_names_op_and_node(tmp_path: Path) -> None:
    node = helper.make_node("Relu", ["x"], ["y"], name="relu_u16")
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.UINT16, [2])],
        [helper.make_tensor_value_info("y", TensorProto.UINT16, [2])],
    )
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    with pytest.raises(UnsupportedOpError, match=r"node 'relu_u16' uses op Relu.*uint16"):
        open_session(path)


def test_not_a_model(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(b"\x00garbage")
    with pytest.raises(ModelCheckError, match="not a readable ONNX model"):
        inspect_model(path)
    with pytest.raises(ModelCheckError, match="does not exist"):
        inspect_model(tmp_path / "missing.onnx")


def test_cleaning_keeps_the_outputs_and_names_every_node(digits_onnx: Path, tmp_path: Path) -> None:
    cleaned = clean_model(digits_onnx, tmp_path / "clean.onnx")
    model = onnx.load(str(cleaned))
    names = [n.name for n in model.graph.node]
    assert all(names) and len(set(names)) == len(names)
    assert len(model.graph.node) < len(onnx.load(str(digits_onnx)).graph.node)  # MatMul+Add fused
    x = np.random.default_rng(0).random((16, 64), dtype=np.float32)
    before = open_session(digits_onnx).run(None, {"pixels": x})[0]
    after = open_session(cleaned).run(None, {"pixels": x})[0]
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-6)
