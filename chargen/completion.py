"""Word completion by beam search over tokens, on a trie of model states that a session keeps.

The trie holds, for every token path searched from the start of the current word, the model state
after it and the log-probabilities of the next token. Typing along a path the last search explored
costs no new model step for that subtree. All arrays are numpy: a search is a few dozen small
operations per depth, where numpy's per-call cost is a fraction of torch's. Usage (from a session):

    trie = Trie()
    root = trie.root(anchor_state, word_ids, row, logits)      # re-rooted when the word's start changes
    probs = beam_search(predictor, trie, root, word_ids, n=3)  # {word: P_char(word)}
"""
from __future__ import annotations

import itertools
import math

import numpy as np

TRIE_NODES = 2048      # nodes kept per session before the trie is cleared (each: a state row + V log-probs)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """(K, V) float32 logits -> log-probabilities, row by row."""
    m = logits.max(-1, keepdims=True)
    z = logits - m
    z -= np.log(np.exp(z).sum(-1, keepdims=True))
    return z


class Trie:
    """Token path (a tuple of ids from the word's start) -> (state row (S,), log-probs (V,))."""

    def __init__(self):
        self.nodes: dict = {}
        self.anchor = None         # identity of the state at the word's start: the trie's key

    def root(self, anchor, word_ids: list[int], row: np.ndarray, logits: np.ndarray) -> tuple:
        """The node of ``word_ids`` (the current word's tokens), whose state is ``row`` after them.
        A new anchor (the word starts elsewhere) or a full trie starts a new one."""
        if anchor is None or anchor is not self.anchor or len(self.nodes) > TRIE_NODES:
            self.nodes, self.anchor = {}, anchor
        key = tuple(word_ids)
        if key not in self.nodes:
            self.nodes[key] = (row, log_softmax(logits[None])[0])
        return key

    def expand(self, stepper, paths: list[tuple]) -> np.ndarray:
        """(K, V) log-probabilities after each token path; paths not in the trie yet are computed in
        one batched step from their parents (which must be in it)."""
        nodes = self.nodes
        todo = [q for q in dict.fromkeys(paths) if q not in nodes]
        if todo:
            rows = np.stack([nodes[q[:-1]][0] for q in todo])                  # (K, S)
            logits, rows = stepper.step_rows([q[-1] for q in todo], rows, exact=False)
            logp = log_softmax(logits)
            for j, q in enumerate(todo):
                nodes[q] = (rows[j], logp[j])
        return np.stack([nodes[q][1] for q in paths])


def add_finished(finished: dict, word: str, score: float) -> None:
    """A word the search closed, with log-probability ``score``: paths that spell the same word add up."""
    finished[word] = float(np.logaddexp(finished[word], score)) if word in finished else score


def nth_best(scores, n: int) -> float:
    """The pruning bar shared by every beam search here: the n-th best finished score (-inf while
    fewer than n are finished); a beam that cannot beat it stops."""
    scores = sorted(scores, reverse=True)
    return scores[n - 1] if len(scores) >= n else -math.inf


def _walk_forced(rests: dict, rows: dict, logp: np.ndarray, forced_lp: dict, depth: int, boundary) -> None:
    """The forced words one token further: their next token's log-probability, or at their end the
    boundary's (``rows``: which row of ``logp`` holds each forced path)."""
    for w, r in rests.items():
        if depth <= len(r):
            row = logp[rows[tuple(r[:depth])]]
            forced_lp[w] += float(row[r[depth]]) if depth < len(r) else float(np.log(np.exp(row[boundary]).sum()))


def word_logprobs(p, trie: Trie, root: tuple, words: dict, stepper) -> dict[str, float]:
    """log P_char of each word's tokens (``words``: word -> token ids) from the trie node ``root``,
    then a boundary: the forced walk of ``beam_search`` alone, one batched step per depth."""
    lp = dict.fromkeys(words, 0.0)
    logp, rows = trie.nodes[root][1][None], {(): 0}
    for depth in itertools.count():
        _walk_forced(words, rows, logp, lp, depth, p.boundary_ids)
        todo = sorted({tuple(r[:depth + 1]) for r in words.values() if depth + 1 <= len(r)})
        if not todo:
            return lp
        rows = {q: i for i, q in enumerate(todo)}
        logp = trie.expand(stepper, [root + q for q in todo])


