import pytest
import torch

from chargen.model import CharLM, ModelConfig


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_full_sequence_equals_step_by_step(cell):
    torch.manual_seed(0)
    model = CharLM(ModelConfig(vocab_size=20, cell=cell, num_layers=2, hidden_size=24, embed_size=16,
                               dropout=0.3)).eval()
    ids = torch.randint(0, 20, (3, 17))
    full, full_state = model(ids)                        # (B, T, V)
    state, steps = None, []
    for t in range(ids.size(1)):
        logits, state = model(ids[:, t:t + 1], state)
        steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-5, rtol=0)
    for a, b in zip(full_state if cell == "lstm" else [full_state], state if cell == "lstm" else [state]):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_chunked_forward_with_carried_state_equals_one_pass():
    torch.manual_seed(0)
    model = CharLM(ModelConfig(vocab_size=10, num_layers=3, hidden_size=16, embed_size=16)).eval()
    ids = torch.randint(0, 10, (2, 40))
    full, _ = model(ids)
    a, s = model(ids[:, :13])
    b, s = model(ids[:, 13:29], s)
    c, _ = model(ids[:, 29:], CharLM.detach(s))
    torch.testing.assert_close(torch.cat([a, b, c], 1), full, atol=1e-5, rtol=0)


def test_weight_tying_shares_the_matrix():
    model = CharLM(ModelConfig(vocab_size=12, num_layers=1, hidden_size=8, embed_size=8, dropout=0.0, tie_weights=True))
    assert model.head.weight is model.embedding.weight
    with pytest.raises(ValueError, match="embed_size == hidden_size"):
        CharLM(ModelConfig(vocab_size=12, num_layers=1, hidden_size=8, embed_size=4, dropout=0.0, tie_weights=True))


@pytest.mark.parametrize("bad, match", [(dict(cell="transformer"), "unknown cell"), (dict(dropout=1.0), "dropout"),
                                        (dict(hidden_size=0), "hidden_size"), (dict(vocab_size=1), "vocab_size")])
def test_invalid_configs_fail_clearly(bad, match):
    cfg = dict(vocab_size=10, num_layers=1, hidden_size=8, embed_size=8, dropout=0.0)
    with pytest.raises(ValueError, match=match):
        CharLM(ModelConfig(**{**cfg, **bad}))


def test_init_state_shapes():
    lstm = CharLM(ModelConfig(vocab_size=5, num_layers=2, hidden_size=6, embed_size=6, dropout=0.0))
    h, c = lstm.init_state(3)
    assert h.shape == c.shape == (2, 3, 6)
    gru = CharLM(ModelConfig(vocab_size=5, cell="gru", num_layers=2, hidden_size=6, embed_size=6, dropout=0.0))
    assert gru.init_state(3).shape == (2, 3, 6)
