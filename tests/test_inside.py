"""One text looked inside, for char, jamo and subword models: activations under each character, the
top-5 guesses, connectivity per character, the HTML views, and the ``inside`` command."""
import re

import numpy as np
import pytest
import torch

from chargen.checkpoint import save_checkpoint
from chargen.cli import main
from chargen.connectivity import input_gradients
from chargen.inside import analyse, best_cell, cell_label, connectivity, text_influence
from chargen.inside_html import activation_html, curve_svg, gradient_html, saturation_html
from chargen.model import CharLM, ModelConfig
from chargen.tokenizer import fit_tokenizer
from conftest import ENGLISH, KOREAN

TEXT = 'He said "yes (twice)",\nthen left. 영화 정말 좋아요\n'


def model_for(kind: str, cell: str = "lstm"):
    tok = fit_tokenizer(kind, [ENGLISH * 10 + KOREAN * 10 + TEXT], vocab_size=400)
    torch.manual_seed(0)
    return CharLM(ModelConfig(vocab_size=tok.vocab_size, cell=cell, num_layers=2, hidden_size=16, dropout=0.0)).eval(), tok


@pytest.mark.parametrize("kind", ["char", "jamo", "bpe"])
def test_analysis_maps_tokens_to_characters(kind):
    model, tok = model_for(kind)
    a = analyse(model, tok, TEXT)
    n_tokens = len(tok.encode(TEXT))
    assert a.trace.hidden.shape == (2, n_tokens, 16) and len(a.top_text) == n_tokens
    assert a.top_probs.shape == (n_tokens, 5) and (np.diff(a.top_probs, axis=1) <= 0).all()
    assert len(a.shown) == len(a.owner) == (len(TEXT) + (11 if kind == "jamo" else 0))   # 7 syllables, 18 jamo
    v = a.values(("c", 1, 3))
    np.testing.assert_array_equal(v, a.trace.cell_state[1, a.owner, 3])
    assert a.last_of_token().sum() == len(np.unique(a.owner)) <= n_tokens   # byte pieces may spell nothing alone
    assert a.ranking and all(-1 <= s.r <= 1 for s in a.ranking) and best_cell(a) == a.ranking[0].label
    if kind == "jamo":
        assert {"jamo_initial", "jamo_medial", "jamo_final"} & {s.feature for s in a.ranking}
    assert set(a.saturation) == {0, 1} and set(a.saturation[0]) == {"i", "f", "o"}


def test_connectivity_per_character_is_the_token_gradient():
    model, tok = model_for("bpe")
    a = analyse(model, tok, TEXT)
    pos = 20
    g = connectivity(model, a, pos)
    token = a.owner[pos]
    direct = input_gradients(model, a.trace.ids, token, a.start_state)
    np.testing.assert_allclose(g[a.owner <= token], direct[a.owner[a.owner <= token]], rtol=1e-6)
    assert np.isnan(g[a.owner > token]).all() and np.isfinite(g[:pos + 1]).all()
    curve = text_influence(model, a)
    assert curve["relative"][0] == 1.0
    with pytest.raises(ValueError, match="outside"):
        connectivity(model, a, len(a.shown))


def test_html_views():
    model, tok = model_for("char", "gru")
    a = analyse(model, tok, TEXT)
    first = activation_html(a.shown, a.values(("h", 0, 0)), a.top_text, a.top_probs, a.last_of_token(), a.owner)
    other = activation_html(a.shown, a.values(("h", 1, 5)), a.top_text, a.top_probs, a.last_of_token(), a.owner)
    colours = lambda h: re.findall(r'class="c" style="background:([^"]+)"', h)   # noqa: E731
    assert len(colours(first)) == len(TEXT) and colours(first) != colours(other)
    assert first.count('class="g"') == 5 * len(TEXT) and first.count('class="ibr"') == 2
    grads = gradient_html(a.shown, connectivity(model, a, 10), 10)
    assert grads.count("opacity:0.35") == len(TEXT) - 11 and 'class="c here"' in grads
    assert "gate" in saturation_html(a.saturation) and "update" in saturation_html(a.saturation, lambda g: {"z": "update"}.get(g, g))
    assert "no gates" in saturation_html({})
    svg = curve_svg({"a": ([1, 2, 3], [1.0, 0.1, 0.001])})
    assert svg.startswith("<svg") and "polyline" in svg and "1e-3" in svg


def test_inside_command(tmp_path, capsys):
    model, tok = model_for("char")
    save_checkpoint(tmp_path / "ckpt", model, tok)
    html_file = tmp_path / "inside.html"
    assert main(["inside", "--checkpoint", str(tmp_path / "ckpt"), "--text", TEXT, "--unit", "c", "2", "3",
                 "--position", "5", "--color", "always", "--html", str(html_file)]) == 0
    out = capsys.readouterr().out
    assert "units that track text features" in out and "gate saturation" in out
    assert cell_label(("c", 1, 3)) in out and "\x1b[30;48;2;" in out and "the prediction after character 5" in out
    page = html_file.read_text()
    assert page.startswith("<!doctype html>") and page.count('class="inside-text"') >= 3
    assert main(["inside", "--checkpoint", str(tmp_path / "ckpt"), "--text", TEXT, "--unit", "c", "3", "0"]) == 2
    assert "layer 1..2" in capsys.readouterr().err


def test_the_austen_model_has_the_quote_cell_the_readme_shows():
    """The README's picture: on the Inside tab's passage the bundled Austen model's first-ranked unit is a
    cell-state unit that tracks quotations (measured r = +0.98), and a line-position unit follows."""
    from pathlib import Path

    from chargen.checkpoint import load_checkpoint
    from chargen.web.inside_view import ENGLISH_TEXT
    model, tok, _ = load_checkpoint(Path(__file__).resolve().parent.parent / "checkpoints" / "austen")
    a = analyse(model, tok, ENGLISH_TEXT)
    first = a.ranking[0]
    assert (first.feature, first.label) == ("in_quotes", ("c", 1, 119)) and first.r > 0.95, first
    line = next(s for s in a.ranking if s.feature == "line_position")
    assert line.label == ("c", 1, 76) and line.r < -0.85, line
