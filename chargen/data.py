"""Corpus -> token ids on disk -> truncated-BPTT batches.

Reads one file, a folder of ``.txt`` files, or several paths; checks the encoding strictly (an
error names the file and byte offset); splits by characters into train / validation; tokenizes in
streamed chunks into compact memory-mapped id files; serves stateful TBPTT batches. Usage:

    data = prepare_corpus(["novel.txt"], "char", cache_dir="run/data")
    batches = TBPTTBatches(data.train_ids, batch_size=16, bptt_len=64)
    x, y = batches.next()                  # (B, T) int64 each; the next call continues these rows
"""
from __future__ import annotations

import codecs
import errno
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from tqdm import tqdm

from .stopping import checked
from .tokenizer import CHAR, CHAR_KINDS, DEFAULT_SUBWORD_VOCAB, SUBWORD_KINDS, Tokenizer, fit_tokenizer

READ_BLOCK = 1 << 20           # bytes per read
MIN_CHARS = 64                 # below this nothing can be learned, whatever the settings
DATA_VERSION = 1


class CorpusError(ValueError):
    """A corpus that cannot be used; the message says what is wrong and what to do."""


def find_files(paths) -> list[Path]:
    """Expand the user's paths: a file, a folder (every ``*.txt`` below it, sorted), or several."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(q for q in p.rglob("*.txt") if q.is_file())
            if not found:
                raise CorpusError(f"folder {p} has no .txt files: put the corpus in .txt files or name the files directly")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise CorpusError(f"corpus path {p} does not exist")
    if not files:
        raise CorpusError("no corpus given: pass --corpus PATH [PATH ...]")
    return files


def iter_text(files, encoding: str = "utf-8", on_block=None) -> Iterator[str]:
    """Yield the decoded text of ``files`` in chunks, failing clearly on undecodable bytes.

    ``on_block(raw_bytes)`` sees every block read (hashing, progress)."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise CorpusError(f"unknown encoding {encoding!r}: try utf-8, cp949, euc-kr, latin-1 or utf-16") from None
    for path in files:
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        consumed = 0
        with open(path, "rb") as f:
            while True:
                block = f.read(READ_BLOCK)
                if consumed == 0 and encoding.replace("-", "").lower() in ("utf8", "utf8sig"):
                    _check_not_binary(path, block)
                if on_block is not None:
                    on_block(block)
                pending = len(decoder.getstate()[0])
                try:
                    text = decoder.decode(block, final=not block)
                except UnicodeDecodeError as e:
                    offset = consumed - pending + e.start
                    raise CorpusError(
                        f"{path} is not valid {encoding}: undecodable byte(s) at byte offset {offset} "
                        f"({block[max(0, e.start - pending):e.start - pending + 4]!r}). "
                        f"If the file uses another encoding, pass it, e.g. --encoding cp949 (Korean Windows), "
                        f"--encoding euc-kr or --encoding latin-1.") from None
                consumed += len(block)
                if text:
                    if "\x00" in text:
                        raise CorpusError(f"{path} contains NUL characters: it looks like a binary file, not text")
                    yield text
                if not block:
                    break


def _check_not_binary(path, head: bytes) -> None:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise CorpusError(f"{path} is UTF-16 text (it starts with a UTF-16 byte-order mark): pass --encoding utf-16")
    if b"\x00" in head[:8192]:
        raise CorpusError(f"{path} contains NUL bytes: it looks like a binary file, not text. "
                          f"Give chargen plain text files (.txt).")


def ids_dtype(vocab_size: int):
    """The smallest unsigned integer type that holds every id."""
    return np.uint8 if vocab_size <= 1 << 8 else np.uint16 if vocab_size <= 1 << 16 else np.uint32


@dataclass
class Corpus:
    tokenizer: Tokenizer
    train_ids: np.ndarray          # memory-mapped, compact dtype
    val_ids: np.ndarray
    meta: dict                     # sha256, character and token counts, files


