import pytest
import torch

from chargen.model import CharLM, ModelConfig
from chargen.predictor import Predictor
from chargen.tokenizer import fit_tokenizer
from conftest import ENGLISH, KOREAN


@pytest.fixture(scope="module")
def pred():
    tok = fit_tokenizer("bpe", [ENGLISH * 5 + KOREAN * 5], vocab_size=400)
    torch.manual_seed(0)
    model = CharLM(ModelConfig(vocab_size=tok.vocab_size, num_layers=1, hidden_size=16, embed_size=16, dropout=0.0))
    return Predictor(model, tok)


def brute_force_marginal(pred, text):
    """P(next char) from the definition, enumerating every token (and the next one where needed)."""
    tok, model = pred.tokenizer, pred.model
    ids = tok.encode(text)
    k = len(ids) - 1
    while k > 0 and not text.startswith(tok.decode(ids[:k])):
        k -= 1
    committed, r = ids[:k], text[len(tok.decode(ids[:k])):]
    context = [i for i in tok.encode("\n")] + committed
    with torch.no_grad():
        probs = torch.softmax(model(torch.tensor([context]))[0][0, -1], -1)
        mass = {}
        for t in range(tok.vocab_size):
            s = tok.token_text(t)
            if not s or not s.startswith(r):
                continue
            if len(s) > len(r):
                mass[s[len(r)]] = mass.get(s[len(r)], 0.0) + float(probs[t])
            elif r:
                p2 = torch.softmax(model(torch.tensor([context + [t]]))[0][0, -1], -1)
                for t2 in range(tok.vocab_size):
                    s2 = tok.token_text(t2)
                    if s2:
                        mass[s2[0]] = mass.get(s2[0], 0.0) + float(probs[t]) * float(p2[t2])
    total = sum(mass.values())
    return {c: m / total for c, m in mass.items()}


@pytest.mark.parametrize("text", ["", "First Citi", "All: spe", "Resolved", "국민대", "Speak, speak. "])
def test_marginals_sum_to_one_and_match_brute_force(pred, text):
    s = pred.session(text)
    got = dict(s.next_chars(10_000))
    assert sum(got.values()) == pytest.approx(1.0, abs=1e-4)
    want = brute_force_marginal(pred, text)
    assert set(got) == {c for c, p in want.items() if p > 0}
    for c, p in want.items():
        assert got.get(c, 0.0) == pytest.approx(p, abs=1e-5)


def test_healing_keeps_the_state_at_a_token_boundary(pred):
    s = pred.session("First Citi")
    assert "First Citi".startswith(pred.tokenizer.decode(s.ids))
    assert s.remainder and pred.tokenizer.decode(s.ids) + s.remainder == "First Citi"
    steps = s.steps
    s.type("z")                                     # one character costs at most a token or two
    assert s.steps - steps <= 2


def test_word_completion_extends_the_typed_word(pred):
    s = pred.session("All: spe")
    words = s.complete_word(3)
    assert words and all(w.startswith("spe") and len(w) > 3 for w, _ in words)
    assert len({w for w, _ in words}) == len(words)
    assert [p for _, p in words] == sorted([p for _, p in words], reverse=True)
    assert isinstance(pred.session("All: ").next_words(3), list)


def test_backspace_and_unknown_input(pred):
    s = pred.session("Speak")
    probs = dict(s.next_chars(5))
    s.type("ing 🚀☃")
    s.backspace(len("ing 🚀☃"))
    assert s.text == "Speak" and dict(s.next_chars(5)) == pytest.approx(probs)
