"""Keyboard keys: which on-screen key types a character, how a two-set Korean keyboard composes
the jamo it types, and how a character is shown on a key or chip. Used by the web app's keyboard
and by the keystroke simulation; no model here.

Usage:

    type_jamo("한", "\u1161")        # -> "하나": a vowel takes the final consonant, as on a phone
    key_of("국")                      # -> "ㄱ": the key a syllable starts with
    mass, best = key_distribution(session)   # next-character probability per on-screen key
    word_keys("과")                   # -> ("ㄱ", "ㅗ", "ㅏ"): the keys typed, compound vowels split
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache

from .hangul import compose_hangul, decompose_hangul, is_hangul, is_jamo, is_syllable, syllable_jamo

# The on-screen keyboards the app draws (rows centred under each other, as on a phone)
LATIN_ROWS = ["1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", ",.?!'\":;-"]
KOREAN_ROWS = ["ㅂㅈㄷㄱㅅㅛㅕㅑㅐㅔ", "ㅁㄴㅇㄹㅎㅗㅓㅏㅣ", "ㅋㅌㅊㅍㅠㅜㅡ", "ㅃㅉㄸㄲㅆㅒㅖ", "ㅘㅙㅚㅝㅞㅟㅢ",
               ",.?!'\"~^"]
# a two-set keyboard types these with Shift on the key beneath (drawn on a row of their own here)
SHIFTED = {"ㅃ": "ㅂ", "ㅉ": "ㅈ", "ㄸ": "ㄷ", "ㄲ": "ㄱ", "ㅆ": "ㅅ", "ㅒ": "ㅐ", "ㅖ": "ㅔ"}
SHIFT_GAP = 0.4        # key widths between a shifted key and its base, for the typing-noise model


def key_centres(rows: list[str]) -> dict[str, tuple[float, float]]:
    """Each key's centre in key widths (x right, y down), rows centred on the widest; a shifted
    Korean key sits just off its base key (Shift is one slip away from the key without it)."""
    width = max(len(r) for r in rows)
    out = {}
    for y, row in enumerate(rows):
        for x, k in enumerate(row):
            out.setdefault(k, ((width - len(row)) / 2 + x + 0.5, y + 0.5))
    for k, base in SHIFTED.items():
        if k in out and base in out:
            bx, by = out[base]
            out[k] = (bx, by + SHIFT_GAP)
    return out


@lru_cache(maxsize=1)
def _jamo_tables():
    """conjoining jamo -> compatibility jamo (what a keyboard shows), and a key's typed jamo
    (the initial consonant, or the vowel)."""
    to_compat, typed = {}, {}
    for cp in range(0x1100, 0x1200):
        name = unicodedata.name(chr(cp), "")
        for prefix in ("HANGUL CHOSEONG ", "HANGUL JUNGSEONG ", "HANGUL JONGSEONG "):
            if name.startswith(prefix):
                try:
                    compat = unicodedata.lookup("HANGUL LETTER " + name[len(prefix):])
                except KeyError:
                    break
                to_compat[chr(cp)] = compat
                if prefix != "HANGUL JONGSEONG ":
                    typed.setdefault(compat, chr(cp))
    return to_compat, typed


# Two ways to count keys, for two different questions:
# - jamo_keys: one key per conjoining jamo of a syllable's NFD decomposition (a compound vowel such as
#   ㅘ is one jamo, so one key). The unit of the jamo keystroke-savings figures and of the suggestion
#   bar's "adds at least two keys" rule: what a keyboard with a key for every jamo types.
# - char_keys / word_keys (below): the keys a standard two-set keyboard presses, compound vowels and
#   final clusters split (ㅘ = ㅗ + ㅏ). Used to match what an input method may still compose.
def jamo_keys(c: str) -> int:
    """Keys to type c with a key per jamo: 2 or 3 for a Hangul syllable (its NFD jamo), else 1."""
    return syllable_jamo(c) if is_syllable(c) else 1


def text_jamo_keys(text: str) -> int:
    return sum(jamo_keys(c) for c in text)


# compound vowels and final consonant clusters: a two-set keyboard types them as two keys
_SPLIT = {"ㅘ": "ㅗㅏ", "ㅙ": "ㅗㅐ", "ㅚ": "ㅗㅣ", "ㅝ": "ㅜㅓ", "ㅞ": "ㅜㅔ", "ㅟ": "ㅜㅣ", "ㅢ": "ㅡㅣ",
          "ㄳ": "ㄱㅅ", "ㄵ": "ㄴㅈ", "ㄶ": "ㄴㅎ", "ㄺ": "ㄹㄱ", "ㄻ": "ㄹㅁ", "ㄼ": "ㄹㅂ", "ㄽ": "ㄹㅅ",
          "ㄾ": "ㄹㅌ", "ㄿ": "ㄹㅍ", "ㅀ": "ㄹㅎ", "ㅄ": "ㅂㅅ"}


@lru_cache(maxsize=65536)
def char_keys(c: str) -> tuple[str, ...]:
    """The keys a two-set Korean keyboard presses for one character, in order: a syllable's
    initial consonant, vowel and final consonant, compound ones split (과 -> ㄱ ㅗ ㅏ, 닭 -> ㄷ ㅏ ㄹ ㄱ);
    a jamo its key(s); any other character is its own key."""
    if not is_hangul(c):
        return (c,)
    to_compat = _jamo_tables()[0]
    return tuple(k for j in (decompose_hangul(c) if is_syllable(c) else c)
                 for k in _SPLIT.get(to_compat.get(j, j), to_compat.get(j, j)))


def word_keys(text: str) -> tuple[str, ...]:
    """The keys that type ``text`` (see :func:`char_keys`). While a syllable is being composed, the
    text typed so far is a key-prefix of every word it may still become: 고 of 과, 각 of 가게."""
    return tuple(k for c in text for k in char_keys(c))


def show_char(c: str) -> str:
    """How a character is written on a chip: visible whitespace, compatibility jamo."""
    return {" ": "␣", "\n": "⏎", "\t": "⇥"}.get(c) or _jamo_tables()[0].get(c) or (c if c.isprintable() else repr(c))


def typed_jamo(key: str) -> str:
    """The conjoining jamo a Korean key types (its initial consonant or vowel); other keys as is."""
    return _jamo_tables()[1].get(key, key)


def _is_vowel(c: str) -> bool:
    return 0x1160 <= ord(c) <= 0x11A7


def type_jamo(text: str, jamo: str) -> str:
    """Append one conjoining jamo and recompose; a vowel after a final consonant takes it as its
    initial, as a two-set Korean keyboard does (한 + ㅏ -> 하나)."""
    d = decompose_hangul(text)
    if _is_vowel(jamo) and len(d) >= 2 and 0x11A8 <= ord(d[-1]) <= 0x11FF and _is_vowel(d[-2]):
        to_compat, typed = _jamo_tables()
        lead = typed.get(to_compat.get(d[-1], ""))
        if lead and not _is_vowel(lead):
            d = d[:-1] + lead
    return compose_hangul(d + jamo)


def delete_key(text: str, jamo: bool) -> str:
    """Backspace: one jamo on a jamo keyboard (국 -> 구), else one character."""
    return compose_hangul(decompose_hangul(text)[:-1]) if jamo else text[:-1]


@lru_cache(maxsize=65536)
def key_of(c: str) -> str:
    """The on-screen key that types ``c``: a Latin letter's key is its lower-case base letter; a
    jamo's its compatibility jamo; a syllable's (Korean char models) its initial consonant."""
    if c in (" ", "\n"):
        return {" ": "space", "\n": "enter"}[c]
    if is_syllable(c[0]):
        c = decompose_hangul(c[0])[0]
    if is_jamo(c):
        return _jamo_tables()[0].get(c, c)
    return unicodedata.normalize("NFD", c)[0].lower() if c.isalpha() else c


def key_distribution(session) -> tuple[dict, dict]:
    """Per on-screen key: the total probability of the next characters it types, and the most
    probable of them (what a click types: e.g. upper case where the model expects it)."""
    mass, best = {}, {}
    for c, p in session.next_chars(session.p.tokenizer.vocab_size):
        k = key_of(c)
        mass[k] = mass.get(k, 0.0) + p
        if k not in best:                     # next_chars is ranked: the first is the likeliest
            best[k] = c
    return mass, best