def beam_search(p, trie: Trie, root: tuple, word_ids: list[int], n: int, forced=(), min_keys: int = 1,
                open_keys: tuple = (), added0: int = 0, renormalise: bool = True, stepper=None) -> dict[str, float]:
    """P_char of completions of the word: a beam search over tokens until a word boundary, kept going
    until no open beam can beat the n-th finished word (of those adding ``min_keys`` keys or more);
    plus the exact probability of each word in ``forced`` (rest of the word, then a boundary), walked
    down in the same batched steps.

    ``p`` is the Predictor (its tables); ``root`` the trie node of ``word_ids``. ``added0``: the keys
    the search's words have already added to what was typed before it starts (negative when the
    search backs up over a character still being composed). With ``open_keys`` (the keys of that
    character), the beams must first type those keys (``p.key_mask``) and probabilities are
    renormalised over the first tokens that fit (``renormalise``; False keeps them joint probabilities
    of the tokens after ``word_ids``, as the mixture wants). ``stepper``: the session's (an adapted
    session steps with its own weights; default the predictor's)."""
    V = p.vocab_size
    texts, boundary, word_mask, cost = p.token_texts, p.boundary_ids, p.word_mask, p.token_cost
    base = "".join(texts[i] for i in word_ids)
    rests = {}
    for w in forced:
        ids = p.tokenizer.encode(w)
        if ids[:len(word_ids)] == word_ids and len(ids) > len(word_ids):
            rests[w] = ids[len(word_ids):]
    forced_lp = dict.fromkeys(rests, 0.0)
    logp = trie.nodes[root][1][None]                                    # (1, V) for the beams
    # a beam: (score, token ids, keys added, keys of a composed character still to type, its text)
    beams = [(0.0, (), added0, open_keys, "")]
    norm = float(np.log(np.exp(logp[0][p.key_mask(open_keys)]).sum())) if open_keys and renormalise else 0.0
    finished: dict[str, float] = {}
    counted: dict[str, float] = {}                                     # finished words that add min_keys
    rows = {(): 0}                                                     # forced path -> its row in logp
    for depth in itertools.count():
        _walk_forced(rests, rows, logp, forced_lp, depth, boundary)
        if beams:
            k = len(beams)
            scores = np.array([b[0] for b in beams], np.float32)                   # (K,)
            blp = logp[:k]
            if depth > 0:   # a completion adds at least one character
                ends = blp[:, boundary]                                            # (K, B)
                top_end = ends.max(1)
                closed = scores + top_end + np.log(np.exp(ends - top_end[:, None]).sum(1))
                for b, s in zip(beams, closed.tolist()):
                    if b[3]:             # the keys typed are not all in this word yet
                        continue
                    w = p.shown(base + b[4])
                    add_finished(finished, w, s)
                    if min_keys <= 1 or b[2] >= min_keys:
                        counted[w] = finished[w]
            if depth >= p.max_word_len:
                beams = []
            else:
                cont = scores[:, None] + blp                                       # (K, V)
                if any(b[3] for b in beams):
                    allowed = np.stack([p.key_mask(b[3]) if b[3] else word_mask for b in beams])
                else:
                    allowed = word_mask[None]
                cont = np.where(allowed, cont, -np.inf).ravel()
                width = min(p.beam_width, p.n_word_tokens * k, cont.size)
                if cont.size > 4096:          # a subword-sized vocabulary: partition first
                    top = np.argpartition(-cont, width - 1)[:width]
                    top = top[np.argsort(-cont[top], kind="stable")]
                else:
                    top = np.argsort(-cont, kind="stable")[:width]
                nth = nth_best(counted.values(), n)
                new = []
                for j, s in zip(top.tolist(), cont[top].tolist()):
                    if s > nth:             # beams that can still beat the n-th finished word go on
                        b, t = beams[j // V], j % V
                        need = b[3][len(p.token_keys[t]):] if b[3] else ()
                        new.append((s, b[1] + (t,), b[2] + cost[t], need, b[4] + texts[t]))
                beams = new
        paths = [root + b[1] for b in beams]
        todo = [tuple(r[:depth + 1]) for r in rests.values() if depth + 1 <= len(r)]
        if not paths and not todo:
            break
        rows = {q: len(paths) + i for i, q in enumerate(todo)}
        logp = trie.expand(stepper or p.stepper, paths + [root + q for q in todo])   # one batched step for all
    out = {w: math.exp(s - norm) for w, s in finished.items()}
    out.update({w: math.exp(s - norm) for w, s in forced_lp.items()})
    return out
