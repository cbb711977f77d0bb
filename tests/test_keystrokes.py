import pytest

from chargen.keys import jamo_keys
from chargen.keystrokes import keystroke_savings
from chargen.baselines import BigramCompleter, UnigramCompleter
from chargen.words import words_of


class Scripted:
    """An engine that always offers a fixed list: makes the arithmetic checkable by hand."""

    def __init__(self, offers):
        self.offers = offers

    def reset(self):
        self.text = ""

    def type(self, t):
        self.text += t

    def suggest(self, n):
        return self.offers[:n]


def test_words_are_runs_of_word_characters():
    assert words_of("Mr. Knightley's horse, 국민대학교에! ok") == ["Mr", "Knightley's", "horse", "국민대학교에", "ok"]


def test_ksr_arithmetic():
    text = "the cat sat"
    # no help: every character is a keystroke
    r = keystroke_savings(Scripted([]), text)
    assert r["ksr"] == 0 and r["keystrokes"] == len(text)
    # "cat" offered from the start: one keystroke instead of three
    r = keystroke_savings(Scripted(["cat"]), text)
    assert r["keystrokes"] == len(text) - 2
    # oracle: one keystroke per word + the two spaces
    assert r["oracle_ksr"] == pytest.approx(1 - 5 / 11)
    # offered only 4th (with 3 suggestions shown): never accepted
    r = keystroke_savings(Scripted(["a", "b", "c", "cat"]), text, n_suggestions=3)
    assert r["ksr"] == 0


def test_ksr_accepts_mid_word():
    class AfterTwo(Scripted):
        def suggest(self, n):
            return ["knightley"] if self.text.endswith("kn") else []
    r = keystroke_savings(AfterTwo([]), "knightley")
    assert r["keystrokes"] == 3                      # k, n, accept


def test_jamo_keys():
    assert jamo_keys("국") == 3 and jamo_keys("가") == 2 and jamo_keys("a") == 1 and jamo_keys("ㅋ") == 1
    r = keystroke_savings(Scripted(["국민"]), "국민", key_cost=jamo_keys)
    assert r["keys_without_help"] == 6 and r["keystrokes"] == 1


def test_unigram_and_bigram_completers():
    text = "the cat sat on the mat . the cat ran . a dog sat on the car"
    uni = UnigramCompleter.fit(text)
    uni.type("the c")
    assert uni.suggest(2) == ["cat", "car"]          # cat x2 before car x1
    bi = BigramCompleter.fit(text)
    bi.type("a d")
    assert bi.suggest(1) == ["dog"]
    bi.reset()
    bi.type("sat ")
    assert bi.suggest(1) == ["on"]                   # next-word prediction from the bigram
    bi.reset()
    bi.type("zebra ")
    assert bi.suggest(1) == ["the"]                  # unseen previous word: back off to unigram
    assert all(len(w) > 0 for w in bi.suggest(3))


def test_word_model_probabilities_and_file(tmp_path):
    from chargen.wordstats import WordModel
    text = "the cat sat on the mat . the cat ran . a dog sat on the car . the cow"
    wm = WordModel.fit([text[:30], text[30:]], min_bigram=1)           # chunks join like one text
    assert wm.unigrams["the"] == 5 and wm.bigrams["the"]["cat"] == 2
    p = wm.probs("the", "c")
    assert set(p) == {"cat", "car", "cow"} and max(p, key=p.get) == "cat"
    assert sum(p.values()) == pytest.approx(1.0)
    assert wm.probs("a", "")["dog"] > wm.probs(None, "")["dog"]          # the bigram lifts "dog" after "a"
    assert wm.probs(None, "zz") == {}
    wm.save(tmp_path)
    again = WordModel.load(tmp_path)
    assert again.probs("the", "c") == pytest.approx(p)
    (tmp_path / "words.json").write_text("{broken")
    assert WordModel.load(tmp_path) is None


def test_blend_brings_in_words_the_character_model_misses():
    import torch
    from chargen.model import CharLM, ModelConfig
    from chargen.predictor import Predictor
    from chargen.tokenizer import fit_tokenizer
    from chargen.wordstats import WordModel
    text = "Emma met Mr. Knightley. Emma met Mr. Knightley again. " * 5
    tok = fit_tokenizer("char", [text])
    torch.manual_seed(0)
    model = CharLM(ModelConfig(vocab_size=tok.vocab_size, num_layers=1, hidden_size=16, embed_size=16, dropout=0.0))
    plain = Predictor(model, tok).session("Emma met Mr. Kn").complete_word(3)
    blended = Predictor(model, tok, words=WordModel.fit([text])).session("Emma met Mr. Kn").complete_word(3)
    assert "Knightley" not in [w for w, _ in plain]          # an untrained model cannot know the name
    assert blended[0][0] == "Knightley"
    assert [p for _, p in blended] == sorted([p for _, p in blended], reverse=True)


def test_several_key_units_in_one_run():
    r = keystroke_savings(Scripted(["국민"]), "국민 국민", also={"jamo": jamo_keys})
    assert r["keystrokes"] == 3 and r["ksr"] == pytest.approx(1 - 3 / 5)          # tap, space, tap
    assert r["ksr_jamo"] == pytest.approx(1 - 3 / 13) and r["oracle_ksr_jamo"] == pytest.approx(1 - 3 / 13)


@pytest.mark.parametrize("text", ["", "the cat", "the cat ", "the cat sat, on", "  Mr. Knightley's  ho",
                                  "국민대학교에 가요. 영", "!!", "one"])
def test_previous_word_is_the_last_whole_word_before_the_current_one(text):
    from chargen.words import current_word, previous_word
    before = words_of(text[:len(text) - len(current_word(text))])
    assert previous_word(text) == (before[-1] if before else None)


def test_jamo_typing_offers_before_every_jamo_key():
    from chargen.keystrokes import JamoTyping
    from chargen.hangul import decompose_hangul
    train = "한국어 한국어 한국어 한국인들"
    text = "한국인들"                                   # 12 jamo: ㅎㅏㄴ ㄱㅜㄱ ㅇㅣ ㄴ ㄷㅡㄹ
    # Offered only at syllable boundaries, "한국인들" shows once 인 is typed: 9 jamo + a tap.
    by_syllable = keystroke_savings(UnigramCompleter.fit(train), text, 1, key_cost=jamo_keys)
    assert by_syllable["ksr"] == pytest.approx(1 - 10 / 12)
    # A jamo at a time, it shows as soon as ㅣ tells 인 from 어: 8 keys + a tap.
    by_jamo = keystroke_savings(JamoTyping(UnigramCompleter.fit(decompose_hangul(train))), decompose_hangul(text), 1)
    assert by_jamo["ksr"] == pytest.approx(1 - 9 / 12)
    # composed suggestions (a jamo model's) are compared in jamo
    assert JamoTyping(Scripted(["한국인들"])).suggest(1) == [decompose_hangul("한국인들")]
