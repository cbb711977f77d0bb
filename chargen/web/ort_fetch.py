"""onnxruntime-web for the browser keyboard (/ondevice/): the one pinned npm tarball, checked against
the registry's integrity (sha512) before anything is unpacked, and of it only the three files the
page loads (the WebAssembly runtime, 14 MB, its loader and the JS API). Fetched, not vendored: the
runtime would add 14 MB of binary to every clone. Standard library only, so it runs as a script too:

    python chargen/web/ort_fetch.py [FOLDER]          # what chargen/browser/fetch-ort.sh runs
    fetch(folder)                                     # the app, on the page's first request

Sources, in order: CHARGEN_ORT_URL (a mirror or a local copy of the tarball: https://, file://),
else ``npm pack`` where npm is installed (npm's own registry settings), else registry.npmjs.org.
"""
from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

VERSION = "1.30.0"
INTEGRITY = "sha512-q0y+JrrtukXSzsBWEMccVfqX25LRmosXHF+CaRJmg8pZClzcV7svNc4rKY3jL02Vb7QmRMDs1SigqR4CXAfKYQ=="
FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
URL = f"https://registry.npmjs.org/onnxruntime-web/-/onnxruntime-web-{VERSION}.tgz"
COMMAND = "bash chargen/browser/fetch-ort.sh"
TIMEOUT_S = 120


class FetchError(RuntimeError):
    """onnxruntime-web could not be fetched or failed its integrity check (the message says what to do)."""


def present(folder: Path) -> bool:
    """``folder`` holds this version's three files."""
    folder = Path(folder)
    return all((folder / f).is_file() for f in FILES) and (folder / "VERSION").is_file() and \
        (folder / "VERSION").read_text().strip() == VERSION


def integrity_of(path: Path) -> str:
    h = hashlib.sha512()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha512-" + base64.b64encode(h.digest()).decode()


def _download(url: str, dest: Path) -> None:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as r, open(dest, "wb") as f:
            shutil.copyfileobj(r, f, 1 << 20)
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        raise FetchError(f"onnxruntime-web {VERSION} could not be downloaded from {url} ({reason}). The on-device "
                         f"page needs it once: on a machine that reaches the npm registry run `{COMMAND}` in the "
                         f"repository (or set CHARGEN_ORT_URL to a copy of {URL.rsplit('/', 1)[1]}), "
                         f"then reload the page.") from None


def _npm_pack(tmp: Path) -> Path | None:
    """The tarball by ``npm pack`` (npm's registry and proxy settings), or None without npm."""
    npm = shutil.which("npm")
    if not npm:
        return None
    r = subprocess.run([npm, "pack", f"onnxruntime-web@{VERSION}", "--silent"], cwd=tmp, capture_output=True,
                       text=True, timeout=TIMEOUT_S)
    tgz = tmp / f"onnxruntime-web-{VERSION}.tgz"
    return tgz if r.returncode == 0 and tgz.is_file() else None


def fetch(folder, url: str | None = None, integrity: str = INTEGRITY) -> Path:
    """This version's three files into ``folder`` (nothing is done when they are there). The
    tarball's sha512 must equal ``integrity``, else FetchError and nothing is written."""
    folder = Path(folder)
    if present(folder):
        return folder
    url = url or os.environ.get("CHARGEN_ORT_URL") or ""
    with tempfile.TemporaryDirectory(prefix="chargen-ort-") as tmp:
        tmp = Path(tmp)
        tgz = None if url else _npm_pack(tmp)
        if tgz is None:
            tgz = tmp / "onnxruntime-web.tgz"
            _download(url or URL, tgz)
        got = integrity_of(tgz)
        if got != integrity:
            raise FetchError(f"onnxruntime-web {VERSION} from {url or URL}: integrity check failed (expected {integrity}, "
                             f"got {got}); nothing was installed")
        with tarfile.open(tgz, "r:gz") as tar:
            for name in FILES:
                member = tar.getmember(f"package/dist/{name}")      # KeyError: not the package we pinned
                with tar.extractfile(member) as src, open(tmp / name, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        folder.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            shutil.move(str(tmp / name), str(folder / name))
    (folder / "README").write_text(f"onnxruntime-web {VERSION} (MIT licence, Microsoft): npm package files "
                                   f"dist/{' '.join(FILES)}\n")
    (folder / "VERSION").write_text(VERSION + "\n")           # last: its presence means the three are complete
    return folder


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    folder = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent / "browser" / "vendor"
    try:
        was = present(folder)
        fetch(folder)
    except (FetchError, KeyError, tarfile.TarError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if not was:
        print(f"onnxruntime-web {VERSION} -> {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
