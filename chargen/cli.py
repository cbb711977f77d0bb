"""Command line: ``chargen train | sample | suggest | eval | export | info | app | words | inside | compare``
(or ``python -m chargen``).

A thin layer: every command parses flags (generated from the library's config dataclasses where
there is one) and calls the library. Errors in the user's input (corpus, checkpoint, flags) print one
clear line and exit with status 2, never a traceback; a stop before anything was saved, 130.
``export --format onnx`` writes the device export (``onnx_export``); ``app`` starts the web app,
which needs the ``[app]`` extra (gradio) and is the one command that loads it.
"""
from __future__ import annotations

import argparse
import errno
import shlex
import sys
from pathlib import Path

import torch

from .checkpoint import CheckpointError, export_checkpoint, load_checkpoint
from .cli_args import add_dataclass_args, dataclass_from_args
from .cli_inside import add_inside_commands, cmd_compare, cmd_inside
from .cli_keyboard import add_keyboard_commands, cmd_eval, cmd_suggest
from .data import CorpusError
from .heldout import HELD_OUT_CHARS, recount_words
from .mixture import PARTS
from .model import ModelConfig
from .onnx_export import export_onnx
from .resources import bundled
from .sample import SampleConfig, generate
from .stopping import Interrupted
from .tokenizer import TokenizerError
from .train import RESUME_OVERRIDES, TrainConfig, train

DEFAULT_CHECKPOINT = bundled("checkpoints") / "default"       # a checkout's or the installed wheel's


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chargen", description="Character/subword LSTM language models.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a model on a corpus (or --resume one)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_dataclass_args(t, TrainConfig)
    add_dataclass_args(t, ModelConfig)

    s = sub.add_parser("sample", help="generate text from a checkpoint")
    s.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT), help="checkpoint or run directory")
    s.add_argument("--prompt", default="", help="text to continue")
    add_dataclass_args(s, SampleConfig)
    s.add_argument("--stop", action="append", default=[], help="stop when this string is produced (repeatable)")

    add_keyboard_commands(sub, str(DEFAULT_CHECKPOINT))
    add_inside_commands(sub, str(DEFAULT_CHECKPOINT))

    x = sub.add_parser("export", help="copy a checkpoint for shipping (smaller weights, no trainer state), "
                                      "or export it for a device (--format onnx)")
    x.add_argument("--checkpoint", required=True, help="checkpoint or run directory (a run means its best/)")
    x.add_argument("--out", required=True, help="directory to write")
    x.add_argument("--format", choices=["checkpoint", "onnx"], default="checkpoint",
                   help="checkpoint: a chargen checkpoint; onnx: the ONNX step model (+ int8), tokenizer, "
                        "manifest.json and the browser keyboard (needs the [export] extra: onnx, onnxruntime)")
    x.add_argument("--dtype", choices=["float16", "bfloat16", "float32"], default="float16",
                   help="checkpoint format: weight precision on disk (loading casts back to float32)")
    x.add_argument("--int8", action=argparse.BooleanOptionalAction, default=True,
                   help="onnx format: also write step.int8.onnx, onnxruntime's dynamic int8 quantisation")
    x.add_argument("--force", action="store_true", help="replace an existing export at --out")

    w = sub.add_parser("words", help="count a checkpoint's word statistics again from its corpus (n-grams and the "
                       "keyboard's mixture weights; a checkpoint from before them gets them)")
    w.add_argument("--checkpoint", required=True, help="checkpoint or run directory")
    w.add_argument("--corpus", required=True, nargs="+", help="the corpus it was trained on")
    w.add_argument("--encoding", default="utf-8", help="the corpus's text encoding")
    w.add_argument("--held-out-chars", type=int, default=HELD_OUT_CHARS,
                   help="the train split's tail the mixture weights are estimated on")

    i = sub.add_parser("info", help="describe a checkpoint")
    i.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT), help="checkpoint or run directory")
    sub.add_parser("app", help="start the web app (chargen app --help for its flags; needs the [app] extra)",
                   add_help=False)
    return p


def _command_line(args) -> str:
    return "python -m chargen " + " ".join(shlex.quote(a) for a in args.argv)


def cmd_train(args) -> int:
    cfg = dataclass_from_args(TrainConfig, args)
    overrides = {k: getattr(args, k) for k in RESUME_OVERRIDES if getattr(args, k) is not None}
    if not cfg.resume and not cfg.corpus:
        raise ValueError("give the text to learn: --corpus PATH [PATH ...] (or --resume a run)")
    try:
        summary = train(cfg, dataclass_from_args(ModelConfig, args), command=_command_line(args),
                        log=lambda m: print(m, file=sys.stderr), resume_overrides=overrides,
                        given={k for k, v in vars(args).items() if v is not None})
    except Interrupted as e:             # before the first checkpoint: nothing to resume yet
        print(f"{e}: nothing was saved yet; run the same command again to start over", file=sys.stderr)
        return 130
    if summary["rank"] != 0:             # under torchrun, rank 0 alone reports
        return 0
    last = summary["last"]
    print(f"{summary['stop_reason']} after {summary['step']} steps, {summary['elapsed'] / 60:.1f} min: "
          f"val {last.get('val_nats', float('nan')):.4f} nats/char, {last.get('val_bpc', float('nan')):.4f} bpc; "
          f"best {summary['best_val_nats']:.4f} nats/char -> {Path(summary['out']) / 'best'}")
    return 0


