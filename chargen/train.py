"""Training: teacher forcing, truncated BPTT, clipping, AdamW + warm-up/cosine, exact validation,
early stopping, best/last checkpoints, exact resume, clean Ctrl-C / SIGTERM.

Usage:

    summary = train(TrainConfig(corpus=["novel.txt"], out="runs/novel", max_minutes=5), ModelConfig())

A run directory holds ``best/`` and ``last/`` checkpoints, ``metrics.jsonl`` and ``data/`` (the
tokenized corpus, reused on resume).
"""
from __future__ import annotations

import json
import math
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from .checkpoint import CheckpointError, load_checkpoint, load_trainer_state, read_config, save_checkpoint
from .data import CorpusError, TBPTTBatches, train_text
from .distributed import (DEVICES, Dist, bf16_supported, default_threads, gather_rng_and_state,
                          prepare_shared, restore_rng, scatter_state, setup, wrap_ddp)
from .evaluate import ValSplit
from .model import CharLM, ModelConfig
from .sizing import auto_size
from .stopping import Interrupted, StopFlag, checked
from .tokenizer import KINDS
from .wordstats import WordModel

WORDS_MAX_CHARS = 20_000_000      # word statistics read at most this much of the train split (bounds memory: see README)
SYNC_EVERY = 4                    # steps between the ranks' agreements on stopping (DDP only)


@dataclass
class TrainConfig:
    corpus: list[str] = field(default_factory=list, metadata={"help": "text file(s) or folder(s) of .txt files", "nargs": "+"})
    out: str = field(default="", metadata={"help": "run directory (checkpoints, metrics, tokenized data)"})
    tokenizer: str = field(default="char", metadata={"help": "char: one symbol per Unicode character; jamo: Korean syllables split into jamo; bpe/unigram: SentencePiece subwords", "choices": KINDS})
    vocab_size: int = field(default=2000, metadata={"help": "subword vocabulary size (bpe/unigram only; includes 256 byte pieces)"})
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
    patience: int = field(default=4, metadata={"help": "stop after this many validations without improvement (0: never)"})
    seed: int = field(default=1337, metadata={"help": "random seed (initialisation, dropout)"})
    threads: int = field(default=0, metadata={"help": "CPU threads (0: all cores)"})
    precision: str = field(default="auto", metadata={"help": "bf16 autocast or fp32 (auto: bf16 on a CUDA GPU or where the CPU has bf16 instructions)", "choices": ("auto", "bf16", "fp32")})
    device: str = field(default="auto", metadata={"help": "where to train (auto: the CUDA GPU when there is one)", "choices": DEVICES})
    resume: bool = field(default=False, metadata={"help": "continue the run in --out exactly where it stopped"})
    progress: bool = field(default=True, metadata={"help": "show a progress bar", "cli": False})

    def validate(self) -> None:
        """Refuse settings that cannot work, naming the flag."""
        checks = [("bptt_len", self.bptt_len >= 1), ("batch_size", self.batch_size is None or self.batch_size >= 1),
                  ("lr", self.lr is None or self.lr > 0), ("val_fraction", 0 < self.val_fraction < 1),
                  ("max_minutes", self.max_minutes >= 0), ("max_steps", self.max_steps >= 0),
                  ("grad_clip", self.grad_clip >= 0), ("warmup_steps", self.warmup_steps >= 0),
                  ("min_lr_ratio", 0 <= self.min_lr_ratio <= 1), ("eval_interval", self.eval_interval >= 0),
                  ("patience", self.patience >= 0), ("val_max_tokens", self.val_max_tokens >= 0), ("threads", self.threads >= 0),
                  ("vocab_size", self.vocab_size >= 1), ("weight_decay", self.weight_decay >= 0)]
        for name, ok in checks:
            if not ok:
                raise ValueError(f"--{name.replace('_', '-')} {getattr(self, name)} is out of range")


