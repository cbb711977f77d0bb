"""Candidates from an edit-tolerant beam of the character model: words the model is sure of that
no vocabulary may hold (a name, a new word of the session), found despite a slip in the keys typed.

The beam walks the character model from the current word's start, one character per depth. A
hypothesis carries its model log-probability and the noise model's alignment of the keys typed
against its characters (``noise.NoiseModel``'s optimal string alignment, one column per model
character): a model character may be typed as meant or as another key (substitution, by key
distance), not typed at all (a deletion), followed by an extra typed key (an insertion), or swapped
with the one before (a transposition). Hypotheses are ranked by model log-probability plus the best
alignment of the keys typed so far; ``EDIT_WIDTH`` are kept per depth, a correction may run
``EDIT_EXTRA`` characters past the keys typed, a hypothesis the model gives less than ``EDIT_SURE``
stops (the words below it are the vocabulary's to find: the beam is for the words the model is sure
of), and the search stops when no hypothesis can beat the ``EDIT_FOUND``-th word it closed (as
``completion.beam_search`` does). A word closes only where the model puts a boundary at least
``EDIT_END`` likely (no word pieces); a capital only starts a word and an apostrophe only comes in
where the keys typed have one. Model steps go through the session's trie, so the literal search,
the decoder's exact scoring and this beam share them, and typing on re-walks cached nodes. The
decoder (``typos.scored``) rescores what it finds exactly, with every other candidate. The limits
were set on held-out typing (``bench/typos.py --dev``, the train parts' sentences): without
``EDIT_SURE`` a first version "corrected" rare words typed right into likelier-sounding inventions
(psalteries -> pasaletries, Internet -> Internest) and clean words changed rose from 1.4% to 1.6%.
The page runs the same beam (``chargen/browser/typos.js``). Usage (from the decoder):

    edit_candidates(s, "tomorow")               # {"tomorrow": log P_char, ...}: corrections
    edit_candidates(s, "tmorr", prefix=True)    # {"tomorrow": ...}: completions despite the slip
"""
from __future__ import annotations

import math

import numpy as np

from .completion import add_finished, nth_best
from .noise import NoiseModel, spell_keys
from .words import current_word

EDIT_WIDTH = 4         # hypotheses kept per depth
EDIT_EXTRA = 2         # characters a correction may have beyond the keys typed
EDIT_FOUND = 3         # words handed to the decoder
EDIT_SLACK = 12.0      # nats below a clean typing where a hypothesis's alignment is dropped (about two edits)
EDIT_SURE = math.log(1e-4)  # a hypothesis less likely than this to the character model stops, and a word no
                            # vocabulary holds must be this likely (with its boundary): no inventions
EDIT_END = math.log(0.5)   # a word closes where the model puts a boundary at least this likely (no word pieces)


class _Tables:
    """Per predictor: the word tokens the layout types (letters of either case, the apostrophe),
    their key codes and deletion costs."""

    def __init__(self, p, noise: NoiseModel):
        ids, codes = [], []
        for i, (t, word) in enumerate(zip(p.token_texts, p.word_mask)):
            k = t.lower()
            if word and len(t) == 1 and (t.isalpha() or t == "'") and k in noise.index:
                ids.append(i)
                codes.append(noise.index[k])
        self.ids, self.codes = np.array(ids, np.int64), np.array(codes, np.int64)
        self.lower = np.array([p.token_texts[i].lower() for i in ids])
        self.upper = np.array([p.token_texts[i] != p.token_texts[i].lower() for i in ids])
        self.quote = np.array([p.token_texts[i] == "'" for i in ids])
        q = noise.params
        sym = np.array([p.token_texts[i] == "'" for i in ids])
        self.skip = np.where(sym, math.log(q.symbol_deletion), math.log(q.deletion))
        self.skip0 = np.where(sym, math.log(q.symbol_deletion), math.log(q.deletion * q.first_deletion))


def _tables(p, noise: NoiseModel) -> _Tables:
    t = getattr(p, "_edit_tables", None)
    if t is None:
        t = p._edit_tables = _Tables(p, noise)
    return t


def _align(D, Dgp, pc, typed, tab: _Tables, noise: NoiseModel, S, I, first: bool):
    """The alignment columns of every child (K, T, m+1): each hypothesis (its column ``D`` (K, m+1),
    its parent's ``Dgp`` and its last key ``pc``) followed by each token."""
    m = len(typed)
    skip = tab.skip0 if first else tab.skip
    if first:                                  # keys typed before the first character: insertions
        D = np.concatenate([np.zeros((len(tab.ids), 1)), np.cumsum(I, 1)], 1)[None]   # (1, T, m+1)
    else:
        D = D[:, None, :]
    child = D + skip[None, :, None]                                              # a model character not typed
    child[..., 1:] = np.maximum(child[..., 1:], D[..., :-1] + S[None])           # typed as meant, or another key
    if Dgp is not None and m >= 2:                                               # two keys swapped
        swap = ((pc[:, None, None] == typed[None, None, 1:]) & (tab.codes[None, :, None] == typed[None, None, :-1])
                & (tab.codes[None, :, None] != pc[:, None, None]))
        child[..., 2:] = np.where(swap, np.maximum(child[..., 2:], Dgp[:, None, :-2] + math.log(noise.params.transposition)),
                                  child[..., 2:])
    for i in range(1, m + 1):                                                    # an extra key typed
        child[..., i] = np.maximum(child[..., i], child[..., i - 1] + I[None, :, i - 1])
    return child


