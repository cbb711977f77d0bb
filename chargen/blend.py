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

from functools import partial

from .completion import beam_search
from .hangul import is_hangul
from .keys import char_keys, text_jamo_keys, word_keys
from .lexicon import SHARE as LEXICON_SHARE
from .ngram import NgramModel, fold
from .session_words import cache_share
from .words import previous_word, previous_words, sentence_start


def candidates(s, word: str, n: int, min_keys: int = 1, absolute: bool = False) -> list[tuple[str, float]]:
    """Completions of ``word`` in session ``s``, most probable first: the search goes on until it has
    the n most probable of those that add at least ``min_keys`` keys. ``absolute``: probabilities of
    the whole word in its context (the typed prefix included), not relative to the candidates."""
    word_ids = s._word_ids(word)
    if isinstance(s.p.words, NgramModel):
        combine = partial(_mixed, absolute=absolute)
    elif absolute:        # P(word | prefix typed) times the character model's P(prefix typed)
        scale = s._prefix_prob(word_ids, len(s.ids)) if s.p.subword is None else 1.0
        return [(w, q * scale) for w, q in candidates(s, word, n, min_keys)]
    else:
        combine = _blend
    if s.composing and word and s.p.token_keys is not None and is_hangul(word[-1]):
        back = len(s.p.tokenizer.encode(word[-1]))        # a jamo model's syllable: 2 or 3 ids
        typed = word_keys(word)
        # the word as typed fits too, but is no completion: one more to find, then drop it
        found = combine(s, word, word_ids[:len(word_ids) - back], n + 1, min_keys,
                        open_keys=char_keys(word[-1]), typed_keys=typed, end=len(s.ids) - back)
        return [(w, q) for w, q in found if word_keys(w) != typed]
    return combine(s, word, word_ids, n, min_keys)


def _with_lexicon(s, cache, how: str, prev, key: str, limit: int) -> dict:
    """The session cache's word probabilities (``how``: "joint" or "probs"), half and half with the
    user's lexicon when the session learns and the lexicon holds words (see chargen.lexicon)."""
    got = getattr(cache, how)(prev, key, limit)
    lex = s._words.lexicon()
    if not lex:
        return got
    more = getattr(lex, how)(prev, key, limit)
    return {w: (1 - LEXICON_SHARE) * got.get(w, 0.0) + LEXICON_SHARE * more.get(w, 0.0) for w in set(got) | set(more)}


def _fits(probs: dict, typed_keys: tuple) -> dict:
    """The words whose keys start with those typed (a character still being composed)."""
    return {w: q for w, q in probs.items() if word_keys(w)[:len(typed_keys)] == typed_keys} if typed_keys else probs


def cased(word: str, typed: str, starts_sentence: bool) -> str:
    """A word as the user would have it: the letters typed stay as typed (al -> alphabet, though the
    statistics saw Alphabet or ALPHABET more); capitalised after a typed capital or at a sentence start
    (The for "th" typed as "Th"), all capitals after two or more typed capitals; with nothing typed
    yet, a name keeps its own spelling."""
    if typed[:1].isupper() or (not typed and starts_sentence):
        word = word[:1].upper() + word[1:]
    if len(typed) > 1 and typed.isupper():
        word = word.upper()
    elif typed[:1].islower() and word[:len(typed)].lower() == typed.lower():
        rest = word[len(typed):]
        word = typed + (rest.lower() if word.isupper() else rest)
    return word


def _shown_sum(pairs) -> dict:
    """(word as shown, probability) pairs summed by the shown word: spellings that show alike are one
    suggestion (Alphabet and alphabet, after "al")."""
    out: dict = {}
    for w, q in pairs:
        out[w] = out.get(w, 0.0) + q
    return out


