import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from chargen.evaluate import loss_report, stream_loss, text_metrics
from chargen.model import CharLM, ModelConfig
from chargen.tokenizer import fit_tokenizer
from conftest import ENGLISH


def _model(vocab, seed=0):
    torch.manual_seed(seed)
    return CharLM(ModelConfig(vocab_size=vocab, num_layers=2, hidden_size=16, embed_size=16, dropout=0.0)).eval()


def test_one_row_is_the_exact_single_pass():
    ids = np.random.default_rng(0).integers(0, 30, 700)
    model = _model(30)
    with torch.no_grad():
        logits, _ = model(torch.as_tensor(ids[None, :-1]))
        expected = F.cross_entropy(logits[0], torch.as_tensor(ids[1:]), reduction="sum").item()
    total, n = stream_loss(model, ids, rows=1, chunk=64)
    assert n == len(ids) - 1
    assert total == pytest.approx(expected, rel=1e-5)


def test_rows_with_full_context_match_single_pass_and_score_every_token_once():
    ids = np.random.default_rng(1).integers(0, 30, 1001)
    model = _model(30)
    one, n1 = stream_loss(model, ids, rows=1)
    many, n4 = stream_loss(model, ids, rows=4, chunk=50, context=2000)
    assert n1 == n4 == 1000
    assert many == pytest.approx(one, rel=1e-5)


def test_scores_only_the_last_n_with_what_precedes_as_context():
    ids = np.random.default_rng(2).integers(0, 30, 600)
    model = _model(30)
    with torch.no_grad():
        logits, _ = model(torch.as_tensor(ids[None, :-1]))
        per_token = F.cross_entropy(logits[0], torch.as_tensor(ids[1:]), reduction="none")
    total, n = stream_loss(model, ids, n_scored=200, rows=1)
    assert n == 200 and total == pytest.approx(per_token[-200:].sum().item(), rel=1e-5)


def test_report_units():
    r = loss_report(math.log(2) * 100, 50, 100)
    assert r["val_bpc"] == pytest.approx(1.0) and r["val_nats_per_token"] == pytest.approx(2 * math.log(2))


def test_text_metrics_counts_characters():
    tok = fit_tokenizer("char", [ENGLISH])
    m = text_metrics(_model(tok.vocab_size), tok, ENGLISH)
    assert m["val_chars"] == len(ENGLISH) - 1 == m["val_tokens"]
    assert m["val_nats"] == pytest.approx(m["val_nats_per_token"])


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int64])
def test_compact_id_arrays_with_padded_rows(dtype, tmp_path):
    ids = np.random.default_rng(3).integers(0, 30, 1003).astype(dtype)   # 1002 targets: rows need padding
    path = tmp_path / "ids.bin"
    ids.tofile(path)
    mm = np.memmap(path, dtype=dtype, mode="r")
    model = _model(30)
    one, _ = stream_loss(model, ids.astype(np.int64), rows=1)
    many, n = stream_loss(model, mm, rows=5, chunk=40, context=2000)
    assert n == 1002 and many == pytest.approx(one, rel=1e-5)
