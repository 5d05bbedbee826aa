"""One executor for independent work: shadow-model fits, repeated fits, per-target jobs.

``InlineExecutor`` runs in this process; ``JoblibExecutor`` on local processes (the default for
heavy attacks). The Ray backend lives beside them and is used when ``--backend ray`` is chosen.
Functions and items must be picklable (module-level functions, plain data).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Executor(ABC):
    """Runs ``fn`` over ``items`` and returns results in the order of ``items``."""

    name: str = "executor"

    @abstractmethod
    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """Apply ``fn`` to every item; results keep the order of ``items``."""

    def describe(self) -> dict[str, Any]:
        """What ran the work, for provenance."""
        return {"backend": self.name}


class InlineExecutor(Executor):
    """Runs everything in the calling process, one item after another."""

    name = "inline"

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        return [fn(item) for item in items]


class JoblibExecutor(Executor):
    """Local worker processes through joblib (loky backend)."""

    name = "joblib"

    def __init__(self, n_jobs: int = -1) -> None:
        self.n_jobs = n_jobs

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        from joblib import Parallel, delayed

        if len(items) <= 1 or self.n_jobs == 1:
            return [fn(item) for item in items]
        out: list[R] = Parallel(n_jobs=self.n_jobs)(delayed(fn)(item) for item in items)
        return out

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "n_jobs": self.n_jobs}
