import pytest
import torch

from chargen.faststep import FastStepper
from chargen.model import CharLM, ModelConfig
from chargen.predictor import Predictor
from chargen.words import current_word
from chargen.tokenizer import fit_tokenizer
from chargen.train import TrainConfig, train
from conftest import ENGLISH, KOREAN


def _random_predictor(text=ENGLISH, kind="char", cell="lstm"):
    tok = fit_tokenizer(kind, [text])
    torch.manual_seed(0)
    model = CharLM(ModelConfig(vocab_size=tok.vocab_size, cell=cell, num_layers=2, hidden_size=24, embed_size=16,
                               dropout=0.0))
    return Predictor(model, tok)


@torch.no_grad()
def _full_pass_probs(pred, text):
    ids = [i for i in pred.tokenizer.encode("\n")] + pred.tokenizer.encode(text)
    logits, _ = pred.model(torch.tensor([ids]))
    return torch.softmax(logits[0, -1], -1)


@pytest.mark.parametrize("kernel", ["numpy", "torch"])
@pytest.mark.parametrize("cell,rows", [("lstm", 1), ("lstm", 3), ("lstm", 12), ("gru", 1), ("gru", 6), ("rnn", 1),
                                       ("rnn", 5)])
def test_fast_step_matches_module(cell, rows, kernel):
    # each float32 kernel, forced, on any machine: the keystroke path takes whichever is measured fastest
    pred = _random_predictor(cell=cell)
    stepper = FastStepper(pred.model, kernels={"exact": kernel, "search": kernel})
    ids = torch.randint(0, pred.tokenizer.vocab_size, (rows, 9))
    full, _ = pred.model(ids)
    state = None
    for t in range(9):
        logits, state = stepper.step(ids[:, t], state)
        torch.testing.assert_close(logits, full[:, t], atol=1e-5, rtol=0)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_bf16_search_steps_stay_close_to_the_module(cell):
    # the bf16 kernel, forced (emulated and slow where the CPU lacks bf16, but it runs anywhere)
    pred = _random_predictor(cell=cell)
    stepper = FastStepper(pred.model, kernels={"exact": "torch", "search": "bf16"}, bf16=True)
    ids = torch.randint(0, pred.tokenizer.vocab_size, (8, 6))
    full, _ = pred.model(ids)
    rows = stepper.start_rows(8)
    for t in range(6):
        logits, rows = stepper.step_rows(ids[:, t].numpy(), rows, exact=False)
        torch.testing.assert_close(torch.log_softmax(torch.from_numpy(logits), -1),
                                   torch.log_softmax(full[:, t], -1), atol=3e-2, rtol=0)
    exact, _ = stepper.step_rows(ids[:, 0].numpy(), stepper.start_rows(8))      # exact steps never take bf16
    torch.testing.assert_close(torch.from_numpy(exact), full[:, 0], atol=1e-5, rtol=0)


def test_kernels_are_chosen_by_measurement_and_bf16_only_where_the_cpu_has_it(monkeypatch):
    from chargen import cpu, faststep, onnxstep
    pred = _random_predictor()
    onnx = {"onnx"} if onnxstep.available() else set()           # onnxruntime: a candidate where installed
    for forced, allowed in (("0", {"numpy", "torch"} | onnx), ("1", {"numpy", "torch", "bf16"} | onnx)):
        monkeypatch.setenv("CHARGEN_BF16", forced)
        faststep._CALIBRATED.clear()
        stepper = FastStepper(pred.model)
        assert stepper.bf16 == (forced == "1") == cpu.has_bf16()
        assert set(stepper.kernels["exact"].values()) <= {"numpy", "torch"} | onnx
        assert set(stepper.kernels["search"].values()) <= allowed
        assert set(stepper.kernels["exact"]) == set(faststep.CALIBRATE_ROWS)


def test_incremental_typing_equals_a_fresh_full_pass():
    pred = _random_predictor()
    s = pred.session()
    for ch in "All: speak":
        s.type(ch)
        torch.testing.assert_close(s.next_token_probs(), _full_pass_probs(pred, s.text), atol=1e-5, rtol=0)
    assert s.steps == len("All: speak")          # one model step per typed character


