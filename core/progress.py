"""Progress display for long steps (training, attacks), on stderr so stdout stays parseable.

A step (:meth:`Progress.step`) may say how far it got: code running inside it -- in any thread,
e.g. a generator's fit in the plugin worker thread -- calls :func:`advance` with the work done
and the total (the DP trainer does after every DP-SGD step), and :class:`ConsoleProgress` shows
``done/total`` with an estimate of the time left: a live status line in a terminal, a plain line
every :data:`PLAIN_EVERY_S` seconds otherwise (CI logs). :func:`note` prints a one-line remark
through the running step's console. Both do nothing when no step is running (library use).

Every line is a message of the command line's catalog (``privgate-cli``): a step's description
and a note are English msgids marked with :func:`N_` where they are written, with their values
apart (``progress.step(key, N_("training %(name)s on %(rows)s rows"), name=..., rows=...)``),
and :class:`ConsoleProgress` shows them in its language (``--lang``). Text that is not in the
catalog (a plugin's warning) is shown as it is.
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

from privgate.i18n import Translator

#: Seconds between two plain progress lines when stderr is not a terminal.
PLAIN_EVERY_S = 30.0
#: Seconds between two updates of the live status line in a terminal.
LIVE_EVERY_S = 0.2

_active: list[Progress] = []  # the progress objects whose step is running, innermost last
_lock = threading.Lock()


def _running() -> Progress | None:
    with _lock:
        return _active[-1] if _active else None


def N_(message: str) -> str:  # noqa: N802 -- gettext's name for a marker
    """Mark ``message`` for the command line's catalog; it is translated where it is shown."""
    return message


#: Units of :func:`advance` that the catalog translates (others are shown as given).
UNITS = (N_("steps"), N_("training steps"), N_("rows"), N_("targets"))


def advance(done: int, total: int, unit: str = "steps") -> None:
    """Report ``done`` of ``total`` units of the running step (no-op outside a step)."""
    progress = _running()
    if progress is not None:
        progress.advance(done, total, unit)


def note(message: str, /, **values: Any) -> None:
    """A one-line remark through the running step's console (no-op outside a step):
    ``message`` a msgid marked with :func:`N_`, ``values`` its placeholders."""
    progress = _running()
    if progress is not None:
        progress.note(message, **values)


def translate(message: str, /, **values: Any) -> str:
    """``message`` (marked with :func:`N_`) filled with ``values``, in the running console's
    language (English outside a step or without a console)."""
    tr = getattr(_running(), "tr", None)
    return (tr if isinstance(tr, Translator) else Translator()).gettext(message, **values)


def duration(seconds: float, tr: Translator | None = None) -> str:
    """``seconds`` in words for an estimate: ``"45 s"``, ``"3 min 5 s"``, ``"1 h 20 min"``."""
    tr = tr or Translator()
    s = max(0, int(round(seconds)))
    if s < 60:
        return tr.gettext("%(s)s s", s=s)
    if s < 3600:
        return tr.gettext("%(m)s min %(s)s s", m=s // 60, s=s % 60)
    return tr.gettext("%(h)s h %(m)s min", h=s // 3600, m=s % 3600 // 60)


@dataclass
class _Counter:
    """How far the running step got, for the estimate."""

    description: str
    tr: Translator
    first_done: int | None = None
    first_at: float = 0.0
    shown_at: float = 0.0

    def line(self, done: int, total: int, unit: str, now: float) -> str:
        """``"description: 120/400 steps (30%), about 1 min 5 s left"``: the estimate from
        the rate since the first report."""
        tr = self.tr
        values = {"what": self.description, "done": f"{done:,}", "total": f"{total:,}",
                  "unit": tr.gettext(unit), "percent": f"{100 * done / max(total, 1):.0f}"}
        first = self.first_done if self.first_done is not None else done
        rate = (done - first) / max(now - self.first_at, 1e-9)
        if total <= 0:
            return tr.gettext("%(what)s: %(done)s/%(total)s %(unit)s", **values)
        if rate > 0 and total >= done:
            return tr.gettext("%(what)s: %(done)s/%(total)s %(unit)s (%(percent)s%%), about "
                              "%(left)s left", left=duration((total - done) / rate, tr),
                              **values)
        return tr.gettext("%(what)s: %(done)s/%(total)s %(unit)s (%(percent)s%%)", **values)


class Progress:
    """Silent progress: records how long each step took."""

    def __init__(self) -> None:
        self.durations: dict[str, float] = {}

    @contextmanager
    def step(self, key: str | None, description: str, /, **values: Any) -> Iterator[None]:
        """Time the block as step ``key``; ``description`` is a msgid marked with :func:`N_`
        and ``values`` fill its placeholders. ``key`` ``None``: shown, not recorded (a wait
        for steps that run elsewhere, each recorded with :meth:`ran`)."""
        start = time.perf_counter()
        try:
            with self._running():
                yield
        finally:
            if key is not None:
                self.durations[key] = round(time.perf_counter() - start, 3)

    def ran(self, key: str, description: str, seconds: float, /, **values: Any) -> None:
        """Record step ``key`` that ran elsewhere (a worker of the executor) and took
        ``seconds`` there; ``description`` and ``values`` as for :meth:`step`."""
        self.durations[key] = round(seconds, 3)

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

    def note(self, message: str, /, **values: Any) -> None:
        """A one-line remark (warnings the user should see)."""


class ConsoleProgress(Progress):
    """Progress with a status line per step on stderr (plain lines when not a terminal), in
    ``lang`` (the command line's catalog; English by default)."""

    def __init__(self, console: Console | None = None, lang: str | None = None) -> None:
        super().__init__()
        self.console = console or Console(stderr=True, highlight=False)
        self.tr = Translator.for_package("privgate", "privgate-cli", lang)
        self._status: Any = None
        self._counter: _Counter | None = None

    @contextmanager
    def step(self, key: str | None, description: str, /, **values: Any) -> Iterator[None]:
        start = time.perf_counter()
        ok = False
        description = self.tr.gettext(description, **values)
        self._counter = _Counter(description, self.tr)
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
            if key is not None:
                self.durations[key] = round(took, 3)
            self._done(description, took, ok)

    def _done(self, description: str, seconds: float, ok: bool) -> None:
        line = (self.tr.gettext("%(what)s: done (%(seconds)s s)", what=description,
                                seconds=f"{seconds:.1f}") if ok else
                self.tr.gettext("%(what)s: FAILED (%(seconds)s s)", what=description,
                                seconds=f"{seconds:.1f}"))
        self.console.print(f"  {line}", markup=False)
        sys.stderr.flush()

    def ran(self, key: str, description: str, seconds: float, /, **values: Any) -> None:
        super().ran(key, description, seconds, **values)
        self._done(self.tr.gettext(description, **values), seconds, True)

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

    def note(self, message: str, /, **values: Any) -> None:
        text = self.tr.gettext(message, **values)
        self.console.print("  " + self.tr.gettext("note: %(text)s", text=text),
                           markup=False)
