"""The checkpoints a UI may load: every valid checkpoint directory under one root, names resolved
safely, loaded predictors cached.

A name is a direct child of the root (a checkpoint directory or a training run, which means its
``best/``). Invalid children are skipped with one log line each. A name picked in a browser is only
ever looked up among the listed children, so no path outside the root can be loaded
("../x", "/etc", "a/b" are refused); a symlink the operator placed in the root is followed.

Usage:

    catalog = Catalog("checkpoints")
    catalog.names()                   # ["default", "novel"]
    catalog.default_name()            # "default" if valid, else the first valid one, else None
    predictor = catalog.predictor("novel")      # loaded once, then shared by every session
"""
from __future__ import annotations

import gc
import logging
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from .checkpoint import CheckpointError, read_config, resolve_checkpoint
from .predictor import Predictor
from .vocab import Vocabulary

log = logging.getLogger("chargen.catalog")

DEFAULT_NAME = "default"


@dataclass(frozen=True)
class Entry:
    name: str          # the child of the root, as shown in the picker
    path: Path         # the checkpoint directory it resolves to (a run's best/ or last/)
    config: dict       # its config.json


PROFILES = ".profiles"                            # kept profiles, per model and browser
PROFILE_OWNER = re.compile(r"[A-Za-z0-9_-]{8,64}")


class Catalog:
    def __init__(self, root, max_loaded: int = 4):
        self.root = Path(root)
        self.max_loaded = max_loaded
        self._loaded: OrderedDict = OrderedDict()        # (path, config mtime) -> Predictor
        self._lock = threading.Lock()
        self._reported: set = set()                      # (name, reason) already logged
        self._names: dict = {}                           # name -> (its config.json, its key in _loaded)
        self._listed = None                              # (stamp of the children, their entries)

    # ---------------------------------------------------------------- listing
    def entries(self) -> list[Entry]:
        """Every valid checkpoint under the root, sorted by name (``default`` first). Read again only
        when a child or its config.json changed (each call costs one stat per child, no JSON parse:
        the API resolves the default model on every keystroke)."""
        if not self.root.is_dir():
            return []
        try:
            stamp = tuple((c.name, _config_mtime(c)) for c in sorted(self.root.iterdir()))
        except OSError:
            stamp = None
        if stamp is not None and self._listed is not None and self._listed[0] == stamp:
            return list(self._listed[1])
        found = self._read_entries()
        self._listed = (stamp, found) if stamp is not None else None
        return list(found)

    def _read_entries(self) -> list[Entry]:
        found = []
        for child in sorted(self.root.iterdir(), key=lambda p: (p.name != DEFAULT_NAME, p.name)):
            if _listable(child.name) and child.is_dir():
                try:
                    found.append(self._load_entry(child))
                except (CheckpointError, OSError) as e:
                    self._report(child.name, str(e))
        return found

    def _load_entry(self, child: Path) -> Entry:
        path = resolve_checkpoint(child)
        config = read_config(path)
        if not (path / "model.safetensors").is_file():
            raise CheckpointError(f"{path} has no model.safetensors")
        return Entry(child.name, path, config)

    def names(self) -> list[str]:
        return [e.name for e in self.entries()]

    def default_name(self) -> str | None:
        names = self.names()
        return names[0] if names else None          # entries() lists "default" first

    def _report(self, name: str, reason: str) -> None:
        if (name, reason) not in self._reported:    # once per problem, not on every refresh
            self._reported.add((name, reason))
            log.warning("skipping checkpoint %r: %s", name, reason)

    # ---------------------------------------------------------------- lookup
    def entry(self, name: str) -> Entry:
        """The checkpoint called ``name`` (a direct child of the root); CheckpointError otherwise."""
        # No separators, no "." / "..": root / name can only be a child of the root.
        if not isinstance(name, str) or not _listable(name) or "/" in name or "\\" in name or "\x00" in name:
            raise CheckpointError(f"{name!r} is not a checkpoint name: pick one of the listed models")
        child = self.root / name
        if not child.is_dir():
            raise CheckpointError(f"no checkpoint named {name!r} under {self.root}")
        return self._load_entry(child)

    def resolve(self, name: str) -> Path:
        return self.entry(name).path

    def profile_path(self, name: str, owner: str) -> Path:
        """Where the profile ``owner`` (a browser's id) kept for the model ``name`` lives: beside the
        checkpoints, in the root's hidden ``.profiles/<name>/`` (never listed as a model)."""
        self.entry(name)                                 # a listed model's name only
        if not PROFILE_OWNER.fullmatch(owner or ""):
            raise CheckpointError("this browser has no valid profile id (reload the page)")
        return self.root / PROFILES / name / f"{owner}.safetensors"

    def predictor(self, name: str):
        """The Predictor for ``name``, loaded on first use and cached (the ``max_loaded`` most
        recently used stay in memory). Raises CheckpointError with a user-facing message. A name
        looked up before costs one stat of its config.json (every keystroke asks)."""
        seen = self._names.get(name)
        if seen is not None:
            config, key = seen
            try:
                if config.stat().st_mtime_ns == key[1] and key in self._loaded:
                    return self._loaded[key]
            except OSError:
                pass
        path = self.resolve(name)
        key = (str(path), (path / "config.json").stat().st_mtime_ns)
        self._names[name] = (path / "config.json", key)
        with self._lock:
            if key in self._loaded:
                self._loaded.move_to_end(key)
                return self._loaded[key]
            predictor = Predictor.from_checkpoint(path)
            if predictor.typos:      # the typo index, built now rather than on the first keystroke
                threading.Thread(target=Vocabulary.warm, args=(predictor,), daemon=True).start()
            # The word statistics are hundreds of thousands of long-lived objects: a full garbage
            # collection scanning them paused a keystroke for ~90 ms now and then. Frozen, the
            # collector skips them (they are freed by reference counting like any other object).
            gc.collect()
            gc.freeze()
            self._loaded[key] = predictor
            while len(self._loaded) > self.max_loaded:
                self._loaded.popitem(last=False)
            return predictor


def _config_mtime(child: Path):
    """What says a child changed: its own mtime and its (or its run's best/last) config.json's."""
    out = [child.stat().st_mtime_ns]
    for sub in ("", "best", "last"):
        try:
            out.append((child / sub / "config.json").stat().st_mtime_ns)
        except OSError:
            out.append(None)
    return tuple(out)


def _listable(name: str) -> bool:
    # hidden names hold runs in progress; .tmp / .old are halves of an atomic save
    return bool(name) and not name.startswith(".") and not name.endswith((".tmp", ".old"))