def test_backspace_and_set_text_restore_exactly():
    pred = _random_predictor()
    s = pred.session("First Citizen: you")
    before = s.next_token_probs().clone()
    steps = s.steps
    s.type("rs")
    s.backspace(2)
    assert s.text == "First Citizen: you" and s.steps == steps + 2     # backspace costs no step
    torch.testing.assert_close(s.next_token_probs(), before, atol=0, rtol=0)
    s.set_text("First Citizen: we are")                                 # shares "First Citizen: "
    assert s.steps == steps + 2 + len("we are")
    torch.testing.assert_close(s.next_token_probs(), _full_pass_probs(pred, "First Citizen: we are"), atol=1e-5, rtol=0)
    long = ENGLISH * 3                                                  # an edit far back in a long text
    s.set_text(long)
    s.set_text("X" + long[1:])
    torch.testing.assert_close(s.next_token_probs(), _full_pass_probs(pred, "X" + long[1:]), atol=1e-4, rtol=0)


def test_sessions_are_independent():
    pred = _random_predictor()
    a, b = pred.session("All"), pred.session("First")
    pa = a.next_token_probs().clone()
    b.type(" Citizen")
    torch.testing.assert_close(a.next_token_probs(), pa)


def test_suggestions_ranked_distinct_reproducible():
    pred = _random_predictor()
    s = pred.session("All: spe")
    chars = s.next_chars(5)
    assert [p for _, p in chars] == sorted([p for _, p in chars], reverse=True)
    assert len({c for c, _ in chars}) == len(chars) == 5
    words = s.complete_word(3)
    assert len(words) == 3 and len({w for w, _ in words}) == 3
    assert all(w.startswith("spe") and len(w) > 3 for w, _ in words)
    assert [p for _, p in words] == sorted([p for _, p in words], reverse=True)
    assert words == pred.session("All: spe").complete_word(3)


def test_unknown_characters_and_emoji_never_crash():
    pred = _random_predictor()
    s = pred.session()
    for text in ["🚀", "☃ snow", "日本語", "\x00", " ", "\n\n", "Zebra🚀qu"]:
        s.type(text)
        assert s.next_chars(3) and isinstance(s.complete_word(3), list) and isinstance(s.next_words(3), list)
    s.set_text("")
    assert s.text == "" and s.next_chars(3)


@pytest.fixture(scope="module")
def knightley(tmp_path_factory):
    d = tmp_path_factory.mktemp("knightley")
    text = ("Mr. Knightley came. Emma saw Mr. Knightley and Harriet. Mr. Knightley smiled at Emma. " * 30)
    (d / "emma.txt").write_text(text)
    train(TrainConfig(corpus=[str(d / "emma.txt")], out=str(d / "run"), max_minutes=0, max_steps=300, lr=1e-2,
                      batch_size=4, bptt_len=32, eval_interval=100, patience=0, progress=False, threads=2),
          ModelConfig(num_layers=1, hidden_size=64, embed_size=32, dropout=0.0))
    return Predictor.from_checkpoint(d / "run")


def test_completion_behaves_like_a_keyboard(knightley):
    s = knightley.session("Emma saw Mr. Knightl")
    assert s.complete_word(1)[0][0] == "Knightley"
    assert s.next_chars(1)[0][0] == "e"
    s.accept("Knightley")
    assert s.text == "Emma saw Mr. Knightley"
    s.type(" and ")
    assert "Harriet" in [w for w, _ in s.next_words(3)]


def test_current_word_rules():
    assert current_word("Mr. Knightl") == "Knightl"
    assert current_word("don't") == "don't"
    assert current_word("hello, ") == "" and current_word("line\n") == ""
    assert current_word("국민대학") == "국민대학"


