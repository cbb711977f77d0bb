"""onnxruntime as a kernel of the keystroke path: the step graph in an onnxruntime session. Optional: without ``onnxruntime`` (and ``onnx``, which writes the graph) installed,
``available()`` is False and the keystroke path keeps its numpy / torch kernels.

``OnnxStep`` runs the step graph of ``onnx_graph`` in an onnxruntime session on one thread (a
keystroke's step is a few small products; a second thread only spins, as for the other kernels)
and steps packed state rows exactly as ``FastStepper.step_rows`` does, so ``faststep`` offers it as
one more measured candidate ("onnx"); ``onnx_export`` runs exported models (fp32, int8) with it.
Usage:

    step = OnnxStep(proto_or_bytes_or_path)
    logits, rows = step.step_rows(ids, rows)             # ids (K,), rows (K, S) -> (K, V), (K, S)

Environment: ``CHARGEN_ONNX=0`` keeps onnxruntime off the keystroke path even where installed.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

from .onnx_graph import INPUTS, step_graph


def available() -> bool:
    """Whether the keystroke path may offer onnxruntime: installed (with onnx, to write the graph)
    and not turned off with CHARGEN_ONNX=0."""
    if os.environ.get("CHARGEN_ONNX", "1").strip() == "0":
        return False
    return all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxruntime"))


class OnnxStep:
    """One onnxruntime session of a step model: ids (K,) + state rows (K, S) -> logits, new rows."""

    def __init__(self, model, threads: int = 1):
        """``model``: an ``onnx.ModelProto``, its serialized bytes, or a path to a ``.onnx`` file."""
        import onnxruntime as ort
        if hasattr(model, "SerializeToString"):
            model = model.SerializeToString()
        elif isinstance(model, (str, Path)):
            model = Path(model).read_bytes()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self.state_size = int(self.session.get_inputs()[1].shape[1])

    @classmethod
    def from_weights(cls, cell: str, weights: tuple, num_layers: int, hidden: int) -> "OnnxStep":
        """A session of the step graph written from ``FastStepper.weights()``."""
        return cls(step_graph(cell, *weights, num_layers=num_layers, hidden=hidden))

    def step_rows(self, ids, rows: np.ndarray):
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        rows = np.ascontiguousarray(rows, dtype=np.float32).reshape(len(ids), self.state_size)
        logits, new = self.session.run(None, {INPUTS[0]: ids, INPUTS[1]: rows})
        return logits, new
