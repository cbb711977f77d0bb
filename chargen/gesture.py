"""Gesture typing: a finger drawn across the on-screen keyboard through a word's letters, decoded to
the words it may be, each scored  log P(gesture | word) + PRIOR_WEIGHT · log P(word | context).

P(gesture | word) is template matching after SHARK2 (Kristensson and Zhai, UIST 2004): the gesture
(lone glitch points dropped) and each candidate's ideal path (the centres of the keys that type it, a
double letter one key, a one-key word a point) are resampled to ``N`` equidistant points and compared
in five channels, each a mean squared distance in key units weighted by ``WEIGHTS``: the shape (both
paths centred and scaled to a unit box, point by point) and the location (point by point), as SHARK2;
each of the word's keys to the gesture; each gesture point to the path; and the two ends.
P(word | context) is the keyboard's own mixture, exactly as the typo decoder scores a word (``typos.word_side``
+ ``typos.char_probs``: n-grams, session and user words, the character model; unknown words pay UNKNOWN_PENALTY).

Candidates: the vocabulary's words whose first and last keys lie near the gesture's first and last
points and whose path is not far shorter or longer than the gesture, the session's and lexicon's own
words, and the character model's beam held to the keys the gesture passes (``gesture_beam``: names,
new words). Coordinates are read in key units (each axis divided by the layout's median key size),
so any keyboard geometry decodes alike. Korean: the two-set layout's jamo keys (``noise.spell_keys``:
compound vowels as two keys). ``shark2`` is the baseline: the same matching with word frequency only.

    resolve(session, [(x0, y0), (x1, y1), ...], n=3)            # [("hello", 0.93), ("hell", 0.04), ...]
    resolve(session, points, 3, layout={"q": (0, 0, 32, 72), ...}); shark2(predictor, points, 3)
"""
from __future__ import annotations

import threading

import numpy as np

from .blend import cased
from .keys import KOREAN_ROWS, LATIN_ROWS
from .noise import spell_keys
from .gesture_beam import path_candidates
from .typos import UNKNOWN_PENALTY, char_probs, knower, weights, word_side
from .vocab import Vocabulary
from .words import current_word, sentence_start

N = 32                    # points a gesture and a template are resampled to
MAX_POINTS = 20000        # a longer gesture is refused (a touch screen samples ~100 points a second)
NEAR = 1.25               # key units: a word's first/last key lies this near the gesture's first/last point
# channel weights (nats per squared key unit), chosen on dev gestures: kebbie's, on the train parts of four
# English corpora (bench/gestures.py --dev --tune); the baseline's on the same gestures
WEIGHTS = (45.0, 31.0, 16.0, 2.8, 45.0)   # shape, location, keys, coverage, ends
PRE = 96                  # candidates given the two costlier channels (the rest: shape and location)
ROUGH = 48                # candidates given the word statistics' score (the rest: frequency only)
SCORED = 12               # candidates the character model scores (batched steps)
SPIKE = 1.5              # key units: a lone point this far from both its neighbours is a glitch
SHARK2_WEIGHTS, SHARK2_PRIOR = (32.0, 45.0, 90.0, 2.0, 1.4), 2.0   # the baseline's, tuned the same way
PRIOR_WEIGHT = 1.0        # the language model's weight against the gesture's


def default_layout(korean: bool = False) -> dict[str, tuple[float, float, float, float]]:
    """The app's own keyboard (``keys.LATIN_ROWS`` / ``KOREAN_ROWS``, rows centred as drawn) as
    char -> (left, top, right, bottom) in key units; the shifted Korean keys where the page draws them."""
    rows = KOREAN_ROWS if korean else LATIN_ROWS
    width = max(len(r) for r in rows)
    out = {}
    for y, row in enumerate(rows):
        for x, k in enumerate(row):
            left = (width - len(row)) / 2 + x
            out.setdefault(k, (left, float(y), left + 1.0, y + 1.0))
    return out


