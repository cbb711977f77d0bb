"""How much to trust each part of a word completion: the character model, the corpus word n-grams
and the session's own words. A completion's score is the mixture

    P(w) = l_char P_char(w) + l_ngram P_ngram(w | two words before) + l_cache P_cache(w | word before)

of whole-word probabilities from the word's start (so the letters typed so far weigh each part by
how well it predicted them). The weights are learned: a checkpoint ships weights estimated by EM on a
held-out part of its train split (``estimate``), and each session moves them by online EM after
every word typed (``Mixture.update``): a part that keeps predicting the user's words gains weight.

    mix = Mixture(ngram.mixture); mix.update((p_char, p_ngram, p_cache)); mix.weights
    estimate([(p_char, p_ngram, p_cache), ...])       # -> weights, by batch EM
"""
from __future__ import annotations

import math

PARTS = ("char", "ngram", "cache")
START = (0.6, 0.3, 0.1)  # where a checkpoint without estimated weights starts (held-out choice: README)
RATE = 0.02              # online EM step: about the last 50 words count
FLOOR = 0.01             # no part is ever written off: the text may change again


class Mixture:
    """A session's weights, updated word by word."""

    def __init__(self, weights=None):
        self.weights = list(weights) if weights else list(START)

    def update(self, probs) -> None:
        """One online EM step for a word just typed: ``probs`` are each part's probability of it (None
        where a part cannot say, e.g. the character model of a word typed before the cached states);
        only the parts that spoke share out their current weight."""
        have = [k for k, q in enumerate(probs) if q is not None]
        mass = sum(self.weights[k] for k in have)
        joint = [self.weights[k] * probs[k] for k in have]
        total = sum(joint)
        if total <= 0 or mass <= 0 or not math.isfinite(total):
            return
        for k, j in zip(have, joint):
            target = mass * j / total                   # this part's share of the word, within `have`
            self.weights[k] += RATE * (target - self.weights[k])
        self._floor()

    def _floor(self) -> None:
        w = [max(FLOOR, x) for x in self.weights]
        s = sum(w)
        self.weights = [x / s for x in w]


def estimate(rows, start=START, iterations: int = 50) -> list[float]:
    """Batch EM for the weights that best explain ``rows`` (each part's probability of each word of
    a held-out text, None where a part cannot say)."""
    weights = list(start)
    for _ in range(iterations):
        share, counted = [0.0] * len(weights), 0
        for probs in rows:
            joint = [weights[k] * q if q is not None else 0.0 for k, q in enumerate(probs)]
            total = sum(joint)
            if total > 0:
                share = [a + j / total for a, j in zip(share, joint)]
                counted += 1
        if not counted:
            return list(start)
        weights = [max(FLOOR, a / counted) for a in share]
        s = sum(weights)
        weights = [x / s for x in weights]
    return weights
