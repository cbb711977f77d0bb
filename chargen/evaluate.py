"""Measuring a model: exact loss over a whole text, in nats and bits per token and per character.

Usage:

    nats, tokens = stream_loss(model, ids, n_scored=len(val_ids))   # total nats over the last n_scored ids
    report = text_metrics(model, tokenizer, text)                    # dict with val_nats, val_bpc, ...
    metrics = ValSplit(corpus, max_tokens=2_000_000).score(model)   # training's validation figure
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .model import join_states
from .stopping import Interrupted


@torch.no_grad()
def stream_loss(model, ids, n_scored: int | None = None, rows: int = 16, chunk: int = 256,
                context: int = 256, shard: tuple[int, int] = (0, 1), should_stop=None,
                progress: bool = False) -> tuple[float, int]:
    """Total cross-entropy (nats) of the last ``n_scored`` ids of ``ids``, each predicted from all
    that precedes it, and the number of ids scored.

    Every id is scored exactly once. For speed the scored span is cut into ``rows`` contiguous rows
    run side by side with the state carried along each row; each row first reads the ``context``
    ids before it (unscored), so only the first row of a text that has nothing before it starts
    cold. With rows=1 this is exactly one pass over the text.

    ``shard=(rank, world_size)`` scores only this process's contiguous share of those same rows
    and returns its partial sums: summed over the ranks they are the whole text's.
    ``should_stop()`` is asked between chunks: True raises ``stopping.Interrupted``. ``progress``: a
    "validating" progress bar (a long validation is minutes on a CPU).
    """
    ids = np.asarray(ids)                   # a memmap stays a memmap: only chunks are read
    n_scored = len(ids) - 1 if n_scored is None else n_scored
    if not 0 < n_scored < len(ids):
        raise ValueError(f"cannot score {n_scored} of {len(ids)} ids (the first id has nothing before it)")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device             # score where the model lives (CPU or GPU)
    start = len(ids) - n_scored                         # first scored position (>= 1)
    rows = max(1, min(rows, n_scored // max(chunk, 1) or 1))
    row_len = math.ceil(n_scored / rows)
    row_start = start + np.arange(rows) * row_len       # (R,) first target of each row
    row_end = np.minimum(row_start + row_len, len(ids))
    if shard[1] > 1:
        mine = np.array_split(np.arange(rows), shard[1])[shard[0]]
        if len(mine) == 0:               # fewer rows than ranks: this one has nothing to score
            model.train(was_training)
            return 0.0, 0
        row_start, row_end = row_start[mine], row_end[mine]
        n_scored = int((row_end - row_start).sum())
    states = []
    for a in row_start:
        ctx = torch.from_numpy(ids[max(0, a - 1 - context):a - 1].astype(np.int64)).to(device)
        states.append(model(ctx[None], None)[1] if len(ctx) else model.init_state(1, device=device))
    state = join_states(states, dim=1)
    total = 0.0
    bar = tqdm(total=int(n_scored), unit="tok", unit_scale=True, desc="validating", leave=False, disable=not progress)
    for t in range(0, row_len, chunk):
        if should_stop is not None and should_stop():
            model.train(was_training)
            bar.close()
            raise Interrupted("validating")
        pos = row_start[:, None] + t + np.arange(min(chunk, row_len - t))[None]     # (R, c) targets
        valid = pos < row_end[:, None]
        x = torch.from_numpy(ids[np.minimum(pos - 1, len(ids) - 1)].astype(np.int64)).to(device)
        # int64 before the -100 padding: ids may be uint8/uint16, where -100 would wrap around
        y = ids[np.minimum(pos, len(ids) - 1)].astype(np.int64)
        y = torch.from_numpy(np.where(valid, y, -100)).to(device)
        logits, state = model(x, state)                                          # (R, c, V)
        total += F.cross_entropy(logits.float().flatten(0, 1), y.flatten(),
                                 ignore_index=-100, reduction="sum").item()
        bar.update(int(valid.sum()))
    bar.close()
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


class ValSplit:
    """The validation figure training reports: the exact loss of the first ``max_tokens`` (0: all)
    of a corpus's val split, read after the last ``context`` train tokens. Per character, over the
    characters of the tokens scored (those of the whole split unless capped)."""

    def __init__(self, corpus, max_tokens: int = 0, context: int = 256):
        val = corpus.val_ids
        self.n, self.max_tokens = min(len(val), max_tokens or len(val)), max_tokens
        self.capped = self.n < len(val)
        self.chars = len(corpus.tokenizer.decode(np.asarray(val[:self.n]))) if self.capped else corpus.meta["val_chars"]
        self.stream = np.concatenate([np.asarray(corpus.train_ids[-context:]), np.asarray(val[:self.n])])

    def score(self, model, shard: tuple[int, int] = (0, 1), reduce=lambda sums: sums, should_stop=None,
              progress: bool = False) -> dict:
        """``shard`` scores one rank's rows; ``reduce`` sums [nats, tokens, stopped] over the ranks.
        ``should_stop()`` True on any rank ends the pass on every rank (Interrupted): each rank
        still joins the one reduction, so none is left waiting."""
        try:
            part, stopped = list(stream_loss(model, self.stream, n_scored=self.n, shard=shard,
                                             should_stop=should_stop, progress=progress)), 0.0
        except Interrupted:
            part, stopped = [0.0, 0], 1.0
        total, n, stopped = reduce(part + [stopped])
        if stopped:
            raise Interrupted("validating")
        report = loss_report(total, int(n), self.chars)
        return {**report, "val_max_tokens": self.max_tokens} if self.capped else report
