"""Text <-> token ids: the one place that knows how characters become integers.

Owns `CharTokenizer` (one id per Unicode code point; `jamo=True` splits Hangul syllables into
the conjoining jamo a Korean keyboard types), `SubwordTokenizer` (a lossless SentencePiece
BPE/unigram model with byte fallback), fitting them on a corpus, and saving/loading them.
Unknown characters map to UNK_ID (never an exception); decode(encode(s)) == s (see the
limitations noted on each class).

Usage:
    tok = fit_tokenizer("char", [text]); ids = tok.encode_array(text); spec = tok.save(ckpt_dir)
    tok = load_tokenizer(ckpt_dir, spec); print(tok.decode(ids[:100]))
"""
from __future__ import annotations

import io
import itertools
import json
import os
import re
import threading
from typing import Iterable, Iterator, Protocol, Sequence, runtime_checkable

import numpy as np
import sentencepiece as spm

from .hangul import BLOCK, blocks, codepoints, compose_codepoints, decompose_codepoints, decompose_hangul, from_codepoints
from .stopping import check

UNK_ID = 0  # reserved in every char/jamo vocab; decodes to "\ufffd"
UNK_CHAR = "\ufffd"
CHAR, JAMO, BPE, UNIGRAM = "char", "jamo", "bpe", "unigram"
CHAR_KINDS = (CHAR, JAMO)            # one id per character (a jamo model: per jamo of a syllable)
SUBWORD_KINDS = (BPE, UNIGRAM)       # SentencePiece pieces
KINDS = CHAR_KINDS + SUBWORD_KINDS
DEFAULT_SUBWORD_VOCAB = 2000         # bpe / unigram vocabulary size, 256 byte pieces included
CHAR_FILE = "tokenizer.json"
SUBWORD_FILE = "tokenizer.model"
MIN_SUBWORD_VOCAB = 256 + 8  # 256 byte pieces + <unk> + a few real pieces
_SP_SPACE = "\u2581"  # "▁": SentencePiece's stand-in for " "; a literal one needs escaping
_SP_SPECIAL = re.compile("([\u2581\ud800-\udfff])")  # "▁" and lone surrogates
_MAX_SENTENCE_BYTES = 4192  # SentencePiece's max_sentence_length; longer lines are dropped by it
_MAX_SENTENCE_CHARS = _MAX_SENTENCE_BYTES // 4  # any 1024 code points fit in 4192 UTF-8 bytes


class TokenizerError(ValueError):
    """A tokenizer cannot be built, loaded or used as asked; the message says what to do."""


@runtime_checkable
class Tokenizer(Protocol):
    """The interface every other module relies on."""
    kind: str  # "char" | "jamo" | "bpe" | "unigram"
    vocab_size: int
    unk_id: int
    def encode(self, text: str) -> list[int]: ...
    def encode_array(self, text: str) -> np.ndarray: ...  # int64, same ids as encode
    def decode(self, ids) -> str: ...
    def token_text(self, token_id: int) -> str: ...
    def save(self, directory) -> dict: ...


