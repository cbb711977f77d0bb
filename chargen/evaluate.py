"""Measuring a model: exact loss over a whole text, in nats and bits per token and per character.

Usage:

    nats, tokens = stream_loss(model, ids, n_scored=len(val_ids))   # total nats over the last n_scored ids
    report = text_metrics(model, tokenizer, text)                    # dict with val_nats, val_bpc, ...
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


@torch.no_grad()
def stream_loss(model, ids, n_scored: int | None = None, rows: int = 16, chunk: int = 256,
                context: int = 256) -> tuple[float, int]:
    """Total cross-entropy (nats) of the last ``n_scored`` ids of ``ids``, each predicted from all
    that precedes it, and the number of ids scored.

    Every id is scored exactly once. For speed the scored span is cut into ``rows`` contiguous rows
    run side by side with the state carried along each row; each row first reads the ``context``
    ids before it (unscored), so only the first row of a text that has nothing before it starts
    cold. With rows=1 this is exactly one pass over the text.
    """
    ids = torch.as_tensor(np.asarray(ids, dtype=np.int64))
    n_scored = len(ids) - 1 if n_scored is None else n_scored
    if not 0 < n_scored < len(ids) + 1 or n_scored > len(ids) - 1 + (len(ids) > n_scored):
        raise ValueError(f"cannot score {n_scored} of {len(ids)} ids (the first id has nothing before it)")
    was_training = model.training
    model.eval()
    start = len(ids) - n_scored                         # first scored position (>= 1)
    rows = max(1, min(rows, n_scored // max(chunk, 1) or 1))
    row_len = math.ceil(n_scored / rows)
    x = torch.zeros(rows, row_len, dtype=torch.long)    # inputs: the id before each target
    y = torch.full((rows, row_len), -100, dtype=torch.long)   # -100 = padding, ignored
    states = []
    for r in range(rows):
        a, b = start + r * row_len, min(start + (r + 1) * row_len, len(ids))
        x[r, :b - a], y[r, :b - a] = ids[a - 1:b - 1], ids[a:b]
        ctx = ids[max(0, a - 1 - context):a - 1]
        state = None
        if len(ctx):
            _, state = model(ctx[None], None)
        states.append(state if state is not None else model.init_state(1))
    if isinstance(states[0], tuple):
        state = tuple(torch.cat([s[i] for s in states], dim=1) for i in range(len(states[0])))
    else:
        state = torch.cat(states, dim=1)
    total = 0.0
    for t in range(0, row_len, chunk):
        logits, state = model(x[:, t:t + chunk], state)          # (R, chunk, V)
        total += F.cross_entropy(logits.float().flatten(0, 1), y[:, t:t + chunk].flatten(),
                                 ignore_index=-100, reduction="sum").item()
    model.train(was_training)
    return total, n_scored


def loss_report(total_nats: float, n_tokens: int, n_chars: int, prefix: str = "val") -> dict:
    """nats and bits per character (the scale every model is compared on) and per token."""
    per_char = total_nats / max(n_chars, 1)
    return {f"{prefix}_nats": per_char, f"{prefix}_bpc": per_char / math.log(2),
            f"{prefix}_nats_per_token": total_nats / max(n_tokens, 1),
            f"{prefix}_tokens": n_tokens, f"{prefix}_chars": n_chars}


def text_metrics(model, tokenizer, text: str, **kwargs) -> dict:
    """Loss of ``text`` under the model: every token after the first is scored."""
    ids = tokenizer.encode_array(text)
    if len(ids) < 2:
        raise ValueError("the text is too short to evaluate: it needs at least two tokens")
    total, n = stream_loss(model, ids, **kwargs)
    chars = len(text) - len(tokenizer.decode(ids[:1]))   # the characters of the scored tokens
    return loss_report(total, n, chars)