def _points(points) -> np.ndarray:
    """The gesture as an (M, 2) float array, or a ValueError that says what is wrong with it."""
    try:
        g = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"a gesture is a list of [x, y] points ({e})") from None
    if g.ndim != 2 or g.shape[1] != 2:
        raise ValueError(f"a gesture is a list of [x, y] points, not an array of shape {g.shape}")
    if not len(g):
        raise ValueError("a gesture needs at least one point")
    if len(g) > MAX_POINTS:
        raise ValueError(f"a gesture of {len(g)} points is over the limit of {MAX_POINTS}")
    if not np.isfinite(g).all():
        raise ValueError("a gesture's points must be finite numbers (no NaN or infinity)")
    return g


def despike(g: np.ndarray) -> np.ndarray:
    """The gesture without lone stray points: in a densely sampled trace (a median step of a key at most,
    as a touch screen's), a point over ``SPIKE`` key units from both neighbours that lie within 3/4 of
    a key of each other is a glitch (kebbie's generator makes one where two taps fall close, as on a
    double letter), not a key the finger went to. A sparse trace (a few corners) is left as it is."""
    for _ in range(2):
        a = np.hypot(*(g[1:-1] - g[:-2]).T)
        if len(g) < 4 or np.median(a) > 1.0:
            return g
        b, c = np.hypot(*(g[2:] - g[1:-1]).T), np.hypot(*(g[2:] - g[:-2]).T)
        bad = (np.minimum(a, b) > SPIKE) & (c < 0.75)
        if not bad.any():
            return g
        g = np.concatenate([g[:1], g[1:-1][~bad], g[-1:]])
    return g


def resample(path: np.ndarray, n: int = N) -> np.ndarray:
    """``n`` points equally spaced along the polyline ``path`` (M, 2); a point stays a point."""
    seg = np.diff(path, axis=0)
    d = np.hypot(seg[:, 0], seg[:, 1])
    cum = np.concatenate([[0.0], np.cumsum(d)])
    if cum[-1] <= 1e-9:
        return np.repeat(path[:1], n, 0)
    t = np.linspace(0.0, cum[-1], n)
    i = np.clip(np.searchsorted(cum, t, "right") - 1, 0, len(d) - 1)
    frac = (t - cum[i]) / np.maximum(d[i], 1e-12)
    return path[i] + frac[:, None] * seg[i]


def resample_many(keys: np.ndarray, mask: np.ndarray, n: int = N) -> tuple[np.ndarray, np.ndarray]:
    """``resample`` of many polylines at once: (C, K, 2) vertices padded past ``mask`` (C, K) ->
    ((C, n, 2) points, (C,) lengths); a polyline of one vertex stays a point."""
    k = mask.sum(1).astype(np.int64)
    last = np.take_along_axis(keys, np.maximum(k - 1, 0)[:, None, None].repeat(2, 2), 1)
    keys = np.where(mask[..., None] > 0, keys, last)                              # pad with the last vertex
    seg = np.diff(keys, axis=1)                                                   # (C, K-1, 2)
    d = np.hypot(seg[..., 0], seg[..., 1])
    cum = np.concatenate([np.zeros((len(keys), 1)), np.cumsum(d, 1)], 1)          # (C, K)
    total = cum[:, -1]
    t = np.linspace(0.0, 1.0, n)[None] * total[:, None]                           # (C, n)
    i = np.clip((cum[:, None, :] <= t[:, :, None] + 1e-12).sum(-1) - 1, 0, max(seg.shape[1] - 1, 0))
    if not seg.shape[1]:
        return np.repeat(keys[:, :1], n, 1), total
    di = np.take_along_axis(d, i, 1)
    frac = np.where(di > 1e-12, (t - np.take_along_axis(cum, i, 1)) / np.maximum(di, 1e-12), 0.0)
    start = np.take_along_axis(keys, i[..., None].repeat(2, 2), 1)
    step = np.take_along_axis(seg, i[..., None].repeat(2, 2), 1)
    return start + np.clip(frac, 0.0, 1.0)[..., None] * step, total


