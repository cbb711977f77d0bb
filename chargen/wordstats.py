"""Word statistics for the keyboard: what ships in a checkpoint (``words.json``, the train split's
word unigram and bigram counts) and a session's cache of its own recent words, both queried as
P(word | previous word, typed prefix) with absolute discounting. Usage:

    words = WordModel.fit(chunks_of_train_text); words.save(checkpoint_dir)
    words = WordModel.load(checkpoint_dir); words.probs("Mr", "Kni", limit=8)   # {"Knightley": 0.9, ...}
    cache = WordCache(1000); cache.push("Emma"); cache.probs(None, "Em", limit=8)
"""
from __future__ import annotations

import bisect
import heapq
import itertools
import json
import re
from collections import Counter, defaultdict, deque
from pathlib import Path

from .prefix import prefix_range
from .words import is_word_char



def read_words_json(directory) -> dict | None:
    """A checkpoint's words.json as a dict (None if missing or not JSON: it only costs the blend)."""
    f = Path(directory, WordModel.FILE)
    try:
        d = json.loads(f.read_text(encoding="utf-8")) if f.exists() else None
    except (ValueError, OSError):
        return None
    return d if isinstance(d, dict) else None


MEMO_ENTRIES = 8192       # memoised word-statistics queries per model


class WordModel:
    """Word unigram + bigram counts from the training split, shipped in the checkpoint
    (``words.json``) so the keyboard can blend whole-word statistics into the character
    model's completions. Counts are pruned to keep the file small."""

    FILE = "words.json"

    def __init__(self, unigrams: dict, bigrams: dict):
        self.unigrams = Counter(unigrams)
        self.bigrams = {a: Counter(f) for a, f in bigrams.items()}
        self.sorted_words = sorted(self.unigrams)
        self._cum = [0]                      # prefix sums of counts in sorted order: O(1) range totals
        for w in self.sorted_words:
            self._cum.append(self._cum[-1] + self.unigrams[w])
        self._common = [w for w, _ in self.unigrams.most_common(200)]
        self._bi_totals: dict = {}
        self._followers: dict = {}           # previous word -> its followers, sorted (prefix slices)
        # (prev, prefix, limit) -> probs: the model never changes. A plain dict cleared when full:
        # sessions in other threads read it at the same time, and that is safe under the GIL
        self._memo: dict = {}
        self._pools: dict = {}               # (prefix, limit) -> candidate words, by unigram count

    @classmethod
    def fit(cls, chunks, max_words: int = 50_000, min_bigram: int = 2):
        word = re.compile(r"(?:[^\W_]|')+")
        uni, bi, prev, carry = Counter(), Counter(), None, ""
        for text, last in itertools.chain(((c, False) for c in chunks), [("", True)]):
            text, carry = carry + text, ""
            if not last:    # a word cut by the chunk's edge waits for the rest of it
                cut = len(text)
                while cut > 0 and is_word_char(text[cut - 1]):
                    cut -= 1
                text, carry = text[:cut], text[cut:]
            words = word.findall(text)
            uni.update(words)
            if words:
                bi.update(zip([prev] + words[:-1], words))
                prev = words[-1]
        keep = dict(uni.most_common(max_words))
        bigrams: dict[str, dict] = defaultdict(dict)
        for (a, b), n in bi.items():
            if n >= min_bigram and a in keep and b in keep:
                bigrams[a][b] = n
        return cls(keep, bigrams)

    def save(self, directory) -> None:
        Path(directory, self.FILE).write_text(json.dumps({"unigrams": self.unigrams, "bigrams": self.bigrams},
                                                         ensure_ascii=False))

    @classmethod
    def load(cls, directory):
        """The version-1 statistics of a checkpoint (unigram and bigram counts), None otherwise."""
        d = read_words_json(directory)
        if d is None or d.get("version", 1) != 1:
            return None
        try:
            return cls(d["unigrams"], d["bigrams"])
        except (KeyError, TypeError, AttributeError):
            return None            # a damaged word list only costs the blend, never the keyboard

    def prob(self, prev: str | None, word: str) -> float:
        """P(word | previous word), no prefix typed."""
        follow = self.bigrams.get(prev, {}) if prev else {}
        if prev not in self._bi_totals:
            self._bi_totals[prev] = sum(follow.values())
        return word_prob(self.unigrams, self._cum[-1], follow, self._bi_totals[prev], word)

    def probs(self, prev: str | None, prefix: str, limit: int = 20) -> dict[str, float]:
        """P(word | previous word, word extends prefix): bigram with absolute discounting,
        interpolated with the unigram, over the ``limit`` likeliest words. Memoised (the same
        previous word and prefix recur all the time); a keystroke reads only the followers of the
        previous word that extend the prefix, never all of them."""
        key = (prev, prefix, limit)
        hit = self._memo.get(key)
        if hit is not None:
            return dict(hit)
        lo, hi = prefix_range(self.sorted_words, prefix)
        uni_total = self._cum[hi] - self._cum[lo] - (self.unigrams.get(prefix, 0) if prefix else 0)
        pool = self._pools.get((prefix, limit))
        if pool is None:           # the likeliest words extending the prefix, whatever came before
            pool = self._common if not prefix else self.sorted_words[lo:hi]
            if len(pool) > 4 * limit:
                pool = heapq.nlargest(4 * limit, pool, key=self.unigrams.__getitem__)
            if len(self._pools) >= MEMO_ENTRIES:
                self._pools.clear()
            self._pools[prefix, limit] = pool
        follow = self._follow_prefix(prev, prefix) if prev else {}
        out = discounted(self.unigrams, uni_total, pool, follow, prefix, limit)
        if len(self._memo) >= MEMO_ENTRIES:
            self._memo.clear()
        self._memo[key] = out
        return dict(out)

    def _follow_prefix(self, prev: str, prefix: str) -> dict:
        """The bigram counts after ``prev`` of the words that start with ``prefix``."""
        follow = self.bigrams.get(prev)
        if not follow:
            return {}
        words = self._followers.get(prev)
        if words is None:
            words = self._followers[prev] = sorted(follow)
        lo, hi = prefix_range(words, prefix)
        return {w: follow[w] for w in words[lo:hi]}


