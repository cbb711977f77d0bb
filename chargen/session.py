"""One typist's keyboard session: the text, the model state after every recent prefix, and the
queries a keyboard asks (next characters, completions, the suggestion bar).

Typing one character costs one model step; Backspace costs none; an arbitrary edit recomputes
only what follows the longest unchanged prefix. Completions blend the character model's beam search
(``completion``) with word statistics: the train split's and a cache of this session's own words.
Usage (sessions come from a :class:`~chargen.predictor.Predictor`):

    s = predictor.session()
    s.type("Mr. Knightl"); s.next_chars(5); s.complete_word(3); s.suggest(3)
    s.backspace(); s.set_text("any edited text")
"""
from __future__ import annotations

import numpy as np
import torch

from .completion import Trie, beam_search
from .faststep import pack_state, unpack_state
from .keys import char_keys, keys, word_keys
from .tokenizer import is_hangul
from .wordstats import WordCache
from .words import current_word, previous_word, words_of

KEEP_RECENT = 256      # states kept for every one of the last N positions (backspace, edits)
KEEP_EVERY = 32        # and for every 32nd position before that,
KEEP_SPARSE = 256      # the last 256 of those (older edits recompute from the start)
CACHE_WORDS = 1000     # the session's recent words that feed its word cache
CACHE_WEIGHT = 0.5     # the cache's starting share of the word statistics, adapted per session
CACHE_RATE = 0.02      # how fast that share follows the words typed (about the last 50 words)
CACHE_PRIOR = 20       # and it counts fully only once the cache holds well over this many words


