"""Progress display for long steps (training, attacks), on stderr so stdout stays parseable.

A step (:meth:`Progress.step`) may say how far it got: code running inside it -- in any thread,
e.g. a generator's fit in the plugin worker thread -- calls :func:`advance` with the work done
and the total (the DP trainer does after every DP-SGD step), and :class:`ConsoleProgress` shows
``done/total`` with an estimate of the time left: a live status line in a terminal, a plain line
every :data:`PLAIN_EVERY_S` seconds otherwise (CI logs). :func:`note` prints a one-line remark
through the running step's console. Both do nothing when no step is running (library use).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rich.console import Console

#: Seconds between two plain progress lines when stderr is not a terminal.
PLAIN_EVERY_S = 30.0
#: Seconds between two updates of the live status line in a terminal.
LIVE_EVERY_S = 0.2

_active: list[Progress] = []  # the progress objects whose step is running, innermost last
_lock = threading.Lock()


def _running() -> Progress | None:
    with _lock:
        return _active[-1] if _active else None


def advance(done: int, total: int, unit: str = "steps") -> None:
    """Report ``done`` of ``total`` units of the running step (no-op outside a step)."""
    progress = _running()
    if progress is not None:
        progress.advance(done, total, unit)


def note(message: str) -> None:
    """A one-line remark through the running step's console (no-op outside a step)."""
    progress = _running()
    if progress is not None:
        progress.note(message)


def duration(seconds: float) -> str:
    """``seconds`` in words for an estimate: ``"45 s"``, ``"3 min 5 s"``, ``"1 h 20 min"``."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


@dataclass
class _Counter:
    """How far the running step got, for the estimate."""

    description: str
    first_done: int | None = None
    first_at: float = 0.0
    shown_at: float = 0.0

    def line(self, done: int, total: int, unit: str, now: float) -> str:
        """``"description: 120/400 steps (30%), about 1 min 5 s left"``: the estimate from
        the rate since the first report."""
        text = f"{self.description}: {done:,}/{total:,} {unit}"
        if total > 0:
            text += f" ({100 * done / total:.0f}%)"
        first = self.first_done if self.first_done is not None else done
        rate = (done - first) / max(now - self.first_at, 1e-9)
        if rate > 0 and total >= done:
            text += f", about {duration((total - done) / rate)} left"
        return text


class Progress:
    """Silent progress: records how long each step took."""

    def __init__(self) -> None:
        self.durations: dict[str, float] = {}

    @contextmanager
    def step(self, key: str, description: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            with self._running():
                yield
        finally:
            self.durations[key] = round(time.perf_counter() - start, 3)

    @contextmanager
    def _running(self) -> Iterator[None]:
        with _lock:
            _active.append(self)
        try:
            yield
        finally:
            with _lock:
                if self in _active:
                    _active.remove(self)

    def advance(self, done: int, total: int, unit: str = "steps") -> None:
        """How far the running step got (see :func:`advance`)."""

    def note(self, message: str) -> None:
        """A one-line remark (warnings the user should see)."""


class ConsoleProgress(Progress):
    """Progress with a status line per step on stderr (plain lines when not a terminal)."""

    def __init__(self, console: Console | None = None) -> None:
        super().__init__()
        self.console = console or Console(stderr=True, highlight=False)
        self._status: Any = None
        self._counter: _Counter | None = None

    @contextmanager
    def step(self, key: str, description: str) -> Iterator[None]:
        start = time.perf_counter()
        ok = False
        self._counter = _Counter(description)
        try:
            with self._running():
                if self.console.is_terminal:
                    with self.console.status(f"{description} ...") as status:
                        self._status = status
                        yield
                else:
                    yield
            ok = True
        finally:
            self._status, self._counter = None, None
            took = time.perf_counter() - start
            self.durations[key] = round(took, 3)
            mark = "done" if ok else "FAILED"
            self.console.print(f"  {description}: {mark} ({took:.1f} s)", markup=False)
            sys.stderr.flush()

    def advance(self, done: int, total: int, unit: str = "steps") -> None:
        counter, status = self._counter, self._status
        if counter is None:
            return
        now = time.perf_counter()
        if counter.first_done is None or done < counter.first_done:  # starts the clock
            counter.first_done, counter.first_at, counter.shown_at = done, now, now
            if status is not None:
                status.update(counter.line(done, total, unit, now))
            return
        if now - counter.shown_at < (LIVE_EVERY_S if status is not None else PLAIN_EVERY_S):
            return
        counter.shown_at = now
        line = counter.line(done, total, unit, now)
        if status is not None:
            status.update(line)
        else:
            self.console.print(f"  {line}", markup=False)

    def note(self, message: str) -> None:
        self.console.print(f"  note: {message}", markup=False)
