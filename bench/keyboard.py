"""Benchmark the keyboard engine: latency per keystroke, sampling speed, keystroke savings.

Prints a table and writes JSON. Models come from checkpoints trained with the CLI on the first
90% of each corpus (the standard split), e.g.

    python -m chargen train --corpus ../shared/corpora/tinyshakespeare.txt --out runs/ts --max-minutes 10
    python bench/keyboard.py --checkpoint runs/ts --json bench/results/keyboard.json \\
        [--korean-jamo runs/nsmc_jamo --korean-char runs/nsmc_char]

KSR is measured on the first --chars characters of the validation split, side by side with the
oracle and two word-level baselines fitted on the same train split (see chargen/wordstats.py).
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
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # one core per user, numpy's BLAS too (before numpy loads)

from isa import add_emulate_flag, reexec_emulated  # noqa: E402

if __name__ == "__main__":             # --emulate avx2: the caps must be set before torch and numpy load
    _pre = argparse.ArgumentParser(add_help=False)
    add_emulate_flag(_pre)
    reexec_emulated(_pre.parse_known_args()[0])

import gc  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from chargen import cpu  # noqa: E402
from chargen.checkpoint import load_checkpoint, resolve_checkpoint  # noqa: E402
from chargen.faststep import use_keystroke_threads  # noqa: E402
from chargen.keys import jamo_keys  # noqa: E402
from chargen.keystrokes import ComposedTyping, JamoTyping, ModelEngine, keystroke_savings  # noqa: E402
from chargen.predictor import Predictor  # noqa: E402
from chargen.sample import generate  # noqa: E402
from chargen.hangul import decompose_hangul  # noqa: E402
from chargen.baselines import BigramCompleter, UnigramCompleter  # noqa: E402
from chargen.wordstats import WordModel  # noqa: E402
from stats import pct  # noqa: E402

CORPORA = ROOT.parent / "shared" / "corpora"


def read_corpus(path) -> str:
    """A file or a folder of .txt files, exactly as `chargen train --corpus` reads it."""
    from chargen.data import find_files, iter_text
    return "".join(iter_text(find_files([path])))


def split(text: str, val_fraction: float = 0.1):
    n = int(len(text) * (1 - val_fraction))
    return text[:n], text[n:]


def host_noise(seconds: float = 3.0) -> dict:
    """How steady this host is: a constant ~1 ms numpy workload timed over and over. On a shared
    virtual machine its p99 is several times its median; a keystroke's p99 inherits that."""
    a = np.random.default_rng(0).random((160, 160), dtype=np.float32)
    times, end = [], time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        for _ in range(8):
            a @ a
        times.append(1000 * (time.perf_counter() - t))
    return {"constant_work_ms_p50": statistics.median(times), "constant_work_ms_p99": pct(times, 0.99),
            "p99_over_p50": pct(times, 0.99) / statistics.median(times)}


def engine(path, words=None, **kwargs) -> Predictor:
    """The app's engine for a checkpoint: its own word statistics (words.json), as the suggestion bar
    and `chargen eval --ksr` use them; ``words`` only where the checkpoint ships none."""
    shipped = WordModel.load(resolve_checkpoint(path))
    return Predictor.from_checkpoint(path, words=shipped if shipped is not None else words, **kwargs)


