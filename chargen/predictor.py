"""The keyboard engine: per-session cached model state, next-character probabilities, word
completion and next-word prediction, at one model step per typed character.

Usage:

    predictor = Predictor.from_checkpoint("checkpoints/default")
    s = predictor.session()
    s.type("Mr. Knightl")
    s.next_chars(5)          # [("e", 0.97), ...]
    s.complete_word(3)       # [("Knightley", 0.91), ...]
    s.backspace(); s.set_text("any edited text")   # reuses the longest cached prefix

Word rules: a word is a maximal run of word characters, ``c.isalnum() or c == "'"`` (Hangul
syllables and jamo count as letters). Anything else (space, punctuation, newline, emoji) ends a word.
A completion always adds at least one character to the current word and stops where the model
puts a word boundary; ``next_words`` is completion from an empty word (after a space).

Korean typed with an input method: a session with ``composing=True`` (the web app's) treats the
last Hangul character of the current word as still being composed (syllable and jamo models), so
``영화 재`` may still become ``잼`` or ``쟤``: completions back up over it and must start with the
keys typed so far (see ``keys.word_keys``: 고 -> 과, 각 -> 가게), like token healing for subwords.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch

from .checkpoint import load_checkpoint
from .faststep import FastStepper
from .keys import char_keys, word_keys
from .tokenizer import is_hangul, is_syllable, syllable_jamo

KEEP_RECENT = 256      # states kept for every one of the last N positions (backspace, edits)
KEEP_EVERY = 32        # and for every 32nd position before that,
KEEP_SPARSE = 256      # the last 256 of those (older edits recompute from the start)
CACHE_WORDS = 1000     # the session's recent words that feed its word cache
CACHE_WEIGHT = 0.5     # the cache's starting share of the word statistics, adapted per session
CACHE_RATE = 0.02      # how fast that share follows the words typed (about the last 50 words)
CACHE_PRIOR = 20       # and it counts fully only once the cache holds well over this many words
TRIE_NODES = 4096      # completion-trie nodes kept per session before it is cleared
KEY_MASKS = 512        # token masks kept per predictor for syllables being composed


def is_word_char(c: str) -> bool:
    return c.isalnum() or c == "'"


def key_cost(c: str) -> int:
    """Keys to type c: one per conjoining jamo for a Hangul syllable (two-set keyboard), else one."""
    return syllable_jamo(c) if is_syllable(c) else 1


def keys(text: str) -> int:
    return sum(key_cost(c) for c in text)


def current_word(text: str) -> str:
    """The run of word characters at the end of ``text`` (empty after a space or punctuation)."""
    i = len(text)
    while i > 0 and is_word_char(text[i - 1]):
        i -= 1
    return text[i:]


def previous_word(text: str) -> str | None:
    """The last whole word before the current one (None if there is none)."""
    i = len(text) - len(current_word(text))
    while i > 0 and not is_word_char(text[i - 1]):
        i -= 1
    return current_word(text[:i]) or None


@dataclass
class _Beam:
    score: float
    ids: list
    need: tuple = ()       # keys typed that the beam's tokens have not covered yet (composing)


class Predictor:
    """A model loaded once, serving any number of independent :class:`Session` objects."""

    def __init__(self, model, tokenizer, beam_width: int = 8, max_word_len: int = 24, words=None,
                 blend: float = 0.5, pool: int = 8, rescore: int = 3, cache: bool = True,
                 composing: bool = False):
        # optional WordModel, its weight, candidates drawn from each word source, how many of those
        # the beam missed are scored exactly by the character model, the session word cache, and
        # whether sessions start out treating a last Hangul character as still composed
        self.words, self.blend, self.pool, self.rescore, self.cache = words, blend, pool, rescore, cache
        self.composing = composing
        self.model, self.tokenizer = model.eval(), tokenizer
        self.stepper = FastStepper(model)
        self.beam_width, self.max_word_len = beam_width, max_word_len
        texts = [tokenizer.token_text(i) for i in range(tokenizer.vocab_size)]
        self.token_texts = texts
        # (V,) True where the token is part of a word; everything else ends one
        self.word_mask = torch.tensor([bool(t) and all(is_word_char(c) for c in t) and i != tokenizer.unk_id
                                       for i, t in enumerate(texts)])
        self.n_word_tokens = int(self.word_mask.sum())
        self.boundary_mask = ~self.word_mask
        self.boundary_mask[tokenizer.unk_id] = False      # "unknown" is no prediction of a boundary
        # per token, the keys that type it (one-character word tokens of a char or jamo model with
        # Hangul; else None): what a syllable being composed may still become
        self.token_keys = None
        if tokenizer.kind in ("char", "jamo") and any(len(t) == 1 and is_hangul(t) for t in texts):
            self.token_keys = [char_keys(t) if self.word_mask[i] and len(t) == 1 else None
                               for i, t in enumerate(texts)]
        self._key_masks: dict = {}
        self.subword = None
        if tokenizer.kind in ("bpe", "unigram"):
            from .subword_session import SubwordTables
            self.subword = SubwordTables(texts)
        start = [i for i in tokenizer.encode("\n") if i != tokenizer.unk_id]
        # The state for an empty text: as if just after a line break (how documents continue).
        state, logits = None, None
        for i in start or [1]:
            logits, state = self.stepper.step(torch.tensor([i]), state)
        self.start_state, self.start_logits = state, logits[0]

    @classmethod
    def from_checkpoint(cls, path, **kwargs) -> "Predictor":
        from .checkpoint import resolve_checkpoint
        from .wordstats import WordModel
        model, tokenizer, _ = load_checkpoint(path)
        kwargs.setdefault("words", WordModel.load(resolve_checkpoint(path)))
        return cls(model, tokenizer, **kwargs)

    def word_key(self, word: str) -> str:
        """A word as the word model stores it (jamo models count decomposed words)."""
        if self.tokenizer.kind == "jamo":
            from .tokenizer import decompose_hangul
            return decompose_hangul(word)
        return word

    def key_mask(self, need: tuple) -> torch.Tensor:
        """(V,) True for the word tokens that fit the keys ``need`` typed so far: those keys start
        the token's keys, or the token's keys start them (the rest then starts the next token)."""
        mask = self._key_masks.get(need)
        if mask is None:
            if len(self._key_masks) >= KEY_MASKS:
                self._key_masks.clear()
            mask = torch.tensor([k is not None and k[:len(need)] == need[:len(k)] for k in self.token_keys])
            self._key_masks[need] = mask
        return mask

    def session(self, text: str = "") -> "Session":
        if self.subword is not None:
            from .subword_session import SubwordSession
            s = SubwordSession(self)
        else:
            s = Session(self)
        if text:
            s.set_text(text)
        return s


class Session:
    """What one user has typed, with the model state after every recent prefix cached."""

    def __init__(self, predictor: Predictor):
        self.p = predictor
        self.text = ""
        self.ids: list[int] = []
        self._states = {0: (predictor.start_state, predictor.start_logits)}   # position -> (state, logits)
        self.steps = 0                                                       # model steps taken (for tests)
        self.remainder = ""          # typed text past the model state (subword token healing only)
        self.composing = predictor.composing   # a last Hangul character may still change (IME)
        self._trie: dict = {}        # completion trie of the current word (see _trie_root)
        self._trie_at = None         # the state object at that word's start: the trie's key
        self._cache_text = None      # text whose words the word cache holds (see _cache)
        self._cache_model, self._cache_weight = None, CACHE_WEIGHT

    # ---------------------------------------------------------------- editing
    def type(self, text: str) -> "Session":
        """Append typed text: one model step per token."""
        return self._extend(text, self.p.tokenizer.encode(text))

    def backspace(self, n: int = 1) -> "Session":
        return self.set_text(self.text[:max(0, len(self.text) - n)])

    def set_text(self, text: str) -> "Session":
        """An arbitrary edit: keep the longest cached prefix, recompute only the rest."""
        self._set_ids(self.p.tokenizer.encode(text))
        self.text = text
        return self

    def _set_ids(self, new: list[int]) -> None:
        same = _common_prefix(self.ids, new)
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
        state, logits = self._states[len(self.ids)]
        if len(ids) > KEEP_RECENT + KEEP_EVERY:
            # A long paste: run the bulk through the whole network in chunks (far faster than
            # token steps), keeping the states at chunk boundaries that the cache retains.
            bulk, ids = ids[:len(ids) - KEEP_RECENT], ids[len(ids) - KEEP_RECENT:]
            # states before this position would be pruned anyway: run that part in long chunks
            kept_from = len(self.ids) + len(bulk) - KEEP_SPARSE * KEEP_EVERY
            at = 0
            with torch.no_grad():
                while at < len(bulk):
                    pos = len(self.ids)
                    take = KEEP_EVERY - pos % KEEP_EVERY if pos >= kept_from - KEEP_EVERY else \
                        max(1, min(4096, kept_from - pos))
                    chunk = bulk[at:at + take]
                    at += len(chunk)
                    out, state = self.p.model(torch.tensor([chunk]), state)
                    logits = out[0, -1]
                    self.ids.extend(chunk)
                    self.steps += len(chunk)
                    self._states[len(self.ids)] = (state, logits)
        for i in ids:
            logits, state = self.p.stepper.step(torch.tensor([i]), state)
            logits = logits[0]
            self.ids.append(i)
            self.steps += 1
            self._states[len(self.ids)] = (state, logits)
        n = len(self.ids)
        old = [k for k in self._states if 0 < k < n - KEEP_RECENT]
        sparse = sorted(k for k in old if k % KEEP_EVERY == 0)
        for k in [k for k in old if k % KEEP_EVERY] + sparse[:-KEEP_SPARSE]:   # bounded memory per session
            del self._states[k]
        self.text += text
        return self

    # ---------------------------------------------------------------- predictions
    @property
    def logits(self) -> torch.Tensor:
        return self._states[len(self.ids)][1]                       # (V,)

    @property
    def state(self):
        return self._states[len(self.ids)][0]

    def next_token_probs(self) -> torch.Tensor:
        return torch.softmax(self.logits.float(), -1)

    def next_chars(self, k: int = 5) -> list[tuple[str, float]]:
        """The k most probable next characters (jamo for a jamo model), ranked."""
        probs = self.next_token_probs().clone()
        probs[self.p.tokenizer.unk_id] = 0.0
        top = torch.topk(probs, min(k, probs.numel()))
        return [(self.p.token_texts[i], float(v)) for v, i in zip(top.values.tolist(), top.indices.tolist())
                if v > 0]

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
        so that slot goes to the next candidate. Keys count jamo for Hangul (see ``key_cost``)."""
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
            if p.tokenizer.kind != "jamo":
                return probs
            from .tokenizer import compose_hangul
            return {compose_hangul(w): q for w, q in probs.items()}
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
        char_p = self._beam_search(word_ids, n, forced, min_keys, open_keys, typed=keys(word), end=end)
        blend = p.blend if word_p else 1.0     # nothing to blend in: the character model alone
        scores = {w: blend * char_p.get(w, 0.0) + (1 - blend) * word_p.get(w, 0.0) for w in set(char_p) | set(word_p)}
        return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))

    def _cache(self):
        """The session's word cache: words of the text before the current word (the last
        CACHE_WORDS of them), pushed as word boundaries are passed; rebuilt after other edits."""
        from .wordstats import WordCache, words_of
        head = self.text[:len(self.text) - len(current_word(self.text))]
        done = self._cache_text
        if done is None or not head.startswith(done):
            self._cache_model, done, self._cache_weight = WordCache(CACHE_WORDS), "", CACHE_WEIGHT
            head_words = words_of(head)[-CACHE_WORDS:]
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

    # ---------------------------------------------------------------- the completion trie
    # Beam search and word scoring walk a trie of token paths from the current word's start; every
    # node keeps its state and log-probabilities. While the user types along a path the search
    # explored, its subtree is reused: no model step is taken twice for the same prefix.
    def _trie_root(self, word_ids: list[int], end: int) -> tuple:
        """The trie node of ``word_ids``, the current word's tokens up to position ``end``."""
        anchor = end - len(word_ids)
        at = self._states.get(anchor)          # identity of the state at the word's start
        if at is None or self._trie_at is not at or len(self._trie) > TRIE_NODES:
            self._trie, self._trie_at = {}, at
        root = tuple(word_ids)
        if root not in self._trie:
            state, logits = self._states[end]
            st = _as_tuple(state if state is not None else self.p.model.init_state(1))
            self._trie[root] = (tuple(t[:, 0] for t in st), torch.log_softmax(logits.float(), -1))
        return root

    def _expand(self, paths: list[tuple]) -> torch.Tensor:
        """(K, V) log-probabilities after each token path; paths not in the trie yet are computed in
        one batched step from their parents (which must be in it)."""
        trie = self._trie
        todo = [q for q in dict.fromkeys(paths) if q not in trie]
        if todo:
            parents = [trie[q[:-1]][0] for q in todo]
            state = tuple(torch.stack([par[i] for par in parents], 1) for i in range(len(parents[0])))
            # a search step: bf16 allowed; the stepper itself runs narrow steps in exact numpy fp32
            logits, new = self.p.stepper.step(torch.tensor([q[-1] for q in todo]), _from_tuple(state), bf16=True)
            logp, new = torch.log_softmax(logits.float(), -1), _as_tuple(new)
            for j, q in enumerate(todo):
                trie[q] = (tuple(t[:, j] for t in new), logp[j])
        return torch.stack([trie[q][1] for q in paths])

    def _beam_search(self, word_ids: list[int], n: int, forced: list[str] = (), min_keys: int = 1,
                     open_keys: tuple = (), typed: int = 0, end: int | None = None) -> dict[str, float]:
        """P_char of completions of the word: a beam search over tokens until a word boundary, kept
        going until no open beam can beat the n-th finished word (of those adding ``min_keys`` keys
        or more); plus the exact probability of each word in ``forced`` (rest of the word, then a
        boundary), walked down in the same steps. ``typed``: the keys of the word so far (for
        ``min_keys``). With ``open_keys`` (the keys of a last character still being composed),
        ``word_ids`` stop at position ``end``, short of the text: the beams must first type those
        keys (see ``Predictor.key_mask``), and probabilities are renormalised over the first tokens
        that fit."""
        p = self.p
        counted: dict[str, float] = {}                             # finished words that add min_keys
        root = self._trie_root(word_ids, len(self.ids) if end is None else end)
        rests = {}
        for w in forced:
            ids = p.tokenizer.encode(w)
            if ids[:len(word_ids)] == word_ids and len(ids) > len(word_ids):
                rests[w] = ids[len(word_ids):]
        forced_lp = dict.fromkeys(rests, 0.0)
        logp = self._trie[root][1][None]                           # (1, V) for the beams
        beams = [_Beam(0.0, [], open_keys)]
        norm = float(torch.logsumexp(logp[0][p.key_mask(open_keys)], -1)) if open_keys else 0.0
        finished: dict[str, float] = {}
        word_mask, boundary = p.word_mask, p.boundary_mask
        rows = {(): 0}                                             # forced path -> its row in logp
        for depth in itertools.count():
            for w, r in rests.items():                             # forced words, this depth
                if depth <= len(r):
                    row = logp[rows[tuple(r[:depth])]]
                    forced_lp[w] += float(row[r[depth]]) if depth < len(r) else float(torch.logsumexp(row[boundary], -1))
            if beams:
                scores = torch.tensor([b.score for b in beams])   # (K,)
                blp = logp[:len(beams)]
                if depth > 0:   # a completion adds at least one character
                    closed = scores + torch.logsumexp(blp[:, boundary], -1)
                    for b, s in zip(beams, closed.tolist()):
                        if b.need:           # the keys typed are not all in this word yet
                            continue
                        w = p.tokenizer.decode(word_ids + b.ids)
                        finished[w] = float(np.logaddexp(finished[w], s)) if w in finished else s
                        if min_keys <= 1 or keys(w) - typed >= min_keys:
                            counted[w] = finished[w]
                if depth >= p.max_word_len:
                    beams = []
                else:
                    allowed = word_mask if not any(b.need for b in beams) else \
                        torch.stack([p.key_mask(b.need) if b.need else word_mask for b in beams])
                    cont = (scores[:, None] + blp).masked_fill(~allowed, -math.inf)     # (K, V)
                    top = torch.topk(cont.flatten(), min(p.beam_width, p.n_word_tokens * len(beams)))
                    nth = sorted(counted.values(), reverse=True)[n - 1] if len(counted) >= n else -math.inf
                    V = blp.size(1)      # beams that can still beat the n-th finished word go on
                    beams = [_Beam(s, beams[j // V].ids + [j % V], _after(beams[j // V].need, p.token_keys, j % V))
                             for s, j in zip(top.values.tolist(), top.indices.tolist()) if s > nth]
            paths = [root + tuple(b.ids) for b in beams]
            todo = [tuple(r[:depth + 1]) for r in rests.values() if depth + 1 <= len(r)]
            if not paths and not todo:
                break
            rows = {q: len(paths) + i for i, q in enumerate(todo)}
            logp = self._expand(paths + [root + q for q in todo])   # one batched step for all of them
        out = {w: math.exp(s - norm) for w, s in finished.items()}
        out.update({w: math.exp(s - norm) for w, s in forced_lp.items()})
        return out


def _after(need: tuple, token_keys, token: int) -> tuple:
    """The keys still to type after a token, of those a composed character needs."""
    return need[len(token_keys[token]):] if need else ()


def _as_tuple(state) -> tuple:
    return state if isinstance(state, tuple) else (state,)


def _from_tuple(state: tuple):
    return state if len(state) > 1 else state[0]


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    if n == 0:
        return 0
    diff = np.nonzero(np.asarray(a[:n]) != np.asarray(b[:n]))[0]
    return int(diff[0]) if len(diff) else n
