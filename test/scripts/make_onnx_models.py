#!/usr/bin/env python3
"""Writes small ONNX language models, spelled the way exporters spell them,
with ONNX Runtime's outputs as the reference (checked in; needs the `onnx`
and `onnxruntime` packages, which CI does not: rerun by hand after changes):

    python3 test/scripts/make_onnx_models.py test/e2e/Inputs/onnx

tiny-lm-opset{13,18}.onnx: token ids int64 [batch, seq] -> logits float
[batch, seq, 32]. An embedding Gather, RMSNorm as Pow/ReduceMean/Add/Sqrt/
Reciprocal/Mul, causal self-attention with heads split and merged by
Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains, a Range /
LessOrEqual / Where causal mask, Softmax, a SwiGLU MLP as Sigmoid/Mul, the
residual adds, and an output head. opset 13 passes reduction axes and
Unsqueeze/Squeeze axes as attributes or inputs as that opset does; opset 18
as inputs throughout (what torch's dynamo exporter writes).

scatter-nd.onnx: ScatterND at general indices and at a Range's (which the
importer turns into a slice insertion).

einsum-if.onnx: an Einsum output head and an If whose condition is a
constant; if-dynamic.onnx: the same with a condition computed from the
input (refused). bad-*.onnx and undefined-input.onnx: graphs the importer
must refuse with one line naming the node.

For each model: tokens.npy (int64 [2, 7], fresh random ids drawn once here,
seed printed) and <model>.logits.npy, ONNX Runtime's output on CPU.
"""
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

V, D, H, F = 32, 16, 2, 24  # vocab, hidden, heads, MLP width
HD = D // H


def token_model(nodes, name, initializers, vocab=V, opset=18):
    """A graph from int64 token ids [batch, seq] to float logits
    [batch, seq, vocab], as a model of IR version 8."""
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "seq", vocab])],
        initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def build(opset):
    rng = np.random.default_rng(1234)
    w = lambda *shape, s=0.3: (rng.standard_normal(shape) * s).astype(np.float32)
    inits = {
        "embed": w(V, D, s=1.0), "norm1": (1 + w(D, s=0.05)), "wq": w(D, D),
        "wk": w(D, D), "wv": w(D, D), "wo": w(D, D), "norm2": (1 + w(D, s=0.05)),
        "wg": w(D, F), "wu": w(D, F), "wd": w(F, D), "head": w(D, V),
    }
    consts = {
        "two": np.array(2.0, np.float32), "eps": np.array(1e-6, np.float32),
        "scale": np.array(1.0 / np.sqrt(HD), np.float32),
        "neg_inf": np.array(-1e9, np.float32), "zero_f": np.array(0.0, np.float32),
        "i0": np.array([0], np.int64),
        "axis_last": np.array([-1], np.int64), "heads": np.array([H], np.int64),
        "head_dim": np.array([HD], np.int64), "hidden": np.array([D], np.int64),
        "s0": np.array(0, np.int64), "s1": np.array(1, np.int64),
    }
    nodes = []
    n = lambda op, ins, outs, **attrs: nodes.append(
        helper.make_node(op, ins, outs, name=f"{op.lower()}_{len(nodes)}", **attrs))

    def rms(x, weight, out):
        n("Pow", [x, "two"], [out + "_sq"])
        if opset >= 18:
            n("ReduceMean", [out + "_sq", "axis_last"], [out + "_mean"], keepdims=1)
        else:
            n("ReduceMean", [out + "_sq"], [out + "_mean"], axes=[-1], keepdims=1)
        n("Add", [out + "_mean", "eps"], [out + "_var"])
        n("Sqrt", [out + "_var"], [out + "_std"])
        n("Reciprocal", [out + "_std"], [out + "_inv"])
        n("Mul", [x, out + "_inv"], [out + "_n"])
        n("Mul", [out + "_n", weight], [out])

    def unsqueeze0(x, out):
        n("Unsqueeze", [x, "i0"], [out])

    n("Gather", ["embed", "input_ids"], ["h0"], axis=0)
    # Sizes: batch and seq as scalars, as exporters compute them.
    n("Shape", ["input_ids"], ["ids_shape"])
    n("Gather", ["ids_shape", "s0"], ["batch"], axis=0)
    n("Gather", ["ids_shape", "s1"], ["seq"], axis=0)
    unsqueeze0("batch", "batch_1")
    unsqueeze0("seq", "seq_1")
    n("Concat", ["batch_1", "seq_1", "heads", "head_dim"], ["split_shape"], axis=0)
    n("Concat", ["batch_1", "seq_1", "hidden"], ["merge_shape"], axis=0)

    rms("h0", "norm1", "x1")
    for name in ("q", "k", "v"):
        n("MatMul", ["x1", "w" + name], [name + "_flat"])
        n("Reshape", [name + "_flat", "split_shape"], [name + "_bshd"])
        n("Transpose", [name + "_bshd"], [name + "_bhsd"], perm=[0, 2, 1, 3])
    n("Transpose", ["k_bhsd"], ["k_t"], perm=[0, 1, 3, 2])
    n("MatMul", ["q_bhsd", "k_t"], ["scores"])
    n("Mul", ["scores", "scale"], ["scaled"])
    # Causal mask: key j visible from query i when j <= i.
    n("Range", ["s0", "seq", "s1"], ["positions"])
    unsqueeze0("positions", "keys")  # [1, seq]
    n("Unsqueeze", ["positions", "axis_last"], ["queries"])  # [seq, 1]
    n("LessOrEqual", ["keys", "queries"], ["visible"])
    n("Where", ["visible", "zero_f", "neg_inf"], ["mask"])
    n("Add", ["scaled", "mask"], ["masked"])
    n("Softmax", ["masked"], ["probs"], axis=-1)
    n("MatMul", ["probs", "v_bhsd"], ["attn_bhsd"])
    n("Transpose", ["attn_bhsd"], ["attn_bshd"], perm=[0, 2, 1, 3])
    n("Reshape", ["attn_bshd", "merge_shape"], ["attn"])
    n("MatMul", ["attn", "wo"], ["attn_out"])
    n("Add", ["h0", "attn_out"], ["h1"])
    rms("h1", "norm2", "x2")
    n("MatMul", ["x2", "wg"], ["gate"])
    n("MatMul", ["x2", "wu"], ["up"])
    n("Sigmoid", ["gate"], ["gate_sig"])
    n("Mul", ["gate", "gate_sig"], ["silu"])
    n("Mul", ["silu", "up"], ["act"])
    n("MatMul", ["act", "wd"], ["mlp_out"])
    n("Add", ["h1", "mlp_out"], ["h2"])
    n("MatMul", ["h2", "head"], ["logits"])

    initializers = [numpy_helper.from_array(v, k) for k, v in {**inits, **consts}.items()]
    model = token_model(nodes, "tiny_lm", initializers, opset=opset)
    onnx.checker.check_model(model, full_check=True)
    return model


