"""Word-level completion baselines: what a basic phone keyboard does, for comparison.

``UnigramCompleter`` offers the most frequent training words that start with the typed prefix;
``BigramCompleter`` ranks them by count after the previous word, backing off to unigram counts.
Both speak the same small protocol as the model engine in ``evaluate``: ``reset()``,
``type(text)``, ``suggest(n) -> [word, ...]`` (whole words extending the current one). Usage:

    c = BigramCompleter.fit(train_text); c.type("Mr. Kni"); c.suggest(3)
"""
from __future__ import annotations

import bisect
from collections import Counter, defaultdict

from .predictor import current_word, is_word_char


def words_of(text: str) -> list[str]:
    """Maximal runs of word characters, in order."""
    out, start = [], None
    for i, c in enumerate(text):
        if is_word_char(c):
            if start is None:
                start = i
        elif start is not None:
            out.append(text[start:i])
            start = None
    if start is not None:
        out.append(text[start:])
    return out


class UnigramCompleter:
    def __init__(self, counts: Counter):
        self.counts = counts
        self.sorted_words = sorted(counts)
        self.reset()

    @classmethod
    def fit(cls, text: str):
        return cls(Counter(words_of(text)))

    def reset(self):
        self.text = ""

    def type(self, text: str):
        self.text += text

    def _with_prefix(self, prefix: str) -> list[str]:
        lo = bisect.bisect_left(self.sorted_words, prefix)
        hi = bisect.bisect_left(self.sorted_words, prefix + "\U0010ffff")
        return [w for w in self.sorted_words[lo:hi] if len(w) > len(prefix)]

    def _unigram(self, prefix: str, n: int, exclude=()) -> list[str]:
        cands = [w for w in self._with_prefix(prefix) if w not in exclude]
        return sorted(cands, key=lambda w: (-self.counts[w], w))[:n]

    def suggest(self, n: int = 3) -> list[str]:
        return self._unigram(current_word(self.text), n)


class BigramCompleter(UnigramCompleter):
    def __init__(self, counts: Counter, following: dict):
        self.following = following
        super().__init__(counts)

    @classmethod
    def fit(cls, text: str):
        words = words_of(text)
        following: dict[str, Counter] = defaultdict(Counter)
        for a, b in zip(words, words[1:]):
            following[a][b] += 1
        return cls(Counter(words), following)

    def suggest(self, n: int = 3) -> list[str]:
        prefix = current_word(self.text)
        before = words_of(self.text[:len(self.text) - len(prefix)])
        nxt = self.following.get(before[-1], Counter()) if before else Counter()
        ranked = sorted((w for w in nxt if w.startswith(prefix) and len(w) > len(prefix)),
                        key=lambda w: (-nxt[w], -self.counts[w], w))[:n]
        return ranked + self._unigram(prefix, n - len(ranked), exclude=set(ranked))
