"""The on-device export measured: latency of the Python keystroke path, of onnxruntime in Python and
of onnxruntime-web in Chromium (one step; the 3-completion suggestion bar), and int8 against fp32
(file size, bits per character on the validation split, KSR@3). One run, one table, one JSON with
the CPU it ran on.

    python bench/ondevice.py --json bench/results/ondevice.json                  # both parts
    python bench/ondevice.py --parts latency --keys 300 --models checkpoints/default checkpoints/korean
    python bench/ondevice.py --parts quality --ksr-chars 10000

Latency: every engine types the same --keys characters of text, one at a time, each keystroke
followed by the 8 next-character chips and the suggestion bar (``suggest(3)``), on one thread. The
engines: "python": today's keystroke path (numpy / torch / bf16 kernels by measurement,
CHARGEN_ONNX=0); "python+ort": the same with onnxruntime among the measured kernels (the default
where it is installed); "ort": every step on onnxruntime; "ort-web": the page's engine in headless
Chromium (engine.js over onnxruntime-web, WebAssembly, one thread), timed by the page itself. The bar
is the model alone (no word statistics: the page has none) in every row; "app engine" adds the
checkpoint's word statistics and the session cache, as the app's bar has them. Texts: the default's
Austen validation split; for a Korean (jamo) model NSMC test reviews from ../shared/corpora when
present. Quality: the default model's validation split (the last 10% of corpora/austen) scored like
training scores it (16 rows, 256 tokens of context), and KSR@3 with the app's engine on its first
--ksr-chars characters.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from chargen import cpu  # noqa: E402
from chargen.checkpoint import load_checkpoint, resolve_checkpoint  # noqa: E402
from chargen.evaluate import loss_report, stream_loss  # noqa: E402
from chargen.faststep import FastStepper, use_keystroke_threads  # noqa: E402
from chargen.keystrokes import ModelEngine, keystroke_savings  # noqa: E402
from chargen.onnx_export import OnnxLM, export_onnx, read_manifest  # noqa: E402
from chargen.onnxstep import OnnxStep  # noqa: E402
from chargen.predictor import Predictor  # noqa: E402
from chargen.wordstats import WordModel  # noqa: E402
from keyboard import read_corpus, split  # noqa: E402
from stats import pct  # noqa: E402

KOREAN_TEXT = ROOT.parent / "shared" / "corpora" / "nsmc_test.txt"
CHROMIUM = os.environ.get("CHARGEN_CHROMIUM", "/usr/bin/chromium")


def summary(ms: list[float]) -> dict:
    return {"p50": statistics.median(ms), "p99": pct(ms, 0.99), "n": len(ms)}


def stepper_for(model, engine: str) -> FastStepper:
    if engine == "ort":
        return FastStepper(model, kernels={"exact": "onnx", "search": "onnx"})
    os.environ["CHARGEN_ONNX"] = "0" if engine == "python" else "1"
    try:
        return FastStepper(model)
    finally:
        os.environ.pop("CHARGEN_ONNX", None)


def python_latency(predictor: Predictor, text: str) -> dict:
    s, step_ms, bar_ms = predictor.session(), [], []
    row = predictor.start_row[None]
    for i in range(300):                                   # one step: the session's own (exact) kernel
        t = time.perf_counter()
        predictor.stepper.step_rows([i % predictor.vocab_size], row)
        step_ms.append(1000 * (time.perf_counter() - t))
    for c in text:
        t = time.perf_counter()
        s.type(c)
        s.next_chars(8)
        s.suggest(3)
        bar_ms.append(1000 * (time.perf_counter() - t))
    return {"step": summary(step_ms), "bar": summary(bar_ms), "kernels": predictor.stepper.describe()}


PAGE_TIMING = """async ([text, reps]) => {
  const e = window.chargen.engine, s = e.session(), step = [], bar = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now(); await e.step([i % e.V], e.start.row); step.push(performance.now() - t);
  }
  for (let i = 1; i <= text.length; i++) {
    const t = performance.now();
    await s.setText(text.slice(0, i)); s.nextChars(8); await s.suggest(3);
    bar.push(performance.now() - t);
  }
  return {step, bar};
}"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def page_latency(folder: Path, text: str, precision: str = "fp32") -> dict:
    """The page's engine in headless Chromium, the exported folder served over http on 127.0.0.1."""
    from playwright.sync_api import sync_playwright
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{server.server_port}/index.html?precision={precision}")
            page.wait_for_function("window.chargen && window.chargen.engine", timeout=60_000)
            ua = page.evaluate("navigator.userAgent")
            page.evaluate(PAGE_TIMING, [text[-40:], 100])          # warm-up: WebAssembly tiers up, the JIT too
            r = page.evaluate(PAGE_TIMING, [text, 300])
            browser.close()
    finally:
        server.shutdown()
    return {"step": summary(r["step"]), "bar": summary(r["bar"]), "browser": ua}


def model_text(path, tok, keys: int) -> str:
    if tok.kind == "jamo" and KOREAN_TEXT.exists():
        return KOREAN_TEXT.read_text(encoding="utf-8")[5000:5000 + keys]
    return split(read_corpus(ROOT / "corpora" / "austen"))[1][1000:1000 + keys]


