"""The keyboard learns its user: dynamic evaluation per session (chargen.adapt, chargen.learner), the
user's lexicon, profiles. Tiny random models: each test takes about a second."""
import numpy as np
import pytest
import torch

from chargen.adapt import AdaptConfig, learn, Adapted
from chargen.faststep import FastStepper
from chargen.learner import HISTORY, segment_end, status_line
from chargen.lexicon import Lexicon
from chargen.model import CharLM, ModelConfig
from chargen.predictor import Predictor
from chargen.profile import ProfileError, load_profile, save_profile
from chargen.tokenizer import fit_tokenizer
from chargen.typed_loss import typed_loss
from conftest import ENGLISH, KOREAN

FAST = AdaptConfig(target="last", lr=1e-2, decay=1e-3, segment=8)


def _predictor(text=ENGLISH, seed=0, kind="char"):
    tok = fit_tokenizer(kind, [text + " zqxj"])
    torch.manual_seed(seed)
    model = CharLM(ModelConfig(vocab_size=tok.vocab_size, num_layers=2, hidden_size=24, embed_size=16, dropout=0.0))
    return Predictor(model, tok, stepper=None)


@pytest.fixture(scope="module")
def pred():
    return _predictor()


def _params(session):
    return {n: t.clone() for n, t in session.learner.current.params.items()}


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[n], b[n]) for n in a)


def _outputs(session):
    return session.logits.copy(), session.next_chars(5), session.suggest(3)


@pytest.mark.parametrize("target", ["head", "last", "all"])
def test_adaptation_lowers_the_loss_of_a_repeated_text(pred, target):
    text = "the quick brown fox jumps over the lazy dog. " * 6
    static = typed_loss(pred, text)
    adapted = typed_loss(pred, text, learn=AdaptConfig(target=target, lr=1e-2, decay=1e-3, segment=8))
    assert adapted["adapt_steps"] > 10
    assert adapted["val_bpc"] < static["val_bpc"] - 0.15, (static["val_bpc"], adapted["val_bpc"])


def test_the_static_reading_is_the_models_exact_loss(pred):
    text = ENGLISH[:300]
    ids = pred.tokenizer.encode("\n" + text)
    logits, _ = pred.model(torch.tensor([ids[:-1]]))
    nats = torch.nn.functional.cross_entropy(logits[0], torch.tensor(ids[1:]), reduction="sum").item()
    assert typed_loss(pred, text)["val_nats"] == pytest.approx(nats / len(text), rel=1e-5)


def test_a_step_moves_only_the_adapted_parameters_and_never_the_trained_model(pred):
    before = {n: p.detach().clone() for n, p in pred.model.named_parameters()}
    a = Adapted.start(pred, AdaptConfig(target="head"))
    new, loss = learn(pred, a, pred.start_row, pred.tokenizer.encode("First Citizen"))
    assert set(new.params) == {"head.weight", "head.bias"} and new.steps == 1 and loss > 0
    assert not torch.equal(new.params["head.weight"], before["head.weight"])
    assert all(torch.equal(p, before[n]) for n, p in pred.model.named_parameters())


@pytest.mark.parametrize("target", ["head", "last", "all"])
def test_an_adapted_stepper_matches_the_module_with_those_weights(pred, target):
    a = Adapted.start(pred, AdaptConfig(target=target, lr=0.05))
    for _ in range(3):
        a, _ = learn(pred, a, pred.start_row, pred.tokenizer.encode("Speak, speak."))
    stepper = a.stepper(pred)
    model = CharLM(pred.model.config)
    model.load_state_dict({**pred.model.state_dict(), **a.params})
    ids = torch.randint(0, pred.vocab_size, (3, 7))
    full, _ = model(ids)
    state = None
    for t in range(7):
        logits, state = stepper.step(ids[:, t], state)
        torch.testing.assert_close(logits, full[:, t], atol=1e-5, rtol=0)
    assert pred.stepper._mats["numpy"][-1] is not stepper._mats["numpy"][-1]
    if target != "all":
        assert stepper.table0 is pred.stepper.table0          # untouched layers stay shared


def test_forget_restores_the_trained_models_exact_outputs(pred):
    text = ENGLISH * 2
    s = pred.session(learn=FAST, background=False)
    s.set_text(text[:200])
    s.type(text[200:400])
    assert s.learner.current.steps > 5 and len(s.learner.lexicon) > 0
    fresh = pred.session()
    fresh.set_text(s.text)
    assert not np.allclose(s.logits, fresh.logits)
    s.forget()
    assert s.stepper is pred.stepper and s.learner.current.steps == 0 and len(s.learner.lexicon) == 0
    a, b = _outputs(s), _outputs(fresh)
    assert np.array_equal(a[0], b[0]) and a[1:] == b[1:]
    s.type(" and more text to learn from now on, " * 3)        # learning goes on after Forget
    assert s.learner.current.steps > 0


