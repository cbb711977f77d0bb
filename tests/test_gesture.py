"""The gesture decoder (chargen.gesture): straight-line gestures through key centres decode to their
words with the bundled English and Korean models, on the app's keyboard and on any other geometry;
the language model weighs the context; SHARK2 baseline; bad input answered quickly and clearly."""
import time

import numpy as np
import pytest

from chargen import gesture as G
from chargen.noise import spell_keys
from chargen.predictor import Predictor

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def english():
    return Predictor.from_checkpoint(ROOT / "checkpoints" / "default")


@pytest.fixture(scope="module")
def korean():
    return Predictor.from_checkpoint(ROOT / "checkpoints" / "korean")


def line(keys, layout=None, steps=6):
    """A straight-line gesture through the centres of ``keys`` on ``layout`` (default: the app's)."""
    layout = layout or G.default_layout()
    c = [((layout[k][0] + layout[k][2]) / 2, (layout[k][1] + layout[k][3]) / 2) for k in keys]
    pts = [c[0]]
    for a, b in zip(c[:-1], c[1:]):
        pts += [(a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])) for t in np.linspace(0, 1, steps)[1:]]
    return pts


def top(s, points, **kw):
    return [w for w, _ in s.resolve_gesture(points, 3, **kw)]


@pytest.mark.parametrize("context,word", [("I saw ", "the"), ("It was cold ", "and"), ("She was very ", "little"),
                                          ("He said hello to me, and I said ", "hello")])
def test_common_words(english, context, word):
    got = english.session(context).resolve_gesture(line(word), 3)
    assert got[0][0] == word, got
    assert abs(sum(q for _, q in got) - 1.0) < 0.05 and got[0][1] > got[1][1]


def test_hello_is_a_known_word_or_drawn_from_the_session(english):
    """Without context, "hello" decodes where the vocabulary holds it; a model that never saw it (the
    Austen model) decodes it once the session has it."""
    s = english.session("Good morning. ")
    words = top(s, line("hello"))
    from chargen.vocab import Vocabulary
    if "hello" in Vocabulary.of(english).known:
        assert words[0].lower() == "hello"
    s = english.session("hello there. Good morning, ")
    assert top(s, line("hello"))[0].lower() == "hello"      # spelled as its corpus usually spells it


def test_one_letter_words_and_taps(english):
    s = english.session("It was ")
    a = english.session("It was ").resolve_gesture(line("a") * 3)          # a tap on the "a" key
    assert top(s, line("a"))[0] == "a" and a[0][0] == "a"
    assert top(s, line("d"))[0] != "a"
    assert top(english.session("and so "), line("i"))[0] == "I"


def test_double_letters_collapse(english):
    """A double letter is one key of the path: "hello" and "helo" draw the same gesture."""
    t = G.templates(english)
    assert np.allclose(t.path("little"), t.path("litle"))
    assert len(t.path("hello")) == 4


def test_any_layout_scaled_and_shifted_decodes_the_same(english):
    base = G.default_layout()
    sx, sy, dx, dy = 37.0, 61.0, 120.0, 45.0
    moved = {k: (l * sx + dx, t * sy + dy, r * sx + dx, b * sy + dy) for k, (l, t, r, b) in base.items()}
    for word in ("the", "little", "and"):
        s = english.session("I saw ")
        plain = top(s, line(word))
        assert top(s, line(word, moved), layout=moved) == plain
        assert plain[0] == word


def test_context_weighs_identical_gestures(english):
    """of and off draw the same path: only the context can tell them apart, and the baseline cannot."""
    one = dict(english.session("one ").resolve_gesture(line("of"), 3))
    hat = dict(english.session("He took his hat ").resolve_gesture(line("of"), 3))
    assert hat["off"] / hat["of"] > 10 * one["off"] / one["of"]
    assert G.shark2(english, line("of")) == G.shark2(english, line("of"))