def _line_chunks(chunks: Iterator[str]) -> Iterator[str]:
    """Re-cut chunks at newlines so a subword tokenizer never sees a word split by a chunk edge."""
    tail = ""
    for text in chunks:
        text = tail + text
        cut = text.rfind("\n") + 1
        if cut == 0 and len(text) < 1 << 22:
            tail = text
            continue
        cut = cut or len(text)
        tail = text[cut:]
        yield text[:cut]
    if tail:
        yield tail


def _split_chunks(chunks, n_first: int):
    """Route a chunk stream into (is_first_part, text) pieces at character ``n_first``."""
    seen = 0
    for text in chunks:
        if seen >= n_first:
            yield False, text
        elif seen + len(text) <= n_first:
            yield True, text
        else:
            yield True, text[:n_first - seen]
            yield False, text[n_first - seen:]
        seen += len(text)


def train_text(paths, encoding: str, n_train_chars: int, max_chars: int | None = None,
               start: int = 0) -> Iterator[str]:
    """The training split's text from character ``start`` on, as chunks (at most ``max_chars``)."""
    chunks = iter_text(find_files(paths), encoding)
    if start:
        chunks = (text for first, text in _split_chunks(chunks, start) if not first)
    limit = n_train_chars - start if max_chars is None else min(n_train_chars - start, max_chars)
    for _, text in filter(lambda pair: pair[0], _split_chunks(chunks, limit)):
        yield text


def text_slice(paths, encoding: str, start: int, end: int) -> str:
    """Characters ``start`` to ``end`` of the corpus (e.g. a held-out tail of the train split)."""
    parts, seen = [], 0
    for text in iter_text(find_files(paths), encoding):
        if seen + len(text) > start:
            parts.append(text[max(0, start - seen):end - seen])
        seen += len(text)
        if seen >= end:
            break
    return "".join(parts)


def prepare_corpus(paths, tokenizer_kind: str = CHAR, cache_dir=None, *, vocab_size: int = DEFAULT_SUBWORD_VOCAB,
                   encoding: str = "utf-8", val_fraction: float = 0.1, tokenizer: Tokenizer | None = None,
                   progress: bool = False, should_stop=None) -> Corpus:
    """Read, check, split and tokenize a corpus into ``cache_dir`` (reused when nothing changed).

    Characters, not tokens, are split (first ``1 - val_fraction`` train, the rest validation), so
    every tokenizer is scored on the same text. A char/jamo vocabulary is fitted on the whole corpus
    (it is only the alphabet); a subword model is trained on the train part alone. Pass
    ``tokenizer`` to reuse an existing one (resume, evaluation). ``should_stop()`` is asked between
    chunks: True raises ``stopping.Interrupted`` (nothing half-written is left behind).
    """
    if not 0.0 < val_fraction < 1.0:
        raise CorpusError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    files = find_files(paths)
    total_bytes = sum(f.stat().st_size for f in files)
    if total_bytes == 0:
        raise CorpusError(f"the corpus is empty ({', '.join(map(str, files))}): give it some text")
    sha, n_chars = _check_and_count(files, encoding, total_bytes, progress, should_stop)      # pass 1
    n_train_chars = int(n_chars * (1 - val_fraction))
    if tokenizer is None:                                                                     # pass 2
        bar = tqdm(total=total_bytes, unit="B", unit_scale=True, desc="vocabulary", disable=not progress)
        texts = checked(iter_text(files, encoding, lambda block: bar.update(len(block))), should_stop,
                        "building the vocabulary")
        source = texts if tokenizer_kind in CHAR_KINDS else \
            (t for first, t in _split_chunks(texts, n_train_chars) if first)
        tokenizer = fit_tokenizer(tokenizer_kind, source, vocab_size=vocab_size, should_stop=should_stop)
        bar.close()
    cache = Path(cache_dir) if cache_dir else None
    key = {"version": DATA_VERSION, "sha256": sha, "encoding": encoding, "val_fraction": val_fraction,
           "tokenizer": _tokenizer_fingerprint(tokenizer)}
    if cache is not None and (cache / "meta.json").exists():
        try:
            meta = json.loads((cache / "meta.json").read_text())
            if meta.get("key") == key:
                return _open(tokenizer, cache, meta)
        except (ValueError, OSError):
            pass                       # a broken cache is rebuilt, never trusted
    cache = cache or Path(tempfile.mkdtemp(prefix="chargen-data-"))
    cache.mkdir(parents=True, exist_ok=True)
    counts, dtype = _tokenize_into(cache, files, encoding, tokenizer, n_chars, n_train_chars, progress,    # pass 3
                                   should_stop)
    meta = {"key": key, "files": [str(f) for f in files], "sha256": sha, "dtype": np.dtype(dtype).name,
            "chars": n_chars, "train_chars": n_train_chars, "val_chars": n_chars - n_train_chars,
            "train_tokens": counts[True], "val_tokens": counts[False]}
    tmp = cache / "meta.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, cache / "meta.json")
    return _open(tokenizer, cache, meta)


