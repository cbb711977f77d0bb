"""Gesture typing measured: kebbie's swipe gestures on held-out sentences, decoded by chargen's gesture
decoder (template matching + the keyboard's language model, ``chargen.gesture.resolve``) and by the
SHARK2 baseline (the same matching with word frequency only, ``chargen.gesture.shark2``) in one run;
top-1 and top-3 swipe resolution (kebbie's rule: the word exactly first / among the first three) and
decode latency. The protocol is ``chargen.gesture_bench`` (also ``chargen eval --gestures``).

English: kebbie 0.5.1's own NoiseModel("en-US").swipe for every word it can swipe in sentences of the
validation split (the last 10% of the characters) of Austen, Tiny Shakespeare, the World English
Bible and the Devil's Dictionary (bench/typos.py's corpora and splits), the sentence so far as
context; the layout handed to the decoder is kebbie's key boxes, in its pixels. Korean: NSMC test with
checkpoints/korean, kebbie's make_swipe_gesture through fuzzy taps on the app's two-set layout.
--dev draws sentences from the training part instead; --tune chooses the decoder's and the
baseline's weights there (never on the evaluation text).

    python bench/gestures.py --sentences 50 --json bench/results/gestures.json
    python bench/gestures.py --sentences 25 --dev --tune --domains austen tinyshakespeare bible devils
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from chargen import gesture as G  # noqa: E402
from chargen import gesture_bench as gb  # noqa: E402
from chargen import typing_bench as tb  # noqa: E402
from chargen.predictor import Predictor  # noqa: E402

ENGLISH = ["austen", "tinyshakespeare", "bible", "devils"]


def features(p: Predictor, cases, layout, pool_size: int = 96):
    """Per gesture, for tuning: the candidates' channels, log frequency and log prior (the mixture with
    the character model for every candidate of the pool), and which candidate is the word swiped."""
    s, out = p.session(), []
    t = G.templates(p, layout)
    for context, word, g in cases:
        s.set_text(context)
        raw = G.despike(G._points(g) / t.unit)
        words, ch, freq, found = G.pool(s, t, raw, keep=400)
        if not words:
            out.append(None)
            continue
        keep = set()
        for w in ([4, 4, 2, 2, 2], [8, 1, 1, 1, 1], [1, 8, 1, 1, 1], [1, 1, 8, 8, 1], [1, 1, 1, 1, 8]):
            keep |= set(np.argsort(-(-(ch @ np.array(w, float)) + freq), kind="stable")[:pool_size // 5].tolist())
        keep |= {i for i, x in enumerate(words) if x not in t.index}
        keep = sorted(keep)
        sub = [words[i] for i in keep]
        prior = G.priors(s, t, sub, found, list(range(len(sub))))
        out.append((sub, ch[keep], freq[keep], prior, sub.index(word) if word in sub else -1))
    return out


def accuracy(feats, w, prior_weight, lm=True) -> float:
    w = np.asarray(w, float)
    hit = 0
    for f in feats:
        if f is None or f[4] < 0:
            continue
        score = -(f[1] @ w) + prior_weight * (f[3] if lm else f[2])
        hit += int(np.argmax(score) == f[4])
    return hit / max(1, len(feats))


def tune(feats, lm: bool):
    """Coordinate descent over the channel weights and the prior's weight (on a doubling grid)."""
    best = list(G.WEIGHTS if lm else G.SHARK2_WEIGHTS) + [G.PRIOR_WEIGHT if lm else G.SHARK2_PRIOR]
    best = [b or 1.0 for b in best]
    k = len(best) - 1
    acc = accuracy(feats, best[:k], best[k], lm)
    for _ in range(3):
        for i in range(k + 1):
            for f in (0.0, 0.25, 0.5, 0.7, 1.4, 2.0, 4.0):
                trial = list(best)
                trial[i] = best[i] * f if i < k or f else best[i]
                if i < k and best[i] == 0.0 and f > 1:
                    trial[i] = f / 2
                a = accuracy(feats, trial[:k], trial[k], lm)
                if a > acc:
                    acc, best = a, trial
        print(f"{'LM' if lm else 'SHARK2'}: {acc:.4f} at weights {best[:k]} prior {best[k]}", file=sys.stderr, flush=True)
    return best, acc


