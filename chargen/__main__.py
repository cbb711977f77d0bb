"""Command line: ``python -m chargen train | sample | eval | info``.

A thin layer: every command parses flags and calls the library. Errors in the user's input
(corpus, checkpoint, flags) print one clear line and exit with status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from .cli_args import add_dataclass_args, dataclass_from_args

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "checkpoints" / "default"


def _parser() -> argparse.ArgumentParser:
    from .model import ModelConfig
    from .train import TrainConfig
    p = argparse.ArgumentParser(prog="python -m chargen", description="Character/subword LSTM language models.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model on a corpus (or --resume one)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_dataclass_args(t, TrainConfig)
    add_dataclass_args(t, ModelConfig)

    s = sub.add_parser("sample", help="generate text from a checkpoint")
    s.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT), help="checkpoint or run directory")
    s.add_argument("--prompt", default="", help="text to continue")
    s.add_argument("--length", type=int, default=500, help="tokens to generate")
    s.add_argument("--temperature", type=float, default=0.8, help="softmax temperature (> 0)")
    s.add_argument("--top-k", type=int, default=0, help="sample among the k most probable (0: all)")
    s.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass (1: off)")
    s.add_argument("--greedy", action="store_true", help="always take the most probable token")
    s.add_argument("--seed", type=int, default=None, help="random seed for reproducible output")
    s.add_argument("--stop", action="append", default=[], help="stop when this string is produced (repeatable)")

    e = sub.add_parser("eval", help="loss of a text under a checkpoint (nats/char, bits/char)")
    e.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT), help="checkpoint or run directory")
    e.add_argument("--text", required=True, help="text file to score")
    e.add_argument("--encoding", default="utf-8", help="the text file's encoding")
    e.add_argument("--json", default=None, help="also write the figures to this JSON file")

    i = sub.add_parser("info", help="describe a checkpoint")
    i.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT), help="checkpoint or run directory")
    return p


def cmd_train(args) -> int:
    from .model import ModelConfig
    from .train import RESUME_OVERRIDES, TrainConfig, train
    cfg = dataclass_from_args(TrainConfig, args)
    overrides = {k: getattr(args, k) for k in RESUME_OVERRIDES if getattr(args, k) is not None}
    if not cfg.resume and not cfg.corpus:
        raise ValueError("give the text to learn: --corpus PATH [PATH ...] (or --resume a run)")
    model_cfg = dataclass_from_args(ModelConfig, args)
    command = "python -m chargen " + " ".join(shlex.quote(a) for a in args.argv)
    summary = train(cfg, model_cfg, command=command, log=lambda m: print(m, file=sys.stderr),
                    resume_overrides=overrides)
    last = summary["last"]
    print(f"{summary['stop_reason']} after {summary['step']} steps, {summary['elapsed'] / 60:.1f} min: "
          f"val {last.get('val_nats', float('nan')):.4f} nats/char, {last.get('val_bpc', float('nan')):.4f} bpc; "
          f"best {summary['best_val_nats']:.4f} nats/char -> {Path(summary['out']) / 'best'}")
    return 0


def cmd_sample(args) -> int:
    from .checkpoint import load_checkpoint
    from .sample import generate
    model, tok, _ = load_checkpoint(args.checkpoint)
    sys.stdout.write(args.prompt)
    for piece in generate(model, tok, args.prompt, args.length, args.temperature, args.top_k, args.top_p,
                          args.greedy, args.seed, args.stop):
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return 0


def cmd_eval(args) -> int:
    from .checkpoint import load_checkpoint
    from .data import find_files, iter_text
    from .evaluate import text_metrics
    model, tok, _ = load_checkpoint(args.checkpoint)
    text = "".join(iter_text(find_files([args.text]), args.encoding))
    m = text_metrics(model, tok, text)
    print(f"{args.text}: {m['val_nats']:.4f} nats/char, {m['val_bpc']:.4f} bits/char "
          f"({m['val_chars']:,} characters, {m['val_tokens']:,} tokens, "
          f"{m['val_nats_per_token']:.4f} nats/token)")
    if args.json:
        Path(args.json).write_text(json.dumps(m, indent=2))
    return 0


def cmd_info(args) -> int:
    from .checkpoint import load_checkpoint
    model, tok, config = load_checkpoint(args.checkpoint)
    m, c = config["model"], config.get("corpus", {})
    print(f"model:     {m['num_layers']} x {m['hidden_size']} {m['cell'].upper()}, embedding {m['embed_size']}, "
          f"dropout {m['dropout']}, tied {m['tie_weights']}, {model.num_params():,} parameters")
    print(f"tokenizer: {tok.kind}, {tok.vocab_size:,} symbols")
    if c:
        print(f"corpus:    {', '.join(c.get('files', []))} ({c.get('chars', 0):,} chars, sha256 {c.get('sha256', '')[:16]}...)")
    metrics = config.get("metrics", {})
    if metrics:
        print(f"val:       {metrics.get('val_nats', float('nan')):.4f} nats/char, "
              f"{metrics.get('val_bpc', float('nan')):.4f} bpc at step {metrics.get('step')}")
    if config.get("command"):
        print(f"trained:   {config['command']}")
    return 0


def main(argv=None) -> int:
    from .checkpoint import CheckpointError
    from .data import CorpusError
    from .tokenizer import TokenizerError
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser().parse_args(argv)
    args.argv = argv
    handler = {"train": cmd_train, "sample": cmd_sample, "eval": cmd_eval, "info": cmd_info}[args.command]
    try:
        return handler(args)
    except (CorpusError, CheckpointError, TokenizerError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