def discounted(unigrams, uni_total: int, pool, follow: dict, prefix: str, limit: int) -> dict[str, float]:
    """Bigram counts ``follow`` (after the previous word) with absolute discounting, backing off to
    ``unigrams``; over the words in ``pool`` and ``follow`` that extend ``prefix``. ``uni_total`` is
    the unigram count of every word that extends it."""
    if uni_total <= 0:
        return {}
    seen = {w: c for w, c in follow.items() if w.startswith(prefix) and len(w) > len(prefix)}
    bi_total = sum(seen.values())
    d = 0.75
    backoff = d * len(seen) / bi_total if bi_total else 1.0
    cands = set(w for w in pool if len(w) > len(prefix)) | set(seen)
    scores = {w: (max(seen.get(w, 0) - d, 0) / bi_total if bi_total else 0.0)
              + backoff * unigrams.get(w, 0) / uni_total for w in cands}
    # ties broken by the word: a set's order changes with the process's string hashing, and the
    # suggestions must not (a cache of words seen once is all ties)
    return dict(heapq.nsmallest(limit, scores.items(), key=lambda kv: (-kv[1], kv[0])))


def word_prob(unigrams, uni_total: int, follow: dict, bi_total: int, word: str) -> float:
    """P(word | previous word) under the same estimate as :func:`discounted`, from the empty prefix."""
    if uni_total <= 0:
        return 0.0
    d = 0.75
    if not bi_total:
        return unigrams.get(word, 0) / uni_total
    return max(follow.get(word, 0) - d, 0) / bi_total + d * len(follow) / bi_total * unigrams.get(word, 0) / uni_total


class WordCache:
    """Unigram and bigram counts of the last ``size`` words of one session's text, updated one
    word at a time as the user passes word boundaries (the recent text's names and rare words)."""

    def __init__(self, size: int = 1000):
        self.size, self.words = size, deque()
        self.unigrams: Counter = Counter()
        self.bigrams: dict[str, Counter] = defaultdict(Counter)
        self.sorted_words: list[str] = []       # the distinct cached words, sorted (prefix slices)

    def push(self, word: str) -> None:
        if self.words:
            self.bigrams[self.words[-1]][word] += 1
        self.words.append(word)
        if not self.unigrams[word]:
            bisect.insort(self.sorted_words, word)
        self.unigrams[word] += 1
        if len(self.words) > self.size:                      # forget the oldest word and its bigram
            old = self.words.popleft()
            for counter, key in ((self.unigrams, old), (self.bigrams[old], self.words[0])):
                counter[key] -= 1
                if counter[key] <= 0:
                    del counter[key]
            if old not in self.unigrams:
                del self.sorted_words[bisect.bisect_left(self.sorted_words, old)]

    def prob(self, prev: str | None, word: str) -> float:
        follow = self.bigrams.get(prev, {}) if prev else {}
        return word_prob(self.unigrams, len(self.words), follow, sum(follow.values()), word)

    def joint(self, prev: str | None, prefix: str, limit: int = 20) -> dict[str, float]:
        """The ``limit`` likeliest cached words extending ``prefix`` with P(word | prev), the whole
        word's probability (not renormalised over the prefix): a part of the keyboard's mixture."""
        return joint_candidates(self, prev, prefix, limit)

    def probs(self, prev: str | None, prefix: str, limit: int = 20) -> dict[str, float]:
        """Same estimate as :meth:`WordModel.probs`, over the cached words."""
        lo, hi = prefix_range(self.sorted_words, prefix)
        pool = [w for w in self.sorted_words[lo:hi] if len(w) > len(prefix)]
        total = sum(self.unigrams[w] for w in pool) if prefix else len(self.words)
        if len(pool) > 4 * limit:
            # as WordModel.probs: a word outside the 4 * limit most frequent can only enter the
            # top `limit` through its bigram, and the bigram's words are added by `discounted`
            pool = heapq.nlargest(4 * limit, pool, key=self.unigrams.__getitem__)
        follow = self.bigrams.get(prev, {}) if prev else {}
        return discounted(self.unigrams, total, pool, follow, prefix, limit)


def joint_candidates(counts, prev: str | None, prefix: str, limit: int) -> dict[str, float]:
    """The ``limit`` likeliest words of ``counts`` (a WordCache or a user's Lexicon: ``sorted_words``,
    ``unigrams``, ``bigrams``, ``prob``) extending ``prefix``, with P(word | prev) of the whole word:
    the most frequent of them and the followers of ``prev``, scored."""
    lo, hi = prefix_range(counts.sorted_words, prefix)
    pool = heapq.nlargest(4 * limit, (w for w in counts.sorted_words[lo:hi] if w != prefix), key=counts.unigrams.__getitem__)
    follow = counts.bigrams.get(prev, {}) if prev else {}
    cands = set(pool) | {w for w in follow if w.startswith(prefix) and w != prefix}
    return dict(heapq.nsmallest(limit, ((w, counts.prob(prev, w)) for w in cands), key=lambda kv: (-kv[1], kv[0])))