def _mixed(s, word: str, word_ids: list[int], n: int, min_keys: int = 1,
           open_keys: tuple = (), typed_keys: tuple = (), end: int | None = None,
           absolute: bool = False) -> list[tuple[str, float]]:
    """The learned mixture of whole-word probabilities from the word's start (see chargen.mixture):
    l_char P_char(typed) P_char(rest | typed) + l_ngram P_ngram(w | u v) + l_cache P_cache(w | v),
    with the session's weights. Each part proposes its likeliest words; the likeliest word-side
    candidates are scored exactly by the character model in the beam's batched steps. A part left
    out of the predictor (``char=False``, ``cache=False``) weighs nothing. Probabilities are
    returned relative to the candidates' total (``absolute``: as they are)."""
    p = s.p
    cache = s._words.update(s.text)          # the words typed so far move the weights first
    weights = s._words.shares(p)
    key = p.word_key(word[:-1] if open_keys else word)
    limit = p.pool * (8 if open_keys else 1)     # a shorter prefix: draw more, keep those that fit
    u, v = (fold(p.word_key(w)) if w else None for w in previous_words(s.text))
    starts = sentence_start(s.text)

    def shown(w: str) -> str:
        return cased(p.shown(w), word, starts)
    ngram_p = _fits(_shown_sum((shown(p.words.spelled(k)), q) for k, q in p.words.candidates(u, v, fold(key), limit).items()),
                    typed_keys)
    before = previous_word(s.text)
    prev = p.word_key(before) if before else None
    cache_p = _fits(_shown_sum((shown(w), q) for w, q in _with_lexicon(s, cache, "joint", prev, key, limit).items()),
                    typed_keys) if p.cache else {}
    word_side = {w: weights[1] * ngram_p.get(w, 0.0) + weights[2] * cache_p.get(w, 0.0) for w in set(ngram_p) | set(cache_p)}
    char_p, typed_p = {}, 0.0
    if p.char:
        forced = sorted(word_side, key=lambda w: (-word_side[w], w))[:p.rescore]
        end = len(s.ids) if end is None else end
        row, logits = s._states[end]
        root = s._trie.root(s._states.get(end - len(word_ids)), word_ids, row, logits)
        added0 = text_jamo_keys(p.shown("".join(p.token_texts[i] for i in word_ids))) - text_jamo_keys(word)
        char_p = beam_search(p, s._trie, root, word_ids, n, forced, min_keys, open_keys, added0, renormalise=False,
                             stepper=s.stepper)
        typed_p = s._prefix_prob(word_ids, end)
    scores = {w: weights[0] * typed_p * char_p.get(w, 0.0) + word_side.get(w, 0.0) for w in set(char_p) | set(word_side)}
    total = 1.0 if absolute else sum(scores.values()) or 1.0
    return sorted(((w, q / total) for w, q in scores.items()), key=lambda kv: (-kv[1], kv[0]))


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
    cache_p = fits(shown(_with_lexicon(s, cache, "probs", prev, key, p.pool * widen))) if cache is not None else {}
    if cache_p:         # words of this very text: names and rare words recur
        mix = cache_share(s._words.weight, len(cache.words)) if word_p else 1.0
        word_p = {w: (1 - mix) * word_p.get(w, 0.0) + mix * cache_p.get(w, 0.0) for w in set(word_p) | set(cache_p)}
    # the likeliest word-statistics candidates are scored exactly by the character model, in the
    # same batched steps as the beam search; the rest count only if the beam finds them too
    forced = sorted(word_p, key=lambda w: (-word_p[w], w))[:p.rescore]
    end = len(s.ids) if end is None else end
    row, logits = s._states[end]
    root = s._trie.root(s._states.get(end - len(word_ids)), word_ids, row, logits)
    added0 = text_jamo_keys(p.shown("".join(p.token_texts[i] for i in word_ids))) - text_jamo_keys(word)
    char_p = beam_search(p, s._trie, root, word_ids, n, forced, min_keys, open_keys, added0, stepper=s.stepper)
    blend = p.blend if word_p else 1.0     # nothing to blend in: the character model alone
    scores = {w: blend * char_p.get(w, 0.0) + (1 - blend) * word_p.get(w, 0.0) for w in set(char_p) | set(word_p)}
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))