def _as_ids(ids, vocab_size: int) -> np.ndarray:
    """Any list / ndarray / tensor / iterable of ints -> 1-D integer array, range-checked."""
    if not isinstance(ids, np.ndarray):
        ids = np.asarray(ids if hasattr(ids, "__len__") else list(ids))
    ids = ids.reshape(-1) if ids.size else ids.reshape(0).astype(np.int64)  # [] is float64
    if ids.dtype.kind not in "iu":
        raise TokenizerError(f"token ids must be integers, got dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        bad = int(ids.min()) if ids.min() < 0 else int(ids.max())
        raise TokenizerError(f"token id {bad} is outside this tokenizer's ids 0..{vocab_size - 1}")
    return ids


# ----------------------------------------------------------------------------- char / jamo
class CharTokenizer:
    """One id per Unicode code point (id i+1 for chars[i]; 0 = unknown -> "\\ufffd").

    jamo=True (kind "jamo"): Hangul syllables are decomposed into conjoining jamo before lookup
    and recomposed on decode. Limitation: text that already contains conjoining jamo
    (U+1100..U+11FF) comes back composed, so the exact round trip holds for all other text.
    """

    def __init__(self, chars: Sequence[str], jamo: bool = False):
        chars = list(chars)
        if any(not isinstance(c, str) or len(c) != 1 for c in chars):
            raise TokenizerError("a char vocabulary must be a list of single-character strings")
        if len(set(chars)) != len(chars):
            raise TokenizerError("a char vocabulary must not repeat a character")
        self.kind = "jamo" if jamo else "char"
        self.jamo = jamo
        self.chars = tuple(chars)
        self.vocab_size = len(chars) + 1
        self.unk_id = UNK_ID
        self._stoi = {c: i + 1 for i, c in enumerate(chars)}
        # id -> code point, so decode is one gather plus one codec call
        self._id_to_cp = np.array([ord(UNK_CHAR)] + [ord(c) for c in chars], dtype=np.uint32)
        self._lut = None  # code point -> id, 0x110000 entries (4.4 MB): built on first bulk encode

    def _table(self) -> np.ndarray:
        if self._lut is None:
            lut = np.full(0x110000, UNK_ID, dtype=np.int32)
            lut[self._id_to_cp[1:]] = np.arange(1, self.vocab_size, dtype=np.int32)
            self._lut = lut
        return self._lut

    def encode(self, text: str) -> list[int]:
        if len(text) > 256:  # bulk: numpy + tolist() is ~3x faster than a dict lookup per char
            return self.encode_array(text).tolist()
        if self.jamo:
            text = decompose_hangul(text)
        return [self._stoi.get(c, UNK_ID) for c in text]

    def encode_array(self, text: str) -> np.ndarray:
        lut = self._table()
        if not self.jamo:  # one id per code point: fill a preallocated array block by block
            out = np.empty(len(text), dtype=np.int64)
            for i, block in enumerate(blocks(text)):
                out[i * BLOCK:i * BLOCK + len(block)] = lut[codepoints(block)]
            return out
        parts = [lut[decompose_codepoints(codepoints(b))] for b in blocks(text)]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    def decode(self, ids) -> str:
        cps = self._id_to_cp[_as_ids(ids, self.vocab_size)]
        return from_codepoints(compose_codepoints(cps) if self.jamo else cps)

    def token_text(self, token_id: int) -> str:
        return chr(self._id_to_cp[_as_ids([token_id], self.vocab_size)[0]])

    def save(self, directory) -> dict:
        os.makedirs(directory, exist_ok=True)
        # readable UTF-8 unless a lone surrogate forces \u escapes (it cannot be written as UTF-8)
        ascii_only = any(0xD800 <= ord(c) <= 0xDFFF for c in self.chars)
        data = json.dumps({"kind": self.kind, "chars": list(self.chars)}, ensure_ascii=ascii_only)
        with open(os.path.join(directory, CHAR_FILE), "w", encoding="utf-8") as f:
            f.write(data)
        return {"kind": self.kind, "file": CHAR_FILE, "vocab_size": self.vocab_size}


def _fit_char(chunks: Iterable[str], jamo: bool) -> CharTokenizer:
    seen = np.zeros(0x110000, dtype=bool)  # a scatter into a flag per code point: O(n), no sort
    for chunk in chunks:
        for block in blocks(chunk):
            seen[codepoints(block)] = True
    cps = np.flatnonzero(seen).astype(np.uint32)
    if len(cps) == 0:
        raise TokenizerError("the training text is empty: nothing to build a vocabulary from")
    if jamo:  # syllables never reach the vocab; the jamo they decompose into do
        cps = np.unique(decompose_codepoints(cps))
    return CharTokenizer([chr(c) for c in cps], jamo=jamo)


# ----------------------------------------------------------------------------- subword
class SubwordTokenizer:
    """A SentencePiece BPE/unigram model, trained lossless (identity normalization, no dummy
    prefix, byte fallback), so decode(encode(s)) == s for any valid Unicode string and ids of
    separately encoded chunks concatenate. A literal "▁" (U+2581, SentencePiece's space
    marker) is encoded as its three byte pieces so it does not come back as a space.
    Limitation: a lone surrogate (not valid UTF-8, never in a decoded file) maps to unk_id and
    comes back as "\ufffd"."""

    def __init__(self, model_proto: bytes, kind: str):
        if kind not in SUBWORD_KINDS:
            raise TokenizerError(f"subword kind must be one of {SUBWORD_KINDS}, got {kind!r}")
        try:
            sp = spm.SentencePieceProcessor(model_proto=bytes(model_proto))
        except Exception as e:
            raise TokenizerError(f"not a valid SentencePiece model ({e})") from None
        byte_ids = [sp.piece_to_id(f"<0x{b:02X}>") for b in range(256)]
        if sp.get_piece_size() == 0 or not all(sp.is_byte(i) for i in byte_ids):
            raise TokenizerError("not a SentencePiece model with byte_fallback: it cannot encode "
                                 "every string; train it with fit_tokenizer()")
        self.kind = kind
        self.sp = sp
        self.model_proto = bytes(model_proto)
        self.vocab_size = sp.get_piece_size()
        self.unk_id = sp.unk_id()
        self._space_marker_ids = [byte_ids[b] for b in _SP_SPACE.encode("utf-8")]
        self._texts = [self._piece_text(i) for i in range(self.vocab_size)]

    def _piece_text(self, i: int) -> str:
        piece = self.sp.id_to_piece(i)
        if self.sp.is_byte(i):  # "<0x41>": only a printable ASCII byte is a character by itself
            b = int(piece[3:5], 16)
            return chr(b) if 0x20 <= b < 0x7F else ""
        if self.sp.is_unknown(i):
            return UNK_CHAR
        if self.sp.is_control(i):
            return ""
        return piece.replace(_SP_SPACE, " ")

    def encode(self, text: str) -> list[int]:
        try:
            if _SP_SPACE not in text:
                return self.sp.encode(text)
        except RuntimeError:  # a lone surrogate: not UTF-8, so SentencePiece cannot take it
            pass
        ids: list[int] = []  # encode the runs between the characters SentencePiece can't take
        for i, part in enumerate(_SP_SPECIAL.split(text)):  # odd i: the special character
            if i % 2:
                ids.extend(self._space_marker_ids if part == _SP_SPACE else [self.unk_id])
            elif part:
                ids.extend(self.sp.encode(part))
        return ids

    def encode_array(self, text: str) -> np.ndarray:
        return np.asarray(self.encode(text), dtype=np.int64)

    def decode(self, ids) -> str:
        return self.sp.decode(_as_ids(ids, self.vocab_size).tolist())

    def token_text(self, token_id: int) -> str:
        return self._texts[_as_ids([token_id], self.vocab_size)[0]]

    def save(self, directory) -> dict:
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, SUBWORD_FILE), "wb") as f:
            f.write(self.model_proto)
        return {"kind": self.kind, "file": SUBWORD_FILE, "vocab_size": self.vocab_size}


