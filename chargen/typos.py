"""The typo-tolerant decoder of the word being typed: one ranked list of the words the user may
mean, each scored  log P(word | context) + log P(keys typed | word).

P(word | context) is the keyboard's mixture (the character model from the word's start, the
n-grams, the session's own words and the user's lexicon); P(keys typed | word) is the typing noise
model (``chargen.noise``). Candidates: the known vocabulary within two edits of the keys typed
(a symmetric-delete index, ``chargen.vocab``), the session's and the lexicon's words, the word as
typed, and the words of the character model's edit-tolerant beam (``chargen.edit_beam``: a name or
new word the model is sure of, found despite a slip); for completions, the words extending any
prefix one edit from the keys typed, and the beam's completions. A word no vocabulary, session
or lexicon holds pays ``UNKNOWN_PENALTY`` (the character model invents words: "tomorowless"), and a
piece ending in an apostrophe is no word. Usage (from a session):

    corrections(s, 3)      # [("tomorrow", 0.97), ("tomorow", 0.02), ...] for "see you tomorow"
    autocorrection(s)      # "tomorrow", or None to keep the word as typed
"""
from __future__ import annotations

import math
import re

import numpy as np

from .blend import candidates, cased
from .completion import word_logprobs
from .edit_beam import edit_candidates
from .ngram import NgramModel, fold
from .noise import NoiseModel, case_logp, spell_keys
from .session_words import cache_share, own_prob
from .vocab import Vocabulary
from .words import current_word, is_word_char, previous_word, previous_words, sentence_start

UNKNOWN_PENALTY = math.log(0.02)   # a word no vocabulary holds (chosen on held-out typing, see README)
# nats the best correction must beat the word as typed by, and the unknown-word penalty: chosen on
# held-out typing (kebbie's noise on sentences of the four English corpora's train parts,
# bench/typos.py --dev), never on the evaluation text: see README "Typos"
MARGINS = {"modest": 6.0, "aggressive": 3.0}
LEVELS = ("off", "modest", "aggressive")
SCORED = 8                         # candidates the character model scores exactly (batched steps)
POOL = 48                          # candidates drawn before scoring
MAX_WORD = 24                      # longer "words" (a pasted blob) are taken as typed
COMPETE = 3.0                      # nats below the best literal completion where a correction cannot compete
MIN_TYPED = 2                      # letters typed before completions tolerate a slip (2 chosen on held-out typing: 3 gave 0.356, 2 0.449)
EXTENDING = 6                      # words drawn per prefix one slip from the keys typed (completions)
EDIT_BEAM = True                   # candidates from the character model's edit-tolerant beam too (chargen.edit_beam;
                                   # a predictor's ``edit_beam`` attribute overrides it)
_NOT_WORDLIKE = re.compile(r"\d|@|://|^www\.", re.I)


def noise_of(p) -> NoiseModel:
    return NoiseModel.for_script(p.korean)


def weights(s) -> tuple[float, float, float]:
    """(char, n-gram, own words) shares of a whole word's probability in this session."""
    p = s.p
    if isinstance(p.words, NgramModel):
        return tuple(s._words.shares(p))
    if p.words is None:
        return 1.0, 0.0, 0.0
    cache = s._words.cache
    mix = cache_share(s._words.weight, len(cache.words)) if cache is not None and p.cache else 0.0
    return p.blend, (1 - p.blend) * (1 - mix), (1 - p.blend) * mix


