"""Many typists against one server: the capacity figure of the web app's API.

Starts ``python app.py`` on the default model (a temporary checkpoints root holding a link to it),
then for each N in --typists runs N lightweight API typists side by side: plain HTTP, one JSON answer
per keystroke, no browser, against the Gradio API (``POST /gradio_api/run/suggest``) and against the
app's plain-JSON lane for the same call (``POST /keyboard/suggest``, no Gradio machinery), each
typing its own passage of the Austen validation split at a steady pace (one key per --interval-ms,
or slower when an answer comes later than that) with its own session id. Reported per N: latency
as the client sees it (p50 / p90 / p99), the server's CPU per keystroke, errors, and cross-talk:
every suggestion must extend that typist's own current word, and every answer must carry its own
session id.

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

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        due = self.start_at
        for k in range(1, len(self.text) + 1):
            time.sleep(max(0.0, due - time.monotonic()))
            typed = self.text[:k]
            if self.route == "gradio":
                # session_hash: Gradio's own per-client state, built once per hash (without one, Gradio
                # rebuilds it for every request: ~12 ms of CPU for this app's page of components)
                path = "/gradio_api/run/suggest"
                body = json.dumps({"data": [typed, "bench", 3, self.sid or ""], "session_hash": self.sid or None})
            else:
                path = "/keyboard/suggest"
                body = json.dumps({"text": typed, "model": "bench", "n": 3, "session": self.sid or ""})
            t = time.perf_counter()
            try:
                conn.request("POST", path, body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                payload = resp.read()
                took = time.perf_counter() - t
                if resp.status != 200:
                    self.errors.append(f"HTTP {resp.status}: {payload[:200]!r}")
                else:
                    answer = json.loads(payload)
                    self.check(typed, answer["data"][0] if self.route == "gradio" else answer)
                    self.latencies.append(1000 * took)
            except (OSError, ValueError, KeyError) as e:
                self.errors.append(f"{type(e).__name__}: {e}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            due = max(due + self.interval, time.monotonic())      # steady pace, or at once when late
        conn.close()

    def check(self, typed: str, answer: dict) -> None:
        word = current_word(typed)
        if self.sid and answer.get("session") != self.sid:
            self.crosstalk.append(f"session {answer.get('session')!r} for {self.sid!r}")
        bad = [w for w in answer.get("suggestions", []) if not w.startswith(word)]
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
            "errors": sum(len(t.errors) for t in typists), "crosstalk": sum(len(t.crosstalk) for t in typists),
            "error_examples": [e for t in typists for e in t.errors][:3],
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
    p.add_argument("--typists", type=int, nargs="+", default=[1, 4, 8, 16, 32])
    p.add_argument("--keys", type=int, default=40, help="keystrokes per typist")
    p.add_argument("--interval-ms", type=float, default=200, help="one key per this many ms per typist")
    p.add_argument("--without-ids", type=int, nargs="*", default=[16],
                   help="also run these numbers of typists who send no session id (nor a Gradio session_hash)")
    p.add_argument("--routes", nargs="+", choices=["gradio", "json"], default=["gradio", "json"],
                   help="gradio: POST /gradio_api/run/suggest (the Gradio API); json: POST /keyboard/suggest")
    p.add_argument("--json", default=None)
    add_emulate_flag(p)
    args = p.parse_args()
    env_caps = CAPS.get(args.emulate or "", {})
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
            rows = []
            plan = [(n, True) for n in args.typists] + [(n, False) for n in args.without_ids]
            for route, (n, ids) in [(route, case) for case in plan for route in args.routes]:
                rows.append(run(port, proc.pid, n, texts, args.interval_ms / 1000, ids, route))
                r = rows[-1]
                print(f"{route:>6} {n:>3} typists{'' if ids else ' without ids'}: p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
                      f"{r['errors']} errors, {r['crosstalk']} cross-talk", flush=True)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    cpu_info = cpu.describe() if not env_caps else {**cpu.describe(), "isa_caps": env_caps, "kind": args.emulate}
    print(f"\n/suggest under load: {args.keys} keys per typist, one per {args.interval_ms:.0f} ms, server and "
          f"clients on this {os.cpu_count()}-core host; CPU {cpu_info['kind']} ({cpu_info['model']}"
          f"{', emulated with ISA caps' if env_caps else ''})")
    print(f"{'route':>6} {'typists':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} {'server CPU ms/key':>18} "
          f"{'errors':>7} {'cross-talk':>10}")
    for r in rows:
        label = f"{r['typists']}{'' if r['session_ids'] else ' no id'}"
        print(f"{r['route']:>6} {label:>7} {r['p50_ms']:>8.1f} {r['p90_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['max_ms']:>8.1f} "
              f"{r['server_cpu_ms_per_key']:>18.2f} {r['errors']:>7} {r['crosstalk']:>10}")
    if args.json:
        out = {"cpu": cpu_info, "checkpoint": args.checkpoint, "keys_per_typist": args.keys,
               "interval_ms": args.interval_ms, "targets": {"16": {"p50_ms": 50, "p99_ms": 200}},
               "load_average_before": os.getloadavg(), "results": rows, "date": time.strftime("%Y-%m-%d %H:%M:%S")}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