def einsum_if(constant_condition=True):
    """Einsum for the output head, and an If whose condition is a constant
    (the importer takes the branch) or, for the error test, an input-derived
    one."""
    rng = np.random.default_rng(7)
    embed = numpy_helper.from_array(rng.standard_normal((V, D)).astype(np.float32), "embed")
    head = numpy_helper.from_array(rng.standard_normal((D, V)).astype(np.float32), "head")
    two = numpy_helper.from_array(np.array(2.0, np.float32), "two")
    then_graph = helper.make_graph(
        [helper.make_node("Mul", ["pre", "two"], ["doubled"], name="double")], "then", [],
        [helper.make_tensor_value_info("doubled", TensorProto.FLOAT, None)])
    else_graph = helper.make_graph(
        [helper.make_node("Identity", ["pre"], ["same"], name="same")], "else", [],
        [helper.make_tensor_value_info("same", TensorProto.FLOAT, None)])
    nodes = [helper.make_node("Gather", ["embed", "input_ids"], ["h"], name="embed"),
             helper.make_node("Einsum", ["h", "head"], ["pre"], name="einsum",
                              equation="bsd,dv->bsv")]
    if constant_condition:
        nodes.append(helper.make_node("Constant", [], ["cond"], name="cond",
                                      value=numpy_helper.from_array(np.array(True), "c")))
    else:
        nodes.append(helper.make_node("ReduceSum", ["input_ids"], ["total"], name="total",
                                      keepdims=0))
        nodes.append(helper.make_node("Greater", ["total", "zero"], ["cond"], name="cond"))
    nodes.append(helper.make_node("If", ["cond"], ["logits"], name="branch",
                                  then_branch=then_graph, else_branch=else_graph))
    inits = [embed, head, two]
    if not constant_condition:
        inits.append(numpy_helper.from_array(np.array(0, np.int64), "zero"))
    return token_model(nodes, "einsum_if", inits)


def scatter_nd():
    """ScatterND twice on a [hidden, batch, seq] view of the embeddings:
    at indices [[5], [2]] (a general scatter), then at Range(3, 5)
    unsqueezed to [[3], [4]] (contiguous: imported as a slice insertion)."""
    rng = np.random.default_rng(11)
    embed = numpy_helper.from_array(rng.standard_normal((V, 8)).astype(np.float32), "embed")
    head = numpy_helper.from_array(rng.standard_normal((8, V)).astype(np.float32), "head")
    const = lambda name, v: numpy_helper.from_array(np.array(v, np.int64), name)
    inits = [embed, head, const("idx", [[5], [2]]), const("start", 3), const("limit", 5),
             const("one", 1), const("lo", [0]), const("hi", [2]), const("axis0", [0]),
             const("unsq", [1]), numpy_helper.from_array(np.array(2.0, np.float32), "two")]
    nodes = [
        helper.make_node("Gather", ["embed", "input_ids"], ["h"], name="embed"),
        helper.make_node("Transpose", ["h"], ["t"], name="to_hbs", perm=[2, 0, 1]),
        helper.make_node("Slice", ["t", "lo", "hi", "axis0"], ["rows"], name="rows"),
        helper.make_node("Mul", ["rows", "two"], ["upd"], name="double"),
        helper.make_node("ScatterND", ["t", "idx", "upd"], ["s1"], name="scatter_general"),
        helper.make_node("Range", ["start", "limit", "one"], ["r"], name="range"),
        helper.make_node("Unsqueeze", ["r", "unsq"], ["ri"], name="range_column"),
        helper.make_node("Neg", ["rows"], ["neg"], name="negate"),
        helper.make_node("ScatterND", ["s1", "ri", "neg"], ["s2"], name="scatter_range"),
        helper.make_node("Transpose", ["s2"], ["back"], name="to_bsh", perm=[1, 2, 0]),
        helper.make_node("MatMul", ["back", "head"], ["logits"], name="head"),
    ]
    model = token_model(nodes, "scatter_nd", inits)
    onnx.checker.check_model(model, full_check=True)
    return model


