"""One training run, from its start (or resume) to its last checkpoint: the model, data and
optimizer set up or restored, the loop of truncated-BPTT steps on the time budget's plan,
validation, best/last checkpoints, metrics, and stopping (signals, Cancel, the budget, patience).
``chargen.train.train`` makes a :class:`Run` and calls ``fit``; read that function first.
"""
from __future__ import annotations

import json
import math
import time
from contextlib import nullcontext
from dataclasses import asdict, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from .checkpoint import CheckpointError, load_checkpoint, load_trainer_state, read_config, save_checkpoint
from .data import CorpusError, TBPTTBatches
from .distributed import (Dist, bf16_supported, default_threads, gather_rng_and_state, prepare_shared, restore_rng,
                          scatter_state, wrap_ddp)
from .evaluate import ValSplit
from . import finetune
from .model import CharLM, ModelConfig
from .sizing import auto_size
from .stopping import Interrupted, StopFlag
from .heldout import estimate_mixture
from .train_config import (RESUME_OVERRIDES, TAIL, TrainConfig, held_out_text, optimizer, schedule, training_ids,
                           word_stats)

SYNC_EVERY = 4                    # steps between the ranks' agreements on stopping (DDP only)


class Run:
    """A run's state; every rank of a distributed job holds one, and rank 0 alone writes files."""

    def __init__(self, dist: Dist, cfg: TrainConfig, model_cfg, stop: StopFlag, command=None, log=print,
                 resume_overrides: dict | None = None, on_record=None, callback=None, parent=None):
        self.dist, self.stop, self.log, self.on_record, self.callback = dist, stop, log, on_record, callback
        self.command = command
        self.out, self.device = Path(cfg.out), dist.device
        torch.set_num_threads(cfg.threads or default_threads(dist))
        self.resume_state, tokenizer, self.parent = None, None, parent
        self.lineage = finetune.lineage(parent) if parent else None     # a resumed one: from its config
        if cfg.resume:
            cfg, model_cfg, tokenizer = self._load_resumable(cfg, resume_overrides)
        elif (self.out / "last").exists() or (self.out / "best").exists():
            raise CorpusError(f"{self.out} already holds a training run: pass --resume to continue it, "
                              f"or choose another --out")
        if cfg.batch_size and cfg.batch_size % dist.world_size:
            raise ValueError(f"--batch-size {cfg.batch_size} is the global batch, shared by {dist.world_size} "
                             f"processes: give a multiple of {dist.world_size}")
        tokenizer = finetune.grown_tokenizer(parent, cfg, stop.requested) if parent else tokenizer
        self.corpus = prepare_shared(dist, cfg.corpus, cfg.tokenizer, self.out / "data", vocab_size=cfg.vocab_size,
                                     encoding=cfg.encoding, val_fraction=cfg.val_fraction, tokenizer=tokenizer,
                                     progress=cfg.progress, should_stop=stop.requested)
        self.tokenizer = self.corpus.tokenizer
        self.words = finetune.merged_words(word_stats(cfg, self.corpus, stop.requested), self.lineage) \
            if dist.is_main else None   # rank 0 writes
        # the train split's head, kept out of training and the word counts, on which each best/ save
        # estimates the keyboard's mixture weights (rank 0 reads it; every rank leaves its ids out)
        self.held_out = held_out_text(cfg, self.corpus) if dist.is_main else ""
        self.held_tokens = dist.broadcast_object(len(self.tokenizer.encode(self.held_out)) if dist.is_main else None)
        if self.resume_state is not None and self.resume_state["corpus_sha256"] != self.corpus.meta["sha256"]:
            raise CorpusError(f"the corpus changed since this run started (sha256 {self.corpus.meta['sha256'][:12]}"
                              f" != {self.resume_state['corpus_sha256'][:12]}): resume needs the same text")
        self.cfg = self._build(cfg, model_cfg)
        self._restore(resume_overrides)

    # ------------------------------------------------------------------ setting up
    def _load_resumable(self, cfg: TrainConfig, resume_overrides):
        out = self.out
        if not (out / "last").exists() and not (out / "last.old").exists():
            raise CheckpointError(f"nothing to resume in {out}: it has no last/ checkpoint")
        saved = read_config(out / "last")
        self.lineage = saved.get("parent")
        keep = {k: v for k, v in saved["train"].items() if k in {f.name for f in fields(TrainConfig)}}
        overrides = {k: v for k, v in (resume_overrides or {}).items() if k in RESUME_OVERRIDES}
        keep.setdefault("held_out_chars", 0)      # a run saved before there was a held-out piece trained on all
        keep.setdefault("held_out_at", TAIL)      # one saved before the piece moved to the head held out the tail
        keep.update(resume=True, progress=cfg.progress, threads=cfg.threads, device=cfg.device, **overrides)
        self.model, tokenizer, _ = load_checkpoint(out / "last")
        self.resume_state = load_trainer_state(out / "last")
        return TrainConfig(**keep), self.model.config, tokenizer

    def _build(self, cfg: TrainConfig, model_cfg) -> TrainConfig:
        """The model (new, or the resumed one), its precision, DDP wrapper, optimizer and batches."""
        dist = self.dist
        if self.resume_state is None:
            auto_batch = cfg.batch_size is None
            model_cfg, cfg = auto_size(model_cfg or ModelConfig(), cfg, len(self.corpus.train_ids))
            if auto_batch:                               # a chosen batch splits evenly over the ranks
                cfg.batch_size = max(dist.world_size, cfg.batch_size // dist.world_size * dist.world_size)
            model_cfg.vocab_size = self.tokenizer.vocab_size
            torch.manual_seed(cfg.seed)
            self.model = CharLM(model_cfg)
            finetune.graft(self.model, self.parent)       # a fine-tune's start: its parent's weights
        finetune.freeze(self.model, cfg.freeze_layers)
        self.model.to(self.device).train()
        self.precision = cfg.precision if cfg.precision != "auto" else \
            ("bf16" if bf16_supported(self.device) else "fp32")
        self.net = wrap_ddp(self.model, dist) if dist.enabled else self.model   # what the loop calls
        if dist.rank and self.resume_state is None:
            torch.manual_seed(cfg.seed + dist.rank)      # its own dropout masks; the weights are rank 0's
        self.opt = optimizer(self.model, cfg, cfg.lr)
        ids = finetune.with_replay(training_ids(cfg, self.corpus.train_ids, self.held_tokens), cfg, self.lineage,
                                   self.tokenizer, self.out / "replay", self.stop.requested, dist)   # + parent's text
        self.batches = TBPTTBatches(ids, cfg.batch_size,
                                    cfg.bptt_len, dist.rank, dist.world_size)
        self.val_split = ValSplit(self.corpus, cfg.val_max_tokens)
        return cfg

    def _restore(self, resume_overrides) -> None:
        """The loop's position: fresh, or exactly as the resumed run saved it."""
        self.step, self.state, self.elapsed_before, self.planned = 0, None, 0.0, self.cfg.max_steps or None
        self.best_val, self.bad_evals, self.history = math.inf, 0, []
        self.pending_eval = False            # a validation a stop interrupted: done first on resume
        saved = self.resume_state
        if saved is not None:
            self.opt.load_state_dict(saved["optimizer"])
            self.batches.load_state_dict(saved["batches"])
            restore_rng(saved, self.dist, self.cfg.seed)
            self.step, self.planned = saved["step"], saved["planned_steps"]
            self.elapsed_before, self.best_val = saved["elapsed"], saved["best_val"]
            self.bad_evals, self.history = saved["bad_evals"], saved["history"]
            self.pending_eval = saved.get("pending_eval", False)
            if "max_steps" in (resume_overrides or {}) or "max_minutes" in (resume_overrides or {}):
                self.planned = self.cfg.max_steps or None    # None: re-planned from the remaining budget
            self.state = scatter_state(saved.get("hidden"), self.dist)
        meta = self.corpus.meta
        self.extra_base = {"train": asdict(self.cfg), "precision": self.precision, "device": str(self.device),
                           "distributed": self.dist.describe(), "command": self.command, "parent": self.lineage,
                           "corpus": {k: meta[k] for k in ("files", "sha256", "chars", "train_chars", "val_chars",
                                                           "train_tokens", "val_tokens")}}

    # ------------------------------------------------------------------ the pieces the loop uses
    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.t_start

    def evaluate(self) -> dict:                          # each rank scores its share; the sums are summed
        return self.val_split.score(self.model, shard=(self.dist.rank, self.dist.world_size), reduce=self.dist.sum,
                                    should_stop=self.stop.requested, progress=self.cfg.progress and self.dist.is_main)

    def save(self, which: str, metrics: dict, with_state: bool) -> None:
        trainer_state = None
        if with_state:                               # collective: every rank gives its rows and RNG
            trainer_state = {"optimizer": self.opt.state_dict(), "batches": self.batches.state_dict(),
                             "step": self.step, "planned_steps": self.planned, "elapsed": self.elapsed(),
                             "best_val": self.best_val, "bad_evals": self.bad_evals, "history": self.history,
                             "eval_every": self.eval_every, "corpus_sha256": self.corpus.meta["sha256"],
                             "pending_eval": self.pending_eval, **gather_rng_and_state(self.state, self.dist)}
        if self.dist.is_main:
            if which == "best" and self.held_out:     # the mixture weights this model earns on held-out text
                self.words.mixture = estimate_mixture(self.model, self.tokenizer, self.words, self.held_out)
            save_checkpoint(self.out / which, self.model, self.tokenizer,
                            {**self.extra_base, "metrics": {"step": self.step, **metrics}},
                            trainer_state=trainer_state, extra_writers=[self.words.save])

    def log_metrics(self, record: dict) -> None:
        if not self.dist.is_main:
            return
        with open(self.out / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.on_record is not None:
            self.on_record(record)

    def validate(self, elapsed: float) -> dict:
        """Validate at the current step, keep ``best/`` if it improved; Interrupted by a stop."""
        metrics = self.evaluate()
        self.history.append({"step": self.step, "elapsed": elapsed, **metrics})
        self.log_metrics({"event": "eval", **self.history[-1]})
        if metrics["val_nats"] < self.best_val:
            self.best_val, self.bad_evals = metrics["val_nats"], 0
            self.save("best", metrics, with_state=False)
        else:
            self.bad_evals += 1
        return metrics

    # ------------------------------------------------------------------ the run
    def fit(self) -> dict:
        """Train to the end of the plan (or the budget, an early stop, a stop asked); the summary."""
        cfg = self.cfg
        if self.dist.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
        self.budget = cfg.max_minutes * 60 if cfg.max_minutes else math.inf
        self.t_start, self.eval_cost = time.monotonic(), 0.0
        # Validation costs time a short run cannot spare: about 2 per budget minute, 2 to 10 in all; a run
        # under 5 minutes skips the step-0 validation, but a fine-tune (its curve starts at the parent's loss).
        self.n_evals = int(min(10, max(2, round(2 * cfg.max_minutes)))) if cfg.max_minutes else 10
        if self.resume_state is None and (self.parent is not None or not 0 < cfg.max_minutes < 5):
            self._first_validation()
        self._plan_validations()
        self.metrics = self.history[-1] if self.history else {}
        if self.pending_eval:           # resumed after a stop in the middle of a validation (every rank alike)
            try:
                self.metrics = self.validate(self.elapsed_before)
                self.pending_eval = False
            except Interrupted:
                pass
        self.interrupted, self.stop_reason = None, "planned steps done"
        self._loop()
        if self.interrupted is None and (not self.history or self.history[-1]["step"] != self.step):
            self._validate_or_stop(self.elapsed())
        self.save("last", self.metrics, with_state=True)
        return self._finish()

    def _first_validation(self) -> None:
        t0 = time.monotonic()
        try:
            self.history.append({"step": 0, "elapsed": 0.0, **self.evaluate()})
            self.log_metrics({"event": "eval", **self.history[-1]})
        except Interrupted:
            self.pending_eval = True                  # the loop stops at once and saves
        self.eval_cost = time.monotonic() - t0

    def _plan_validations(self) -> None:
        cfg, saved = self.cfg, self.resume_state
        self.eval_every = cfg.eval_interval or (max(1, self.planned // 10) if self.planned else 200)
        if saved is not None and self.planned == saved["planned_steps"] and not cfg.eval_interval:
            self.eval_every = saved.get("eval_every", self.eval_every)   # validate at the same steps as before
        self.calib_at, self.calib_t, self.calib_step = self.step + 25, None, self.step
        # Budget mode: the run is timed by --max-minutes alone; its schedule follows the measured pace.
        self.budget_mode = self.budget < math.inf and not cfg.max_steps and (self.planned is None or saved is None)

    def _loop(self) -> None:
        cfg, meta = self.cfg, self.corpus.meta
        self.bar = tqdm(total=self.planned, initial=self.step, unit="step",
                        disable=not (cfg.progress and self.dist.is_main), dynamic_ncols=True)
        self.tokens_per_step = self.batches.batch_size * cfg.bptt_len        # the global batch: all ranks' rows
        self.chars_per_token = meta["train_chars"] / max(1, meta["train_tokens"])
        self.last_log_t, self.last_log_step = time.monotonic(), self.step
        try:
            while self.planned is None or self.step < self.planned:
                if self._time_to_stop():
                    break
                loss, grad_norm, lr = self._train_step()
                self.bar.update(1)
                self._replan()
                if self.step % 50 == 0 or self.step == self.planned:
                    self._log_train(loss, grad_norm, lr)
                if self.callback is not None:
                    self.callback(self.step, {"loss": loss.item(), "lr": lr, "grad_norm": float(grad_norm)})
                if self.step % self.eval_every == 0 and self.step != self.planned and not self._validate_in_loop():
                    break
        finally:                                     # an error (a full disk) must not leave the bar open
            self.bar.close()

    def _time_to_stop(self) -> bool:
        # Every rank must take the same decision here, or the next all-reduce waits forever: the
        # budget is rank 0's clock, and a signal or cancel on any rank stops them all. Under DDP they
        # agree every SYNC_EVERY steps (each agreement is a round trip between ranks).
        dist, asked = self.dist, self.stop.requested()
        time_up, asked_any = self.elapsed() >= self.budget, asked
        if dist.enabled:
            time_up, asked_any = dist.max([dist.is_main and time_up, asked]) if self.step % SYNC_EVERY == 0 \
                else (False, False)
        if time_up:
            self.stop_reason = "time budget reached"
        elif asked_any:
            self.interrupted, self.stop_reason = self.stop.reason() if asked else "another rank", "interrupted"
        return bool(time_up or asked_any)

    def _train_step(self):
        """One step of truncated BPTT with teacher forcing -> (loss, pre-clip gradient norm, lr)."""
        cfg = self.cfg
        x, y = self.batches.next()                                  # (B / ranks, T) each
        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        if self.batches.new_epoch:
            self.state = None                                       # rows restart at the stream's start
        lr = schedule(self.step, cfg, cfg.lr, self.planned or 10 ** 9)
        for group in self.opt.param_groups:
            group["lr"] = lr
        with torch.autocast(self.device.type, dtype=torch.bfloat16) if self.precision == "bf16" else nullcontext():
            logits, self.state = self.net(x, self.state)            # (B / ranks, T, V)
        loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten())
        self.opt.zero_grad(set_to_none=True)
        loss.backward()                                             # DDP: gradients averaged over ranks
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip or math.inf)
        self.opt.step()
        self.state = CharLM.detach(self.state)                      # keep the values, cut the graph
        self.step += 1
        return loss, grad_norm, lr

    def _replan(self) -> None:
        """Plan (and keep re-planning) the schedule to end inside the budget: the steps the remaining
        time allows at the pace so far, validations and saves included, less the validations still
        to come. The host's speed drifts, so one early timing is not enough. Under DDP rank 0's plan
        is everyone's."""
        step = self.step
        if step == self.calib_at - 20:
            self.calib_t, self.calib_step = time.monotonic(), step
        if step >= self.calib_at and step % 25 == 0 and self.budget_mode:
            per_step = (time.monotonic() - self.calib_t) / (step - self.calib_step)
            remaining = self.budget - self.elapsed() - self.eval_cost - 1.0
            new_plan = int(self.dist.broadcast([step + max(1, int(0.98 * remaining / per_step))])[0])
            if self.planned is None:
                self.eval_every = self.cfg.eval_interval or max(1, (new_plan - step) // self.n_evals)
            self.planned = new_plan
            self.bar.total = self.planned
            self.bar.refresh()

    def _log_train(self, loss, grad_norm, lr) -> None:
        now = time.monotonic()
        cps = (self.step - self.last_log_step) * self.tokens_per_step * self.chars_per_token / \
            max(now - self.last_log_t, 1e-9)
        self.last_log_t, self.last_log_step = now, self.step
        mean_loss = self.dist.mean(loss.item())
        rec = {"event": "train", "step": self.step, "loss": mean_loss, "bpc": mean_loss / math.log(2),
               "lr": lr, "grad_norm": float(grad_norm), "chars_per_s": cps,
               "elapsed": self.elapsed_before + now - self.t_start, "planned_steps": self.planned,
               "budget_s": self.budget if self.budget < math.inf else None}
        self.log_metrics(rec)
        self.bar.set_postfix(loss=f"{mean_loss:.3f}", bpc=f"{rec['bpc']:.3f}", cps=f"{cps:,.0f}")

    def _validate_or_stop(self, elapsed: float) -> bool:
        """Validate; a stop in the middle marks the run interrupted with that validation pending."""
        try:
            self.metrics = self.validate(elapsed)
            return True
        except Interrupted:
            self.pending_eval, self.interrupted, self.stop_reason = True, self.stop.reason(), "interrupted"
            return False

    def _validate_in_loop(self) -> bool:
        """A validation inside the loop, then ``last/``; False ends the loop (a stop, or patience)."""
        t0 = time.monotonic()
        if not self._validate_or_stop(self.elapsed()):
            return False
        self.save("last", self.metrics, with_state=True)
        self.eval_cost = time.monotonic() - t0
        if self.cfg.patience and self.bad_evals >= self.cfg.patience:
            self.stop_reason = f"early stop: no improvement in {self.bad_evals} validations"
            return False
        return True

    def _finish(self) -> dict:
        dist, out, cfg = self.dist, self.out, self.cfg
        summary = {"step": self.step, "stop_reason": self.stop_reason, "elapsed": self.elapsed(),
                   "best_val_nats": self.best_val, "last": self.history[-1] if self.history else {}, "out": str(out),
                   "precision": self.precision, "device": str(self.device), "rank": dist.rank,
                   "world_size": dist.world_size, "params": self.model.num_params(), "model": asdict(self.model.config),
                   "history": self.history, "batch_size": cfg.batch_size, "bptt_len": cfg.bptt_len, "lr": cfg.lr}
        self.log_metrics({"event": "end", **{k: v for k, v in summary.items() if k not in ("model", "history")}})
        if self.interrupted is not None and dist.is_main:
            self.log(f"interrupted at step {self.step}"
                     f"{' during a validation (done first on resume)' if self.pending_eval else ''}; "
                     f"saved {out / 'last'}. Continue with: "
                     f"{'torchrun --nproc_per_node=N ' if dist.enabled else 'python '}-m chargen train --out {out} --resume")
        return summary
