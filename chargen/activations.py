"""What a recurrent layer computes at every step, exactly: a stepped pass in torch, written with
the layers' own weights, that returns per token and per layer the hidden state h, the cell state c
(LSTM) and every gate (LSTM input i, forget f, candidate g, output o; GRU reset r, update z, new n).
``nn.LSTM`` returns only the last layer's h per step and the final (h, c); this pass equals the
module's forward to 1e-5 (tests/test_activations.py) and gives everything in between. Also: the
top-k next tokens after each token, how saturated the gates are, and which characters of a text
each token covers (a subword token spans several; a jamo model's text is the decomposed one).

    trace = stepped_pass(model, ids)                  # ids (T,) -> Trace
    trace.hidden[layer]                               # (T, H) h after each token
    trace.gates["f"][layer]                           # (T, H) the forget gate at each step
    saturation(trace)                                 # {layer: {"f": (frac < 0.1, frac > 0.9), ...}}
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .hangul import decompose_hangul
from .model import state_tensors
from .prefix import common_prefix
from .tokenizer import CHAR_KINDS, JAMO

GATES = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n"), "rnn": ()}
SIGMOID_GATES = {"lstm": ("i", "f", "o"), "gru": ("r", "z"), "rnn": ()}     # in (0, 1): these saturate
GATE_NAMES = {"i": "input", "f": "forget", "g": "candidate", "o": "output", "r": "reset", "z": "update",
              "n": "new"}
LOW, HIGH = 0.1, 0.9                     # a gate below LOW is shut, above HIGH wide open (Karpathy et al.)


@dataclass
class Trace:
    """One pass over a text: everything per token (T) and per layer (L), as float32 numpy."""
    cell: str
    ids: np.ndarray                    # (T,)
    hidden: np.ndarray                 # (L, T, H): h after reading each token
    cell_state: np.ndarray | None      # (L, T, H): c after each token (LSTM; None otherwise)
    gates: dict                        # gate name -> (L, T, H)
    logits: np.ndarray                 # (T, V): the next-token logits after each token

    @property
    def signals(self) -> tuple:
        """What can be looked at per unit: "h" (hidden state), and for an LSTM "c" (cell state)."""
        return ("h", "c") if self.cell_state is not None else ("h",)

    def signal(self, name: str) -> np.ndarray:
        """(L, T, H) of "h", "c" or a gate name."""
        return {"h": self.hidden, "c": self.cell_state}.get(name, self.gates.get(name))


def _layer(rnn, layer: int):
    return (getattr(rnn, f"weight_ih_l{layer}"), getattr(rnn, f"weight_hh_l{layer}"),
            getattr(rnn, f"bias_ih_l{layer}"), getattr(rnn, f"bias_hh_l{layer}"))


@torch.no_grad()
def stepped_pass(model, ids, state=None) -> Trace:
    """Run ``ids`` (T,) through ``model`` one step at a time from ``state`` (None: zeros), keeping
    every layer's h, c and gates. Inference view: no dropout. Layer by layer: the input projection
    of the whole sequence is one product, then each step adds the recurrent one."""
    cell, rnn = model.config.cell, model.rnn
    ids = torch.as_tensor(np.asarray(ids), dtype=torch.long).reshape(-1)
    n_layers, hidden, steps = model.config.num_layers, model.config.hidden_size, len(ids)
    start = state_tensors(model.init_state(1, device=ids.device) if state is None else state)
    weight = model.embedding.weight
    x = weight.detach()[ids]                                               # (T, E)
    out = {name: torch.empty(n_layers, steps, hidden, dtype=weight.dtype)
           for name in ("h",) + (("c",) if cell == "lstm" else ()) + GATES[cell]}
    for layer in range(n_layers):
        w_ih, w_hh, b_ih, b_hh = (p.detach() for p in _layer(rnn, layer))
        xs = torch.addmm(b_ih, x, w_ih.T)                                  # (T, G): every input at once
        h = start[0][layer, 0].to(weight.dtype)
        c = start[1][layer, 0].to(weight.dtype) if cell == "lstm" else None
        for t in range(steps):
            rec = torch.addmv(b_hh, w_hh, h)                               # (G,)
            h, c = _step(cell, rnn, xs[t], rec, h, c, out, layer, t)
        x = out["h"][layer]                                                 # the next layer reads these
    logits = model.head(x)                                                  # (T, V)
    arrays = {k: v.float().numpy() for k, v in out.items()}
    return Trace(cell, ids.numpy(), arrays["h"], arrays.get("c"), {g: arrays[g] for g in GATES[cell]},
                 logits.float().numpy())


def _step(cell: str, rnn, xs, rec, h, c, out: dict, layer: int, t: int):
    """One step of one layer from its pre-activations (input part ``xs``, recurrent part ``rec``),
    written into ``out``; -> (h, c)."""
    if cell == "lstm":                                   # PyTorch's gate order: i, f, g, o
        i, f, g, o = (xs + rec).chunk(4)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g
        h = o * torch.tanh(c)
        for name, value in (("i", i), ("f", f), ("g", g), ("o", o), ("c", c)):
            out[name][layer, t] = value
    elif cell == "gru":                                  # r, z, n; r scales the recurrent part of n
        hs = h.numel()
        r = torch.sigmoid(xs[:hs] + rec[:hs])
        z = torch.sigmoid(xs[hs:2 * hs] + rec[hs:2 * hs])
        n = torch.tanh(xs[2 * hs:] + r * rec[2 * hs:])
        h = (1 - z) * n + z * h
        for name, value in (("r", r), ("z", z), ("n", n)):
            out[name][layer, t] = value
    else:
        h = torch.tanh(xs + rec) if rnn.nonlinearity == "tanh" else torch.relu(xs + rec)
    out["h"][layer, t] = h
    return h, c


def top_next(logits: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(T, V) logits -> the k likeliest next tokens after each step: ids (T, k), probabilities (T, k)."""
    z = logits - logits.max(-1, keepdims=True)
    probs = np.exp(z)
    probs /= probs.sum(-1, keepdims=True)
    k = min(k, probs.shape[-1])
    top = np.argsort(-probs, axis=-1, kind="stable")[:, :k]
    return top, np.take_along_axis(probs, top, -1)