def test_korean_through_jamo_keys(korean):
    layout = G.default_layout(korean=True)
    for context, word in (("", "영화"), ("이 영화 ", "정말"), ("", "너무")):
        keys = spell_keys(word, True)
        got = korean.session(context).resolve_gesture(line(keys, layout), 3)
        assert got[0][0] == word, got
        sparse = korean.session(context).resolve_gesture(line(keys, layout, steps=2), 3)    # the key centres only
        assert sparse[0][0] == word, sparse
    assert top(korean.session("이 영화 정"), line(spell_keys("정말", True), layout))[0] == "정말"   # after a syllable


def test_shark2_baseline(english):
    got = G.shark2(english, line("the"), 3)
    assert got[0][0] == "the" and len(got) == 3
    assert G.shark2(english, line("little"), 3)[0][0] == "little"
    assert G.shark2(english, [(-50.0, -50.0), (-60.0, -40.0)]) == []        # off the keyboard: nothing


@pytest.mark.parametrize("points", [[], [[float("nan"), 1.0]], [[1.0, 2.0, 3.0]], "hello", [[1.0, float("inf")]],
                                    [[0.0, 0.0]] * (G.MAX_POINTS + 1)])
def test_bad_input_is_a_clear_error(english, points):
    with pytest.raises(ValueError):
        english.session("I saw ").resolve_gesture(points)


@pytest.mark.parametrize("layout", [["q", 0, 0, 1, 1], {"q": (0, 0, 1)}, {"q": "abcd"}, {"q": (0, 0, 0, 0)}, {}])
def test_bad_layout_is_a_clear_error(english, layout):
    with pytest.raises(ValueError):
        english.session("I saw ").resolve_gesture(line("the"), layout=layout)


def test_odd_but_valid_input_answers_quickly(english):
    s = english.session("I saw ")
    one = s.resolve_gesture(line("t"))                      # one point: a tap on "t"
    assert isinstance(one, list) and len(one) <= 3
    pts = np.linspace(line("the")[0], line("the")[-1], 10000).tolist()
    t0 = time.perf_counter()
    got = s.resolve_gesture(pts)
    assert time.perf_counter() - t0 < 2.0 and isinstance(got, list)
    assert s.resolve_gesture([(-100.0, -100.0), (-90.0, -95.0)]) == []     # nowhere near a key
    assert s.text == "I saw "


def test_sparse_corners_are_kept(english):
    """Only the corners (no points between): a far corner is the word's key, not a glitch to drop."""
    assert top(english.session("I saw "), line("the", steps=2))[0] == "the"
    assert top(english.session("She was very "), line("little", steps=2))[0] == "little"


def test_a_word_being_typed_is_left_alone(english):
    s = english.session("I saw")
    assert top(s, line("the"))[0] == "the" and s.text == "I saw"


def test_kebbie_like_noise_decodes(english):
    """A wobbly gesture (taps off the key centres, a glitch point as kebbie's generator makes on a
    double letter) still decodes."""
    rng = np.random.default_rng(0)
    pts = np.array(line("little")) + rng.normal(0, 0.12, (len(line("little")), 2))
    pts = np.insert(pts, 12, [9.0, -3.0], axis=0)          # a lone stray point
    assert top(english.session("She was very "), pts.tolist())[0] == "little"


def test_the_character_models_beam_swipes_words_no_vocabulary_holds():
    """Without word statistics (no vocabulary at all) the words come from the character model's beam
    held to the keys the gesture passes; without the beam there is nothing to offer."""
    bare = Predictor.from_checkpoint(ROOT / "checkpoints" / "default", words=None)
    s = bare.session("It was a very ")
    for word in ("little", "good"):
        assert top(s, line(word))[0] == word
    assert G.resolve(s, line("little"), 3, beam=False) == []


def test_spellings_that_differ_only_in_case_are_one_candidate():
    import numpy as np
    from chargen.gesture import _ranked
    ranked = _ranked(["Hello", "hello", "help"], np.array([1.0, 0.9, 0.2]), 3)
    assert [w for w, _ in ranked] == ["Hello", "help"]
    assert abs(sum(p for _, p in ranked) - 1.0) < 1e-9 and ranked[0][1] > 0.8
