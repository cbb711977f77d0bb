"""The browser keyboard's routes: the static page (``chargen/browser``), onnxruntime-web (its
``vendor/``: fetched with its integrity check on the page's first request when set-up has not fetched
it, see ``ort_fetch.py``; offline, the page shows why and the command) and each listed checkpoint's ONNX export,
made on first request (``onnx_export``) and kept in a cache folder. Per keystroke the page asks the
server nothing: it loads these files once and computes in the browser.

    GET /ondevice/?model=default              the page (models: the picker's names; none: its default)
    GET /ondevice/models/default/manifest.json, step.onnx, step.int8.onnx, words.json (version 2 only)

``add_routes(app, catalog)`` puts them before Gradio's own routes. Environment: CHARGEN_ONDEVICE_CACHE
(default: the system temp folder's ``chargen-ondevice``) holds the exports; CHARGEN_ORT_DIR, where
onnxruntime-web is looked for and fetched to (default: ``chargen/browser/vendor``, or the cache
folder where that is not writable); CHARGEN_ORT_URL, a mirror or copy of its tarball.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from ..catalog import Catalog
from ..checkpoint import CheckpointError
from ..onnx_export import FP32, INT8, MANIFEST, PAGE_FILES, WORDS, export_onnx
from ..resources import browser_dir
from .ort_fetch import VERSION as ORT_VERSION
from .ort_fetch import FetchError, fetch, present

PAGE_ROUTE = "/ondevice"
VENDOR_FILES = {"ort.wasm.min.js": "text/javascript", "ort-wasm-simd-threaded.mjs": "text/javascript",
                "ort-wasm-simd-threaded.wasm": "application/wasm"}
MODEL_FILES = {MANIFEST: "application/json", FP32: "application/octet-stream", INT8: "application/octet-stream",
               WORDS: "application/json"}
_LOCK = threading.Lock()                 # one export at a time (a few seconds each, then cached)
_ORT_LOCK, RETRY_S = threading.Lock(), 30.0    # one fetch at a time; a failed one is retried after this
_ORT_FAILED: list = []                   # (when, message) of the last failed fetch


def cache_root() -> Path:
    return Path(os.environ.get("CHARGEN_ONDEVICE_CACHE") or Path(tempfile.gettempdir()) / "chargen-ondevice")


def exported(catalog: Catalog, name: str) -> Path:
    """The export folder of the listed checkpoint ``name``, made now if this version has none yet."""
    entry = catalog.entry(name)                       # only a listed child of the root (CheckpointError)
    # a new version of the weights or of the word statistics (chargen words) is a new export
    mtimes = [(entry.path / f).stat().st_mtime_ns if (entry.path / f).exists() else 0 for f in ("config.json", WORDS)]
    stamp = hashlib.sha256(f"{entry.path.resolve()}|{mtimes}".encode())
    folder = cache_root() / f"{name}-{stamp.hexdigest()[:16]}"
    with _LOCK:
        if not (folder / MANIFEST).is_file():
            folder.parent.mkdir(parents=True, exist_ok=True)
            export_onnx(entry.path, folder, force=True)
    return folder


def vendor_folders() -> list[Path]:
    if os.environ.get("CHARGEN_ORT_DIR"):
        return [Path(os.environ["CHARGEN_ORT_DIR"])]
    return [browser_dir() / "vendor", cache_root() / f"onnxruntime-web-{ORT_VERSION}"]


def _writable(folder: Path) -> bool:
    while not folder.exists():
        folder = folder.parent
    return os.access(folder, os.W_OK)


def runtime() -> Path:
    """The folder holding onnxruntime-web, fetched now (integrity-checked) if no folder has it yet.
    Raises FetchError with what to do (offline: the exact command), the same for RETRY_S after a failure."""
    folders = vendor_folders()
    found = next((f for f in folders if present(f)), None)
    if found:
        return found
    with _ORT_LOCK:
        found = next((f for f in folders if present(f)), None)
        if found:
            return found
        if _ORT_FAILED and time.monotonic() - _ORT_FAILED[0][0] < RETRY_S:
            raise FetchError(_ORT_FAILED[0][1])
        target = next((f for f in folders if _writable(f)), folders[-1])
        try:
            return fetch(target)
        except (FetchError, KeyError, OSError) as e:
            message = str(e) if isinstance(e, FetchError) else f"onnxruntime-web could not be installed in {target}: {e}"
            _ORT_FAILED[:] = [(time.monotonic(), message)]
            raise FetchError(message) from None


def add_routes(app, catalog: Catalog) -> None:
    page = browser_dir()

    def index(request: Request) -> Response:
        if "model" not in request.query_params and catalog.default_name():      # the picker's default model
            return RedirectResponse(f"{PAGE_ROUTE}/?model={quote(catalog.default_name())}")
        return FileResponse(page / "index.html", media_type="text/html")

    def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in PAGE_FILES:
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(page / name, media_type="text/html" if name.endswith(".html") else "text/javascript")

    def vendor(request: Request) -> Response:          # the first one fetches the runtime (a few seconds)
        name = request.path_params["name"]
        if name not in VENDOR_FILES:
            return PlainTextResponse("not found", status_code=404)
        try:
            folder = runtime()
        except FetchError as e:
            return PlainTextResponse(str(e), status_code=503)
        return FileResponse(folder / name, media_type=VENDOR_FILES[name])

    def model_file(request: Request) -> Response:
        name, file = request.path_params["model"], request.path_params["name"]
        if file not in MODEL_FILES:
            return PlainTextResponse("not found", status_code=404)
        try:
            folder = exported(catalog, name)
        except CheckpointError as e:
            return PlainTextResponse(str(e), status_code=404)
        except ImportError as e:
            return PlainTextResponse(f"the ONNX export needs onnx and onnxruntime (pip install 'chargen[export]'): {e}",
                                     status_code=503)
        return FileResponse(folder / file, media_type=MODEL_FILES[file])

    def slash(request: Request) -> Response:
        query = request.url.query
        return RedirectResponse(PAGE_ROUTE + "/" + (f"?{query}" if query else ""))

    routes = [Route(PAGE_ROUTE, slash),
              Route(PAGE_ROUTE + "/", index),
              Route(PAGE_ROUTE + "/vendor/{name}", vendor),
              Route(PAGE_ROUTE + "/models/{model}/{name}", model_file),
              Route(PAGE_ROUTE + "/{name}", asset)]
    app.router.routes[0:0] = routes
