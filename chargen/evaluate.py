"""Measuring a model: exact loss over a whole text, in nats and bits per token and per character.

Usage:

    nats, tokens = stream_loss(model, ids, n_scored=len(val_ids))   # total nats over the last n_scored ids
    report = text_metrics(model, tokenizer, text)                    # dict with val_nats, val_bpc, ...
    metrics = ValSplit(corpus, max_tokens=2_000_000).score(model)   # training's validation figure
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .keys import key_cost
from .stopping import Interrupted


@torch.no_grad()
def stream_loss(model, ids, n_scored: int | None = None, rows: int = 16, chunk: int = 256,
                context: int = 256, shard: tuple[int, int] = (0, 1), should_stop=None,
                progress: bool = False) -> tuple[float, int]:
    """Total cross-entropy (nats) of the last ``n_scored`` ids of ``ids``, each predicted from all
    that precedes it, and the number of ids scored.

    Every id is scored exactly once. For speed the scored span is cut into ``rows`` contiguous rows
    run side by side with the state carried along each row; each row first reads the ``context``
    ids before it (unscored), so only the first row of a text that has nothing before it starts
    cold. With rows=1 this is exactly one pass over the text.

    ``shard=(rank, world_size)`` scores only this process's contiguous share of those same rows
    and returns its partial sums: summed over the ranks they are the whole text's.
    ``should_stop()`` is asked between chunks: True raises ``stopping.Interrupted``. ``progress``: a
    "validating" progress bar (a long validation is minutes on a CPU).
    """
    ids = np.asarray(ids)                   # a memmap stays a memmap: only chunks are read
    n_scored = len(ids) - 1 if n_scored is None else n_scored
    if not 0 < n_scored < len(ids):
        raise ValueError(f"cannot score {n_scored} of {len(ids)} ids (the first id has nothing before it)")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device             # score where the model lives (CPU or GPU)
    start = len(ids) - n_scored                         # first scored position (>= 1)
    rows = max(1, min(rows, n_scored // max(chunk, 1) or 1))
    row_len = math.ceil(n_scored / rows)
    row_start = start + np.arange(rows) * row_len       # (R,) first target of each row
    row_end = np.minimum(row_start + row_len, len(ids))
    if shard[1] > 1:
        mine = np.array_split(np.arange(rows), shard[1])[shard[0]]
        if len(mine) == 0:               # fewer rows than ranks: this one has nothing to score
            model.train(was_training)
            return 0.0, 0
        row_start, row_end = row_start[mine], row_end[mine]
        n_scored = int((row_end - row_start).sum())
    states = []
    for a in row_start:
        ctx = torch.from_numpy(ids[max(0, a - 1 - context):a - 1].astype(np.int64)).to(device)
        states.append(model(ctx[None], None)[1] if len(ctx) else model.init_state(1, device=device))
    if isinstance(states[0], tuple):
        state = tuple(torch.cat([s[i] for s in states], dim=1) for i in range(len(states[0])))
    else:
        state = torch.cat(states, dim=1)
    total = 0.0
    bar = tqdm(total=int(n_scored), unit="tok", unit_scale=True, desc="validating", leave=False, disable=not progress)
    for t in range(0, row_len, chunk):
        if should_stop is not None and should_stop():
            model.train(was_training)
            bar.close()
            raise Interrupted("validating")
        pos = row_start[:, None] + t + np.arange(min(chunk, row_len - t))[None]     # (R, c) targets
        valid = pos < row_end[:, None]
        x = torch.from_numpy(ids[np.minimum(pos - 1, len(ids) - 1)].astype(np.int64)).to(device)
        # int64 before the -100 padding: ids may be uint8/uint16, where -100 would wrap around
        y = ids[np.minimum(pos, len(ids) - 1)].astype(np.int64)
        y = torch.from_numpy(np.where(valid, y, -100)).to(device)
        logits, state = model(x, state)                                          # (R, c, V)
        total += F.cross_entropy(logits.float().flatten(0, 1), y.flatten(),
                                 ignore_index=-100, reduction="sum").item()
        bar.update(int(valid.sum()))
    bar.close()
    model.train(was_training)
    return total, n_scored


def loss_report(total_nats: float, n_tokens: int, n_chars: int, prefix: str = "val") -> dict:
    """nats and bits per character (the scale every model is compared on) and per token."""
    per_char = total_nats / max(n_chars, 1)
    return {f"{prefix}_nats": per_char, f"{prefix}_bpc": per_char / math.log(2),
            f"{prefix}_nats_per_token": total_nats / max(n_tokens, 1),
            f"{prefix}_tokens": n_tokens, f"{prefix}_chars": n_chars}


def text_metrics(model, tokenizer, text: str, **kwargs) -> dict:
    """Loss of ``text`` under the model: every token after the first is scored."""
    ids = tokenizer.encode_array(text)
    if len(ids) < 2:
        raise ValueError("the text is too short to evaluate: it needs at least two tokens")
    total, n = stream_loss(model, ids, **kwargs)
    chars = len(text) - len(tokenizer.decode(ids[:1]))   # the characters of the scored tokens
    return loss_report(total, n, chars)


class ValSplit:
    """The validation figure training reports: the exact loss of the first ``max_tokens`` (0: all)
    of a corpus's val split, read after the last ``context`` train tokens. Per character, over the
    characters of the tokens scored (those of the whole split unless capped)."""

    def __init__(self, corpus, max_tokens: int = 0, context: int = 256):
        val = corpus.val_ids
        self.n, self.max_tokens = min(len(val), max_tokens or len(val)), max_tokens
        self.capped = self.n < len(val)
        self.chars = len(corpus.tokenizer.decode(np.asarray(val[:self.n]))) if self.capped else corpus.meta["val_chars"]
        self.stream = np.concatenate([np.asarray(corpus.train_ids[-context:]), np.asarray(val[:self.n])])

    def score(self, model, shard: tuple[int, int] = (0, 1), reduce=lambda sums: sums, should_stop=None,
              progress: bool = False) -> dict:
        """``shard`` scores one rank's rows; ``reduce`` sums [nats, tokens, stopped] over the ranks.
        ``should_stop()`` True on any rank ends the pass on every rank (Interrupted): each rank
        still joins the one reduction, so none is left waiting."""
        try:
            part, stopped = list(stream_loss(model, self.stream, n_scored=self.n, shard=shard,
                                             should_stop=should_stop, progress=progress)), 0.0
        except Interrupted:
            part, stopped = [0.0, 0], 1.0
        total, n, stopped = reduce(part + [stopped])
        if stopped:
            raise Interrupted("validating")
        report = loss_report(total, int(n), self.chars)
        return {**report, "val_max_tokens": self.max_tokens} if self.capped else report


# ----------------------------------------------------------------------------- keystroke savings
class ModelEngine:
    """A predictor session behind the completer protocol used by :func:`keystroke_savings`."""

    def __init__(self, predictor):
        self.predictor = predictor
        self.reset()

    def reset(self):
        self.session = self.predictor.session()

    def type(self, text: str):
        self.session.type(text)

    def suggest(self, n: int = 3) -> list[str]:
        return self.session.suggest(n)          # the keyboard's suggestion bar

    def next_chars(self, k: int = 3) -> list[str]:
        return [c for c, _ in self.session.next_chars(k)]


# Keys a two-set Korean keyboard needs for a character: one per conjoining jamo (1 for anything
# else); the keyboard engine's own count, under the name the KSR report uses.
jamo_keys = key_cost


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
        from .tokenizer import decompose_hangul
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
        from .tokenizer import compose_hangul, decompose_hangul
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
    import time

    from tqdm import tqdm
    from .words import is_word_char
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
    lat = sorted(latencies) or [float("nan")]
    report = {"ksr": 1 - keys[""] / total[""], "oracle_ksr": 1 - oracle[""] / total[""], "keystrokes": keys[""],
              "keys_without_help": total[""], "chars": len(text), "suggestions": n_suggestions,
              "suggest_ms_p50": 1000 * lat[len(lat) // 2], "suggest_ms_p99": 1000 * lat[int(len(lat) * 0.99)]}
    for k in also or {}:
        report.update({f"ksr_{k}": 1 - keys[k] / total[k], f"oracle_ksr_{k}": 1 - oracle[k] / total[k]})
    if has_chars and predicted:
        report.update(top1_char_acc=top1 / predicted, top3_char_acc=top3 / predicted)
    return report
