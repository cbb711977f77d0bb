"""Background training for the UI: one job at a time in a worker thread, live progress records,
samples while it trains, Cancel; the finished model is moved under the checkpoints root.

A run trains in ``ROOT/.training/NAME`` (hidden from the catalog) and is renamed to ``ROOT/NAME``
when it ends, so the model picker never lists half a run. Usage:

    jobs = JobManager("checkpoints")
    jobs.start(["novel.txt"], name="novel", tokenizer="char", preset="auto", minutes=5)
    jobs.snapshot()        # {"state": "training", "progress": 0.4, "curve": [...], "samples": [...]}
    jobs.cancel()
"""
from __future__ import annotations

import logging
import math
import re
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .checkpoint import CheckpointError, load_checkpoint
from .data import CorpusError, find_files
from .model import ModelConfig
from .sample import SampleConfig, generate
from .sizing import PRESETS
from .stopping import Interrupted
from .tokenizer import CHAR, DEFAULT_SUBWORD_VOCAB, KINDS
from .train import TrainConfig, train

log = logging.getLogger("chargen.jobs")

TERMINAL = ("done", "cancelled", "failed")
SAMPLE_CHARS = 200


class JobError(ValueError):
    """A training request that cannot start; the message is for the user."""


@dataclass
class Job:
    id: str
    name: str                        # the model's name under the root once finished
    work: Path                       # ROOT/.training/NAME while it trains
    files: list[str]                 # the corpus files' names, as shown
    sources: list = field(default_factory=list)    # (path trained on, name shown)
    state: str = "preparing"         # preparing, training, cancelling, done, cancelled, failed
    message: str = "reading and tokenizing the corpus"
    error: str | None = None
    progress: float = 0.0            # 0..1, from steps and elapsed time against the plan
    step: int = 0
    planned_steps: int | None = None
    elapsed: float = 0.0
    budget_s: float | None = None
    curve: list = field(default_factory=list)      # {"step", "series", "bpc"}: train and val bpc
    samples: list = field(default_factory=list)    # (step, text)
    started: float = field(default_factory=time.time)
    finished: float | None = None
    result: str | None = None        # the saved model's name (done, or cancelled after a validation)
    cancel_requested: bool = False
    checkpoints_seen: int = 0        # validations so far (each one saves last/)
    samples_taken: int = 0
    step_t0: float | None = None     # monotonic time of the first step


