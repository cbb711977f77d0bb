"""Completion: the character model's beam search blended with word statistics, and Hangul still
being composed. What a session's suggestion bar and ``complete_word`` ask for.

    P(w) = blend * P_char(w) + (1 - blend) * P_words(w | previous word, typed prefix)

P_words mixes the train split's word statistics with a cache of the session's own words, the
cache's share adapted per session by online EM. With an input method, the last Hangul character of
the word may still change (초 -> 최): completions then back up over it and must start with the
keys typed so far (``keys.word_keys``). Usage (from a session):

    candidates(session, "Knightl", n=3, min_keys=2)    # [("Knightley", 0.93), ...]
"""
from __future__ import annotations

from .completion import beam_search
from .hangul import is_hangul
from .keys import char_keys, text_jamo_keys, word_keys
from .wordstats import WordCache
from .words import current_word, previous_word, words_of

CACHE_WORDS = 1000     # the session's recent words that feed its word cache
CACHE_WEIGHT = 0.5     # the cache's starting share of the word statistics, adapted per session
CACHE_RATE = 0.02      # how fast that share follows the words typed (about the last 50 words)
CACHE_PRIOR = 20       # and it counts fully only once the cache holds well over this many words


def candidates(s, word: str, n: int, min_keys: int = 1) -> list[tuple[str, float]]:
    """Completions of ``word`` in session ``s``, most probable first: the search goes on until it has
    the n most probable of those that add at least ``min_keys`` keys."""
    word_ids = s._word_ids(word)
    if s.composing and word and s.p.token_keys is not None and is_hangul(word[-1]):
        back = len(s.p.tokenizer.encode(word[-1]))        # a jamo model's syllable: 2 or 3 ids
        typed = word_keys(word)
        # the word as typed fits too, but is no completion: one more to find, then drop it
        found = _blend(s, word, word_ids[:len(word_ids) - back], n + 1, min_keys,
                       open_keys=char_keys(word[-1]), typed_keys=typed, end=len(s.ids) - back)
        return [(w, q) for w, q in found if word_keys(w) != typed]
    return _blend(s, word, word_ids, n, min_keys)


def _blend(s, word: str, word_ids: list[int], n: int, min_keys: int = 1,
           open_keys: tuple = (), typed_keys: tuple = (), end: int | None = None) -> list[tuple[str, float]]:
    """Mix the character model's completions with word statistics:
    P(w) = blend * P_char(w) + (1 - blend) * P_words(w | previous word, typed prefix), where
    P_words is the train split's bigram model, half and half with a cache of this text's words.

    ``open_keys``: the keys of a last character still being composed, which ``word_ids`` leave
    out (they end at position ``end``); ``typed_keys``: the whole word's. Both sources then
    complete the rest of the word and keep the words whose keys start with those typed; each is
    renormalised over what it found that fits."""
    p = s.p
    before = previous_word(s.text)          # a scan back, not a pass over the whole text
    prev, key = (p.word_key(before) if before else None), p.word_key(word[:-1] if open_keys else word)
    widen = 8 if open_keys else 1              # the prefix is shorter: draw more, keep those that fit

    def fits(probs: dict) -> dict:
        if not open_keys or not probs:
            return probs
        kept = {w: q for w, q in probs.items() if word_keys(w)[:len(typed_keys)] == typed_keys}
        total, share = sum(probs.values()), sum(kept.values())
        best = sorted(kept.items(), key=lambda kv: -kv[1])[:p.pool]
        return {w: q * total / share for w, q in best} if share else {}

    def shown(probs: dict) -> dict:        # stored form (decomposed for jamo) -> display form
        return {p.shown(w): q for w, q in probs.items()} if p.jamo else probs
    word_p = fits(shown(p.words.probs(prev, key, limit=p.pool * widen))) if p.words is not None else {}
    cache = s._words.update(s.text) if p.cache else None
    cache_p = fits(shown(cache.probs(prev, key, limit=p.pool * widen))) if cache is not None else {}
    if cache_p:         # words of this very text: names and rare words recur
        n_cached = len(cache.words)                  # a cache of a few words knows little yet
        mix = s._words.weight * n_cached / (n_cached + CACHE_PRIOR) if word_p else 1.0
        word_p = {w: (1 - mix) * word_p.get(w, 0.0) + mix * cache_p.get(w, 0.0) for w in set(word_p) | set(cache_p)}
    # the likeliest word-statistics candidates are scored exactly by the character model, in the
    # same batched steps as the beam search; the rest count only if the beam finds them too
    forced = sorted(word_p, key=lambda w: (-word_p[w], w))[:p.rescore]
    end = len(s.ids) if end is None else end
    row, logits = s._states[end]
    root = s._trie.root(s._states.get(end - len(word_ids)), word_ids, row, logits)
    added0 = text_jamo_keys(p.shown("".join(p.token_texts[i] for i in word_ids))) - text_jamo_keys(word)
    char_p = beam_search(p, s._trie, root, word_ids, n, forced, min_keys, open_keys, added0)
    blend = p.blend if word_p else 1.0     # nothing to blend in: the character model alone
    scores = {w: blend * char_p.get(w, 0.0) + (1 - blend) * word_p.get(w, 0.0) for w in set(char_p) | set(word_p)}
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


class SessionWords:
    """A session's cache of its own words (the last CACHE_WORDS before the current word), pushed as
    word boundaries are passed and rebuilt after other edits, with the cache's share of the word
    statistics adapted by online EM."""

    def __init__(self, words, word_key):
        self.words = words               # the checkpoint's WordModel (or None)
        self.word_key = word_key         # a word as the statistics store it (decomposed for jamo models)
        self.text, self.cache, self.weight = None, None, CACHE_WEIGHT

    def update(self, text: str) -> WordCache:
        head = text[:len(text) - len(current_word(text))]
        done = self.text
        if done is None or not head.startswith(done):
            self.cache, done, self.weight = WordCache(CACHE_WORDS), "", CACHE_WEIGHT
            head_words = words_of(head)[-CACHE_WORDS:]
        elif len(head) == len(done):
            return self.cache                    # no word boundary passed since: nothing to push
        else:
            head_words = words_of(head[len(done):])
        for w in map(self.word_key, head_words):
            self._push(w)
        self.text = head
        return self.cache

    def _push(self, w: str) -> None:
        cache, words = self.cache, self.words
        if words is not None and cache.words:
            # Online EM for the cache's share: how much better did it predict this word than the
            # train split's statistics? Recurring names push it up; unrelated texts (a stream of
            # separate reviews) pull it down.
            prev = cache.words[-1]
            pc, pt = cache.prob(prev, w), words.prob(prev, w)
            lam = self.weight
            if pc + pt > 0:
                r = lam * pc / (lam * pc + (1 - lam) * pt)
                self.weight = min(0.9, max(0.05, lam + CACHE_RATE * (r - lam)))
        cache.push(w)
