"""The Inside tab's handlers without a browser: one analysis serves every unit and position, a
default text follows the model's language, errors are messages, a comparison shows with its plots."""
import os
import tempfile

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_TEMP_DIR", os.path.join(tempfile.gettempdir(), "chargen-test-gradio"))

import re  # noqa: E402

import gradio as gr  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from chargen.catalog import Catalog  # noqa: E402
from chargen.checkpoint import save_checkpoint  # noqa: E402
from chargen.model import CharLM, ModelConfig  # noqa: E402
from chargen.tokenizer import fit_tokenizer  # noqa: E402
from chargen.web.inside_view import ENGLISH_TEXT, KOREAN_TEXT, InsideViews  # noqa: E402
from conftest import ENGLISH, KOREAN  # noqa: E402


@pytest.fixture
def views(tmp_path):
    root = tmp_path / "checkpoints"
    for name, kind, text in (("english", "char", ENGLISH + ENGLISH_TEXT), ("korean", "jamo", KOREAN + KOREAN_TEXT)):
        tok = fit_tokenizer(kind, [text])
        torch.manual_seed(0)
        model = CharLM(ModelConfig(vocab_size=tok.vocab_size, cell="lstm", num_layers=2, hidden_size=12, dropout=0.0))
        save_checkpoint(root / name, model, tok)
    return InsideViews(Catalog(root), report_roots=[tmp_path / "reports"])


def colours(html: str) -> list:
    return re.findall(r'class="c" style="background:([^"]+)"', html)


def test_open_show_pick_and_connect(views, monkeypatch):
    out = views.open("english", ENGLISH_TEXT, None)
    seen, text, cell, signal, layer, unit, view, ranking, sat, position, conn, message = out
    assert seen == ["english", ENGLISH_TEXT] and text == ENGLISH_TEXT and message == ""
    assert len(colours(view)) == len(ENGLISH_TEXT) and "inside quotes" in ranking and "forget" in sat
    assert cell.value == ":".join(map(str, (signal.value, layer.value - 1, unit.value)))
    assert position == len(ENGLISH_TEXT) - 1 and 'class="c here"' in conn and "<svg" in conn
    calls = []
    monkeypatch.setattr("chargen.web.inside_view.analyse", lambda *a, **k: calls.append(a))   # no new analysis
    assert all(o == gr.skip() for o in views.open("english", ENGLISH_TEXT, seen))        # already shown
    other = views.show("english", ENGLISH_TEXT, "h", 1, 5)
    assert colours(other) != colours(view)
    s, lay, u, picked = views.pick("english", ENGLISH_TEXT, "c:1:3")
    assert (s, lay, u) == ("c", 2, 3) and colours(picked) != colours(other)
    assert "No such unit" in views.show("english", ENGLISH_TEXT, "h", 3, 0)
    assert views.connect("english", ENGLISH_TEXT, 10).count("opacity:0.35") == len(ENGLISH_TEXT) - 11
    assert calls == []


def test_a_korean_model_gets_the_korean_passage_and_errors_are_messages(views):
    out = views.open("korean", ENGLISH_TEXT, None)
    assert out[1] == KOREAN_TEXT and out[-1] == "" and "initial consonant" in out[7]
    assert "Cannot look inside" in views.open("nope", "text", None)[-1]
    assert "No model yet" in views.open(None, "text", None)[-1]
    assert views.open("english", "", None)[1] == ENGLISH_TEXT                 # an emptied box: the passage again
    assert "No comparison picked" in views.report(None) and views.reports() == []
