"""The Inside tab on the bundled default model, in a real browser: the README's pictures.

Starts ``python app.py`` on a free port (the repo's ``checkpoints/``, so the default model), opens
the Inside tab (it analyses its passage on opening), times click -> coloured text on screen, reads
the unit the ranking offers first and its correlation, and saves element screenshots: the text
coloured by that unit with the top-5 guesses, and the connectivity view after clicking a character.

    python bench/inside_shot.py --out docs --json bench/results/inside_shot.json
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ui_latency import CHROMIUM, ROOT, cpu, free_port, wait_ready  # noqa: E402

SHOTS = ("inside_cell.png", "inside_connectivity.png")
TIMEOUT = 120_000                     # ms: a cold model load and analysis on a busy two-core host


def shrink(path: Path, colours: int = 64) -> None:
    """The screenshot in a 64-colour palette (about a quarter of the bytes; Pillow comes with matplotlib)."""
    try:
        from PIL import Image
    except ImportError:
        return
    Image.open(path).convert("RGB").quantize(colors=colours, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="docs", help="folder for the PNGs")
    p.add_argument("--position", type=int, default=292, help="the character whose next prediction is explained (292: the full stop before the closing quote)")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(url, proc)
        from playwright.sync_api import sync_playwright
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
            page = browser.new_context(viewport={"width": 1400, "height": 1400}).new_page()
            page.goto(url)
            page.wait_for_selector("#kb_text textarea", state="visible", timeout=TIMEOUT)
            t = time.monotonic()
            page.get_by_role("tab", name="Inside").click()
            page.wait_for_function("() => document.querySelectorAll('#inside_view .inside-text .c').length > 0",
                                   timeout=TIMEOUT)
            open_s = time.monotonic() - t
            page.wait_for_selector("#inside_conn .c.here", state="attached", timeout=TIMEOUT)
            first = page.locator("#inside_cell input").input_value()
            page.locator("#inside_view").screenshot(path=str(out / SHOTS[0]))
            page.locator(f"#inside_view .col[data-i='{args.position}'] .c").click()
            page.wait_for_function(f"() => (document.querySelector('#inside_conn') || {{}}).innerText"
                                   f"?.includes('after character {args.position} ')", timeout=TIMEOUT)
            page.locator("#inside_conn").screenshot(path=str(out / SHOTS[1]))
            browser.close()
        for name in SHOTS:
            shrink(out / name)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    result = {"cpu": cpu.describe(), "load_average_1min": os.getloadavg()[0], "first_ranked_unit": first,
              "tab_open_s": open_s,
              "shots": list(SHOTS)}
    print(f"first ranked unit: {first}\nInside tab click -> coloured text: {open_s:.2f} s\nPNGs in {out}/")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
