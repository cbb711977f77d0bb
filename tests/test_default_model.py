"""The shipped default model (checkpoints/default): everyday English, small, and said how it was made.

Its corpus is rebuilt from registry packages (corpora/everyday/build.py), not bundled, so these tests
check what a fresh clone can: the files, the model card, and what the model knows of modern text it
never saw (written here) against the Austen model it replaced."""
import json
import re
from pathlib import Path

import pytest

from chargen.checkpoint import load_checkpoint
from chargen.evaluate import stream_loss
from chargen.predictor import Predictor

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "checkpoints" / "default"
AUSTEN = ROOT / "checkpoints" / "austen"

MODERN = ("Hey, are you free tomorrow? I was thinking we could grab lunch after the meeting. "
          "Let me know what time works for you and I'll send you the address. "
          "Sorry I missed your call, my phone was on silent. Can you email me the report when it's ready? "
          "To install the program, download the file, open it and follow the instructions on the screen. "
          "Thanks again for your help with the project, it really made a difference!\n")


@pytest.fixture(scope="module")
def default():
    return load_checkpoint(DEFAULT)


def test_default_checkpoint_is_small_and_says_how_it_was_made(default):
    _, tok, config = default
    size = sum(f.stat().st_size for f in DEFAULT.iterdir())
    assert size <= 15e6 and config["weights_dtype"] == "float16" and tok.kind == "char"
    assert "everyday" in config["command"] and "--corpus" in config["command"]
    readme = (DEFAULT / "README.md").read_text()
    assert config["command"] in readme and not (DEFAULT / "trainer_state.pt").exists()
    stated = float(re.search(r"val bpc\D*([\d.]+)", readme).group(1))
    assert abs(stated - config["metrics"]["val_bpc"]) <= 0.01
    words = json.loads((DEFAULT / "words.json").read_text())
    assert words.get("version") == 2


def test_it_knows_modern_english_better_than_the_austen_model(default):
    model, tok, _ = default
    losses = {}
    for name, (m, t) in {"default": (model, tok), "austen": load_checkpoint(AUSTEN)[:2]}.items():
        total, n = stream_loss(m, t.encode_array(MODERN))
        losses[name] = total / n
    assert losses["default"] < losses["austen"] - 0.2, losses        # nats per character


@pytest.mark.parametrize("text, word", [("see you tomor", "tomorrow"), ("Can you send me the docu", "document"),
                                        ("Thanks for your help with the meet", "meeting"),
                                        ("I'll call you when I get ho", "home"), ("What time is the meeting tomorrow mor", "morning")])
def test_suggestions_know_everyday_words(text, word):
    assert word in Predictor.from_checkpoint(DEFAULT).session(text).suggest(3)


def test_cli_and_app_default_to_it():
    from chargen.catalog import Catalog
    from chargen.cli import DEFAULT_CHECKPOINT
    assert Path(DEFAULT_CHECKPOINT).resolve() == DEFAULT.resolve()
    assert Catalog(ROOT / "checkpoints").default_name() == "default"
