"""Keyboard sessions for many typists at once: one per browser tab or API caller, each behind its own
lock, so typists never queue behind each other; the API's sessions by id, capped in number and
memory, dropped when idle.

A :class:`Typist` is one person's keyboard: a predictor session that reads the last
KEYBOARD_CONTEXT characters of whatever text it is given (a huge paste costs one pass over those)
and, when the text grew by a keystroke, costs one model step. A :class:`TypistPool` hands out
typists by session id to API callers; a caller without an id gets an idle *anonymous* typist (the
one whose text shares most with the request, so an id-less client typing on still reuses its
states), never one that another call is using, and is offered an id of its own: a fork of that
typist, kept in a small table of its own (so id-less callers never push out the sessions of
callers with ids) and moved among those when the caller first uses it. Usage:

    pool = TypistPool()
    sid, typist = pool.checkout("abc")          # an id the client chose, or None for a new one
    with typist.lock:
        s = typist.session_for(predictor, "default", text)
        s.suggest(3)
"""
from __future__ import annotations

import asyncio
import os
import re
import secrets
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

from .adapt import AdaptConfig
from .faststep import use_keystroke_threads  # noqa: F401  (the serving side's one-thread rule)
from .learner import Learner, status_line
from .prefix import common_prefix
from .profile import ProfileError

# The keyboard reads the last 3,000-4,000 characters of the text: a huge paste costs one pass over
# that, not over all of it (a novel through the Korean model is minutes). The cut moves in steps of
# CONTEXT_STEP, so typing on reuses the session's cached states until the next step.
KEYBOARD_CONTEXT, CONTEXT_STEP = 4000, 1000
MAX_SESSIONS = 256               # API sessions kept (least recently used dropped first)
MAX_BYTES = 512 * 2**20          # and their arrays' memory in all
IDLE_SECONDS = 900               # an API session unused this long is dropped
ANONYMOUS = 8                    # typists kept for callers without a session id
OFFERED = 32                     # ids offered to such callers, kept until used (then promoted) or pushed out
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Keystrokes are computed one at a time, on one worker thread. A keystroke is a few milliseconds of
# mostly Python and small numpy calls, all under the GIL: sixteen threads computing at once only
# fight over it (measured: 16 typists' median answer 196 ms at half the CPU busy), while one thread
# working through them in arrival order answers each in about its own compute time.
KEYSTROKE_WORKERS = int(os.environ.get("CHARGEN_KEYSTROKE_WORKERS", "1"))
_KEYSTROKES = ThreadPoolExecutor(max_workers=KEYSTROKE_WORKERS, thread_name_prefix="keystrokes")


def keystroke(fn, *args):
    """Run ``fn(*args)`` on the keystroke worker and wait for it (from any thread)."""
    return _KEYSTROKES.submit(fn, *args).result()


async def keystroke_async(fn, *args):
    """The same from a coroutine: the event loop keeps serving other requests meanwhile."""
    return await asyncio.get_running_loop().run_in_executor(_KEYSTROKES, fn, *args)


