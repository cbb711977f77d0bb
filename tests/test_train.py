import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from chargen.checkpoint import load_checkpoint
from chargen.data import CorpusError
from chargen.model import ModelConfig
from chargen.train import TrainConfig, train
from conftest import ENGLISH, tiny_train_config

ROOT = Path(__file__).resolve().parent.parent


def _tiny(**kw):
    return ModelConfig(**{**dict(num_layers=1, hidden_size=32, embed_size=16, dropout=0.0), **kw})


def test_tiny_model_overfits_a_short_text(tmp_path):
    corpus = tmp_path / "short.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 12)
    summary = train(tiny_train_config(corpus, tmp_path / "run", max_steps=300, lr=2e-2, eval_interval=100, batch_size=2,
                         val_fraction=0.2), _tiny(hidden_size=64))
    assert summary["last"]["val_nats"] < 0.1, summary["last"]
    metrics = [json.loads(l) for l in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert {m["event"] for m in metrics} == {"eval", "train", "end"}
    assert all("grad_norm" in m for m in metrics if m["event"] == "train")


def _final_weights(path):
    model, _, _ = load_checkpoint(path)
    return model.state_dict()


def test_interrupted_and_resumed_equals_uninterrupted(tmp_path, english_file):
    full = train(tiny_train_config(english_file, tmp_path / "full"), _tiny(dropout=0.2))

    def interrupt(step, info):
        if step == 17:
            signal.raise_signal(signal.SIGINT)       # what Ctrl-C does: save and stop cleanly
    part = train(tiny_train_config(english_file, tmp_path / "part"), _tiny(dropout=0.2), callback=interrupt)
    assert part["stop_reason"] == "interrupted" and part["step"] == 17
    resumed = train(TrainConfig(out=str(tmp_path / "part"), resume=True, progress=False, threads=1))
    assert resumed["step"] == 40
    assert resumed["last"]["val_nats"] == pytest.approx(full["last"]["val_nats"], abs=1e-6)
    a, b = _final_weights(tmp_path / "full" / "last"), _final_weights(tmp_path / "part" / "last")
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=0)


def test_existing_run_is_not_overwritten(tmp_path, english_file):
    train(tiny_train_config(english_file, tmp_path / "run", max_steps=5), _tiny())
    with pytest.raises(CorpusError, match="--resume"):
        train(tiny_train_config(english_file, tmp_path / "run", max_steps=5), _tiny())


def test_resume_refuses_a_changed_corpus(tmp_path, english_file):
    def interrupt(step, info):
        if step == 3:
            signal.raise_signal(signal.SIGINT)
    train(tiny_train_config(english_file, tmp_path / "run"), _tiny(), callback=interrupt)
    english_file.write_text(ENGLISH * 25)
    with pytest.raises(CorpusError, match="corpus changed"):
        train(TrainConfig(out=str(tmp_path / "run"), resume=True, progress=False, threads=1))


def test_early_stopping_keeps_the_best(tmp_path, english_file):
    # a huge learning rate makes validation get worse, so patience runs out
    s = train(tiny_train_config(english_file, tmp_path / "run", max_steps=400, eval_interval=5, patience=2, lr=1.0,
                   grad_clip=0), _tiny())
    assert s["stop_reason"].startswith("early stop") and s["step"] < 400
    best = load_checkpoint(tmp_path / "run")[2]["metrics"]["val_nats"]
    assert best == pytest.approx(s["best_val_nats"])


@pytest.mark.parametrize("kind", ["bpe", "jamo"])
def test_other_tokenizers_train_and_report_per_character(tmp_path, korean_file, kind):
    s = train(tiny_train_config(korean_file, tmp_path / kind, tokenizer=kind, vocab_size=400, max_steps=20), _tiny())
    last = s["last"]
    assert last["val_chars"] < last["val_tokens"] if kind == "jamo" else last["val_chars"] >= last["val_tokens"]
    assert last["val_nats"] == pytest.approx(last["val_nats_per_token"] * last["val_tokens"] / last["val_chars"])


def test_time_budget_plans_and_stops(tmp_path, english_file):
    s = train(tiny_train_config(english_file, tmp_path / "run", max_steps=0, max_minutes=0.05, eval_interval=0), _tiny())
    assert s["elapsed"] < 0.05 * 60 + 2
    assert s["stop_reason"] in ("planned steps done", "time budget reached")


@pytest.mark.slow
def test_sigterm_saves_and_exits_cleanly_then_resumes(tmp_path, english_file):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "chargen", "train", "--corpus", str(english_file), "--out", str(tmp_path / "run"),
           "--max-steps", "100000", "--max-minutes", "0", "--hidden-size", "16", "--num-layers", "1",
           "--batch-size", "2", "--bptt-len", "8", "--threads", "1"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = tmp_path / "run" / "metrics.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and (not metrics.exists() or '"train"' not in metrics.read_text()):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "--resume" in err
    assert (tmp_path / "run" / "last" / "trainer_state.pt").exists()
    step = json.loads(metrics.read_text().splitlines()[-1])["step"]
    r = subprocess.run([sys.executable, "-m", "chargen", "train", "--out", str(tmp_path / "run"), "--resume",
                        "--max-steps", str(step + 20)], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_should_stop_cancels_and_saves_a_resumable_run_and_records_stream(tmp_path, english_file):
    records = []
    summary = train(tiny_train_config(english_file, tmp_path / "run", max_steps=200), _tiny(),
                    on_record=records.append, should_stop=lambda: len(records) >= 3, log=lambda *a: None)
    assert summary["stop_reason"] == "interrupted" and summary["step"] < 200
    assert [json.loads(l) for l in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()] == records
    assert (tmp_path / "run" / "last" / "trainer_state.pt").exists()
    resumed = train(tiny_train_config(english_file, tmp_path / "run", max_steps=200, resume=True), log=lambda *a: None)
    assert resumed["step"] == 200
