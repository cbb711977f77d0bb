"""Word-level completion baselines: what a basic phone keyboard does, for comparison with the
keyboard engine in the keystroke simulation (``chargen.keystrokes``).

``UnigramCompleter`` offers the most frequent training words that start with the typed prefix;
``BigramCompleter`` ranks them by count after the previous word, backing off to unigram counts.
``CachedBigramCompleter`` adds a cache of the session's own recent words, as the keyboard's. All
speak the completer protocol: ``reset()``, ``type(text)``, ``suggest(n) -> [word, ...]``
(whole words extending the current one). Usage:

    c = BigramCompleter.fit(train_text); c.type("Mr. Kni"); c.suggest(3)
"""
from __future__ import annotations

import heapq
from collections import Counter, defaultdict

from .prefix import prefix_range
from .session_words import CACHE_WEIGHT, CACHE_WORDS, cache_share
from .wordstats import WordCache, WordModel
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


class CachedBigramCompleter:
    """The word-bigram baseline with the keyboard's session cache: the train split's bigram model
    (``WordModel``, absolute discounting) mixed with a cache of the session's last CACHE_WORDS words,
    the cache's share growing with the words it holds as the keyboard's does (half, once it holds
    well over CACHE_PRIOR words). What a phone keyboard that remembers recent words does."""

    def __init__(self, words: WordModel):
        self.words = words
        self.reset()

    @classmethod
    def fit(cls, text: str):
        return cls(WordModel.fit([text]))

    def reset(self):
        self.text, self.cache, self.done = "", WordCache(CACHE_WORDS), 0

    def type(self, text: str):
        self.text += text
        head = len(self.text) - len(current_word(self.text))
        if head > self.done:                   # words finished since: into the cache
            for w in words_of(self.text[self.done:head]):
                self.cache.push(w)
            self.done = head

    def suggest(self, n: int = 3) -> list[str]:
        prefix, before = current_word(self.text), previous_word(self.text)
        ranked = self.words.probs(before, prefix, limit=4 * n)
        held = len(self.cache.words)
        if held:
            mix = cache_share(CACHE_WEIGHT, held)
            cached = self.cache.probs(before, prefix, limit=4 * n)
            ranked = {w: (1 - mix) * ranked.get(w, 0.0) + mix * cached.get(w, 0.0) for w in set(ranked) | set(cached)}
        return [w for w, _ in sorted(ranked.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]