def context_start(text: str) -> int:
    """Where the keyboard starts reading ``text``: 0, or a multiple of CONTEXT_STEP that leaves
    between KEYBOARD_CONTEXT - CONTEXT_STEP and KEYBOARD_CONTEXT characters."""
    over = len(text) - KEYBOARD_CONTEXT
    return 0 if over <= 0 else (over // CONTEXT_STEP + 1) * CONTEXT_STEP


class Typist:
    """One person's keyboard session and the lock that serialises their keystrokes."""

    def __init__(self):
        self.model, self.session, self.lock = None, None, threading.Lock()
        self.used = time.monotonic()
        self.kept = None             # the profile file, once the user asked to keep what was learned
        self.note = ""               # why learning is off, or a profile was not loaded

    def session_for(self, predictor, model: str, text: str, learn: bool | None = None, profile=None):
        """The session for ``model`` (``predictor`` is that model's), holding the end of ``text``
        the keyboard reads. ``learn``: it learns from the typing (dynamic evaluation), starting from
        ``profile`` when that file exists (a kept profile of this browser); None leaves learning as
        it is. Call it holding ``lock``."""
        self.used = time.monotonic()
        if model != self.model or self.session is None or self.session.p is not predictor:
            # typed with an input method: 초 may still become 최
            self.session, self.model, self.kept, self.note = predictor.session(composing=True), model, None, ""
            if profile is not None and os.path.exists(profile):
                self._start_learning(AdaptConfig(), profile)
        if learn and self.session.learner is None and not self.note:
            self._start_learning(AdaptConfig(), None)
        if self.session.learner is not None and learn is not None:
            self.session.learner.enabled = learn
        start = context_start(text)
        return self.session.set_text(text[start:], offset=start)

    def _start_learning(self, config: AdaptConfig, profile) -> None:
        s = self.session
        try:
            if profile is not None:
                s.attach(Learner.from_profile(s.p, profile))
                self.kept = profile
                s.reread()           # the text's states read again with the weights it starts from
            else:
                s.learner = Learner(s.p, config)
        except ProfileError as e:
            self.note = f"Your kept profile was not loaded: {e}"
            s.learner = Learner(s.p, config)
        except ValueError as e:      # a subword model
            self.note = str(e)

    def status_line(self) -> str:
        learner = self.session.learner if self.session is not None else None
        line = status_line(learner.status() if learner is not None else None)
        return f"{self.note} {line}".strip() if self.note and learner is not None else self.note or line

    def keep(self, path) -> str:
        """Save what this session learned to ``path`` (and again when it is dropped for being idle)."""
        learner = self.session.learner if self.session is not None else None
        if learner is None:
            raise ValueError(self.note or "nothing to keep: learning is off")
        learner.save(self.session, path)
        self.kept = path
        return path

    def forget(self) -> None:
        """Back to the trained model at once (the kept profile is the caller's to delete)."""
        if self.session is not None:
            self.session.forget()
        self.kept = None

    def save_if_kept(self) -> None:
        """A kept session dropped for being idle: what it learned since is saved too."""
        if self.kept is not None and self.session is not None and self.session.learner is not None:
            with self.lock:
                self.keep(self.kept)

    def memory_bytes(self) -> int:
        return self.session.memory_bytes() if self.session is not None else 0

    def fork(self) -> "Typist":
        """A new typist that starts where this one is (its session forked)."""
        twin = Typist()
        twin.model, twin.session = self.model, self.session.fork() if self.session is not None else None
        return twin

    def text(self) -> str:
        return self.session.text if self.session is not None else ""


class TypistPool:
    """API callers' typists: by session id, at most ``max_sessions`` of them and ``max_bytes`` of
    state in all (least recently used dropped first, but never one in use), each dropped after
    ``idle_seconds`` unused. The pool's own lock guards only its tables, never a keystroke."""

    def __init__(self, max_sessions: int = MAX_SESSIONS, max_bytes: int = MAX_BYTES,
                 idle_seconds: float = IDLE_SECONDS, anonymous: int = ANONYMOUS):
        self.max_sessions, self.max_bytes, self.idle_seconds = max_sessions, max_bytes, idle_seconds
        self.n_anonymous = anonymous
        self._by_id: OrderedDict[str, Typist] = OrderedDict()     # least recently used first
        self._offered: OrderedDict[str, Typist] = OrderedDict()   # ids given to id-less callers, not used yet
        self._anonymous: list[Typist] = []
        self._lock = threading.Lock()

    def checkout(self, session_id: str | None = None) -> tuple[str, Typist]:
        """(id, typist) for ``session_id``: the caller's own typist, a new one under that id if it
        expired or never existed, or a new id when none is given. Raises ValueError for an id that
        is not 1-64 letters, digits, '-' or '_'."""
        if session_id and not SESSION_ID.fullmatch(session_id):
            raise ValueError("a session id is 1 to 64 letters, digits, '-' or '_' (or leave it empty "
                             "and use the one the first answer returns)")
        with self._lock:
            self._expire()
            sid = session_id or secrets.token_urlsafe(12)
            typist = self._by_id.get(sid)
            if typist is None:
                typist = self._by_id[sid] = self._offered.pop(sid, None) or Typist()
                self._shrink(keep=typist)
            self._by_id.move_to_end(sid)
            typist.used = time.monotonic()
            return sid, typist

    def anonymous(self, text: str) -> Typist:
        """A typist for a caller without a session id: an idle one, preferring the one whose text
        shares the longest start with ``text`` (an id-less client typing on then costs a step per
        key, as long as few others call without an id). Returned locked: release ``typist.lock``
        when done. None is ever waited for: when all are busy the caller gets a new one."""
        cut = text[context_start(text):]            # what a typist's session holds of it
        with self._lock:
            free = []
            for t in self._anonymous:
                if t.lock.acquire(blocking=False):
                    free.append(t)
            best = max(free, key=lambda t: common_prefix(t.text(), cut), default=None)
            for t in free:
                if t is not best:
                    t.lock.release()
            if best is None:
                best = Typist()
                best.lock.acquire()
                if len(self._anonymous) < self.n_anonymous:
                    self._anonymous.append(best)
            return best

    def offer(self, typist: Typist) -> str:
        """An id for a caller who gave none: its session a fork of ``typist``'s (call it holding
        ``typist.lock``), so the caller's next call with it costs only the new keystrokes."""
        sid = secrets.token_urlsafe(12)
        twin = typist.fork()
        with self._lock:
            self._offered[sid] = twin
            while len(self._offered) > OFFERED:
                self._offered.popitem(last=False)
        return sid

    def __len__(self) -> int:
        return len(self._by_id)

    def memory_bytes(self) -> int:
        return sum(t.memory_bytes() for t in list(self._by_id.values()) + self._anonymous)

    def _expire(self) -> None:
        """Drop the typists unused for idle_seconds (the table is in order of last use)."""
        cutoff = time.monotonic() - self.idle_seconds
        while self._by_id:
            sid, t = next(iter(self._by_id.items()))
            if t.used > cutoff:
                break
            del self._by_id[sid]

    def _shrink(self, keep: Typist) -> None:
        """Over the caps: drop least recently used typists that no call is using."""
        over = len(self._by_id) > self.max_sessions or self.memory_bytes() > self.max_bytes
        for sid in list(self._by_id):
            if not over:
                break
            t = self._by_id[sid]
            if t is keep or t.lock.locked():
                continue
            del self._by_id[sid]
            over = len(self._by_id) > self.max_sessions or self.memory_bytes() > self.max_bytes

