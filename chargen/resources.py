"""Where the bundled files are: the checkpoints (``default``, ``korean``), the corpora and the
browser keyboard's page, whether chargen runs from a repository checkout or from an installed wheel.

A checkout (or ``pip install -e .``, which points at it) keeps them at the repository root:
``checkpoints/``, ``corpora/``, ``chargen/browser/``. A wheel carries the checkpoints and corpora
inside the package, as ``chargen/bundled/checkpoints`` and ``chargen/bundled/corpora`` (pyproject.toml
maps them there), and the page as ``chargen/browser``. The package's own copy wins when it exists.
Usage:

    bundled("checkpoints") / "default"     # the default model, wherever chargen is installed
    checkout()                             # the repository root, or None when installed
"""
from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def bundled(name: str) -> Path:
    """``checkpoints`` or ``corpora``: the package's copy (a wheel) or the checkout's."""
    inside = PACKAGE / "bundled" / name
    return inside if inside.is_dir() else PACKAGE.parent / name


def checkout() -> Path | None:
    """The repository root when chargen runs from a checkout (its pyproject.toml beside the package)."""
    root = PACKAGE.parent
    return root if (root / "pyproject.toml").is_file() and (root / "chargen").resolve() == PACKAGE else None


def browser_dir() -> Path:
    """The browser keyboard: index.html, engine.js, page.js, and vendor/ once onnxruntime-web is fetched."""
    return PACKAGE / "browser"
