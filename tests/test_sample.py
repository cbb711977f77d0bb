import pytest
import torch

from chargen.model import CharLM, ModelConfig
from chargen.sample import filter_logits, generate, sample_next
from chargen.tokenizer import fit_tokenizer
from conftest import ENGLISH, KOREAN


def _model(vocab):
    torch.manual_seed(0)
    return CharLM(ModelConfig(vocab_size=vocab, num_layers=1, hidden_size=16, embed_size=16, dropout=0.0)).eval()


def test_seeded_generation_is_reproducible_and_streams():
    tok = fit_tokenizer("char", [ENGLISH])
    model = _model(tok.vocab_size)
    a = list(generate(model, tok, "All:", length=80, seed=7))
    b = list(generate(model, tok, "All:", length=80, seed=7))
    c = "".join(generate(model, tok, "All:", length=80, seed=8))
    assert a == b and len(a) > 1 and "".join(a) != c
    assert len("".join(a)) == 80


def test_greedy_is_argmax():
    tok = fit_tokenizer("char", [ENGLISH])
    model = _model(tok.vocab_size)
    text = "".join(generate(model, tok, "Speak", length=5, greedy=True))
    ids = tok.encode("Speak")
    for ch in text:
        logits, _ = model(torch.tensor([ids]))
        assert tok.decode([int(logits[0, -1].argmax())]) == ch
        ids.append(tok.encode(ch)[0])


def test_top_k_and_top_p_truncate():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    p = filter_logits(logits, top_k=2)
    assert (p[0, 2:] == 0).all() and p[0, :2].sum().item() == pytest.approx(1.0)
    p = filter_logits(logits, top_p=0.7)        # 0.5 + 0.3 reaches 0.7: two tokens survive
    assert (p[0] > 0).tolist() == [True, True, False, False]
    p = filter_logits(logits, top_p=0.4)        # the top token alone is always kept
    assert (p[0] > 0).tolist() == [True, False, False, False]
    g = torch.Generator().manual_seed(0)
    draws = {int(sample_next(logits, top_k=2, generator=g)) for _ in range(300)}
    assert draws == {0, 1}
    with pytest.raises(ValueError, match="temperature"):
        filter_logits(logits, temperature=0)


def test_stop_strings_end_generation_before_the_stop():
    tok = fit_tokenizer("char", ["ab"])
    model = CharLM(ModelConfig(vocab_size=tok.vocab_size, num_layers=1, hidden_size=4, embed_size=4, dropout=0.0))
    with torch.no_grad():      # a model that always says "b"
        model.head.weight.zero_()
        model.head.bias.copy_(torch.tensor([0.0, 0.0, 10.0]))
    out = "".join(generate(model, tok, "a", length=50, greedy=True, stop=["bbb"]))
    assert out == ""
    out = "".join(generate(model, tok, "a", length=50, greedy=True, stop=["zz"]))
    assert out == "b" * 50


def test_jamo_output_is_recomposed_syllables():
    from chargen.hangul import compose_hangul
    tok = fit_tokenizer("jamo", [KOREAN])
    model = _model(tok.vocab_size)
    pieces = list(generate(model, tok, "국민", length=300, seed=3))
    text = "".join(pieces)
    assert any("\uac00" <= c <= "\ud7a3" for c in text)            # syllables, not loose jamo
    # had a piece boundary cut a syllable, the joined text would still hold composable jamo
    assert compose_hangul(text) == text


def test_subword_and_unknown_prompt_never_crash():
    tok = fit_tokenizer("bpe", [ENGLISH * 5 + KOREAN * 5], vocab_size=400)
    model = _model(tok.vocab_size)
    out = "".join(generate(model, tok, "All 🚀 국", length=40, seed=1))
    assert isinstance(out, str)
    ctok = fit_tokenizer("char", [ENGLISH])
    out = "".join(generate(_model(ctok.vocab_size), ctok, "🚀 unknown ☃", length=10, seed=1))
    assert len(out) == 10


def test_gumbel_draws_follow_the_tempered_distribution():
    from chargen.sample import _Draw
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0])
    for temperature, top_k in ((1.0, 0), (0.5, 0), (1.0, 2)):
        draw = _Draw(4, temperature, top_k, generator=torch.Generator().manual_seed(0))
        counts = torch.bincount(torch.tensor([draw(logits.numpy()) for _ in range(20000)]), minlength=4).float()
        want = filter_logits(logits[None], temperature, top_k)[0]
        assert torch.allclose(counts / counts.sum(), want, atol=0.015), (temperature, top_k, counts / counts.sum(), want)
