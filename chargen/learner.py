"""What a keyboard session learns from its user, and when: the text is cut into segments (about
``AdaptConfig.segment`` characters, each ending at a word boundary); a segment is learned (one
dynamic-evaluation step, ``chargen.adapt``, and its words into the user's ``Lexicon``) once the
user has typed a whole word past it, so the word being typed or corrected is never learned.

Learning never delays a keystroke: the step runs on a low-priority background thread, and the new
weights are swapped in at the start of the next keystroke (the carried model states are kept, not
re-encoded: that keystroke costs what any other does). An edit that reaches into learned text rolls
back to the weights from before the first segment it touches (the last HISTORY segments keep
theirs); an edit deeper than that starts again from the base weights (a loaded profile, or the
trained model) and learns again the text the keyboard still reads. Usage (a session's):

    learner = Learner(predictor, AdaptConfig()); session.learner = learner
    learner.sync(session, new_text, offset)     # before an edit: roll back, swap in ready weights
    learner.observe(session)                    # after it: send the next finished segment to learn
    learner.forget(); learner.status()
"""
from __future__ import annotations

import os
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .adapt import AdaptConfig, Adapted, learn, loss_of
from .lexicon import Lexicon
from .ngram import fold
from .prefix import common_prefix
from .profile import load_profile, save_profile
from .tokenizer import CHAR, CHAR_KINDS
from .words import is_word_char, previous_word, word_spans

HISTORY = 1              # learned segments whose weights-before are kept (a rollback; deeper: learn again)
STATUS_CHARS = 500       # the status line's loss: the user's last 500 learned characters
MAX_SEGMENT = 4          # a segment with no word boundary is cut at 4 x the segment length
BATCH = 64               # finished segments sent to the worker in one job (a paste is learned at once)


def _low_priority() -> None:
    try:                 # Linux: a thread is a task with its own niceness; keystrokes go first
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):
        pass


_WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="adapt", initializer=_low_priority)


@dataclass
class Segment:
    start: int           # absolute text positions
    end: int
    before: Adapted | None   # the weights before it was learned (set when it is)
    words: list          # (previous word, word) pairs it added to the lexicon
    new_words: int       # how many of them the model's word statistics do not know
    scores: tuple | None = None   # (chars, nats as typed, nats under the trained weights)


def segment_end(text: str, start: int, length: int) -> int | None:
    """Where the segment starting at ``start`` ends if it is finished: just after the first word
    boundary at least ``length`` characters on, provided a whole word follows it (the user is past
    it by a word). None while it is not."""
    n, i = len(text), start + length
    while i < n and i < start + MAX_SEGMENT * length and is_word_char(text[i - 1]):
        i += 1
    j = i
    while j < n and not is_word_char(text[j]):
        j += 1
    k = j
    while k < n and is_word_char(text[k]):
        k += 1
    return i if k < n and k > j else None


