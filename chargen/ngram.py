"""Word n-grams for the keyboard: an interpolated Kneser-Ney trigram model of the train split's
words, case-folded (each word's usual spelling kept for display), pruned to a memory cap, saved in
a checkpoint's ``words.json`` (version 2) with the mixture weights the keyboard starts from.

Kneser-Ney (Chen & Goodman's interpolated form): the top order discounts its raw counts by D and
gives the D-mass to the next order down, whose counts are *continuation* counts (in how many
contexts a word was seen, not how often), down to the continuation unigram. Every level is
normalised over the entries it keeps, so each context's distribution sums to one over the
vocabulary after pruning too. Usage:

    ngram = NgramModel.fit(chunks_of_text); ngram.save(checkpoint_dir)
    ngram.prob("mr", "knightley", "was")            # P(was | mr knightley)
    ngram.candidates("mr", "knightley", "w", 8)     # {"was": 0.41, ...} over words extending "w"
"""
from __future__ import annotations

import heapq
import itertools
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

from .prefix import prefix_range
from .wordstats import WordModel, read_words_json
from .words import is_word_char

FILE, VERSION = "words.json", 2
MEMO_ENTRIES = 8192                 # memoised candidate queries per model
_WORD = re.compile(r"(?:[^\W_]|')+")


def fold(word: str) -> str:
    """The key a word is counted under: case-folded, so a sentence-start "The" counts as "the"."""
    return word.lower()


