"""The typing noise model and the typo-tolerant decoder: neighbours and probabilities, corrections
of typical slips on the bundled Austen model (the default when these were written; its curated
vocabulary holds no misspellings) and on the everyday default, what is never corrected, undo, and
bad input."""
import math
import time

import pytest

from chargen.keys import LATIN_ROWS, key_centres
from chargen.noise import NoiseModel, spell_keys
from chargen.predictor import Predictor
from chargen.vocab import Vocabulary, deletions
from chargen.words import current_word


@pytest.fixture(scope="module")
def default():
    return Predictor.from_checkpoint("checkpoints/austen")


@pytest.mark.parametrize("text, meant", [("see you tomorow", "tomorrow"), ("I will send you the documnet", "document"),
                                        ("see you tomorrwo", "tomorrow"), ("Thanks for your hlep", "help")])
def test_the_everyday_default_corrects_everyday_slips(text, meant):
    # "hlep" is in its chat corpus twice, so it counts as a word: only the aggressive level corrects it
    # (a known limitation: the typing slips a chat corpus holds pass for words; see its model card)
    level = "aggressive" if "hlep" in text else "modest"
    assert Predictor.from_checkpoint("checkpoints/default").session(text).autocorrection(level) == meant


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


# ---------------------------------------------------------------- the edit-tolerant beam (chargen.edit_beam)
@pytest.fixture(scope="module")
def model_alone():
    """The bundled Austen model's character model without word statistics: no vocabulary, so every
    correction must come from the character model's edit-tolerant beam."""
    from chargen.checkpoint import load_checkpoint
    model, tok, _ = load_checkpoint("checkpoints/austen")
    return Predictor(model, tok, words=None, cache=False)


@pytest.mark.parametrize("text, meant", [("Emma and Mr. Knihgtley", "Knightley"), ("I shall recieve", "receive"),
                                         ("She was vry", "very"), ("I think teh", "the"), ("Mr. Woodhoise", "Woodhouse")])
def test_the_beam_corrects_words_no_vocabulary_holds(model_alone, text, meant):
    s = model_alone.session(text)
    assert s.correct_word(3)[0][0] == meant
    assert s.suggest(3)[:2] == [meant, current_word(text)]      # the correction first, the word as typed beside it


def test_the_beam_completes_despite_a_slip(model_alone):
    assert model_alone.session("Emma and Mr. Knigjtl").suggest(3)[0] == "Knightley"
    assert "Fairfax" in [w for w, _ in model_alone.session("Miss Bates and Miss Fairfx").complete_word(3)]


def test_the_beam_finds_its_words_by_substitution_insertion_deletion_and_swap(model_alone):
    from chargen.edit_beam import edit_candidates
    for text, meant in [("Mr. Knightlwy", "Knightley"), ("Mr. Knighttley", "Knightley"), ("Mr. Knightly", "Knightley"),
                        ("Mr. Knigthley", "Knightley")]:
        s = model_alone.session(text)
        assert meant in edit_candidates(s, current_word(text)), text
    s = model_alone.session("Mr. Knigh")
    assert edit_candidates(s, "Knigh", prefix=True) == {}      # the literal search's: nothing typed is forgiven


def test_the_beam_invents_no_words(default):
    """A word no vocabulary holds comes from the beam only where the character model is sure of it
    (EDIT_SURE): a rare word typed right is not 'corrected' into a likelier-sounding invention."""
    from chargen.edit_beam import EDIT_SURE, edit_candidates
    from chargen.typos import knower
    for text in ["the psalteries", "the Internet", "of Europe"]:
        s = default.session(text)
        assert s.autocorrection("modest") is None, text
        known = knower(s)
        assert all(lp >= EDIT_SURE or known(w) for w, lp in edit_candidates(s, current_word(text), known=known).items())


def test_the_page_beams_with_the_same_constants():
    """typos.js carries edit_beam's constants (the parity test in the browser: test_edit_beam_browser.py)."""
    import re
    from chargen import edit_beam
    from chargen.resources import browser_dir
    js = (browser_dir() / "typos.js").read_text(encoding="utf-8")
    got = re.search(r"const EDIT = \{ width: (\d+), extra: (\d+), found: (\d+), slack: ([\d.]+), "
                    r"sure: Math\.log\(([\de.-]+)\), end: Math\.log\(([\d.]+)\) \}", js)
    assert got, "typos.js: EDIT not found"
    assert [int(got[1]), int(got[2]), int(got[3])] == [edit_beam.EDIT_WIDTH, edit_beam.EDIT_EXTRA, edit_beam.EDIT_FOUND]
    assert float(got[4]) == edit_beam.EDIT_SLACK
    assert math.log(float(got[5])) == edit_beam.EDIT_SURE and math.log(float(got[6])) == edit_beam.EDIT_END
    assert "const EDIT_BEAM = true;" in js