def test_jamo_session_recomposes_and_takes_syllables():
    pred = _random_predictor(KOREAN * 3, kind="jamo")
    s = pred.session()
    s.type("국민대")
    assert s.steps == 8                                     # 국 = 3 jamo, 민 = 3, 대 = 2
    torch.testing.assert_close(s.next_token_probs(), _full_pass_probs(pred, "국민대"), atol=1e-5, rtol=0)
    s.set_text("국민대학")                                  # IME replaces the last syllable: extend only
    assert s.steps == 11                                    # 학 = 3 jamo; 국민대 is reused
    words = s.complete_word(3)
    assert words and all(w.startswith("국민대학") for w, _ in words)
    assert all(not any("\u1100" <= c <= "\u11ff" for c in w[:4]) for w, _ in words)   # shown as syllables
    s.set_text("국민대학교 ㅋㅋ")                            # compatibility jamo pass through
    assert s.next_chars(3)


def test_syllable_model_on_korean():
    pred = _random_predictor(KOREAN * 3, kind="char")
    s = pred.session("국민대")
    assert s.steps == 3
    assert all(w.startswith("국민대") for w, _ in s.complete_word(3))


def test_session_cache_suggests_words_of_this_text():
    pred = _random_predictor()                     # untrained, and no word statistics
    s = pred.session("Resolvedly came. Then Resolvedly left. Reso")
    assert s.complete_word(3)[0][0] == "Resolvedly"
    assert pred.session("Then Reso").complete_word(3)[0][0] != "Resolvedly"   # another session has no such cache


def test_suggestion_bar_skips_completions_that_save_nothing():
    pred = _random_predictor()
    s = pred.session("All: spe")
    bar = s.suggest(3)
    assert len(bar) == 3 and len(set(bar)) == 3 and all(w.startswith("spe") and len(w) >= 5 for w in bar)
    ranked = [w for w, _ in s._candidates("spe", 3, min_keys=2) if len(w) >= 5]
    assert bar == ranked[:3]                       # the most probable that add two keys or more
    assert all(len(w) == 4 for w, _ in s.complete_word(3))    # what the bar skipped: one-key completions
    ko = _random_predictor(KOREAN * 3, kind="char").session("국민")
    assert all(len(w) > 2 for w in ko.suggest(3))  # one added syllable is 2-3 jamo keys: it saves


def test_typing_along_a_completion_reuses_the_search(knightley):
    from chargen import faststep
    pred = knightley
    s = pred.session("Emma saw Mr. K")
    first = s.complete_word(3)
    rows = []
    orig = faststep.FastStepper.step_rows
    try:
        faststep.FastStepper.step_rows = lambda self, ids, state, *a, **kw: (rows.append(len(ids)), orig(self, ids, state, *a, **kw))[1]
        word = first[0][0]
        assert word == "Knightley"
        s.type(word[1])                                          # the next letter of the top completion
        again = s.complete_word(3)
        reused, rows[:] = sum(rows), []
        fresh = pred.session(s.text).complete_word(3)
        from_scratch = sum(rows) - len(s.text) - 1             # less typing the text into the new session
    finally:
        faststep.FastStepper.step_rows = orig
    assert [w for w, _ in again] == [w for w, _ in fresh]
    for (_, a), (_, b) in zip(again, fresh):
        assert abs(a - b) < 2e-2 * b                             # bf16 search steps vs a fresh search
    assert reused < from_scratch - 5, (reused, from_scratch)   # Knightley's path was already there


def test_word_cache_updates_incrementally_like_a_rebuild():
    from chargen.wordstats import WordCache
    from chargen.words import words_of
    text = "the cat saw the dog and the cat ran " * 3
    s = _random_predictor().session()
    for ch in text:
        s.type(ch)
    inc = s._cache()
    full = WordCache()
    for w in words_of(text):
        full.push(w)
    assert inc.unigrams == full.unigrams and inc.bigrams == full.bigrams
    small = WordCache(size=4)
    for w in "a b c d e f".split():
        small.push(w)
    assert list(small.words) == ["c", "d", "e", "f"] and set(small.unigrams) == {"c", "d", "e", "f"}
    assert dict(small.bigrams["b"]) == {} and small.bigrams["c"] == {"d": 1}
    s.set_text("zebra zebra ")                                  # an edit, not an append: rebuilt
    assert set(s._cache().unigrams) == {"zebra"}


