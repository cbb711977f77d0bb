"""Fine-tuning a checkpoint (train --init-from): a grown vocabulary, the parent's architecture and
tokenizer kept, bad parents refused in one line with nothing written, resume, word statistics."""
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from chargen.checkpoint import load_checkpoint
from chargen.finetune import inherit, load_parent
from chargen.model import ModelConfig
from chargen.ngram import load_words
from chargen.train import TrainConfig, train
from conftest import ENGLISH, tiny_train_config

ROOT = Path(__file__).resolve().parent.parent
NEW_TEXT = ("Café crème, naïve façade, déjà vu 🙂 at the château. " * 3 + "Zoë's piñata 🙂 fiancée.\n") * 40


def _tiny():
    return ModelConfig(num_layers=2, hidden_size=32, embed_size=16, dropout=0.0)


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    d = tmp_path_factory.mktemp("parent")
    corpus = d / "english.txt"
    corpus.write_text(ENGLISH * 20, encoding="utf-8")
    train(tiny_train_config(corpus, d / "run", max_steps=30), _tiny(), log=lambda *a: None)
    return d / "run"


def _cli(*argv):
    return subprocess.run([sys.executable, "-m", "chargen", *map(str, argv)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


def _new_corpus(tmp_path):
    p = tmp_path / "new.txt"
    p.write_text(NEW_TEXT, encoding="utf-8")
    return p


def _prob_of(model, tok, text, chars):
    """Mean probability the model gives the characters ``chars`` where they occur in ``text``."""
    ids = torch.tensor([tok.encode(text)])
    with torch.no_grad():
        logits, _ = model(ids[:, :-1])
    p = logits.softmax(-1)[0]
    targets = ids[0, 1:]
    want = torch.tensor([tok.encode(c)[0] for c in chars])
    mask = torch.isin(targets, want)
    return p[mask.nonzero()[:, 0], targets[mask]].mean().item()


def test_vocabulary_grows_and_new_characters_are_learned(parent, tmp_path):
    p_model, p_tok, _ = load_checkpoint(parent)
    new = ["é", "è", "ï", "ç", "à", "â", "ë", "ñ", "🙂"]
    assert not set(new) & set(p_tok.chars)
    cfg = tiny_train_config(_new_corpus(tmp_path), tmp_path / "ft", init_from=str(parent), max_steps=60, lr=1e-2)
    summary = train(cfg, log=lambda *a: None)
    assert summary["step"] == 60
    start = tmp_path / "ft0"
    train(tiny_train_config(_new_corpus(tmp_path), start, init_from=str(parent), max_steps=1, lr=1e-9,
                            eval_interval=1), log=lambda *a: None)
    m0, tok0, _ = load_checkpoint(start / "last")
    m1, tok1, config = load_checkpoint(tmp_path / "ft" / "last")
    assert tok1.chars[:len(p_tok.chars)] == p_tok.chars and set(new) <= set(tok1.chars)   # the parent's ids kept
    n = p_tok.vocab_size
    torch.testing.assert_close(m0.embedding.weight[:n], p_model.embedding.weight[:n], atol=1e-6, rtol=0)
    torch.testing.assert_close(m0.embedding.weight[n:], p_model.embedding.weight.mean(0).expand(tok0.vocab_size - n, -1),
                               atol=1e-6, rtol=0)
    assert m0.head.bias[n:].max().item() == pytest.approx(p_model.head.bias.mean().item(), abs=1e-6)
    text = NEW_TEXT[-400:]
    before, after = _prob_of(m0, tok0, text, new), _prob_of(m1, tok1, text, new)
    assert after > 2 * before, (before, after)      # about 3x after 60 steps
    assert config["parent"]["path"] == str(parent / "best") and config["parent"]["weights_sha256"]
    assert config["parent"]["corpus"]["files"][0].endswith("english.txt")
    info = _cli("info", "--checkpoint", tmp_path / "ft")
    assert info.returncode == 0 and f"parent:    {parent}" in info.stdout, info.stdout


def test_word_statistics_keep_the_parents_and_learn_the_new(parent, tmp_path):
    cfg = tiny_train_config(_new_corpus(tmp_path), tmp_path / "ft", init_from=str(parent), max_steps=5,
                            held_out_chars=0)
    train(cfg, log=lambda *a: None)
    old, words = load_words(parent / "best"), load_words(tmp_path / "ft" / "last")
    some_old = max(old.unigrams, key=old.unigrams.get)
    assert words.unigrams[some_old] >= old.unigrams[some_old]
    assert words.unigrams["château"] == 4 * 36 * 3    # the train split (36 of 40 lines) x NEW_WORDS_WEIGHT


def test_inherit_keeps_the_parents_architecture_and_fine_tune_defaults(parent):
    p = load_parent(str(parent))
    cfg, model_cfg = inherit(TrainConfig(corpus=["x"], out="o", init_from=str(parent)), None, p)
    assert (model_cfg.num_layers, model_cfg.hidden_size, model_cfg.embed_size) == (2, 32, 16)
    assert cfg.lr == 1e-3 and cfg.tokenizer == "char"
    with pytest.raises(ValueError, match="--hidden-size 64 contradicts"):
        inherit(TrainConfig(init_from=str(parent)), ModelConfig(hidden_size=64), p)


def test_bundled_default_is_found_by_name():
    p = load_parent("default")
    assert p.path.name == "default" and p.tokenizer.kind == "char"


def _refused(tmp_path, *flags):
    out = tmp_path / "out"
    r = _cli("train", "--corpus", _new_corpus(tmp_path), "--out", out, "--max-steps", "5", *flags)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert not out.exists()
    return lines[0]


def test_bad_parents_are_refused_in_one_line(parent, tmp_path):
    assert "--init-from" in _refused(tmp_path, "--init-from", ROOT / "README.md")
    assert "does not exist" in _refused(tmp_path, "--init-from", tmp_path / "nothing")
    assert "--hidden-size 64 contradicts" in _refused(tmp_path, "--init-from", parent, "--hidden-size", "64")
    assert "--cell gru contradicts" in _refused(tmp_path, "--init-from", parent, "--cell", "gru")
    assert "--tokenizer jamo contradicts" in _refused(tmp_path, "--init-from", parent, "--tokenizer", "jamo")
    assert "--freeze-layers" in _refused(tmp_path, "--init-from", parent, "--freeze-layers", "3")
    assert "--init-from" in _refused(tmp_path, "--replay", "0.2")
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in (parent / "best").iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    assert "truncated or corrupt" in _refused(tmp_path, "--init-from", broken)
    (broken / "config.json").write_text("{")
    assert "corrupt or truncated" in _refused(tmp_path, "--init-from", broken)


def test_subword_parent_keeps_its_sentencepiece_model(tmp_path):
    corpus = tmp_path / "en.txt"
    corpus.write_text(ENGLISH * 20, encoding="utf-8")
    train(tiny_train_config(corpus, tmp_path / "bpe", max_steps=3, tokenizer="bpe", vocab_size=300), _tiny(),
          log=lambda *a: None)
    assert "--tokenizer char contradicts" in _refused(tmp_path, "--init-from", tmp_path / "bpe", "--tokenizer", "char")
    assert "--vocab-size 500 contradicts" in _refused(tmp_path, "--init-from", tmp_path / "bpe", "--vocab-size", "500")
    train(tiny_train_config(_new_corpus(tmp_path), tmp_path / "ft", init_from=str(tmp_path / "bpe"), max_steps=3,
                            tokenizer="bpe", vocab_size=300), log=lambda *a: None)
    _, tok, _ = load_checkpoint(tmp_path / "ft" / "last")
    _, ptok, _ = load_checkpoint(tmp_path / "bpe" / "last")
    assert tok.kind == "bpe" and tok.vocab_size == ptok.vocab_size


def test_fine_tune_interrupted_and_resumed_continues_with_the_grown_vocabulary(parent, tmp_path):
    def interrupt(step, info):
        if step == 13:
            signal.raise_signal(signal.SIGINT)       # what the interrupt tests do: save and stop cleanly
    cfg = tiny_train_config(_new_corpus(tmp_path), tmp_path / "ft", init_from=str(parent), max_steps=30,
                            freeze_layers=1)
    part = train(cfg, log=lambda *a: None, callback=interrupt)
    assert part["stop_reason"] == "interrupted" and part["step"] == 13
    _, tok, saved = load_checkpoint(tmp_path / "ft" / "last")
    steps = []
    resumed = train(TrainConfig(out=str(tmp_path / "ft"), resume=True, progress=False, threads=1),
                    callback=lambda step, info: steps.append(step), log=lambda *a: None)
    assert steps[0] == 14 and resumed["step"] == 30
    model, tok2, config = load_checkpoint(tmp_path / "ft" / "last")
    assert tok2.chars == tok.chars and "🙂" in tok2.chars and config["parent"] == saved["parent"]
    p_model, _, _ = load_checkpoint(parent)                  # frozen: the embedding and the first layer
    torch.testing.assert_close(model.rnn.weight_ih_l0, p_model.rnn.weight_ih_l0)
    assert not torch.equal(model.rnn.weight_ih_l1, p_model.rnn.weight_ih_l1)
    assert math.isfinite(resumed["best_val_nats"])


def test_replay_mixes_in_the_parents_text_only_where_it_is_the_same(tmp_path):
    corpus = tmp_path / "en.txt"
    corpus.write_text(ENGLISH * 20, encoding="utf-8")
    train(tiny_train_config(corpus, tmp_path / "p", max_steps=3), _tiny(), log=lambda *a: None)
    ft = train(tiny_train_config(_new_corpus(tmp_path), tmp_path / "ft", init_from=str(tmp_path / "p"), max_steps=3,
                                 replay=0.5), log=lambda *a: None)
    assert ft["step"] == 3
    replayed = json.loads((tmp_path / "ft" / "replay" / "meta.json").read_text())
    assert replayed["sha256"] == json.loads((tmp_path / "p" / "last" / "config.json").read_text())["corpus"]["sha256"]
    corpus.write_text(ENGLISH * 21, encoding="utf-8")
    assert "not the one it was trained on" in _refused(tmp_path, "--init-from", tmp_path / "p", "--replay", "0.5")
    corpus.unlink()
    assert "is not here" in _refused(tmp_path, "--init-from", tmp_path / "p", "--replay", "0.5")


def test_sigterm_stops_a_fine_tune_that_resumes_with_its_vocabulary(parent, tmp_path):
    out = tmp_path / "ft"
    proc = subprocess.Popen([sys.executable, "-m", "chargen", "train", "--corpus", str(_new_corpus(tmp_path)),
                             "--out", str(out), "--init-from", str(parent), "--max-steps", "100000",
                             "--max-minutes", "0", "--batch-size", "2", "--bptt-len", "8", "--threads", "1"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics, deadline = out / "metrics.jsonl", time.time() + 60
    while time.time() < deadline and (not metrics.exists() or '"train"' not in metrics.read_text()):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "--resume" in err, err
    _, tok, _ = load_checkpoint(out / "last")
    step = json.loads(metrics.read_text().splitlines()[-1])["step"]
    r = _cli("train", "--out", out, "--resume", "--max-steps", step + 10)
    assert r.returncode == 0, r.stderr
    _, tok2, config = load_checkpoint(out / "last")
    assert config["metrics"]["step"] == step + 10 and tok2.chars == tok.chars and "🙂" in tok.chars
    assert config["parent"]["path"] == str(parent / "best") and os.path.isdir(config["parent"]["path"])
