"""A deliberately slow model (an ONNX Loop of many tiny steps) to build up real queues."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from mlinfer.samples.graph import GraphBuilder
from mlinfer.samples.models import SampleModel


def slow_model(name: str = "slow", iterations: int = 150_000) -> SampleModel:
    g = GraphBuilder(name)
    x = g.input("INPUT0", TensorProto.FLOAT, ["batch", 4])
    body = helper.make_graph(
        [
            helper.make_node("Add", ["acc_in", "one"], ["acc_out"]),
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, ["batch", 4]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, ["batch", 4]),
        ],
        [helper.make_tensor("one", TensorProto.FLOAT, [], [0.0])],
    )
    trips = g.const(np.array(iterations, np.int64), "trips")
    cond = g.const(np.array(True), "cond")
    g.nodes.append(helper.make_node("Loop", [trips, cond, x], ["OUTPUT0"], body=body))
    g.output("OUTPUT0", TensorProto.FLOAT, ["batch", 4])
    config = f"""name: "{name}"
platform: "onnxruntime_onnx"
max_batch_size: 1
input [ {{ name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] }} ]
output [ {{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 4 ] }} ]
dynamic_batching {{ priority_levels: 2 default_priority_level: 2 }}
instance_group [ {{ count: 1 kind: KIND_CPU }} ]
"""
    return SampleModel(name, g.model(), config, {})
