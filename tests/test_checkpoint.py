import json
import os

import pytest
import torch

from chargen.checkpoint import (CheckpointError, load_checkpoint, load_trainer_state, resolve_checkpoint,
                                save_checkpoint)
from chargen.model import CharLM, ModelConfig
from chargen.tokenizer import fit_tokenizer
from conftest import ENGLISH


@pytest.fixture
def saved(tmp_path):
    tok = fit_tokenizer("char", [ENGLISH])
    torch.manual_seed(0)
    model = CharLM(ModelConfig(vocab_size=tok.vocab_size, num_layers=2, hidden_size=16, embed_size=8, dropout=0.1))
    path = save_checkpoint(tmp_path / "ckpt", model, tok, {"metrics": {"val_nats": 1.0}},
                           trainer_state={"step": 3, "rng": torch.get_rng_state()})
    return path, model.eval(), tok


def test_save_load_identical_logits(saved):
    path, model, tok = saved
    loaded, tok2, config = load_checkpoint(path)
    ids = torch.tensor([tok.encode(ENGLISH[:50])])
    torch.testing.assert_close(loaded(ids)[0], model(ids)[0], atol=0, rtol=0)
    assert tok2.encode(ENGLISH) == tok.encode(ENGLISH)
    assert config["metrics"]["val_nats"] == 1.0 and config["format_version"] == 1
    assert load_trainer_state(path)["step"] == 3
    assert sorted(os.listdir(path)) == ["config.json", "model.safetensors", "tokenizer.json", "trainer_state.pt"]


def test_tied_and_fp16_weights_round_trip(tmp_path):
    tok = fit_tokenizer("char", [ENGLISH])
    model = CharLM(ModelConfig(vocab_size=tok.vocab_size, num_layers=1, hidden_size=8, embed_size=8, dropout=0.0,
                               tie_weights=True)).eval()
    path = save_checkpoint(tmp_path / "t", model, tok, weights_dtype=torch.float16)
    loaded, _, _ = load_checkpoint(path)
    assert loaded.head.weight is loaded.embedding.weight
    assert loaded.embedding.weight.dtype == torch.float32
    ids = torch.tensor([tok.encode("All: speak")])
    torch.testing.assert_close(loaded(ids)[0], model(ids)[0], atol=5e-2, rtol=0)


def test_truncated_weights(saved):
    path, _, _ = saved
    w = path / "model.safetensors"
    w.write_bytes(w.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(path)


def test_truncated_weights_without_checksum(saved):
    path, _, _ = saved
    cfg = json.loads((path / "config.json").read_text())
    del cfg["weights_sha256"]
    (path / "config.json").write_text(json.dumps(cfg))
    w = path / "model.safetensors"
    w.write_bytes(w.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(path)


def test_truncated_config(saved):
    path, _, _ = saved
    c = path / "config.json"
    c.write_text(c.read_text()[:40])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(path)


def test_truncated_trainer_state(saved):
    path, _, _ = saved
    f = path / "trainer_state.pt"
    f.write_bytes(f.read_bytes()[:50])
    with pytest.raises(CheckpointError, match="trainer_state.pt is truncated"):
        load_trainer_state(path)


def test_trainer_state_never_unpickles_objects(saved):
    path, _, _ = saved
    torch.save({"evil": os.system}, path / "trainer_state.pt")   # a pickled global function
    with pytest.raises(CheckpointError):
        load_trainer_state(path)


def test_foreign_and_missing(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope")
    (tmp_path / "other").mkdir()
    with pytest.raises(CheckpointError, match="no config.json"):
        load_checkpoint(tmp_path / "other")
    (tmp_path / "other" / "config.json").write_text('{"model_type": "gpt2"}')
    with pytest.raises(CheckpointError, match="not a chargen checkpoint"):
        load_checkpoint(tmp_path / "other")


def test_version_and_mismatches(saved):
    path, _, _ = saved
    c = path / "config.json"
    cfg = json.loads(c.read_text())
    c.write_text(json.dumps({**cfg, "format_version": 99}))
    with pytest.raises(CheckpointError, match="format version 99"):
        load_checkpoint(path)
    c.write_text(json.dumps({**cfg, "model": {**cfg["model"], "hidden_size": 32}}))
    with pytest.raises(CheckpointError, match="wrong shape"):
        load_checkpoint(path)
    c.write_text(json.dumps({**cfg, "model": {**cfg["model"], "vocab_size": cfg["model"]["vocab_size"] + 1}}))
    with pytest.raises(CheckpointError, match="do not belong together"):
        load_checkpoint(path)
    c.write_text(json.dumps({**cfg, "model": {**cfg["model"], "num_layers": 3}}))
    with pytest.raises(CheckpointError, match="does not match its config"):
        load_checkpoint(path)


def test_overwrite_is_atomic_and_interrupted_swap_recovers(saved):
    path, model, tok = saved
    save_checkpoint(path, model, tok, {"metrics": {"val_nats": 0.5}})
    assert load_checkpoint(path)[2]["metrics"]["val_nats"] == 0.5
    assert not path.with_name("ckpt.tmp").exists() and not path.with_name("ckpt.old").exists()
    # simulate a crash between "old aside" and "new in place": both whole directories remain
    os.replace(path, path.with_name("ckpt.old"))
    save_checkpoint(path.with_name("scratch"), model, tok, {"metrics": {"val_nats": 0.25}})
    os.replace(path.with_name("scratch"), path.with_name("ckpt.tmp"))
    assert resolve_checkpoint(path) == path
    assert load_checkpoint(path)[2]["metrics"]["val_nats"] == 0.25
    # a crash while writing the new one (no config.json yet) falls back to the old one
    os.replace(path, path.with_name("ckpt.old"))
    path.with_name("ckpt.tmp").mkdir()
    assert load_checkpoint(path)[2]["metrics"]["val_nats"] == 0.25


def test_run_directory_means_best(tmp_path, saved):
    path, model, tok = saved
    save_checkpoint(tmp_path / "run" / "best", model, tok, {"metrics": {"val_nats": 2.0}})
    assert load_checkpoint(tmp_path / "run")[2]["metrics"]["val_nats"] == 2.0


def test_run_directory_without_best_falls_back_to_last(tmp_path, saved):
    path, model, tok = saved
    save_checkpoint(tmp_path / "run" / "last", model, tok, {"metrics": {"val_nats": 3.0}})
    assert load_checkpoint(tmp_path / "run")[2]["metrics"]["val_nats"] == 3.0
