"""Progress display for long steps (training, attacks), on stderr so stdout stays parseable."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console


class Progress:
    """Silent progress: records how long each step took."""

    def __init__(self) -> None:
        self.durations: dict[str, float] = {}

    @contextmanager
    def step(self, key: str, description: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.durations[key] = round(time.perf_counter() - start, 3)

    def note(self, message: str) -> None:
        """A one-line remark (warnings the user should see)."""


class ConsoleProgress(Progress):
    """Progress with a spinner per step on stderr (plain lines when not a terminal)."""

    def __init__(self, console: Console | None = None) -> None:
        super().__init__()
        self.console = console or Console(stderr=True, highlight=False)

    @contextmanager
    def step(self, key: str, description: str) -> Iterator[None]:
        start = time.perf_counter()
        ok = False
        try:
            if self.console.is_terminal:
                with self.console.status(f"{description} ..."):
                    yield
            else:
                yield
            ok = True
        finally:
            took = time.perf_counter() - start
            self.durations[key] = round(took, 3)
            mark = "done" if ok else "FAILED"
            self.console.print(f"  {description}: {mark} ({took:.1f} s)", markup=False)
            sys.stderr.flush()

    def note(self, message: str) -> None:
        self.console.print(f"  note: {message}", markup=False)
