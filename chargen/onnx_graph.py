"""The model's recurrent *step* as an ONNX graph: token ids for K rows and the packed state in,
next-token logits and the new state out (the state explicit in and out, so any ONNX runtime can
carry it: onnxruntime in Python, onnxruntime-web in a page). LSTM, GRU and tanh-RNN cells.

The graph is written node by node from the same fused weights the keystroke path steps with
(``FastStepper.weights()``: layer 0's input side folded into a table, one row per token; one matrix
per layer for ``[x, h]``), so it is plain MatMul / Gather / Add / Sigmoid / Tanh that every runtime
and onnxruntime's int8 quantiser handle, instead of the ONNX ``LSTM`` op (which onnxruntime-web
and the quantiser do not cover alike). Signature (opset 17)::

    ids    int64   (K,)       token ids, one per row
    state  float32 (K, S)     S = parts * layers * hidden: rows as ``faststep.pack_state`` packs them
    -> logits     float32 (K, V)
    -> new_state  float32 (K, S)

Usage (``onnx`` is an optional dependency, imported here only when a graph is built)::

    proto = step_graph("lstm", table0, mats, biases, num_layers=2, hidden=256)   # an onnx.ModelProto
"""
from __future__ import annotations

import numpy as np

OPSET = 17
INPUTS, OUTPUTS = ("ids", "state"), ("logits", "new_state")
PARTS = {"lstm": 2, "gru": 1, "rnn": 1}          # state tensors per layer: (h, c) or h


class _Graph:
    """A tiny builder: fresh names, nodes and initializers collected in order."""

    def __init__(self, helper, numpy_helper):
        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes, self.inits, self._n = [], [], 0

    def const(self, name: str, array: np.ndarray) -> str:
        self.inits.append(self.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, kind: str, inputs: list, n_out: int = 1, **attrs):
        self._n += 1
        outs = [f"{kind.lower()}_{self._n}_{i}" for i in range(n_out)]
        self.nodes.append(self.helper.make_node(kind, list(inputs), outs, **attrs))
        return outs[0] if n_out == 1 else outs

    def split(self, x: str, sizes: list[int]) -> list[str]:
        """x cut along axis 1 into ``sizes``: always a list of names (one piece too: a 1-layer GRU's state)."""
        out = self.op("Split", [x, self.const(f"split_{self._n}", np.array(sizes, np.int64))], len(sizes), axis=1)
        return [out] if isinstance(out, str) else out


def _cell(g: _Graph, cell: str, pre: str, h: str, c: str | None, hidden: int) -> tuple[str, str | None]:
    """Pre-activations (K, G) and the old h (and c) -> the new h (and c), as faststep's cells."""
    if cell == "lstm":                                          # gates i, f, g, o
        i, f, cand, o = g.split(pre, [hidden] * 4)
        c_new = g.op("Add", [g.op("Mul", [g.op("Sigmoid", [f]), c]),
                             g.op("Mul", [g.op("Sigmoid", [i]), g.op("Tanh", [cand])])])
        return g.op("Mul", [g.op("Sigmoid", [o]), g.op("Tanh", [c_new])]), c_new
    if cell == "gru":                                           # [r z sums, W_in x, W_hn h]
        rz, x_n, h_n = g.split(pre, [2 * hidden, hidden, hidden])
        r, z = g.split(g.op("Sigmoid", [rz]), [hidden, hidden])
        n = g.op("Tanh", [g.op("Add", [x_n, g.op("Mul", [r, h_n])])])
        return g.op("Add", [n, g.op("Mul", [z, g.op("Sub", [h, n])])]), None      # (1 - z) n + z h
    return g.op("Tanh", [pre]), None


def step_graph(cell: str, table0: np.ndarray, mats: list, biases: list, num_layers: int, hidden: int,
               producer: str = "chargen"):
    """The step model as an ``onnx.ModelProto`` from the fused weights: ``table0`` (V, G) is layer 0's
    input side per token (bias included), ``mats[0]`` (H, G) its recurrent matrix, ``mats[l]``
    (in + H, G) layer l's, ``mats[-1]`` (H, V) the head; ``biases[l]`` for l >= 1 (None for 0)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if cell not in PARTS:
        raise ValueError(f"unknown cell {cell!r}")
    g = _Graph(helper, numpy_helper)
    parts, vocab = PARTS[cell], mats[-1].shape[1]
    size = parts * num_layers * hidden
    # the packed row is (parts, layers, hidden) flattened: one Split gives every (part, layer) slice
    pieces = g.split("state", [hidden] * (parts * num_layers))
    h_old = pieces[:num_layers]
    c_old = pieces[num_layers:] if parts == 2 else [None] * num_layers
    new_h, new_c, x = [], [], None
    for layer in range(num_layers):
        if layer == 0:
            rows = g.op("Gather", [g.const("table0", table0.astype(np.float32)), "ids"], axis=0)      # (K, G)
            pre = g.op("Add", [g.op("MatMul", [h_old[0], g.const("w_hh0", mats[0].astype(np.float32))]), rows])
        else:
            xh = g.op("Concat", [x, h_old[layer]], axis=1)                                             # (K, in+H)
            pre = g.op("Add", [g.op("MatMul", [xh, g.const(f"w{layer}", mats[layer].astype(np.float32))]),
                               g.const(f"b{layer}", biases[layer].astype(np.float32))])
        x, c = _cell(g, cell, pre, h_old[layer], c_old[layer], hidden)
        new_h.append(x)
        new_c.append(c)
    logits = g.op("Add", [g.op("MatMul", [x, g.const("head", mats[-1].astype(np.float32))]),
                          g.const("head_bias", biases[-1].astype(np.float32))])
    g.nodes.append(helper.make_node("Identity", [logits], ["logits"]))
    g.nodes.append(helper.make_node("Concat", new_h + (new_c if parts == 2 else []), ["new_state"], axis=1))
    graph = helper.make_graph(
        g.nodes, f"chargen_{cell}_step",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["rows"]),
         helper.make_tensor_value_info("state", TensorProto.FLOAT, ["rows", size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["rows", vocab]),
         helper.make_tensor_value_info("new_state", TensorProto.FLOAT, ["rows", size])],
        g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name=producer)
    model.ir_version = 8                 # what onnxruntime-web and older runtimes read (opset 17)
    onnx.checker.check_model(model)
    return model