@pytest.mark.parametrize("extra", [" zqxj zqxj. ", " zqxj zqxj zqxj. the zqxj, zqxj zqxj zqxj! zqxj zqxj zqxj. "])
def test_deleted_text_is_not_learned(pred, extra):
    # Typing A + X and deleting X must leave the learner exactly as typing A + Y and deleting Y (Y of
    # the same shape: the same segments), whether the edit reaches into learned segments (a rollback)
    # or deeper than the kept history (learning starts again from the text that remains).
    prefix = ENGLISH[:160]
    other = "".join("y" if c == "z" else "w" if c in "qxj" else c for c in extra)
    runs = []
    for tail in (extra, other):
        s = pred.session(learn=FAST, background=False)
        s.set_text(prefix)
        for c in tail + "and so on then. ":
            s.type(c)
        assert s.learner.learned_end > len(prefix)                # part of the tail was learned
        s.set_text(prefix)
        runs.append(s)
    assert _same(_params(runs[0]), _params(runs[1]))
    assert "zqxj" not in runs[0].learner.lexicon.unigrams
    assert runs[0].learner.lexicon.to_json() == runs[1].learner.lexicon.to_json()
    kept = pred.session(learn=FAST, background=False)
    kept.set_text(prefix)
    for c in extra + "and so on then. ":
        kept.type(c)
    assert not _same(_params(kept), _params(runs[0]))           # the tail was learned where it stayed
    assert "zqxj" in kept.learner.lexicon.unigrams


def test_the_rollback_history_is_bounded():
    assert 1 <= HISTORY <= 4


def test_auto_adapts_the_last_layer_of_a_small_model_and_only_the_head_of_a_big_one(pred, monkeypatch):
    from chargen import adapt
    from chargen.adapt import target_names
    assert target_names(pred.model, "auto") == target_names(pred.model, "last")
    monkeypatch.setattr(adapt, "AUTO_LIMIT", 100)
    assert target_names(pred.model, "auto") == ["head.weight", "head.bias"]


def test_two_sessions_do_not_share_adaptations(pred):
    a, b = pred.session(learn=FAST, background=False), pred.session(learn=FAST, background=False)
    a.set_text(ENGLISH * 2)
    assert a.learner.current.steps > 0 and b.learner.current.steps == 0
    b.set_text("hello")
    plain = pred.session()
    plain.set_text("hello")
    assert np.array_equal(b.logits, plain.logits) and b.stepper is pred.stepper
    b.set_text(("You are all resolved rather to die than to famish? " * 4))
    assert not _same(_params(a), _params(b))
    assert a.learner.lexicon.to_json() != b.learner.lexicon.to_json()


def test_a_saved_profile_reloads_to_the_same_outputs(pred, tmp_path):
    s = pred.session(learn=FAST, background=False)
    s.set_text(ENGLISH * 2 + "The zqxj came. The zqxj went. ")
    path = save_profile(tmp_path / "me.profile", pred, s.learner)
    base, lexicon = load_profile(path, pred)
    assert _same(base.params, s.learner.current.params) and base.steps == s.learner.current.steps
    assert lexicon.to_json() == s.learner.lexicon.to_json() and "zqxj" in lexicon.unigrams
    loaded = pred.session(profile=path)
    by_hand = pred.session()
    by_hand.stepper = s.learner.current.stepper(pred)
    for t in (loaded, by_hand):
        t.set_text("Before we proceed any further, The zq")
    a, b = _outputs(loaded), _outputs(by_hand)
    assert np.array_equal(a[0], b[0]) and a[1] == b[1]
    assert "zqxj" in loaded.suggest(3)                          # the user's word, from the lexicon
    trained = pred.session()
    trained.set_text(loaded.text)
    assert not np.allclose(trained.logits, loaded.logits)


def test_a_profile_of_another_model_or_no_profile_is_refused(pred, tmp_path):
    s = pred.session(learn=FAST, background=False)
    s.set_text(ENGLISH)
    path = save_profile(tmp_path / "me.profile", pred, s.learner)
    other = _predictor(seed=1)
    with pytest.raises(ProfileError, match="another model"):
        other.session(profile=path)
    junk = tmp_path / "junk.profile"
    junk.write_bytes(b"\x80\x04not a profile")
    with pytest.raises(ProfileError, match="not a chargen profile"):
        load_profile(junk, pred)
    with pytest.raises(ProfileError, match="does not exist"):
        load_profile(tmp_path / "missing", pred)


