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

from .adapt import forward
from .blend import candidates
from .learner import id_position
from .session_words import SessionWords
from .tokenizer import CHAR
from .completion import Trie
from .faststep import pack_state
from .gesture import resolve
from .keys import text_jamo_keys
from .prefix import common_prefix
from .typos import autocorrection, completions, corrections, keyboard_edit
from .words import current_word

KEEP_RECENT = 256      # states kept for every one of the last N positions (backspace, edits)
KEEP_EVERY = 32        # and for every 32nd position before that,
KEEP_SPARSE = 256      # the last 256 of those (older edits recompute from the start)


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
        self.stepper = predictor.stepper   # the trained weights', or an adapted session's own (learner)
        self.learner = None          # a Learner when this session learns from its typing
        self.offset = 0              # where self.text starts in the user's whole text (a typist reads its end)
        # this text's own words, and how much this session trusts each part of a completion
        self._words = self._new_words()
        self.kept_words: set[str] = set()   # words the user restored after an autocorrection
        self.last_fix = None         # (text after the autocorrection, text as typed): Backspace undoes it

    # ---------------------------------------------------------------- editing
    def type(self, text: str) -> "Session":
        """Append typed text: one model step per token."""
        if self.learner is None:
            return self._extend(text, self.p.tokenizer.encode(text))
        self.learner.sync(self)
        self._extend(text, self.p.tokenizer.encode(text))
        self.learner.observe(self)
        return self

    def backspace(self, n: int = 1) -> "Session":
        return self.set_text(self.text[:max(0, len(self.text) - n)])

    def set_text(self, text: str, offset: int | None = None) -> "Session":
        """An arbitrary edit: keep the longest cached prefix, recompute only the rest. Typing on
        (the old text is a prefix of the new) and edits near the end encode only the changed tail,
        however long the text. ``offset``: where ``text`` starts in the user's whole text (a typist
        reading its end); a learning session rolls back what the edit takes from learned text."""
        if self.learner is None:
            self.offset = self.offset if offset is None else offset
            return self._edit(text)
        self.learner.sync(self, text, offset)
        self.offset = self.offset if offset is None else offset
        self._edit(text)
        self.learner.observe(self)
        return self

    def _edit(self, text: str) -> "Session":
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
                    out, state = forward(p, self.learner and self.learner.current, torch.tensor([chunk]), state)
                    self.ids.extend(chunk)
                    self.steps += len(chunk)
                    row, logits = pack_state(state, p.cell)[0], out[0, -1].float().numpy()
                    self._states[len(self.ids)] = (row, logits)
        for i in ids:
            out, rows = self.stepper.step_rows([i], row[None])
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

    def forget(self) -> "Session":
        """Back to the trained model at once: the adapted weights and the user's lexicon dropped, and
        the text's states read again with the trained weights (what a fresh session of this text
        holds). Text already typed is not learned again; typing on is, if learning is on."""
        if self.learner is not None:
            self.learner.forget(self.offset + len(self.text))
        self.stepper = self.p.stepper
        return self.reread()

    def reread(self) -> "Session":
        """Read the text again from the start with the session's current weights (a new profile,
        Forget): its states then are what a fresh session with those weights would hold."""
        text, self.text, self.ids = self.text, "", []
        self._states = {0: (self.p.start_row, self.p.start_logits)}
        self._trie = Trie()
        self._words = self._new_words()
        return self._edit(text)

    def attach(self, learner) -> "Session":
        """Learn from this session's typing with ``learner``, stepping with the weights it starts from."""
        self.learner = learner
        self.stepper = learner.stepper = learner.current.stepper(self.p)
        return self

    def _new_words(self) -> SessionWords:
        """This text's own words, with the user's lexicon when the session learns."""
        words = SessionWords(self.p.words, self.p.word_key, char_prob=self._span_prob)
        words.lexicon = lambda: self.learner.lexicon if self.learner is not None else None
        return words

    def fork(self) -> "Session":
        """A new session holding the same text and cached states (the arrays are shared, never
        changed in place), to go on independently: typing into one never touches the other."""
        twin = type(self)(self.p)
        twin.text, twin.ids, twin.remainder, twin.composing = self.text, list(self.ids), self.remainder, self.composing
        twin._states, twin.stepper, twin.offset = dict(self._states), self.stepper, self.offset
        return twin                  # (it does not learn: a learner is its own session's alone)

    def memory_bytes(self) -> int:
        """What the session holds in arrays: its cached states and its completion trie (each entry a
        state row and a row of V logits, float32)."""
        own = self.learner.nbytes() if self.learner is not None else 0
        return own + (len(self._states) + len(self._trie.nodes)) * 4 * (self.p.stepper.state_size + self.p.vocab_size)

    def id_position(self, pos: int) -> int:
        """The number of ids that encode self.text[:pos]."""
        return id_position(self.p.tokenizer, self.text, pos)

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
        The probability blends the character model with word statistics (see ``blend``); a slip in
        the keys typed so far is forgiven (see ``typos.completions``: tmorr -> tomorrow)."""
        if not current_word(self.text):
            return self._candidates("", n)[:n]
        return completions(self, n)[:n]

    def correct_word(self, n: int = 3) -> list[tuple[str, float]]:
        """The n likeliest words the current word was meant to be (see ``typos.corrections``)."""
        return corrections(self, n)

    def autocorrection(self, level: str = "modest") -> str | None:
        """What autocorrect would put in place of the current word on a space (None: keep it)."""
        return autocorrection(self, level)

    def edit(self, text: str, autocorrect: str = "off") -> str:
        """An edit as a keyboard makes it (see ``typos.keyboard_edit``): a separator typed after a
        word may autocorrect it, and Backspace right after brings back what was typed. Returns the
        text the keyboard now shows."""
        return keyboard_edit(self, text, autocorrect)

    def resolve_gesture(self, points, n: int = 3, layout: dict | None = None) -> list[tuple[str, float]]:
        """The n likeliest words a gesture drawn across the keyboard spells after the text (see
        ``gesture.resolve``): ``points`` a list of (x, y); ``layout`` each key's character -> its box
        (left, top, right, bottom) in the points' coordinates (default: the app's keyboard, in key units)."""
        return resolve(self, points, n, layout)

    def next_words(self, n: int = 3) -> list[tuple[str, float]]:
        """The n most probable next words (after a space or punctuation)."""
        return self.complete_word(n) if not current_word(self.text) else []

    def suggest(self, n: int = 3) -> list[str]:
        """The suggestion bar: the n most probable completions that add at least two keys. A
        completion that adds one key saves nothing (tapping it costs as much as typing the key),
        so that slot goes to the next candidate. Keys count jamo for Hangul (see ``keys.jamo_keys``)."""
        word = current_word(self.text)
        typed = text_jamo_keys(word)
        if not word or (self.composing and self.p.korean) or not self.p.typos:   # nothing typed, a syllable composing
            return [w for w, _ in self._candidates(word, n, min_keys=2) if text_jamo_keys(w) - typed >= 2][:n]
        bar = [w for w, _ in completions(self, n + 2, min_keys=2)
               if not w.startswith(word) or text_jamo_keys(w) - typed >= 2]
        if bar and not bar[0].startswith(word):           # a correction first, the word as typed beside it
            bar = [bar[0], word] + [w for w in bar[1:] if w != word]
        return bar[:n]

    def _token_logp(self, pos: int) -> np.ndarray | None:
        """log P(next token) after ids[:pos], from the cached logits (None if not cached)."""
        st = self._states.get(pos)
        if st is None:
            return None
        z = st[1] - st[1].max()
        return z - np.log(np.exp(z).sum())

    def _prefix_prob(self, word_ids: list[int], end: int) -> float:
        """P_char of the word's tokens typed so far (``word_ids``, ending at position ``end``), from
        its start; 1 for an empty word, 0 if the states are no longer cached."""
        lp = 0.0
        for j, t in zip(range(end - len(word_ids), end), word_ids):
            row = self._token_logp(j)
            if row is None:
                return 0.0
            lp += float(row[t])
        return float(np.exp(lp))

    def _span_prob(self, a: int, b: int) -> float | None:
        """P_char of the finished word ``text[a:b]``: its tokens from its start, then a boundary
        (None where the states are no longer cached, or for subword tokens, which cross words)."""
        if self.p.subword is not None or self.remainder:
            return None
        tok = self.p.tokenizer
        ia = a if tok.kind == CHAR else len(tok.encode(self.text[:a]))
        ib = ia + len(tok.encode(self.text[a:b]))
        if ib >= len(self.ids) or self.ids[ia:ib] != tok.encode(self.text[a:b]):
            return None
        word_p = self._prefix_prob(self.ids[ia:ib], ib)
        after = self._token_logp(ib)
        if not word_p or after is None:
            return None
        return word_p * float(np.exp(after[self.p.boundary_ids]).sum())

    def _word_ids(self, word: str) -> list[int]:
        return self.ids[len(self.ids) - len(self.p.tokenizer.encode(word)):] if word else []

    def _candidates(self, word: str, n: int, min_keys: int = 1) -> list[tuple[str, float]]:
        """Completions of ``word``, most probable first (see ``blend.candidates``)."""
        return candidates(self, word, n, min_keys)

    def _cache(self):
        """The session's word cache, brought up to date with the text (see ``blend.SessionWords``)."""
        return self._words.update(self.text)

    @property
    def _cache_weight(self) -> float:
        return self._words.weight

    @_cache_weight.setter
    def _cache_weight(self, value: float) -> None:
        self._words.weight = value


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