def _schedule(step: int, cfg: TrainConfig, peak: float, planned: int) -> float:
    warmup = max(1, min(cfg.warmup_steps, planned // 5))   # a short run must not spend itself warming up
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, planned - warmup))
    return peak * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def _optimizer(model: CharLM, cfg: TrainConfig, lr: float) -> torch.optim.Optimizer:
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.99))


def word_stats(cfg: TrainConfig, corpus, should_stop=None) -> WordModel:
    """Word counts of the train split (its first WORDS_MAX_CHARS), shipped for the keyboard."""
    chunks = checked(train_text(cfg.corpus, cfg.encoding, corpus.meta["train_chars"], WORDS_MAX_CHARS),
                     should_stop, "counting words")
    if corpus.tokenizer.kind == "jamo":
        from .tokenizer import decompose_hangul
        chunks = map(decompose_hangul, chunks)
    return WordModel.fit(chunks)


RESUME_OVERRIDES = ("max_steps", "max_minutes", "patience", "eval_interval")


def train(cfg: TrainConfig, model_cfg: ModelConfig | None = None, command: str | None = None,
          callback=None, log=print, resume_overrides: dict | None = None, on_record=None,
          should_stop=None) -> dict:
    """Train (or resume) a run; returns a summary dict. ``callback(step, info)`` runs after each step.
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
    """
    if not cfg.out:
        raise ValueError("give a run directory: --out DIR")
    cfg.validate()
    if not cfg.resume and model_cfg is not None:    # fail before reading a large corpus
        replace(model_cfg, vocab_size=2).resolved().validate()
    dist = setup(cfg.device)
    try:
        with StopFlag(should_stop) as stop:
            summary = _train(dist, cfg, model_cfg, command, callback, log, resume_overrides, on_record, stop)
    except BaseException:
        dist.close(clean=False)      # no barrier: the other ranks may never reach it
        raise
    dist.close()
    return summary