def word_side(s, shown: list[str], stat_keys: list[str | None]) -> np.ndarray:
    """P(word | previous words) from the n-grams (or version-1 bigrams) and the session's own
    words, weighted as the session's mixture weighs them (the character part apart)."""
    p = s.p
    _, w_stats, w_own = weights(s)
    cache = s._words.update(s.text)
    lex = s._words.lexicon()
    before = previous_word(s.text)
    prev = p.word_key(before) if before else None
    if isinstance(p.words, NgramModel):
        u, v = (fold(p.word_key(w)) if w else None for w in previous_words(s.text))
        stat = [p.words.prob(u, v, fold(k)) if k is not None else 0.0 for k in stat_keys]
    elif p.words is not None:
        stat = [p.words.prob(prev, k) if k is not None else 0.0 for k in stat_keys]
    else:
        stat = [0.0] * len(shown)
    own = [own_prob(cache, lex, prev, p.word_key(w)) for w in shown]
    return w_stats * np.array(stat) + w_own * np.array(own)


def char_probs(s, shown: list[str]) -> np.ndarray:
    """P_char of each whole word from the current word's start (its tokens, then a boundary), walked
    in batched steps on the session's trie; zeros where the start's state is no longer cached or
    the model is a subword one."""
    p = s.p
    st = s._states.get(len(s.ids) - len(s._word_ids(current_word(s.text))))
    if p.subword is not None or s.remainder or st is None or not shown:
        return np.zeros(len(shown))
    root = s._trie.root(st, [], st[0], st[1])          # the word's start (kept if the trie is this word's)
    lp = word_logprobs(p, s._trie, root, {w: p.tokenizer.encode(w) for w in shown}, s.stepper)
    return np.exp(np.array([lp[w] for w in shown]))


def protected(s, word: str) -> bool:
    """Words never corrected: one longer than MAX_WORD, a token with digits, an address or URL, capitals (an acronym), a word
    the user restored after an autocorrection, or one of the user's lexicon."""
    token = s.text.rsplit(None, 1)[-1] if s.text.strip() else ""
    if not word or len(word) > MAX_WORD or _NOT_WORDLIKE.search(token) or (len(word) > 1 and word.isupper()):
        return True
    if word in s.kept_words:
        return True
    lex = s._words.lexicon()
    return bool(lex) and lex.words.get(s.p.word_key(word), 0) > 0


def _display(shown: str, typed: str) -> str:
    """A candidate as the user would see it: capitalised after a typed capital (a name keeps its own)."""
    return shown[:1].upper() + shown[1:] if typed[:1].isupper() and shown[:1].islower() else shown


def _gather(s, typed: str, prefix: bool) -> tuple[list[str], list]:
    """Candidate words (as shown) and their statistics keys: the vocabulary near the keys typed,
    the session's and the lexicon's words of a similar length."""
    p, vocab = s.p, Vocabulary.of(s.p)
    keys = spell_keys(typed, p.korean)
    if prefix:
        idx = vocab.extending(_one_edit(keys, noise_of(p)), EXTENDING)
    else:
        idx = vocab.near(keys).tolist()
    shown = [vocab.shown[i] for i in idx]
    stat = [vocab.stat_keys[i] for i in idx]
    own = set(s._words.update(s.text).unigrams)
    lex = s._words.lexicon()
    if lex:
        own |= set(lex.words)
    for k in own:
        w = p.shown(k)
        if (len(w) >= len(typed) - 1 if prefix else abs(len(w) - len(typed)) <= 2) and w not in shown:
            shown.append(w)
            stat.append(None)
    return shown, stat


def _one_edit(keys: str, noise: NoiseModel) -> list[str]:
    """Prefixes one slip away from ``keys``: a key dropped, doubled-up, swapped, a neighbour hit,
    or a key missed (any key of the layout), and the keys themselves."""
    out = {keys}
    alphabet = [k for k in noise.keys if k.isalpha()]
    for i in range(len(keys)):
        out.add(keys[:i] + keys[i + 1:])
        out.update(keys[:i] + n + keys[i + 1:] for n in noise.neighbours.get(keys[i], ()))
        if i + 1 < len(keys):
            out.add(keys[:i] + keys[i + 1] + keys[i] + keys[i + 2:])
    for i in range(1, len(keys) + 1):
        out.update(keys[:i] + a + keys[i:] for a in alphabet)
    return [k for k in out if len(k) >= max(1, len(keys) - 1)]


