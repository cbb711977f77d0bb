"""Connectivity: the gradients match finite differences, rows of a batch do not mix, and the
influence curve is what it says (relative to distance 1, as long as the text allows)."""
import numpy as np
import pytest
import torch

from chargen.connectivity import _native_kernels, _row_gradients, falls_below, influence_curve, input_gradients
from chargen.model import CharLM, ModelConfig


def tiny(cell: str, dtype=torch.float64, seed: int = 0) -> CharLM:
    torch.manual_seed(seed)
    return CharLM(ModelConfig(vocab_size=11, cell=cell, num_layers=2, hidden_size=7, embed_size=5,
                              dropout=0.2)).to(dtype)


def log_prob(model, ids, position, delta=None) -> float:
    """log p(ids[position + 1]) with ``delta`` (T, E) added to the input embeddings."""
    def hook(module, inputs, output):
        return output + delta[None] if delta is not None else output
    handle = model.embedding.register_forward_hook(hook)
    try:
        with torch.no_grad():
            logits, _ = model(ids[None, :position + 1])
    finally:
        handle.remove()
    return float(torch.log_softmax(logits[0, -1], -1)[ids[position + 1]])


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_gradients_match_finite_differences(cell):
    model = tiny(cell)
    model.train()                                # input_gradients must switch dropout off itself
    ids = torch.randint(0, 11, (12,), generator=torch.Generator().manual_seed(3))
    position, eps = 9, 1e-6
    got = input_gradients(model, ids, position)
    assert got.shape == (position + 1,) and model.training
    model.eval()
    fd = np.zeros((position + 1, 5))
    for s in range(position + 1):
        for e in range(5):
            d = torch.zeros(position + 1, 5, dtype=torch.float64)
            d[s, e] = eps
            fd[s, e] = (log_prob(model, ids, position, d) - log_prob(model, ids, position, -d)) / (2 * eps)
    np.testing.assert_allclose(got, np.linalg.norm(fd, axis=1), rtol=1e-6, atol=1e-10)


def test_rows_of_a_batch_are_independent_and_the_last_position_uses_the_top_guess():
    model = tiny("lstm", torch.float32)
    rows = torch.randint(0, 11, (3, 15), generator=torch.Generator().manual_seed(4))
    targets = torch.tensor([1, 2, 3])
    batch = _row_gradients(model, rows, targets)
    for b in range(3):
        alone = input_gradients(model, torch.cat([rows[b], targets[b:b + 1]]), 14)
        np.testing.assert_allclose(batch[b], alone, rtol=1e-4, atol=1e-8)
    top = model.eval()(rows[:1])[0][0, -1].argmax()
    np.testing.assert_allclose(input_gradients(model, rows[0], 14), _row_gradients(model, rows[:1], top[None])[0],
                               rtol=1e-5)
    with pytest.raises(ValueError, match="outside"):
        input_gradients(model, rows[0], 15)


def test_influence_curve_and_where_it_falls():
    ids = np.random.default_rng(0).integers(0, 11, 400)
    curves = {cell: influence_curve(tiny(cell, torch.float32), ids, max_distance=60, positions=20, burn_in=10)
              for cell in ("rnn", "lstm")}
    for c in curves.values():
        assert c["distance"].tolist() == list(range(1, 61)) and c["positions"] == 20
        assert c["relative"][0] == 1.0 and (c["influence"] >= 0).all()
    assert falls_below(np.array([1.0, 0.5, 0.02, 0.009, 0.02]), 0.01) == 4
    assert falls_below(np.array([1.0, 0.5]), 0.01) is None
    short = influence_curve(tiny("gru", torch.float32), ids[:30], max_distance=100, positions=5, burn_in=10)
    assert len(short["distance"]) == 19                        # what a 30-token text allows


def test_the_single_row_kernel_switch_is_restored():
    before = torch.backends.mkldnn.enabled
    with _native_kernels(True):
        with _native_kernels(True):
            assert not torch.backends.mkldnn.enabled
        assert not torch.backends.mkldnn.enabled
    assert torch.backends.mkldnn.enabled == before
    input_gradients(tiny("gru", torch.float32), torch.arange(8) % 11, 5)
    assert torch.backends.mkldnn.enabled == before
