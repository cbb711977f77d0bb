"""Small statistics the benchmarks and the keystroke simulation share (standard library only, so
the browser benchmarks can use it without loading torch).

    pct([3, 1, 2], 0.5)     # 2: the nearest-rank quantile
"""


def pct(xs, q):
    """The q-quantile of xs (nearest rank, q in [0, 1])."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]
