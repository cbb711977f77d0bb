"""Small helpers the benchmarks share (standard library only: the browser benchmarks load no torch)."""


def pct(xs, q):
    """The q-quantile of xs (nearest rank, q in [0, 1])."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]