def write_scatter_nd(out, tokens):
    path = os.path.join(out, "scatter-nd.onnx")
    onnx.save(scatter_nd(), path)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"input_ids": tokens})
    np.save(os.path.join(out, "scatter-nd.logits.npy"), logits.astype(np.float32))


def broken():
    """Valid protobufs whose graphs cannot be converted, one way each: the
    importer's errors name the node."""
    def lm(nodes, inits):
        return token_model(nodes, "broken",
                           [numpy_helper.from_array(v, k) for k, v in inits.items()], vocab=8)
    embed = helper.make_node("Gather", ["E", "input_ids"], ["h"], name="embed")
    ones = lambda *shape: np.ones(shape, np.float32)
    return {
        "bad-contraction.onnx": lm([embed, helper.make_node("MatMul", ["h", "W"], ["logits"], name="head")],
                                   {"E": ones(10, 4), "W": ones(5, 8)}),
        "bad-broadcast.onnx": lm([embed, helper.make_node("Add", ["h", "B"], ["h2"], name="bias"),
                                  helper.make_node("MatMul", ["h2", "W"], ["logits"], name="head")],
                                 {"E": ones(10, 4), "B": ones(3), "W": ones(4, 8)}),
        "bad-reshape.onnx": lm([embed, helper.make_node("Reshape", ["h", "S"], ["logits"], name="reshape")],
                               {"E": ones(10, 8), "S": np.array([0, 0, 3], np.int64)}),
        "bad-reshape-infer.onnx": lm([embed, helper.make_node("Reshape", ["h", "S"], ["logits"],
                                                                 name="reshape")],
                                     {"E": ones(10, 12), "S": np.array([0, 0, -1, 5], np.int64)}),
        "undefined-input.onnx": lm([helper.make_node("MatMul", ["h", "W"], ["logits"], name="head")],
                                   {"W": ones(4, 8)}),
        "bad-perm.onnx": lm([embed, helper.make_node("Transpose", ["h"], ["t"], name="transpose",
                                                     perm=[0, 0, 2]),
                             helper.make_node("MatMul", ["t", "W"], ["logits"], name="head")],
                            {"E": ones(10, 4), "W": ones(4, 8)}),
        "bad-axes.onnx": lm([embed, helper.make_node("Unsqueeze", ["h", "A"], ["u"], name="unsqueeze"),
                             helper.make_node("MatMul", ["u", "W"], ["logits"], name="head")],
                            {"E": ones(10, 4), "A": np.array([1, 1], np.int64), "W": ones(4, 8)}),
    }


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seed = int.from_bytes(os.urandom(4), "little")
    tokens = np.random.default_rng(seed).integers(0, V, (2, 7), dtype=np.int64)
    np.save(os.path.join(out, "tokens.npy"), tokens)
    print(f"tokens (seed {seed}): {tokens.tolist()}")
    for opset in (13, 18):
        name = f"tiny-lm-opset{opset}"
        model = build(opset)
        path = os.path.join(out, name + ".onnx")
        onnx.save(model, path)
        if opset == 18:
            # The same graph with its weights in an external data file.
            onnx.save(model, os.path.join(out, "tiny-lm-external.onnx"),
                      save_as_external_data=True, all_tensors_to_one_file=True,
                      location="tiny-lm-external.bin", size_threshold=256)
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        (logits,) = session.run(None, {"input_ids": tokens})
        np.save(os.path.join(out, name + ".logits.npy"), logits.astype(np.float32))
        print(f"{path}: {os.path.getsize(path)} bytes, logits {list(logits.shape)}")
    path = os.path.join(out, "einsum-if.onnx")
    onnx.save(einsum_if(), path)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"input_ids": tokens})
    np.save(os.path.join(out, "einsum-if.logits.npy"), logits.astype(np.float32))
    onnx.save(einsum_if(constant_condition=False), os.path.join(out, "if-dynamic.onnx"))
    write_scatter_nd(out, tokens)
    for name, model in broken().items():
        onnx.save(model, os.path.join(out, name))


if __name__ == "__main__":
    main()
