"""Launching the web app: Gradio's server with the app's CSS, upload limit and queue settings, the
keyboard's plain-JSON route beside Gradio's API, and the command line (``python app.py``).

    python app.py [--checkpoints DIR] [--host 127.0.0.1] [--port 7860] [--max-upload-mb 50]

Environment: CHARGEN_CHECKPOINTS, CHARGEN_HOST, CHARGEN_PORT, CHARGEN_MAX_UPLOAD_MB, CHARGEN_CORPORA.
API (gradio_client): /suggest, /generate, /models; plain JSON: POST /keyboard/suggest (README "Web app");
the keyboard that runs in the browser: /ondevice/?model=NAME.
"""
from __future__ import annotations

import argparse
import logging
import os

import gradio as gr
from fastapi.routing import APIRoute

from ..inside_html import CSS as INSIDE_CSS
from ..resources import bundled
from ..typists import use_keystroke_threads
from .layout import build_demo
from .ondevice import add_routes
from .render import CSS

QUEUE_IDLE_POLL_S = 0.01                 # how often Gradio's idle queue looks for work (see serve)
KEYBOARD_ROUTE = "/keyboard/suggest"     # /suggest as plain JSON, without Gradio's request machinery


def serve(demo: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, block: bool = True, **kwargs):
    """Launch ``demo`` with the app's CSS, upload limit and queue settings; returns launch()'s value."""
    demo.queue(default_concurrency_limit=1)
    # Gradio's queue looks for work every millisecond when idle (gradio 6.31, Queue.sleep_when_free):
    # 8% of a core with nothing to do, and a thousand wake-ups a second taking the GIL from the
    # threads answering keystrokes. The queue carries only generation and training here (the
    # keyboard's events and /suggest skip it), for which 10 ms more latency is nothing.
    if hasattr(demo._queue, "sleep_when_free"):
        demo._queue.sleep_when_free = QUEUE_IDLE_POLL_S
    launched = demo.launch(
        server_name=host, server_port=port, css=CSS + INSIDE_CSS, max_file_size=f"{demo.chargen['max_upload_mb']:g}mb",
        prevent_thread_lock=True, show_error=True, **kwargs)
    # The keyboard's plain-JSON lane beside Gradio's /suggest: the same call without Gradio's request
    # machinery (about 4 ms of server CPU per keystroke here, as much as the keystroke itself)
    launched[0].router.routes.insert(0, APIRoute(KEYBOARD_ROUTE, demo.chargen["api"].json_endpoint, methods=["POST"]))
    add_routes(launched[0], demo.chargen["catalog"])      # the browser keyboard: /ondevice/ (chargen/web/ondevice.py)
    if block:
        demo.block_thread()
    return launched


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="The chargen web app.")
    p.add_argument("--checkpoints", default=os.environ.get("CHARGEN_CHECKPOINTS", str(bundled("checkpoints"))),
                   help="folder of checkpoint / run directories (env CHARGEN_CHECKPOINTS)")
    p.add_argument("--host", default=os.environ.get("CHARGEN_HOST", "127.0.0.1"), help="env CHARGEN_HOST")
    p.add_argument("--port", type=int, default=int(os.environ.get("CHARGEN_PORT", 7860)), help="env CHARGEN_PORT")
    p.add_argument("--max-upload-mb", type=float, default=float(os.environ.get("CHARGEN_MAX_UPLOAD_MB", 50)),
                   help="upload size limit for training corpora (env CHARGEN_MAX_UPLOAD_MB)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)      # gradio's own local start-up probes
    use_keystroke_threads()        # batch-1 keystroke steps gain nothing from more; sessions run side by side
    serve(build_demo(args.checkpoints, max_upload_mb=args.max_upload_mb), args.host, args.port)
