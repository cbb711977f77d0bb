"""Fine-tuning: a run that starts from what a checkpoint already knows (``train --init-from CKPT``).

* The architecture is the parent's: a size or cell flag that contradicts it is refused.
* A char or jamo vocabulary grows with the new corpus' characters, appended after the parent's so
  its ids keep their rows; a new character's embedding and output weights and its output bias start
  as the mean of the parent's (an average character; the lowest bias, "start rare", did worse: README).
  A subword parent's SentencePiece model is reused as it is.
* ``--replay F``: a fraction F of the training tokens comes from the parent's own train split, found
  from its config.json (``corpus.files``, read where they exist with the recorded sha256).
* The keyboard's word statistics are the parent's counts plus the new corpus' counts times
  NEW_WORDS_WEIGHT (continuation counts
  summed); the checkpoint's config.json records the parent (``parent``).

Usage (the run calls these; ``train`` does the first two before anything is written):

    parent = load_parent("default"); cfg, model_cfg = inherit(cfg, model_cfg, parent, given)
    tokenizer = grown_tokenizer(parent, cfg); graft(model, parent); freeze(model, cfg.freeze_layers)
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch

from .checkpoint import CheckpointError, load_checkpoint, resolve_checkpoint
from .data import CorpusError, find_files, iter_text, prepare_corpus
from .distributed import prepare_shared
from .model import ModelConfig
from .ngram import NgramModel, load_words
from .resources import PACKAGE, bundled
from .stopping import checked
from .tokenizer import CHAR_KINDS, CharTokenizer, fit_tokenizer

FINETUNE_LR = 1e-3                 # a fine-tune's peak learning rate, chosen on held-out text (README)
ARCH = ("cell", "num_layers", "hidden_size", "embed_size", "tie_weights")
NEW_WORDS_WEIGHT = 4               # each word of the new corpus counts as this many of the parent's


@dataclass
class Parent:
    name: str
    path: Path
    model: object
    tokenizer: object
    config: dict


def load_parent(name: str) -> Parent:
    try:
        path = resolve_checkpoint(name)
        model, tokenizer, config = load_checkpoint(path)
    except CheckpointError as e:
        raise CheckpointError(f"--init-from {name}: {e}") from None
    return Parent(name, path, model, tokenizer, config)


def _non_default(cls, obj) -> set:
    return {f.name for f in fields(cls) if getattr(obj, f.name) != f.default}


def inherit(cfg, model_cfg: ModelConfig | None, parent: Parent, given: set | None = None):
    """(cfg, model_cfg) of a fine-tune of ``parent``; ``given``: the flags the user set (None: those
    off their defaults). Flags that contradict the parent raise ValueError."""
    model_cfg = model_cfg or ModelConfig()
    given = given if given is not None else _non_default(type(cfg), cfg) | _non_default(ModelConfig, model_cfg)
    p, tok = parent.model.config, parent.tokenizer
    what = f"--init-from {parent.name} (a {p.num_layers} x {p.hidden_size} {p.cell.upper()}, {tok.kind} tokenizer)"
    for name in ARCH:
        if name in given and getattr(model_cfg, name) != getattr(p, name):
            raise ValueError(f"--{name.replace('_', '-')} {getattr(model_cfg, name)} contradicts {what}: a fine-tune "
                             f"keeps its parent's architecture; leave the flag out")
    if "tokenizer" in given and cfg.tokenizer != tok.kind:
        raise ValueError(f"--tokenizer {cfg.tokenizer} contradicts {what}: a fine-tune keeps its parent's "
                         f"tokenizer; leave the flag out")
    if tok.kind not in CHAR_KINDS and "vocab_size" in given and cfg.vocab_size != tok.vocab_size:
        raise ValueError(f"--vocab-size {cfg.vocab_size} contradicts {what}: its SentencePiece model "
                         f"({tok.vocab_size} pieces) is reused as it is; leave the flag out")
    if not 0 <= cfg.freeze_layers <= p.num_layers:
        raise ValueError(f"--freeze-layers {cfg.freeze_layers}: the parent has {p.num_layers} layers")
    dropout = model_cfg.dropout if model_cfg.dropout is not None else p.dropout
    cfg = replace(cfg, tokenizer=tok.kind, vocab_size=tok.vocab_size if tok.kind not in CHAR_KINDS else cfg.vocab_size,
                  lr=FINETUNE_LR if cfg.lr is None else cfg.lr)
    if cfg.replay:
        replay_files(lineage(parent))           # refused now, before anything is written
    return cfg, replace(p, dropout=dropout)


def lineage(parent: Parent) -> dict:
    """What config.json records of the parent."""
    c = parent.config
    return {"name": parent.name, "path": str(parent.path), "weights_sha256": c.get("weights_sha256"),
            "corpus": c.get("corpus"), "command": c.get("command"), "parent": c.get("parent")}


def grown_tokenizer(parent: Parent, cfg, should_stop=None):
    """The parent's char/jamo vocabulary plus the new corpus' characters (after it); a subword one as is."""
    tok = parent.tokenizer
    if tok.kind not in CHAR_KINDS:
        return tok
    texts = checked(iter_text(find_files(cfg.corpus), cfg.encoding), should_stop, "building the vocabulary")
    seen = fit_tokenizer(tok.kind, texts).chars
    known = set(tok.chars)
    return CharTokenizer(list(tok.chars) + [c for c in seen if c not in known], jamo=tok.jamo)


def graft(model, parent: Parent | None) -> int:
    """Copy the parent's weights into ``model`` (the same architecture, its vocabulary grown);
    -> how many rows are new. No parent: nothing to do."""
    if parent is None:
        return 0
    ps, ms = parent.model.state_dict(), model.state_dict()
    n = parent.tokenizer.vocab_size
    with torch.no_grad():
        for k, v in ps.items():
            t = ms[k]
            if t.shape == v.shape:
                t.copy_(v)
                continue
            t[:n] = v                  # embedding.weight, head.weight, head.bias: the parent's ids keep their rows
            t[n:] = v.mean(0)          # the mean row; head.bias: the mean bias (measured better than the lowest, README)
    return model.config.vocab_size - n


def freeze(model, n_layers: int) -> None:
    """The embedding and the first ``n_layers`` recurrent layers not trained."""
    if not n_layers:
        return
    model.embedding.weight.requires_grad_(False)
    for name, p in model.rnn.named_parameters():     # weight_ih_l0, bias_hh_l1, ...
        if int(name.rsplit("_l", 1)[1].split("_")[0]) < n_layers:
            p.requires_grad_(False)


# ---------------------------------------------------------------------------- the parent's text
def _find(name: str) -> Path | None:
    for base in (Path("."), PACKAGE.parent, bundled("corpora").parent):
        if (base / name).is_file():
            return base / name
    return None


def replay_files(record: dict) -> list[Path]:
    """The parent's corpus files, where they exist with the sha256 its config.json records."""
    corpus = (record or {}).get("corpus") or {}
    names = corpus.get("files") or []
    found = [_find(f) for f in names]
    if not names or None in found:
        missing = [f for f, p in zip(names, found) if p is None]
        raise CorpusError(f"--replay needs the parent's training text, which its config.json "
                          f"{'does not record' if not names else 'names but is not here: ' + ', '.join(missing)}")
    h = hashlib.sha256()
    for p in found:
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    if h.hexdigest() != corpus.get("sha256"):
        raise CorpusError(f"--replay: the parent's training text ({', '.join(map(str, found))}) is not the one it "
                          f"was trained on (sha256 {h.hexdigest()[:12]} != {str(corpus.get('sha256'))[:12]})")
    return found


