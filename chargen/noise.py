"""How people mistype: a noise model of tapping on the keyboards the app draws, and the probability
of the keys typed given the word meant, log P(typed | word), for the typo-tolerant decoder.

A tap lands around the key meant (a Gaussian of the distance between key centres, so a neighbour
is far likelier than a key across the board); a key may also be skipped, typed twice or next to
itself (an insertion), or two keys swapped; a capital may come out in lower case. Every rate lives
in ``NoiseParams``, each set from a published figure:

- the per-key rates of deletion (0.005), insertion (0.005), transposition (0.01), a lost capital
  (0.08) and a first-letter deletion at 0.36 of the others: kebbie's noise model of real typing
  (FleksySDK, MIT), the one its keyboard benchmark types with;
- substitutions: 0.5% of taps land on another key (kebbie's typists: about 0.5% per key), spread by a
  Gaussian of σ = 0.55 key widths over
  the key centres (AOSP LatinIME scores a touch by its squared distance over the common key width;
  its edit weights make a proximity error the cheapest, then substitution, omission, transposition
  and insertion, which these rates follow).

Korean: the two-set (dubeolsik) layout's jamo keys; a word is scored on the keys that type it
(``keys.word_keys``: 과 -> ㄱ ㅗ ㅏ), so 안녕하세여 is one neighbouring key from 안녕하세요. Usage:

    noise = NoiseModel.for_script(korean=False)
    noise.logp("tomorow", "tomorrow")            # one deletion: about log 0.005
    noise.logp_many("tomor", ["tomorrow"], prefix=True)   # typed keys as a prefix of each word
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .keys import KOREAN_ROWS, LATIN_ROWS, key_centres, word_keys

NEG = -1e9                       # log 0, finite so that numpy sums stay exact


@dataclass(frozen=True)
class NoiseParams:
    substitution: float = 0.005       # a tap lands on another key
    sigma: float = 0.55               # key widths: how far a missed tap strays
    deletion: float = 0.005           # a key meant is not typed
    first_deletion: float = 0.36      # ... at this fraction of the rate for a word's first key
    insertion: float = 0.005          # an extra key (the same key twice, or a neighbour)
    transposition: float = 0.01       # two keys typed in swapped order
    lost_capital: float = 0.08        # a capital typed in lower case
    symbol_deletion: float = 0.1      # an apostrophe or hyphen left out (don't -> dont)
    other_key: float = 1e-4           # a key the layout does not hold, typed for another


PARAMS = NoiseParams()


class NoiseModel:
    """log P(keys typed | keys meant) on one layout, by the best alignment of the two (an optimal
    string alignment: substitutions, deletions, insertions and adjacent transpositions)."""

    def __init__(self, rows: list[str], params: NoiseParams = PARAMS):
        self.params = params
        centres = key_centres(rows)
        self.keys = list(centres)
        self.index = {k: i for i, k in enumerate(self.keys)}
        n, q = len(self.keys), params
        xy = np.array([centres[k] for k in self.keys])                       # (K, 2) in key widths
        d2 = ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1)                 # (K, K)
        spread = np.exp(-d2 / (2 * q.sigma ** 2))
        np.fill_diagonal(spread, 0.0)
        spread /= spread.sum(1, keepdims=True)
        # sub[i, j] = log P(key j typed | key i meant); the last row/column: keys off the layout
        sub = np.full((n + 1, n + 1), math.log(q.other_key))
        sub[:n, :n] = np.log(np.maximum(q.substitution * spread, 1e-12))
        np.fill_diagonal(sub, math.log(1 - q.substitution - q.deletion - q.insertion - q.transposition))
        self.sub = sub.astype(np.float32)
        # an inserted key: the same key twice or a neighbour of the key meant next to it
        ins = np.log(np.maximum(q.insertion * (0.5 * np.eye(n) + 0.5 * spread), 1e-12))
        self.ins = np.full((n + 1, n + 1), math.log(q.insertion * 1e-3), np.float32)
        self.ins[:n, :n] = ins
        self.neighbours = {k: [self.keys[j] for j in np.argsort(-spread[i])[:6] if spread[i, j] > 0.02]
                           for i, k in enumerate(self.keys)}

    @classmethod
    def for_script(cls, korean: bool) -> "NoiseModel":
        return _model(korean)

    def codes(self, keys, extra: dict) -> np.ndarray:
        """Key indices; a character off the layout gets an index of its own past the layout's
        (``extra``, shared by one call), which matches only itself."""
        n = len(self.keys)
        return np.array([self.index.get(k) if k in self.index else extra.setdefault(k, n + 1 + len(extra))
                         for k in keys], np.int64)

    def logp(self, typed, word, prefix: bool = False) -> float:
        return float(self.logp_many(typed, [word], prefix)[0])

    def logp_many(self, typed, words: list, prefix: bool = False) -> np.ndarray:
        """log P(typed | word) for each word (sequences of keys, or plain lower-case text), by a
        dynamic programme vectorised over the words. ``prefix``: typed is the start of each word
        (the best over the word's prefixes: what is not typed yet costs nothing)."""
        q, m = self.params, len(typed)
        if not words:
            return np.zeros(0, np.float32)
        extra: dict = {}
        t = self.codes(typed, extra)
        lens = np.array([len(w) for w in words])
        width = int(lens.max())
        n = len(self.keys)
        w = np.full((len(words), width + 2), n, np.int64)                    # (C, M+2), padded
        for r, word in enumerate(words):
            w[r, 1:len(word) + 1] = self.codes(word, extra)
        lw = np.minimum(w, n)                                                # rows of the tables
        match = float(self.sub[0, 0])
        dele, dele0 = math.log(q.deletion), math.log(q.deletion * q.first_deletion)
        trans = math.log(q.transposition)
        rows = np.arange(len(words))
        # prev[j]: the best log-probability of typed[:i] given word[:j]
        symbols = np.isin(w, [self.index[c] for c in "'-" if c in self.index])
        skip = np.where(symbols, math.log(q.symbol_deletion), dele).astype(np.float32)   # (C, M+2)
        skip[:, 1] = np.where(symbols[:, 1], skip[:, 1], dele0)
        prev = np.full((len(words), width + 1), NEG, np.float32)
        prev[:, 0] = 0.0
        for j in range(1, width + 1):
            prev[:, j] = prev[:, j - 1] + skip[:, j]
        before = None
        for i in range(1, m + 1):
            ti, lt = t[i - 1], min(t[i - 1], n)
            cur = np.full_like(prev, NEG)
            cur[:, 0] = prev[:, 0] + self.ins[lw[:, 1], lt]                      # an extra key before the first
            for j in range(1, width + 1):
                wj = w[:, j]
                sub = np.where(wj == ti, match, self.sub[lw[:, j], lt])
                best = prev[:, j - 1] + sub                                      # typed for the key meant
                best = np.maximum(best, prev[:, j] + self.ins[lw[:, j], lt])     # an extra key
                best = np.maximum(best, cur[:, j - 1] + skip[:, j])              # a key meant skipped
                if before is not None and j >= 2:
                    swapped = (w[:, j - 1] == ti) & (w[:, j] == t[i - 2]) & (w[:, j] != w[:, j - 1])
                    best = np.where(swapped, np.maximum(best, before[:, j - 2] + trans), best)
                cur[:, j] = best
            before, prev = prev, cur
        if prefix:
            mask = np.arange(width + 1)[None, :] <= lens[:, None]
            return np.where(mask, prev, NEG).max(1)
        return prev[rows, lens]

    def clean_logp(self, n: int) -> float:
        """log P(n keys typed exactly as meant)."""
        return n * float(self.sub[0, 0])


@lru_cache(maxsize=2)
def _model(korean: bool) -> NoiseModel:
    return NoiseModel(KOREAN_ROWS if korean else LATIN_ROWS)


def spell_keys(word: str, korean: bool) -> str:
    """The keys that type ``word`` on its layout, as one string: lower case (the case is scored
    apart), a Korean word's jamo keys (compound vowels split)."""
    return "".join(word_keys(word)) if korean else word.lower()


def case_logp(typed: str, word: str) -> float:
    """log P(the case typed | the word's case): a capital typed in lower case is a common slip
    (kebbie: 8% of capitals); a capital where the word has none is a deliberate choice, not a typo,
    and costs nothing here (the shown word keeps it)."""
    lost = sum(1 for a, b in zip(typed, word) if b.isupper() and a.islower())
    return lost * math.log(PARAMS.lost_capital) if lost else 0.0
