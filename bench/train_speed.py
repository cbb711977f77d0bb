"""Benchmark: training throughput (chars/s) of a few model / batch shapes on one device, e.g. a GPU.

Each shape trains ``--steps`` steps through ``chargen.train`` (validation off after step 0) on the
bundled Austen corpus (or ``--corpus``); the figure is the median of the chars/s the training log
records every 50 steps, the first 50 (warm-up, cuDNN autotuning) left out. Prints a table and
writes JSON.

    python bench/train_speed.py --device cuda --json bench/results/train_speed_gpu.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from chargen import cpu  # noqa: E402
from chargen.model import ModelConfig  # noqa: E402
from chargen.train import TrainConfig, train  # noqa: E402

# (hidden_size, num_layers, batch_size, bptt_len, precision)
SHAPES = [(512, 2, 32, 64, "auto"), (512, 2, 256, 128, "auto"), (512, 2, 256, 128, "fp32"),
          (1024, 3, 256, 128, "auto")]


def measure(corpus: str, device: str, shape, steps: int, workdir: Path) -> dict:
    hidden, layers, batch, bptt, precision = shape
    out = workdir / f"h{hidden}x{layers}_b{batch}_t{bptt}_{precision}"
    s = train(TrainConfig(corpus=[corpus], out=str(out), batch_size=batch, bptt_len=bptt, lr=2e-3,
                          max_minutes=0, max_steps=steps, eval_interval=10 ** 9, patience=0, progress=False,
                          device=device, precision=precision, val_max_tokens=100_000),
              ModelConfig(hidden_size=hidden, num_layers=layers, dropout=0.0), log=lambda *a: None)
    recs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    cps = [r["chars_per_s"] for r in recs if r["event"] == "train" and r["step"] > 50]
    return {"hidden_size": hidden, "num_layers": layers, "batch_size": batch, "bptt_len": bptt,
            "precision": s["precision"], "device": s["device"], "params": s["params"], "steps": steps,
            "chars_per_s": statistics.median(cps),
            "train_loss_end": [r for r in recs if r["event"] == "train"][-1]["loss"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    ap.add_argument("--corpus", default=str(ROOT / "corpora" / "austen"))
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for shape in SHAPES:
            rows.append(measure(args.corpus, args.device, shape, args.steps, Path(d)))
            r = rows[-1]
            print(f"{r['num_layers']}x{r['hidden_size']:<5} B{r['batch_size']:<4} T{r['bptt_len']:<4} "
                  f"{r['precision']:<5} {r['device']:<7} {r['chars_per_s']:>12,.0f} chars/s", flush=True)
    result = {"device": args.device, "gpu": gpu, "cpu": cpu.describe(), "torch": torch.__version__, "corpus": args.corpus,
              "rows": rows}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
