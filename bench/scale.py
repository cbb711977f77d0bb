"""Benchmark: scaling. A generated 1 GB corpus is tokenized in streamed chunks into memory-mapped
ids (MB/s and the peak RSS of that process), a short training run on it (its peak RSS), and
training chars/s of 1 process x 2 threads against 2 processes x 1 thread (torchrun, gloo) at the
same global batch on this machine. Prints a table and writes JSON.

    python bench/scale.py --json bench/results/scale.json

The corpus is made in a temporary folder (never in the repo) by shuffling the lines of
../shared/corpora/tinyshakespeare.txt (the bundled corpora/austen where that is missing) over and
over, and deleted afterwards. Peak RSS is the child process's own high-water mark (wait4's
ru_maxrss): file pages of the memory-mapped ids count in it once read.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from chargen import cpu  # noqa: E402  (standard library only)

SHARED = ROOT.parent / "shared" / "corpora" / "tinyshakespeare.txt"
MB = 1 << 20
# (name, hidden_size, num_layers, global batch, bptt_len): the 100-second default, then 4x the batch
SHAPES = [("2x192 B16", 192, 2, 16, 64), ("2x192 B64", 192, 2, 64, 64)]


def source_lines() -> tuple[list[str], str]:
    files = [SHARED] if SHARED.exists() else sorted((ROOT / "corpora" / "austen").glob("*.txt"))
    lines = [line for f in files for line in f.read_text(encoding="utf-8").splitlines(keepends=True)]
    return lines, ", ".join(map(str, files))


def generate_corpus(path: Path, size: int, seed: int = 0) -> str:
    """``size`` bytes of text: the source's lines, reshuffled for every pass (ASCII or not, the
    file is cut at a line end so it stays valid UTF-8)."""
    lines, source = source_lines()
    rng, written = random.Random(seed), 0
    with open(path, "w", encoding="utf-8") as f:
        while written < size:
            rng.shuffle(lines)
            for line in lines:
                f.write(line)
                written += len(line.encode("utf-8"))
                if written >= size:
                    break
    return source


def run_measured(cmd: list[str], env: dict | None = None) -> dict:
    """Run ``cmd``; its exit status, stdout, stderr tail, wall time and peak RSS (MB)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t = time.monotonic()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, env={**os.environ, **(env or {})}, cwd=ROOT)
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - t
        out.seek(0), err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode(errors="replace")
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{stderr[-3000:]}")
    return {"stdout": stdout, "wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024}


TOKENIZE = """
import json, sys, time
from chargen.data import iter_text, prepare_corpus
from chargen.tokenizer import fit_tokenizer
corpus, cache = sys.argv[1], sys.argv[2]
t = time.monotonic()
data = prepare_corpus([corpus], "char", cache, progress=True)
prepare = time.monotonic() - t
# the tokenizing step alone: encode the first 256 MB in the 1 MB chunks prepare_corpus reads
n, t = 0, time.monotonic()
for text in iter_text([corpus]):
    data.tokenizer.encode_array(text).astype("uint8")
    n += len(text.encode())
    if n >= 256 << 20:
        break
print(json.dumps({"prepare_s": prepare, "encode_bytes": n, "encode_s": time.monotonic() - t,
                  "chars": data.meta["chars"], "train_tokens": data.meta["train_tokens"]}))
"""


def corpus_part(work: Path, size_mb: int, train_minutes: float) -> dict:
    corpus = work / "corpus.txt"
    t = time.monotonic()
    source = generate_corpus(corpus, size_mb * MB)
    gen_s = time.monotonic() - t
    size = corpus.stat().st_size
    run = work / "run"
    tok = run_measured([sys.executable, "-c", TOKENIZE, str(corpus), str(run / "data")])
    stats = json.loads(tok["stdout"].strip().splitlines()[-1])
    # training reuses run/data (same corpus, same tokenizer): its peak RSS is the training's
    tr = run_measured([sys.executable, "-m", "chargen", "train", "--corpus", str(corpus), "--out", str(run),
                       "--max-minutes", str(train_minutes), "--threads", str(os.cpu_count() or 1)])
    recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    end = recs[-1]
    cps = [r["chars_per_s"] for r in recs if r["event"] == "train"]
    return {"source": source, "corpus_bytes": size, "generate_s": gen_s,
            "prepare_s": stats["prepare_s"], "prepare_mb_s": size / MB / stats["prepare_s"],
            "encode_mb_s": stats["encode_bytes"] / MB / stats["encode_s"],
            "prepare_peak_rss_mb": tok["peak_rss_mb"], "train_minutes": train_minutes,
            "train_wall_s": tr["wall_s"], "train_peak_rss_mb": tr["peak_rss_mb"], "train_steps": end["step"],
            "train_chars_per_s": statistics.median(cps) if cps else None,
            "val_nats": end["last"].get("val_nats"), "val_tokens": end["last"].get("val_tokens")}


def throughput(work: Path, shape, procs: int, steps: int, corpus: str) -> float:
    name, hidden, layers, batch, bptt = shape
    out = work / f"tp-{procs}-{time.monotonic_ns()}"
    args = ["--corpus", corpus, "--out", str(out), "--max-minutes", "0", "--max-steps", str(steps),
            "--hidden-size", str(hidden), "--num-layers", str(layers), "--dropout", "0", "--batch-size", str(batch),
            "--bptt-len", str(bptt), "--eval-interval", str(10 ** 9), "--patience", "0", "--val-max-tokens", "20000"]
    ncpu = os.cpu_count() or 1
    if procs == 1:
        run_measured([sys.executable, "-m", "chargen", "train", *args, "--threads", str(ncpu)])
    else:
        run_measured([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}",
                      "-m", "chargen", "train", *args, "--threads", str(max(1, ncpu // procs))],
                     env={"OMP_NUM_THREADS": str(max(1, ncpu // procs))})
    recs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    shutil.rmtree(out)
    return statistics.median(r["chars_per_s"] for r in recs if r["event"] == "train" and r["step"] > 50)


def throughput_part(work: Path, repeats: int, steps: int) -> list[dict]:
    corpus = str(SHARED if SHARED.exists() else ROOT / "corpora" / "austen")
    rows = []
    for shape in SHAPES:
        one, two = [], []
        for _ in range(repeats):            # interleaved, so drift on the host hits both alike
            one.append(throughput(work, shape, 1, steps, corpus))
            two.append(throughput(work, shape, 2, steps, corpus))
        rows.append({"shape": shape[0], "hidden_size": shape[1], "num_layers": shape[2], "global_batch": shape[3],
                     "bptt_len": shape[4], "steps": steps, "one_process_chars_per_s": one,
                     "two_processes_chars_per_s": two, "one_median": statistics.median(one),
                     "two_median": statistics.median(two),
                     "ratio": statistics.median(two) / statistics.median(one),
                     "pair_ratios": [b / a for a, b in zip(one, two)]})
        print(f"  {shape[0]}: 1 proc {rows[-1]['one_median']:,.0f} chars/s, 2 procs {rows[-1]['two_median']:,.0f} "
              f"({rows[-1]['ratio']:.2f}x)", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default=None, help="write the results here")
    ap.add_argument("--size-mb", type=int, default=1024, help="generated corpus size")
    ap.add_argument("--train-minutes", type=float, default=1.0, help="training budget on the big corpus")
    ap.add_argument("--repeats", type=int, default=3, help="1-vs-2-process runs per shape (medians reported)")
    ap.add_argument("--steps", type=int, default=300, help="steps per throughput run")
    ap.add_argument("--parts", nargs="+", default=["corpus", "throughput"], choices=["corpus", "throughput"])
    args = ap.parse_args()
    import torch
    result = {"cpus": os.cpu_count(), "torch": torch.__version__, "argv": sys.argv[1:]}
    work = Path(tempfile.mkdtemp(prefix="chargen-scale-"))
    import signal
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))     # still delete the 1 GB corpus
    try:
        # the host's load around each part: other work on these 2 cores skews the timings
        if "corpus" in args.parts:
            load = os.getloadavg()[0]
            result["corpus"] = {**corpus_part(work, args.size_mb, args.train_minutes),
                                "loadavg_1min_before_after": [load, os.getloadavg()[0]]}
        if "throughput" in args.parts:
            load, started = os.getloadavg()[0], time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
            result["throughput"] = throughput_part(work, args.repeats, args.steps)
            result["throughput_sessions"] = [{"started": started, "loadavg_1min_before_after":
                                              [load, os.getloadavg()[0]], "rows": result["throughput"]}]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:                          # written before the table: a print error loses nothing
        out = Path(args.json)
        if out.exists():                   # parts run separately (on a quiet host) merge into one file;
            old = json.loads(out.read_text())   # every throughput session is kept (the host drifts)
            kept = {k: old[k] for k in ("corpus", "throughput") if k in old and k not in args.parts}
            sessions = old.get("throughput_sessions", [])
            if "throughput" in args.parts:
                kept["throughput_sessions"] = sessions + result["throughput_sessions"]
            elif sessions:
                kept["throughput_sessions"] = sessions
            result = {**result, **kept}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({**result, "cpu": cpu.describe()}, indent=2))
    print(f"\nchargen scaling, {os.cpu_count()} CPUs, torch {torch.__version__}")
    if "corpus" in result:
        c = result["corpus"]
        print(f"| corpus | {c['corpus_bytes'] / MB:,.0f} MB generated from {Path(c['source'].split(',')[0]).name} |")
        print(f"| prepare (check + vocabulary + tokenize to memmap) | {c['prepare_s']:.1f} s, {c['prepare_mb_s']:.0f} MB/s, "
              f"peak RSS {c['prepare_peak_rss_mb']:.0f} MB |")
        print(f"| char tokenization alone | {c['encode_mb_s']:.0f} MB/s |")
        print(f"| training {c['train_minutes']:g} min on it | {c['train_steps']} steps, {c['train_chars_per_s']:,.0f} chars/s, "
              f"peak RSS {c['train_peak_rss_mb']:.0f} MB (whole process, {c['train_wall_s']:.0f} s) |")
    for session in result.get("throughput_sessions", []):
        for r in session["rows"]:
            print(f"| {session['started'][11:16]} {r['shape']} T{r['bptt_len']} | 1 process x 2 threads "
                  f"{r['one_median']:,.0f} chars/s | 2 processes x 1 thread {r['two_median']:,.0f} chars/s | "
                  f"{r['ratio']:.2f}x (pairs {', '.join(f'{x:.2f}' for x in r['pair_ratios'])}) |")


if __name__ == "__main__":
    main()