def scored(s, typed: str, prefix: bool = False, floor: float = -math.inf) -> dict[str, float]:
    """log score of each candidate for the word ``typed`` (or, ``prefix``, the words it may be
    the start of, less those extending it as typed, which the literal search scores), the word as
    typed included when not ``prefix``. ``floor``: leave out candidates whose word-side score with
    the noise is below it (they cannot compete: no model steps are spent on them)."""
    p = s.p
    noise = noise_of(p)
    shown, stat = _gather(s, typed, prefix)
    is_known = knower(s)
    if not prefix and typed not in shown:
        shown.append(typed)
        stat.append(None)
    w_char = weights(s)[0]
    # the beam's words no vocabulary holds score log(w_char P_char) + fit + UNKNOWN_PENALTY: a floor for it
    beam = edit_candidates(s, typed, prefix, floor - math.log(w_char or 1.0) - UNKNOWN_PENALTY, is_known) \
        if getattr(p, "edit_beam", EDIT_BEAM) and w_char else {}
    for w in beam:
        if w not in shown:
            shown.append(w)
            stat.append(Vocabulary.of(p).stat_key(w))
    if not shown:
        return {}
    keys = spell_keys(typed, p.korean)
    fit = noise.logp_many(keys, [spell_keys(w, p.korean) for w in shown], prefix=prefix)
    fit = fit + np.array([case_logp(typed, w) for w in shown])
    side = word_side(s, shown, stat)
    rough = np.log(side + 1e-12) + fit
    if prefix:
        low = typed.lower()
        rough[[i for i, w in enumerate(shown) if w.lower().startswith(low)]] = -np.inf
    top = [i for i in np.argsort(-rough, kind="stable")[:SCORED].tolist() if rough[i] >= floor]
    for w, lp in beam.items():             # the beam's words, ranked by their character-model estimate too
        i = shown.index(w)
        if rough[i] > -np.inf and math.log(side[i] + w_char * math.exp(lp) + 1e-12) + fit[i] >= floor:
            top.append(i)
    if not prefix:
        top.append(shown.index(typed))
    top = sorted(set(top)) if beam or not prefix else top
    chars = char_probs(s, [shown[i] for i in top]) if w_char else np.zeros(len(top))
    out = {}
    for j, i in enumerate(top):
        w = shown[i]
        prior = side[i] + w_char * chars[j]
        if prior <= 0:
            continue
        unknown = stat[i] is None and not is_known(w)
        out[w] = math.log(prior) + float(fit[i]) + (UNKNOWN_PENALTY if unknown else 0.0)
    return out


def _judge(s) -> tuple[str, dict | None]:
    """The current word and its candidates' log scores (None where it is not to be corrected)."""
    typed = current_word(s.text)
    if not typed or protected(s, typed):
        return typed, None
    return typed, scored(s, typed) or None