def latency(predictor: Predictor, text: str) -> dict:
    s = predictor.session()
    chars_ms, words_ms, naive_ms = [], [], []
    for c in text:
        t = time.perf_counter()
        s.type(c)
        s.next_chars(5)
        chars_ms.append(1000 * (time.perf_counter() - t))
        t = time.perf_counter()
        s.suggest(3)                              # the suggestion bar: 3 completions or next words
        words_ms.append(chars_ms[-1] + 1000 * (time.perf_counter() - t))
    model, tok = predictor.model, predictor.tokenizer
    with torch.no_grad():
        for i in range(200, len(text), max(1, len(text) // 50)):
            t = time.perf_counter()
            model(torch.tensor([tok.encode(text[i - 200:i])]))
            naive_ms.append(1000 * (time.perf_counter() - t))
    return {"next_chars_ms_p50": statistics.median(chars_ms), "next_chars_ms_p99": pct(chars_ms, 0.99),
            "with_3_words_ms_p50": statistics.median(words_ms), "with_3_words_ms_p99": pct(words_ms, 0.99),
            "naive_reencode_200_ms_p50": statistics.median(naive_ms) if naive_ms else None,
            "keystrokes": len(text)}


def sampling_speed(model, tok, length: int = 3000) -> float:
    t = time.perf_counter()
    n = sum(len(p) for p in generate(model, tok, "\n", length=length, seed=0))
    return n / (time.perf_counter() - t)


def ksr_table(engines: dict, text: str, sizes=(1, 3), also=None) -> dict:
    out = {}
    for name, engine in engines.items():
        for n in sizes:
            t = time.perf_counter()
            out[f"{name}@{n}"] = r = keystroke_savings(engine, text, n, also=also)
            print(f"  {name}@{n}: KSR {r['ksr']:.3f} ({time.perf_counter() - t:.0f} s)", flush=True)
    out["oracle"] = {"ksr": r["oracle_ksr"], **{f"ksr_{k}": r[f"oracle_ksr_{k}"] for k in also or {}}}
    return out


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--corpora" in argv:                       # the across-corpora table: bench/corpora.py
        from corpora import main as across_corpora
        return across_corpora([a for a in argv if a != "--corpora"])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="English char model trained on the train split")
    p.add_argument("--corpus", default=str(CORPORA / "tinyshakespeare.txt"),
                   help="file or folder the English model was trained on (e.g. corpora/austen)")
    p.add_argument("--chars", type=int, default=0, help="validation characters to simulate (0: all of them)")
    p.add_argument("--ablation-chars", type=int, default=20000,
                   help="characters for the ablations (the model alone, without the word statistics; 0: none)")
    p.add_argument("--speed", nargs="*", default=[],
                   help="more checkpoints to time (latency, sampling) beside --checkpoint")
    p.add_argument("--korean-jamo", default=None, help="jamo model trained on nsmc_train.txt")
    p.add_argument("--korean-char", default=None, help="syllable (char) model trained on nsmc_train.txt")
    p.add_argument("--korean-train", default=str(CORPORA / "nsmc_train.txt"))
    p.add_argument("--korean-test", default=str(CORPORA / "nsmc_test.txt"))
    p.add_argument("--korean-chars", type=int, default=10000, help="NSMC test characters to simulate")
    p.add_argument("--jamo-typing", action=argparse.BooleanOptionalAction, default=True,
                   help="also simulate typing Korean a jamo per key, with suggestions before every key")
    p.add_argument("--sizes", type=int, nargs="+", default=[1, 3], help="suggestion-bar sizes to simulate")
    p.add_argument("--parts", nargs="+", choices=["speed", "english", "korean"], default=["speed", "english", "korean"],
                   help="what to run; with --json, results of parts not run are kept from the existing file "
                        "(time the speed part on a quiet machine, the long simulations whenever)")
    p.add_argument("--repeat", type=int, default=1, help="speed runs; the JSON keeps each and their medians")
    p.add_argument("--json", default=None)
    add_emulate_flag(p)
    args = p.parse_args(argv)
    use_keystroke_threads()         # one keystroke, one core: what an interactive server gets per user

    results = json.loads(Path(args.json).read_text()) if args.json and Path(args.json).exists() else {}
    results = {k: v for k, v in results.items() if k in ("speed", "english", "english_ablation", "korean", "korean_chars",
                                                          "korean_jamo_typing", "models", "corpus", "cpu", "host_noise")}
    train_text, val_text = split(read_corpus(args.corpus))
    val = val_text[:args.chars] if args.chars else val_text
    words = WordModel.fit([train_text])               # the train split's word statistics
    if "speed" in args.parts:
        results["speed"], results["cpu"] = {}, cpu.describe()
        results["host_noise"] = host_noise()
    for path in [args.checkpoint] + args.speed if "speed" in args.parts else []:
        pred = engine(path, words)
        gc.collect()
        gc.freeze()            # as the app does: no full collection scans the word statistics mid-keystroke
        name = "{num_layers}x{hidden_size}".format(**vars(pred.model.config))
        runs = [{**latency(pred, val_text[:3000]), "sampling_chars_per_s": sampling_speed(pred.model, pred.tokenizer)}
                for _ in range(args.repeat)]
        medians = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        results["speed"][name] = {"checkpoint": path, "params": pred.model.num_params(non_embedding=False),
                                  "kernels": pred.stepper.describe(), **medians,
                                  **({"runs": runs} if len(runs) > 1 else {})}
    predictor = engine(args.checkpoint, words)
    model, tok = predictor.model, predictor.tokenizer
    if "english" in args.parts:
        english(results, model, tok, predictor, train_text, val_text, val, args)
    if (args.korean_jamo or args.korean_char) and "korean" in args.parts:
        korean(results, args)
    report(results, args)
    return 0


def english(results, model, tok, predictor, train_text, val_text, val, args):
    results["corpus"] = Path(args.corpus).name
    engines = {"char+cache+words": ModelEngine(predictor),
               "word-unigram": UnigramCompleter.fit(train_text), "word-bigram": BigramCompleter.fit(train_text)}
    results["english"] = ksr_table(engines, val, sizes=tuple(args.sizes))
    if not args.ablation_chars:
        results.pop("english_ablation", None)
        return
    ablation = val_text[:args.ablation_chars]
    results["english_ablation"] = ksr_table(
        {"char-model": ModelEngine(Predictor(model, tok, cache=False)), "char+cache": ModelEngine(Predictor(model, tok)),
         "char+cache+words": ModelEngine(predictor), "word-bigram": BigramCompleter.fit(train_text)},
        ablation, sizes=(3,))


def korean(results, args):
    ko_train = Path(args.korean_train).read_text(encoding="utf-8")
    ko_val = Path(args.korean_test).read_text(encoding="utf-8")[:args.korean_chars]
    ko_engines = {"word-bigram": BigramCompleter.fit(ko_train)}
    for name, path in (("jamo-model", args.korean_jamo), ("syllable-model", args.korean_char)):
        if path:
            m, t, _ = load_checkpoint(path)
            wm = WordModel.fit([decompose_hangul(ko_train) if t.kind == "jamo" else ko_train])
            ko_engines[name] = ModelEngine(Predictor(m, t, cache=False))
            ko_engines[name + "+cache+words"] = ModelEngine(Predictor(m, t, words=wm))
    results["korean"] = ksr_table(ko_engines, ko_val, sizes=(3,), also={"jamo": jamo_keys})
    results["korean_chars"] = len(ko_val)
    if (args.korean_jamo or args.korean_char) and args.jamo_typing:
        # How Korean is typed on a phone: a jamo per key, the suggestion bar looked at before every
        # key. Jamo models and word statistics take the jamo; a syllable model sees the text as an
        # input method shows it, its last syllable still being composed (Session.composing).
        jamo_train = decompose_hangul(ko_train)
        typing = {"word-bigram": BigramCompleter.fit(jamo_train)}
        if args.korean_jamo:
            m, t, _ = load_checkpoint(args.korean_jamo)
            typing["jamo-model+cache+words"] = JamoTyping(ModelEngine(Predictor(m, t, words=WordModel.fit([jamo_train]))))
        if args.korean_char:
            m, t, _ = load_checkpoint(args.korean_char)
            typing["syllable-model+cache+words"] = ComposedTyping(ModelEngine(Predictor(m, t, words=WordModel.fit([ko_train]))))
        results["korean_jamo_typing"] = ksr_table(typing, decompose_hangul(ko_val), sizes=(3,))


def report(results, args):
    if args.json:                   # results first: a printing problem must never lose a long run
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2))
    c = results.get("cpu", {})
    noise = results.get("host_noise", {})
    if results.get("speed"):
        speed_table(results, c, noise)
    ksr_tables(results)


