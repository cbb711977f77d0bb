"""Many typists against one server: the capacity figure of the web app's keyboard.

Starts ``python app.py`` on the default model (a temporary checkpoints root holding a link to it),
then for each N in --typists runs N lightweight typists side by side, plain HTTP, no browser, each
typing its own passage of the Austen validation split at a steady pace (one key per --interval-ms,
or slower when an answer comes later than that) with its own session id, on each route:

    page    what the Keyboard tab's page sends per keystroke (chargen/web/keyboard.js): POST
            /keyboard/suggest with the tab's session id, its browser id, learning on, "panel": true
    json    the JSON lane as a program calls it: POST /keyboard/suggest {"text", "model", "n", "session"}
    gradio  Gradio's one-request API route: POST /gradio_api/run/suggest (with a session_hash)
    call    what gradio_client does: POST /gradio_api/call/suggest, then GET its event stream

Reported per N: latency as the client sees it (p50 / p90 / p99), the server's CPU per keystroke and
its memory (RSS) after the run, errors, and cross-talk: every answer must carry its own session id
(the page's, its own text) and the kind of its text (completions or next words), every suggestion
must extend that typist's own current word, be one of its listed corrections, or be within 2 edits
of it at its length (a completion that forgives a slip). ``--browser-during N``: one real Chromium page types in the Keyboard tab
while N page typists load the server; its keypress -> bar latency by the page's own clock
(bench/ui_latency.py's instrument).

    python bench/serve_load.py --json bench/results/serve_load.json [--emulate avx2]
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from isa import CAPS, add_emulate_flag  # noqa: E402
from stats import pct  # noqa: E402

from chargen import cpu  # noqa: E402  (standard library only: no torch in this process)
from chargen.words import current_word  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def passages(corpus: Path, n: int, keys: int, seed: int = 0) -> list[str]:
    """n different passages of the corpus's validation split (its last 10%), each ``keys`` long
    and starting at a word."""
    text = "".join(p.read_text(encoding="utf-8") for p in sorted(corpus.glob("*.txt"))) if corpus.is_dir() \
        else corpus.read_text(encoding="utf-8")
    val = " ".join(text[int(0.9 * len(text)):].split())          # one line: typed, not pasted
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        at = rng.randrange(0, len(val) - 2 * keys)
        at = val.index(" ", at) + 1
        out.append(val[at:at + keys])
    return out


def edits(a: str, b: str) -> int:
    """Levenshtein distance."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


