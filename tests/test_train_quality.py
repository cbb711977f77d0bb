"""Training quality: a short fixed run on bundled text must keep reaching its validation loss.

Issue 23: from f24048f on, the train split's last 30,000 characters were kept out of training (to fit
the keyboard's mixture weights on). The validation split continues that text: on Tiny Shakespeare
it is mostly The Taming of the Shrew, whose start was the held-out tail, so the model never saw its
characters' names, and the 100-second run's validation loss rose from 1.527 to 1.675 nats/char with
nothing else changed. The held-out piece is now the train split's head. The corpus here has the
same shape in miniature (one long work, then the start of another that the validation text
continues); the run is fp32 on one thread with a fixed seed and step count, so it is deterministic.
"""
from pathlib import Path

import numpy as np

from chargen.model import ModelConfig
from chargen.train import TrainConfig, train
from chargen.training import Run

AUSTEN = Path(__file__).resolve().parent.parent / "corpora" / "austen"
# Measured on the fixed code: 1.7821 nats/char (with the held-out tail of f24048f..6b83662: 1.8474;
# other seeds of the fixed code 1.78-1.85, so the bound is for this seed only).
VAL_NATS_BOUND = 1.80


def _two_works(tmp_path) -> Path:
    emma = (AUSTEN / "austen-emma.txt").read_text(encoding="utf-8")
    persuasion = (AUSTEN / "austen-persuasion.txt").read_text(encoding="utf-8")
    corpus = tmp_path / "two_works.txt"
    corpus.write_text(emma[5000:35000] + persuasion[:9000], encoding="utf-8")   # val: Persuasion's chars 5,100-9,000
    return corpus


def _config(corpus, out, **kw) -> TrainConfig:
    return TrainConfig(**{**dict(corpus=[str(corpus)], out=str(out), max_minutes=0, max_steps=600, batch_size=8,
                                 bptt_len=64, lr=1e-2, warmup_steps=20, eval_interval=600, patience=0, seed=1,
                                 precision="fp32", threads=1, progress=False), **kw})


def test_a_short_fixed_run_reaches_its_validation_loss(tmp_path, keep_torch_threads):
    summary = train(_config(_two_works(tmp_path), tmp_path / "run"),
                    ModelConfig(num_layers=1, hidden_size=128, embed_size=32, dropout=0.0), log=lambda *a: None)
    assert summary["step"] == 600
    assert summary["last"]["val_nats"] < VAL_NATS_BOUND, summary["last"]


def test_training_reads_up_to_the_validation_split_and_holds_out_the_head(tmp_path, keep_torch_threads):
    from chargen.distributed import setup
    from chargen.stopping import StopFlag
    cfg = _config(_two_works(tmp_path), tmp_path / "run", held_out_chars=2000)
    dist = setup(cfg.device)
    try:
        with StopFlag(None) as stop:
            run = Run(dist, cfg, ModelConfig(num_layers=1, hidden_size=16), stop, log=lambda *a: None)
    finally:
        dist.close()
    ids, trained = np.asarray(run.corpus.train_ids), np.asarray(run.batches.ids)
    assert run.held_tokens == 2000 and len(trained) == len(ids) - 2000
    assert np.array_equal(trained, ids[2000:])        # the last train token, next to the validation text, is trained on
    assert run.tokenizer.encode(run.held_out) == ids[:2000].tolist()
