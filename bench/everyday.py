"""Everyday English the models never saw (issue 24, item 4): clean next-word top-3, completion top-3 and
KSR@3 of the app's engine, several models against Presage-style word-bigram baselines in one run.

Held-out domains (corpora/everyday/build.py --heldout; registers not in the everyday training corpus):
  chatterbot  dialogue-chatterbot.txt      dialogue: scripted chat-bot exchanges (chatterbot-corpus)
  freedroid   dialogue-freedroidrpg.txt    dialogue: FreedroidRPG game characters' conversations
  django      docs-django.txt              documentation: the Django docs' prose (intro, howto, topics)
  jargon      encyclopedic-jargon.txt      encyclopedic: Jargon File 4.4.7 entries

Measures, per model or baseline and domain:
- next word top-3 and completion top-3: kebbie 0.5.1's own tester and Scorer (chargen.typing_bench.evaluate)
  with its noise turned off (``clean=True``): each word of a sentence typed as written; before it, the
  next-word suggestions after the sentence so far (the true word among the top 3?); and a prefix of it,
  sampled as kebbie does (longer prefixes likelier, never the whole word), completed (top 3?). The app
  engine answers with its session's next_words(3) and complete_word(3) (typing_bench.ChargenEngine);
- KSR@3: chargen.keystrokes.keystroke_savings on the first --ksr-chars characters of the domain's file
  (cut at a line end), the suggestion bar of the app's engine (the checkpoint's own word statistics) as
  bench/keyboard.py measures it, beside the baselines.
Baselines: chargen.baselines.BigramCompleter (word bigram, unigram backoff) fitted on the training part
(the first 90% of characters, as training splits it) of --baseline-corpus (the new default's corpus)
and of --austen-corpus (the Austen model's). Sentences: chargen.typing_bench.sentences (split on
. ! ? and line breaks, 3+ words), --sentences per domain drawn with --seed.

    python bench/everyday.py --json bench/results/everyday.json
    python bench/everyday.py --models old=checkpoints/default --sentences 40 --ksr-chars 2000
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")        # one thread, as a keystroke is served (before torch loads)
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from chargen import cpu  # noqa: E402
from chargen import typing_bench as tb  # noqa: E402
from chargen.baselines import BigramCompleter  # noqa: E402
from chargen.checkpoint import resolve_checkpoint  # noqa: E402
from chargen.faststep import use_keystroke_threads  # noqa: E402
from chargen.keystrokes import ModelEngine  # noqa: E402
from keyboard import engine as app_engine, ksr_table, read_corpus, split  # noqa: E402   bench/keyboard.py

CORPORA = Path.home() / ".cache" / "chargen-corpora"
HELDOUT = CORPORA / "everyday-heldout"
DOMAINS = {"chatterbot": "dialogue-chatterbot.txt", "freedroid": "dialogue-freedroidrpg.txt",
           "django": "docs-django.txt", "jargon": "encyclopedic-jargon.txt"}
MODELS = [f"austen={ROOT / 'checkpoints' / 'austen'}", f"default={ROOT / 'checkpoints' / 'default'}"]

# ---------------------------------------------------------------- engines


class AppEngine(tb.ChargenEngine):
    """The app's completion and next word (ChargenEngine's); clean typing needs no correction, so the
    typed word is returned as is (kebbie asks for one after every word; it is not scored here)."""

    def auto_correct(self, context, keystrokes, word):
        return [word]


class CompleterEngine(tb._Timed):
    """A completer (chargen.baselines' protocol) answering kebbie: completions of context + prefix; next
    words = completions of the empty word after the context (its bigram row, then unigram backoff)."""

    def __init__(self, completer):
        self.completer = completer

    def _suggest(self, text: str) -> list[str]:
        self.completer.reset()
        self.completer.type(text)
        return self.completer.suggest(3)

    def auto_correct(self, context, keystrokes, word):
        return [word]

    def auto_complete(self, context, keystrokes, partial_word):
        return self._suggest(context + partial_word)

    def predict_next_word(self, context):
        return self._suggest(context)

# ---------------------------------------------------------------- data


def train_part(path) -> str:
    """The training part of a corpus (a file or a folder of .txt, read as `chargen train --corpus` reads
    it): its first 90% of characters, the rest being validation."""
    return split(read_corpus(path))[0]


def ksr_text(text: str, n: int) -> str:
    """The first ``n`` characters, cut back to the last line end within them (if there is one)."""
    head = text[:n]
    cut = head.rfind("\n")
    return head[:cut + 1] if len(text) > n and cut > 0 else head


def load_domains(folder: Path, names, n_sentences: int, n_chars: int, seed: int) -> dict:
    """{domain: {"file", "sha256", "sentences", "ksr_text"}} from the held-out folder."""
    out = {}
    for name in names:
        path = Path(folder) / DOMAINS[name]
        raw = path.read_bytes()
        text = raw.decode("utf-8")
        out[name] = {"file": str(path), "sha256": hashlib.sha256(raw).hexdigest(),
                     "sentences": tb.sentences(text, n_sentences, seed), "ksr_text": ksr_text(text, n_chars)}
    return out

# ---------------------------------------------------------------- measures


def no_typos_cache() -> Path:
    """A kebbie cache with an empty common-typo list (clean typing uses none), so that a clean run never
    writes an empty en.json into typing_bench.CACHE, where bench/typos.py would then find it."""
    d = Path(tempfile.gettempdir()) / "chargen-everyday-kebbie"
    d.mkdir(exist_ok=True)
    (d / "en.json").write_text("{}")
    return d


def kebbie_clean(engine, sentences: dict[str, list[str]], seed: int) -> dict:
    """{domain: next-word and completion top-3 (and their counts)} from kebbie's clean run."""
    res = tb.evaluate(engine, sentences, seed=seed, cache_dir=no_typos_cache(), clean=True)
    out = {}
    for d in sentences:
        s = tb.summary(res, [d])
        assert s["n_completion_typo"] == 0 and s["n_typo"] == 0, "clean typing made a typo"
        out[d] = {"next_word_top3": s["next_word_top3"], "n_next_word": s["n_next_word"],
                  "completion_top3": s["completion_top3_clean"], "n_completion": s["n_completion_clean"]}
    return out


def measure(engines: dict, domains: dict, seed: int) -> dict:
    """{engine: {domain: {next_word_top3, completion_top3, ksr, ...}}}: kebbie-style (clean) for each
    engine, then KSR@3 per domain for all of them (bench/keyboard.py's ksr_table)."""
    rows = {name: {} for name in engines}
    for name, e in engines.items():
        t = time.time()
        for d, r in kebbie_clean(e["kebbie"], {d: v["sentences"] for d, v in domains.items()}, seed).items():
            rows[name][d] = r
        print(f"{name}: kebbie clean, {time.time() - t:.0f} s", flush=True)
    for d, v in domains.items():
        if not v["ksr_text"]:
            continue
        print(f"KSR@3 on {d} ({len(v['ksr_text']):,} chars)", flush=True)
        table = ksr_table({name: e["ksr"] for name, e in engines.items()}, v["ksr_text"], sizes=(3,))
        for name in engines:
            r = table[f"{name}@3"]
            rows[name][d].update(ksr=r["ksr"], keystrokes=r["keystrokes"], keys_without_help=r["keys_without_help"],
                                 ksr_chars=r["chars"], oracle_ksr=r["oracle_ksr"], suggest_ms_p50=r["suggest_ms_p50"])
    for name in rows:
        rows[name]["all"] = pooled(rows[name])
    return rows


def pooled(per_domain: dict) -> dict:
    """Counts summed over the domains: top-3 rates weighted by their events, KSR by keys."""
    ds = [r for d, r in per_domain.items() if d != "all"]

    def rate(key, n):
        total = sum(r[n] for r in ds)
        return sum(r[key] * r[n] for r in ds) / total if total else 0.0
    out = {"next_word_top3": rate("next_word_top3", "n_next_word"), "n_next_word": sum(r["n_next_word"] for r in ds),
           "completion_top3": rate("completion_top3", "n_completion"),
           "n_completion": sum(r["n_completion"] for r in ds)}
    if all("ksr" in r for r in ds) and ds:
        keys = sum(r["keys_without_help"] for r in ds)
        out.update(ksr=1 - sum(r["keystrokes"] for r in ds) / keys, keys_without_help=keys)
    return out


def build_engines(models: dict, baselines: dict) -> dict:
    """{name: {"kebbie": engine, "ksr": completer}} for each model (the app's engine) and baseline text."""
    engines = {}
    for name, path in models.items():
        engines[name] = {"kebbie": AppEngine(path), "ksr": ModelEngine(app_engine(path))}
    for name, text in baselines.items():
        bigram = BigramCompleter.fit(text)
        engines[f"bigram-{name}"] = {"kebbie": CompleterEngine(bigram), "ksr": bigram}
    return engines

# ---------------------------------------------------------------- report


def markdown(rows: dict, domains) -> str:
    cols = list(domains) + ["all"]
    lines = []
    for key, title in (("next_word_top3", "next word top-3"), ("completion_top3", "completion top-3"),
                       ("ksr", "KSR@3")):
        lines += [f"\n**{title}** (clean typing)", "", "| engine | " + " | ".join(cols) + " |",
                  "| --- |" + " ---: |" * len(cols)]
        for name, r in rows.items():
            lines.append(f"| {name} | " + " | ".join(f"{r[c][key]:.3f}" if key in r.get(c, {}) else "-"
                                                     for c in cols) + " |")
    bigrams = [n for n in rows if n.startswith("bigram-")]
    models = [n for n in rows if n not in bigrams]
    if bigrams and all("ksr" in rows[n]["all"] for n in rows):
        lines += ["", "**KSR@3, all domains, over each bigram's**", "",
                  "| model | " + " | ".join(bigrams) + " |", "| --- |" + " ---: |" * len(bigrams)]
        lines += [f"| {m} | " + " | ".join(f"{rows[m]['all']['ksr'] / rows[b]['all']['ksr']:.2f}x"
                                          if rows[b]["all"]["ksr"] else "-" for b in bigrams) + " |" for m in models]
    return "\n".join(lines)


def checkpoint_meta(path) -> dict:
    d = resolve_checkpoint(path)
    cfg = json.loads((d / "config.json").read_text())
    return {"checkpoint": str(path), "resolved": str(d), "weights_sha256": cfg.get("weights_sha256"),
            "model": cfg.get("model"), "trained_on": cfg.get("train", {}).get("corpus")}


def file_meta(path) -> dict:
    p = Path(path)
    files = sorted(p.rglob("*.txt")) if p.is_dir() else [p]
    return {"path": str(p), "files": {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}}


def meta(args, models: dict, baselines: dict, domains: dict) -> dict:
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    return {"cpu": cpu.describe(), "commit": commit, "worktree_dirty": bool(dirty),
            "kebbie": importlib.metadata.version("kebbie"), "torch_threads": 1,
            "models": {n: checkpoint_meta(p) for n, p in models.items()},
            "baselines": {n: {**file_meta(p), "train_part": "first 90% of characters",
                              "kind": "chargen.baselines.BigramCompleter"} for n, p in baselines.items()},
            "heldout": {d: {"file": v["file"], "sha256": v["sha256"], "sentences": len(v["sentences"]),
                            "ksr_chars": len(v["ksr_text"])} for d, v in domains.items()},
            "protocol": "kebbie 0.5.1 oracle.tester and Scorer with typing_bench.clean_noise (no typos); KSR@3: "
                        "chargen.keystrokes.keystroke_savings via bench/keyboard.py ksr_table",
            "sentences": args.sentences, "ksr_chars": args.ksr_chars, "seed": args.seed,
            "command": " ".join(["python", "bench/everyday.py", *sys.argv[1:]])}


def pairs(items: list[str], what: str) -> dict:
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"{what} must be NAME=PATH, got {item!r}")
        out[name] = path
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", default=MODELS, help="NAME=CHECKPOINT, the app's engine on each")
    p.add_argument("--baseline-corpus", default=str(CORPORA / "everyday-mixed" / "everyday.txt"),
                   help="the new default's training corpus (file or folder): bigram 'everyday' on its train part")
    p.add_argument("--austen-corpus", default=str(ROOT / "corpora" / "austen"),
                   help="the Austen model's corpus: bigram 'austen' on its train part ('' for none)")
    p.add_argument("--heldout", type=Path, default=HELDOUT, help="corpora/everyday/build.py --heldout's folder")
    p.add_argument("--domains", nargs="+", default=list(DOMAINS), choices=list(DOMAINS))
    p.add_argument("--sentences", type=int, default=150, help="sentences per domain (kebbie measures)")
    p.add_argument("--ksr-chars", type=int, default=5000, help="characters per domain for KSR@3 (0: no KSR)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="write the rows and the run's details here")
    args = p.parse_args(argv)
    if not tb.kebbie_available():
        p.error("kebbie is not installed: pip install --no-deps kebbie==0.5.1 regex scipy requests tqdm")
    use_keystroke_threads()
    models = pairs(args.models, "--models")
    corpora = {k: v for k, v in (("everyday", args.baseline_corpus), ("austen", args.austen_corpus)) if v}
    for name, path in list(models.items()) + list(corpora.items()):
        if not Path(path).exists():
            p.error(f"{name}: {path} does not exist")
    tb.import_kebbie(no_typos_cache())
    domains = load_domains(args.heldout, args.domains, args.sentences, args.ksr_chars, args.seed)
    info = meta(args, models, corpora, domains)                 # the commit measured: the one at the start
    t = time.time()
    baselines = {name: train_part(path) for name, path in corpora.items()}
    rows = measure(build_engines(models, baselines), domains, args.seed)
    info["seconds"] = time.time() - t
    if args.json:                                    # results first: a printing problem must never lose a run
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"meta": info, "rows": rows}, indent=1, ensure_ascii=False) + "\n")
    print(f"\nEveryday English held out ({', '.join(f'{d}: {DOMAINS[d]}' for d in domains)}); "
          f"{args.sentences} sentences and {args.ksr_chars:,} KSR chars per domain, seed {args.seed}; "
          f"CPU {info['cpu'].get('kind')} ({info['cpu'].get('model')}), 1 thread; commit {info['commit'][:10]}")
    print(markdown(rows, domains))
    return 0


if __name__ == "__main__":
    sys.exit(main())
