"""The typing noise model and the typo-tolerant decoder: neighbours and probabilities, corrections
of typical slips on the bundled default, what is never corrected, undo, and bad input."""
import math
import time

import pytest

from chargen.keys import LATIN_ROWS, key_centres
from chargen.noise import NoiseModel, spell_keys
from chargen.predictor import Predictor
from chargen.vocab import Vocabulary, deletions


@pytest.fixture(scope="module")
def default():
    return Predictor.from_checkpoint("checkpoints/default")


def test_key_centres_follow_the_drawn_rows():
    c = key_centres(LATIN_ROWS)
    assert c["q"] == (0.5, 1.5) and c["a"] == (1.0, 2.5) and c["z"] == (2.0, 3.5)   # rows centred


def test_neighbours_are_the_keys_around():
    m = NoiseModel.for_script(False)
    assert {"f", "h", "t", "y", "v"} <= set(m.neighbours["g"]) and "p" not in m.neighbours["g"]
    # a neighbour is far likelier than a key across the board, and a clean tap likelier still
    assert m.logp("f", "g") > m.logp("p", "g") + 5
    assert m.logp("g", "g") > m.logp("f", "g") + 2


def test_edits_cost_as_the_parameters_say():
    m, q = NoiseModel.for_script(False), NoiseModel.for_script(False).params
    clean = m.clean_logp(len("tomorrow"))
    assert m.logp("tomorow", "tomorrow") == pytest.approx(clean - m.sub[0, 0] + math.log(q.deletion), abs=1e-4)
    assert m.logp("teh", "the") == pytest.approx(m.clean_logp(1) + math.log(q.transposition), abs=1e-4)
    assert m.logp("tomor", "tomorrow", prefix=True) == pytest.approx(m.clean_logp(5), abs=1e-4)
    assert m.logp("tomor", "tomorrow") < m.logp("tomor", "tomorrow", prefix=True) - 10
    assert m.logp("dont", "don't") == pytest.approx(m.clean_logp(4) + math.log(q.symbol_deletion), abs=1e-4)
    # a character off the layout matches itself only
    assert m.logp("café", "café") == pytest.approx(m.clean_logp(4), abs=1e-4)


def test_korean_slips_are_one_key_on_the_two_set_layout():
    m = NoiseModel.for_script(True)
    typo, meant = spell_keys("안녕하세여", True), spell_keys("안녕하세요", True)
    assert "ㅛ" in m.neighbours["ㅕ"]
    assert m.logp(typo, meant) > m.logp(typo, spell_keys("안녕하세상", True)) + 3


def test_symmetric_deletes_find_two_edits():
    v = Vocabulary(["tomorrow", "the", "receive", "zebra"], ["tomorrow", "the", "receive", "zebra"], [5, 9, 3, 1],
                   korean=False)
    found = {v.shown[i] for i in v.near("tomorow").tolist()}
    assert "tomorrow" in found and "zebra" not in found
    assert "receive" in {v.shown[i] for i in v.near("recieve").tolist()}
    assert deletions("ab", 2) == {"ab", "a", "b", ""}
    assert [v.shown[i] for i in v.extending(["tom"], 3)] == ["tomorrow"]


@pytest.mark.parametrize("text, meant", [("I think teh", "the"), ("see you tomorow", "tomorrow"),
                                         ("I did not recieve", "receive"), ("She was very hapy", "happy")])
def test_typical_slips_are_corrected(default, text, meant):
    s = default.session(text)
    assert s.correct_word(3)[0][0] == meant
    assert s.autocorrection("modest") == meant
    assert s.autocorrection("off") is None


@pytest.mark.parametrize("typed", ["I will see you tomor", "I will see you tmorr", "I will see you yomorr"])
def test_completions_forgive_a_slip_in_the_prefix(default, typed):
    assert "tomorrow" in [w for w, _ in default.session(typed).complete_word(3)]


def test_invented_words_rank_below_real_ones(default):
    bar = default.session("see you tomorow").suggest(3)
    assert bar[:2] == ["tomorrow", "tomorow"]           # the correction first, the word as typed beside it
    assert not any(w.endswith("'") for w in default.session("Emma and Mr. Knightl").suggest(3))


@pytest.mark.parametrize("text", ["call me at 555-12e4", "see www.exmaple", "mail bob@exmaple", "the NASDQ",
                                  "Emma said that"])
def test_never_corrected(default, text):
    assert default.session(text).autocorrection("aggressive") is None


def test_lexicon_words_are_not_corrected(default):
    from chargen.adapt import AdaptConfig
    s = default.session(learn=AdaptConfig(), background=False)
    s.learner.lexicon.add(None, "Zorblax")
    s.set_text("I met Zorblax")
    assert s.autocorrection("aggressive") is None


def test_autocorrect_on_space_and_undo_with_backspace(default):
    s = default.session()
    assert s.edit("see you tomorow", "modest") == "see you tomorow"
    assert s.edit("see you tomorow ", "modest") == "see you tomorrow "
    assert s.text == "see you tomorrow "
    assert s.edit("see you tomorrow", "modest") == "see you tomorow"      # Backspace right after: undone
    assert s.edit("see you tomorow ", "modest") == "see you tomorow "     # and not corrected again
    assert s.edit("see you tomorow tomorow ", "modest") == "see you tomorow tomorow "


def test_the_off_level_never_changes_text(default):
    s = default.session()
    assert s.edit("teh ", "off") == "teh "
    with pytest.raises(ValueError, match="autocorrect level"):
        default.session("teh").autocorrection("wild")


@pytest.mark.parametrize("text", ["x" * 10_000, "I like 🙂🙂", "한국어 and Englsh", "", "   ", "'''"])
def test_bad_input_answers_quickly(default, text):
    s = default.session(text)
    t = time.perf_counter()
    s.correct_word(3), s.autocorrection("aggressive"), s.suggest(3), s.complete_word(3)
    assert time.perf_counter() - t < 2.0


def test_korean_model_corrects_jamo_slips():
    p = Predictor.from_checkpoint("checkpoints/korean")
    assert p.session("안녕하세여").correct_word(3)[0][0] == "안녕하세요"
    assert p.session("정말 갑사합니다").correct_word(3)[0][0] == "감사합니다"
