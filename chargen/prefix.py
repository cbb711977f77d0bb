"""Prefixes: how much two texts (or id lists) share at the start, and which strings of a sorted
list start with a prefix. C-speed comparisons, no per-character Python loop. Usage:

    common_prefix("Mr. Knight", "Mr. Knave")     # 6
    lo, hi = prefix_range(sorted_words, "Kni")   # sorted_words[lo:hi] start with "Kni"
"""
from __future__ import annotations

import bisect


def prefix_range(sorted_strings: list[str], prefix: str) -> tuple[int, int]:
    """The slice of a sorted list holding exactly the strings that start with ``prefix``."""
    return (bisect.bisect_left(sorted_strings, prefix),
            bisect.bisect_left(sorted_strings, prefix + "\U0010ffff"))


def common_prefix(a, b) -> int:
    """Length of the common prefix of two strings or id lists (a C-speed comparison per probe)."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n                    # a[:lo] == b[:lo], a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    return lo
