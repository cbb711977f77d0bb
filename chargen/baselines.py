"""Word-level completion baselines: what a basic phone keyboard does, for comparison with the
keyboard engine in the keystroke simulation (``chargen.keystrokes``).

``UnigramCompleter`` offers the most frequent training words that start with the typed prefix;
``BigramCompleter`` ranks them by count after the previous word, backing off to unigram counts.
Both speak the completer protocol: ``reset()``, ``type(text)``, ``suggest(n) -> [word, ...]``
(whole words extending the current one). Usage:

    c = BigramCompleter.fit(train_text); c.type("Mr. Kni"); c.suggest(3)
"""
from __future__ import annotations

import heapq
from collections import Counter, defaultdict

from .prefix import prefix_range
from .words import current_word, previous_word, words_of


class UnigramCompleter:
    def __init__(self, counts: Counter):
        self.counts = counts
        self.sorted_words = sorted(counts)
        self._memo: dict = {}              # (prefix, n) -> ranked words
        self.reset()

    @classmethod
    def fit(cls, text: str):
        return cls(Counter(words_of(text)))

    def reset(self):
        self.text = ""

    def type(self, text: str):
        self.text += text

    def _unigram(self, prefix: str, n: int, exclude=()) -> list[str]:
        ranked = self._ranked(prefix, n + len(exclude))
        return [w for w in ranked if w not in exclude][:n]

    def _ranked(self, prefix: str, n: int) -> list[str]:
        """The n most frequent words extending ``prefix`` (memoised: prefixes recur all the time)."""
        memo = self._memo
        if (prefix, n) not in memo:
            lo, hi = prefix_range(self.sorted_words, prefix)
            cands = (w for w in self.sorted_words[lo:hi] if len(w) > len(prefix))
            memo[prefix, n] = heapq.nsmallest(n, cands, key=lambda w: (-self.counts[w], w))
        return memo[prefix, n]

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
        before = previous_word(self.text)
        nxt = self.following.get(before, Counter()) if before else Counter()
        ranked = heapq.nsmallest(n, (w for w in nxt if w.startswith(prefix) and len(w) > len(prefix)),
                                 key=lambda w: (-nxt[w], -self.counts[w], w))
        return ranked + self._unigram(prefix, n - len(ranked), exclude=set(ranked))
