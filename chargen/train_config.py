"""Training settings and what follows from them alone: ``TrainConfig`` (the ``train`` command's flags
are generated from it), the learning-rate schedule, the optimizer, and the word statistics read from
the train split for the keyboard. Usage:

    cfg = TrainConfig(corpus=["novel.txt"], out="runs/novel", max_minutes=5); cfg.validate()
    lr = schedule(step, cfg, peak=cfg.lr, planned=1000)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from .data import text_slice
from .distributed import DEVICES
from .model import CharLM
from .tokenizer import CHAR, DEFAULT_SUBWORD_VOCAB, JAMO, KINDS
from .heldout import HEAD, HELD_OUT_CHARS, TAIL, WORDS_MAX_CHARS, count_words, held_out_size, held_out_span  # noqa: F401  (re-exported)
from .ngram import NgramModel



@dataclass
class TrainConfig:
    corpus: list[str] = field(default_factory=list, metadata={"help": "text file(s) or folder(s) of .txt files", "nargs": "+"})
    out: str = field(default="", metadata={"help": "run directory (checkpoints, metrics, tokenized data)"})
    tokenizer: str = field(default=CHAR, metadata={"help": "char: one symbol per Unicode character; jamo: Korean syllables split into jamo; bpe/unigram: SentencePiece subwords", "choices": KINDS})
    vocab_size: int = field(default=DEFAULT_SUBWORD_VOCAB, metadata={"help": "subword vocabulary size (bpe/unigram only; includes 256 byte pieces)"})
    encoding: str = field(default="utf-8", metadata={"help": "corpus text encoding, e.g. utf-8, cp949, euc-kr, latin-1"})
    val_fraction: float = field(default=0.1, metadata={"help": "last fraction of the characters held out for validation"})
    batch_size: int | None = field(default=None, metadata={"help": "parallel TBPTT rows, summed over all processes under torchrun (default: sized from the budget)"})
    bptt_len: int = field(default=64, metadata={"help": "time steps per truncated-BPTT chunk"})
    lr: float | None = field(default=None, metadata={"help": "peak learning rate (default: sized from the budget)"})
    min_lr_ratio: float = field(default=0.05, metadata={"help": "final learning rate as a fraction of the peak (cosine decay)"})
    warmup_steps: int = field(default=50, metadata={"help": "linear learning-rate warm-up steps"})
    weight_decay: float = field(default=0.1, metadata={"help": "AdamW weight decay on weight matrices"})
    grad_clip: float = field(default=1.0, metadata={"help": "clip the global gradient norm to this (0: off)"})
    max_minutes: float = field(default=10.0, metadata={"help": "wall-clock budget in minutes; the schedule is planned to fit it (0: no limit)"})
    max_steps: int = field(default=0, metadata={"help": "stop after this many steps; overrides the budget's plan (0: plan from --max-minutes)"})
    eval_interval: int = field(default=0, metadata={"help": "validate every N steps (0: about 10 times per run)"})
    val_max_tokens: int = field(default=2_000_000, metadata={"help": "validate on the first N tokens of the validation split, exactly (0: all of it; the default covers the whole split of any corpus under ~20 MB)"})
    held_out_chars: int = field(default=HELD_OUT_CHARS, metadata={"help": "characters at the start of the train split kept out of training and of the word counts, to estimate the keyboard's mixture weights on (at most a tenth of the split; 0: none)"})
    held_out_at: str = field(default=HEAD, metadata={"help": "where that piece is cut from the train split (tail: runs from before the head, resumed as they were)", "choices": (HEAD, TAIL), "cli": False})
    patience: int = field(default=4, metadata={"help": "stop after this many validations without improvement (0: never)"})
    seed: int = field(default=1337, metadata={"help": "random seed (initialisation, dropout)"})
    threads: int = field(default=0, metadata={"help": "CPU threads (0: all cores)"})
    precision: str = field(default="auto", metadata={"help": "bf16 autocast or fp32 (auto: bf16 on a CUDA GPU or where the CPU has bf16 instructions)", "choices": ("auto", "bf16", "fp32")})
    device: str = field(default="auto", metadata={"help": "where to train (auto: the CUDA GPU when there is one)", "choices": DEVICES})
    init_from: str = field(default="", metadata={"help": "fine-tune this checkpoint or run directory (default, austen, korean: the bundled ones): its architecture and tokenizer, a char vocabulary grown with the new text"})
    freeze_layers: int = field(default=0, metadata={"help": "with --init-from: the embedding and the first N recurrent layers not trained"})
    replay: float = field(default=0.0, metadata={"help": "with --init-from: this fraction of the training text from the parent's own corpus, where its files are here"})
    resume: bool = field(default=False, metadata={"help": "continue the run in --out exactly where it stopped"})
    progress: bool = field(default=True, metadata={"help": "show a progress bar", "cli": False})

    def validate(self) -> None:
        """Refuse settings that cannot work, naming the flag."""
        checks = [("bptt_len", self.bptt_len >= 1), ("batch_size", self.batch_size is None or self.batch_size >= 1),
                  ("lr", self.lr is None or self.lr > 0), ("val_fraction", 0 < self.val_fraction < 1),
                  ("max_minutes", self.max_minutes >= 0), ("max_steps", self.max_steps >= 0),
                  ("grad_clip", self.grad_clip >= 0), ("warmup_steps", self.warmup_steps >= 0),
                  ("min_lr_ratio", 0 <= self.min_lr_ratio <= 1), ("eval_interval", self.eval_interval >= 0),
                  ("patience", self.patience >= 0), ("held_out_chars", self.held_out_chars >= 0), ("val_max_tokens", self.val_max_tokens >= 0), ("threads", self.threads >= 0),
                  ("vocab_size", self.vocab_size >= 1), ("replay", 0 <= self.replay < 1),
                  ("freeze_layers", self.freeze_layers >= 0), ("weight_decay", self.weight_decay >= 0)]
        for name, ok in checks:
            if not ok:
                raise ValueError(f"--{name.replace('_', '-')} {getattr(self, name)} is out of range")
        if (self.replay or self.freeze_layers) and not self.init_from:
            raise ValueError("--replay and --freeze-layers fine-tune a parent: give --init-from CHECKPOINT")


def schedule(step: int, cfg: TrainConfig, peak: float, planned: int) -> float:
    warmup = max(1, min(cfg.warmup_steps, planned // 5))   # a short run must not spend itself warming up
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, planned - warmup))
    return peak * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def optimizer(model: CharLM, cfg: TrainConfig, lr: float) -> torch.optim.Optimizer:
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.99))


def held_out(cfg: TrainConfig, corpus) -> tuple[int, int]:
    """(start, end) characters of the train split kept out of training and of the word counts."""
    return held_out_span(cfg.held_out_chars, corpus.meta["train_chars"], cfg.held_out_at)


def word_stats(cfg: TrainConfig, corpus, should_stop=None) -> NgramModel:
    """Word n-grams of the train split less its held-out piece, shipped for the keyboard."""
    return count_words(cfg.corpus, cfg.encoding, corpus.meta["train_chars"], held_out(cfg, corpus),
                       corpus.tokenizer.kind == JAMO, should_stop)


def held_out_text(cfg: TrainConfig, corpus) -> str:
    """The piece of the train split kept out of training and of the word counts."""
    return text_slice(cfg.corpus, cfg.encoding, *held_out(cfg, corpus))


def training_ids(cfg: TrainConfig, ids, held_tokens: int):
    """The train split's ids less those of its held-out piece."""
    return ids[held_tokens:] if cfg.held_out_at == HEAD else ids[:len(ids) - held_tokens]


RESUME_OVERRIDES = ("max_steps", "max_minutes", "patience", "eval_interval")
