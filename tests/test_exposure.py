"""Teacher forcing against free running: k = 0 is the plain teacher-forced loss of those tokens,
the table is reproducible, and a trained model pays for reading its own samples."""
import numpy as np
import pytest
import torch

from chargen.exposure import exposure_bias
from chargen.model import CharLM, ModelConfig
from conftest import ENGLISH, tiny_train_config


def test_k0_is_teacher_forcing_and_the_table_is_seeded():
    torch.manual_seed(0)
    model = CharLM(ModelConfig(vocab_size=9, num_layers=1, hidden_size=12, dropout=0.0))
    ids = np.random.default_rng(0).integers(0, 9, 300)
    rows = exposure_bias(model, ids, ks=(0, 2, 5), positions=40, context=20, seed=3)
    assert [r["k"] for r in rows] == [0, 2, 5] and rows[0]["gap"] == 0.0
    targets = np.random.default_rng(3).choice(np.arange(25, 300), size=40, replace=False)   # as the function draws
    with torch.no_grad():
        logits, _ = model(torch.from_numpy(np.stack([ids[t - 20:t] for t in targets])))
    tf = -torch.log_softmax(logits[:, -1].double(), -1)[torch.arange(40), torch.from_numpy(ids[targets])].mean()
    assert rows[0]["nats"] == pytest.approx(float(tf), rel=1e-6)
    assert rows[1]["bits"] == pytest.approx(rows[1]["nats"] / np.log(2))
    assert exposure_bias(model, ids, ks=(0, 2, 5), positions=40, context=20, seed=3) == rows
    with pytest.raises(ValueError, match="too short"):
        exposure_bias(model, ids[:30], ks=(0, 16), context=20)


def test_a_trained_model_reading_its_own_samples_loses_more(tmp_path, english_file):
    from chargen.checkpoint import load_checkpoint
    from chargen.train import train
    train(tiny_train_config(english_file, tmp_path / "run", max_steps=150, eval_interval=150),
          ModelConfig(num_layers=1, hidden_size=48, dropout=0.0), log=lambda *_: None)
    model, tok, _ = load_checkpoint(tmp_path / "run")
    ids = tok.encode_array(ENGLISH * 6)
    rows = exposure_bias(model, ids, ks=(0, 8), positions=256, context=32)
    assert rows[1]["gap"] > 1.0, rows                    # measured: 3.7 nats (0.17 -> 3.87) after 150 steps
