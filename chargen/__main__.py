"""Command line: ``python -m chargen train | sample | eval | info``.

A thin layer: every command parses flags and calls the library. Errors in the user's input
(corpus, checkpoint, flags) print one clear line and exit with status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import errno
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
    e.add_argument("--ksr", action="store_true", help="also simulate typing the text with word suggestions "
                   "(keystroke savings rate, next-character accuracy, latency)")
    e.add_argument("--suggestions", type=int, default=3, help="word completions offered per keystroke (--ksr)")
    e.add_argument("--max-chars", type=int, default=0, help="simulate only the first N characters (--ksr; 0: all)")
    e.add_argument("--jamo-typing", action="store_true",
                   help="Korean text (--ksr): also simulate typing a jamo per key, suggestions before every key")
    e.add_argument("--no-words", action="store_true",
                   help="--ksr without the checkpoint's word statistics (an ablation: the model and the session cache)")
    e.add_argument("--no-cache", action="store_true", help="--ksr without the session's word cache (an ablation)")

    g = sub.add_parser("suggest", help="keyboard suggestions: interactive (Tab accepts) or one-shot --text")
    g.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT), help="checkpoint or run directory")
    g.add_argument("--text", default=None, help="print suggestions for this text and exit")
    g.add_argument("-n", type=int, default=3, help="how many suggestions")
    g.add_argument("--composing", action="store_true",
                   help="the last Hangul syllable may still change, as in an input method (syllable models)")

    x = sub.add_parser("export", help="copy a checkpoint for shipping: smaller weights, no trainer state")
    x.add_argument("--checkpoint", required=True, help="checkpoint or run directory (a run means its best/)")
    x.add_argument("--out", required=True, help="directory to write")
    x.add_argument("--dtype", choices=["float16", "bfloat16", "float32"], default="float16",
                   help="weight precision on disk (loading casts back to float32)")
    x.add_argument("--force", action="store_true", help="replace an existing checkpoint at --out")

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
    from .stopping import Interrupted
    try:
        summary = train(cfg, model_cfg, command=command, log=lambda m: print(m, file=sys.stderr),
                        resume_overrides=overrides)
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
    from .data import find_files, iter_text
    from .evaluate import text_metrics
    from .faststep import use_keystroke_threads
    from .predictor import Predictor
    if args.ksr:
        use_keystroke_threads()          # the simulation is keystrokes: one thread, as the app serves them
    # the suggestion bar's own engine: the checkpoint's word statistics and the session cache
    predictor = Predictor.from_checkpoint(args.checkpoint, cache=not args.no_cache,
                                          **({"words": None} if args.no_words else {}))
    model, tok = predictor.model, predictor.tokenizer
    text = "".join(iter_text(find_files([args.text]), args.encoding))
    m = text_metrics(model, tok, text)
    print(f"{args.text}: {m['val_nats']:.4f} nats/char, {m['val_bpc']:.4f} bits/char "
          f"({m['val_chars']:,} characters, {m['val_tokens']:,} tokens, "
          f"{m['val_nats_per_token']:.4f} nats/token)")
    if args.ksr:
        from .evaluate import ModelEngine, jamo_keys, keystroke_savings
        sim_text = text[:args.max_chars] if args.max_chars else text
        engine = ModelEngine(predictor)
        from .tokenizer import is_syllable
        korean = any(map(is_syllable, sim_text[:10000]))
        k = keystroke_savings(engine, sim_text, args.suggestions, progress=True,
                              also={"jamo": jamo_keys} if korean else None)
        print(f"keystroke savings {k['ksr']:.3f} with {args.suggestions} suggestions (oracle {k['oracle_ksr']:.3f}); "
              f"next-char accuracy top-1 {k['top1_char_acc']:.3f}, top-3 {k['top3_char_acc']:.3f}; "
              f"suggestions p50 {k['suggest_ms_p50']:.2f} ms, p99 {k['suggest_ms_p99']:.2f} ms")
        if korean:
            print(f"keystroke savings in jamo keystrokes {k['ksr_jamo']:.3f} (oracle {k['oracle_ksr_jamo']:.3f})")
        if korean and args.jamo_typing:
            from .evaluate import ComposedTyping, JamoTyping
            from .tokenizer import decompose_hangul
            typist = (JamoTyping if tok.kind == "jamo" else ComposedTyping)(ModelEngine(predictor))
            j = keystroke_savings(typist, decompose_hangul(sim_text), args.suggestions, progress=True)
            print(f"typed a jamo per key, suggestions before every key: keystroke savings {j['ksr']:.3f} "
                  f"(oracle {j['oracle_ksr']:.3f}); suggestions p50 {j['suggest_ms_p50']:.2f} ms")
            k.update({f"jamo_typing_{name}": v for name, v in j.items()})
        m.update(k)                     # ksr, oracle_ksr, top1/top3_char_acc, suggest_ms_*, ...
    if args.json:
        Path(args.json).write_text(json.dumps(m, indent=2))
    return 0


def _suggestion_line(session, n: int) -> str:
    chars = "  ".join(f"{c!r}:{p:.2f}" for c, p in session.next_chars(n))
    from .words import current_word
    words = session.complete_word(n) if current_word(session.text) else session.next_words(n)
    return f"next: {chars}   words: " + " | ".join(f"{w} ({p:.2f})" for w, p in words)


def cmd_suggest(args) -> int:
    from .faststep import use_keystroke_threads
    from .predictor import Predictor
    use_keystroke_threads()
    predictor = Predictor.from_checkpoint(args.checkpoint, composing=args.composing)
    session = predictor.session()
    if args.text is not None:
        session.set_text(args.text)
        print(_suggestion_line(session, args.n))
        return 0
    if not sys.stdin.isatty():               # piped input: suggestions after each line
        for line in sys.stdin:
            session.set_text(line.rstrip("\n"))
            print(_suggestion_line(session, args.n))
        return 0
    return _interactive(session, args.n)


def _interactive(session, n: int) -> int:
    import codecs
    import os
    import termios
    import tty
    fd = sys.stdin.fileno()
    old = termios.tcgetattr(fd)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    print("Type; Tab accepts the first word, Backspace deletes, Ctrl-D quits.")
    try:
        tty.setcbreak(fd)
        while True:
            words = session.suggest(n)                   # the suggestion bar, as in the app
            shown = session.text.replace("\n", "⏎")[-60:]
            sys.stdout.write("\r\033[K" + shown + "\033[2m   [" + " | ".join(words) + "]\033[0m")
            sys.stdout.flush()
            ch = decoder.decode(os.read(fd, 4))
            if ch in ("\x04", ""):
                break
            for c in ch:
                if c == "\t" and words:
                    session.accept(words[0])
                elif c in ("\x7f", "\b"):
                    session.backspace()
                elif c == "\r":
                    session.type("\n")
                elif c.isprintable() or c == "\n":
                    session.type(c)
    except KeyboardInterrupt:
        pass
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)
        print()
    return 0


def cmd_export(args) -> int:
    import shlex

    import torch

    from .checkpoint import export_checkpoint
    from pathlib import Path
    if Path(args.out).exists() and not args.force:
        raise ValueError(f"{args.out} exists; give --force to replace it")
    command = "python -m chargen " + " ".join(shlex.quote(a) for a in args.argv)
    path = export_checkpoint(args.checkpoint, args.out, getattr(torch, args.dtype), command)
    size = sum(f.stat().st_size for f in Path(path).iterdir())
    print(f"exported {args.checkpoint} -> {path} ({size / 1e6:.1f} MB, weights in {args.dtype})")
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
    handler = {"train": cmd_train, "sample": cmd_sample, "eval": cmd_eval, "info": cmd_info,
               "suggest": cmd_suggest, "export": cmd_export}[args.command]
    try:
        return handler(args)
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


if __name__ == "__main__":
    sys.exit(main())