class Typist(threading.Thread):
    def __init__(self, port: int, text: str, sid: str | None, interval: float, start_at: float, route: str = "gradio"):
        super().__init__(daemon=True)
        self.port, self.text, self.sid, self.interval, self.start_at = port, text, sid, interval, start_at
        self.route = route
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.crosstalk: list[str] = []
        self.stop = threading.Event()

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        due = self.start_at
        for k in range(1, len(self.text) + 1):
            if self.stop.wait(max(0.0, due - time.monotonic())):
                break
            typed = self.text[:k]
            path, body = self.request(typed)
            t = time.perf_counter()
            try:
                if self.route == "call":                     # gradio_client's two requests: the call, its events
                    conn.request("POST", path, body, {"Content-Type": "application/json"})
                    resp = conn.getresponse()
                    event = json.loads(resp.read())["event_id"]
                    conn.request("GET", f"{path}/{event}")
                    resp = conn.getresponse()
                    payload = resp.read()
                    status = resp.status if b"event: complete" in payload else 500
                    answer = json.loads(payload.split(b"event: complete\ndata: ", 1)[1].split(b"\n", 1)[0])[0] \
                        if status == 200 else None
                else:
                    conn.request("POST", path, body, {"Content-Type": "application/json"})
                    resp = conn.getresponse()
                    payload, status = resp.read(), resp.status
                    answer = json.loads(payload) if status == 200 else None
                    answer = answer["data"][0] if self.route == "gradio" and answer else answer
                took = time.perf_counter() - t
                if status != 200:
                    self.errors.append(f"HTTP {status}: {payload[:200]!r}")
                else:
                    self.check(typed, answer)
                    self.latencies.append(1000 * took)
            except (OSError, ValueError, KeyError, IndexError) as e:
                self.errors.append(f"{type(e).__name__}: {e}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            due = max(due + self.interval, time.monotonic())      # steady pace, or at once when late
        conn.close()

    def request(self, typed: str) -> tuple[str, str]:
        sid = self.sid or ""
        if self.route == "gradio":
            # session_hash: Gradio's own per-client state, built once per hash (without one, Gradio
            # rebuilds it for every request: ~12 ms of CPU for this app's page of components)
            return "/gradio_api/run/suggest", json.dumps({"data": [typed, "bench", 3, sid], "session_hash": self.sid or None})
        if self.route == "call":
            return "/gradio_api/call/suggest", json.dumps({"data": [typed, "bench", 3, sid]})
        if self.route == "page":                 # exactly what keyboard.js sends for a keystroke
            return "/keyboard/suggest", json.dumps({"text": typed, "model": "bench", "n": 3, "session": sid, "learn": True,
                                                    "autocorrect": "modest", "browser": f"browser-{sid}", "key": "",
                                                    "panel": True})
        return "/keyboard/suggest", json.dumps({"text": typed, "model": "bench", "n": 3, "session": sid})

    def check(self, typed: str, answer: dict) -> None:
        word = current_word(typed)
        if self.sid and answer.get("session") != self.sid:
            self.crosstalk.append(f"session {answer.get('session')!r} for {self.sid!r}")
        if self.route == "page" and answer.get("text") != typed:
            self.crosstalk.append(f"text {answer.get('text', '')[-20:]!r} for {typed[-20:]!r}")
        if answer.get("kind") != ("completions" if word else "next words"):
            self.crosstalk.append(f"{typed[-20:]!r}: kind {answer.get('kind')!r}")
        # a suggestion extends the word, or is one of its corrections, or a completion forgiving a slip
        # (typos.py): within 2 edits of the word at its own length; another typist's word would not be
        fixes = {w for w, _ in answer.get("corrections", [])}
        bad = [w for w in answer.get("suggestions", []) if not w.startswith(word) and w not in fixes
               and min(edits(word.lower(), w[:n].lower()) for n in (len(word) - 1, len(word), len(word) + 1)) > 2]
        if bad:
            self.crosstalk.append(f"{typed[-20:]!r}: {bad}")


def run(port: int, pid: int, n: int, texts: list[str], interval: float, ids: bool = True,
        route: str = "gradio") -> dict:
    start = time.monotonic() + 0.5
    rng = random.Random(n)
    typists = [Typist(port, texts[i], f"{route}-{n}-{i}" if ids else None, interval,
                      start + rng.uniform(0, interval), route) for i in range(n)]
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    for t in typists:
        t.start()
    for t in typists:
        t.join()
    cpu1, seconds = cpu_seconds(pid), time.monotonic() - t0
    lat = [x for t in typists for x in t.latencies]
    keys = sum(len(t.text) for t in typists)
    return {"route": route, "typists": n, "session_ids": ids, "keystrokes": keys, "answered": len(lat),
            "p50_ms": statistics.median(lat) if lat else None, "p90_ms": pct(lat, 0.9) if lat else None,
            "p99_ms": pct(lat, 0.99) if lat else None, "max_ms": max(lat) if lat else None,
            "server_cpu_ms_per_key": 1000 * (cpu1 - cpu0) / keys, "server_cores": (cpu1 - cpu0) / seconds,
            "server_rss_mb": rss_mb(pid), "errors": sum(len(t.errors) for t in typists), "crosstalk": sum(len(t.crosstalk) for t in typists),
            "error_examples": [e for t in typists for e in t.errors][:3],
            "crosstalk_examples": [e for t in typists for e in t.crosstalk][:3]}


def browser_during(port: int, pid: int, n: int, texts: list[str], page_text: str, interval: float) -> dict:
    """One Chromium page types ``page_text`` in the Keyboard tab (one key per ``interval``) while
    ``n`` page typists type ``texts``: its keypress -> bar latencies by the page's own clock."""
    from playwright.sync_api import sync_playwright
    from ui_latency import CHROMIUM, INSTRUMENT
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-renderer-backgrounding",
            "--disable-background-timer-throttling"])
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector("#kb_panel .sugg-bar[data-len='0'] button.sugg", timeout=60_000)
        page.evaluate(INSTRUMENT)
        page.locator("#kb_text textarea").click()
        start = time.monotonic() + 0.2
        rng = random.Random(n)
        typists = [Typist(port, texts[i], f"load-{n}-{i}", interval, start + rng.uniform(0, interval), "page")
                   for i in range(n)]
        for t in typists:
            t.start()
        time.sleep(2.0)                                  # the load running before the page types
        lat, warmup = [], 3
        for i, c in enumerate(page_text, start=1):
            due = time.monotonic() + interval
            page.keyboard.type(c)
            page.evaluate(f"window.__waitFor('{i}')")
            if i > warmup:
                lat.append(page.evaluate(f"window.__seen['{i}'] - window.__kd['{i}']"))
            time.sleep(max(0.0, due - time.monotonic()))
        for t in typists:
            t.stop.set()
        for t in typists:
            t.join()
        browser.close()
    load = [x for t in typists for x in t.latencies]
    return {"route": "chromium page", "typists": n, "keystrokes": len(lat), "p50_ms": statistics.median(lat),
            "p90_ms": pct(lat, 0.9), "p99_ms": pct(lat, 0.99), "max_ms": max(lat),
            "load_p50_ms": statistics.median(load), "load_p99_ms": pct(load, 0.99),
            "errors": sum(len(t.errors) for t in typists), "crosstalk": sum(len(t.crosstalk) for t in typists),
            "server_rss_mb": rss_mb(pid), "error_examples": [e for t in typists for e in t.errors][:3],
            "crosstalk_examples": [e for t in typists for e in t.crosstalk][:3]}