def _training_sentences(chunks: Iterable[str]) -> Iterator[str]:
    """Lines of the corpus (SentencePiece learns per line), carried across chunk borders and cut
    to SentencePiece's length limit instead of letting it silently drop long lines."""
    pending = ""  # the start of a line whose end is in a later chunk
    for chunk in itertools.chain(chunks, ["\n"]):  # the final "\n" flushes the last line
        start = 0
        while start <= len(chunk):
            end = chunk.find("\n", start)
            line = pending + (chunk[start:] if end < 0 else chunk[start:end])
            pos = 0
            while len(line) - pos > _MAX_SENTENCE_CHARS:
                # cut before a space in the second half of the window: keeps words whole
                cut = line.rfind(" ", pos + _MAX_SENTENCE_CHARS // 2, pos + _MAX_SENTENCE_CHARS)
                cut = cut if cut >= 0 else pos + _MAX_SENTENCE_CHARS
                yield line[pos:cut].replace(_SP_SPACE, " ")  # a literal "▁" would mean a space
                pos = cut
            pending = line[pos:]
            if end < 0:
                break
            if pending:
                yield pending.replace(_SP_SPACE, " ")
            pending, start = "", end + 1


def _fit_subword(kind: str, chunks: Iterable[str], vocab_size: int, should_stop=None) -> SubwordTokenizer:
    if vocab_size < MIN_SUBWORD_VOCAB:
        raise TokenizerError(f"vocab_size={vocab_size} is too small for {kind}: the 256 byte "
                             f"pieces and <unk> count toward it; use at least {MIN_SUBWORD_VOCAB} "
                             f"(really 256 + distinct characters + merges, e.g. {DEFAULT_SUBWORD_VOCAB})")
    model = io.BytesIO()
    if should_stop is None:
        _train_sentencepiece(kind, chunks, vocab_size, model)
    else:
        # SentencePiece trains in C++ and never returns to Python to see a signal: it runs in a
        # thread while this one asks should_stop() (a stop leaves it to die with the process)
        failed: list = []

        def run():
            try:
                _train_sentencepiece(kind, chunks, vocab_size, model)
            except BaseException as e:   # noqa: BLE001 - handed to the waiting thread
                failed.append(e)
        worker = threading.Thread(target=run, daemon=True, name="sentencepiece")
        worker.start()
        while worker.is_alive():
            worker.join(0.1)
            check(should_stop, f"learning the {kind} vocabulary")
        if failed:
            raise failed[0]
    return SubwordTokenizer(model.getvalue(), kind)


def _train_sentencepiece(kind: str, chunks: Iterable[str], vocab_size: int, model: io.BytesIO) -> None:
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=_training_sentences(chunks), model_writer=model,
            model_type=kind, vocab_size=vocab_size, byte_fallback=True,
            normalization_rule_name="identity", remove_extra_whitespaces=False,
            add_dummy_prefix=False,  # else every separately encoded chunk would gain a space
            character_coverage=0.9995, split_digits=True, hard_vocab_limit=False,
            allow_whitespace_only_pieces=True, max_sentence_length=_MAX_SENTENCE_BYTES,
            input_sentence_size=2_000_000, shuffle_input_sentence=True,  # bounded memory
            bos_id=-1, eos_id=-1, unk_surface=UNK_CHAR, num_threads=os.cpu_count() or 1,
            minloglevel=2)
    except RuntimeError as e:
        if "sentences_.empty()" in str(e):  # SentencePiece got no non-empty line
            raise TokenizerError(f"the training text is empty: no {kind} to learn") from None
        m = re.search(r"smaller than required_chars\. (\d+) vs (\d+)", str(e))
        if m:
            raise TokenizerError(
                f"vocab_size={vocab_size} is too small for this corpus: SentencePiece needs at "
                f"least {m.group(2)} pieces (256 bytes + <unk> + every character it keeps at "
                f"character_coverage=0.9995); use vocab_size >= {m.group(2)}") from None
        raise TokenizerError(f"SentencePiece {kind} training failed: {e}") from None


