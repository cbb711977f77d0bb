"""One recurrent step for a few rows, written with the layers' own weights: the keystroke path
(typing, completion searches, sampling). LSTM, GRU and tanh-RNN cells.

``nn.LSTM`` spends most of a one-token call on per-call overhead; the same arithmetic as one
matrix product per layer plus a few numpy ufuncs costs a fraction of it. The state travels as
*rows*: one float32 row per sequence holding every layer's state (``pack_state`` /
``unpack_state`` are the one place that knows the layout), so a search can stack, slice and cache
states as plain arrays.

The matrix products run on one of three kernels: ``numpy`` (OpenBLAS, float32), ``torch`` (float32)
or ``bf16`` (torch, bfloat16 weights); where onnxruntime is installed, a fourth, ``onnx``, runs the
whole step as one onnxruntime call (float32; ``chargen/onnxstep.py``, ``CHARGEN_ONNX=0`` turns it off). Which is fastest depends on the row count and on the CPU
(OpenBLAS wins a single row on some CPUs and loses 8 rows badly on others; bf16 is fast only with
bf16 instructions and emulated, several times slower, without), so it is *measured*: the first
stepper of a model shape times every candidate at 1 to 32 rows and keeps the fastest for each.
``exact`` steps (a session's own typing, sampling) only ever use float32 kernels, which match the
module to 1e-5; search steps may also use ``bf16``, but only where :func:`cpu.has_bf16` says the CPU
has it. Usage:

    stepper = FastStepper(model)                        # calibrated for this model shape, once
    rows = stepper.start_rows(k)                        # (K, S) zero state
    logits, rows = stepper.step_rows(ids, rows)         # ids (K,) -> logits (K, V), new rows
    logits, state = stepper.step(ids, state)            # torch in and out, state as model.init_state
    stepper.kernels                                     # {"exact": {1: "numpy", ...}, "search": {...}}
"""
from __future__ import annotations

import copy
import sys
import time

import numpy as np
import torch

from . import cpu, onnxstep
from .model import STATE_TENSORS, state_from, state_tensors

KERNELS = ("numpy", "torch", "bf16", "onnx")    # onnx: onnxruntime, where installed (``onnxstep``)
KEYSTROKE_THREADS = 1                     # see use_keystroke_threads
GIL_SWITCH_SECONDS = 0.001                # and there
CALIBRATE_ROWS = (1, 2, 4, 8, 16, 32)     # row counts timed; other counts use the next one up
CALIBRATE_REPEATS = 9
_CALIBRATED: dict = {}                    # (model shape, candidates) -> {rows: kernel}


def use_keystroke_threads() -> None:
    """One thread per keystroke: a step of a few rows gains nothing from more (measured: the
    2 x 384 keystroke simulation ran 2.5x slower on 2 threads, whose OpenMP workers spin between
    the small products), and a server runs its sessions side by side. Process-wide: call it in a
    process that serves or simulates keystrokes (the app, `chargen suggest`, `chargen eval --ksr`),
    before building its predictors (their kernels are timed under the thread count in force).
    Also: a thread holding the GIL hands it over after 1 ms instead of Python's 5, so a keystroke
    waits at most that for a session's learning on the background thread (suggestion bar p99 with 8
    adapting sessions on this loaded host: 29-30 ms against 40 ms at 5 ms; bench/adapt.py)."""
    torch.set_num_threads(KEYSTROKE_THREADS)
    sys.setswitchinterval(GIL_SWITCH_SECONDS)


def pack_state(state, cell: str) -> np.ndarray:
    """A module state ((L, K, H) tensors: a tuple for an LSTM) -> (K, S) float32 rows."""
    t = torch.stack([p.detach().float() for p in state_tensors(state)])  # (P, L, K, H)
    return np.ascontiguousarray(t.permute(2, 0, 1, 3).reshape(t.shape[2], -1).numpy())


def unpack_state(rows: np.ndarray, cell: str, num_layers: int, hidden: int):
    """(K, S) rows -> the module's state (what ``CharLM.init_state(K)`` returns)."""
    parts = STATE_TENSORS[cell]
    t = torch.from_numpy(np.ascontiguousarray(rows, dtype=np.float32)).view(-1, parts, num_layers, hidden)
    return state_from(t.permute(1, 2, 0, 3).contiguous())                   # (P, L, K, H) -> its tensors


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """In place: sigmoid(x) = (1 + tanh(x / 2)) / 2, one transcendental ufunc."""
    x *= 0.5
    np.tanh(x, out=x)
    x *= 0.5
    x += 0.5
    return x


