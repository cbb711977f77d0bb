"""The keyboard engine: a model loaded once, with the per-vocabulary tables its sessions share,
serving any number of independent keyboard sessions (``session``).

Usage:

    predictor = Predictor.from_checkpoint("checkpoints/default")
    s = predictor.session()
    s.type("Mr. Knightl")
    s.next_chars(5)          # [("e", 0.97), ...]
    s.complete_word(3)       # [("Knightley", 0.91), ...]
    s.backspace(); s.set_text("any edited text")   # reuses the longest cached prefix

Word rules: see ``chargen.words``. A completion always adds at least one character to the current
word and stops where the model puts a word boundary; ``next_words`` is completion from an empty
word (after a space).

Korean typed with an input method: a session with ``composing=True`` (the web app's) treats the
last Hangul character of the current word as still being composed (syllable and jamo models), so
``영화 재`` may still become ``잼`` or ``쟤``: completions back up over it and must start with the
keys typed so far (see ``keys.word_keys``: 고 -> 과, 각 -> 가게), like token healing for subwords.
"""
from __future__ import annotations

import numpy as np

from .checkpoint import load_checkpoint, resolve_checkpoint
from .adapt import AdaptConfig
from .faststep import FastStepper, unpack_state
from .hangul import compose_hangul, decompose_hangul, is_syllable
from .keys import char_keys, text_jamo_keys
from .learner import Learner
from .sample import SampleConfig, generate, start_ids
from .session import Session
from .subword_session import SubwordSession, SubwordTables
from .tokenizer import CHAR_KINDS, JAMO, SUBWORD_KINDS
from .ngram import load_words
from .words import word_tokens

KEY_MASKS = 512        # token masks kept per predictor for syllables being composed


class Predictor:
    """A model loaded once, serving any number of independent :class:`Session` objects."""

    def __init__(self, model, tokenizer, beam_width: int = 8, max_word_len: int = 24, words=None,
                 blend: float = 0.5, pool: int = 8, rescore: int = 3, cache: bool = True,
                 composing: bool = False, stepper: FastStepper | None = None, char: bool = True, typos: bool = True):
        # optional WordModel, its weight, candidates drawn from each word source, how many of those
        # the beam missed are scored exactly by the character model, the session word cache, and
        # whether sessions start out treating a last Hangul character as still composed
        self.words, self.blend, self.pool, self.rescore, self.cache = words, blend, pool, rescore, cache
        self.char = char       # the character model takes part in completions (False: the word side alone)
        self.typos = typos     # completions forgive a slip in the keys typed (see chargen.typos; the browser engine does not yet)
        self.composing = composing
        self.val_loss = None   # nats per token on the model's validation text, when known (from_checkpoint)
        self.model, self.tokenizer = model.eval(), tokenizer
        self.stepper = stepper or FastStepper(model)
        c = model.config
        self.cell, self.vocab_size = c.cell, tokenizer.vocab_size
        self.beam_width, self.max_word_len = beam_width, max_word_len
        texts = [tokenizer.token_text(i) for i in range(tokenizer.vocab_size)]
        self.token_texts = texts
        # (V,) True where the token is part of a word; everything else ends one
        self.word_mask = np.array(word_tokens(texts, tokenizer.unk_id))
        self.n_word_tokens = int(self.word_mask.sum())
        boundary = ~self.word_mask
        boundary[tokenizer.unk_id] = False                 # "unknown" is no prediction of a boundary
        self.boundary_mask = boundary
        self.boundary_ids = np.flatnonzero(boundary)
        self.token_cost = [text_jamo_keys(t) for t in texts]         # keys each token adds to a word
        # The one answer to "is this a Korean model" (the on-screen layout; whether a last Hangul
        # character may still be composing): a jamo model, or a vocabulary mostly of syllables.
        self.jamo = tokenizer.kind == JAMO
        self.korean = self.jamo or sum(any(map(is_syllable, t)) for t in texts) > len(texts) // 3
        # per token, the keys that type it (one-character word tokens of a Korean char or jamo
        # model; else None): what a syllable being composed may still become
        self.token_keys = None
        if self.korean and tokenizer.kind in CHAR_KINDS:
            self.token_keys = [char_keys(t) if self.word_mask[i] and len(t) == 1 else None
                               for i, t in enumerate(texts)]
        self._key_masks: dict = {}
        self.subword = SubwordTables(texts) if tokenizer.kind in SUBWORD_KINDS else None
        # The state for an empty text: as if just after a line break (how documents continue).
        row = self.stepper.start_rows(1)
        for i in start_ids(tokenizer):
            logits, row = self.stepper.step_rows([i], row)
        self.start_row, self.start_logits = row[0], logits[0]

    @classmethod
    def from_checkpoint(cls, path, **kwargs) -> "Predictor":
        model, tokenizer, config = load_checkpoint(path)
        kwargs.setdefault("words", load_words(resolve_checkpoint(path)))
        predictor = cls(model, tokenizer, **kwargs)
        # what the model's own kind of text costs it: a session learns text that costs more (adapt)
        predictor.val_loss = config.get("metrics", {}).get("val_nats_per_token")
        return predictor

    def unpack(self, rows: np.ndarray):
        """State rows -> the module's state."""
        c = self.model.config
        return unpack_state(rows, c.cell, c.num_layers, c.hidden_size)

    def word_key(self, word: str) -> str:
        """A word as the word model stores it (jamo models count decomposed words)."""
        return decompose_hangul(word) if self.jamo else word

    def shown(self, text: str) -> str:
        """Token texts joined -> the text as shown (a jamo model's jamo recomposed into syllables)."""
        return compose_hangul(text) if self.jamo else text

    def num_params(self) -> int:
        return self.model.num_params()

    def generate(self, prompt: str = "", length: int = SampleConfig.length, temperature: float = SampleConfig.temperature,
                 top_k: int = SampleConfig.top_k, top_p: float = SampleConfig.top_p, seed: int | None = None,
                 greedy: bool = False, stop=()):
        """The model's continuation of ``prompt``, streamed (see ``sample.generate``)."""
        return generate(self.model, self.tokenizer, prompt, length, temperature, top_k, top_p, greedy, seed, stop,
                        stepper=self.stepper)

    def key_mask(self, need: tuple) -> np.ndarray:
        """(V,) True for the word tokens that fit the keys ``need`` typed so far: those keys start
        the token's keys, or the token's keys start them (the rest then starts the next token)."""
        mask = self._key_masks.get(need)
        if mask is None:
            if len(self._key_masks) >= KEY_MASKS:
                self._key_masks.clear()
            mask = np.array([k is not None and k[:len(need)] == need[:len(k)] for k in self.token_keys])
            self._key_masks[need] = mask
        return mask

    def session(self, text: str = "", composing: bool | None = None, learn: AdaptConfig | None = None,
                profile=None, background: bool = True) -> Session:
        """A new session (``composing``: its last Hangul character is still being composed, as with
        an input method; default: the predictor's setting). ``learn``: it learns from its typing
        (dynamic evaluation, see chargen.learner), starting from a saved ``profile`` if given (whose
        own settings then apply); ``background=False`` learns on the caller's thread (simulations)."""
        s = SubwordSession(self) if self.subword is not None else Session(self)
        s.composing = self.composing if composing is None else composing
        if learn is not None or profile is not None:
            s.attach(Learner.from_profile(self, profile, background) if profile is not None else
                     Learner(self, learn, background=background))
        if text:
            s.set_text(text)
        return s