def latency(args, exports: Path) -> dict:
    out = {}
    for path in args.models:
        model, tok, _ = load_checkpoint(path)
        text, name = model_text(path, tok, args.keys), Path(path).name
        c = model.config
        r = out[name] = {"model": f"{c.num_layers} x {c.hidden_size} {c.cell}", "tokenizer": tok.kind,
                         "keys": len(text), "params": model.num_params()}
        words = WordModel.load(resolve_checkpoint(path))
        for engine in ("python", "python+ort", "ort"):
            stepper = stepper_for(model, engine)
            r[engine] = python_latency(Predictor(model, tok, words=None, cache=False, stepper=stepper), text)
            if engine != "ort":
                r[engine]["bar_app_engine"] = python_latency(Predictor(model, tok, words=words, stepper=stepper), text)["bar"]
            print(f"  {name} {engine}: step p50 {r[engine]['step']['p50']:.3f} ms, bar p50/p99 "
                  f"{r[engine]['bar']['p50']:.2f}/{r[engine]['bar']['p99']:.2f} ms", flush=True)
        folder = exports / name
        export_onnx(path, folder, force=True)
        for precision in ("fp32", "int8"):
            r[f"ort-web {precision}"] = page_latency(folder, text, precision)
            w = r[f"ort-web {precision}"]
            print(f"  {name} ort-web {precision}: step p50 {w['step']['p50']:.3f} ms, bar p50/p99 "
                  f"{w['bar']['p50']:.2f}/{w['bar']['p99']:.2f} ms", flush=True)
    return out


def quality(args, exports: Path) -> dict:
    """int8 against fp32 on the default model: size, val bpc, KSR@3 (the app's engine)."""
    path = ROOT / "checkpoints" / "default"
    model, tok, config = load_checkpoint(path)
    train_text, val_text = split(read_corpus(ROOT / "corpora" / "austen"))
    folder = exports / "default"
    if not (folder / "manifest.json").exists():
        export_onnx(path, folder, force=True)
    m = read_manifest(folder)
    stream = tok.encode_array(train_text[-256:] + val_text)
    words = WordModel.load(path)
    out = {"val_chars": len(val_text), "ksr_chars": args.ksr_chars,
           "checkpoint_val_bpc": config.get("metrics", {}).get("val_bpc")}
    for precision in ("fp32", "int8"):
        step = OnnxStep(folder / m["files"][precision])
        t = time.perf_counter()
        total, n = stream_loss(OnnxLM(step, m), stream, n_scored=len(val_text))
        bpc = loss_report(total, n, len(val_text))["val_bpc"]
        predictor = Predictor(model, tok, words=words, stepper=FastStepper(
            model, kernels={"exact": "onnx", "search": "onnx"}, onnx=step))
        ksr = keystroke_savings(ModelEngine(predictor), val_text[:args.ksr_chars], 3)
        out[precision] = {"bytes": m["sizes"][precision], "val_bpc": bpc, "ksr3": ksr["ksr"],
                          "top1_char_acc": ksr["top1_char_acc"], "seconds": time.perf_counter() - t}
        print(f"  {precision}: {m['sizes'][precision] / 1e6:.2f} MB, val bpc {bpc:.4f}, KSR@3 {ksr['ksr']:.4f}", flush=True)
    return out


def report(results: dict) -> None:
    c = results["cpu"]
    print(f"\nCPU {c['kind']} ({c['model']}), one thread; ms per keystroke (chips + suggestion bar, model alone)")
    print(f"{'model':<10} {'engine':<14} {'step p50':>9} {'step p99':>9} {'bar p50':>8} {'bar p99':>8} {'app bar p50/p99':>16}")
    for name, r in results.get("latency", {}).items():
        for engine in ("python", "python+ort", "ort", "ort-web fp32", "ort-web int8"):
            e = r[engine]
            app = e.get("bar_app_engine")
            app = f"{app['p50']:.2f}/{app['p99']:.2f}" if app else ""
            print(f"{name:<10} {engine:<14} {e['step']['p50']:>9.3f} {e['step']['p99']:>9.3f} {e['bar']['p50']:>8.2f} "
                  f"{e['bar']['p99']:>8.2f} {app:>16}")
    q = results.get("quality")
    if q:
        print(f"\nint8 vs fp32, default model: val split {q['val_chars']:,} chars, KSR@3 on its first {q['ksr_chars']:,}")
        for precision in ("fp32", "int8"):
            r = q[precision]
            print(f"{precision:<6} {r['bytes'] / 1e6:>6.2f} MB  bpc {r['val_bpc']:.4f}  KSR@3 {r['ksr3']:.4f}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", nargs="+", default=["latency", "quality"], choices=["latency", "quality"])
    p.add_argument("--models", nargs="+", default=[str(ROOT / "checkpoints" / "default"), str(ROOT / "checkpoints" / "korean")])
    p.add_argument("--keys", type=int, default=300, help="keystrokes typed per engine")
    p.add_argument("--ksr-chars", type=int, default=10_000, help="validation characters for KSR@3")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    use_keystroke_threads()
    torch.manual_seed(0)
    np.random.seed(0)
    results = {"cpu": cpu.describe(), "command": "python bench/ondevice.py " + " ".join(argv or sys.argv[1:])}
    with tempfile.TemporaryDirectory() as tmp:
        if "latency" in args.parts:
            results["latency"] = latency(args, Path(tmp))
        if "quality" in args.parts:
            results["quality"] = quality(args, Path(tmp))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2))
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
