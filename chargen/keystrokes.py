"""Keystroke savings: a simulated user types a text with word completions on offer, and we count
the keys saved. Any completer with ``reset()``, ``type(text)``, ``suggest(n)`` takes part: the
keyboard engine (:class:`ModelEngine`), the word baselines (``chargen.baselines``), and the Korean
ways of typing (:class:`JamoTyping`, :class:`ComposedTyping`). Usage:

    report = keystroke_savings(ModelEngine(predictor), text, n_suggestions=3, progress=True)
    report["ksr"], report["oracle_ksr"], report["top1_char_acc"], report["suggest_ms_p50"]
"""
from __future__ import annotations

import time

from tqdm import tqdm

from .hangul import compose_hangul, decompose_hangul
from .stats import pct
from .words import is_word_char


class ModelEngine:
    """A predictor session behind the completer protocol used by :func:`keystroke_savings` (one that
    learns from the typing, with ``learn``)."""

    def __init__(self, predictor, learn=None):
        self.predictor, self.learn = predictor, learn     # learn: an AdaptConfig, the session learns as it types
        self.reset()

    def reset(self):
        # learning on the caller's thread: the simulated user's text is learned as it is typed, in order
        self.session = self.predictor.session(learn=self.learn, background=False)

    def type(self, text: str):
        self.session.type(text)

    def suggest(self, n: int = 3) -> list[str]:
        return self.session.suggest(n)          # the keyboard's suggestion bar

    def next_chars(self, k: int = 3) -> list[str]:
        return [c for c, _ in self.session.next_chars(k)]


class JamoTyping:
    """A completer as seen by someone typing Korean on a two-set keyboard, one jamo per key, who
    looks at the suggestion bar before every key (not only at syllable boundaries). Feed it
    ``decompose_hangul(text)``: each conjoining jamo is one keystroke, and offered words are
    compared in jamo. Suits engines that take jamo (jamo models, word statistics fitted on
    decomposed text); a syllable model takes :class:`ComposedTyping`.

    The jamo are the text's own (NFD): a consonant arrives as an initial or a final, and a compound
    vowel as one key, so every engine here knows what an input method would still leave open (is
    the ㄱ after 가 the final of 각 or the start of 게?). A jamo model's session therefore does not
    compose here (composing would only add back that doubt: 0.236 against 0.241 on the benchmark);
    a syllable model's must, since its last syllable may still take a final.

        keystroke_savings(JamoTyping(engine), decompose_hangul(text))   # KSR in jamo keys
    """

    def __init__(self, engine):
        self.engine, self._decompose = engine, decompose_hangul
        if hasattr(engine, "next_chars"):
            self.next_chars = engine.next_chars
        self.reset()

    def reset(self):
        self.engine.reset()

    def type(self, text: str):
        self.engine.type(text)

    def suggest(self, n: int = 3) -> list[str]:
        return [self._decompose(w) for w in self.engine.suggest(n)]


class ComposedTyping(JamoTyping):
    """:class:`JamoTyping` for a syllable (char) model: after every key its session holds the text
    as an input method shows it, the jamo typed so far composed into syllables, the last of them
    still open (``Session.composing``): ``영`` ``ᄒ`` -> ``영화`` -> ``영활``... Feed it
    ``decompose_hangul(text)`` as with JamoTyping; offers are compared in jamo.

        keystroke_savings(ComposedTyping(ModelEngine(syllable_predictor)), decompose_hangul(text))
    """

    def __init__(self, engine):          # no next_chars: the model predicts syllables, not keys
        self.engine, self._decompose, self._compose = engine, decompose_hangul, compose_hangul
        self.reset()

    def reset(self):
        self.engine.reset()
        self.engine.session.composing = True
        self.typed = []

    def type(self, text: str):
        self.typed.append(text)
        self.engine.session.set_text(self._compose("".join(self.typed)))


