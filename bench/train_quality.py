"""Benchmark: train the default configuration for M minutes of wall clock on the standard split.

Prints a table and writes JSON: val nats/char and bpc, training chars/s, parameters, minutes, the
fp32 matmul rate (2048 x 2048, measured in the same run, before and after training) and the
training FLOP utilisation against it (6 FLOPs per weight per token: forward 2, backward 4).

    python bench/train_quality.py --minutes 1.67 --json bench/results/train_100s.json
    python bench/train_quality.py --minutes 1 3 10 30 --json bench/results/curve.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from chargen import cpu  # noqa: E402
from chargen.model import ModelConfig  # noqa: E402
from chargen.train import TrainConfig, train  # noqa: E402

SHARED = ROOT.parent / "shared" / "corpora" / "tinyshakespeare.txt"


def matmul_gflops(n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * n ** 3 / statistics.median(times) / 1e9


def run(corpus: str, minutes: float, workdir: Path, extra: dict, index: int = 0) -> dict:
    out = workdir / f"run{index}_{minutes:g}min"
    rate_before = matmul_gflops()
    summary = train(TrainConfig(corpus=[corpus], out=str(out), max_minutes=minutes, progress=False,
                                **extra.get("train", {})), ModelConfig(**extra.get("model", {})))
    rate_after = matmul_gflops()
    records = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    cps = [r["chars_per_s"] for r in records if r.get("event") == "train"][1:]   # skip the warm-up window
    chars_per_s = statistics.median(cps) if cps else float("nan")
    flops_per_char = 6 * summary["params"]       # char tokenizer: one token per character
    rate = statistics.median([rate_before, rate_after])
    last = summary["last"]
    return {"minutes": minutes, "wall_minutes": summary["elapsed"] / 60, "val_nats": last["val_nats"],
            "val_bpc": last["val_bpc"], "best_val_nats": summary["best_val_nats"], "steps": summary["step"],
            "train_chars_per_s": chars_per_s, "params": summary["params"], "model": summary["model"],
            "batch_size": summary["batch_size"], "bptt_len": summary["bptt_len"], "lr": summary["lr"],
            "precision": summary["precision"], "matmul_gflops_fp32": rate,
            "matmul_gflops_samples": [rate_before, rate_after],
            "train_gflops": chars_per_s * flops_per_char / 1e9,
            "flop_utilisation": chars_per_s * flops_per_char / 1e9 / rate,
            "curve": [(h["elapsed"] / 60, h["val_nats"]) for h in summary.get("history", [])],
            "stop_reason": summary["stop_reason"]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default=str(SHARED), help="text file (default: ../shared Tiny Shakespeare)")
    p.add_argument("--minutes", type=float, nargs="+", default=[100 / 60], help="wall-clock budget(s)")
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--workdir", default=None, help="keep the runs here (default: a temporary folder)")
    p.add_argument("--model", default="{}", help='JSON overrides for ModelConfig, e.g. \'{"hidden_size": 256}\'')
    p.add_argument("--train", default="{}", help='JSON overrides for TrainConfig, e.g. \'{"batch_size": 32}\'')
    args = p.parse_args(argv)
    if not Path(args.corpus).exists():
        p.error(f"{args.corpus} not found: pass --corpus PATH")
    extra = {"model": json.loads(args.model), "train": json.loads(args.train)}
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="chargen-bench-"))
    results = [run(args.corpus, m, workdir, extra, i) for i, m in enumerate(args.minutes)]
    head = f"{'budget':>8} {'val nats':>9} {'val bpc':>8} {'steps':>7} {'chars/s':>9} {'params':>9} " \
           f"{'model':>12} {'B':>3} {'mm GF/s':>8} {'train GF/s':>10} {'util':>6}"
    print(head)
    for r in results:
        m = r["model"]
        print(f"{r['minutes']:>7.2f}m {r['val_nats']:>9.4f} {r['val_bpc']:>8.4f} {r['steps']:>7} "
              f"{r['train_chars_per_s']:>9,.0f} {r['params']:>9,} {str(m['num_layers']) + 'x' + str(m['hidden_size']):>12} "
              f"{r['batch_size']:>3} {r['matmul_gflops_fp32']:>8.1f} {r['train_gflops']:>10.1f} {r['flop_utilisation']:>6.0%}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"corpus": args.corpus, "cpu": cpu.describe(), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