def cmd_sample(args) -> int:
    model, tok, _ = load_checkpoint(args.checkpoint)
    c = dataclass_from_args(SampleConfig, args)
    sys.stdout.write(args.prompt)
    for piece in generate(model, tok, args.prompt, c.length, c.temperature, c.top_k, c.top_p, c.greedy, c.seed,
                          args.stop):
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return 0


def cmd_export(args) -> int:
    if args.format == "onnx":
        return _export_onnx(args)
    if Path(args.out).exists() and not args.force:
        raise ValueError(f"{args.out} exists; give --force to replace it")
    path = export_checkpoint(args.checkpoint, args.out, getattr(torch, args.dtype), _command_line(args))
    size = sum(f.stat().st_size for f in Path(path).iterdir())
    print(f"exported {args.checkpoint} -> {path} ({size / 1e6:.1f} MB, weights in {args.dtype})")
    return 0


def _export_onnx(args) -> int:
    try:
        m = export_onnx(args.checkpoint, args.out, int8=args.int8, command=_command_line(args), force=args.force)
    except ImportError as e:
        raise ValueError(f"the ONNX export needs onnx and onnxruntime: pip install 'chargen[export]' ({e})") from None
    sizes = ", ".join(f"{m['files'][k]} {v / 1e6:.2f} MB" for k, v in m["sizes"].items())
    print(f"exported {args.checkpoint} -> {args.out}: {sizes}; onnxruntime matches the model to "
          f"{m['parity']['max_abs_logit_diff_fp32']:.1e} (max |logit diff|, {m['parity']['tokens']} sampled tokens); "
          f"open {Path(args.out) / 'index.html'} for the browser keyboard")
    return 0


def cmd_app(argv: list[str]) -> int:
    """``chargen app [flags]``: the web app (``python app.py``), which needs gradio (the [app] extra)."""
    try:
        from .web.server import main as app_main
    except ImportError as e:
        raise ValueError(f"the web app needs the [app] extra: pip install 'chargen[app]' ({e})") from None
    app_main(argv)
    return 0


def cmd_words(args) -> int:
    ngram = recount_words(args.checkpoint, args.corpus, args.encoding, held_out_chars=args.held_out_chars)
    n_bi, n_tri = sum(map(len, ngram.bigrams.values())), sum(map(len, ngram.trigrams.values()))
    weights = ", ".join(f"{k} {w:.2f}" for k, w in zip(PARTS, ngram.mixture)) if ngram.mixture else "not estimated"
    print(f"{args.checkpoint}: {len(ngram.unigrams):,} words, {n_bi:,} bigrams, {n_tri:,} trigrams; mixture {weights}")
    return 0


def cmd_info(args) -> int:
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
    parent = config.get("parent")
    while parent:                        # the lineage: parent, grandparent, ...
        pc = parent.get("corpus") or {}
        print(f"parent:    {parent.get('name')} ({parent.get('path')}, weights sha256 "
              f"{str(parent.get('weights_sha256'))[:16]}...), trained on {', '.join(pc.get('files', [])) or '?'}")
        parent = parent.get("parent")
    if config.get("train", {}).get("replay"):
        print(f"replay:    {config['train']['replay']:.0%} of the training text from the parent's corpus")
    return 0


COMMANDS = {"train": cmd_train, "sample": cmd_sample, "eval": cmd_eval, "info": cmd_info, "suggest": cmd_suggest,
            "export": cmd_export, "words": cmd_words, "inside": cmd_inside, "compare": cmd_compare}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["app"]:              # its flags are the app's own (argparse would take them for ours)
        return _guard(lambda: cmd_app(argv[1:]))
    args = _parser().parse_args(argv)
    args.argv = argv
    return _guard(lambda: COMMANDS[args.command](args))


def _guard(run) -> int:
    """Run a command; the user's errors are one line and status 2, never a traceback."""
    try:
        return run()
    except (CorpusError, CheckpointError, TokenizerError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:            # a second Ctrl-C: stop at once
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as e:                 # a full disk, a read-only folder: one line, not a traceback
        full = e.errno in (errno.ENOSPC, errno.EDQUOT)
        print(f"error: {e.strerror or e}{f': {e.filename}' if e.filename else ''}"
              f"{' (the disk is full: free some space, then run the command again)' if full else ''}", file=sys.stderr)
        return 2