def _check_and_count(files, encoding: str, total_bytes: int, progress: bool, should_stop) -> tuple[str, int]:
    """Pass 1: check the encoding, hash the bytes, count characters -> (sha256, characters)."""
    hasher = hashlib.sha256()
    n_chars, non_space = 0, False
    bar = tqdm(total=total_bytes, unit="B", unit_scale=True, desc="reading", disable=not progress)

    def on_block(block):
        hasher.update(block)
        bar.update(len(block))
    for text in checked(iter_text(files, encoding, on_block), should_stop, "reading the corpus"):
        n_chars += len(text)
        non_space = non_space or not text.isspace()
    bar.close()
    if not non_space:
        raise CorpusError("the corpus holds only whitespace: give it some text")
    if n_chars < MIN_CHARS:
        raise CorpusError(f"the corpus is too small: {n_chars} characters; chargen needs at least {MIN_CHARS} "
                          f"(a useful model wants 100,000 or more)")
    return hasher.hexdigest(), n_chars


def _tokenize_into(cache: Path, files, encoding: str, tokenizer, n_chars: int, n_train_chars: int, progress: bool,
                   should_stop) -> tuple[dict, type]:
    """Pass 3: tokenize chunk by chunk straight into train.bin / val.bin -> ({train?: ids}, dtype)."""
    dtype = ids_dtype(tokenizer.vocab_size)
    chunks = iter_text(files, encoding)
    if tokenizer.kind in SUBWORD_KINDS:
        chunks = _line_chunks(chunks)
    counts = {True: 0, False: 0}
    bar = tqdm(total=n_chars, unit="char", unit_scale=True, desc="tokenizing", disable=not progress)
    try:
        with open(cache / "train.bin.tmp", "wb") as ftrain, open(cache / "val.bin.tmp", "wb") as fval:
            for is_train, text in checked(_split_chunks(chunks, n_train_chars), should_stop, "tokenizing the corpus"):
                ids = tokenizer.encode_array(text).astype(dtype)
                (ftrain if is_train else fval).write(ids.tobytes())
                counts[is_train] += len(ids)
                bar.update(len(text))
    except BaseException as e:              # interrupted, or the disk is full: leave no half-written file
        for name in ("train.bin.tmp", "val.bin.tmp"):
            (cache / name).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise CorpusError(f"cannot write the tokenized corpus to {cache}: {e.strerror or e}"
                              f"{' (the disk is full: free some space)' if _disk_full(e) else ''}") from None
        raise
    finally:
        bar.close()
    if counts[True] < 2 or counts[False] < 2:
        raise CorpusError(f"the corpus is too small to split: {counts[True]} train and {counts[False]} "
                          f"validation tokens; give more text or change --val-fraction")
    os.replace(cache / "train.bin.tmp", cache / "train.bin")
    os.replace(cache / "val.bin.tmp", cache / "val.bin")
    return counts, dtype