class Session:
    """What one user has typed, with the model state after every recent prefix cached."""

    def __init__(self, predictor):
        self.p = predictor
        self.text = ""
        self.ids: list[int] = []
        # position -> (state row (S,), next-token logits (V,)), numpy float32
        self._states = {0: (predictor.start_row, predictor.start_logits)}
        self.steps = 0                                                       # model steps taken (for tests)
        self.remainder = ""          # typed text past the model state (subword token healing only)
        self.composing = predictor.composing   # a last Hangul character may still change (IME)
        self._trie = Trie()          # completion trie of the current word
        self._cache_text = None      # text whose words the word cache holds (see _cache)
        self._cache_model, self._cache_weight = None, CACHE_WEIGHT

    # ---------------------------------------------------------------- editing
    def type(self, text: str) -> "Session":
        """Append typed text: one model step per token."""
        return self._extend(text, self.p.tokenizer.encode(text))

    def backspace(self, n: int = 1) -> "Session":
        return self.set_text(self.text[:max(0, len(self.text) - n)])

    def set_text(self, text: str) -> "Session":
        """An arbitrary edit: keep the longest cached prefix, recompute only the rest. Typing on
        (the old text is a prefix of the new) and edits near the end encode only the changed tail,
        however long the text."""
        old = self.text
        same = common_prefix(old, text)
        # char and jamo ids are per character: the ids of old[:same] are the old ids less old[same:]'s
        keep = len(self.ids) - len(self.p.tokenizer.encode(old[same:]))
        if same == len(old) and keep == len(self.ids):
            return self._extend(text[same:], self.p.tokenizer.encode(text[same:]))
        self._set_ids(self.ids[:keep] + self.p.tokenizer.encode(text[same:]))
        self.text = text
        return self

    def _set_ids(self, new: list[int]) -> None:
        same = common_prefix(self.ids, new)
        pos = max(k for k in self._states if k <= same)
        self.ids = self.ids[:pos]
        self._states = {k: v for k, v in self._states.items() if k <= pos}
        self._extend("", new[pos:])

    def accept(self, suggestion: str) -> "Session":
        """Replace the current word by ``suggestion`` (a completion from ``complete_word``)."""
        word = current_word(self.text)
        if suggestion.startswith(word):
            return self.type(suggestion[len(word):])
        return self.set_text(self.text[:len(self.text) - len(word)] + suggestion)

    def _extend(self, text, ids):
        row, logits = self._states[len(self.ids)]
        p, old_n = self.p, len(self.ids)
        if len(ids) > KEEP_RECENT + KEEP_EVERY:
            # A long paste: run the bulk through the whole network in chunks (far faster than
            # token steps), keeping the states at chunk boundaries that the cache retains.
            bulk, ids = ids[:len(ids) - KEEP_RECENT], ids[len(ids) - KEEP_RECENT:]
            # states before this position would be pruned anyway: run that part in long chunks
            kept_from = len(self.ids) + len(bulk) - KEEP_SPARSE * KEEP_EVERY
            state, at = p.unpack(row[None]), 0
            with torch.no_grad():
                while at < len(bulk):
                    pos = len(self.ids)
                    take = KEEP_EVERY - pos % KEEP_EVERY if pos >= kept_from - KEEP_EVERY else \
                        max(1, min(4096, kept_from - pos))
                    chunk = bulk[at:at + take]
                    at += len(chunk)
                    out, state = p.model(torch.tensor([chunk]), state)
                    self.ids.extend(chunk)
                    self.steps += len(chunk)
                    row, logits = pack_state(state, p.cell)[0], out[0, -1].float().numpy()
                    self._states[len(self.ids)] = (row, logits)
        for i in ids:
            out, rows = p.stepper.step_rows([i], row[None])
            row, logits = rows[0], out[0]
            self.ids.append(i)
            self.steps += 1
            self._states[len(self.ids)] = (row, logits)
        self._prune(old_n)
        self.text += text
        return self

    def _prune(self, old_n: int) -> None:
        """Bounded memory per session: the states of the last KEEP_RECENT positions, and of every
        KEEP_EVERY-th of the KEEP_SPARSE * KEEP_EVERY positions before them. Only the positions that
        left a window since ``old_n`` are looked at: one or two per typed character."""
        n = len(self.ids)
        for q in range(max(1, old_n - KEEP_RECENT), n - KEEP_RECENT):
            if q % KEEP_EVERY:
                self._states.pop(q, None)
        span = KEEP_RECENT + KEEP_SPARSE * KEEP_EVERY
        for q in range(max(1, old_n - span), n - span):
            if q % KEEP_EVERY == 0:
                self._states.pop(q, None)

    def fork(self) -> "Session":
        """A new session holding the same text and cached states (the arrays are shared, never
        changed in place), to go on independently: typing into one never touches the other."""
        twin = type(self)(self.p)
        twin.text, twin.ids, twin.remainder, twin.composing = self.text, list(self.ids), self.remainder, self.composing
        twin._states = dict(self._states)
        return twin

    def memory_bytes(self) -> int:
        """What the session holds in arrays: its cached states and its completion trie (each entry a
        state row and a row of V logits, float32)."""
        return (len(self._states) + len(self._trie.nodes)) * 4 * (self.p.stepper.state_size + self.p.vocab_size)

    # ---------------------------------------------------------------- predictions
    @property
    def logits(self) -> np.ndarray:
        return self._states[len(self.ids)][1]                       # (V,)

    @property
    def row(self) -> np.ndarray:
        return self._states[len(self.ids)][0]                       # (S,)

    @property
    def state(self):
        """The model state after the text, as the module takes it."""
        return self.p.unpack(self.row[None])

    def next_token_probs(self) -> torch.Tensor:
        return torch.from_numpy(_softmax(self.logits))

    def next_chars(self, k: int = 5) -> list[tuple[str, float]]:
        """The k most probable next characters (jamo for a jamo model), ranked."""
        probs = _softmax(self.logits)
        probs[self.p.tokenizer.unk_id] = 0.0
        return _top(probs, k, self.p.token_texts)

    def complete_word(self, n: int = 3) -> list[tuple[str, float]]:
        """The n most probable distinct completions of the current word: (whole word, probability).
        The probability blends the character model with word statistics (see ``_blend``)."""
        return self._candidates(current_word(self.text), n)[:n]

    def next_words(self, n: int = 3) -> list[tuple[str, float]]:
        """The n most probable next words (after a space or punctuation)."""
        return self.complete_word(n) if not current_word(self.text) else []

    def suggest(self, n: int = 3) -> list[str]:
        """The suggestion bar: the n most probable completions that add at least two keys. A
        completion that adds one key saves nothing (tapping it costs as much as typing the key),
        so that slot goes to the next candidate. Keys count jamo for Hangul (see ``keys.key_cost``)."""
        word = current_word(self.text)
        typed = keys(word)
        return [w for w, _ in self._candidates(word, n, min_keys=2) if keys(w) - typed >= 2][:n]

    def _word_ids(self, word: str) -> list[int]:
        return self.ids[len(self.ids) - len(self.p.tokenizer.encode(word)):] if word else []

    def _candidates(self, word: str, n: int, min_keys: int = 1) -> list[tuple[str, float]]:
        """Completions of ``word``, most probable first: the search goes on until it has the n most
        probable of those that add at least ``min_keys`` keys."""
        word_ids = self._word_ids(word)
        if self.composing and word and self.p.token_keys is not None and is_hangul(word[-1]):
            back = len(self.p.tokenizer.encode(word[-1]))        # a jamo model's syllable: 2 or 3 ids
            typed = word_keys(word)
            # the word as typed fits too, but is no completion: one more to find, then drop it
            found = self._blend(word, word_ids[:len(word_ids) - back], n + 1, min_keys,
                                open_keys=char_keys(word[-1]), typed_keys=typed, end=len(self.ids) - back)
            return [(w, q) for w, q in found if word_keys(w) != typed]
        return self._blend(word, word_ids, n, min_keys)

    def _blend(self, word: str, word_ids: list[int], n: int, min_keys: int = 1,
               open_keys: tuple = (), typed_keys: tuple = (), end: int | None = None) -> list[tuple[str, float]]:
        """Mix the character model's completions with word statistics:
        P(w) = blend * P_char(w) + (1 - blend) * P_words(w | previous word, typed prefix), where
        P_words is the train split's bigram model, half and half with a cache of this text's words.

        ``open_keys``: the keys of a last character still being composed, which ``word_ids`` leave
        out (they end at position ``end``); ``typed_keys``: the whole word's. Both sources then
        complete the rest of the word and keep the words whose keys start with those typed; each is
        renormalised over what it found that fits."""
        p = self.p
        before = previous_word(self.text)          # a scan back, not a pass over the whole text
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
            return {p.shown(w): q for w, q in probs.items()} if p.tokenizer.kind == "jamo" else probs
        word_p = fits(shown(p.words.probs(prev, key, limit=p.pool * widen))) if p.words is not None else {}
        cache = self._cache() if p.cache else None
        cache_p = fits(shown(cache.probs(prev, key, limit=p.pool * widen))) if cache is not None else {}
        if cache_p:         # words of this very text: names and rare words recur
            n_cached = len(cache.words)                  # a cache of a few words knows little yet
            mix = self._cache_weight * n_cached / (n_cached + CACHE_PRIOR) if word_p else 1.0
            word_p = {w: (1 - mix) * word_p.get(w, 0.0) + mix * cache_p.get(w, 0.0) for w in set(word_p) | set(cache_p)}
        # the likeliest word-statistics candidates are scored exactly by the character model, in the
        # same batched steps as the beam search; the rest count only if the beam finds them too
        forced = sorted(word_p, key=lambda w: (-word_p[w], w))[:p.rescore]
        end = len(self.ids) if end is None else end
        row, logits = self._states[end]
        root = self._trie.root(self._states.get(end - len(word_ids)), word_ids, row, logits)
        added0 = keys(p.shown("".join(p.token_texts[i] for i in word_ids))) - keys(word)
        char_p = beam_search(p, self._trie, root, word_ids, n, forced, min_keys, open_keys, added0)
        blend = p.blend if word_p else 1.0     # nothing to blend in: the character model alone
        scores = {w: blend * char_p.get(w, 0.0) + (1 - blend) * word_p.get(w, 0.0) for w in set(char_p) | set(word_p)}
        return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))

    def _cache(self):
        """The session's word cache: words of the text before the current word (the last
        CACHE_WORDS of them), pushed as word boundaries are passed; rebuilt after other edits."""
        head = self.text[:len(self.text) - len(current_word(self.text))]
        done = self._cache_text
        if done is None or not head.startswith(done):
            self._cache_model, done, self._cache_weight = WordCache(CACHE_WORDS), "", CACHE_WEIGHT
            head_words = words_of(head)[-CACHE_WORDS:]
        elif len(head) == len(done):
            return self._cache_model             # no word boundary passed since: nothing to push
        else:
            head_words = words_of(head[len(done):])
        cache, words = self._cache_model, self.p.words
        for w in map(self.p.word_key, head_words):
            if words is not None and cache.words:
                # Online EM for the cache's share: how much better did it predict this word than the
                # train split's statistics? Recurring names push it up; unrelated texts (a stream
                # of separate reviews) pull it down.
                prev = cache.words[-1]
                pc, pt = cache.prob(prev, w), words.prob(prev, w)
                lam = self._cache_weight
                if pc + pt > 0:
                    r = lam * pc / (lam * pc + (1 - lam) * pt)
                    self._cache_weight = min(0.9, max(0.05, lam + CACHE_RATE * (r - lam)))
            cache.push(w)
        self._cache_text = head
        return cache


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max())
    z /= z.sum()
    return z


def _top(probs: np.ndarray, k: int, texts: list[str]) -> list[tuple[str, float]]:
    """The k largest probabilities with their token texts, ranked (zeros left out)."""
    k = min(k, probs.size)
    top = np.argpartition(-probs, k - 1)[:k] if k < probs.size else np.arange(probs.size)
    top = top[np.argsort(-probs[top], kind="stable")]
    return [(texts[i], float(probs[i])) for i in top.tolist() if probs[i] > 0]


def common_prefix(a, b) -> int:
    """Length of the common prefix of two strings or id lists (a C-speed comparison per probe)."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n                    # a[:lo] == b[:lo], a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    return lo
