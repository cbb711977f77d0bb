"""First page load of the app on the default model, in a real browser.

Starts ``python app.py`` on a free port (the repo's ``checkpoints/``, so the bundled default model),
measures how long the server takes to answer, then loads the page in fresh headless Chromium
contexts and times navigation -> the keyboard tab usable (text box present and the suggestion
panel rendered for the empty text). The first load is the one a newcomer sees.

    python bench/page_load.py --json bench/results/page_load.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ui_latency import CHROMIUM, ROOT, cpu, free_port, wait_ready  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--loads", type=int, default=5, help="page loads, each in a fresh browser context")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(url, proc)
        server_s = time.monotonic() - t0
        from playwright.sync_api import sync_playwright
        loads = []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
            for _ in range(args.loads):
                ctx = browser.new_context()
                page = ctx.new_page()
                t = time.monotonic()
                page.goto(url)
                page.wait_for_selector("#kb_text textarea", state="visible", timeout=60_000)
                page.wait_for_selector("#kb_panel .sugg-bar", state="attached", timeout=60_000)
                loads.append(time.monotonic() - t)
                ctx.close()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    out = {"cpu": cpu.describe(), "server_start_s": server_s, "first_load_s": loads[0], "median_load_s": statistics.median(loads),
           "loads_s": loads, "target_first_load_s": 5.0}
    print(f"{'app start -> server answers':<34} {server_s:6.2f} s")
    print(f"{'first page load (keyboard usable)':<34} {loads[0]:6.2f} s   target <= 5 s")
    print(f"{'median of ' + str(len(loads)) + ' loads':<34} {statistics.median(loads):6.2f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