def _disk_full(e: OSError) -> bool:
    return e.errno in (errno.ENOSPC, errno.EDQUOT)


def open_prepared(tokenizer: Tokenizer, cache_dir, meta: dict) -> Corpus:
    """Open the id files another process prepared (``prepare_corpus`` on rank 0 of a distributed
    run), after checking they are the ones ``meta`` describes."""
    cache = Path(cache_dir)
    try:
        on_disk = json.loads((cache / "meta.json").read_text())
    except (OSError, ValueError):
        on_disk = None
    if on_disk != meta:
        raise CorpusError(f"{cache} does not hold the tokenized corpus rank 0 prepared: with several nodes, "
                          f"--out must be on a filesystem that every node shares")
    return _open(tokenizer, cache, meta)


def _tokenizer_fingerprint(tokenizer: Tokenizer) -> str:
    with tempfile.TemporaryDirectory() as d:
        spec = tokenizer.save(d)
        h = hashlib.sha256(json.dumps(spec, sort_keys=True).encode())
        for p in sorted(Path(d).iterdir()):
            h.update(p.read_bytes())
    return h.hexdigest()


def _open(tokenizer, cache: Path, meta: dict) -> Corpus:
    dtype = np.dtype(meta["dtype"])
    train = np.memmap(cache / "train.bin", dtype=dtype, mode="r")
    val = np.memmap(cache / "val.bin", dtype=dtype, mode="r")
    return Corpus(tokenizer, train, val, meta)


class TBPTTBatches:
    """Stateful truncated-BPTT batches over one id stream.

    The stream is laid out as ``batch_size`` parallel rows, row b being the b-th contiguous slice.
    Each ``next()`` returns the next ``bptt_len`` columns, so batch k+1 continues batch k in every
    row and the model's final state for batch k is the right initial state for batch k+1. At the
    end of the rows the epoch wraps around (``new_epoch`` tells the caller to reset its state).
    ``rank``/``world_size`` give each distributed process its own contiguous share of the rows.
    """

    def __init__(self, ids, batch_size: int, bptt_len: int, rank: int = 0, world_size: int = 1):
        if batch_size % world_size:
            raise ValueError(f"batch_size {batch_size} must be divisible by the {world_size} processes")
        self.ids, self.batch_size, self.bptt_len = ids, batch_size, bptt_len
        self.row_len = (len(ids) - 1) // batch_size       # inputs per row; targets are shifted by one
        if self.row_len < bptt_len:
            raise CorpusError(
                f"the training split has {len(ids)} tokens: too few for batch_size {batch_size} x bptt_len "
                f"{bptt_len} (needs at least {batch_size * bptt_len + 1}). Use a larger corpus or smaller "
                f"--batch-size / --bptt-len.")
        local = batch_size // world_size
        self.rows = range(rank * local, (rank + 1) * local)
        self.steps_per_epoch = self.row_len // bptt_len
        self.position, self.epoch = 0, 0
        self.new_epoch = True

    def next(self):
        """-> x, y: (B_local, T) int64 tensors; y is x shifted by one token (teacher forcing)."""
        if self.position + self.bptt_len > self.steps_per_epoch * self.bptt_len:
            self.position, self.epoch = 0, self.epoch + 1
        self.new_epoch = self.position == 0
        t, T, L = self.position, self.bptt_len, self.row_len
        block = np.stack([np.asarray(self.ids[b * L + t: b * L + t + T + 1]) for b in self.rows])
        block = torch.from_numpy(block.astype(np.int64))   # (B, T + 1)
        self.position += T
        return block[:, :-1], block[:, 1:]

    def state_dict(self) -> dict:
        return {"position": self.position, "epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        self.position, self.epoch = int(state["position"]), int(state["epoch"])
