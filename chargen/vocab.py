"""The words a keyboard knows, indexed for typo-tolerant look-up: the checkpoint's word statistics
(n-gram vocabulary, or the version-1 unigrams) as the keys that type each word, with a
symmetric-delete index (a word within two edits of the keys typed shares a string of deletions
with them) and prefix slices for completions. Built once per predictor, on first use. Usage:

    vocab = Vocabulary.of(predictor)
    vocab.near("tomorow")            # indices of the words within two edits, e.g. "tomorrow"
    vocab.extending(["tomor"], 8)    # the 8 most frequent words whose keys start with "tomor"
"""
from __future__ import annotations

import heapq
import threading

import numpy as np

from .ngram import NgramModel
from .noise import spell_keys
from .prefix import prefix_range

MAX_EDITS = 2
MAX_KEYS = 24                  # longer words are indexed by their first 24 keys' deletions only
POOL_MEMO = 16384              # memoised prefix pools


def deletions(keys: str, edits: int) -> set[str]:
    """``keys`` with up to ``edits`` keys deleted (itself included)."""
    out, frontier = {keys}, {keys}
    for _ in range(edits):
        frontier = {k[:i] + k[i + 1:] for k in frontier for i in range(len(k))}
        out |= frontier
    return out


class Vocabulary:
    """Words as shown (``shown``), the key each is counted under in the statistics (``stat_keys``),
    the keys that type it (``keys``) and its count."""
    _lock = threading.Lock()

    def __init__(self, shown: list[str], stat_keys: list[str], counts: list[int], korean: bool):
        self.shown, self.stat_keys, self.counts, self.korean = shown, stat_keys, np.array(counts), korean
        self.keys = [spell_keys(w, korean) for w in shown]
        self.known = set(w.lower() for w in shown)
        self.order = sorted(range(len(shown)), key=lambda i: self.keys[i])
        self.sorted_keys = [self.keys[i] for i in self.order]
        self._hashes = self._ids = self._where = None
        self._pools: dict = {}

    @classmethod
    def of(cls, p) -> "Vocabulary":
        """The predictor's vocabulary (built on first use, then kept on the predictor)."""
        v = getattr(p, "_vocabulary", None)
        if v is None:
            with cls._lock:
                v = getattr(p, "_vocabulary", None) or cls.from_words(p)
                p._vocabulary = v
        return v

    @classmethod
    def from_words(cls, p) -> "Vocabulary":
        words = p.words
        if words is None:
            return cls([], [], [], p.korean)
        # a piece ending in an apostrophe (the n-grams count "knightley'" of a closing quote) is no word
        items = sorted(((k, n) for k, n in words.unigrams.items() if not k.endswith("'")), key=lambda kv: (-kv[1], kv[0]))
        if isinstance(words, NgramModel):
            shown = [p.shown(words.spelled(k)) for k, _ in items]
        else:
            shown = [p.shown(k) for k, _ in items]
        return cls(shown, [k for k, _ in items], [n for _, n in items], p.korean)

    def stat_key(self, word: str) -> str | None:
        """The statistics key of a word as shown (None where no vocabulary word is shown so)."""
        if self._where is None:
            self._where = {w: i for i, w in reversed(list(enumerate(self.shown)))}
        i = self._where.get(word)
        return None if i is None else self.stat_keys[i]

    def _index(self):
        if self._hashes is None:
            with self._lock:                 # one build, whichever thread asks first (see warm)
                if self._hashes is None:
                    dels = [deletions(k[:MAX_KEYS], MAX_EDITS) for k in self.keys]
                    h = np.fromiter((hash(d) for ds in dels for d in ds), np.int64)
                    ids = np.repeat(np.arange(len(dels), dtype=np.int32), [len(ds) for ds in dels])
                    order = np.argsort(h, kind="stable")
                    self._ids, self._hashes = ids[order], h[order]
        return self._hashes, self._ids

    @classmethod
    def warm(cls, p) -> None:
        """Build ``p``'s vocabulary and its index now (the web app calls this in a background thread
        when it loads a model, so the first keystroke does not pay for it: ~1-2 s for 50,000 words)."""
        cls.of(p)._index()

    def near(self, keys: str, edits: int = MAX_EDITS) -> np.ndarray:
        """Indices of the words whose keys may be within ``edits`` edits of ``keys`` (a superset:
        the decoder scores each exactly), without words far longer or shorter."""
        if not self.keys or not keys:
            return np.zeros(0, np.int64)
        hashes, ids = self._index()
        probe = np.array([hash(d) for d in deletions(keys[:MAX_KEYS], edits)], np.int64)
        lo, hi = np.searchsorted(hashes, probe, "left"), np.searchsorted(hashes, probe, "right")
        found = np.unique(np.concatenate([ids[a:b] for a, b in zip(lo, hi)] or [np.zeros(0, np.int32)]))
        lens = np.array([len(self.keys[i]) for i in found.tolist()], np.int64)
        return found[np.abs(lens - len(keys)) <= edits] if len(found) else found

    def extending(self, prefixes, limit: int) -> list[int]:
        """The ``limit`` most frequent words whose keys start with each of ``prefixes`` (together)."""
        out: set[int] = set()
        for pre in prefixes:
            pool = self._pools.get((pre, limit))
            if pool is None:
                lo, hi = prefix_range(self.sorted_keys, pre)
                pool = heapq.nsmallest(limit, self.order[lo:hi]) if hi > lo else []   # ranked by count
                if len(self._pools) >= POOL_MEMO:
                    self._pools.clear()
                self._pools[pre, limit] = pool
            out.update(pool)
        return sorted(out)