def _shape(paths: np.ndarray) -> np.ndarray:
    """(..., N, 2) paths centred on their centroid, scaled so the larger side of the box is 1."""
    c = paths - paths.mean(-2, keepdims=True)
    side = (paths.max(-2) - paths.min(-2)).max(-1)
    return c / np.maximum(side, 1e-6)[..., None, None]


class Templates:
    """A layout's geometry in key units and the vocabulary's ideal paths on it (built once per
    predictor and layout)."""

    def __init__(self, layout: dict, korean: bool, words: list[str], counts, stats=None):
        boxes = {k: tuple(map(float, b)) for k, b in layout.items() if len(k) == 1}
        if not boxes:
            raise ValueError("a layout maps each key's character to its box (left, top, right, bottom)")
        sizes = np.array([(b[2] - b[0], b[3] - b[1]) for b in boxes.values()])
        if (sizes <= 0).any() or not np.isfinite(sizes).all():
            raise ValueError("a layout's boxes need right > left and bottom > top")
        self.unit = np.median(sizes, 0)                                          # (2,): one key
        self.centre = {k.lower(): ((b[0] + b[2]) / 2 / self.unit[0], (b[1] + b[3]) / 2 / self.unit[1])
                       for k, b in boxes.items()}
        self.korean = korean
        self.words, self.keyxy = [], []
        self.counts, self.stat = [], []
        for w, c, k in zip(words, counts, stats or [None] * len(words)):
            self.add(w, c, k)
        self.finish()

    def path(self, word: str) -> np.ndarray | None:
        """The word's key centres in order (a double letter once), or None if a key is off the layout."""
        keys = [k for k in spell_keys(word, self.korean) if k.isalnum() or k in self.centre]
        if not keys or any(k not in self.centre for k in keys):
            return None
        keys = [k for i, k in enumerate(keys) if i == 0 or k != keys[i - 1]]
        return np.array([self.centre[k] for k in keys])

    def add(self, word: str, count: float, stat: str | None = None) -> None:
        xy = self.path(word)
        if xy is None:
            return
        self.words.append(word)
        self.keyxy.append(xy)
        self.counts.append(count)
        self.stat.append(stat)

    def finish(self) -> None:
        kmax = max((len(k) for k in self.keyxy), default=1)
        self.keys = np.zeros((len(self.keyxy), kmax, 2))
        self.key_mask = np.zeros((len(self.keyxy), kmax))
        for i, k in enumerate(self.keyxy):
            self.keys[i, :len(k)], self.key_mask[i, :len(k)] = k, 1.0
        self.loc, self.length_arr = resample_many(self.keys, self.key_mask)
        self.shape = _shape(self.loc)
        self.first, self.last = self.loc[:, 0], self.loc[:, -1]
        total = float(sum(self.counts)) or 1.0
        self.logfreq = np.log(np.maximum(np.array(self.counts, dtype=np.float64), 0.5) / total)
        self.index = {w: i for i, w in enumerate(self.words)}


_lock = threading.Lock()


def templates(p, layout: dict | None = None) -> Templates:
    """The predictor's vocabulary on ``layout`` (default: the app's keyboard), kept on the predictor."""
    layout = default_layout(p.korean) if layout is None else layout
    try:
        sig = tuple(sorted((str(k), tuple(float(x) for x in b)) for k, b in layout.items()))
    except (AttributeError, TypeError, ValueError):
        raise ValueError("a layout maps each key's character to its box [left, top, right, bottom]") from None
    if any(len(b) != 4 for _, b in sig):
        raise ValueError("a layout maps each key's character to its box [left, top, right, bottom]")
    layout = dict(sig)
    memo = p.__dict__.setdefault("_gesture_templates", {})
    t = memo.get(sig)
    if t is None:
        with _lock:
            v = Vocabulary.of(p)
            t = memo.get(sig) or Templates(layout, p.korean, v.shown, v.counts.tolist(), v.stat_keys)
            if len(memo) > 8:
                memo.clear()
            memo[sig] = t
    return t


