"""Training: teacher forcing, truncated BPTT, clipping, AdamW + warm-up/cosine, exact validation,
early stopping, best/last checkpoints, exact resume, clean Ctrl-C / SIGTERM. ``train`` is the entry
point (the CLI, the web app's jobs and the benchmarks call it); ``train_config`` holds the settings,
``training.Run`` the run itself.

Usage:

    summary = train(TrainConfig(corpus=["novel.txt"], out="runs/novel", max_minutes=5), ModelConfig())

A run directory holds ``best/`` and ``last/`` checkpoints, ``metrics.jsonl`` and ``data/`` (the
tokenized corpus, reused on resume).
"""
from __future__ import annotations

from dataclasses import replace

from .distributed import setup
from .finetune import inherit, load_parent
from .model import ModelConfig
from .stopping import StopFlag
from .train_config import RESUME_OVERRIDES, WORDS_MAX_CHARS, TrainConfig  # noqa: F401  (the public names)
from .training import Run


def train(cfg: TrainConfig, model_cfg: ModelConfig | None = None, command: str | None = None,
          callback=None, log=print, resume_overrides: dict | None = None, on_record=None,
          should_stop=None, given: set | None = None) -> dict:
    """Train (or resume) a run; returns a summary dict. ``callback(step, info)`` runs after each step
    (info: loss, lr, grad_norm: the pre-clip gradient norm).
    ``on_record(record)`` receives every metrics.jsonl record as it is written ("train": loss, bpc,
    chars/s, elapsed; "eval": validation metrics; "end"), for live progress in a UI.
    ``should_stop()`` is polled every step: True saves and stops like Ctrl-C (for a Cancel button,
    where a worker thread cannot take signals). Both are also asked between the chunks of every long
    phase (reading, tokenizing, counting words, validating): a stop during validation saves ``last``
    with that validation still to do (a resumed run does it first); a stop before the first
    checkpoint raises ``stopping.Interrupted`` (nothing to resume: run the command again).

    A resumed run continues exactly as saved; ``resume_overrides`` (any of RESUME_OVERRIDES) extends
    or shortens it: a new max_steps becomes the new end of the learning-rate schedule, a new
    max_minutes (total, time already spent included) re-plans it from the remaining time.

    Under ``torchrun`` (WORLD_SIZE > 1) this is one rank of a DistributedDataParallel job: each rank
    trains on its contiguous share of the batch rows, validation is summed over the ranks, every
    stop decision is taken together, and rank 0 alone writes files.

    ``cfg.init_from`` fine-tunes a checkpoint (see ``finetune``); ``given`` names the flags the user
    set (the CLI's), so that only those are checked against the parent (None: those off their defaults).
    """
    if not cfg.out:
        raise ValueError("give a run directory: --out DIR")
    cfg.validate()
    parent = None
    if cfg.init_from and not cfg.resume:             # refused before anything is written
        parent = load_parent(cfg.init_from)
        cfg, model_cfg = inherit(cfg, model_cfg, parent, given)
    if not cfg.resume and model_cfg is not None:    # fail before reading a large corpus
        replace(model_cfg, vocab_size=2).resolved().validate()
    dist = setup(cfg.device)
    try:
        with StopFlag(should_stop) as stop:
            summary = Run(dist, cfg, model_cfg, stop, command, log, resume_overrides, on_record, callback,
                          parent).fit()
    except BaseException:
        dist.close(clean=False)      # no barrier: the other ranks may never reach it
        raise
    dist.close()
    return summary