class Learner:
    def __init__(self, predictor, config: AdaptConfig | None = None, base: Adapted | None = None,
                 lexicon: Lexicon | None = None, background: bool = True):
        self.p, self.config = predictor, (config or AdaptConfig()).validate()
        if predictor.tokenizer.kind not in CHAR_KINDS:
            raise ValueError("learning from typing needs a char or jamo model (subword models do not adapt)")
        self.base = base or Adapted.start(predictor, self.config)
        self.base_lexicon = (lexicon or Lexicon()).to_json()
        self.background, self.enabled = background, True
        self._lock = threading.Lock()
        self.measure = background    # score each segment under the trained weights too (the status line)
        self._reset(0)

    @classmethod
    def from_profile(cls, predictor, path, background: bool = True) -> "Learner":
        """A learner that starts from a saved profile (its weights, lexicon and settings)."""
        base, lexicon = load_profile(path, predictor)
        return cls(predictor, base.config, base, lexicon, background)

    def _reset(self, learned_end: int) -> None:
        self.current, self.lexicon = self.base, Lexicon.from_json(self.base_lexicon)
        self.stepper = None              # the session's stepper for the current weights, once made
        self.history: deque[Segment] = deque(maxlen=HISTORY)
        self.learned_end, self.generation = learned_end, getattr(self, "generation", 0) + 1
        self.busy, self.ready, self.words_learned, self.new_words = False, None, 0, 0
        self._job_end = 0
        self.recent: deque = deque()     # (chars, nats as typed, nats under the trained weights) per segment

    # ---------------------------------------------------------------- keystroke side
    def sync(self, session, text: str | None = None, offset: int | None = None) -> None:
        """Before the session changes to ``text`` (at absolute ``offset``): roll back what an edit
        takes away, then swap in weights the worker has ready."""
        if text is not None:
            d = self._first_change(session, text, session.offset if offset is None else offset)
            pending = self._job_end if self.busy or self.ready is not None else 0
            if d < max(self.learned_end, pending):
                self._rollback(d, session.offset if offset is None else offset)
                session.stepper = self.stepper = self.current.stepper(self.p)
        with self._lock:
            ready, self.ready = self.ready, None
        if ready is not None:
            new, stepper, segments = ready
            self.current, self.learned_end = new, segments[-1].end
            session.stepper = self.stepper = stepper
            for seg in segments:
                for prev, w in seg.words:
                    self.lexicon.add(prev, w)
                self.words_learned += len(seg.words)
                self.new_words += seg.new_words
                self.history.append(seg)
                if seg.scores is not None:
                    self.recent.append(seg.scores)
                    while sum(c for c, _, _ in self.recent) - self.recent[0][0] >= STATUS_CHARS:
                        self.recent.popleft()

    @staticmethod
    def _first_change(session, text: str, offset: int) -> int:
        """The first absolute position where ``text`` (starting at ``offset``) differs from the session's."""
        old, o1 = session.text, session.offset
        if offset >= o1:
            return offset + common_prefix(old[offset - o1:], text)
        return o1 + common_prefix(old, text[o1 - offset:])

    def _rollback(self, d: int, offset: int) -> None:
        with self._lock:
            self.generation += 1                      # a step in flight is dropped when it lands
            self.ready, self.busy = None, False
        while self.history and self.history[-1].end > d:
            seg = self.history.pop()
            for prev, w in reversed(seg.words):
                self.lexicon.remove(prev, w)
            self.words_learned -= len(seg.words)
            self.new_words -= seg.new_words
            if self.recent and self.recent[-1] is seg.scores:
                self.recent.pop()
            self.current, self.learned_end = seg.before, seg.start
        if self.learned_end > d:                      # deeper than the history: start again
            self._reset(offset)

    def observe(self, session) -> None:
        """After an edit: send the finished segments to learn, in order (up to BATCH in one job; one
        job at a time per session)."""
        while self.enabled and not self.busy and self.ready is None and self._submit(session) and not self.background:
            self.sync(session)

    def _submit(self, session) -> bool:
        text, offset = session.text, session.offset
        start, jobs = max(self.learned_end, offset) - offset, []
        while len(jobs) < BATCH:
            end = segment_end(text, start, self.config.segment)
            if end is None:
                break
            jobs.append(self._job(session, start, end))
            start = end
        if not jobs:
            return False
        self.busy, self._job_end = True, jobs[-1][3].end
        if self.background:
            _WORKER.submit(self._run, self.generation, self.current, jobs)
        else:
            self._run(self.generation, self.current, jobs)
        return True

    def _job(self, session, start: int, end: int) -> tuple:
        """(state row, ids, ids that only carry the state, Segment) for text[start:end] of the session."""
        text, offset = session.text, session.offset
        ia, ib = session.id_position(start), session.id_position(end)
        k = max(q for q in session._states if q <= ia)
        spans = word_spans(text[start:end])
        before = previous_word(text[:start + spans[0][0]]) if spans else None
        words = []
        for a, b in spans:
            w = self.p.word_key(text[start + a:start + b])
            words.append((before, w))
            before = w
        seg = Segment(offset + start, offset + end, None, words, sum(not self._known(w) for _, w in words))
        return session._states[k][0], session.ids[k:ib], ia - k, seg

    # ---------------------------------------------------------------- worker side
    def _run(self, generation, current, jobs) -> None:
        try:
            for row, ids, skip, seg in jobs:
                if generation != self.generation:
                    return                   # an edit took it back meanwhile
                seg.before = current
                current, nats = learn(self.p, current, row, ids, skip)
                if self.measure:         # the status line: this segment as typed against the trained model
                    seg.scores = (seg.end - seg.start, nats, loss_of(self.p, None, row, ids, skip))
            stepper = current.stepper(self.p)
            with self._lock:
                if generation == self.generation:
                    self.ready = (current, stepper, [seg for *_, seg in jobs])
        finally:
            with self._lock:
                if generation == self.generation:
                    self.busy = False

    def _known(self, word: str) -> bool:
        table = getattr(self.p.words, "unigrams", None) or {}
        return word in table or fold(word) in table

    # ---------------------------------------------------------------- controls
    def wait(self, timeout: float = 10.0) -> None:
        """Until no step is in flight (tests, benchmarks)."""
        end = time.monotonic() + timeout
        while self.busy and time.monotonic() < end:
            time.sleep(0.002)

    def forget(self, learned_end: int) -> None:
        """Back to the trained model: no adapted weights, an empty lexicon; text before ``learned_end``
        is not learned again (the caller re-reads its states with the trained weights)."""
        self.base, self.base_lexicon = Adapted.start(self.p, self.config), Lexicon().to_json()
        with self._lock:
            self._reset(learned_end)

    def save(self, session, path):
        """What ``session`` (this learner's) has learned, the step in flight included, saved as a
        profile at ``path`` (see chargen.profile). Returns the path."""
        self.wait()
        self.sync(session)
        return save_profile(path, self.p, self)

    def nbytes(self) -> int:
        """Memory this learner holds of its own: adapted weights, their snapshots, the packed layers
        of its stepper, the lexicon (the trained model's tensors are shared, not counted)."""
        kept = {id(a): a for a in [self.current] + [s.before for s in self.history] if a.steps}
        packed = 0
        if self.current.steps and self.stepper is not None:
            packed = self.stepper.packed_bytes(self.p.stepper.layers_of(self.current.params))
        return sum(a.nbytes() for a in kept.values()) + packed + self.lexicon.nbytes()

    def status(self) -> dict:
        """What the keyboard has learned: steps, words, and the loss of the user's last STATUS_CHARS
        learned characters as they were typed (each scored before it was learned) and under the
        trained model, in bits per character."""
        chars = sum(c for c, _, _ in self.recent)
        bpc = {} if not chars else {"chars": chars, "bpc_typed": sum(a for _, a, _ in self.recent) / chars / np.log(2),
                                     "bpc_trained": sum(t for _, _, t in self.recent) / chars / np.log(2)}
        return {"enabled": self.enabled, "steps": self.current.steps, "words_learned": self.words_learned,
                "new_words": self.new_words, "lexicon_words": len(self.lexicon), **bpc}


def status_line(status: dict | None) -> str:
    """The keyboard's one line about what it has learned."""
    if status is None:
        return "Learning is off for this model."
    head = "Learning from your typing" if status["enabled"] else "Learning paused"
    if not status["steps"]:
        return f"{head}: nothing learned yet (it learns a segment once you have typed a word past it)."
    line = (f"{head}: {status['words_learned']:,} words learned ({status['new_words']:,} new to the model), "
            f"{status['steps']:,} updates")
    if status.get("chars"):
        line += (f"; your last {status['chars']:,} characters: {status['bpc_trained']:.2f} bits/char for the "
                 f"trained model, {status['bpc_typed']:.2f} as it adapted")
    return line + "."


def id_position(tokenizer, text: str, pos: int) -> int:
    """The id index of text position ``pos`` (char models: the same; jamo models: encoded)."""
    return pos if tokenizer.kind == CHAR else len(tokenizer.encode(text[:pos]))
