"""Text features, correlations, and the cell finder: on a model trained a few seconds on nested
brackets, the unit it ranks first for bracket depth really tracks the depth of a text it never saw."""
import random

import numpy as np
import pytest
import torch

from chargen.features import correlations, rank_cells, text_features
from conftest import tiny_train_config

BRACKET_R = 0.9        # measured: 0.98 after 300 steps of this 1 x 32 LSTM (0.90 after 150); untrained 0.48


def test_features_of_a_handmade_text():
    text = 'ab "c(d(e))" f\nghi'
    f = text_features(text)
    assert f["in_quotes"][0].tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    assert f["bracket_depth"][0].tolist() == [0, 0, 0, 0, 0, 1, 1, 2, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    assert f["in_brackets"][0].tolist() == [float(d > 0) for d in f["bracket_depth"][0]]
    assert f["line_position"][0].tolist() == list(range(15)) + [0, 1, 2]
    assert np.flatnonzero(f["word_start"][0]).tolist() == [0, 4, 6, 8, 13, 15]
    values, letters = f["vowel"]
    assert letters.sum() == 9 and values[letters].tolist() == [1, 0, 0, 0, 1, 0, 0, 0, 1]
    assert "jamo_initial" not in f
    assert "in_quotes" not in text_features("no quotes at all in this line")        # constant: not a feature


def test_jamo_features():
    from chargen.hangul import decompose_hangul
    f = text_features(decompose_hangul("한국 말이 좋아요 " * 2))
    assert f["jamo_initial"][0][:3].tolist() == [1, 0, 0] and f["jamo_medial"][0][:3].tolist() == [0, 1, 0]
    assert f["jamo_final"][0][:3].tolist() == [0, 0, 1]


def test_correlations_and_ranking():
    rng = np.random.default_rng(0)
    depth = rng.integers(0, 4, 500).astype(np.float32)
    acts = rng.standard_normal((500, 6)).astype(np.float32)
    acts[:, 3] = -depth + 0.3 * rng.standard_normal(500)
    acts[:, 5] = 7.0                                                    # constant: r = 0, not NaN
    r = correlations(acts, depth)
    np.testing.assert_allclose(r[:5], [np.corrcoef(acts[:, k], depth)[0, 1] for k in range(5)], atol=1e-6)
    assert r[5] == 0
    mask = depth > 0
    assert correlations(acts, depth, mask)[3] == pytest.approx(np.corrcoef(acts[mask, 3], depth[mask])[0, 1])
    words = (rng.random(500) < 0.2).astype(np.float32)
    acts[:, 1] = words
    scores = rank_cells(acts, {"bracket_depth": (depth, np.ones(500, bool)), "word_start": (words, np.ones(500, bool))},
                        [("h", 0, k) for k in range(6)], top=4)
    assert [(s.feature, s.label[2]) for s in scores[:2]] == [("word_start", 1), ("bracket_depth", 3)]
    assert scores[1].r < -0.9 and len({s.label for s in scores}) == len(scores) == 4


def nested_brackets(rng: random.Random, n: int) -> str:
    out, depth = [], 0
    while len(out) < n:
        r = rng.random()
        if r < 0.25 and depth < 4:
            out.append("(")
            depth += 1
        elif r < 0.5 and depth > 0:
            out.append(")")
            depth -= 1
        else:
            out.append(rng.choice("abcd "))
        if depth == 0 and rng.random() < 0.05:
            out.append("\n")
    return "".join(out)


def test_a_trained_model_has_a_bracket_depth_cell_the_ranking_finds(tmp_path):
    from chargen.checkpoint import load_checkpoint
    from chargen.inside import analyse
    from chargen.model import CharLM, ModelConfig
    from chargen.train import train
    corpus = tmp_path / "brackets.txt"
    corpus.write_text(nested_brackets(random.Random(0), 20000))
    train(tiny_train_config(corpus, tmp_path / "run", max_steps=300, batch_size=8, bptt_len=32, eval_interval=300),
          ModelConfig(cell="lstm", num_layers=1, hidden_size=32, dropout=0.0), log=lambda *_: None)
    model, tok, _ = load_checkpoint(tmp_path / "run")
    unseen = nested_brackets(random.Random(1), 2000)
    best = next(s for s in analyse(model, tok, unseen).ranking if s.feature == "bracket_depth")
    assert abs(best.r) > BRACKET_R, best
    fresh = nested_brackets(random.Random(2), 2000)            # that unit, on yet another text, checked by hand
    depth = text_features(fresh)["bracket_depth"][0]
    assert abs(np.corrcoef(analyse(model, tok, fresh).values(best.label), depth)[0, 1]) > BRACKET_R
    torch.manual_seed(0)                                        # an untrained model has no such unit
    untrained = CharLM(ModelConfig(vocab_size=tok.vocab_size, num_layers=1, hidden_size=32, dropout=0.0)).eval()
    chance = next(s for s in analyse(untrained, tok, unseen).ranking if s.feature == "bracket_depth")
    assert abs(chance.r) < 0.7, chance
