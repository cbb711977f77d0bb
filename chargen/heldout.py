"""The mixture weights a checkpoint ships: how well the character model, the corpus n-grams and a
session's own words each predicted the words of held-out text (the head of the train split, which
neither the model nor the word statistics saw), turned into weights by EM. Training calls this at
every ``best/`` save; ``chargen words`` does it for an existing checkpoint. Usage:

    rows = word_rows(model, tokenizer, ngram, held_out_text)   # per word: (p_char, p_ngram, p_cache)
    ngram.mixture = estimate(rows)
"""
from __future__ import annotations

import numpy as np
import torch

from .checkpoint import load_checkpoint, resolve_checkpoint
from .data import find_files, iter_text, text_slice, train_text
from .hangul import decompose_hangul
from .mixture import estimate
from .ngram import NgramModel, fold
from .sample import start_ids
from .stopping import checked
from .tokenizer import CHAR_KINDS, JAMO
from .wordstats import WordCache
from .words import word_spans, word_tokens

HELD_OUT_CHARS = 30_000           # the head of the train split kept out of training and the word counts
HEAD, TAIL = "head", "tail"       # where that piece is cut from (TAIL: runs from before the head)
WORDS_MAX_CHARS = 20_000_000      # word statistics read at most this much of the train split (bounds memory)
CHUNK = 1024                      # tokens per forward pass


@torch.no_grad()
def token_scores(model, tokenizer, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """For every position i of ``ids``: log P(ids[i + 1] | ids[:i + 1]) and log P(a word boundary |
    ids[:i + 1]), from one pass of the module (state carried chunk to chunk)."""
    texts = [tokenizer.token_text(i) for i in range(tokenizer.vocab_size)]
    boundary = torch.tensor([not w and i != tokenizer.unk_id
                             for i, w in enumerate(word_tokens(texts, tokenizer.unk_id))])
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    x, boundary = torch.tensor(ids, device=device), boundary.to(device)
    nxt, ends, state = [], [], None
    for a in range(0, len(ids), CHUNK):
        logits, state = model(x[a:a + CHUNK][None], state)
        logp = torch.log_softmax(logits[0].float(), -1)                       # (c, V)
        target = x[a + 1:a + 1 + CHUNK]
        nxt.append(torch.cat([logp[:len(target)].gather(1, target[:, None])[:, 0],
                              torch.full((len(logp) - len(target),), float("nan"), device=device)]))
        ends.append(torch.logsumexp(logp[:, boundary], -1))
    model.train(was_training)
    return torch.cat(nxt).cpu().numpy(), torch.cat(ends).cpu().numpy()


def word_rows(model, tokenizer, ngram: NgramModel, text: str) -> list[tuple]:
    """(p_char, p_ngram, p_cache) for every word of ``text`` in order, each part predicting the word
    from what came before it (the cache holding the text's earlier words). The character part is
    None for a subword model (its tokens do not end where words do)."""
    jamo = tokenizer.kind == JAMO
    key = decompose_hangul if jamo else (lambda w: w)                        # noqa: E731
    spans = [(a, b) for a, b in word_spans(text) if b < len(text)]   # a word still running has no boundary yet
    char_p = _char_word_probs(model, tokenizer, text, spans) if tokenizer.kind in CHAR_KINDS else [None] * len(spans)
    cache, rows, before = WordCache(1000), [], (None, None)
    for (a, b), pc in zip(spans, char_p):
        w = key(text[a:b])
        prev = cache.words[-1] if cache.words else None
        u, v = before
        rows.append((pc, ngram.prob(u, v, fold(w)), cache.prob(prev, w)))
        cache.push(w)
        before = (v, fold(w))
    return rows


def _char_word_probs(model, tokenizer, text: str, spans) -> list[float]:
    """P_char of each word span: its tokens from the word's start, then a boundary."""
    head = start_ids(tokenizer)
    per_char = np.array([len(tokenizer.encode(c)) for c in text]) if tokenizer.kind == JAMO else np.ones(len(text), int)
    offsets = len(head) + np.concatenate([[0], np.cumsum(per_char)])           # char index -> id position
    nxt, ends = token_scores(model, tokenizer, head + tokenizer.encode(text))
    out = []
    for a, b in spans:
        ia, ib = offsets[a], offsets[b]
        out.append(float(np.exp(nxt[ia - 1:ib - 1].sum() + ends[ib - 1])))
    return out


def estimate_mixture(model, tokenizer, ngram: NgramModel, text: str) -> list[float]:
    return estimate(word_rows(model, tokenizer, ngram, text))


def held_out_size(wanted: int, train_chars: int) -> int:
    """The held-out piece's length: as asked, at most a tenth of the train split."""
    return min(wanted, train_chars // 10)


def held_out_span(wanted: int, train_chars: int, at: str = HEAD) -> tuple[int, int]:
    """(start, end) of the held-out piece in the train split: its head (HEAD), or its tail (TAIL, runs
    from before the head: a tail held out next to the validation split takes from training the text
    that the validation text continues, the start of its last document, and the validation loss
    pays for it: Tiny Shakespeare 100 s 1.527 -> 1.675 nats/char)."""
    n = held_out_size(wanted, train_chars)
    return (0, n) if at == HEAD else (train_chars - n, train_chars)


def count_words(corpus, encoding: str, train_chars: int, held: tuple[int, int], jamo: bool,
                should_stop=None) -> NgramModel:
    """Word n-grams of the train split less its held-out ``held`` span (WORDS_MAX_CHARS at most; a
    jamo model's words decomposed, as its sessions look them up)."""
    start, end = (held[1], train_chars) if held[0] == 0 else (0, held[0])
    chunks = checked(train_text(corpus, encoding, end, WORDS_MAX_CHARS, start=start), should_stop, "counting words")
    return NgramModel.fit(map(decompose_hangul, chunks) if jamo else chunks)


def recount_words(checkpoint, corpus, encoding: str = "utf-8", val_fraction: float | None = None,
                  held_out_chars: int = HELD_OUT_CHARS, should_stop=None) -> NgramModel:
    """Count a checkpoint's word statistics again from its corpus, as training now does (n-grams of
    the train split less its held-out piece, where the run held it out, mixture weights estimated
    on that piece), and write them to its words.json: how a checkpoint from before the n-gram
    statistics gets them. (A model trained before held-out pieces existed has seen that piece: its
    weights then lean to the character model; each session's own EM moves them on from there.)"""
    path = resolve_checkpoint(checkpoint)
    model, tokenizer, config = load_checkpoint(path)
    trained = config.get("train", {})
    val_fraction = trained.get("val_fraction", 0.1) if val_fraction is None else val_fraction
    n_chars = sum(len(t) for t in iter_text(find_files(corpus), encoding))
    n_train = int(n_chars * (1 - val_fraction))
    # where the run held its piece out (a run with held_out_chars but no held_out_at: the tail)
    at = trained.get("held_out_at", TAIL if "held_out_chars" in trained else HEAD)
    held = held_out_span(held_out_chars, n_train, at)
    ngram = count_words(corpus, encoding, n_train, held, tokenizer.kind == JAMO, should_stop)
    if held[1] > held[0]:
        ngram.mixture = estimate_mixture(model, tokenizer, ngram, text_slice(corpus, encoding, *held))
    ngram.save(path)
    return ngram