def channels(t: Templates, g: np.ndarray, idx: np.ndarray, w=WEIGHTS, keep: int = PRE) -> tuple[np.ndarray, np.ndarray]:
    """Mean squared distances (key units) of the templates ``idx`` to the gesture ``g``: shape (point by
    point, both normalised), location (point by point), each of the word's keys to its nearest
    gesture point, each gesture point to its nearest template point, and the two ends (where the
    finger lands and lifts: the surest points). All but the first two only for the ``keep`` best by
    those two and frequency: returns (those indices, their (C, 5) channels)."""
    ds = ((t.shape[idx] - _shape(g)) ** 2).sum(-1).mean(-1)
    dl = ((t.loc[idx] - g) ** 2).sum(-1).mean(-1)
    if len(idx) > keep:
        best = np.argpartition(w[0] * ds + w[1] * dl - t.logfreq[idx], keep)[:keep]
        idx, ds, dl = idx[best], ds[best], dl[best]
    loc = t.loc[idx]
    keys, mask = t.keys[idx], t.key_mask[idx]
    near = ((keys[:, :, None, :] - g[None, None]) ** 2).sum(-1).min(-1)         # (C, K)
    dk = (near * mask).sum(-1) / mask.sum(-1)
    dc = ((loc[:, None, :, :] - g[None, :, None, :]) ** 2).sum(-1).min(-1).mean(-1)   # (C,)
    de = ((loc[:, 0] - g[0]) ** 2).sum(-1) + ((loc[:, -1] - g[-1]) ** 2).sum(-1)
    return idx, np.stack([ds, dl, dk, dc, de], 1)


def fit(t: Templates, g: np.ndarray, idx: np.ndarray, w=WEIGHTS, keep: int = PRE) -> tuple[np.ndarray, np.ndarray]:
    """log P(gesture | word) up to a constant, minus the channels' weighted sum: (indices, fits)."""
    if not len(idx):
        return idx, np.zeros(0)
    idx, ch = channels(t, g, idx, w, keep)
    return idx, -(ch @ np.asarray(w, dtype=np.float64))


def candidates(t: Templates, g: np.ndarray) -> np.ndarray:
    """Indices of the words whose first and last keys lie near the gesture's ends and whose path
    is not far from the gesture's length."""
    if not len(t.words):
        return np.zeros(0, np.int64)
    d0 = np.hypot(*(t.first - g[0]).T)
    d1 = np.hypot(*(t.last - g[-1]).T)
    glen = float(np.hypot(*np.diff(g, axis=0).T).sum())
    ok = (d0 <= NEAR) & (d1 <= NEAR) & (t.length_arr <= glen * 1.2 + 1.5) & (t.length_arr >= glen * 0.4 - 1.5)
    return np.flatnonzero(ok)


def shark2(p, points, n: int = 3, layout: dict | None = None, w=SHARK2_WEIGHTS,
           prior_weight: float = SHARK2_PRIOR) -> list[tuple[str, float]]:
    """The SHARK2 baseline: the same candidates and matching, with the word's frequency in the
    vocabulary as its only prior (no context)."""
    t = templates(p, layout)
    g = resample(despike(_points(points) / t.unit))
    idx = candidates(t, g)
    if not len(idx):
        return []
    idx, f = fit(t, g, idx, w)
    return _ranked([t.words[i] for i in idx], f + prior_weight * t.logfreq[idx], n)


def _ranked(words: list[str], score: np.ndarray, n: int) -> list[tuple[str, float]]:
    prob = np.exp(score - score.max())     # the n best; spellings differing in case are one word
    prob /= prob.sum()
    best: dict = {}
    for i in sorted(range(len(words)), key=lambda i: (-score[i], words[i])):
        shown, p = best.get(words[i].lower(), (words[i], 0.0))
        best[words[i].lower()] = (shown, p + float(prob[i]))
    return list(best.values())[:n]


def _own_words(s, t: Templates) -> list[str]:
    """The session's and the user's lexicon's own words that the vocabulary lacks (at most 256)."""
    own = set(s._words.update(s.text).unigrams)
    lex = s._words.lexicon()
    if lex:
        own |= set(lex.words)
    return [w for w in (s.p.shown(k) for k in sorted(own)) if w not in t.index][:256]


