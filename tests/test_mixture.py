"""Word n-grams (Kneser-Ney), the learned mixture of the character model, the n-grams and the
session's own words, and the checkpoints that ship them (old ones keep their old blend)."""
import json

import pytest
import torch

from chargen.blend import cased
from chargen.heldout import word_rows
from chargen.mixture import Mixture, estimate
from chargen.model import CharLM, ModelConfig
from chargen.ngram import NgramModel, fold, load_words
from chargen.predictor import Predictor
from chargen.tokenizer import fit_tokenizer
from chargen.train import TrainConfig, train
from chargen.wordstats import WordModel

STORY = ("The cat sat on the mat. The dog sat on the log. A cat and a dog sat on the mat. "
         "Then the cat ran to the log and the dog ran to the mat. ") * 6


def test_kneser_ney_sums_to_one_over_the_vocabulary():
    pruned = dict(min_count=2), dict(max_bigrams=6, max_trigrams=5)       # a floor on counts, a cap in entries
    for how in ({}, *pruned):                                                # as shipped (nothing to cap here), pruned
        ngram = NgramModel.fit([STORY], **how)
        vocab = list(ngram.unigrams)
        for context in [(None, None), (None, "the"), ("on", "the"), ("sat", "on"), ("zebra", "the"), ("cat", "qq")]:
            total = sum(ngram.prob(*context, w) for w in vocab)
            assert total == pytest.approx(1.0, abs=1e-9), (how, context)
    capped = NgramModel.fit([STORY], max_bigrams=6, max_trigrams=5)
    assert sum(map(len, capped.bigrams.values())) == 6 and sum(map(len, capped.trigrams.values())) == 5
    assert capped.bigrams["the"]["mat"] == 18 and capped.trigrams["sat\ton"]["the"] == 18   # the most frequent kept
    assert all(set(capped.cont2[v]) <= set(capped.bigrams[v]) for v in capped.cont2)      # pruned as the bigrams are
    assert ngram.prob("on", "the", "mat") > ngram.prob("on", "the", "dog") > 0      # the trigram knows
    assert set(ngram.candidates("on", "the", "m", 3)) == {"mat"}
    assert ngram.spelled("the") == "the" and ngram.spelled("then") == "Then"


def test_counts_are_case_folded_and_shown_as_usually_written():
    ngram = NgramModel.fit(["Emma said that. Then Emma smiled. The end came. Emma and the rest."])
    assert "the" in ngram.unigrams and "The" not in ngram.unigrams
    assert ngram.spelled("emma") == "Emma" and fold("Emma") == "emma"


def _predictor(text=STORY, **kw):
    tok = fit_tokenizer("char", [text])
    torch.manual_seed(0)
    model = CharLM(ModelConfig(vocab_size=tok.vocab_size, num_layers=1, hidden_size=16))
    return Predictor(model, tok, **kw)


def test_the_mixture_moves_toward_the_part_that_predicts_better():
    # the n-grams know this text and the untrained character model does not: typing it, the
    # session's weight moves from the character model to the n-grams
    ngram = NgramModel.fit([STORY])
    ngram.mixture = [0.6, 0.3, 0.1]
    s = _predictor(words=ngram).session()
    for ch in STORY[:400]:
        s.type(ch)
        s.suggest(3)                                 # the keyboard asks at every key
    char, ngram_w, _ = s._words.mixture.weights
    assert ngram_w > 0.5 > char, s._words.mixture.weights
    # and the other way round: n-grams of another text, the same words in a new order a cache learns
    other = NgramModel.fit(["Quite unrelated words fill these statistics entirely. " * 20])
    other.mixture = [0.1, 0.8, 0.1]
    s = _predictor(text=STORY + "Quite unrelated words fill these statistics entirely.", words=other).session()
    s.type("zorro met quixote. " * 60)
    s.suggest(3)
    assert s._words.mixture.weights[2] > 0.3 > s._words.mixture.weights[1]
    m = Mixture([0.5, 0.5, 0.0])
    for _ in range(200):
        m.update((0.0, 0.2, None))                  # only the n-grams ever predict: they take over
    assert m.weights[1] > 0.95 and abs(sum(m.weights) - 1) < 1e-9
    # the maximum-likelihood weights: 0.8 (1 - l) = 0.1 + 0.8 l, l = 0.4375 (the cache floored at 0.01)
    assert estimate([(0.9, 0.1, 0.0)] * 50 + [(0.0, 0.5, 0.0)] * 50)[0] == pytest.approx(0.4375, abs=0.01)


def test_word_side_completions_are_cased_as_a_keyboard_user_expects():
    ngram = NgramModel.fit([STORY])
    p = _predictor(words=ngram, char=False)
    assert "The" in [w for w, _ in p.session("He sat. Th").complete_word(3)]     # a capital typed
    assert "the" in [w for w, _ in p.session("He sat on th").complete_word(3)]
    assert all(w[0].isupper() for w, _ in p.session("He sat. ").complete_word(3))  # a sentence starts
    assert "then" in [w for w, _ in p.session("and th").complete_word(5)]    # the letters typed stay as typed
    assert "Then" not in [w for w, _ in p.session("and th").complete_word(5)]
    assert "cat" in [w for w, _ in p.session("The ").next_words(3)]         # the word side ranks next words


