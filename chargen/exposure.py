"""Teacher forcing against free running: the exposure-bias table. Training always feeds the true
previous token (teacher forcing); generation feeds the model its own samples. Here the loss of the
same true tokens is measured both ways: reading the true history (k = 0), and reading the true
history except for the last k tokens, which the model sampled itself. The gap is what a model pays
for never having read its own mistakes in training.

    rows = exposure_bias(model, val_ids, ks=(0, 1, 4, 16), positions=512)
    rows[0]        # {"k": 0, "nats": 1.48, "gap": 0.0}  nats per token of the true next token
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .sample import sample_next

EXPOSURE_KS = (0, 1, 2, 4, 8, 16, 32)


@torch.no_grad()
def exposure_bias(model, ids, ks=EXPOSURE_KS, positions: int = 512, context: int = 128, temperature: float = 1.0,
                  seed: int = 0, batch: int = 256) -> list[dict]:
    """For each k: the mean loss (nats per token) of the true token at ``positions`` random places of
    ``ids``, the model having read ``context`` true tokens and then k tokens of its own sampling
    (``temperature``; seeded) instead of the true ones. The same places for every k."""
    ids = np.asarray(ids, dtype=np.int64)
    longest = max(ks)
    if len(ids) <= context + longest + 1:
        raise ValueError(f"the text is too short: {len(ids)} tokens for {context} of context and k up to {longest}")
    was_training = model.training
    model.eval()
    rng = np.random.default_rng(seed)
    targets = rng.choice(np.arange(context + longest, len(ids)), size=min(positions, len(ids) - context - longest),
                         replace=False)
    rows = []
    try:
        for k in ks:
            generator = torch.Generator().manual_seed(seed + k)
            total = sum(_free_run_loss(model, ids, targets[b:b + batch], k, context, temperature, generator)
                        for b in range(0, len(targets), batch))
            rows.append({"k": int(k), "nats": total / len(targets)})
    finally:
        model.train(was_training)
    base = rows[0]["nats"] if rows and rows[0]["k"] == 0 else None
    for r in rows:
        r["bits"] = r["nats"] / math.log(2)
        r["gap"] = None if base is None else r["nats"] - base
    return rows


def _free_run_loss(model, ids: np.ndarray, targets: np.ndarray, k: int, context: int, temperature: float,
                   generator) -> float:
    """Summed nats of ids[targets] after ``context`` true tokens and ``k`` sampled ones."""
    true = torch.from_numpy(np.stack([ids[t - k - context:t - k] for t in targets]))      # (B, context)
    logits, state = model(true)
    last = logits[:, -1]                                                                   # (B, V)
    for _ in range(k):                       # the model reads its own samples instead of the truth
        own = sample_next(last, temperature, generator=generator)                          # (B,)
        logits, state = model(own[:, None], state)
        last = logits[:, -1]
    logp = torch.log_softmax(last.double(), -1)
    return float(-logp.gather(1, torch.from_numpy(ids[targets])[:, None]).sum())