def edit_candidates(s, typed: str, prefix: bool = False, floor: float = -math.inf, known=None) -> dict[str, float]:
    """Up to ``EDIT_FOUND`` words (as shown) the keys ``typed`` may have been meant for (``prefix``:
    words they may be the start of, less those extending them as typed), each with its log P_char
    from the word's start (then a boundary). Empty where the beam does not apply (a subword or
    Korean model, the word's start no longer cached, a key off the layout). ``floor``: leave out
    words whose log P_char plus log P(keys | word) is below it (hypotheses stop as soon as they cannot
    reach it: the bound is exact, since every step only lowers both). ``known``: a test of whether a
    vocabulary holds a word; one that none holds is kept only if its log P_char is ``EDIT_SURE`` or more."""
    p = s.p
    noise = NoiseModel.for_script(p.korean)
    keys = spell_keys(typed, p.korean)
    st = s._states.get(len(s.ids) - len(s._word_ids(current_word(s.text))))
    if p.korean or p.subword is not None or s.remainder or st is None or not keys or any(k not in noise.index for k in keys):
        return {}
    tab, m = _tables(p, noise), len(keys)
    t = np.array([noise.index[k] for k in keys], np.int64)
    S = noise.sub[tab.codes][:, t].astype(np.float64)                            # (T, m) log P(typed i | token)
    I = noise.ins[tab.codes][:, t].astype(np.float64)                            # (T, m) an extra key i after it
    match = float(noise.sub[0, 0])
    rest = (m - np.arange(m + 1)) * match                                        # the keys not yet aligned, typed clean
    bar = noise.clean_logp(m) - EDIT_SLACK
    root = s._trie.root(st, [], st[0], st[1])
    low = typed.lower()
    caps, quote = typed[1:] != typed[1:].lower(), "'" in typed     # unless typed so
    # the beam: model log-probs (K,), alignment columns (K, m+1) and their parents', last keys, best
    # full alignment over the prefixes (completions), paths and texts
    lp, D, Dgp, pc, done = np.zeros(1), None, None, np.full(1, -1), np.full(1, -np.inf)
    first_ok = tab.upper if typed[:1].isupper() else np.ones(len(tab.ids), bool)     # a capital typed is meant
    paths, texts = [()], [""]
    logp = s._trie.nodes[root][1][None]
    finished: dict[str, float] = {}
    fit: dict[str, float] = {}
    cap = p.max_word_len if prefix else m + EDIT_EXTRA
    for depth in range(cap + 1):
        if depth > 0:                                                            # close each with a boundary
            end = np.log(np.exp(logp[:, p.boundary_ids].astype(np.float64)).sum(1))      # log P(a boundary)
            closed, align = lp + end, done if prefix else D[:, m]
            for k, w in enumerate(texts):
                if align[k] <= bar or closed[k] + align[k] < floor or end[k] < EDIT_END or w.endswith("'") \
                        or (prefix and w.lower().startswith(low)):
                    continue
                w = p.shown(w)
                if closed[k] >= EDIT_SURE or (known is not None and known(w)):
                    add_finished(finished, w, float(closed[k]))
                    fit[w] = max(fit.get(w, -math.inf), float(closed[k] + align[k]))
        if depth == cap:
            break
        child = _align(D, Dgp, pc, t, tab, noise, S, I, depth == 0)             # (K, T, m+1)
        cont = lp[:, None] + logp[:, tab.ids].astype(np.float64)                 # (K, T)
        if depth and not caps:                                                   # a capital starts a word only
            cont[:, tab.upper] = -np.inf
        elif not depth:
            cont[:, ~first_ok] = -np.inf
        if not quote:
            cont[:, tab.quote] = -np.inf
        best = (child + rest).max(-1)
        if prefix:
            best = np.maximum(best, done[:, None])
            for k, w in enumerate(texts):                                        # typed as is: the literal search's
                if len(w) == m - 1 and w.lower() == low[:-1]:
                    best[k, tab.lower == low[-1]] = -np.inf
        h = np.where((best > bar) & (cont >= EDIT_SURE), cont + best, -np.inf).ravel()   # no word below EDIT_SURE
        order = np.argsort(-h, kind="stable")[:EDIT_WIDTH]
        nth = max(nth_best(fit.values(), EDIT_FOUND), floor)
        order = [j for j in order.tolist() if h[j] > nth]
        if not order:
            break
        T = len(tab.ids)
        ks, cs = [j // T for j in order], [j % T for j in order]
        Dgp = D[ks] if depth else np.concatenate([np.zeros((len(cs), 1)), np.cumsum(I[cs], 1)], 1)
        D = child[ks, cs]
        done = np.maximum(done[ks], D[:, m])
        lp, pc = cont[ks, cs], tab.codes[cs]
        paths = [paths[k] + (int(tab.ids[c]),) for k, c in zip(ks, cs)]
        texts = [texts[k] + p.token_texts[tab.ids[c]] for k, c in zip(ks, cs)]
        logp = s._trie.expand(s.stepper, [root + q for q in paths])
    ranked = sorted(fit, key=lambda w: (-fit[w], w))[:EDIT_FOUND]
    return {w: finished[w] for w in ranked}
