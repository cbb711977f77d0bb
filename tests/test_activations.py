"""The stepped pass equals the module (every layer's h and c at every step, the logits), its gates
reproduce the states they claim to, and tokens map back to the characters they spell."""
import numpy as np
import pytest
import torch

from chargen.activations import char_owners, saturation, stepped_pass, top_next, unit_saturation
from chargen.model import CharLM, ModelConfig, state_tensors
from chargen.tokenizer import fit_tokenizer


def tiny(cell: str, layers: int = 2, vocab: int = 20, seed: int = 0) -> CharLM:
    torch.manual_seed(seed)
    return CharLM(ModelConfig(vocab_size=vocab, cell=cell, num_layers=layers, hidden_size=24, embed_size=16,
                              dropout=0.3)).eval()


def module_states(model, ids, state=None):
    """Every layer's state after every step, read from the module stepped one token at a time:
    (P, T, L, H) for P state tensors (h, and c for an LSTM)."""
    out = []
    for t in range(len(ids)):
        _, state = model(ids[None, t:t + 1], state)
        out.append(torch.stack([s[:, 0] for s in state_tensors(state)]))
    return torch.stack(out, 1).detach().numpy()


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_the_stepped_pass_equals_the_module(cell):
    model = tiny(cell)
    ids = torch.randint(0, 20, (60,), generator=torch.Generator().manual_seed(1))
    start = model(torch.tensor([[3, 4, 5]]))[1]              # from a carried state, not only zeros
    trace = stepped_pass(model, ids, start)
    logits, _ = model(ids[None], start)
    np.testing.assert_allclose(trace.logits, logits[0].detach().numpy(), atol=1e-5, rtol=0)
    states = module_states(model, ids, start)                # (P, T, L, H)
    np.testing.assert_allclose(trace.hidden, states[0].transpose(1, 0, 2), atol=1e-5, rtol=0)
    if cell == "lstm":
        np.testing.assert_allclose(trace.cell_state, states[1].transpose(1, 0, 2), atol=1e-5, rtol=0)
    else:
        assert trace.cell_state is None
    assert trace.hidden.shape == (2, 60, 24) and trace.signals == (("h", "c") if cell == "lstm" else ("h",))


def test_the_gates_reproduce_the_states():
    lstm = tiny("lstm")
    ids = torch.randint(0, 20, (30,), generator=torch.Generator().manual_seed(2))
    t = stepped_pass(lstm, ids)
    g = t.gates
    c_prev = np.concatenate([np.zeros((2, 1, 24)), t.cell_state[:, :-1]], 1)
    np.testing.assert_allclose(t.cell_state, g["f"] * c_prev + g["i"] * g["g"], atol=1e-5)
    np.testing.assert_allclose(t.hidden, g["o"] * np.tanh(t.cell_state), atol=1e-5)
    assert all(((g[k] > 0) & (g[k] < 1)).all() for k in "ifo")
    gru = tiny("gru")
    t = stepped_pass(gru, ids)
    h_prev = np.concatenate([np.zeros((2, 1, 24)), t.hidden[:, :-1]], 1)
    np.testing.assert_allclose(t.hidden, (1 - t.gates["z"]) * t.gates["n"] + t.gates["z"] * h_prev, atol=1e-5)
    assert stepped_pass(tiny("rnn"), ids).gates == {}


def test_top_next_and_saturation():
    logits = np.log(np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]]))
    ids, probs = top_next(logits, 2)
    assert ids.tolist() == [[1, 2], [0, 2]]
    np.testing.assert_allclose(probs, [[0.6, 0.3], [0.5, 0.3]])
    t = stepped_pass(tiny("lstm", layers=1), torch.arange(10) % 20)
    t.gates["f"][0] = np.linspace(0, 1, 10 * 24).reshape(10, 24)          # 10% below 0.1, 10% above 0.9
    low, high = saturation(t)[0]["f"]
    assert low == pytest.approx(0.1, abs=0.01) and high == pytest.approx(0.1, abs=0.01)
    per_unit = unit_saturation(t, "f", 0)
    assert per_unit[0].shape == (24,) and per_unit[0].mean() == pytest.approx(low)
    assert set(saturation(t)[0]) == {"i", "f", "o"} and saturation(stepped_pass(tiny("rnn"), [1, 2])) == {}


def test_characters_map_to_the_tokens_that_spell_them():
    text = "Emma (and Mr. Knightley) said “yes”. 한국어 café\n"
    char = fit_tokenizer("char", [text])
    shown, owner = char_owners(char, char.encode_array(text), text)
    assert shown == text and owner.tolist() == list(range(len(text)))
    jamo = fit_tokenizer("jamo", [text])
    shown, owner = char_owners(jamo, jamo.encode_array(text), text)
    assert len(shown) == len(text) + 5 and len(owner) == len(jamo.encode(text))   # 한국어: 3 syllables, 8 jamo
    bpe = fit_tokenizer("bpe", [text * 30], vocab_size=300)
    ids = bpe.encode_array(text)
    shown, owner = char_owners(bpe, ids, text)
    assert shown == text and len(ids) < len(text)
    assert (np.diff(owner) >= 0).all() and owner[-1] == len(ids) - 1
    for t in range(len(ids)):                 # each token owns exactly the characters it completes
        spelled = "".join(c for c, o in zip(shown, owner) if o == t)
        assert bpe.decode(ids[:t + 1]).startswith(bpe.decode(ids[:t]).rstrip("\ufffd") + spelled)
