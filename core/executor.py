"""One executor for independent work: shadow-model fits, repeated fits, per-target jobs.

``InlineExecutor`` runs in this process; ``JoblibExecutor`` on local processes (the default for
heavy attacks); ``RayExecutor`` on a local Ray instance or an existing Ray cluster (``--backend
ray``, ``--ray-address``; ``pip install privgate[ray]``). :func:`make_executor` builds one from
the ``[execution]`` config. Functions and items must be picklable (module-level functions, plain
data).

Every backend returns results in the order of the items, and an exception raised by ``fn`` in a
worker is re-raised in the caller as the same exception type, with a note naming the function,
the item's position and the backend (plus the worker's traceback).

A value every item of a map reads (the tables) is sent once with :meth:`Executor.share`: the
items carry the :class:`Shared` handle, and a worker reads it with :meth:`Shared.get` (on Ray,
from the object store of its node). A :attr:`~Executor.distributed` executor (Ray) may run work
on other machines: the audit then sends it whole plugin calls too -- fits, attacks, metrics,
an attack's per-secret work (:mod:`privgate.spread`). On one machine the joblib executor takes
the attacks and metrics of a large table (:meth:`Executor.calls_pool`), side by side on a few of
its local processes; fits stay in the calling process, and so does everything on a small table
(starting workers and copying the tables into them would cost more than the overlap saves).
"""

from __future__ import annotations

import importlib.util
import logging
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from privgate.errors import N_, InputError, Text
from privgate.ray_waits import ray_get

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


def _unwrapping(results: Iterable[R | _Failure], fn: Callable[..., Any], backend: str,
               total: int) -> Iterator[R]:
    """The results as they come; a worker's exception raised here, with a note."""
    for i, r in enumerate(results):
        if isinstance(r, _Failure):
            name = getattr(fn, "__qualname__", repr(fn))
            r.error.add_note(f"raised by {name} on item {i} of {total} "
                             f"({backend} executor); worker traceback:\n{r.trace}")
            raise r.error
        yield r


def _unwrap(results: Sequence[R | _Failure], fn: Callable[..., Any], backend: str) -> list[R]:
    return list(_unwrapping(results, fn, backend, len(results)))


class Shared(Generic[T]):
    """A value sent once for every item of a map (:meth:`Executor.share`): this one holds the
    value itself, so it travels with each item that carries it."""

    def __init__(self, value: T) -> None:
        self._value = value

    def get(self) -> T:
        """The value (in a worker: its copy)."""
        return self._value


class _RayShared(Shared[T]):
    """A value in Ray's object store: items carry the reference, workers fetch the value."""

    def __init__(self, ref: Any) -> None:  # no value here: only its reference
        self._ref = ref

    def get(self) -> T:
        value: T = ray_get(self._ref)
        return value


