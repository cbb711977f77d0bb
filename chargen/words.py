"""What a word is, for the keyboard, the word statistics and the keystroke simulation alike.

A word is a maximal run of word characters, ``c.isalnum() or c == "'"`` (Hangul syllables and
jamo count as letters); anything else (space, punctuation, newline, emoji) ends one. Usage:

    current_word("Mr. Knightl")     # "Knightl": the word being typed (empty after a space)
    previous_word("Mr. Knightl")    # "Mr"
    words_of("Emma, Mr. Knightley") # ["Emma", "Mr", "Knightley"]
"""
from __future__ import annotations


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


def previous_words(text: str, k: int = 2) -> list[str | None]:
    """The k whole words before the current one, oldest first (None where the text has fewer)."""
    out, i = [], len(text) - len(current_word(text))
    for _ in range(k):
        while i > 0 and not is_word_char(text[i - 1]):
            i -= 1
        w = current_word(text[:i])
        out.append(w or None)
        i -= len(w)
        if not w:
            break
    out += [None] * (k - len(out))
    return out[::-1]


def sentence_start(text: str) -> bool:
    """Whether the current word starts a sentence: nothing but spaces since a . ! ? or a line break."""
    head = text[:len(text) - len(current_word(text))].rstrip(" \t\"'(")
    return not head or head[-1] in ".!?\n"


def word_tokens(texts: list[str], unk_id: int) -> list[bool]:
    """Per token (its text): True where it continues a word; any other token ends one (the unknown
    token neither, so callers leave it out of both)."""
    return [bool(t) and all(is_word_char(c) for c in t) and i != unk_id for i, t in enumerate(texts)]


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every maximal run of word characters, in order."""
    out, start = [], None
    for i, c in enumerate(text):
        if is_word_char(c):
            if start is None:
                start = i
        elif start is not None:
            out.append((start, i))
            start = None
    if start is not None:
        out.append((start, len(text)))
    return out


def words_of(text: str) -> list[str]:
    """Maximal runs of word characters, in order."""
    return [text[a:b] for a, b in word_spans(text)]