def test_cache_share_adapts_to_whether_the_text_repeats_itself():
    from chargen.wordstats import WordModel
    pred = _random_predictor()
    pred.words = WordModel.fit(["the cat sat on the mat and the dog ran to the cat " * 20], min_bigram=1)
    names = pred.session("Zorro met Quixote. " * 15)           # new words that recur: trust the cache
    assert names._cache() and names._cache_weight > 0.7
    fresh = pred.session("the cat sat on the mat and the dog ran to the cat ")
    fresh._cache()
    assert fresh._cache_weight < 0.5                            # the train statistics already know these


def test_a_huge_paste_keeps_a_bounded_number_of_states():
    from chargen.session import KEEP_RECENT, KEEP_SPARSE
    pred = _random_predictor()
    s = pred.session()
    s.set_text("abc " * 3000)                                     # 12,000 characters
    assert len(s._states) <= 1 + KEEP_RECENT + KEEP_SPARSE + 1
    s.set_text("Xbc " + "abc " * 2999)                           # an edit at the very start
    torch.testing.assert_close(s.next_token_probs(), _full_pass_probs(pred, s.text), atol=1e-4, rtol=0)


def _composing_predictor(text, kind):
    from chargen.hangul import decompose_hangul
    from chargen.wordstats import WordModel
    pred = _random_predictor(text, kind=kind)
    pred.words = WordModel.fit([decompose_hangul(text) if kind == "jamo" else text])
    pred.cache, pred.composing = False, True
    return pred


@pytest.mark.parametrize("kind", ["char", "jamo"])
def test_composing_a_syllable_completes_what_it_may_still_become(kind):
    from chargen.keys import word_keys
    pred = _composing_predictor("가게 각자 고기 과자 공부 가게 과자 " * 3, kind)
    for typed, expected in [("각", {"가게", "각자"}), ("고", {"고기", "과자", "공부"}), ("ㄱ", {"가게", "과자"})]:
        got = [w for w, _ in pred.session("오늘 " + typed).complete_word(8)]
        assert expected <= set(got), (typed, got)          # 각 -> 가게: its final starts the next syllable
        assert all(word_keys(w)[:len(word_keys(typed))] == word_keys(typed) and w != typed for w in got)
    plain = pred.session("오늘 고")
    plain.composing = False                                 # the syllable is done: 고 starts every word
    from chargen.hangul import decompose_hangul as nfd
    done = [w for w, _ in plain.complete_word(8)]           # (a jamo model may still add a final: 공부)
    assert all((nfd(w) if kind == "jamo" else w).startswith(nfd("고") if kind == "jamo" else "고") for w in done)
    assert "과자" not in done
    if kind == "jamo":                                      # typed a jamo at a time: ᅩ may become ᅪ
        got = [w for w, _ in pred.session("오늘 \u1100\u1169").complete_word(8)]
        assert {"고기", "과자", "공부"} <= set(got), got


def test_composing_probabilities_are_the_models_renormalised_over_what_fits():
    from chargen.keys import word_keys
    pred = _random_predictor(KOREAN * 3, kind="char")
    pred.cache, pred.composing = False, True                  # the character model alone
    s = pred.session("영화 정말 재")
    got = s.complete_word(4)
    assert got
    need = word_keys("재")
    logp0 = torch.log_softmax(_full_pass_probs(pred, "영화 정말 ").log(), -1)
    z = float(torch.logsumexp(logp0[pred.key_mask(need)], -1))
    for w, q in got:                                          # exact: a full pass down the word
        ids = pred.tokenizer.encode(w)
        lp = sum(float(_full_pass_probs(pred, "영화 정말 " + w[:i]).log()[t]) for i, t in enumerate(ids))
        end = float(_full_pass_probs(pred, "영화 정말 " + w)[pred.boundary_mask].sum().log())
        assert q == pytest.approx(torch.tensor(lp + end - z).exp().item(), rel=3e-2), w   # bf16 search steps


def test_word_statistics_break_ties_by_the_word_not_by_hash_order():
    # a cache of words seen once is all ties: which of them fill the pool must not depend on the
    # process's string hashing (PYTHONHASHSEED), or a KSR run would not repeat
    from chargen.wordstats import WordCache
    cache = WordCache()
    for w in "delta alpha echo charlie bravo".split():
        cache.push(w)
    assert list(cache.probs(None, "", limit=3)) == ["alpha", "bravo", "charlie"]
