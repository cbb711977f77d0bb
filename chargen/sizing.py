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
    (4, 192, 2, 0.0, 16, 3e-3),      # 100 s: 1.507 nats/char, 3 min: 1.456 (2 x 256 d0.1: 1.484)
    (15, 384, 2, 0.2, 32, 2e-3),     # 10 min: 1.425 (2 x 512 d0.25: 1.434)
    (float("inf"), 512, 2, 0.25, 32, 2e-3),   # 30 min and more: the wider model has time to use its size
]
SMALL_CORPUS_TOKENS = 300_000   # below this, more dropout: the model would memorise the text
# Sizes a user picks by name (the web app's Train tab): name -> (num_layers, hidden_size); "auto"
# sizes the model from the time budget by SIZES above.
PRESETS = {"auto": None, "tiny": (1, 64), "small": (2, 192), "medium": (2, 384), "large": (2, 512)}


def preset_label(name: str) -> str:
    """How a preset is shown: "small: 2 × 192", "auto (sized from the time budget)"."""
    size = PRESETS[name]
    return f"{name}: {size[0]} × {size[1]}" if size else f"{name} (sized from the time budget)"


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
        hidden_size=hidden if model_cfg.hidden_size is None else model_cfg.hidden_size,
        num_layers=layers if model_cfg.num_layers is None else model_cfg.num_layers,
        dropout=dropout if model_cfg.dropout is None else model_cfg.dropout)
    if model_cfg.embed_size is None:
        model_cfg.embed_size = model_cfg.hidden_size
    if train_cfg.batch_size is None:
        # A small corpus cannot fill many rows: keep every row at least a few chunks long.
        batch = max(1, min(batch, (n_train_tokens - 1) // (4 * train_cfg.bptt_len)))
    else:
        batch = train_cfg.batch_size
    train_cfg = replace(train_cfg, batch_size=batch, lr=lr if train_cfg.lr is None else train_cfg.lr)
    return model_cfg, train_cfg
