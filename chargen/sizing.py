"""Default model size and optimiser settings chosen from the time budget and corpus size.

A user asking for 3 minutes and one asking for 3 hours want different models: in a short budget
a small model that makes many updates learns fastest; a long budget affords a wider model, which
then needs dropout. The table was chosen by experiment on Tiny Shakespeare (see README). Any
field the user sets explicitly is kept. Usage:

    model_cfg, train_cfg = auto_size(ModelConfig(), TrainConfig(max_minutes=30), n_train_tokens)
"""
from __future__ import annotations

from dataclasses import replace

# (budget up to N minutes, hidden_size, num_layers, dropout, batch_size, lr)
SIZES = [
    (3, 192, 2, 0.0, 16, 3e-3),
    (12, 256, 2, 0.1, 16, 3e-3),
    (45, 384, 2, 0.2, 32, 2e-3),
    (float("inf"), 512, 2, 0.25, 32, 2e-3),
]
SMALL_CORPUS_TOKENS = 300_000   # below this, more dropout: the model would memorise the text


def auto_size(model_cfg, train_cfg, n_train_tokens: int):
    """-> (model config, train config) with every unset (None) field filled in."""
    minutes = train_cfg.max_minutes or float("inf")
    if train_cfg.max_steps and not train_cfg.max_minutes:
        minutes = 0  # an explicit step count is a quick run: start from the small end
    hidden, layers, dropout, batch, lr = next(row[1:] for row in SIZES if minutes <= row[0])
    if n_train_tokens < SMALL_CORPUS_TOKENS:
        dropout = max(dropout, 0.2)
    model_cfg = replace(
        model_cfg,
        hidden_size=model_cfg.hidden_size or hidden,
        num_layers=model_cfg.num_layers or layers,
        dropout=dropout if model_cfg.dropout is None else model_cfg.dropout)
    if model_cfg.embed_size is None:
        model_cfg.embed_size = model_cfg.hidden_size
    batch = train_cfg.batch_size or batch
    # A small corpus cannot fill many rows: keep every row at least a few chunks long.
    batch = max(1, min(batch, (n_train_tokens - 1) // (4 * train_cfg.bptt_len)))
    train_cfg = replace(train_cfg, batch_size=batch, lr=train_cfg.lr or lr)
    return model_cfg, train_cfg
