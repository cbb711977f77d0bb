"""Keypress -> suggestions visible, measured in a real browser against the running app.

Starts ``app.py`` in a subprocess on a free port, with a temporary checkpoints root holding a
symlink to the checkpoint under test, then types in 1 and in 8 browser contexts at once (headless
Debian Chromium driven by Playwright). The clock is the page's own: a keydown listener stamps the
keypress, a MutationObserver stamps the moment the suggestion bar shows suggestions for the new
text (its ``data-len``), so the driver's own overhead is not counted.

A run ``N`` is N sessions typing in closed loop (each presses its next key as soon as its
suggestions show: the heaviest load N typists can make); ``N@MS`` paces each session at one key
every MS milliseconds (or slower, when the answer takes longer), e.g. ``8@300`` is eight people
typing at about 40 words per minute (200 characters a minute).

    python bench/ui_latency.py --checkpoint runs/ts --json bench/results/ui_latency.json
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from stats import pct

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from chargen import cpu  # noqa: E402  (standard library only: no torch here)

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHARGEN_CHROMIUM", "/usr/bin/chromium")     # Debian's package
TEXT = ("First Citizen: we are accounted poor citizens, the patricians good. What authority surfeits on "
        "would relieve us.")
INSTRUMENT = """() => {
  window.__kd = {}; window.__seen = {}; window.__waiters = {};
  window.__waitFor = (n) => new Promise((done) => {
    if (n in window.__seen) done(); else window.__waiters[n] = done; });
  const box = document.querySelector('#kb_text textarea');
  box.addEventListener('keydown', () => { window.__kd[[...box.value].length + 1] = performance.now(); }, true);
  const mark = () => {
    const bar = document.querySelector('#kb_panel .sugg-bar');
    if (bar && !(bar.dataset.len in window.__seen)) {
      window.__seen[bar.dataset.len] = performance.now();
      if (window.__waiters[bar.dataset.len]) window.__waiters[bar.dataset.len]();
    }
  };
  new MutationObserver(mark).observe(document.querySelector('#kb_panel'),
    {subtree: true, childList: true, attributes: true, characterData: true});
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def type_session(browser, url: str, text: str, warmup: int, interval_s: float, start: asyncio.Barrier,
                       typing: dict):
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(url)
    await page.wait_for_selector("#kb_panel .sugg-bar[data-len='0'] button.sugg", timeout=60_000)
    await page.evaluate(INSTRUMENT)
    await page.locator("#kb_text textarea").click()
    await start.wait()                 # every page loaded: all sessions type at once
    if "t" not in typing:              # the first session through: CPU from here on is the typing's
        typing["t"], typing["cpu"] = time.monotonic(), _cpu_by_pid()
    lat = []
    loop = asyncio.get_running_loop()
    for i, c in enumerate(text, start=1):
        due = loop.time() + interval_s
        await page.keyboard.type(c)
        await page.evaluate(f"window.__waitFor('{i}')")       # resolved by the observer: no polling
        if i > warmup:
            lat.append(await page.evaluate(f"window.__seen['{i}'] - window.__kd['{i}']"))
        await asyncio.sleep(max(0.0, due - loop.time()))
    return lat                         # the context stays open: its renderer's CPU time is read first


async def run(url: str, sessions: int, keystrokes: int, warmup: int, interval_s: float) -> list[float]:
    from playwright.async_api import async_playwright
    text = (TEXT * (1 + (keystrokes + warmup) // len(TEXT)))[:keystrokes + warmup]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            # eight users each have their page in front: no background-tab throttling
            "--disable-renderer-backgrounding", "--disable-background-timer-throttling",
            "--disable-backgrounding-occluded-windows"])
        start, typing = asyncio.Barrier(sessions), {}
        results = await asyncio.gather(*[type_session(browser, url, text, warmup, interval_s, start, typing)
                                         for _ in range(sessions)])
        cpu_after = _cpu_by_pid()                  # while the browser's processes still exist
        # CPU used while typing (page loads excluded): cores, and CPU ms per keystroke
        seconds = time.monotonic() - typing["t"]
        cores = cpu_split(typing["cpu"], cpu_after, seconds)
        await browser.close()
    return [x for r in results for x in r], cores, seconds


def _cpu_by_pid() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, kind, CPU seconds so far) for every process."""
    out = {}
    for d in Path("/proc").glob("[0-9]*"):
        try:
            f = (d / "stat").read_text().rsplit(")", 1)[1].split()
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        kind = ("chromium renderers" if "--type=renderer" in cmd else "chromium, other processes" if "chromium" in cmd
                else "app server" if "app.py" in cmd else "other")
        out[int(d.name)] = (int(f[1]), kind, (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK"))
    return out


def cpu_split(before: dict, after: dict, seconds: float) -> dict[str, float]:
    """Cores used during a run by the browser, the app and the rest of this benchmark, and by
    other programs (this host is shared)."""
    ours = {os.getpid()}
    changed = True
    while changed:                       # this process and all its descendants
        changed = False
        for pid, (ppid, _, _) in after.items():
            if ppid in ours and pid not in ours:
                ours.add(pid)
                changed = True
    split: dict[str, float] = {}
    for pid, (_, kind, t) in after.items():
        kind = kind if pid in ours else "other programs"
        kind = "benchmark driver" if kind == "other" else kind
        split[kind] = split.get(kind, 0.0) + (t - before.get(pid, (0, "", 0.0))[2]) / seconds
    return {k: round(v, 3) for k, v in sorted(split.items())}


def wait_ready(url: str, proc, timeout: float = 120) -> None:
    t = time.monotonic()
    while time.monotonic() - t < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"the app exited with status {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the app did not answer at {url} within {timeout:.0f} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = ROOT / "checkpoints" / "default"
    p.add_argument("--checkpoint", default=str(default) if default.exists() else None,
                   help="checkpoint or run directory (default: checkpoints/default)")
    p.add_argument("--runs", nargs="+", default=["1"],
                   help="N: N sessions typing in closed loop; N@MS: each typing one key every MS ms (the capacity "
                        "figure for many typists is bench/serve_load.py's; browsers on the same host measure mostly "
                        "themselves)")
    p.add_argument("--keystrokes", type=int, default=60, help="measured keystrokes per session")
    p.add_argument("--warmup", type=int, default=5, help="keystrokes per session not measured")
    p.add_argument("--json", default=None, help="write the results here")
    args = p.parse_args()
    if not args.checkpoint:
        raise SystemExit("no checkpoints/default here: pass --checkpoint DIR")
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install -y chromium fonts-noto-cjk")
    checkpoint = Path(args.checkpoint).resolve()
    load_before = os.getloadavg()          # this 2-core host is shared: say how busy it was

    with tempfile.TemporaryDirectory(prefix="chargen-ui-bench-") as tmp:
        root = Path(tmp) / "checkpoints"
        root.mkdir()
        (root / "bench").symlink_to(checkpoint)
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        env = {**os.environ, "GRADIO_TEMP_DIR": str(Path(tmp) / "gradio"), "TMPDIR": tmp,
               "XDG_CACHE_HOME": str(Path(tmp) / "cache")}
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--checkpoints", str(root), "--port", str(port)],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(url, proc)
            rows = []
            for spec in args.runs:
                n, _, interval = spec.partition("@")
                n, interval = int(n), float(interval or 0)
                lat, cores, seconds = asyncio.run(run(url, n, args.keystrokes, args.warmup, interval / 1000))
                typed = n * (args.keystrokes + args.warmup)
                rows.append({"run": spec, "sessions": n, "key_interval_ms": interval or None, "keystrokes": len(lat),
                             "median_ms": statistics.median(lat), "p90_ms": pct(lat, 0.9),
                             "p99_ms": pct(lat, 0.99), "max_ms": max(lat), "typing_s": round(seconds, 2),
                             "cpu_cores": cores,
                             "cpu_ms_per_key": {k: round(1000 * v * seconds / typed, 1) for k, v in cores.items()}})
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    targets = {1: 60.0, 8: 150.0}
    print(f"\nkeypress -> suggestions visible (in-page clock), {checkpoint}; "
          f"load average before: {load_before[0]:.1f}")
    print(f"{'sessions':>8} {'pace':>12} {'keys':>6} {'median ms':>10} {'p90 ms':>8} {'p99 ms':>8} {'target':>12}"
          f" {'browser':>8} {'app':>5} {'others':>7} {'browser ms/key':>15} {'app ms/key':>11}")
    for r in rows:
        t = targets.get(r["sessions"])
        verdict = f"<= {t:.0f} {'ok' if r['median_ms'] <= t else 'MISSED'}" if t else ""
        pace = f"1 key/{r['key_interval_ms']:.0f} ms" if r["key_interval_ms"] else "closed loop"
        c = r["cpu_cores"]
        browser = c.get("chromium renderers", 0) + c.get("chromium, other processes", 0)
        k = r["cpu_ms_per_key"]
        browser_ms = k.get("chromium renderers", 0) + k.get("chromium, other processes", 0)
        print(f"{r['sessions']:>8} {pace:>12} {r['keystrokes']:>6} {r['median_ms']:>10.1f} {r['p90_ms']:>8.1f} "
              f"{r['p99_ms']:>8.1f} {verdict:>12} {browser:>8.2f} {c.get('app server', 0):>5.2f} "
              f"{c.get('other programs', 0):>7.2f} {browser_ms:>15.1f} {k.get('app server', 0):>11.1f}")
    print(f"(CPU while typing, page loads excluded, on this {os.cpu_count()}-core host: cores used by the browser "
          f"(all of Chromium's processes), the app server and other programs; CPU ms per keystroke)")
    if args.json:
        out = {"checkpoint": str(checkpoint), "warmup": args.warmup, "load_average_before": load_before, "cpu": cpu.describe(),
               "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
               "targets_median_ms": {str(k): v for k, v in targets.items()}, "results": rows,
               "date": time.strftime("%Y-%m-%d %H:%M:%S")}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
