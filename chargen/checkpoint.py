"""The one on-disk checkpoint format: save atomically, load with validation and clear errors.

A checkpoint is a directory that describes itself (sampling needs nothing else)::

    model.safetensors   weights (safetensors: loading can never execute code)
    config.json         format version, model + tokenizer + training config, corpus, metrics
    tokenizer.*         the tokenizer's own file(s)
    words.json          the train split's word n-grams and the keyboard's mixture weights (see ngram)
    trainer_state.pt    optimizer, schedule, RNG, data position, hidden state (resume only)

Usage:

    save_checkpoint("run/last", model, tokenizer, config_extra, trainer_state=state)
    model, tokenizer, config = load_checkpoint("run")      # a run dir means its best/ checkpoint
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .model import CharLM, ModelConfig
from .tokenizer import Tokenizer, TokenizerError, load_tokenizer
from .ngram import load_words
from .resources import bundled

BUNDLED = ("default", "austen", "korean")   # the bundled checkpoints: these names work from any folder

FORMAT = "chargen-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded; the message says why and what to do."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_checkpoint(path, model: CharLM, tokenizer: Tokenizer, extra: dict | None = None,
                    trainer_state: dict | None = None, weights_dtype: torch.dtype = torch.float32,
                    extra_writers=()) -> Path:
    """Write a complete checkpoint to ``path``, replacing any previous one atomically.

    Everything is written into ``path.tmp`` first; only then is the old directory moved aside and
    the new one renamed into place, so a crash at any moment leaves a whole checkpoint on disk
    (``resolve_checkpoint`` finishes an interrupted swap).
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        _write(tmp, model, tokenizer, extra, trainer_state, weights_dtype, extra_writers)
    except (OSError, SafetensorError, RuntimeError) as e:
        # A full disk (safetensors and torch.save report it as their own errors), a vanished or
        # read-only folder: no half-written .tmp left behind; the checkpoint at `path` was never touched.
        shutil.rmtree(tmp, ignore_errors=True)
        raise CheckpointError(f"cannot save the checkpoint {path}: {_write_error(e, tmp.parent)}; "
                              f"the previous checkpoint there is intact") from None
    _swap(tmp, path)
    return path


def _write_error(e: BaseException, folder: Path) -> str:
    """One line for a failed write, saying so when the disk is full."""
    text = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
    full = (isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT)) or "os error 28" in text
    try:
        full = full or shutil.disk_usage(folder).free < (1 << 20)     # torch.save says only "unexpected pos"
    except OSError:
        pass
    return "no space left on device (the disk is full: free some space)" if full else text


def _write(tmp: Path, model, tokenizer, extra, trainer_state, weights_dtype, extra_writers) -> None:
    """Every file of a checkpoint into ``tmp``, flushed to disk."""
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    # CPU tensors whatever device trained the model: the checkpoint loads on a CPU-only machine
    state = {k: v.detach().cpu().to(weights_dtype).contiguous() if v.is_floating_point() else v.cpu().contiguous()
             for k, v in model.state_dict().items() if k != "head.weight" or not model.config.tie_weights}
    save_file(state, str(tmp / "model.safetensors"))
    spec = tokenizer.save(tmp)
    for write in extra_writers:          # e.g. the word statistics the keyboard blends in
        write(tmp)
    if trainer_state is not None:
        torch.save(trainer_state, tmp / "trainer_state.pt")
    config = {"format": FORMAT, "format_version": FORMAT_VERSION, "model": asdict(model.config),
              "tokenizer": spec, "weights_sha256": _sha256(tmp / "model.safetensors"),
              "weights_dtype": str(weights_dtype).replace("torch.", ""), **(extra or {})}
    (tmp / "config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False))
    for f in tmp.iterdir():            # data on disk before the rename makes it visible
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())


