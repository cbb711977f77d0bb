"""Gesture typing measured with kebbie's swipe generator (FleksySDK's keyboard benchmark, MIT): every
word kebbie can swipe in a sentence (lower-case letters of its en-US layout's first layer, two or
more) is drawn by its NoiseModel("en-US").swipe (fuzzy taps on the key centres, Bezier curves between
them; the random state seeded per sentence as its oracle seeds it), and decoded with the sentence so
far as context (kebbie's preprocessing and context update) by chargen's decoder (``gesture.resolve``)
and the SHARK2 baseline (``gesture.shark2``); top-1 and top-3 by kebbie's rule (the word exactly
first / among the first three) and decode latency. Korean (kebbie has no Korean layout): kebbie's
``make_swipe_gesture`` through fuzzy taps (kebbie's sigma, half a key / 3) of the jamo keys on the
app's two-set layout drawn as 32 x 72 pixel keys. kebbie is optional (``typing_bench.import_kebbie``).

    cases = swipes(sentences, seed=0)                     # [(context, word, points)]
    r = evaluate(predictor, cases, kebbie_layout())        # {"top1": ..., "shark2_top1": ..., "p99_ms": ...}
"""
from __future__ import annotations

import hashlib
import random
import time

from . import gesture as G
from .keys import word_keys
from .typing_bench import import_kebbie

KEY_W, KEY_H = 32.0, 72.0               # kebbie en-US's letter keys, in its pixels


def kebbie_layout() -> dict:
    """kebbie's en-US first layer: each letter key's box (left, top, right, bottom) in its pixels."""
    import_kebbie()
    from kebbie.utils import load_keyboard
    out = {}
    for button in load_keyboard("en-US")["layout"][0]["buttons"]:
        label, r = button["labels"][0], button["boundingRect"]
        if button["type"] == 1 and len(label) == 1:
            out[label] = (r["left"], r["top"], r["right"], r["bottom"])
    return out


def korean_layout() -> dict:
    """The app's two-set keyboard drawn with kebbie's key size."""
    return {k: (b[0] * KEY_W, b[1] * KEY_H, b[2] * KEY_W, b[3] * KEY_H) for k, b in G.default_layout(True).items()}


def korean_swipe(word: str, layout: dict):
    """kebbie's swipe generator through fuzzy taps of the word's jamo keys (None if a key is missing)."""
    from kebbie.gesture import make_swipe_gesture
    keys = word_keys(word)
    if len(keys) < 2 or any(k not in layout for k in keys):
        return None
    taps = []
    for k in keys:
        b = layout[k]
        taps.append((random.gauss((b[0] + b[2]) / 2, (b[2] - b[0]) / 6), random.gauss((b[1] + b[3]) / 2, (b[3] - b[1]) / 6)))
    return make_swipe_gesture(taps)


def swipes(sentences: list[str], seed: int = 0, korean: bool = False) -> list[tuple[str, str, list]]:
    """(context, word, gesture) for every word kebbie can swipe, sentence by sentence."""
    import_kebbie()
    from kebbie.noise_model import NoiseModel
    from kebbie.tokenizer import BasicTokenizer
    noisy = None if korean else NoiseModel("en-US", common_typos={})
    layout = korean_layout() if korean else None
    tok, out = BasicTokenizer(), []
    for sentence in sentences:
        random.seed(seed + int(hashlib.sha256(sentence.encode("utf-8")).hexdigest(), 16))
        context = ""
        for word in tok.word_split(tok.preprocess(sentence)):
            g = korean_swipe(word, layout) if korean else noisy.swipe(word)
            if g is not None and word.isalpha():
                out.append((context, word, [tuple(map(float, pt)) for pt in g]))
            context = tok.update_context(context, word)
    return out


def percentile(xs, q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def evaluate(p, cases, layout: dict, weights=G.WEIGHTS, prior_weight: float = G.PRIOR_WEIGHT, beam: bool = True) -> dict:
    """Top-1 / top-3 of the decoder and of SHARK2 on ``cases``, and the decoder's latency (ms: wall
    clock, and the thread's CPU time, which other processes on a shared machine do not inflate). Words
    are compared as kebbie compares them (exactly): the decoder does not capitalise a sentence's start
    here (kebbie swipes lower-case words only)."""
    G.templates(p, layout)                       # built once, not timed
    s = p.session()
    if cases:                                    # the first decode's one-off costs (allocations), not timed
        G.resolve(s, cases[0][2], 3, layout, weights, prior_weight, beam)
    hit = {"top1": 0, "top3": 0, "shark2_top1": 0, "shark2_top3": 0}
    ms, cpu_ms, base_ms = [], [], []
    for context, word, g in cases:
        s.set_text(context)
        t0, c0 = time.perf_counter(), time.thread_time()
        got = [w for w, _ in G.resolve(s, g, 3, layout, weights, prior_weight, beam, case=False)]
        ms.append(1000 * (time.perf_counter() - t0))
        cpu_ms.append(1000 * (time.thread_time() - c0))
        t0 = time.perf_counter()
        base = [w for w, _ in G.shark2(p, g, 3, layout)]
        base_ms.append(1000 * (time.perf_counter() - t0))
        hit["top1"] += bool(got) and got[0] == word
        hit["top3"] += word in got[:3]
        hit["shark2_top1"] += bool(base) and base[0] == word
        hit["shark2_top3"] += word in base[:3]
    n = max(1, len(cases))
    return {"gestures": len(cases), **{k: v / n for k, v in hit.items()}, "p50_ms": percentile(ms, 0.5),
            "p99_ms": percentile(ms, 0.99), "cpu_p50_ms": percentile(cpu_ms, 0.5), "cpu_p99_ms": percentile(cpu_ms, 0.99),
            "shark2_p50_ms": percentile(base_ms, 0.5), "ms": ms, "cpu_ms": cpu_ms}