def wait_ready(port: int, proc, timeout: float = 180) -> None:
    t = time.monotonic()
    while time.monotonic() - t < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"the app exited with status {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the app did not answer on port {port} within {timeout:.0f} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "default"))
    p.add_argument("--corpus", default=str(ROOT / "corpora" / "austen"), help="passages come from its val split")
    p.add_argument("--typists", type=int, nargs="+", default=[1, 8, 16, 32])
    p.add_argument("--keys", type=int, default=40, help="keystrokes per typist")
    p.add_argument("--interval-ms", type=float, default=200, help="one key per this many ms per typist")
    p.add_argument("--without-ids", type=int, nargs="*", default=[],
                   help="also run these numbers of typists who send no session id (nor a Gradio session_hash)")
    p.add_argument("--routes", nargs="+", choices=["page", "json", "gradio", "call"], default=["page", "json", "gradio", "call"],
                   help="page: the Keyboard tab's request per keystroke; json: POST /keyboard/suggest; "
                        "gradio: POST /gradio_api/run/suggest; call: /gradio_api/call/suggest (gradio_client)")
    p.add_argument("--browser-during", type=int, default=16,
                   help="one Chromium page's keypress -> bar while this many page typists type (0: skip)")
    p.add_argument("--json", default=None)
    add_emulate_flag(p)
    args = p.parse_args()
    env_caps = CAPS.get(args.emulate or "", {})
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="chargen-serve-load-") as tmp:
        root = Path(tmp) / "checkpoints"
        root.mkdir()
        (root / "bench").symlink_to(Path(args.checkpoint).resolve())
        port = free_port()
        env = {**os.environ, **env_caps, "GRADIO_TEMP_DIR": str(Path(tmp) / "gradio"), "TMPDIR": tmp}
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--checkpoints", str(root), "--port", str(port)],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(port, proc)
            texts = passages(Path(args.corpus), max(args.typists), args.keys)
            run(port, proc.pid, 2, texts, args.interval_ms / 1000)              # warm-up: loads the model
            idle_rss = rss_mb(proc.pid)
            print(f"server after warm-up: {idle_rss:.0f} MB", flush=True)
            rows = []
            plan = [(n, True) for n in args.typists] + [(n, False) for n in args.without_ids]
            for route, (n, ids) in [(route, case) for case in plan for route in args.routes]:
                rows.append(run(port, proc.pid, n, texts, args.interval_ms / 1000, ids, route))
                r = rows[-1]
                print(f"{route:>6} {n:>3} typists{'' if ids else ' without ids'}: p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
                      f"{r['errors']} errors, {r['crosstalk']} cross-talk, server {r['server_rss_mb']:.0f} MB", flush=True)
            if args.browser_during:
                long = passages(Path(args.corpus), args.browser_during, 400, seed=1)
                page_text = passages(Path(args.corpus), 1, 40, seed=2)[0]
                rows.append(browser_during(port, proc.pid, args.browser_during, long, page_text, args.interval_ms / 1000))
                r = rows[-1]
                print(f"Chromium page with {r['typists']} page typists: keypress -> bar p50 {r['p50_ms']:.1f} ms, "
                      f"p99 {r['p99_ms']:.1f} ms (the load's own p50 {r['load_p50_ms']:.1f} ms)", flush=True)
            for r in rows:
                if r["errors"] or r["crosstalk"]:
                    print(f"{r['route']} {r['typists']}: {r['error_examples']} {r['crosstalk_examples']}")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    cpu_info = cpu.describe() if not env_caps else {**cpu.describe(), "isa_caps": env_caps, "kind": args.emulate}
    print(f"\n/suggest under load: {args.keys} keys per typist, one per {args.interval_ms:.0f} ms, server and "
          f"clients on this {os.cpu_count()}-core host; CPU {cpu_info['kind']} ({cpu_info['model']}"
          f"{', emulated with ISA caps' if env_caps else ''})")
    print(f"{'route':>13} {'typists':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} {'server CPU ms/key':>18} "
          f"{'RSS MB':>7} {'errors':>7} {'cross-talk':>10}")
    for r in rows:
        label = f"{r['typists']}{'' if r.get('session_ids', True) else ' no id'}"
        print(f"{r['route']:>13} {label:>7} {r['p50_ms']:>8.1f} {r['p90_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['max_ms']:>8.1f} "
              f"{r.get('server_cpu_ms_per_key', float('nan')):>18.2f} {r['server_rss_mb']:>7.0f} {r['errors']:>7} {r['crosstalk']:>10}")
    if args.json:
        out = {"cpu": cpu_info, "checkpoint": args.checkpoint, "keys_per_typist": args.keys,
               "interval_ms": args.interval_ms, "targets": {"page 16": {"p50_ms": 20, "p99_ms": 100}, "page 32": {"p50_ms": 50},
                                                          "chromium page, 16 typists": {"p50_ms": 60}, "call 16": {"p50_ms": 150}},
               "load_average_before": load_before, "load_average_after": os.getloadavg(),
               "server_rss_mb_after_warmup": idle_rss, "results": rows, "date": time.strftime("%Y-%m-%d %H:%M:%S")}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
