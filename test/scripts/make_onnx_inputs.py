#!/usr/bin/env python3
"""Writes the small ONNX files of test/frontends/Inputs/onnx/ (checked in;
needs the `onnx` package, which CI does not: rerun by hand after changes):

    python3 test/scripts/make_onnx_inputs.py test/frontends/Inputs/onnx

good.onnx is a valid opset-17 graph (MatMul + Add, a symbolic batch
dimension, one initializer in raw_data and one in float_data);
external.onnx keeps its weight in external.bin; the others are broken in
one way each, for the bad-input tests.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)
W = rng.standard_normal((8, 4)).astype(np.float32)
b = rng.standard_normal(4).astype(np.float32)


def graph(w_tensor, nodes=None):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    bias = helper.make_tensor("b", TensorProto.FLOAT, [4], b.tolist())
    nodes = nodes or [helper.make_node("MatMul", ["x", "W"], ["xw"], name="matmul"),
                      helper.make_node("Add", ["xw", "b"], ["y"], name="add")]
    return helper.make_graph(nodes, "tiny", [x], [y], [w_tensor, bias])


def save(name, g, opset=17):
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    with open(os.path.join(out, name), "wb") as f:
        f.write(model.SerializeToString())


raw_w = numpy_helper.from_array(W, "W")
save("good.onnx", graph(raw_w))

ext = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[8, 4])
ext.data_location = TensorProto.EXTERNAL
for key, value in (("location", "external.bin"), ("offset", "0"),
                   ("length", str(W.nbytes))):
    ext.external_data.add(key=key, value=value)
with open(os.path.join(out, "external.bin"), "wb") as f:
    f.write(W.tobytes())
save("external.onnx", graph(ext))

missing = TensorProto()
missing.CopyFrom(ext)
missing.external_data[0].value = "nowhere.bin"
save("missing-external.onnx", graph(missing))

escape = TensorProto()
escape.CopyFrom(ext)
escape.external_data[0].value = "../external.bin"
save("escape-external.onnx", graph(escape))

short = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[8, 4],
                    raw_data=W.tobytes()[:120])
save("bad-size.onnx", graph(short))

save("unsupported-op.onnx", graph(raw_w, [
    helper.make_node("MatMul", ["x", "W"], ["xw"], name="matmul"),
    helper.make_node("LayerNormalization", ["xw", "b"], ["y"], name="norm")]))

save("old-opset.onnx", graph(raw_w), opset=11)

good = open(os.path.join(out, "good.onnx"), "rb").read()
with open(os.path.join(out, "truncated.onnx"), "wb") as f:
    f.write(good[: len(good) // 2])
with open(os.path.join(out, "corrupt.onnx"), "wb") as f:
    f.write(b"\xff" * 64)