def test_background_learning_swaps_weights_between_keystrokes_without_re_encoding(pred):
    s = pred.session(learn=FAST)
    s.set_text(ENGLISH[:120])
    s.learner.wait()
    s.type("x")                         # the keystroke that takes the weights the worker made ready
    assert s.learner.current.steps >= 1 and s.stepper is not pred.stepper
    steps = s.steps
    s.learner.wait()
    s.type("y")
    assert s.steps == steps + 1         # one model step for one key, whatever was swapped in


def test_segments_end_at_a_word_boundary_once_a_word_follows():
    assert segment_end("hello world", 0, 3) is None            # "world" may still change
    assert segment_end("hello world ", 0, 3) == 6
    assert segment_end("hello, my world ", 0, 3) == 6
    assert segment_end("ab cd ef gh ", 3, 2) == 6


def test_korean_jamo_sessions_learn_too():
    pred = _predictor(KOREAN * 3, kind="jamo")
    s = pred.session(learn=FAST, background=False)
    s.set_text(KOREAN * 2)
    assert s.learner.current.steps > 3 and len(s.learner.lexicon) > 3
    assert typed_loss(pred, KOREAN * 3, learn=FAST)["val_bpc"] < typed_loss(pred, KOREAN * 3)["val_bpc"]


def test_the_lexicon_is_capped_and_undoes(monkeypatch):
    from chargen import lexicon
    monkeypatch.setattr(lexicon, "MAX_WORDS", 50)
    lex = Lexicon()
    for i in range(200):
        lex.add(None if i == 0 else f"w{i - 1}", f"w{i}")
    lex.add("w199", "w199")
    assert len(lex) <= 50 and lex.unigrams["w199"] == 2
    lex.remove("w199", "w199")
    assert lex.unigrams["w199"] == 1 and "w199" not in lex.bigrams.get("w199", {})


def test_memory_and_status_say_what_was_learned(pred):
    s = pred.session(learn=FAST)
    assert "nothing learned yet" in status_line(s.learner.status())
    s.set_text(ENGLISH * 2)
    for _ in range(50):
        s.learner.wait()
        s.type(" ")
    st = s.learner.status()
    assert st["steps"] > 0 and st["words_learned"] > 0 and st["chars"] > 0
    assert "bits/char" in status_line(st)
    assert s.learner.nbytes() > 0 and s.memory_bytes() > s.learner.nbytes()


def test_subword_models_do_not_learn():
    tok = fit_tokenizer("bpe", [ENGLISH * 5], vocab_size=300)
    model = CharLM(ModelConfig(vocab_size=tok.vocab_size, num_layers=1, hidden_size=16, embed_size=16))
    with pytest.raises(ValueError, match="subword"):
        Predictor(model, tok, stepper=FastStepper(model)).session(learn=FAST)


def test_the_surprise_gate_learns_text_unlike_the_models_own_and_leaves_its_own_alone(pred):
    from chargen.adapt import surprise_gate
    assert surprise_gate(1.0, None) == 1.0                        # no validation loss known: full steps
    assert surprise_gate(1.1, 1.0) == 0.0 and surprise_gate(2.0, 1.0) == 1.0
    assert 0 < surprise_gate(1.3, 1.0) < 1
    text = "the quick brown fox jumps over the lazy dog. " * 4
    static = typed_loss(pred, text)
    try:
        pred.val_loss = static["val_nats_per_token"]              # as if this were the model's own text
        same = typed_loss(pred, text, learn=FAST)
    finally:
        pred.val_loss = None
    assert same["val_bpc"] == pytest.approx(static["val_bpc"], abs=0.02) and same["adapt_steps"] > 0


def test_the_gates_running_loss_starts_at_the_models_validation_loss(pred):
    # the start of a text (no context yet) costs more than the model's average: on its own text that
    # first segment must not open the gate (it did, when the running loss started at the first segment's)
    from chargen.adapt import Adapted, learn
    ids = pred.tokenizer.encode("the quick brown fox jumps over the lazy dog. ")
    first = Adapted.start(pred, FAST)
    _, nats = learn(pred, first, pred.start_row, ids)
    try:
        pred.val_loss = 0.8 * nats / len(ids)               # the first segment costs 25% more than the model's average
        after, _ = learn(pred, first, pred.start_row, ids)
    finally:
        pred.val_loss = None
    assert after.loss == pytest.approx(0.97 * 0.8 * nats / len(ids) + 0.03 * nats / len(ids))
    assert all(torch.equal(after.params[n], first.params[n]) for n in first.params)   # no step taken
