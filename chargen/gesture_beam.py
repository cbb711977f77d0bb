"""Gesture candidates from the character model: a beam over the model's characters held to the keys a
gesture passes, so a word no vocabulary holds (a name, a new word) can be swiped.

A hypothesis is a word's start with the model's log-probability and a place on the gesture (an index
into its resampled points). A character may follow only if its key lies within ``NEAR`` key units of
the gesture at or after that place, and the gesture between the two keys stays within ``BEND`` of the
straight line joining them (no corner of the gesture skipped); its place is then the point nearest its
key. A word closes where its last key lies near the gesture's end and the model puts a boundary after
it. Hypotheses are ranked by the model's log-probability less ``FIT`` times each key's squared distance
to its place (a word the model finds unlikely but the gesture draws well is kept); steps go through the session's trie (shared
with the completion search and the typo decoder). The gesture decoder (``chargen.gesture``) scores
what it finds with every other candidate. A jamo model walks jamo: a compound vowel or a final
cluster is two keys in a row (ㅘ = ㅗ then ㅏ, as the two-set keyboard types it). Usage (from the decoder):

    path_candidates(s, g, centre)     # {"Knightley": log P_char, ...}; g: (M, 2) in key units
"""
from __future__ import annotations

import math

import numpy as np

from .completion import add_finished, nth_best
from .keys import char_keys
from .words import current_word

WIDTH = 16             # hypotheses kept per depth
FOUND = 6              # words handed to the decoder
MAX_LEN = 16           # characters a word may have
NEAR = 1.0             # key units: a key this near the gesture is passed
BEND = 1.0             # key units: the gesture between two keys keeps this near their line
SURE = math.log(1e-30)  # the least P_char of a word the beam hands over (the decoder weighs the rest)
END = math.log(0.1)    # a word closes where the model puts a boundary at least this likely
FIT = 10.0             # nats per squared key unit between a key and the gesture point it is placed at


def _tokens(p, centre: dict):
    """The model's one-character word tokens whose keys are on the layout: ids, their first and
    second keys (-1: none; a Korean compound vowel or final cluster is two keys), capitals, and the
    keys' centres (K, 2)."""
    keys: dict[str, int] = {}
    ids, first, second, upper = [], [], [], []
    for i, (t, word) in enumerate(zip(p.token_texts, p.word_mask)):
        if not (word and len(t) == 1 and t.isalpha()):
            continue
        ks = char_keys(t) if p.korean else (t.lower(),)
        if not ks or len(ks) > 2 or any(k not in centre for k in ks):
            continue
        codes = [keys.setdefault(k, len(keys)) for k in ks]
        ids.append(i)
        first.append(codes[0])
        second.append(codes[1] if len(codes) > 1 else -1)
        upper.append(t != t.lower())
    xy = np.array([centre[k] for k in keys], np.float64).reshape(-1, 2)
    return np.array(ids, np.int64), np.array(first, np.int64), np.array(second, np.int64), np.array(upper, bool), xy


def _bent(g: np.ndarray, a, b, i: int, j: int) -> bool:
    """Whether the gesture's points i..j stray more than BEND from the segment a-b."""
    pts = g[i:j + 1]
    ab = np.subtract(b, a)
    den = float(ab @ ab)
    t = np.clip(((pts - a) @ ab) / den, 0.0, 1.0) if den > 1e-12 else np.zeros(len(pts))
    d = pts - (np.asarray(a) + t[:, None] * ab)
    return bool(((d ** 2).sum(1) > BEND ** 2).any())


def _next_place(D: np.ndarray) -> np.ndarray:
    """(T, M) distances -> (T, M): from place i, the place a key reaches (the first point at or after
    i within NEAR of it, then on while the gesture comes nearer), or -1 where it never comes near."""
    T, M = D.shape
    first = np.full((T, M), -1, np.int64)
    dip = np.empty((T, M), np.int64)
    nxt, dip[:, M - 1] = np.full(T, -1, np.int64), M - 1
    for i in range(M - 1, -1, -1):
        nxt = np.where(D[:, i] <= NEAR, i, nxt)
        first[:, i] = nxt
        if i < M - 1:
            dip[:, i] = np.where(D[:, i + 1] < D[:, i], dip[:, i + 1], i)
    return np.where(first >= 0, np.take_along_axis(dip, np.maximum(first, 0), 1), -1)