def pool(s, t: Templates, raw: np.ndarray, beam: bool = True, w=WEIGHTS, keep: int = PRE):
    """The candidates for the gesture ``raw`` (key units, despiked): words, their channels (C, 5),
    log frequency in the vocabulary (words it lacks: -1000) and the beam's finds {word: log P_char}."""
    g = resample(raw)
    idx = candidates(t, g)
    idx, ch = channels(t, g, idx, w, keep) if len(idx) else (idx, np.zeros((0, 5)))
    words = [t.words[i] for i in idx]
    found = path_candidates(s, resample(raw, 2 * N), t.centre, knower(s)) if beam and weights(s)[0] else {}
    more = [x for x in dict.fromkeys(_own_words(s, t) + [x for x in found if x not in t.index]) if x not in words]
    if more:
        ext = Templates.__new__(Templates)
        ext.__dict__.update(unit=t.unit, centre=t.centre, korean=t.korean, words=[], keyxy=[], counts=[], stat=[])
        for x in more:
            ext.add(x, 1)
        if ext.words:
            ext.finish()
            near = candidates(ext, g)
            if len(near):
                near, more_ch = channels(ext, g, near, w, len(near))
                words, ch = words + [ext.words[i] for i in near], np.concatenate([ch, more_ch])
    freq = np.array([t.logfreq[t.index[x]] if x in t.index else -1e3 for x in words])
    return words, ch, freq, found


def priors(s, t: Templates, words: list[str], found: dict, exact: list[int]) -> np.ndarray:
    """log P(word | context) from the keyboard's mixture (``typos.word_side`` + the character model,
    the latter for the words ``exact`` only), a word nothing knows paying ``typos.UNKNOWN_PENALTY``."""
    stat = [t.stat[t.index[x]] if x in t.index else None for x in words]
    side = word_side(s, words, stat)
    is_known = knower(s)
    unknown = np.array([0.0 if x in t.index or is_known(x) else UNKNOWN_PENALTY for x in words])
    w_char = weights(s)[0]
    if w_char and exact:
        side = side.copy()
        side[exact] += w_char * char_probs(s, [words[i] for i in exact])
    return np.log(side + 1e-12) + unknown


def resolve(s, points, n: int = 3, layout: dict | None = None, w=WEIGHTS, prior_weight: float = PRIOR_WEIGHT,
            beam: bool = True, case: bool = True) -> list[tuple[str, float]]:
    """The ``n`` likeliest words the gesture ``points`` draws after the session's text (a word
    typed up to the end of the text is left alone: the gesture is the next word), with their
    probabilities over the candidates scored. ``layout``: char -> (left, top, right, bottom) in
    the points' coordinates (default: the app's keyboard in key units). ``beam``: candidates from
    the character model held to the gesture's keys too (``gesture_beam``: names, new words).
    ``case``: a word starting a sentence capitalised, as the keyboard would write it."""
    t = templates(s.p, layout)
    raw = despike(_points(points) / t.unit)
    if current_word(s.text):
        s = s.fork().type(" ")
    words, ch, freq, found = pool(s, t, raw, beam, w)
    if not words:
        return []
    gfit = -(ch @ np.asarray(w, dtype=np.float64))
    rough = np.argsort(-(gfit + prior_weight * freq), kind="stable")[:ROUGH].tolist()
    rough += [i for i, x in enumerate(words) if x not in t.index and i not in rough]
    words, gfit = [words[i] for i in rough], gfit[rough]
    side = priors(s, t, words, found, [])
    top = np.argsort(-(gfit + prior_weight * side), kind="stable")[:SCORED].tolist()
    top += [i for i, x in enumerate(words) if x in found and i not in top]
    score = gfit + prior_weight * priors(s, t, words, found, top)
    starts = case and sentence_start(s.text)
    return [(cased(x, "", starts), q) for x, q in _ranked(words, score, n)]