class JobManager:
    def __init__(self, root, max_upload_bytes: int = 50 << 20, threads: int = 1, corpora_dir=None):
        self.root = Path(root)
        self.max_upload_bytes = max_upload_bytes
        self.threads = threads                # torch threads are process-wide: leave the UI a core
        self.corpora_dir = Path(corpora_dir) if corpora_dir else None
        self._lock = threading.Lock()
        self._job: Job | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- bundled corpora
    def bundled_corpora(self) -> dict[str, Path]:
        """What the bundled-corpus picker offers: the ``.txt`` files of the corpora folder and its
        sub-folders that hold ``.txt`` files (a folder trains on all of them, in name order)."""
        d = self.corpora_dir
        if d is None or not d.is_dir():
            return {}
        found = {p.name: p for p in sorted(d.iterdir())
                 if (p.is_file() and p.suffix == ".txt") or (p.is_dir() and any(p.rglob("*.txt")))}
        return dict(sorted(found.items()))

    # ---------------------------------------------------------------- control
    def start(self, files=(), name: str | None = None, tokenizer: str = CHAR, preset: str = "auto",
              minutes: float = 2.0, vocab_size: int = DEFAULT_SUBWORD_VOCAB, bundled: str | None = None,
              max_steps: int = 0, init_from: str | None = None) -> Job:
        """Check the request and start training in the background; JobError says what is wrong.
        ``files`` are uploads (copied into the run, size-limited); ``bundled`` names a bundled corpus;
        ``init_from``: a checkpoint to fine-tune (its size and tokenizer then, not ``preset``'s)."""
        uploads = [Path(f) for f in (files or [])]
        sources: list[tuple[Path, str]] = []            # (file to train on, name to show)
        if bundled:
            corpora = self.bundled_corpora()
            if bundled not in corpora:        # only a listed entry, never a path from the browser
                raise JobError(f"no bundled corpus named {bundled!r}")
            try:
                sources += [(f, str(f.relative_to(self.corpora_dir))) for f in find_files([corpora[bundled]])]
            except CorpusError as e:
                raise JobError(str(e)) from None
        if not uploads and not sources:
            raise JobError("upload one or more .txt files (or pick a bundled corpus) first")
        if tokenizer not in KINDS:
            raise JobError(f"unknown tokenizer {tokenizer!r}: choose one of {', '.join(KINDS)}")
        if preset not in PRESETS:
            raise JobError(f"unknown size preset {preset!r}: choose one of {', '.join(PRESETS)}")
        if not (minutes and minutes > 0) and not max_steps:
            raise JobError("give a time budget of more than 0 minutes")
        for f in uploads:
            if not f.is_file():
                raise JobError(f"{f.name} is missing (upload it again)")
        total = sum(f.stat().st_size for f in uploads)
        if total > self.max_upload_bytes:
            raise JobError(f"the uploads are {total / 2**20:.1f} MB; the limit here is "
                           f"{self.max_upload_bytes / 2**20:.0f} MB (train larger corpora with the CLI)")
        with self._lock:
            if self._job is not None and self._job.state not in TERMINAL:
                raise JobError(f"a training run ({self._job.name}) is already in progress: wait for it "
                               f"or cancel it (one run at a time)")
            name = self._unique_name(safe_name(name or (uploads[0].stem if uploads else bundled)))
            work = self.root / ".training" / name
            job = Job(uuid.uuid4().hex[:8], name, work, [f.name for f in uploads] + [n for _, n in sources],
                      planned_steps=max_steps or None, budget_s=minutes * 60 if minutes else None)
            self._job = job
        try:
            shutil.rmtree(work, ignore_errors=True)
            (work / "corpus").mkdir(parents=True)
            copies = []
            for i, f in enumerate(uploads):        # uploads may be cleaned up while we train
                dst = work / "corpus" / str(i) / f"{safe_name(f.stem)}.txt"    # a folder each: names repeat
                dst.parent.mkdir()
                shutil.copyfile(f, dst)
                copies.append((dst, f.name))
        except OSError as e:
            self._finish(job, "failed", error=f"cannot prepare the run: {e}")
            raise JobError(job.error) from None
        job.sources = copies + sources
        args = (job, [str(p) for p, _ in job.sources], tokenizer, PRESETS[preset], minutes, vocab_size, max_steps,
                init_from)
        self._thread = threading.Thread(target=self._run, args=args, name=f"train-{name}", daemon=True)
        self._thread.start()
        return job

    def cancel(self) -> bool:
        """Ask the running job to stop (it saves and stops within a step). False if none runs."""
        with self._lock:
            job = self._job
            if job is None or job.state in TERMINAL:
                return False
            job.cancel_requested = True
            job.state, job.message = "cancelling", "stopping after the current step"
            return True

    def wait(self, timeout: float | None = None) -> Job | None:
        if self._thread is not None:
            self._thread.join(timeout)
        return self._job

    def busy(self) -> bool:
        job = self._job
        return job is not None and job.state not in TERMINAL

    def snapshot(self) -> dict | None:
        """A copy of the current (or last) job's state for display; None before any job."""
        with self._lock:
            job = self._job
            if job is None:
                return None
            d = {k: getattr(job, k) for k in ("id", "name", "files", "state", "message", "error", "progress",
                                              "step", "planned_steps", "elapsed", "budget_s", "result",
                                              "started", "finished")}
            d["curve"], d["samples"] = list(job.curve), list(job.samples)
            return d

    # ---------------------------------------------------------------- the worker
    def _unique_name(self, name: str) -> str:
        taken = lambda n: (self.root / n).exists() or (self.root / ".training" / n).exists()  # noqa: E731
        candidate, i = name, 2
        while taken(candidate):
            candidate, i = f"{name}-{i}", i + 1
        return candidate

    def _run(self, job: Job, corpus: list[str], tokenizer: str, size, minutes: float, vocab_size: int,
             max_steps: int, init_from: str | None = None) -> None:
        cfg = TrainConfig(corpus=corpus, out=str(job.work / "run"), tokenizer=tokenizer, vocab_size=vocab_size,
                          max_minutes=minutes or 0.0, max_steps=max_steps, threads=self.threads, progress=False,
                          init_from=init_from or "")
        model_cfg = ModelConfig(num_layers=size[0], hidden_size=size[1]) if size and not init_from else None
        try:                  # a fine-tune takes its parent's size and tokenizer: no flag of the form is "given"
            summary = train(cfg, model_cfg, given=set() if init_from else None,
                            log=lambda msg: log.info("%s: %s", job.name, msg),
                            callback=lambda step, info: self._on_step(job, step),
                            on_record=lambda r: self._on_record(job, r), should_stop=lambda: job.cancel_requested)
        except Interrupted:                # cancelled while reading, tokenizing or counting words
            shutil.rmtree(job.work, ignore_errors=True)
            self._finish(job, "cancelled", message="cancelled before the first validation: nothing kept")
            return
        except (CorpusError, CheckpointError, ValueError) as e:
            message = self._user_message(job, str(e))
            shutil.rmtree(job.work, ignore_errors=True)
            self._finish(job, "failed", error=message)
            return
        except Exception as e:  # a bug, not the user's input: log it whole, show one line
            log.exception("training %s failed", job.name)
            shutil.rmtree(job.work, ignore_errors=True)
            self._finish(job, "failed", error=f"training failed: {type(e).__name__}: {e}")
            return
        self._keep(job, summary)

    def _keep(self, job: Job, summary: dict) -> None:
        run = job.work / "run"
        cancelled = summary.get("stop_reason") == "interrupted"
        if cancelled and not (run / "best").exists():      # stopped before its first validation
            shutil.rmtree(job.work, ignore_errors=True)
            self._finish(job, "cancelled", message="cancelled before the first validation: nothing kept")
            return
        shutil.rmtree(run / "data", ignore_errors=True)    # tokenized ids: only needed to resume
        with self._lock:
            if (self.root / job.name).exists():          # taken since the start (by hand)
                job.name = self._unique_name(job.name)
            final = self.root / job.name
        run.rename(final)
        shutil.rmtree(job.work, ignore_errors=True)
        self._sample(job, final, summary.get("step", job.step))
        best = summary.get("best_val_nats")
        bpc = f"; val bpc {best / math.log(2):.3f}" if best and math.isfinite(best) else ""
        verb = "cancelled; kept the model trained so far" if cancelled else "finished"
        self._finish(job, "cancelled" if cancelled else "done", result=job.name,
                     message=f"{verb}: saved as {job.name} after {summary.get('step', 0)} steps{bpc}")

    def _finish(self, job: Job, state: str, message: str | None = None, error: str | None = None,
                result: str | None = None) -> None:
        with self._lock:
            job.state, job.finished, job.result = state, time.time(), result
            job.error = error
            job.message = message or error or state
            if state == "done":
                job.progress = 1.0

    def _user_message(self, job: Job, text: str) -> str:
        """A library message with the run's private paths replaced by the file names shown."""
        for path, name in job.sources:
            text = text.replace(str(path), name)
        return text.replace(str(job.work / "run"), job.name)

    def _on_step(self, job: Job, step: int) -> None:
        """Every step: the step count and progress between the (50-step) metrics records."""
        now = time.monotonic()
        with self._lock:
            job.step_t0 = job.step_t0 or now
            job.step, job.elapsed = step, max(job.elapsed, now - job.step_t0)
            self._progress(job)

    @staticmethod
    def _progress(job: Job) -> None:
        parts = [job.step / job.planned_steps if job.planned_steps else 0.0,
                 job.elapsed / job.budget_s if job.budget_s else 0.0]
        job.progress = min(0.99, max(job.progress, *parts))

    def _on_record(self, job: Job, r: dict) -> None:
        event = r.get("event")
        with self._lock:
            if job.state == "preparing":
                job.state, job.message = "training", "training"
            if event == "train":
                job.step, job.planned_steps, job.elapsed = r["step"], r.get("planned_steps"), r["elapsed"]
                job.budget_s = r.get("budget_s")
                self._progress(job)
                job.curve.append({"step": r["step"], "series": "train bpc", "bpc": r["bpc"]})
                if job.state == "training":
                    job.message = (f"step {job.step:,}" + (f" of about {job.planned_steps:,}" if job.planned_steps else "")
                                   + f", {r['chars_per_s']:,.0f} chars/s, train bpc {r['bpc']:.3f}")
            elif event == "eval":
                job.curve.append({"step": r["step"], "series": "val bpc", "bpc": r["val_bpc"]})
                if r["step"] > 0:
                    job.checkpoints_seen += 1
            due = job.checkpoints_seen > job.samples_taken and event == "train"
        if due:     # the validation's last/ checkpoint is on disk by the next train record
            job.samples_taken = job.checkpoints_seen
            self._sample(job, job.work / "run" / "last", job.step)

    def _sample(self, job: Job, path: Path, step: int) -> None:
        try:
            model, tokenizer, _ = load_checkpoint(path)
            text = "".join(generate(model, tokenizer, "", SAMPLE_CHARS, SampleConfig.temperature, seed=step))
        except Exception as e:   # a sample is a bonus: never let it end the run
            log.warning("sample at step %s failed: %s", step, e)
            return
        with self._lock:
            if job.samples and job.samples[-1][0] == step:    # the final model at the last validation
                job.samples.pop()
            job.samples.append((step, text))


def safe_name(raw: str) -> str:
    """A folder name from user text: letters, digits, '-', '_' and '.', no leading dot, 64 chars."""
    name = re.sub(r"[^\w.-]+", "-", str(raw), flags=re.UNICODE).strip("-.")[:64]
    return name or "model"
