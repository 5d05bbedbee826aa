"""One executor for independent work: shadow-model fits, repeated fits, per-target jobs.

``InlineExecutor`` runs in this process; ``JoblibExecutor`` on local processes (the default for
heavy attacks); ``RayExecutor`` on a local Ray instance or an existing Ray cluster (``--backend
ray``, ``--ray-address``; ``pip install privgate[ray]``). :func:`make_executor` builds one from
the ``[execution]`` config. Functions and items must be picklable (module-level functions, plain
data).

Every backend returns results in the order of the items, and an exception raised by ``fn`` in a
worker is re-raised in the caller as the same exception type, with a note naming the function,
the item's position and the backend (plus the worker's traceback).
"""

from __future__ import annotations

import importlib.util
import logging
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from privgate.errors import N_, InputError, Text

T = TypeVar("T")
R = TypeVar("R")

BACKENDS = ("inline", "joblib", "ray")


@dataclass(frozen=True)
class _Failure:
    """What a worker sends back instead of a result when ``fn`` raised."""

    error: BaseException
    trace: str


@dataclass(frozen=True)
class _Guarded(Generic[T, R]):
    """``fn`` wrapped so that a worker returns its exception instead of losing it.

    joblib and Ray both re-raise worker errors, but each in its own wrapper type; catching in
    the worker gives every backend the same behaviour (the original exception type).
    """

    fn: Callable[[T], R]

    def __call__(self, item: T) -> R | _Failure:
        try:
            return self.fn(item)
        except Exception as exc:  # noqa: BLE001 -- re-raised in the caller by _unwrap
            return _Failure(exc, traceback.format_exc())


def _unwrap(results: Sequence[R | _Failure], fn: Callable[..., Any], backend: str) -> list[R]:
    out: list[R] = []
    for i, r in enumerate(results):
        if isinstance(r, _Failure):
            name = getattr(fn, "__qualname__", repr(fn))
            r.error.add_note(f"raised by {name} on item {i} of {len(results)} "
                             f"({backend} executor); worker traceback:\n{r.trace}")
            raise r.error
        out.append(r)
    return out


class Executor(ABC):
    """Runs ``fn`` over ``items`` and returns results in the order of ``items``."""

    name: str = "executor"

    @abstractmethod
    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """Apply ``fn`` to every item; results keep the order of ``items``."""

    def describe(self) -> dict[str, Any]:
        """What ran the work, for provenance."""
        return {"backend": self.name}

    def close(self) -> None:  # noqa: B027 -- optional hook, most executors hold nothing
        """Release workers or clusters this executor started (no-op by default)."""


class InlineExecutor(Executor):
    """Runs everything in the calling process, one item after another."""

    name = "inline"

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        return _unwrap([_Guarded(fn)(item) for item in items], fn, self.name)


class JoblibExecutor(Executor):
    """Local worker processes through joblib (loky backend)."""

    name = "joblib"

    def __init__(self, n_jobs: int = -1) -> None:
        self.n_jobs = n_jobs

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        from joblib import Parallel, delayed

        guarded = _Guarded(fn)
        if len(items) <= 1 or self.n_jobs == 1:
            return _unwrap([guarded(item) for item in items], fn, self.name)
        out = Parallel(n_jobs=self.n_jobs)(delayed(guarded)(item) for item in items)
        return _unwrap(list(out), fn, self.name)

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "n_jobs": self.n_jobs}


RAY_MISSING = Text(N_("the Ray backend needs the optional dependency ray: pip install "
                      "privgate[ray] (or choose backend 'joblib')"))


class RayExecutor(Executor):
    """Ray tasks, on a local Ray instance started on first use or on an existing cluster.

    Args:
        address: a cluster to join (``"auto"``, ``"ray://head:10001"``, ``"10.0.0.5:6379"``);
            ``None`` starts a local instance.
        num_cpus: CPUs of a local instance (``None`` = all); ignored when joining a cluster.

    Ray is imported lazily: constructing the executor only checks that it is installed, and
    the instance starts when :meth:`map` first runs. :meth:`close` shuts down an instance this
    executor started (a joined cluster, or an instance started by the caller, is left running).
    """

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        if importlib.util.find_spec("ray") is None:
            raise InputError(RAY_MISSING)
        if num_cpus is not None and num_cpus < 1:
            raise InputError(N_("ray executor: num_cpus must be >= 1, got %(num_cpus)s"),
                             num_cpus=num_cpus)
        self.address = address
        self.num_cpus = num_cpus
        self._started_here = False

    def _ray(self) -> Any:
        import ray

        if not ray.is_initialized():
            try:
                if self.address:
                    ray.init(address=self.address, logging_level=logging.ERROR, log_to_driver=False)
                else:
                    ray.init(num_cpus=self.num_cpus, include_dashboard=False,
                             logging_level=logging.ERROR, log_to_driver=False)
            except ConnectionError as exc:
                raise InputError(N_("ray executor: cannot join the Ray cluster at %(address)r "
                                    "(%(exc)s); check --ray-address"),
                                 address=self.address, exc=exc) from None
            self._started_here = True
        return ray

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        if not items:
            return []
        ray = self._ray()
        guarded = _Guarded(fn)
        task = ray.remote(_run_guarded)
        refs = [task.remote(guarded, item) for item in items]
        return _unwrap(ray.get(refs), fn, self.name)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"backend": self.name, "address": self.address or "local"}
        try:
            import ray

            out["ray_version"] = ray.__version__
            if ray.is_initialized():
                resources: Callable[[], dict[str, float]] = ray.cluster_resources
                out["cluster_cpus"] = resources().get("CPU")
        except ImportError:  # pragma: no cover -- checked in __init__
            pass
        return out

    def close(self) -> None:
        if self._started_here:
            import ray

            ray.shutdown()
            self._started_here = False


def _run_guarded(guarded: Callable[[Any], Any], item: Any) -> Any:
    """The Ray task body (module level so that Ray can ship it to workers)."""
    return guarded(item)


def make_executor(backend: str = "joblib", n_jobs: int = -1,
                  ray_address: str | None = None) -> Executor:
    """The executor named by the ``[execution]`` config (or ``--backend``/``--jobs``).

    Args:
        backend: ``"inline"``, ``"joblib"`` (local processes) or ``"ray"``.
        n_jobs: worker processes for joblib, CPUs of a local Ray instance (-1 = all cores).
        ray_address: a Ray cluster to join; only meaningful with ``backend = "ray"``.
    """
    if backend not in BACKENDS:
        raise InputError(N_("execution backend %(backend)r is unknown; choose one of "
                            "%(backends)s"), backend=backend, backends=list(BACKENDS))
    if n_jobs == 0 or n_jobs < -1:
        raise InputError(N_("execution n_jobs must be a positive number of workers or -1 (all "
                            "cores), got %(n_jobs)s"), n_jobs=n_jobs)
    if ray_address and backend != "ray":
        raise InputError(N_("a Ray address (%(ray_address)r) was given but the execution "
                            "backend is %(backend)r; use backend 'ray' (--backend ray)"),
                         ray_address=ray_address, backend=backend)
    if backend == "inline":
        return InlineExecutor()
    if backend == "joblib":
        return JoblibExecutor(n_jobs)
    return RayExecutor(ray_address, None if n_jobs == -1 else n_jobs)