def _steps(place, D, F, S, at):
    """Where each token takes each hypothesis (K, T) (-1: it cannot), the place after its first key,
    and the squared distances of its keys to their places."""
    h1 = place[F][:, at].T                                                       # (K, T)
    h2 = np.where(S[None] >= 0, place[np.maximum(S, 0)[None], np.maximum(h1, 0)], h1)
    here = np.where((h1 >= 0) & (h2 >= 0), h2, -1)
    near = D[F[None], np.maximum(h1, 0)] ** 2 + np.where(S[None] >= 0, D[np.maximum(S, 0)[None], np.maximum(h2, 0)] ** 2, 0.0)
    return here, h1, near


def path_candidates(s, g: np.ndarray, centre: dict, known=None) -> dict[str, float]:
    """Up to ``FOUND`` words (as shown) the gesture ``g`` (M, 2 key units) may draw, each with its
    log P_char from the word's start (then a boundary); empty where the beam does not apply (a
    subword model, the word's start no longer cached, a word being typed)."""
    p = s.p
    st = s._states.get(len(s.ids) - len(s._word_ids(current_word(s.text))))
    if p.subword is not None or s.remainder or st is None or current_word(s.text):
        return {}
    memo = p.__dict__.get("_gesture_tokens")
    if memo is None or memo[0] is not centre:
        memo = p.__dict__["_gesture_tokens"] = (centre, _tokens(p, centre))
    ids, F, S, upper, xy = memo[1]
    if not len(ids):
        return {}
    D = np.sqrt(((xy[:, None, :] - g[None]) ** 2).sum(-1))                       # (keys, M)
    place = _next_place(D)
    M = len(g)
    root = s._trie.root(st, [], st[0], st[1])
    paths, texts, lp, at, last, fits, rep = [()], [""], np.zeros(1), [0], [-1], np.zeros(1), [0]
    logp = s._trie.nodes[root][1][None]
    finished: dict[str, float] = {}
    rank: dict[str, float] = {}
    for depth in range(MAX_LEN + 1):
        if depth:
            ends = logp[:, p.boundary_ids]
            top = ends.max(1)
            close = top + np.log(np.exp(ends - top[:, None]).sum(1))
            for k, w in enumerate(texts):
                if close[k] >= END and D[last[k], M - 1] <= NEAR and not _bent(g, xy[last[k]], g[-1], at[k], M - 1):
                    w = p.shown(w)
                    if lp[k] + close[k] >= SURE or (known and known(w)):
                        add_finished(finished, w, float(lp[k] + close[k]))
                        rank[w] = max(rank.get(w, -math.inf), float(lp[k] + close[k] + fits[k]))
        if depth == MAX_LEN:
            break
        cont = lp[:, None] + logp[:, ids]                                        # (K, T)
        if depth:
            cont[:, upper] = -np.inf                                             # a capital starts a word only
            here, h1, near = _steps(place, D, F, S, np.array(at))
        else:                                                                    # the first key at the start
            here, h1, near = _steps(place, D, F, S, np.zeros(1, np.int64))
            here = np.where(D[F, 0][None] <= NEAR, here, -1)
        score = np.where(here >= 0, cont + fits[:, None] - FIT * near, -np.inf)
        bar = nth_best(rank.values(), FOUND)
        chosen = []
        for j in np.argsort(-score, axis=None, kind="stable").tolist():
            k, c = divmod(j, len(ids))
            if score[k, c] <= bar or len(chosen) >= WIDTH:
                break
            if depth and (_bent(g, xy[last[k]], xy[F[c]], at[k], h1[k, c]) or (F[c] == last[k] and rep[k] >= 2)):
                continue                                                         # (no key three times running)
            if S[c] >= 0 and _bent(g, xy[F[c]], xy[S[c]], h1[k, c], here[k, c]):
                continue
            chosen.append((k, c, int(here[k, c])))
        if not chosen:
            break
        paths = [paths[k] + (int(ids[c]),) for k, c, _ in chosen]
        texts = [texts[k] + p.token_texts[ids[c]] for k, c, _ in chosen]
        lp = np.array([cont[k, c] for k, c, _ in chosen])
        fits = np.array([fits[k] - FIT * near[k, c] for k, c, _ in chosen])
        rep = [rep[k] + 1 if F[c] == last[k] and S[c] < 0 else 1 for k, c, _ in chosen]
        at, last = [h for *_, h in chosen], [int(S[c] if S[c] >= 0 else F[c]) for _, c, _ in chosen]
        logp = s._trie.expand(s.stepper, [root + q for q in paths])
    return {w: finished[w] for w in sorted(rank, key=lambda w: -rank[w])[:FOUND]}