def test_a_confident_word_side_brings_words_the_character_beam_never_reaches():
    # an untrained character model spreads its mass over 20-odd letters: its beam of 8 never spells
    # "Zanzibar" out; the n-grams have it after "to", and with the character model in the mixture too
    # it still reaches the bar, after a space (no letter typed) and after its first letter
    ngram = NgramModel.fit([("They sailed to Zanzibar. " * 30) + STORY])
    ngram.mixture = [0.5, 0.4, 0.1]
    p = _predictor(text=STORY + " Zanzibar.", words=ngram)
    assert "Zanzibar" in p.session("They sailed to ").suggest(3)
    assert p.session("They sailed to Z").suggest(1) == ["Zanzibar"]
    char_only = _predictor(text=STORY + " Zanzibar.", words=None, cache=False)
    assert "Zanzibar" not in char_only.session("They sailed to Z").suggest(3)    # the beam alone: not reached


def test_rows_for_the_held_out_estimate_score_every_word():
    ngram = NgramModel.fit([STORY])
    p = _predictor()
    rows = word_rows(p.model, p.tokenizer, ngram, "The cat sat on the mat. The dog ran.")
    assert len(rows) == 9 and all(0 < pc <= 1 and 0 < pn <= 1 for pc, pn, _ in rows)
    assert rows[0][2] == 0 and rows[6][2] > 0        # the cache knows "The" once it has seen it


def test_old_checkpoints_keep_loading_and_suggest_as_before(tmp_path):
    p = _predictor()
    old = WordModel.fit([STORY])
    old.save(tmp_path)
    assert json.loads((tmp_path / "words.json").read_text()).keys() == {"unigrams", "bigrams"}   # version 1
    loaded = load_words(tmp_path)
    assert isinstance(loaded, WordModel) and loaded.unigrams == old.unigrams
    legacy = Predictor(p.model, p.tokenizer, words=loaded, stepper=p.stepper)
    again = Predictor(p.model, p.tokenizer, words=old, stepper=p.stepper)
    for text in ("The cat sa", "The ", "A dog and a c"):
        assert legacy.session(text).complete_word(3) == again.session(text).complete_word(3)
    NgramModel.fit([STORY]).save(tmp_path)
    assert isinstance(load_words(tmp_path), NgramModel)
    (tmp_path / "words.json").write_text("{ not json")
    assert load_words(tmp_path) is None                  # a damaged file only costs the word side


def test_training_ships_n_grams_without_the_held_out_head_and_weights_estimated_on_it(tmp_path):
    train_part = "Zanzibar quokka zephyr. " * 4 + STORY * 3     # these words only in the train split's head
    val = (STORY * 2)[:len(train_part) // 9 + 1]                   # the last tenth validates
    assert int(len(train_part + val) * 0.9) == len(train_part)
    corpus = tmp_path / "story.txt"
    corpus.write_text(train_part + val)
    cfg = TrainConfig(corpus=[str(corpus)], out=str(tmp_path / "run"), max_minutes=0, max_steps=30, batch_size=4,
                      bptt_len=16, lr=1e-2, eval_interval=10, patience=0, progress=False, threads=1,
                      held_out_chars=120)
    train(cfg, ModelConfig(num_layers=1, hidden_size=16), log=lambda *a: None)
    words = load_words(tmp_path / "run" / "best")
    assert isinstance(words, NgramModel) and "quokka" not in words.unigrams and "cat" in words.unigrams
    assert len(words.mixture) == 3 and sum(words.mixture) == pytest.approx(1.0)
    assert Predictor.from_checkpoint(tmp_path / "run").session("The cat sat on the m").suggest(3)


def test_the_letters_typed_stay_as_typed_and_spellings_that_show_alike_are_one_suggestion():

    assert cased("Alphabet", "al", False) == "alphabet" and cased("ALPHABET", "alph", False) == "alphabet"
    assert cased("Emma", "", False) == "Emma" and cased("emma", "Em", False) == "Emma"
    assert cased("BIANCA", "B", False) == "BIANCA" and cased("the", "TH", False) == "THE"
    assert cased("최고", "초", False) == "최고"                    # no case in Hangul: nothing to keep
    # the session saw "Alphabet" (a heading) and "alphabet": after "al" one suggestion, their sum
    p = _predictor(words=NgramModel.fit([STORY]), char=False)
    s = p.session("Alphabet. The alphabet and the alphabet. An al")
    got = dict(s.complete_word(3))
    assert "alphabet" in got and "Alphabet" not in got and got["alphabet"] == max(got.values())