# ----------------------------------------------------------------------------- entry points
def fit_tokenizer(kind: str, chunks: Iterable[str], vocab_size: int = DEFAULT_SUBWORD_VOCAB,
                  should_stop=None) -> Tokenizer:
    """Build a tokenizer of `kind` from the training text, given as an iterable of string chunks.
    vocab_size is used only by bpe/unigram (char/jamo vocabularies are what the text holds).
    ``should_stop()`` True interrupts a subword fit (``stopping.Interrupted``)."""
    if isinstance(chunks, str):  # one string: iterating it would go character by character
        chunks = [chunks]
    if kind in CHAR_KINDS:
        return _fit_char(chunks, jamo=(kind == "jamo"))
    if kind in SUBWORD_KINDS:
        return _fit_subword(kind, chunks, vocab_size, should_stop)
    raise TokenizerError(f"unknown tokenizer kind {kind!r}: choose one of "
                         f"{', '.join(KINDS)}")


def load_tokenizer(directory, spec: dict) -> Tokenizer:
    """Inverse of `tok.save(directory)`; checks everything: checkpoints may come from anyone."""
    if not isinstance(spec, dict) or "kind" not in spec:
        raise TokenizerError(f"tokenizer spec must be a dict with a 'kind' key, got {spec!r}")
    kind = spec["kind"]
    if kind not in KINDS:
        raise TokenizerError(f"unknown tokenizer kind {kind!r} in the checkpoint's spec (known: "
                             f"{', '.join(KINDS)}); it was written by another "
                             "version of chargen or edited by hand")
    name = spec.get("file", CHAR_FILE if kind in CHAR_KINDS else SUBWORD_FILE)
    if not isinstance(name, str) or name in ("", ".", "..") or os.path.basename(name) != name:
        raise TokenizerError(f"tokenizer file name {name!r} must be a plain file name inside the "
                             "checkpoint directory")
    path = os.path.join(os.fspath(directory), name)
    if not os.path.isfile(path):
        raise TokenizerError(f"tokenizer file {path} not found: the checkpoint directory is "
                             "incomplete; copy that file next to the model or retrain")
    try:
        if kind in CHAR_KINDS:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
            if not isinstance(data, dict) or data.get("kind") != kind \
                    or not isinstance(data.get("chars"), list):
                raise TokenizerError(f"expected {{\"kind\": \"{kind}\", \"chars\": [...]}}")
            tok = CharTokenizer(data["chars"], jamo=(kind == "jamo"))
        else:
            with open(path, "rb") as f:
                tok = SubwordTokenizer(f.read(), kind)
    except (TokenizerError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TokenizerError(f"tokenizer file {path} is corrupted or not a {kind} tokenizer ({e}); "
                             "restore it from the original checkpoint or retrain") from None
    if "vocab_size" in spec and spec["vocab_size"] != tok.vocab_size:
        raise TokenizerError(f"tokenizer file {path} has {tok.vocab_size} tokens but the spec "
                             f"says {spec['vocab_size']}: it does not belong to this checkpoint")
    return tok
