"""Stopping a long job promptly and cleanly: Ctrl-C, SIGTERM, or a UI's Cancel button.

A :class:`StopFlag` turns SIGINT / SIGTERM into a flag (a second Ctrl-C stops at once); every long
phase (reading and tokenizing a corpus, counting words, a validation pass, the training loop) polls
it between chunks and raises :class:`Interrupted`, so a stop is honoured within a chunk, not at
the end of the phase. Usage:

    with StopFlag(should_stop=lambda: cancelled) as stop:
        for chunk in checked(chunks, stop.requested, "counting words"): ...
"""
from __future__ import annotations

import signal
from typing import Callable, Iterable, Iterator


class Interrupted(Exception):
    """A stop was asked during ``phase``; whatever was saved before it stays valid."""

    def __init__(self, phase: str):
        super().__init__(f"interrupted while {phase}")
        self.phase = phase


class StopFlag:
    """SIGINT/SIGTERM ask the job to save and stop; a second Ctrl-C stops at once. (torchrun passes
    its signals on to every worker; the training loop then agrees on the stop through ``Dist.max``.)
    ``should_stop`` (a UI's Cancel) is asked too."""

    def __init__(self, should_stop: Callable[[], bool] | None = None):
        self.signal = None
        self.should_stop = should_stop
        self._old = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:        # not the main thread (e.g. a UI worker): no handlers
                pass
        return self

    def _handle(self, sig, frame):
        if self.signal is not None and sig == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal = sig

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)

    def requested(self) -> bool:
        return self.signal is not None or (self.should_stop is not None and bool(self.should_stop()))

    def reason(self) -> str:
        return signal.Signals(self.signal).name if self.signal is not None else "cancelled"


def check(should_stop: Callable[[], bool] | None, phase: str) -> None:
    """Raise Interrupted(phase) if a stop was asked."""
    if should_stop is not None and should_stop():
        raise Interrupted(phase)


def checked(items: Iterable, should_stop: Callable[[], bool] | None, phase: str) -> Iterator:
    """``items``, asking before each one whether to stop (Interrupted(phase))."""
    for item in items:
        check(should_stop, phase)
        yield item
