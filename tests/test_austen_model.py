"""The shipped Austen model (checkpoints/austen, the default before issue 24) and the bundled corpus it
was trained on."""
import hashlib
import json
import re
from pathlib import Path

import pytest

from chargen.checkpoint import load_checkpoint
from chargen.data import find_files, iter_text
from chargen.evaluate import loss_report, stream_loss
from chargen.predictor import Predictor

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "checkpoints" / "austen"
CORPUS = ROOT / "corpora" / "austen"


@pytest.fixture(scope="module")
def default():
    model, tok, config = load_checkpoint(DEFAULT)
    return model, tok, config


def test_bundled_corpus_matches_its_readme():
    readme = (ROOT / "corpora" / "README.md").read_text()
    rows = re.findall(r"\| `(austen/[\w-]+\.txt)` \| ([\d,]+) \| `([0-9a-f]{64})`", readme)
    assert len(rows) == 3
    for name, size, sha in rows:
        data = (ROOT / "corpora" / name).read_bytes()
        assert len(data) == int(size.replace(",", "")) and hashlib.sha256(data).hexdigest() == sha


def test_default_checkpoint_is_small_and_says_how_it_was_made(default):
    _, tok, config = default
    size = sum(f.stat().st_size for f in DEFAULT.iterdir())
    assert size <= 15e6 and config["weights_dtype"] == "float16"
    assert config["command"].startswith("python -m chargen train --corpus corpora/austen")
    readme = (DEFAULT / "README.md").read_text()
    assert config["command"] in readme and not (DEFAULT / "trainer_state.pt").exists()


def test_val_bpc_equals_the_figure_in_its_readme(default):
    model, tok, config = default
    text = "".join(iter_text(find_files([CORPUS])))
    ids = tok.encode_array(text)
    n_val = len(text) - int(len(text) * 0.9)        # the standard split, in characters (char tokenizer)
    total, n = stream_loss(model, ids, n_scored=n_val)
    bpc = loss_report(total, n, n_val)["val_bpc"]
    stated = float(re.search(r"val bpc\D*([\d.]+)", (DEFAULT / "README.md").read_text()).group(1))
    assert abs(bpc - stated) <= 0.01, (bpc, stated)
    assert abs(bpc - config["metrics"]["val_bpc"]) <= 0.01


@pytest.mark.parametrize("text, word", [("said Mr. Knigh", "Knightley"), ("Emma Wood", "Woodhouse"),
                                        ("her sister Elin", "Elinor"), ("Captain Wentw", "Wentworth"),
                                        ("Miss Bat", "Bates")])
def test_suggestions_know_the_novels(default, text, word):
    model, tok, _ = default
    from chargen.wordstats import WordModel
    predictor = Predictor(model, tok, words=WordModel.load(DEFAULT))
    assert word in predictor.session(text).suggest(3)


def test_it_is_one_click_away_in_the_app_and_a_named_parent():
    from chargen.catalog import Catalog
    from chargen.checkpoint import resolve_checkpoint
    from chargen.finetune import load_parent
    assert "austen" in Catalog(ROOT / "checkpoints").names()
    assert load_parent("austen").path.resolve() == DEFAULT.resolve()
    assert resolve_checkpoint("austen").resolve() == DEFAULT.resolve()      # --checkpoint austen, anywhere
