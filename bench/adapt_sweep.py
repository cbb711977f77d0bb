"""Choosing the adaptation's hyper-parameters on held-out text that bench/adapt.py never evaluates:
what adapts (head / last layer + head / all weights), the step size, the decay toward the trained
weights and the segment length, by the adapted bits per character of the keyboard's own reading
(``typed_loss``: each character scored before it is learned), with the time each run took.

Held-out texts (none of them is an evaluation text of bench/adapt.py): for the bundled Austen model,
characters 200,000+ of Tiny Shakespeare's train split and characters 1,000,000+ of the World English
Bible (bench/adapt.py types the Tiny Shakespeare validation split and the Bible's last part), and,
in domain, characters 100,000+ of the Austen validation split (bench/adapt.py types its first ones); for
the Korean model, the first part of the Korean Debian FAQ (bench/adapt.py types its second half).

    python bench/adapt_sweep.py --chars 4000 --json bench/results/adapt_sweep.json --stage targets decay segment lr_at_40 \
        tensor_norm --texts "austen->shakespeare_train" "austen->bible_part" --no-gate
    python bench/adapt_sweep.py --chars 4000 --json bench/results/adapt_sweep.json --stage in_domain tensor_in_domain \
        --texts "austen->austen_val_part" --no-gate
    python bench/adapt_sweep.py --chars 4000 --json bench/results/adapt_sweep.json --stage gated
    python bench/adapt_sweep.py --chars 4000 --json bench/results/adapt_sweep.json --stage korean korean_head_lr korean_head_lr_more \
        --texts "korean->faq_first_part" --no-gate
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from chargen import adapt  # noqa: E402
from chargen.adapt import AdaptConfig  # noqa: E402
from chargen.data import find_files, iter_text  # noqa: E402
from chargen.predictor import Predictor  # noqa: E402
from chargen.typed_loss import typed_loss  # noqa: E402
from corpora import CACHE, SHARED, fetch_debian_faq_ko, fetch_web_bible  # noqa: E402

STAGES = {
    "targets": [AdaptConfig(target=t, lr=lr, decay=1e-3, segment=20, normalise="param") for t in ("head", "last", "all")
                for lr in (1e-3, 3e-3, 1e-2)],
    "decay": [AdaptConfig(target="last", lr=3e-3, decay=d, segment=20, normalise="param") for d in (0.0, 1e-4, 1e-3, 1e-2)],
    "segment": [AdaptConfig(target="last", lr=3e-3, decay=1e-3, segment=n, normalise="param") for n in (5, 10, 20, 40, 80)],
    "lr_at_40": [AdaptConfig(target="last", lr=lr, decay=1e-3, segment=40, normalise="param") for lr in (2e-3, 5e-3)],
    "korean": [AdaptConfig(target=t, lr=3e-3, decay=1e-3, segment=n, normalise="param") for t in ("head", "last") for n in (20, 40)],
    "korean_head_lr": [AdaptConfig(target="head", lr=lr, decay=1e-3, segment=40, normalise="param") for lr in (2e-3, 1e-2)],
    "korean_head_lr_more": [AdaptConfig(target="head", lr=2e-2, decay=1e-3, segment=40, normalise="param")],
    "tensor_norm": [AdaptConfig(target="last", lr=lr, decay=1e-3, segment=40, normalise="tensor")
                    for lr in (1e-3, 3e-3, 1e-2)],
    "tensor_in_domain": [AdaptConfig(target=t, lr=lr, decay=1e-3, segment=40, normalise="tensor")
                         for t, lr in (("last", 1e-3), ("last", 3e-3), ("last", 1e-2), ("head", 1e-2))],
    "gated": [AdaptConfig()],       # the defaults, with the surprise gate
    "in_domain": [AdaptConfig(target=t, lr=lr, decay=1e-3, segment=40, normalise="param")
                  for t, lr in (("last", 2e-3), ("last", 1e-3), ("last", 5e-4), ("last", 2e-4), ("head", 1e-2), ("head", 3e-3))],
}


def held_out(chars: int) -> dict:
    """name -> (checkpoint, text): texts no evaluation of bench/adapt.py reads."""
    ts = (SHARED / "tinyshakespeare.txt").read_text(encoding="utf-8")
    bible = fetch_web_bible(CACHE).read_text(encoding="utf-8")
    faq = fetch_debian_faq_ko(CACHE).read_text(encoding="utf-8")
    out = {"austen->shakespeare_train": (ROOT / "checkpoints" / "default", ts[200_000:200_000 + chars]),
           "austen->bible_part": (ROOT / "checkpoints" / "default", bible[1_000_000:1_000_000 + chars])}
    austen = "".join(iter_text(find_files([ROOT / "corpora" / "austen"])))
    val = austen[int(len(austen) * 0.9):]
    out["austen->austen_val_part"] = (ROOT / "checkpoints" / "default", val[100_000:100_000 + chars])
    out["korean->faq_first_part"] = (ROOT / "checkpoints" / "korean", faq[:min(chars, len(faq) // 2)])
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--chars", type=int, default=5000, help="held-out characters per text")
    p.add_argument("--stage", nargs="*", default=list(STAGES), choices=list(STAGES))
    p.add_argument("--texts", nargs="*", default=None, help="held-out texts to use (default: all)")
    p.add_argument("--json", default=None, help="write (and extend) the results here")
    p.add_argument("--no-gate", action="store_true", help="every step full (the runs before the surprise gate)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    out = json.loads(Path(args.json).read_text()) if args.json and Path(args.json).exists() else {"runs": []}
    predictors = {}
    for name, (ckpt, text) in held_out(args.chars).items():
        if args.texts and name not in args.texts:
            continue
        pred = predictors.setdefault(ckpt, Predictor.from_checkpoint(ckpt))
        if args.no_gate:
            pred.val_loss = None                 # the surprise gate reads it: without it every step is full
        static = typed_loss(pred, text)["val_bpc"]
        for stage in args.stage:
            for cfg in STAGES[stage]:
                t = time.time()
                r = typed_loss(pred, text, learn=cfg)
                row = {"text": name, "chars": len(text), "stage": stage, **cfg.__dict__, "static_bpc": static,
                       "gate": None if args.no_gate else list(adapt.SURPRISE), "loss_ema": adapt.LOSS_EMA,
                       "adapted_bpc": r["val_bpc"], "gain": static - r["val_bpc"], "seconds": time.time() - t,
                       "steps": r["adapt_steps"]}
                out["runs"].append(row)
                print(f"{name:28} {stage:8} {cfg.target:5} lr {cfg.lr if cfg.lr is not None else 'auto'} decay {cfg.decay:g} seg {cfg.segment:3} {cfg.normalise}: "
                      f"{static:.3f} -> {r['val_bpc']:.3f} bpc ({row['seconds']:.1f} s)", flush=True)
                if args.json:
                    Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