def saturation(trace: Trace) -> dict:
    """{layer: {gate: (fraction of steps x units below LOW, fraction above HIGH)}} for the sigmoid
    gates (an LSTM's i, f, o; a GRU's r, z). A vanilla RNN has none: {}."""
    return {layer: {g: (float((trace.gates[g][layer] < LOW).mean()), float((trace.gates[g][layer] > HIGH).mean()))
                    for g in SIGMOID_GATES[trace.cell]}
            for layer in range(trace.hidden.shape[0])} if SIGMOID_GATES[trace.cell] else {}


def unit_saturation(trace: Trace, gate: str, layer: int) -> tuple[np.ndarray, np.ndarray]:
    """Per unit (H,), the fraction of steps its gate is below LOW and above HIGH (the paper's scatter)."""
    g = trace.gates[gate][layer]                     # (T, H)
    return (g < LOW).mean(0), (g > HIGH).mean(0)


def char_owners(tokenizer, ids, text: str) -> tuple[str, np.ndarray]:
    """The text as its tokens spell it, one entry per character, and per character the index of the
    token that covers it: (shown text, owner (N,)). A char model: the text itself, one token per
    character; a jamo model: the decomposed text, one token per jamo; a subword model: the text,
    each character owned by the token that completes it (a character spelled by several byte pieces
    belongs to the last of them)."""
    ids = np.asarray(ids)
    if tokenizer.kind in CHAR_KINDS:
        shown = decompose_hangul(text) if tokenizer.kind == JAMO else text
        if len(shown) != len(ids):
            raise ValueError(f"{len(ids)} tokens for {len(shown)} characters: ids and text do not match")
        return shown, np.arange(len(ids))
    shown = tokenizer.decode(ids)
    owner = np.empty(len(shown), dtype=np.int64)
    done = 0
    for t in range(len(ids)):
        end = common_prefix(tokenizer.decode(ids[:t + 1]), shown)    # what is final after token t
        owner[done:end] = t
        done = max(done, end)
    return shown, owner