class Executor(ABC):
    """Runs ``fn`` over ``items`` and returns results in the order of ``items``."""

    name: str = "executor"
    #: whether work may run on other machines (Ray): the audit then also sends it whole fits,
    #: attacks and metrics, and an attack its per-secret work; on one machine fits and
    #: per-secret work stay in the calling process, and attacks and metrics too unless the
    #: table is large (:meth:`calls_pool`)
    distributed: bool = False

    @abstractmethod
    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """Apply ``fn`` to every item; results keep the order of ``items``."""

    def imap(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        """:meth:`map` as results come in, in the order of ``items`` (this one: all at once,
        when every item is done)."""
        return iter(self.map(fn, items))

    def calls_pool(self, cells: int) -> Executor | None:
        """The executor the audit sends whole attack, plan and metric calls over on a training
        table of ``cells`` cells (rows times columns), or ``None`` when they stay in the calling
        process: a distributed executor takes them all."""
        return self if self.distributed else None

    def for_calls(self) -> Executor:
        """The executor a plugin call sees (its context's) when it runs on one of this
        executor's workers: this one by default (Ray sends nested tasks to its cluster)."""
        return self

    def share(self, value: T) -> Shared[T]:
        """``value`` as every item of the maps to come may carry it: sent to the workers once
        where the backend can (Ray's object store), else with each item."""
        return Shared(value)

    def describe(self) -> dict[str, Any]:
        """What ran the work, for provenance."""
        return {"backend": self.name}

    def close(self) -> None:  # noqa: B027 -- optional hook, most executors hold nothing
        """Release workers or clusters this executor started (no-op by default)."""


class InlineExecutor(Executor):
    """Runs everything in the calling process, one item after another."""

    name = "inline"

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        return list(self.imap(fn, items))

    def imap(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        guarded = _Guarded(fn)
        return _unwrapping((guarded(item) for item in items), fn, self.name, len(items))


#: A training table of at least this many cells (rows times columns) has its attacks and
#: metrics run side by side on the joblib executor's processes (:meth:`Executor.calls_pool`).
#: Below it they run one after another in the calling process: a worker's start (importing
#: privgate, torch and scikit-learn: a few seconds) and the copy of the tables sent to it would
#: cost more than running two calls at once saves. Adult's 32,561 x 15 is above it; the tests'
#: tables of a few hundred rows are far below it.
CALLS_IN_PROCESSES_FROM = 250_000
#: At most this many calls run side by side on one machine: each worker holds its own copy of
#: the tables and its call's working memory (about 1.5 GiB for diabetes130's 81,000 x 50), and
#: a default audit's longest call (augmentation, singling out) bounds its time from about four
#: workers on.
CALLS_AT_ONCE = 4


class JoblibExecutor(Executor):
    """Local worker processes through joblib (loky backend)."""

    name = "joblib"

    def __init__(self, n_jobs: int = -1) -> None:
        self.n_jobs = n_jobs

    def workers(self) -> int:
        """How many processes a map runs on (``n_jobs``, or every core for -1)."""
        from joblib import cpu_count

        return self.n_jobs if self.n_jobs > 0 else max(1, cpu_count())

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        return list(self.imap(fn, items))

    def imap(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        from joblib import Parallel, delayed

        guarded = _Guarded(fn)
        if len(items) <= 1 or self.n_jobs == 1:
            return _unwrapping((guarded(item) for item in items), fn, self.name, len(items))
        out = Parallel(n_jobs=self.n_jobs, return_as="generator")(
            delayed(guarded)(item) for item in items)
        return _unwrapping(out, fn, self.name, len(items))

    def calls_pool(self, cells: int) -> Executor | None:
        """A large table's calls (:data:`CALLS_IN_PROCESSES_FROM`), when there is more than one
        worker, over at most :data:`CALLS_AT_ONCE` of them."""
        workers = self.workers()
        if workers < 2 or cells < CALLS_IN_PROCESSES_FROM:
            return None
        return JoblibExecutor(min(workers, CALLS_AT_ONCE))

    def for_calls(self) -> Executor:
        """Inline: the calls side by side already hold the cores, and a call's own maps
        (shadow fits, canary runs) in threads of its worker would share torch's global seed."""
        return InlineExecutor()

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
    :meth:`describe` counts the tasks this executor sent to each node of the cluster (not the
    tasks those tasks sent on: an attack's shadow fits inside a worker count there).

    The executor travels with an attack's context to the workers, where it sends nested tasks
    to the same cluster (Ray lends a task's CPU back while it waits for them); a copy never
    shuts Ray down.
    """

    name = "ray"
    distributed = True

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        if importlib.util.find_spec("ray") is None:
            raise InputError(RAY_MISSING)
        if num_cpus is not None and num_cpus < 1:
            raise InputError(N_("ray executor: num_cpus must be >= 1, got %(num_cpus)s"),
                             num_cpus=num_cpus)
        self.address = address
        self.num_cpus = num_cpus
        self._started_here = False
        self._per_node: dict[str, int] = {}

    def __getstate__(self) -> dict[str, Any]:
        """A copy for a worker: it did not start Ray and has sent nothing yet."""
        return {**self.__dict__, "_started_here": False, "_per_node": {}}

    def _ray(self) -> Any:
        import ray

        if not ray.is_initialized():
            try:
                if self.address:
                    ray.init(address=self.address, logging_level=logging.ERROR, log_to_driver=False)
                else:  # a new instance, even beside a cluster `ray start` began here
                    ray.init(address="local", num_cpus=self.num_cpus, include_dashboard=False,
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
        # never run again when a worker dies: the task may have touched the data (a fit, a
        # refit) and ran as far as it got; the audit stops and the ledger keeps it spent
        task = ray.remote(max_retries=0)(_run_guarded)
        refs = [task.remote(guarded, item) for item in items]
        done: list[tuple[str, Any]] = ray_get(refs)
        for node, _ in done:
            self._per_node[node] = self._per_node.get(node, 0) + 1
        return _unwrap([result for _, result in done], fn, self.name)

    def share(self, value: T) -> Shared[T]:
        return _RayShared(self._ray().put(value))

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
        if self._per_node:  # node ids as Ray names them, with the tasks each ran
            out["tasks_per_node"] = dict(sorted(self._per_node.items()))
        return out

    def close(self) -> None:
        if self._started_here:
            import ray

            ray.shutdown()
            self._started_here = False


def _run_guarded(guarded: Callable[[Any], Any], item: Any) -> tuple[str, Any]:
    """The Ray task body (module level so that Ray can ship it to workers): the node it ran
    on, and the guarded result."""
    import ray

    return ray.get_runtime_context().get_node_id(), guarded(item)


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
