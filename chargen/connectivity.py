"""How far back a model looks: the gradient of one prediction's log-probability with respect to
each earlier input embedding (Distill's "memorization in RNNs" picture), and, averaged over many
predictions, influence against distance: the vanishing-gradient curve measured on a real model.
Gradients go through the model's own forward (a hook on the embedding layer captures its output),
in whatever precision the model is in (the finite-difference test runs it in float64).

Distance d means the input d tokens before the predicted one: d = 1 is the token just read.

    g = input_gradients(model, ids, position=40)      # (41,) |d log p(ids[41]) / d embedding(ids[s])|
    curve = influence_curve(model, ids, max_distance=200, positions=64)
    curve["influence"][d - 1], falls_below(curve["influence"], 0.01)
"""
from __future__ import annotations

import threading
from contextlib import contextmanager

import numpy as np
import torch

from .model import CharLM

_SWITCH = {"lock": threading.Lock(), "users": 0, "saved": True}     # see _native_kernels


def _embedded_forward(model: CharLM, rows: torch.Tensor, state=None):
    """logits (B, T, V) and the input embeddings (B, T, E) as a leaf that gradients can reach."""
    captured = {}

    def hook(module, inputs, output):
        captured["x"] = output.detach().requires_grad_(True)
        return captured["x"]
    handle = model.embedding.register_forward_hook(hook)
    try:
        logits, _ = model(rows, state)
    finally:
        handle.remove()
    return logits, captured["x"]


@contextmanager
def _native_kernels(on: bool):
    """oneDNN's recurrent kernels with autograd cost ~50x PyTorch's own for a single row (measured:
    1 s against 14 ms for 64 steps of a 2 x 12 LSTM); from two rows on they are the faster. The switch
    is process-wide: another thread's model runs exactly the same meanwhile, only at the other speed."""
    if not on:
        yield
        return
    with _SWITCH["lock"]:                 # several threads at once: the first switches, the last restores
        if _SWITCH["users"] == 0:
            _SWITCH["saved"] = torch.backends.mkldnn.enabled
            torch.backends.mkldnn.enabled = False
        _SWITCH["users"] += 1
    try:
        yield
    finally:
        with _SWITCH["lock"]:
            _SWITCH["users"] -= 1
            if _SWITCH["users"] == 0:
                torch.backends.mkldnn.enabled = _SWITCH["saved"]


def _row_gradients(model: CharLM, rows: torch.Tensor, targets: torch.Tensor, state=None) -> np.ndarray:
    """For each row (B, T), the L2 norm of d log p(targets[b] | rows[b]) / d embedding, per input
    position: (B, T). One backward pass: the rows are independent, so the gradient of their sum is
    each row's own."""
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad(), _native_kernels(rows.size(0) == 1):
            logits, x = _embedded_forward(model, rows, state)
            logp = torch.log_softmax(logits[:, -1].double(), -1)                 # (B, V)
            chosen = logp.gather(1, targets[:, None]).sum()
            (grad,) = torch.autograd.grad(chosen, x)
    finally:
        model.train(was_training)
    return grad.double().norm(dim=-1).numpy()                                    # (B, T)


def input_gradients(model: CharLM, ids, position: int, state=None) -> np.ndarray:
    """|d log p(ids[position + 1] | ids[:position + 1]) / d e_s| for s = 0..position: (position + 1,).
    With ``position`` the last index (no true next token), the model's own top prediction is the target."""
    ids = torch.as_tensor(np.asarray(ids), dtype=torch.long).reshape(-1)
    if not 0 <= position < len(ids):
        raise ValueError(f"position {position} is outside the text's {len(ids)} tokens")
    rows = ids[None, :position + 1]
    if position + 1 < len(ids):
        target = ids[position + 1:position + 2]
    else:
        with torch.no_grad():
            target = model(rows, state)[0][:, -1].argmax(-1)
    return _row_gradients(model, rows, target, state)[0]


def influence_curve(model: CharLM, ids, max_distance: int = 200, positions: int = 64, burn_in: int = 32,
                    seed: int = 0, batch: int = 16) -> dict:
    """Influence against distance, averaged over ``positions`` predictions at random places of ``ids``:
    {"distance": (D,), "influence": (D,) mean gradient norm, "relative": influence / influence at d = 1,
    "positions": how many}. Each prediction reads a window of ``max_distance + burn_in`` tokens from a
    zero state (the burn-in keeps the cold start away from the distances reported)."""
    ids = np.asarray(ids, dtype=np.int64)
    span = max_distance + burn_in
    if len(ids) < span + 1:
        max_distance = max(1, len(ids) - 1 - burn_in)
        span = min(len(ids) - 1, max_distance + burn_in)
    rng = np.random.default_rng(seed)
    ends = rng.choice(np.arange(span - 1, len(ids) - 1), size=min(positions, len(ids) - span), replace=False)
    total = np.zeros(span)
    for k in range(0, len(ends), batch):
        part = ends[k:k + batch]
        rows = torch.from_numpy(np.stack([ids[e - span + 1:e + 1] for e in part]))       # (B, span)
        total += _row_gradients(model, rows, torch.from_numpy(ids[part + 1])).sum(0)
    mean = total[::-1][:max_distance] / max(1, len(ends))          # index d - 1: distance d
    return {"distance": np.arange(1, max_distance + 1), "influence": mean,
            "relative": mean / mean[0] if mean[0] > 0 else mean, "positions": int(len(ends))}


def falls_below(influence: np.ndarray, fraction: float = 0.01) -> int | None:
    """The first distance at which influence is below ``fraction`` of its value at distance 1
    (None: never, within the distances measured)."""
    below = np.flatnonzero(np.asarray(influence) < fraction * influence[0])
    return int(below[0]) + 1 if len(below) else None
