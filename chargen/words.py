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


def words_of(text: str) -> list[str]:
    """Maximal runs of word characters, in order."""
    out, start = [], None
    for i, c in enumerate(text):
        if is_word_char(c):
            if start is None:
                start = i
        elif start is not None:
            out.append(text[start:i])
            start = None
    if start is not None:
        out.append(text[start:])
    return out
