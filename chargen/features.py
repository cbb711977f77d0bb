"""Simple text features per character, and which recurrent units track them: the automatic cell
finder. A feature is a number per character of a text (inside quotes, bracket depth, position in
the line, start of a word, vowel vs consonant; for Korean jamo text: initial / medial / final
jamo), with a mask where it is defined (vowel vs consonant only on letters). Every unit is scored
by the Pearson correlation of its activation with each feature over the text; the best unit for
each feature comes first, then the rest by strength. Pure numpy, no model. Usage:

    feats = text_features(text)                       # {"in_quotes": (values (N,), mask (N,)), ...}
    scores = rank_cells(acts, feats, labels)          # acts (N, K), labels[k] names unit k
    scores[0]                                         # CellScore(feature, label, r, n)
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

from .hangul import is_jamo
from .words import is_word_char

FEATURES = {                     # name -> how it is shown
    "in_quotes": "inside quotes",
    "bracket_depth": "bracket depth",
    "in_brackets": "inside brackets",
    "line_position": "position in the line",
    "word_start": "start of a word",
    "vowel": "vowel (vs consonant)",
    "jamo_initial": "initial consonant (jamo)",
    "jamo_medial": "vowel (medial jamo)",
    "jamo_final": "final consonant (jamo)",
}
OPEN, CLOSE = "([{", ")]}"
QUOTES = {'"': None, "\u201c": True, "\u201d": False, "\u00ab": True, "\u00bb": False}   # None: toggles
VOWELS = set("aeiou")
MIN_DEFINED = 8                  # a feature needs this many defined characters to be scored


@dataclass(frozen=True)
class CellScore:
    feature: str                 # a key of FEATURES
    label: tuple                 # which unit: (signal, layer, unit), as the caller names it
    r: float                     # Pearson correlation of the unit's activation with the feature
    n: int                       # characters it was measured over

    def describe(self) -> str:
        return f"{FEATURES[self.feature]}: r = {self.r:+.2f}"


def _base_letter(c: str) -> str:
    return unicodedata.normalize("NFD", c)[0].lower()


def text_features(text: str) -> dict:
    """{name: (values float32 (N,), defined bool (N,))} for the features that vary over ``text``;
    the value at a character is the state *after* reading it (an opening quote is inside)."""
    n = len(text)
    quotes, depth, line, start, vowel = (np.zeros(n, np.float32) for _ in range(5))
    letter = np.zeros(n, bool)
    inside, level, col, prev_word = False, 0, 0, False
    for i, c in enumerate(text):
        if c in QUOTES:
            inside = (not inside) if QUOTES[c] is None else QUOTES[c]
        elif c == "\n" and i and text[i - 1] == "\n":
            inside = False         # a quotation never spans a blank line (one that goes on reopens)
        level = level + 1 if c in OPEN else max(0, level - 1) if c in CLOSE else level
        quotes[i], depth[i], line[i] = inside, level, col
        col = 0 if c == "\n" else col + 1
        word = is_word_char(c)
        start[i] = word and not prev_word
        prev_word = word
        if c.isalpha() and not is_jamo(c) and _base_letter(c).isascii():
            letter[i], vowel[i] = True, _base_letter(c) in VOWELS
    everywhere = np.ones(n, bool)
    feats = {"in_quotes": (quotes, everywhere), "bracket_depth": (depth, everywhere),
             "in_brackets": ((depth > 0).astype(np.float32), everywhere),
             "line_position": (line, everywhere), "word_start": (start, everywhere), "vowel": (vowel, letter)}
    if any(map(is_jamo, text)):
        cps = np.array([ord(c) for c in text])
        for name, lo, hi in (("jamo_initial", 0x1100, 0x115F), ("jamo_medial", 0x1160, 0x11A7),
                             ("jamo_final", 0x11A8, 0x11FF)):
            feats[name] = (((cps >= lo) & (cps <= hi)).astype(np.float32), everywhere)
    if feats["in_brackets"][0].std() == 0 or np.array_equal(feats["in_brackets"][0], depth):
        feats.pop("in_brackets")      # no brackets, or never nested: the same as bracket_depth
    return {k: v for k, v in feats.items() if v[1].sum() >= MIN_DEFINED and v[0][v[1]].std() > 0}


def correlations(acts: np.ndarray, values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Pearson correlation of each column of ``acts`` (N, K) with ``values`` (N,) over ``mask``;
    0 for a column that does not vary."""
    if mask is not None:
        acts, values = acts[mask], values[mask]
    a = acts.astype(np.float64) - acts.mean(0)
    v = values.astype(np.float64) - values.mean()
    denom = np.sqrt((a * a).sum(0) * (v * v).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a * v[:, None]).sum(0) / denom
    return np.nan_to_num(r)


def rank_cells(acts: np.ndarray, features: dict, labels: list, top: int = 20) -> list[CellScore]:
    """The units best at tracking a feature: first the best unit of each feature (strongest first;
    one unit may be the best of two), then other units by their strongest |r|, ``top`` in all."""
    if len(labels) != acts.shape[1]:
        raise ValueError(f"{len(labels)} labels for {acts.shape[1]} units")
    table = {name: correlations(acts, values, mask) for name, (values, mask) in features.items()}
    sizes = {name: int(mask.sum()) for name, (_, mask) in features.items()}
    best = [CellScore(name, labels[int(np.abs(r).argmax())], float(r[np.abs(r).argmax()]), sizes[name])
            for name, r in table.items()]
    best.sort(key=lambda s: -abs(s.r))
    pairs = sorted(((abs(r[k]), name, k) for name, r in table.items() for k in np.argsort(-np.abs(r))[:top]),
                   reverse=True)
    out, seen = best[:top], {s.label for s in best}
    for _, name, k in pairs:
        if labels[k] not in seen and len(out) < top:
            seen.add(labels[k])
            out.append(CellScore(name, labels[k], float(table[name][k]), sizes[name]))
    return out
