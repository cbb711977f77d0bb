"""Stopping training in every phase, and a full disk: one clear message, nothing half-written, the
last checkpoint loadable and resumable."""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chargen.checkpoint import CheckpointError, load_checkpoint
from chargen.data import prepare_corpus
from chargen.evaluate import stream_loss
from chargen.model import CharLM, ModelConfig
from chargen.stopping import Interrupted
from chargen.tokenizer import fit_tokenizer
from chargen.train import train
from conftest import ENGLISH, tiny_train_config

ROOT = Path(__file__).resolve().parent.parent


def _words_text(n_chars: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    vocab = ENGLISH.replace("\n", " ").split()
    out, size = [], 0
    while size < n_chars:
        line = " ".join(rng.choice(vocab) for _ in range(12)) + "\n"
        out.append(line)
        size += len(line)
    return "".join(out)


def test_long_phases_stop_between_chunks(tmp_path):
    corpus = tmp_path / "big.txt"
    corpus.write_text(_words_text(3_000_000))
    asked = []
    with pytest.raises(Interrupted, match="reading the corpus"):
        prepare_corpus([corpus], "char", tmp_path / "data", should_stop=lambda: asked.append(1) or len(asked) > 1)
    calls = []
    with pytest.raises(Interrupted, match="tokenizing"):        # asked once per chunk of every pass
        prepare_corpus([corpus], "char", tmp_path / "data", should_stop=lambda: calls.append(1) or len(calls) > 6)
    assert not list((tmp_path / "data").glob("*.tmp"))         # nothing half-written left behind
    with pytest.raises(Interrupted, match="learning the bpe vocabulary"):   # SentencePiece's C++ is left behind
        fit_tokenizer("bpe", [corpus.read_text()], vocab_size=400, should_stop=lambda: True)
    model = CharLM(ModelConfig(vocab_size=50, num_layers=1, hidden_size=8))
    n = []
    with pytest.raises(Interrupted, match="validating"):
        stream_loss(model, list(range(1, 50)) * 200, rows=2, chunk=16, should_stop=lambda: n.append(1) or len(n) > 3)
    assert len(n) == 4 and model.training                       # its mode restored, as after a full pass


def _full_disk(*args, **kwargs):
    from safetensors import SafetensorError
    raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")


def test_a_full_disk_while_saving_is_one_clear_error_and_the_last_checkpoint_stays(tmp_path, english_file,
                                                                                  monkeypatch, capsys):
    from chargen import cli
    from chargen import checkpoint
    run = tmp_path / "run"
    train(tiny_train_config(english_file, run, max_steps=20), ModelConfig(num_layers=1, hidden_size=16),
          log=lambda *a: None)
    before = (run / "last" / "model.safetensors").read_bytes()
    monkeypatch.setattr(checkpoint, "save_file", _full_disk)
    with pytest.raises(CheckpointError, match="no space left on device.*previous checkpoint there is intact"):
        train(tiny_train_config(english_file, run, resume=True), resume_overrides={"max_steps": 40}, log=lambda *a: None)
    assert not [p for p in run.iterdir() if p.name.endswith((".tmp", ".old"))]
    assert (run / "last" / "model.safetensors").read_bytes() == before
    load_checkpoint(run / "last")
    assert cli.main(["train", "--out", str(run), "--resume", "--max-steps", "40"]) == 2     # the CLI: one line
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]                  # after the progress bars
    assert last.startswith("error: cannot save the checkpoint") and "disk is full" in last
    assert "Traceback" not in err and err.count("error:") == 1
    monkeypatch.undo()
    resumed = train(tiny_train_config(english_file, run, resume=True), resume_overrides={"max_steps": 40},
                    log=lambda *a: None)
    assert resumed["step"] == 40


def _mount_small_fs(path: Path, size: str) -> bool:
    path.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    return r.returncode == 0


@pytest.mark.slow
def test_training_onto_a_filesystem_that_fills_up(tmp_path, english_file):
    # a real full disk (a small tmpfs; needs root to mount): the run stops with one error line, and
    # whatever checkpoint it saved last still loads
    disk = tmp_path / "small"
    if not _mount_small_fs(disk, "400k"):
        pytest.skip("cannot mount a small tmpfs here (not root); the simulated full disk above still runs")
    try:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        r = subprocess.run([sys.executable, "-m", "chargen", "train", "--corpus", str(english_file), "--out",
                            str(disk / "run"), "--max-minutes", "0", "--max-steps", "400", "--eval-interval", "20",
                            "--hidden-size", "96", "--num-layers", "1", "--batch-size", "2", "--bptt-len", "8",
                            "--threads", "1", "--patience", "0"],
                           env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 2, r.stderr
        last = r.stderr.strip().splitlines()[-1]
        assert last.startswith("error:") and "disk is full" in last, r.stderr
        assert "Traceback" not in r.stderr
        assert not list((disk / "run").glob("*.tmp"))
        for kind in ("last", "best"):
            if (disk / "run" / kind).exists():
                load_checkpoint(disk / "run" / kind)
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


@pytest.mark.slow
def test_sigterm_during_validation_exits_within_seconds_with_a_resumable_run(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(_words_text(600_000))             # half of it validates: seconds of work on a CPU
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "chargen", "train", "--corpus", str(corpus), "--out", str(run), "--val-fraction",
           "0.5", "--max-minutes", "0", "--max-steps", "3", "--eval-interval", "100", "--held-out-chars", "0", "--hidden-size", "160", "--num-layers", "2",
           "--batch-size", "2", "--bptt-len", "8", "--threads", "2"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = ""
    deadline = time.time() + 120
    while "validating" not in seen and time.time() < deadline:      # the step-0 validation has begun
        seen += os.read(proc.stderr.fileno(), 4096).decode(errors="replace")
    assert "validating" in seen, seen
    time.sleep(0.5)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    took = time.monotonic() - sent
    assert proc.returncode == 0, seen + err
    assert took < 5, took
    assert "during a validation" in err and "--resume" in err
    state = run / "last" / "trainer_state.pt"
    assert state.exists()
    r = subprocess.run([sys.executable, "-m", "chargen", "train", "--out", str(run), "--resume"], env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    evals = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if '"eval"' in line]
    assert [e["step"] for e in evals] == [0, 3]          # the interrupted validation was done on resume


@pytest.mark.slow
def test_sigterm_while_tokenizing_stops_at_once_with_a_clear_message(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(_words_text(40_000_000))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "chargen", "train", "--corpus", str(corpus), "--out",
                             str(tmp_path / "run"), "--threads", "1"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    seen = ""
    deadline = time.time() + 120
    while "reading" not in seen and time.time() < deadline:
        seen += os.read(proc.stderr.fileno(), 4096).decode(errors="replace")
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - sent < 5
    assert proc.returncode == 130, err
    assert "interrupted while" in err and "run the same command again" in err and "Traceback" not in err
    shutil.rmtree(tmp_path / "run", ignore_errors=True)
