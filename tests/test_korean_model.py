"""The bundled Korean jamo model (checkpoints/korean)."""
from pathlib import Path

import pytest

from chargen.checkpoint import load_checkpoint
from chargen.predictor import Predictor

KOREAN = Path(__file__).resolve().parent.parent / "checkpoints" / "korean"


@pytest.fixture(scope="module")
def predictor():
    return Predictor.from_checkpoint(KOREAN)


def test_it_is_a_small_fp16_jamo_model_that_says_how_it_was_made():
    _, tok, config = load_checkpoint(KOREAN)
    assert tok.kind == "jamo" and config["weights_dtype"] == "float16"
    assert sum(f.stat().st_size for f in KOREAN.iterdir()) <= 15e6
    assert config["command"] in (KOREAN / "README.md").read_text()


@pytest.mark.parametrize("text, word", [("이 영화 정말 재", "재밌게"), ("시간 가는 줄 몰", "몰랐다"),
                                        ("배우들 연기가 너무", "너무나")])
def test_suggestions_are_composed_korean_words(predictor, text, word):
    words = predictor.session(text).suggest(3)
    assert word in words
    assert all("\uac00" <= w[0] <= "\ud7a3" for w in words)       # syllables, not loose jamo


def test_the_app_lists_it_beside_the_default():
    from chargen.catalog import Catalog
    names = Catalog(KOREAN.parent).names()
    assert names[0] == "default" and "korean" in names


def test_a_syllable_an_ime_is_still_composing_is_completed_as_what_it_may_become(predictor):
    s = predictor.session("배우들 연기가 너무 초")
    assert "최고" not in s.suggest(3)                    # 초 taken as final: 촌스러움, 초라하게, ...
    s.composing = True                                    # as the web app's sessions do
    assert "최고" in s.suggest(3)                        # ㅊ ㅗ typed, ㅣ next: 최