def with_replay(ids, cfg, record: dict | None, tokenizer, cache_dir, should_stop=None, dist=None):
    """The training ids followed by the parent's train-split ids, ``cfg.replay`` of the whole (under
    torchrun rank 0 tokenizes them, the others wait and share its cache)."""
    if not cfg.replay or not record:
        return ids
    files = replay_files(record)
    prepare = prepare_corpus if dist is None else partial(prepare_shared, dist)
    corpus = prepare(files, tokenizer.kind, cache_dir, tokenizer=tokenizer, should_stop=should_stop)
    want = int(len(ids) * cfg.replay / (1 - cfg.replay))
    return np.concatenate([np.asarray(ids), np.asarray(corpus.train_ids[:want])])


# ---------------------------------------------------------------------------- word statistics
def merged_words(words: NgramModel, record: dict | None) -> NgramModel:
    """The parent's word counts plus the new corpus' (times NEW_WORDS_WEIGHT); the parent's discounts."""
    if not record or not Path(record["path"]).is_dir():
        return words
    old = load_words(record["path"])
    if not isinstance(old, NgramModel):
        return words
    w = NEW_WORDS_WEIGHT

    def add(a: dict, b: dict, nested: bool, w: float = w) -> dict:
        out = {k: dict(v) for k, v in a.items()} if nested else dict(a)
        for k, v in b.items():
            if nested:
                row = out.setdefault(k, {})
                for x, c in v.items():
                    row[x] = row.get(x, 0) + w * c
            else:
                out[k] = out.get(k, 0) + w * v
        return out
    tables = {"unigrams": add(old.unigrams, words.unigrams, False), "cont1": add(old.cont1, words.cont1, False, 1),
              "bigrams": add(old.bigrams, words.bigrams, True), "cont2": add(old.cont2, words.cont2, True, 1),
              "trigrams": add(old.trigrams, words.trigrams, True),
              "surface": {**old.surface, **words.surface}, "discounts": old.discounts}
    return NgramModel(tables, words.mixture)