class FastStepper:
    def __init__(self, model, kernels: dict | None = None, bf16: bool | None = None, onnx=None):
        """``kernels``: a fixed choice, {"exact": kernel, "search": kernel} (tests force each path);
        None measures. ``bf16``: whether search steps may use bfloat16 (None: :func:`cpu.has_bf16`).
        ``onnx``: an ``onnxstep.OnnxStep`` for the "onnx" kernel (None: built from these weights
        when that kernel is forced, or is a candidate because onnxruntime is installed)."""
        self.model = model.eval()
        c = model.config
        self.cell, self.num_layers, self.hidden, self.vocab = c.cell, c.num_layers, c.hidden_size, c.vocab_size
        self.parts = STATE_TENSORS[c.cell]
        self.state_size = self.parts * c.num_layers * c.hidden_size
        self.bf16 = cpu.has_bf16() if bf16 is None else bf16
        self._weights(model)
        # onnxruntime, an optional kernel (chargen/onnxstep.py): a candidate only where installed
        forced_onnx = kernels is not None and "onnx" in kernels.values()
        if onnx is None and (forced_onnx or (kernels is None and onnxstep.available())):
            onnx = onnxstep.OnnxStep.from_weights(self.cell, self.weights(), self.num_layers, self.hidden)
        self._onnx = onnx
        extra = ("onnx",) if onnx is not None else ()
        if kernels is not None:
            for k in kernels.values():
                if k not in KERNELS:
                    raise ValueError(f"unknown kernel {k!r}: one of {', '.join(KERNELS)}")
            self.kernels = {name: dict.fromkeys(CALIBRATE_ROWS, kernels[name]) for name in ("exact", "search")}
        else:
            self.kernels = {"exact": self._calibrate(("numpy", "torch") + extra),
                            "search": self._calibrate(("numpy", "torch", "bf16") + extra if self.bf16
                                                      else ("numpy", "torch") + extra)}
        self._kernel_table()

    # ---------------------------------------------------------------- weights
    def _param(self, name: str) -> torch.Tensor:
        return self.model.get_parameter(name).detach().float()

    @torch.no_grad()
    def _pack_layer(self, layer: int, w) -> tuple:
        """Layer ``layer``'s matrix M (in, G) and bias: pre-activations = [x, h] @ M + bias, from
        the parameters ``w(name)`` gives. Layer 0's input part is folded into a table, one row per
        token (embedding @ W_ih + biases): (table0 (V, G), M_h (H, G), None)."""
        H = self.hidden
        w_ih, w_hh = w(f"rnn.weight_ih_l{layer}"), w(f"rnn.weight_hh_l{layer}")        # (G, in), (G, H)
        b_ih, b_hh = w(f"rnn.bias_ih_l{layer}"), w(f"rnn.bias_hh_l{layer}")
        if self.cell == "gru":
            # [x, h] @ M = [r and z sums (2H), W_in x (H), W_hn h (H)]: the new gate needs its two
            # halves apart, since r multiplies the recurrent one
            zero_i, zero_h = torch.zeros(w_ih.size(1), H), torch.zeros(H, H)
            m_in = torch.cat([w_ih[:2 * H].T, w_ih[2 * H:].T, zero_i], 1)           # (in, 4H)
            m_h = torch.cat([w_hh[:2 * H].T, zero_h, w_hh[2 * H:].T], 1)            # (H, 4H)
            bias = torch.cat([b_ih[:2 * H] + b_hh[:2 * H], b_ih[2 * H:], b_hh[2 * H:]])
        else:                                              # LSTM (i, f, g, o) and tanh RNN
            m_in, m_h, bias = w_ih.T, w_hh.T, b_ih + b_hh
        if layer == 0:
            table0 = np.ascontiguousarray((w("embedding.weight") @ m_in + bias).numpy())   # (V, G)
            return table0, m_h.contiguous(), None
        return None, torch.cat([m_in, m_h], 0).contiguous(), bias.numpy()              # (2H, G)

    def _weights(self, model) -> None:
        """Per layer one matrix M and a bias (see _pack_layer), then the head's."""
        mats, biases = [], []
        for layer in range(self.num_layers):
            table0, m, bias = self._pack_layer(layer, self._param)
            self.table0 = table0 if layer == 0 else self.table0
            mats.append(m)
            biases.append(bias)
        mats.append(self._param("head.weight").T.contiguous())                          # (H, V)
        biases.append(self._param("head.bias").numpy())
        self._mats = {"numpy": [m.numpy() for m in mats], "torch": mats}
        self._biases = biases
        if self.bf16:
            self._mats["bf16"] = [m.to(torch.bfloat16) for m in mats]

    def weights(self) -> tuple:
        """The fused float32 weights the step runs on: (layer 0's per-token table (V, G), the matrices
        (layer 0's recurrent one, then [x, h] per layer, then the head), the biases (None for layer 0)).
        ``onnx_graph.step_graph`` writes the same step as an ONNX graph from them."""
        return self.table0, self._mats["numpy"], self._biases

    @torch.no_grad()
    def with_params(self, params: dict) -> "FastStepper":
        """A stepper for the model with some parameters replaced (``{name: tensor}``, names as in
        ``model.named_parameters()``): it shares this one's kernel choice and every packed array the
        replaced parameters leave alone, and packs its own for the layers they touch. Never the onnx
        kernel (its session holds the trained weights): the fastest of the others, as measured. This
        stepper, and the model, are never changed (an adapted session steps with the view; Forget
        drops it)."""
        view = copy.copy(self)
        view._mats = {k: list(v) for k, v in self._mats.items()}
        view._biases = list(self._biases)
        if view._onnx is not None:       # onnxruntime holds the trained weights: the view steps without it
            view._onnx = None
            view.kernels = {"exact": view._calibrate(("numpy", "torch")),
                            "search": view._calibrate(("numpy", "torch", "bf16") if self.bf16 else ("numpy", "torch"))}
            view._kernel_table()
        bf16 = "bf16" in view.kernels["search"].values()   # a bfloat16 copy only where a search step uses it
        w = lambda name: params[name].detach().float() if name in params else self._param(name)  # noqa: E731
        for layer in sorted(self.layers_of(params)):
            if layer == self.num_layers:
                m, bias = w("head.weight").T.contiguous(), w("head.bias").numpy()
            else:
                table0, m, bias = self._pack_layer(layer, w)
                view.table0 = table0 if layer == 0 else view.table0
            view._mats["torch"][layer], view._mats["numpy"][layer], view._biases[layer] = m, m.numpy(), bias
            if "bf16" in view._mats:
                view._mats["bf16"][layer] = m.to(torch.bfloat16) if bf16 else None
        return view

    def layers_of(self, names) -> set[int]:
        """The packed layers parameters ``names`` feed: the embedding layer 0's table, rnn.*_l{k}
        layer k, the head layer num_layers."""
        return {self.num_layers if n.startswith("head.") else 0 if n.startswith("embedding.")
                else int(n.rsplit("_l", 1)[1]) for n in names}

    def packed_bytes(self, layers=None) -> int:
        """Bytes of the packed arrays of ``layers`` (all: None; the head is layer num_layers)."""
        layers = range(self.num_layers + 1) if layers is None else layers
        total = sum(self._mats["numpy"][i].nbytes + (self._mats["bf16"][i].numel() * 2
                                                     if self._mats.get("bf16") and self._mats["bf16"][i] is not None else 0)
                    for i in layers)
        return total + (self.table0.nbytes if 0 in layers else 0)

    def _mm(self, kernel: str, i: int, a: np.ndarray) -> np.ndarray:
        """a @ M_i on one kernel (float32 result, a fresh array)."""
        if kernel == "numpy":
            return a @ self._mats["numpy"][i]
        t = torch.from_numpy(a)
        if kernel == "torch":
            return torch.mm(t, self._mats["torch"][i]).numpy()
        return torch.mm(t.to(torch.bfloat16), self._mats["bf16"][i]).float().numpy()

    # ---------------------------------------------------------------- the step
    def start_rows(self, k: int = 1) -> np.ndarray:
        return np.zeros((k, self.state_size), np.float32)

    def kernel(self, rows: int, exact: bool = True) -> str:
        table = self.kernels["exact" if exact else "search"]
        return table[next((r for r in CALIBRATE_ROWS if r >= rows), CALIBRATE_ROWS[-1])]

    def _kernel_table(self) -> None:
        """kernel(rows, exact) for every row count up to the largest calibrated, looked up per step."""
        top = CALIBRATE_ROWS[-1]
        self._by_rows = {exact: [self.kernel(k, exact) for k in range(top + 1)] for exact in (True, False)}

    def step_rows(self, ids, rows: np.ndarray, exact: bool = True, kernel: str | None = None):
        """ids (K,) ints, rows (K, S) float32 -> logits (K, V), new rows (K, S). ``exact``: float32
        kernels only (a session's own text); False lets a search step take bf16 where it is
        measured faster."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        k, L, H = len(ids), self.num_layers, self.hidden
        if kernel is None:
            table = self._by_rows[exact]
            kernel = table[k] if k < len(table) else table[-1]
        if kernel == "onnx":
            return self._onnx.step_rows(ids, rows)
        state = rows.reshape(k, self.parts, L, H)
        out = np.empty((k, self.parts, L, H), np.float32)
        x = None       # (no torch.no_grad() needed: the weights are detached, nothing records a graph)
        for layer in range(L):
            h = state[:, 0, layer]
            if layer == 0:
                pre = self._mm(kernel, 0, np.ascontiguousarray(h))
                pre += self.table0[ids]
            else:
                pre = self._mm(kernel, layer, np.concatenate([x, h], 1))
                pre += self._biases[layer]
            x = self._cell(pre, state, out, layer)
        logits = self._mm(kernel, L, np.ascontiguousarray(x))
        logits += self._biases[L]
        return logits, out.reshape(k, -1)

    def _cell(self, pre: np.ndarray, state: np.ndarray, out: np.ndarray, layer: int) -> np.ndarray:
        """Pre-activations (K, G) and the old state -> the layer's new h (also written to ``out``)."""
        H = self.hidden
        if self.cell == "lstm":                                 # gates i, f, g, o
            g = np.tanh(pre[:, 2 * H:3 * H])
            act = _sigmoid(pre)
            c = act[:, H:2 * H] * state[:, 1, layer]
            c += act[:, :H] * g
            out[:, 1, layer] = c
            h = act[:, 3 * H:] * np.tanh(c)
        elif self.cell == "gru":                                # r, z, then the new gate
            rz = _sigmoid(pre[:, :2 * H])
            n = pre[:, 3 * H:] * rz[:, :H]
            n += pre[:, 2 * H:3 * H]
            np.tanh(n, out=n)
            z = rz[:, H:]
            h = n + z * (state[:, 0, layer] - n)                # (1 - z) n + z h
        else:
            h = np.tanh(pre)
        out[:, 0, layer] = h
        return h

    @torch.no_grad()
    def step(self, ids: torch.Tensor, state, exact: bool = True):
        """Torch in and out: ids (K,) int64, state as ``model.init_state(K)`` or None -> logits (K, V),
        new state."""
        ids = torch.as_tensor(ids).reshape(-1)
        rows = self.start_rows(ids.numel()) if state is None else pack_state(state, self.cell)
        logits, rows = self.step_rows(ids.numpy(), rows, exact)
        return torch.from_numpy(logits), unpack_state(rows, self.cell, self.num_layers, self.hidden)

    # ---------------------------------------------------------------- calibration
    def _calibrate(self, candidates: tuple) -> dict:
        """{rows: fastest kernel} for each of CALIBRATE_ROWS, timed on this model's weights
        (median of CALIBRATE_REPEATS interleaved runs); kept for every stepper of the same shape."""
        key = (self.cell, self.num_layers, self.hidden, self.table0.shape, candidates)
        if key in _CALIBRATED:
            return _CALIBRATED[key]
        if len(candidates) == 1:
            return dict.fromkeys(CALIBRATE_ROWS, candidates[0])
        rng = np.random.default_rng(0)
        choice = {}
        for k in CALIBRATE_ROWS:
            ids = rng.integers(0, self.vocab, k)
            rows = rng.standard_normal((k, self.state_size)).astype(np.float32) * 0.1
            times = {c: [] for c in candidates}
            for rep in range(CALIBRATE_REPEATS + 1):
                for c in candidates:
                    t = time.perf_counter()
                    self.step_rows(ids, rows, kernel=c)
                    if rep:                                      # the first run of each warms up
                        times[c].append(time.perf_counter() - t)
            choice[k] = min(candidates, key=lambda c: sorted(times[c])[len(times[c]) // 2])
        _CALIBRATED[key] = choice
        return choice

    def describe(self) -> dict:
        """For benchmark reports: the kernels chosen and why bf16 was (not) a candidate."""
        return {"cell": self.cell, "bf16_candidate": self.bf16, "cpu": cpu.kind(),
                "exact": {str(k): v for k, v in self.kernels["exact"].items()},
                "search": {str(k): v for k, v in self.kernels["search"].items()}}
