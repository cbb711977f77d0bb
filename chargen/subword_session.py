"""Keyboard sessions for subword (SentencePiece) models: token healing and character marginals.

The typed text may end inside a token ("The qu" is about to become " quick"), so the session
backs up one token: the model state covers the text up to the last token boundary, and the typed
rest (the *remainder*, " qu") constrains the next token to those whose text starts with it.

Next-character probability is the marginal over tokens (normalised over what can follow the
typed text):  P(c) ∝ Σ_{t: text(t) starts with remainder + c} P(t)
                    + Σ_{t: text(t) == remainder} P(t) · Σ_{t2: text(t2) starts with c} P(t2 | t).
Byte-fallback pieces that are not a whole printable ASCII character carry no character and are
left out of the marginal. Usage: ``Predictor(model, bpe_tokenizer).session("The qu").next_chars(3)``.
"""
from __future__ import annotations

import math

import torch

from .completion import add_finished, nth_best
from .session import Session
from .prefix import prefix_range
from .words import current_word, is_word_char


class SubwordTables:
    """Per-vocabulary lookups, built once per predictor."""

    def __init__(self, texts: list[str]):
        self.texts = texts
        order = sorted(range(len(texts)), key=lambda i: texts[i])
        self.sorted_ids = order
        self.sorted_texts = [texts[i] for i in order]
        self.chars = sorted({c for t in texts for c in t})          # every character a token spells
        index = self.char_index = {c: k for k, c in enumerate(self.chars)}
        # (V,) index of each token's first character, -1 for tokens with no text
        self.first_char = torch.tensor([index[t[0]] if t else -1 for t in texts])
        # where each token's text first leaves a word (len(text) if it never does)
        self.word_end = [next((j for j, c in enumerate(t) if not is_word_char(c)), len(t)) for t in texts]

    def starting_with(self, prefix: str) -> list[int]:
        """Ids of the tokens whose text starts with ``prefix`` (all tokens for "")."""
        lo, hi = prefix_range(self.sorted_texts, prefix)
        return [i for i in self.sorted_ids[lo:hi] if self.texts[i]]

    def char_mass(self, probs: torch.Tensor) -> torch.Tensor:
        """(V,) token probabilities -> (C,) mass by first character."""
        keep = self.first_char >= 0
        return torch.zeros(len(self.chars)).index_add_(0, self.first_char[keep], probs[keep])


class SubwordSession(Session):
    """A session whose model state stops at the last token boundary (token healing)."""

    def _encode_for_session(self, text: str):
        ids = self.p.tokenizer.encode(text)
        k = len(ids) - 1
        while k > 0 and not text.startswith(self.p.tokenizer.decode(ids[:k])):
            k -= 1                        # a byte-fallback split: back up to a clean boundary
        k = max(k, 0)
        return ids[:k], text[len(self.p.tokenizer.decode(ids[:k])):]

    def type(self, text: str) -> "SubwordSession":
        return self.set_text(self.text + text)

    def set_text(self, text: str) -> "SubwordSession":
        committed, self.remainder = self._encode_for_session(text)
        self._set_ids(committed)
        self.text = text
        return self

    def next_chars(self, k: int = 5) -> list[tuple[str, float]]:
        tables: SubwordTables = self.p.subword
        probs = self.next_token_probs()
        r = self.remainder
        if r == "":
            mass = tables.char_mass(probs)
        else:
            mass = torch.zeros(len(tables.chars))
            for t in tables.starting_with(r):
                text = tables.texts[t]
                if len(text) > len(r):
                    mass[tables.char_index[text[len(r)]]] += probs[t]
                else:      # the token is exactly the remainder: the character comes from the next token
                    logits, _ = self.p.stepper.step_rows([t], self.row[None])
                    mass += probs[t] * tables.char_mass(torch.softmax(torch.from_numpy(logits[0]), -1))
        total = float(mass.sum())
        if total <= 0:
            return []
        top = torch.topk(mass / total, min(k, len(tables.chars)))
        return [(tables.chars[i], float(v)) for v, i in zip(top.values.tolist(), top.indices.tolist()) if v > 0]

    def complete_word(self, n: int = 3) -> list[tuple[str, float]]:
        word = current_word(self.text)
        return self._token_beam(word, n)

    def _candidates(self, word: str, n: int, min_keys: int = 1) -> list[tuple[str, float]]:
        return self._token_beam(word, n + 2 * (min_keys > 1))      # room for the short ones skipped

    def next_words(self, n: int = 3) -> list[tuple[str, float]]:
        return self._token_beam("", n) if not current_word(self.text) else []

    def _token_beam(self, word: str, n: int, per_beam: int = 40) -> list[tuple[str, float]]:
        """Beam search over tokens: each beam is text produced after the state; a word ends at its
        first non-word character. Completions must add at least one character to ``word``."""
        p, tables, r = self.p, self.p.subword, self.remainder
        logp = torch.log_softmax(torch.from_numpy(self.logits), -1)[None]      # (1, V)
        state = self.row[None]                                                 # (1, S) state rows
        beams = [(0.0, "")]                                                    # (score, text after state)
        finished: dict[str, float] = {}
        allowed0 = torch.full((logp.size(1),), -math.inf)
        allowed0[tables.starting_with(r)] = 0.0                                # healing: must fit the typed rest
        for depth in range(p.max_word_len):
            cand = []
            scores = logp + (allowed0 if depth == 0 else 0.0)
            top = torch.topk(scores, min(per_beam, scores.size(1)), dim=1)
            for b, (score, produced) in enumerate(beams):
                for lp, t in zip(top.values[b].tolist(), top.indices[b].tolist()):
                    if lp == -math.inf or not tables.texts[t]:
                        continue
                    ext = (produced + tables.texts[t])[len(r):]                # beyond what was typed
                    s = score + lp
                    j = next((i for i, c in enumerate(ext) if not is_word_char(c)), None)
                    if j is None:
                        cand.append((s, produced + tables.texts[t], b, t))
                    elif j > 0:
                        add_finished(finished, word + ext[:j], s)
            nth = nth_best(finished.values(), n)
            cand = sorted((c for c in cand if c[0] > nth), reverse=True)[:p.beam_width]
            if not cand:
                break
            state = state[[c[2] for c in cand]]
            logits, state = p.stepper.step_rows([c[3] for c in cand], state)
            logp = torch.log_softmax(torch.from_numpy(logits), -1)
            beams = [(c[0], c[1]) for c in cand]
        ranked = sorted(finished.items(), key=lambda kv: -kv[1])[:n]
        return [(w, math.exp(s)) for w, s in ranked]