class NgramModel:
    """Interpolated Kneser-Ney up to trigrams over a vocabulary of case-folded words."""

    def __init__(self, tables: dict, mixture=None):
        self.unigrams: dict = tables["unigrams"]              # raw counts (the top order with no context)
        self.cont1: dict = tables["cont1"]                    # N1+(. w): distinct words seen before w
        self.bigrams: dict = tables["bigrams"]                # v -> {w: count} (the top order after one word)
        self.cont2: dict = tables["cont2"]                    # v -> {w: N1+(. v w)}
        self.trigrams: dict = tables["trigrams"]              # "u\tv" -> {w: count}
        self.surface: dict = tables.get("surface", {})        # key -> usual spelling, where it differs
        self.discounts: dict = tables["discounts"]            # "3", "2" (raw counts), "2c" (continuation) -> D
        self.mixture = list(mixture) if mixture else None     # [char, ngram, cache] weights to start from
        self.sorted_words = sorted(self.unigrams)
        self._uni_total = sum(self.unigrams.values())
        self._cont1_total = sum(self.cont1.values())
        self._totals: dict = {}          # (table id, context) -> (sum of counts, entries)
        self._followers: dict = {}       # (table id, context) -> its words, sorted (prefix slices)
        self._pools: dict = {}           # (prefix, n) -> the n words extending it with the largest cont1
        self._memo: dict = {}            # (u, v, prefix, limit) -> candidates (the model never changes)

    # ---------------------------------------------------------------- probabilities
    def p1(self, w: str) -> float:
        """The continuation unigram: in how many contexts w was seen."""
        if self._cont1_total:
            return self.cont1.get(w, 0) / self._cont1_total
        return self.unigrams.get(w, 0) / max(1, self._uni_total)

    def _level(self, table: dict, key, tid: str, d: float, w: str, lower: float) -> float:
        follow = table.get(key)
        if not follow:
            return lower
        total = self._totals.get((tid, key))
        if total is None:
            total = self._totals[tid, key] = (sum(follow.values()), len(follow))
        t, n = total
        return max(follow.get(w, 0) - d, 0.0) / t + d * n / t * lower

    def prob(self, u: str | None, v: str | None, w: str) -> float:
        """P(w | u v) for case-folded words; u or v None where the text has fewer words before."""
        d = self.discounts
        if v is None:                                          # nothing before: the raw unigram
            return self.unigrams.get(w, 0) / max(1, self._uni_total)
        if u is None:                                          # one word before: raw bigram on top
            return self._level(self.bigrams, v, "2", d["2"], w, self.p1(w))
        lower = self._level(self.cont2, v, "2c", d["2c"], w, self.p1(w))
        return self._level(self.trigrams, f"{u}\t{v}", "3", d["3"], w, lower)

    def candidates(self, u: str | None, v: str | None, prefix: str, limit: int = 8) -> dict[str, float]:
        """The ``limit`` likeliest words that extend ``prefix`` (case-folded) after u v, with their
        probabilities P(w | u v) (not renormalised over the prefix). Exact: any word outside the
        followers of u v and v backs off to the continuation unigram, and the pool holds the
        likeliest of those."""
        key = (u, v, prefix, limit)
        hit = self._memo.get(key)
        if hit is not None:
            return dict(hit)
        cands = set(self._pool(prefix, limit))
        if v is not None:
            # after one word the raw bigrams' followers, after two the continuation counts' (memoised apart)
            follow = self._in_range(self.bigrams, v, "f2", prefix) if u is None else self._in_range(self.cont2, v, "f2c", prefix)
            cands.update(follow)
            if u is not None:
                cands.update(self._in_range(self.trigrams, f"{u}\t{v}", "f3", prefix))
        cands.discard(prefix)                                   # a completion adds something
        out = dict(heapq.nsmallest(limit, ((w, self.prob(u, v, w)) for w in cands), key=lambda kv: (-kv[1], kv[0])))
        if len(self._memo) >= MEMO_ENTRIES:
            self._memo.clear()
        self._memo[key] = out
        return dict(out)

    def _in_range(self, table: dict, key, tid: str, prefix: str) -> list[str]:
        follow = table.get(key)
        if not follow:
            return []
        words = self._followers.get((tid, key))
        if words is None:
            words = self._followers[tid, key] = sorted(follow)
        lo, hi = prefix_range(words, prefix)
        return words[lo:hi]

    def _pool(self, prefix: str, n: int) -> list[str]:
        pool = self._pools.get((prefix, n))
        if pool is None:
            lo, hi = prefix_range(self.sorted_words, prefix)
            pool = heapq.nlargest(4 * n, self.sorted_words[lo:hi], key=lambda w: (self.cont1.get(w, 0), self.unigrams[w]))
            if len(self._pools) >= MEMO_ENTRIES:
                self._pools.clear()
            self._pools[prefix, n] = pool
        return pool

    def spelled(self, key: str) -> str:
        """A case-folded word as it is usually written ("emma" -> "Emma")."""
        return self.surface.get(key, key)

    # ---------------------------------------------------------------- fitting and storage
    @classmethod
    def fit(cls, chunks, max_words: int = 50_000, min_count: int = 1, max_bigrams: int = 100_000,
            max_trigrams: int = 100_000, track: int = 2_000_000) -> "NgramModel":
        """Count the words of ``chunks`` (an iterable of text pieces: a word cut at a piece's edge is
        joined). Memory stays bounded: past ``track`` distinct trigrams, those seen once are dropped
        (lossy counting: a trigram seen twice in a row of that many keeps its count); the saved
        model keeps the ``max_words`` most frequent words, and the ``max_bigrams`` most frequent bigrams
        (with their continuation counts) and ``max_trigrams`` most frequent trigrams seen ``min_count``
        times or more. A cap in entries, not a floor on counts: a small corpus (a user's own) keeps
        what it saw once, which a floor of two would drop (on the Devil's Dictionary that lifted the
        keyboard's KSR@3 by 3%), and a large one keeps its most frequent."""
        uni, bi, tri, spellings = Counter(), Counter(), Counter(), defaultdict(Counter)
        prev = (None, None)
        for words in _word_runs(chunks):
            keys = [fold(w) for w in words]
            for w, k in zip(words, keys):
                if w != k or k in spellings:
                    spellings[k][w] += 1
            uni.update(keys)
            seq = list(prev) + keys
            bi.update(zip(seq[1:-1], seq[2:]))
            tri.update(zip(seq[:-2], seq[1:-1], seq[2:]))
            prev = tuple(seq[-2:])
            if len(tri) > track:
                tri = Counter({k: c for k, c in tri.items() if c > 1})
        return cls(_tables(uni, bi, tri, spellings, max_words, min_count, max_bigrams, max_trigrams))

    def save(self, directory) -> None:
        tables = {"unigrams": self.unigrams, "cont1": self.cont1, "bigrams": self.bigrams, "cont2": self.cont2,
                  "trigrams": self.trigrams, "surface": self.surface, "discounts": self.discounts}
        Path(directory, FILE).write_text(json.dumps({"version": VERSION, "kind": "kneser-ney", "order": 3,
                                                     "mixture": self.mixture, **tables}, ensure_ascii=False))

    @classmethod
    def from_json(cls, data: dict) -> "NgramModel":
        return cls(data, data.get("mixture"))