def keystroke_savings(engine, text: str, n_suggestions: int = 3, key_cost=lambda c: 1,
                      progress: bool = False, also: dict | None = None) -> dict:
    """Simulate a user typing ``text`` with ``n_suggestions`` word completions on offer.

    Before each keystroke at a word character (at the start of a word or inside it) the engine
    offers completions of the current word; if the exact rest of the word is among them the user
    accepts it for one keystroke and goes on after the word; otherwise the user types the next
    character. Every other character is typed. KSR = 1 - keystrokes / keys to type everything.
    ``key_cost(c)`` is what typing c costs (1, or its jamo for Korean); ``also`` names more cost
    functions counted on the same run (``{"jamo": jamo_keys}`` -> ``ksr_jamo``, ``oracle_ksr_jamo``).
    Also reports the oracle (one keystroke per word) and, where the engine predicts characters,
    top-1/top-3 next-character accuracy over every character, and the per-suggestion latency.
    """
    costs = {"": key_cost, **(also or {})}
    engine.reset()
    total = {k: sum(f(c) for c in text) for k, f in costs.items()}
    keys = dict.fromkeys(costs, 0)
    oracle = dict.fromkeys(costs, 0)
    top1 = top3 = predicted = 0
    latencies: list[float] = []
    has_chars = hasattr(engine, "next_chars")
    bar = tqdm(total=len(text), unit="char", disable=not progress, desc="ksr")

    def type_char(c, typed_by_user: bool):
        nonlocal top1, top3, predicted
        if typed_by_user:
            for k, f in costs.items():
                keys[k] += f(c)
        if has_chars:
            guess = engine.next_chars(3)
            predicted += 1
            top1 += bool(guess) and guess[0] == c
            top3 += c in guess
        engine.type(c)

    i = done = 0                     # done: keys of the text simulated so far (the running KSR's total)

    def advance(chars: str):
        nonlocal done
        done += sum(key_cost(c) for c in chars)
        bar.update(len(chars))
        if progress and bar.n % 200 < len(chars):           # the running figures, every ~200 characters
            bar.set_postfix(ksr=f"{1 - keys[''] / max(done, 1):.3f}", refresh=False)

    while i < len(text):
        if not is_word_char(text[i]):
            for k, f in costs.items():
                oracle[k] += f(text[i])
            type_char(text[i], True)
            i += 1
            advance(text[i - 1])
            continue
        end = i
        while end < len(text) and is_word_char(text[end]):
            end += 1
        word = text[i:end]
        for k in costs:
            oracle[k] += 1
        for j in range(len(word)):
            t = time.perf_counter()
            offered = engine.suggest(n_suggestions)
            latencies.append(time.perf_counter() - t)
            if word in offered:
                for k in costs:
                    keys[k] += 1                     # one tap on the suggestion
                for ch in word[j:]:
                    type_char(ch, False)
                break
            type_char(word[j], True)
        i = end
        advance(word)
    bar.close()
    report = _report(keys, oracle, total, also, latencies, len(text), n_suggestions)
    if has_chars and predicted:
        report.update(top1_char_acc=top1 / predicted, top3_char_acc=top3 / predicted)
    return report


def _report(keys: dict, oracle: dict, total: dict, also, latencies: list, chars: int, n_suggestions: int) -> dict:
    lat = latencies or [float("nan")]
    report = {"ksr": 1 - keys[""] / total[""], "oracle_ksr": 1 - oracle[""] / total[""], "keystrokes": keys[""],
              "keys_without_help": total[""], "chars": chars, "suggestions": n_suggestions,
              "suggest_ms_p50": 1000 * pct(lat, 0.5), "suggest_ms_p99": 1000 * pct(lat, 0.99)}
    for k in also or {}:
        report.update({f"ksr_{k}": 1 - keys[k] / total[k], f"oracle_ksr_{k}": 1 - oracle[k] / total[k]})
    return report
