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
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .checkpoint import load_checkpoint
from .faststep import FastStepper

KEEP_RECENT = 256      # states kept for every one of the last N positions (backspace, edits)
KEEP_EVERY = 32        # and for every 32nd position before that
CACHE_CHARS = 5000     # the session's recent text that feeds its word cache


def is_word_char(c: str) -> bool:
    return c.isalnum() or c == "'"


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


class Predictor:
    """A model loaded once, serving any number of independent :class:`Session` objects."""

    def __init__(self, model, tokenizer, beam_width: int = 12, max_word_len: int = 24, words=None,
                 blend: float = 0.5, pool: int = 8, cache: bool = True):
        # optional WordModel, its weight, candidates drawn from each source, the session word cache
        self.words, self.blend, self.pool, self.cache = words, blend, pool, cache
        self.model, self.tokenizer = model.eval(), tokenizer
        self.stepper = FastStepper(model)
        self.beam_width, self.max_word_len = beam_width, max_word_len
        texts = [tokenizer.token_text(i) for i in range(tokenizer.vocab_size)]
        self.token_texts = texts
        # (V,) True where the token is part of a word; everything else ends one
        self.word_mask = torch.tensor([bool(t) and all(is_word_char(c) for c in t) and i != tokenizer.unk_id
                                       for i, t in enumerate(texts)])
        self.boundary_mask = ~self.word_mask
        self.boundary_mask[tokenizer.unk_id] = False      # "unknown" is no prediction of a boundary
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
            with torch.no_grad():
                while bulk:
                    take = KEEP_EVERY - len(self.ids) % KEEP_EVERY
                    chunk, bulk = bulk[:take], bulk[take:]
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
        for k in [k for k in self._states if k < n - KEEP_RECENT and k % KEEP_EVERY]:
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
        """The n most probable distinct completions of the current word: (whole word, probability)."""
        word = current_word(self.text)
        word_ids = self.ids[len(self.ids) - len(self.p.tokenizer.encode(word)):] if word else []
        return self._blend(word, word_ids, n)

    def next_words(self, n: int = 3) -> list[tuple[str, float]]:
        """The n most probable next words (after a space or punctuation)."""
        return self.complete_word(n) if not current_word(self.text) else []

    def _blend(self, word: str, word_ids: list[int], n: int) -> list[tuple[str, float]]:
        """Mix the character model's completions with word statistics:
        P(w) = blend * P_char(w) + (1 - blend) * P_words(w | previous word, typed prefix), where
        P_words is the train split's bigram model, half and half with a cache of this text's words."""
        p = self.p
        char_p = dict(self._beam_search(word_ids, max(n, p.pool)))
        before = previous_word(self.text)          # a scan back, not a pass over the whole text
        prev, key = (p.word_key(before) if before else None), p.word_key(word)

        def shown(probs: dict) -> dict:        # stored form (decomposed for jamo) -> display form
            if p.tokenizer.kind != "jamo":
                return probs
            from .tokenizer import compose_hangul
            return {compose_hangul(w): q for w, q in probs.items()}
        word_p = shown(p.words.probs(prev, key, limit=p.pool)) if p.words is not None else {}
        cache_p = shown(self._cache().probs(prev, key, limit=p.pool)) if p.cache else {}
        if cache_p:         # words of this very text: names and rare words recur
            mix = 0.5 if word_p else 1.0
            word_p = {w: (1 - mix) * word_p.get(w, 0.0) + mix * cache_p.get(w, 0.0) for w in set(word_p) | set(cache_p)}
        blend = p.blend if word_p else 1.0     # nothing to blend in: the character model alone
        missing = [w for w in word_p if w not in char_p]
        if missing:
            char_p.update(self._score_words(word_ids, missing))
        scores = {w: blend * q + (1 - blend) * word_p.get(w, 0.0) for w, q in char_p.items()}
        return sorted(scores.items(), key=lambda kv: -kv[1])[:n]

    def _cache(self):
        """Word counts of the recent text (the last CACHE_CHARS characters before the current word),
        rebuilt only when a word boundary has been passed."""
        from .wordstats import WordModel
        head = self.text[:len(self.text) - len(current_word(self.text))][-CACHE_CHARS:]
        if getattr(self, "_cache_head", None) != head:
            self._cache_head, self._cache_model = head, WordModel.fit([self.p.word_key(head)], min_bigram=1)
        return self._cache_model

    def _score_words(self, word_ids: list[int], words: list[str]) -> dict[str, float]:
        """P_char(rest of each word, then a boundary), for words that extend the typed one."""
        p = self.p
        rests = []
        for w in words:
            ids = p.tokenizer.encode(w)
            rests.append(ids[len(word_ids):] if ids[:len(word_ids)] == word_ids else None)
        rows = [i for i, r in enumerate(rests) if r]
        out = {}
        if not rows:
            return out
        state = self.state if self.state is not None else p.model.init_state(1)
        k = len(rows)
        state = tuple(t.expand(-1, k, -1).contiguous() for t in state) if isinstance(state, tuple) \
            else state.expand(-1, k, -1).contiguous()
        logp = torch.log_softmax(self.logits.float(), -1).expand(k, -1)         # (K, V)
        total = torch.zeros(k)
        done = torch.zeros(k, dtype=torch.bool)
        longest = max(len(rests[i]) for i in rows)
        for t in range(longest + 1):
            for j, i in enumerate(rows):
                if not done[j] and t == len(rests[i]):             # whole rest read: now a boundary
                    total[j] += torch.logsumexp(logp[j, p.boundary_mask], -1)
                    done[j] = True
                elif not done[j]:
                    total[j] += logp[j, rests[i][t]]
            if t == longest:
                break
            toks = torch.tensor([rests[i][t] if t < len(rests[i]) else 0 for i in rows])
            logits, state = p.stepper.step(toks, state)
            logp = torch.log_softmax(logits.float(), -1)
        for j, i in enumerate(rows):
            out[words[i]] = math.exp(float(total[j]))
        return out

    def _beam_search(self, word_ids: list[int], n: int) -> list[tuple[str, float]]:
        p = self.p
        state, logits = self._states[len(self.ids)]
        logp = torch.log_softmax(logits.float(), -1)[None]        # (1, V)
        beams = [_Beam(0.0, [])]
        finished: dict[str, float] = {}
        word_mask, boundary = p.word_mask, p.boundary_mask
        for depth in range(p.max_word_len + 1):
            scores = torch.tensor([b.score for b in beams])       # (K,)
            if depth > 0:   # a completion adds at least one character
                end = scores + torch.logsumexp(logp[:, boundary], -1)
                for b, s in zip(beams, end.tolist()):
                    w = p.tokenizer.decode(word_ids + b.ids)
                    finished[w] = float(np.logaddexp(finished[w], s)) if w in finished else s
            if depth == p.max_word_len:
                break
            cont = (scores[:, None] + logp).masked_fill(~word_mask, -math.inf)   # (K, V)
            top = torch.topk(cont.flatten(), min(p.beam_width, int(word_mask.sum()) * len(beams)))
            nth = sorted(finished.values(), reverse=True)[n - 1] if len(finished) >= n else -math.inf
            keep = [(s, int(j)) for s, j in zip(top.values.tolist(), top.indices.tolist()) if s > nth]
            if not keep:    # no unfinished beam can beat the n-th finished word any more
                break
            V = logp.size(1)
            rows = torch.tensor([j // V for _, j in keep])
            toks = torch.tensor([j % V for _, j in keep])
            beams = [_Beam(s, beams[j // V].ids + [j % V]) for s, j in keep]
            if state is None:
                state = p.model.init_state(1)
            state = tuple(t[:, rows] for t in state) if isinstance(state, tuple) else state[:, rows]
            logits, state = p.stepper.step(toks, state)           # one forward for every beam
            logp = torch.log_softmax(logits.float(), -1)
        ranked = sorted(finished.items(), key=lambda kv: -kv[1])[:n]
        return [(w, math.exp(s)) for w, s in ranked]


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    if n == 0:
        return 0
    diff = np.nonzero(np.asarray(a[:n]) != np.asarray(b[:n]))[0]
    return int(diff[0]) if len(diff) else n
