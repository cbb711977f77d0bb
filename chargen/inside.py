"""Looking inside a model on one text, in one call: the stepped pass (``activations``), every unit's
activation per character, the cells that best track simple text features (``features``), the top-k
next tokens after each token, gate saturation, and connectivity for a chosen position
(``connectivity``). What the CLI's ``inside`` command and the web app's Inside tab show. The text
starts after a line break, as a keyboard session's does.

    a = analyse(model, tokenizer, 'He said "yes (twice)".')
    a.ranking[0]                               # CellScore: the best-tracking unit and its r
    a.values(("c", 0, 17))                     # (N,) that unit's activation under each character
    g = connectivity(model, a, position=10)    # (N,) gradient size per character, NaN after it
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .activations import GATE_NAMES, Trace, char_owners, saturation, stepped_pass, top_next
from .connectivity import influence_curve, input_gradients
from .features import CellScore, rank_cells, text_features
from .sample import start_ids

TOP_K = 5
SIGNAL_NAMES = {"h": "hidden state h", "c": "cell state c"}


@dataclass
class Analysis:
    shown: str                  # the text as its tokens spell it (a jamo model's: decomposed)
    owner: np.ndarray           # (N,) the token each character belongs to
    trace: Trace
    top_text: list              # per token, the texts of its k likeliest next tokens
    top_probs: np.ndarray       # (T, k)
    ranking: list               # [CellScore], best first
    saturation: dict            # {layer: {gate: (below 0.1, above 0.9)}}
    start_state: object         # the model state the text was read from (after a line break)
    influence: dict | None = None   # text_influence's curve, kept once computed

    @property
    def layers(self) -> int:
        return self.trace.hidden.shape[0]

    @property
    def units(self) -> int:
        return self.trace.hidden.shape[2]

    def values(self, label: tuple) -> np.ndarray:
        """(N,) the activation of unit ``label`` = (signal, layer, unit) under each character."""
        signal, layer, unit = label
        return self.trace.signal(signal)[layer, self.owner, unit]

    def last_of_token(self) -> np.ndarray:
        """(N,) True for the last character of each token: where its next-token guesses belong."""
        return np.append(self.owner[1:] != self.owner[:-1], True) if len(self.owner) else np.zeros(0, bool)


def cell_label(label: tuple) -> str:
    """("c", 0, 17) -> "layer 1 · c · unit 17" (layers counted from 1, units from 0)."""
    signal, layer, unit = label
    return f"layer {layer + 1} · {signal} · unit {unit}"


def gate_label(gate: str) -> str:
    return f"{gate} ({GATE_NAMES[gate]})"


def start_state(model, tokenizer):
    """The state after a line break: where a text with nothing before it starts."""
    with torch.no_grad():
        return model(torch.tensor([start_ids(tokenizer)]))[1]


def analyse(model, tokenizer, text: str, top_k: int = TOP_K, rank_top: int = 20) -> Analysis:
    """Everything the Inside views show for ``text`` (see the module docstring)."""
    ids = tokenizer.encode_array(text)
    if len(ids) == 0:
        raise ValueError("give some text to look inside")
    state = start_state(model, tokenizer)
    trace = stepped_pass(model, ids, state)
    shown, owner = char_owners(tokenizer, ids, text)
    labels, columns = [], []
    for signal in trace.signals:
        per_char = trace.signal(signal)[:, owner]                       # (L, N, H)
        columns.append(per_char.transpose(1, 0, 2).reshape(len(owner), -1))
        labels += [(signal, layer, unit) for layer in range(per_char.shape[0]) for unit in range(per_char.shape[2])]
    ranking = rank_cells(np.concatenate(columns, 1), text_features(shown), labels, rank_top) if len(owner) > 1 else []
    top_ids, top_probs = top_next(trace.logits, top_k)
    top_text = [[tokenizer.token_text(int(i)) for i in row] for row in top_ids]
    return Analysis(shown, owner, trace, top_text, top_probs, ranking, saturation(trace), state)


def best_cell(analysis: Analysis) -> tuple:
    """The unit to show first: the best-ranked one (else layer 1's first hidden unit)."""
    return analysis.ranking[0].label if analysis.ranking else ("h", 0, 0)


def connectivity(model, analysis: Analysis, position: int) -> np.ndarray:
    """(N,) for the prediction made after character ``position``: the gradient size of its
    log-probability with respect to the input embedding of the token under each character (NaN for
    the characters after it). The target is the true next token (the model's top guess at the end)."""
    if not 0 <= position < len(analysis.owner):
        raise ValueError(f"position {position} is outside the text's {len(analysis.owner)} characters")
    token = int(analysis.owner[position])
    grads = input_gradients(model, analysis.trace.ids, token, analysis.start_state)      # (token + 1,)
    out = np.full(len(analysis.owner), np.nan)
    reached = analysis.owner <= token
    out[reached] = grads[analysis.owner[reached]]
    return out


def text_influence(model, analysis: Analysis, max_distance: int = 64, positions: int = 32) -> dict:
    """Influence against distance averaged over places in this text (short texts: short distances);
    computed once per analysis."""
    ids = analysis.trace.ids
    if len(ids) < 8:
        raise ValueError("the text is too short for an influence curve: give at least 8 tokens")
    if analysis.influence is None:
        analysis.influence = influence_curve(model, ids, max_distance=min(max_distance, len(ids) // 2),
                                             positions=positions, burn_in=min(16, len(ids) // 4))
    return analysis.influence


def top_cells_by_feature(ranking: list[CellScore]) -> dict:
    """{feature: its best CellScore} (the first score of each feature in a ranking)."""
    out = {}
    for s in ranking:
        out.setdefault(s.feature, s)
    return out