def load_words(directory):
    """A checkpoint's word statistics: an NgramModel (words.json version 2), the version-1 bigram
    WordModel of older checkpoints (they keep their old blend), or None."""
    data = read_words_json(directory)
    if data is None:
        return None
    if data.get("version") == VERSION:
        try:
            return NgramModel.from_json(data)
        except (KeyError, TypeError, AttributeError):
            return None
    return WordModel.load(directory)


def _word_runs(chunks):
    """The words of each text piece (a word cut at the piece's edge waits for the rest of it)."""
    carry = ""
    for text, last in itertools.chain(((c, False) for c in chunks), [("", True)]):
        text, carry = carry + text, ""
        if not last:
            cut = len(text)
            while cut > 0 and is_word_char(text[cut - 1]):
                cut -= 1
            text, carry = text[:cut], text[cut:]
        words = _WORD.findall(text)
        if words:
            yield words


def _discount(counts) -> float:
    """Ney's estimate D = n1 / (n1 + 2 n2) from how many entries were seen once and twice."""
    freq = Counter(c for c in counts if c <= 2)
    n1, n2 = freq[1], freq[2]
    return min(0.9, max(0.1, n1 / (n1 + 2 * n2))) if n1 + n2 else 0.5


def _tables(uni, bi, tri, spellings, max_words, min_count, max_bigrams, max_trigrams) -> dict:
    keep = dict(uni.most_common(max_words))
    cont1, cont2 = Counter(), Counter()
    for (a, b) in bi:
        if b in keep and a is not None:
            cont1[b] += 1
    for (a, b, c) in tri:
        if a is not None and b in keep and c in keep:
            cont2[b, c] += 1
    bigrams, cont2_t, trigrams = defaultdict(dict), defaultdict(dict), defaultdict(dict)
    kept_bi = heapq.nlargest(max_bigrams, ((k, n) for k, n in bi.items() if n >= min_count and k[0] in keep
                                           and k[1] in keep), key=lambda kv: (kv[1], kv[0]))
    for (a, b), n in kept_bi:
        bigrams[a][b] = n
    for (b, c), n in cont2.items():          # pruned as the bigrams are: the file stays about their size
        if c in bigrams.get(b, ()):
            cont2_t[b][c] = n
    for (a, b, c), n in heapq.nlargest(max_trigrams, ((k, n) for k, n in tri.items() if n >= min_count
                                                       and k[0] in keep and k[1] in keep and k[2] in keep),
                                        key=lambda kv: (kv[1], kv[0])):
        trigrams[f"{a}\t{b}"][c] = n
    surface = {k: s.most_common(1)[0][0] for k, s in spellings.items() if k in keep and s.most_common(1)[0][0] != k}
    discounts = {"3": _discount(tri.values()), "2": _discount(bi.values()), "2c": _discount(cont2.values())}
    return {"unigrams": keep, "cont1": dict(cont1), "bigrams": dict(bigrams), "cont2": dict(cont2_t),
            "trigrams": dict(trigrams), "surface": surface, "discounts": discounts}