def _ranked(typed: str, got: dict | None, n: int) -> list[tuple[str, float]]:
    if not typed:
        return []
    if got is None:
        return [(typed, 1.0)]
    top = max(got.values())
    z = sum(math.exp(v - top) for v in got.values())
    ranked = sorted(got.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return [(_display(w, typed), math.exp(v - top) / z) for w, v in ranked]


def _level(level: str) -> str:
    if level not in LEVELS:
        raise ValueError(f"autocorrect level must be one of {', '.join(LEVELS)}, not {level!r}")
    return level


def _fix(typed: str, got: dict | None, level: str) -> str | None:
    if level == "off" or len(typed) < 2 or not got or typed not in got:
        return None
    best = max(got, key=lambda w: (got[w], w))
    return None if best == typed or got[best] - got[typed] < MARGINS[level] else _display(best, typed)


def corrections(s, n: int = 3) -> list[tuple[str, float]]:
    """The n likeliest words the current word was meant to be, with probabilities over the
    candidates; the word as typed among them where it is itself plausible."""
    return _ranked(*_judge(s), n)


def autocorrection(s, level: str = "modest") -> str | None:
    """What autocorrect puts in place of the current word on a space or punctuation: the best
    correction when it beats the word as typed by the level's margin, else None."""
    if _level(level) == "off" or len(current_word(s.text)) < 2:
        return None
    return _fix(*_judge(s), level)


def review(s, n: int, level: str) -> tuple[list[tuple[str, float]], str | None]:
    """Both answers from one scoring: (corrections, autocorrection at ``level``)."""
    _level(level)
    typed, got = _judge(s)
    return _ranked(typed, got, n), _fix(typed, got, level)


def knower(s):
    """A test of whether a vocabulary, this session or the user's lexicon holds a word."""
    vocab, cache, lex, key = Vocabulary.of(s.p).known, s._words.update(s.text).unigrams, s._words.lexicon(), s.p.word_key
    return lambda w: w.lower() in vocab or bool(cache.get(key(w))) or bool(lex and lex.words.get(key(w)))


def completions(s, n: int, min_keys: int = 1) -> list[tuple[str, float]]:
    """Completions of the current word that tolerate a slip in the keys typed so far (tomor, tmorr
    and yomorr all complete to tomorrow): the character model's and the word statistics' literal
    completions and the words extending a prefix one edit away, in one ranking; words no
    vocabulary holds pay UNKNOWN_PENALTY, pieces ending in an apostrophe are left out. All that were
    found, ranked (the search finds at least the n likeliest that add ``min_keys`` keys)."""
    p, word = s.p, current_word(s.text)
    if not p.typos:                       # the engine as it was (the browser engine's parity)
        return candidates(s, word, n, min_keys)
    if len(word) < MIN_TYPED or protected(s, word) or (s.composing and p.korean):
        return [(w, q) for w, q in candidates(s, word, n, min_keys) if not w.endswith("'")]
    literal = candidates(s, word, n + 2, min_keys, absolute=True)
    clean = noise_of(p).clean_logp(len(spell_keys(word, p.korean)))
    is_known, out = knower(s), {}
    for w, q in literal:
        if q > 0 and not w.endswith("'"):
            out[w] = math.log(q) + clean + (0.0 if is_known(w) else UNKNOWN_PENALTY)
    starts = sentence_start(s.text)
    floor = max(out.values(), default=-math.inf) - COMPETE
    for w, v in scored(s, word, prefix=True, floor=floor).items():
        w = cased(w, word, starts)
        if not w.endswith("'") and (len(w) > len(word) or not w.lower().startswith(word.lower())):
            out[w] = max(out.get(w, -math.inf), v)
    if not out:
        return []
    top = max(out.values())
    z = sum(math.exp(v - top) for v in out.values())
    return sorted(((w, math.exp(v - top) / z) for w, v in out.items()), key=lambda kv: (-kv[1], kv[0]))


def keyboard_edit(s, text: str, level: str = "off") -> str:
    """Apply an edit as a keyboard does: a separator typed right after a word autocorrects it when
    ``level`` says so; Backspace right after an autocorrection brings back the word as typed (and
    that word is not corrected again in this session). Returns the text now shown."""
    fix, s.last_fix = s.last_fix, None
    if fix is not None and text == fix[0][:-1]:              # Backspace right after an autocorrection
        restored = fix[1]
        s.kept_words.add(current_word(restored))
        s.set_text(restored)
        return restored
    if level != "off" and len(text) == len(s.text) + 1 and text.startswith(s.text) \
            and not is_word_char(text[-1]) and current_word(s.text):
        better = autocorrection(s, level)
        if better is not None:
            word = current_word(s.text)
            shown = s.text[:len(s.text) - len(word)] + better + text[-1]
            s.last_fix = (shown, s.text)
            s.set_text(shown)
            return shown
    s.set_text(text)
    return text