def speed_table(results, c, noise):
    print(f"speed per keystroke, 1 thread (ms; 'with 3 words' = next_chars + the 3-word suggestion bar); CPU "
          f"{c.get('kind')} ({c.get('model')}{', caps ' + str(c['isa_caps']) if c.get('isa_caps') else ''}); "
          f"host noise: a constant workload's p99 is {noise.get('p99_over_p50', float('nan')):.1f}x its median")
    print(f"{'model':<8} {'params':>10} {'chars p50':>10} {'chars p99':>10} {'3 words p50':>12} "
          f"{'3 words p99':>12} {'re-encode 200':>14} {'sampling c/s':>13}")
    for name, r in results.get("speed", {}).items():
        print(f"{name:<8} {r['params']:>10,} {r['next_chars_ms_p50']:>10.3f} {r['next_chars_ms_p99']:>10.3f} "
              f"{r['with_3_words_ms_p50']:>12.2f} {r['with_3_words_ms_p99']:>12.2f} "
              f"{r['naive_reencode_200_ms_p50']:>14.2f} {r['sampling_chars_per_s']:>13,.0f}")


def ksr_tables(results):
    tables = []
    if "english" in results:
        n = results["english"]["char+cache+words@3"]["chars"]
        tables.append((f"English ({results.get('corpus', 'Tiny Shakespeare')} val: {n:,} chars)", results["english"]))
        if "english_ablation" in results:
            m = results["english_ablation"]["char-model@3"]["chars"]
            tables.append((f"English ablation (first {m:,} val chars)", results["english_ablation"]))
    if "korean" in results:
        tables.append((f"Korean (NSMC test, first {results.get('korean_chars', 0):,} chars; suggestions before "
                       f"each syllable)", results["korean"]))
    if "korean_jamo_typing" in results:
        tables.append(("Korean, typed a jamo per key with suggestions before every key (KSR in jamo keys)",
                       results["korean_jamo_typing"]))
    for title, table in tables:
        print(f"\n{title}")
        print(f"{'engine':<26} {'KSR':>7} {'KSR jamo':>9} {'top1 char':>10} {'top3 char':>10} {'suggest p50 ms':>15}")
        for name, r in table.items():
            print(f"{name:<26} {r['ksr']:>7.3f} {r.get('ksr_jamo', float('nan')):>9.3f} "
                  f"{r.get('top1_char_acc', float('nan')):>10.3f} {r.get('top3_char_acc', float('nan')):>10.3f} "
                  f"{r.get('suggest_ms_p50', float('nan')):>15.2f}")


if __name__ == "__main__":
    sys.exit(main())