def table(results: dict) -> str:
    lines = ["| domain | gestures | decoder top-1 | top-3 | SHARK2 top-1 | top-3 | top-1 ratio | p50 ms | p99 ms "
             "| CPU p50 ms | CPU p99 ms |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for d, r in results.items():
        ratio = r["top1"] / r["shark2_top1"] if r["shark2_top1"] else float("inf")
        lines.append(f"| {d} | {r['gestures']} | {r['top1']:.3f} | {r['top3']:.3f} | {r['shark2_top1']:.3f} | "
                     f"{r['shark2_top3']:.3f} | {ratio:.2f}x | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['cpu_p50_ms']:.1f} | "
                     f"{r['cpu_p99_ms']:.1f} |")
    return "\n".join(lines)


def cpu_kind() -> str:
    try:
        flags = open("/proc/cpuinfo", encoding="utf-8").read()
    except OSError:
        return "unknown"
    return "AVX-512 + bf16" if "avx512_bf16" in flags else "AVX2" if "avx2" in flags else "other"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default="default", help="the English model (bundled name or path)")
    ap.add_argument("--korean-checkpoint", default="korean")
    ap.add_argument("--domains", nargs="+", default=ENGLISH + ["nsmc"])
    ap.add_argument("--sentences", type=int, default=50, help="sentences per domain")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dev", action="store_true", help="sentences from the training part (tuning)")
    ap.add_argument("--weights", default=None, help="shape,location,keys,coverage,ends channel weights (default: the module's)")
    ap.add_argument("--prior-weight", type=float, default=G.PRIOR_WEIGHT)
    ap.add_argument("--no-beam", action="store_true", help="no candidates from the character model's beam")
    ap.add_argument("--tune", action="store_true", help="choose the weights on these gestures (use with --dev)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    from typos import corpus, held_out   # bench/typos.py's corpora and splits
    tb.import_kebbie()
    weights = tuple(float(x) for x in args.weights.split(",")) if args.weights else G.WEIGHTS
    models, results, tuning = {}, {}, []
    for d in args.domains:
        korean = d == "nsmc"
        ck = args.korean_checkpoint if korean else args.checkpoint
        p = models.get(ck) or models.setdefault(ck, Predictor.from_checkpoint(ck))
        layout = gb.korean_layout() if korean else gb.kebbie_layout()
        sents = tb.sentences(held_out(d, args.dev), args.sentences, args.seed, unwrap=corpus(d)[1])
        cases = gb.swipes(sents, args.seed, korean)
        if args.tune:
            G.templates(p, layout)
            tuning.extend(features(p, cases, layout))
            continue
        r = gb.evaluate(p, cases, layout, weights, args.prior_weight, not args.no_beam)
        r.update(checkpoint=str(ck), sentences=len(sents))
        results[d] = r
        print(f"{d}: {r['gestures']} gestures, top-1 {r['top1']:.3f} (SHARK2 {r['shark2_top1']:.3f}), "
              f"top-3 {r['top3']:.3f}, p99 {r['p99_ms']:.1f} ms", file=sys.stderr, flush=True)
    if args.tune:
        for lm in (True, False):
            print(tune(tuning, lm))
        return 0
    eng = [d for d in results if d != "nsmc"]
    if eng:
        tot = sum(results[d]["gestures"] for d in eng)
        allms = [m for d in eng for m in results[d]["ms"]]
        allcpu = [m for d in eng for m in results[d]["cpu_ms"]]
        results["English (all)"] = {"gestures": tot, **{k: sum(results[d][k] * results[d]["gestures"] for d in eng) / max(1, tot)
                                                          for k in ("top1", "top3", "shark2_top1", "shark2_top3")},
                                    "p50_ms": gb.percentile(allms, 0.5), "p99_ms": gb.percentile(allms, 0.99),
                                    "cpu_p50_ms": gb.percentile(allcpu, 0.5), "cpu_p99_ms": gb.percentile(allcpu, 0.99)}
    print(table(results))
    if args.json:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        slim = {d: {k: v for k, v in r.items() if k not in ("ms", "cpu_ms")} for d, r in results.items()}
        Path(args.json).write_text(json.dumps({"results": slim, "weights": weights, "prior_weight": args.prior_weight,
                                               "shark2_weights": G.SHARK2_WEIGHTS, "shark2_prior": G.SHARK2_PRIOR,
                                               "dev": args.dev, "sentences": args.sentences, "seed": args.seed,
                                               "cpu": cpu_kind(), "threads": os.environ.get("OMP_NUM_THREADS"),
                                               "commit": commit}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
