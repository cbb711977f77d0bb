"""The user's own vocabulary: counts of the words this user typed (only text the keyboard learned,
never text deleted before it was learned) and of the word pairs, capped in size, kept in a profile
when the user asks. Completions read it like the session's word cache, as P(word | previous word,
typed prefix) with absolute discounting. Usage:

    lex = Lexicon(); lex.add(None, "Zorblax"); lex.add("Zorblax", "rules")
    lex.joint("Zorblax", "ru", limit=8)        # {"rules": 0.6...}
    lex.remove("Zorblax", "rules")             # an edit took the learned text back
"""
from __future__ import annotations

import bisect
import heapq
from collections import Counter, defaultdict

from .prefix import prefix_range
from .wordstats import discounted, joint_candidates, word_prob

MAX_WORDS = 20_000       # distinct words kept (about 400 KB); past it the rarest tenth goes
MAX_PAIRS = 50_000       # word pairs kept
SHARE = 0.5              # a learning session's own-words part: half its word cache, half this lexicon


class Lexicon:
    def __init__(self, unigrams: dict | None = None, bigrams: dict | None = None):
        self.unigrams: Counter = Counter({w: int(n) for w, n in (unigrams or {}).items() if int(n) > 0})
        self.bigrams: dict[str, Counter] = defaultdict(Counter)
        for a, follow in (bigrams or {}).items():
            self.bigrams[a].update({b: int(n) for b, n in follow.items() if int(n) > 0})
        self.total = sum(self.unigrams.values())
        self.pairs = sum(map(len, self.bigrams.values()))
        self.sorted_words = sorted(self.unigrams)

    def __len__(self) -> int:
        return len(self.unigrams)

    @property
    def words(self) -> Counter:
        return self.unigrams

    # ---------------------------------------------------------------- learning
    def add(self, prev: str | None, word: str) -> None:
        if not self.unigrams[word]:
            bisect.insort(self.sorted_words, word)
        self.unigrams[word] += 1
        self.total += 1
        if prev is not None:
            self.pairs += not self.bigrams[prev][word]
            self.bigrams[prev][word] += 1
        if len(self.unigrams) > MAX_WORDS or self.pairs > MAX_PAIRS:
            self._prune()

    def remove(self, prev: str | None, word: str) -> None:
        """Undo one ``add`` (a rolled-back segment's words)."""
        if self.unigrams.get(word, 0) > 0:
            self.unigrams[word] -= 1
            self.total -= 1
            if not self.unigrams[word]:
                del self.unigrams[word]
                del self.sorted_words[bisect.bisect_left(self.sorted_words, word)]
        follow = self.bigrams.get(prev) if prev is not None else None
        if follow and follow.get(word, 0) > 0:
            follow[word] -= 1
            if not follow[word]:
                del follow[word]
                self.pairs -= 1

    def _prune(self) -> None:
        """Drop the rarest tenth of the words (and every pair that touches them), then the rarest pairs."""
        cut = max(1, len(self.unigrams) // 10) if len(self.unigrams) > MAX_WORDS else 0
        for w, _ in heapq.nsmallest(cut, self.unigrams.items(), key=lambda kv: kv[1]):
            self.total -= self.unigrams.pop(w)
            self.bigrams.pop(w, None)
        gone = set(self.sorted_words) - set(self.unigrams)
        self.sorted_words = sorted(self.unigrams)
        pairs = [(n, a, b) for a, f in self.bigrams.items() for b, n in f.items() if b not in gone]
        keep = heapq.nlargest(int(MAX_PAIRS * 0.9), pairs) if len(pairs) > MAX_PAIRS else pairs
        self.bigrams = defaultdict(Counter)
        for n, a, b in keep:
            self.bigrams[a][b] = n
        self.pairs = len(keep)

    # ---------------------------------------------------------------- queries (as WordCache's)
    def prob(self, prev: str | None, word: str) -> float:
        follow = self.bigrams.get(prev, {}) if prev else {}
        return word_prob(self.unigrams, self.total, follow, sum(follow.values()), word)

    def joint(self, prev: str | None, prefix: str, limit: int = 20) -> dict[str, float]:
        """The ``limit`` likeliest words extending ``prefix``, with P(word | prev) of the whole word."""
        return joint_candidates(self, prev, prefix, limit)

    def probs(self, prev: str | None, prefix: str, limit: int = 20) -> dict[str, float]:
        """P(word | prev, word extends prefix), renormalised over the prefix (as WordCache.probs)."""
        lo, hi = prefix_range(self.sorted_words, prefix)
        pool = [w for w in self.sorted_words[lo:hi] if len(w) > len(prefix)]
        total = sum(self.unigrams[w] for w in pool) if prefix else self.total
        if len(pool) > 4 * limit:
            pool = heapq.nlargest(4 * limit, pool, key=self.unigrams.__getitem__)
        follow = self.bigrams.get(prev, {}) if prev else {}
        return discounted(self.unigrams, total, pool, follow, prefix, limit)

    # ---------------------------------------------------------------- profile
    def to_json(self) -> dict:
        return {"unigrams": dict(self.unigrams), "bigrams": {a: dict(f) for a, f in self.bigrams.items() if f}}

    @classmethod
    def from_json(cls, d: dict) -> "Lexicon":
        if not isinstance(d, dict) or not isinstance(d.get("unigrams", {}), dict) or not isinstance(d.get("bigrams", {}), dict):
            raise ValueError("the lexicon is not {unigrams: {...}, bigrams: {...}}")
        return cls(d.get("unigrams"), d.get("bigrams"))

    def nbytes(self) -> int:
        """About what the counts hold (Python objects: ~100 bytes per word or pair)."""
        return 100 * (len(self.unigrams) + self.pairs)