def _swap(tmp: Path, path: Path) -> None:
    """Move the old checkpoint aside, the new one in, then drop the old one (see resolve_checkpoint
    for a crash between the two renames)."""
    old = path.with_name(path.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if path.exists():
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


def resolve_checkpoint(path) -> Path:
    """The checkpoint directory meant by ``path``: itself, or a training run's ``best/`` (``last/``
    if the run stopped before its first validation).

    A bundled model's bare name (``default``, ``austen``, ``korean``) means the bundled checkpoint
    unless a folder of that name is here. Also completes a save that was interrupted between its two
    renames.
    """
    path = Path(path)
    if str(path) in BUNDLED and not path.exists():
        path = bundled("checkpoints") / str(path)
    if not path.name:                       # "." and the like
        path = path.resolve()
    for p in (path, path / "best", path / "last"):
        tmp, old = p.with_name(p.name + ".tmp"), p.with_name(p.name + ".old")
        if not p.exists() and old.is_dir():
            # The crash came between "move old aside" and "move new in": the new one is whole
            # only if its config.json exists (it is written last).
            os.replace(tmp if (tmp / "config.json").exists() else old, p)
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(old, ignore_errors=True)
        if (p / "config.json").exists():
            return p
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    raise CheckpointError(f"{path} is not a chargen checkpoint: it has no config.json "
                          f"(train one with `python -m chargen train --corpus FILE --out DIR`)")


def read_config(path) -> dict:
    path = resolve_checkpoint(path)
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path / 'config.json'} is corrupt or truncated ({e}); "
                              f"restore the checkpoint or train it again") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a chargen checkpoint (config.json has no "
                              f"\"format\": \"{FORMAT}\")")
    if config.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path} has checkpoint format version {config.get('format_version')}; this "
                              f"chargen reads version {FORMAT_VERSION}: upgrade chargen or retrain")
    return config


def load_checkpoint(path, device="cpu"):
    """-> (model in eval mode, tokenizer, config dict). Validates everything before use."""
    path = resolve_checkpoint(path)
    config = read_config(path)
    try:
        model_config = ModelConfig(**config["model"])
        model = CharLM(model_config)
    except (TypeError, ValueError, KeyError) as e:
        raise CheckpointError(f"{path}/config.json has an invalid model section: {e}") from None
    try:
        tokenizer = load_tokenizer(path, config["tokenizer"])
    except (TokenizerError, KeyError, OSError) as e:
        raise CheckpointError(f"{path}: cannot load its tokenizer: {e}") from None
    if tokenizer.vocab_size != model_config.vocab_size:
        raise CheckpointError(f"{path}: the tokenizer has {tokenizer.vocab_size} symbols but the model "
                              f"was built for {model_config.vocab_size}: the files do not belong together")
    weights = path / "model.safetensors"
    if not weights.exists():
        raise CheckpointError(f"{path} has no model.safetensors")
    if config.get("weights_sha256") and _sha256(weights) != config["weights_sha256"]:
        raise CheckpointError(f"{weights} is truncated or corrupt (its sha256 does not match config.json); "
                              f"restore it or train again")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{weights} is truncated or corrupt ({e})") from None
    expected = {k: v.shape for k, v in model.state_dict().items()
                if k != "head.weight" or not model_config.tie_weights}
    got = {k: v.shape for k, v in state.items()}
    if set(got) != set(expected):
        raise CheckpointError(f"{weights} does not match its config: missing {sorted(set(expected) - set(got))}, "
                              f"unexpected {sorted(set(got) - set(expected))}")
    bad = [f"{k}: {tuple(got[k])} != {tuple(s)}" for k, s in expected.items() if got[k] != s]
    if bad:
        raise CheckpointError(f"{weights} has tensors of the wrong shape for its config: {'; '.join(bad)}")
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    if model_config.tie_weights:
        model.head.weight = model.embedding.weight
    return model.to(device).eval(), tokenizer, config


def load_trainer_state(path) -> dict:
    """The resume state; ``weights_only`` so a hostile file cannot run code."""
    f = Path(path) / "trainer_state.pt"
    if not f.exists():
        raise CheckpointError(f"{path} has no trainer_state.pt: it cannot be resumed (it was saved for inference)")
    try:
        return torch.load(f, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a damaged zip
        raise CheckpointError(f"{f} is truncated or corrupt ({type(e).__name__}: {e})") from None


def export_checkpoint(src, dst, weights_dtype: torch.dtype = torch.float16, command: str | None = None) -> Path:
    """Copy the checkpoint ``src`` means (a run's best/) to ``dst`` for shipping: weights cast to
    ``weights_dtype`` (loading casts back to float32), no trainer state, the same config (training
    command, corpus, metrics) plus where it came from."""
    src_dir = resolve_checkpoint(src)
    model, tokenizer, config = load_checkpoint(src_dir)
    words = load_words(src_dir)
    keep = {k: v for k, v in config.items() if k not in ("format", "format_version", "model", "tokenizer",
                                                          "weights_sha256", "weights_dtype")}
    keep["exported"] = {"from": str(src_dir), "command": command}
    return save_checkpoint(dst, model, tokenizer, keep, weights_dtype=weights_dtype,
                           extra_writers=[words.save] if words is not None else [])
