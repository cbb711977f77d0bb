"""Hangul by Unicode's arithmetic: syllables <-> conjoining jamo, and what kind of Hangul a
character is. The tokenizer (jamo mode), the keyboard's keys, sampling and the keystroke simulation
all read Hangul through this module. Vectorised with numpy for whole texts. Usage:

    decompose_hangul("국민")      # "국민" (exactly what NFD does to syllables)
    compose_hangul("국")        # "국"
    is_syllable("국"), is_jamo("ᄀ"), is_hangul("ㄱ"), syllable_jamo("국")   # True, True, True, 3
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

BLOCK = 1 << 20  # chars per numpy pass: bounds the 4-bytes-per-char temporaries on huge texts

# Unicode's arithmetic layout of the 11,172 syllables: S = 0xAC00 + (L * 21 + V) * 28 + T.
_S_BASE, _S_COUNT = 0xAC00, 11172
_L_BASE, _V_BASE, _T_BASE = 0x1100, 0x1161, 0x11A7  # T index 0 means "no trailing consonant"
_V_COUNT, _T_COUNT = 21, 28
_N_COUNT = _V_COUNT * _T_COUNT


def codepoints(text: str) -> np.ndarray:
    # surrogatepass: a lone surrogate is still one code point and must not crash encode
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def from_codepoints(cps: np.ndarray) -> str:
    return cps.astype(np.uint32, copy=False).tobytes().decode("utf-32-le", "surrogatepass")


def blocks(text: str) -> Iterator[str]:
    for start in range(0, len(text), BLOCK):
        yield text[start:start + BLOCK]


def decompose_codepoints(cps: np.ndarray) -> np.ndarray:
    """Vectorised NFD for precomposed Hangul syllables only; every other code point is kept."""
    offset = cps.astype(np.int64) - _S_BASE
    is_syllable = (offset >= 0) & (offset < _S_COUNT)
    if not is_syllable.any():
        return cps
    s = offset[is_syllable]
    trail = s % _T_COUNT
    lengths = np.ones(len(cps), dtype=np.int64)
    lengths[is_syllable] = 2 + (trail != 0)  # L V, or L V T
    starts = np.cumsum(lengths) - lengths
    out = np.empty(int(lengths.sum()), dtype=np.uint32)
    out[starts[~is_syllable]] = cps[~is_syllable]
    first = starts[is_syllable]
    out[first] = _L_BASE + s // _N_COUNT
    out[first + 1] = _V_BASE + (s % _N_COUNT) // _T_COUNT
    has_trail = trail != 0
    out[first[has_trail] + 2] = _T_BASE + trail[has_trail]
    return out


def is_syllable(c: str) -> bool:
    """A precomposed Hangul syllable (가..힣)."""
    return _S_BASE <= ord(c) < _S_BASE + _S_COUNT


def is_jamo(c: str) -> bool:
    """A conjoining jamo (U+1100..U+11FF), as in decomposed text (or the first character of ``c``)."""
    return 0x1100 <= ord(c[0]) <= 0x11FF


def is_hangul(c: str) -> bool:
    """A Hangul syllable, conjoining jamo (U+1100..U+11FF) or compatibility jamo (ㄱ..ㆎ)."""
    return is_syllable(c) or is_jamo(c) or 0x3131 <= ord(c) <= 0x318E


def syllable_jamo(c: str) -> int:
    """How many conjoining jamo a Hangul syllable decomposes into: 2, or 3 with a final consonant."""
    return 2 + ((ord(c) - _S_BASE) % _T_COUNT > 0)


def decompose_hangul(text: str) -> str:
    """Split precomposed Hangul syllables into conjoining jamo ("국" -> "ᄀ" "ᅮ" "ᆨ"), exactly as
    NFD does for them; all other characters (e.g. "é") are left untouched."""
    return "".join(from_codepoints(decompose_codepoints(codepoints(b))) for b in blocks(text))


def compose_codepoints(cps: np.ndarray) -> np.ndarray:
    """Vectorised inverse of decompose_codepoints: every lead+vowel(+trail) run -> syllable."""
    c = cps.astype(np.int64)
    is_lead = (c >= _L_BASE) & (c < _L_BASE + 19)
    is_vowel = (c >= _V_BASE) & (c < _V_BASE + _V_COUNT)
    is_trail = (c > _T_BASE) & (c < _T_BASE + _T_COUNT)
    first = np.flatnonzero(is_lead[:-1] & is_vowel[1:])  # the three ranges are disjoint, so
    if len(first) == 0:                                  # runs can never overlap
        return cps
    third = np.minimum(first + 2, len(c) - 1)
    has_trail = (first + 2 < len(c)) & is_trail[third]
    trail = np.where(has_trail, c[third] - _T_BASE, 0)
    lead, vowel = c[first] - _L_BASE, c[first + 1] - _V_BASE
    c[first] = _S_BASE + (lead * _V_COUNT + vowel) * _T_COUNT + trail
    keep = np.ones(len(c), dtype=bool)
    keep[first + 1] = False
    keep[third[has_trail]] = False
    return c[keep].astype(np.uint32)


def compose_hangul(text: str) -> str:
    """Join every conjoining leading+vowel(+trailing) jamo sequence into its syllable (what NFC
    does for them); everything else, including lone jamo, is left untouched."""
    return from_codepoints(compose_codepoints(codepoints(text)))


def is_korean_text(text: str, sample: int = 10000) -> bool:
    """Whether a text is Korean enough to count keys in jamo: any syllable among its first characters."""
    return any(map(is_syllable, text[:sample]))