def _train(dist: Dist, cfg, model_cfg, command, callback, log, resume_overrides, on_record, stop: StopFlag):
    out, device = Path(cfg.out), dist.device
    torch.set_num_threads(cfg.threads or default_threads(dist))
    resume_state, tokenizer = None, None
    if cfg.resume:
        if not (out / "last").exists() and not (out / "last.old").exists():
            raise CheckpointError(f"nothing to resume in {out}: it has no last/ checkpoint")
        saved = read_config(out / "last")
        keep = {k: v for k, v in saved["train"].items() if k in {f.name for f in fields(TrainConfig)}}
        overrides = {k: v for k, v in (resume_overrides or {}).items() if k in RESUME_OVERRIDES}
        keep.update(resume=True, progress=cfg.progress, threads=cfg.threads, device=cfg.device, **overrides)
        cfg = TrainConfig(**keep)
        model, tokenizer, _ = load_checkpoint(out / "last")
        model_cfg = model.config
        resume_state = load_trainer_state(out / "last")
    elif (out / "last").exists() or (out / "best").exists():
        raise CorpusError(f"{out} already holds a training run: pass --resume to continue it, "
                          f"or choose another --out")
    if cfg.batch_size and cfg.batch_size % dist.world_size:
        raise ValueError(f"--batch-size {cfg.batch_size} is the global batch, shared by {dist.world_size} "
                         f"processes: give a multiple of {dist.world_size}")
    corpus = prepare_shared(dist, cfg.corpus, cfg.tokenizer, out / "data", vocab_size=cfg.vocab_size,
                            encoding=cfg.encoding, val_fraction=cfg.val_fraction, tokenizer=tokenizer,
                            progress=cfg.progress, should_stop=stop.requested)
    tokenizer = corpus.tokenizer
    words = word_stats(cfg, corpus, stop.requested) if dist.is_main else None     # only rank 0 writes checkpoints
    if resume_state is not None and resume_state["corpus_sha256"] != corpus.meta["sha256"]:
        raise CorpusError(f"the corpus changed since this run started (sha256 {corpus.meta['sha256'][:12]} != "
                          f"{resume_state['corpus_sha256'][:12]}): resume needs the same text")
    if resume_state is None:
        auto_batch = cfg.batch_size is None
        model_cfg, cfg = auto_size(model_cfg or ModelConfig(), cfg, len(corpus.train_ids))
        if auto_batch:                               # a chosen batch splits evenly over the ranks
            cfg.batch_size = max(dist.world_size, cfg.batch_size // dist.world_size * dist.world_size)
        model_cfg.vocab_size = tokenizer.vocab_size
        torch.manual_seed(cfg.seed)
        model = CharLM(model_cfg)
    model.to(device).train()
    precision = cfg.precision if cfg.precision != "auto" else ("bf16" if bf16_supported(device) else "fp32")
    net = wrap_ddp(model, dist) if dist.enabled else model   # what the loop calls: DDP under torchrun
    if dist.rank and resume_state is None:
        torch.manual_seed(cfg.seed + dist.rank)      # its own dropout masks; the weights are rank 0's
    def autocast():
        return torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16" else nullcontext()
    opt = _optimizer(model, cfg, cfg.lr)
    batches = TBPTTBatches(corpus.train_ids, cfg.batch_size, cfg.bptt_len, dist.rank, dist.world_size)
    val_split = ValSplit(corpus, cfg.val_max_tokens)
    step, state, elapsed_before = 0, None, 0.0
    planned = cfg.max_steps or None
    best_val, bad_evals, history = math.inf, 0, []
    pending_eval = False              # a validation a stop interrupted: done first on resume
    if resume_state is not None:
        opt.load_state_dict(resume_state["optimizer"])
        batches.load_state_dict(resume_state["batches"])
        restore_rng(resume_state, dist, cfg.seed)
        step, planned = resume_state["step"], resume_state["planned_steps"]
        elapsed_before, best_val = resume_state["elapsed"], resume_state["best_val"]
        bad_evals, history = resume_state["bad_evals"], resume_state["history"]
        pending_eval = resume_state.get("pending_eval", False)
        if "max_steps" in (resume_overrides or {}) or "max_minutes" in (resume_overrides or {}):
            planned = cfg.max_steps or None          # None: re-planned from the remaining budget
        state = scatter_state(resume_state.get("hidden"), dist)

    extra_base = {"train": asdict(cfg), "precision": precision, "device": str(device),
                  "distributed": dist.describe(), "command": command,
                  "corpus": {k: corpus.meta[k] for k in ("files", "sha256", "chars", "train_chars", "val_chars",
                                                         "train_tokens", "val_tokens")}}

    def evaluate() -> dict:                          # each rank scores its share; the sums are summed
        return val_split.score(model, shard=(dist.rank, dist.world_size), reduce=dist.sum, should_stop=stop.requested,
                               progress=cfg.progress and dist.is_main)

    def save(which: str, metrics: dict, with_state: bool):
        trainer_state = None
        if with_state:                               # collective: every rank gives its rows and RNG
            trainer_state = {"optimizer": opt.state_dict(), "batches": batches.state_dict(), "step": step,
                             "planned_steps": planned, "elapsed": elapsed_before + time.monotonic() - t_start,
                             "best_val": best_val, "bad_evals": bad_evals, "history": history,
                             "eval_every": eval_every, "corpus_sha256": corpus.meta["sha256"],
                             "pending_eval": pending_eval,
                             **gather_rng_and_state(state, dist)}
        if dist.is_main:
            save_checkpoint(out / which, model, tokenizer, {**extra_base, "metrics": {"step": step, **metrics}},
                            trainer_state=trainer_state, extra_writers=[words.save])

    def log_metrics(record: dict):
        if not dist.is_main:
            return
        with open(out / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        if on_record is not None:
            on_record(record)

    if dist.is_main:
        out.mkdir(parents=True, exist_ok=True)
    budget = cfg.max_minutes * 60 if cfg.max_minutes else math.inf
    t_start = time.monotonic()
    eval_cost = 0.0
    # Validation costs time a short run cannot spare: about 2 per budget minute, 2 to 10 in all,
    # and a run under 5 minutes skips the step-0 validation (its cost is measured at the first one).
    n_evals = int(min(10, max(2, round(2 * cfg.max_minutes)))) if cfg.max_minutes else 10
    if resume_state is None and not 0 < cfg.max_minutes < 5:
        t0 = time.monotonic()
        try:
            history.append({"step": 0, "elapsed": 0.0, **evaluate()})
            log_metrics({"event": "eval", **history[-1]})
        except Interrupted:
            pending_eval = True                      # the loop below stops at once and saves
        eval_cost = time.monotonic() - t0
    eval_every = cfg.eval_interval or (max(1, planned // 10) if planned else 200)
    if resume_state is not None and planned == resume_state["planned_steps"] and not cfg.eval_interval:
        eval_every = resume_state.get("eval_every", eval_every)   # validate at the same steps as before
    calib_at, calib_t, calib_step = step + 25, None, step
    # Budget mode: the run is timed by --max-minutes alone; its schedule follows the measured pace.
    budget_mode = budget < math.inf and not cfg.max_steps and (planned is None or resume_state is None)
    from tqdm import tqdm
    bar = tqdm(total=planned, initial=step, unit="step", disable=not (cfg.progress and dist.is_main),
               dynamic_ncols=True)
    tokens_per_step = batches.batch_size * cfg.bptt_len        # the global batch: all ranks' rows
    chars_per_token = corpus.meta["train_chars"] / max(1, corpus.meta["train_tokens"])
    last_log_t, last_log_step, interrupted, stop_reason = time.monotonic(), step, None, "planned steps done"
    metrics = history[-1] if history else {}
    if pending_eval:               # resumed after a stop in the middle of a validation (every rank alike)
        try:
            metrics, best_val, bad_evals = _validate(evaluate, history, step, best_val, bad_evals, save,
                                                     elapsed_before, log_metrics)
            pending_eval = False
        except Interrupted:
            pass
    try:
        while planned is None or step < planned:
            # Every rank must take the same decision here, or the next all-reduce waits forever:
            # the budget is rank 0's clock, and a signal or cancel on any rank stops them all. Under
            # DDP they agree every SYNC_EVERY steps (each agreement is a round trip between ranks).
            asked = stop.requested()
            time_up, asked_any = elapsed_before + time.monotonic() - t_start >= budget, asked
            if dist.enabled:
                time_up, asked_any = dist.max([dist.is_main and time_up, asked]) if step % SYNC_EVERY == 0 \
                    else (False, False)
            if time_up:
                stop_reason = "time budget reached"
                break
            if asked_any:
                interrupted, stop_reason = stop.reason() if asked else "another rank", "interrupted"
                break
            x, y = batches.next()                                  # (B / ranks, T) each
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if batches.new_epoch:
                state = None                                       # rows restart at the stream's start
            lr = _schedule(step, cfg, cfg.lr, planned or 10 ** 9)
            for group in opt.param_groups:
                group["lr"] = lr
            with autocast():
                logits, state = net(x, state)                      # (B / ranks, T, V)
            loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten())
            opt.zero_grad(set_to_none=True)
            loss.backward()                                        # DDP: gradients averaged over ranks
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip or math.inf)
            opt.step()
            state = CharLM.detach(state)                           # keep the values, cut the graph
            step += 1
            bar.update(1)
            if step == calib_at - 20:
                calib_t, calib_step = time.monotonic(), step
            if step >= calib_at and step % 25 == 0 and budget_mode:
                # Plan (and keep re-planning) the schedule to end inside the budget: the steps the
                # remaining time allows at the pace so far, validations and saves included, less
                # the validations still to come. The host's speed drifts, so one early timing is
                # not enough. Under DDP rank 0's plan is everyone's.
                per_step = (time.monotonic() - calib_t) / (step - calib_step)
                remaining = budget - (elapsed_before + time.monotonic() - t_start) - eval_cost - 1.0
                new_plan = int(dist.broadcast([step + max(1, int(0.98 * remaining / per_step))])[0])
                if planned is None:
                    eval_every = cfg.eval_interval or max(1, (new_plan - step) // n_evals)
                planned = new_plan
                bar.total = planned
                bar.refresh()
            if step % 50 == 0 or step == planned:
                now = time.monotonic()
                cps = (step - last_log_step) * tokens_per_step * chars_per_token / max(now - last_log_t, 1e-9)
                last_log_t, last_log_step = now, step
                mean_loss = dist.mean(loss.item())
                rec = {"event": "train", "step": step, "loss": mean_loss, "bpc": mean_loss / math.log(2),
                       "lr": lr, "grad_norm": float(grad_norm), "chars_per_s": cps,
                       "elapsed": elapsed_before + now - t_start, "planned_steps": planned,
                       "budget_s": budget if budget < math.inf else None}
                log_metrics(rec)
                bar.set_postfix(loss=f"{mean_loss:.3f}", bpc=f"{rec['bpc']:.3f}", cps=f"{cps:,.0f}")
            if callback is not None:
                callback(step, {"loss": loss.item(), "lr": lr})
            if step % eval_every == 0 and step != planned:
                t0 = time.monotonic()
                try:
                    metrics, best_val, bad_evals = _validate(evaluate, history, step, best_val, bad_evals, save,
                                                             elapsed_before + time.monotonic() - t_start, log_metrics)
                except Interrupted:
                    pending_eval, interrupted, stop_reason = True, stop.reason(), "interrupted"
                    break
                save("last", metrics, with_state=True)
                eval_cost = time.monotonic() - t0
                if cfg.patience and bad_evals >= cfg.patience:
                    stop_reason = f"early stop: no improvement in {bad_evals} validations"
                    break
    finally:                                     # an error (a full disk) must not leave the bar open
        bar.close()
    if interrupted is None and (not history or history[-1]["step"] != step):
        try:
            metrics, best_val, bad_evals = _validate(evaluate, history, step, best_val, bad_evals, save,
                                                     elapsed_before + time.monotonic() - t_start, log_metrics)
        except Interrupted:
            pending_eval, interrupted, stop_reason = True, stop.reason(), "interrupted"
    save("last", metrics, with_state=True)
    elapsed = elapsed_before + time.monotonic() - t_start
    summary = {"step": step, "stop_reason": stop_reason, "elapsed": elapsed, "best_val_nats": best_val,
               "last": history[-1] if history else {}, "out": str(out), "precision": precision,
               "device": str(device), "rank": dist.rank, "world_size": dist.world_size,
               "params": model.num_params(), "model": asdict(model.config), "history": history,
               "batch_size": cfg.batch_size, "bptt_len": cfg.bptt_len, "lr": cfg.lr}
    log_metrics({"event": "end", **{k: v for k, v in summary.items() if k not in ("model", "history")}})
    if interrupted is not None and dist.is_main:
        log(f"interrupted at step {step}{' during a validation (done first on resume)' if pending_eval else ''}; "
            f"saved {out / 'last'}. Continue with: "
            f"{'torchrun --nproc_per_node=N ' if dist.enabled else 'python '}-m chargen train --out {out} --resume")
    return summary


def _validate(evaluate, history, step, best_val, bad_evals, save, elapsed, log_metrics):
    metrics = evaluate()
    history.append({"step": step, "elapsed": elapsed, **metrics})
    log_metrics({"event": "eval", **history[-1]})
    if metrics["val_nats"] < best_val:
        best_val, bad_evals = metrics["val_nats"], 0
        save("best", metrics, with_state=False)
    else:
        bad_evals += 1
    return metrics, best_val, bad_evals
