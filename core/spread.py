"""Plugin calls as executor tasks: an audit's fits, attacks and metrics on a Ray cluster, or a
large table's attacks and metrics side by side on local processes.

With a distributed executor (``--backend ray``; :attr:`privgate.executor.Executor.distributed`)
the audit sends every generator's fit and every attack's and metric's call to the executor as a
task of its own; the joblib executor takes a large table's attacks and metrics
(:meth:`~privgate.executor.Executor.calls_pool`). Either way the audit keeps all that core does
around them in the driver (the process running ``privgate audit``): the ledger's reservations
and bookings, the checks of what a plugin returned (:mod:`privgate.validate`), fault records,
the order of the results, the verdict.

A :class:`Call` carries the plugin object, pickled here with plain :mod:`pickle` (a class
travels as its module's name: every node needs the plugin installed), and its input -- an
attack's or metric's :class:`~privgate.attack.AttackContext`, a fit's :class:`FitInput` --
pickled once and shared by the calls that read it (:meth:`~privgate.executor.Executor.share`:
on Ray the object store). In the worker :func:`run_call` rebuilds both, gives an attack or
metric its own copies of the tables (as the driver does for each call), and makes the call
through :func:`privgate.isolation.call_plugin` under the same time limit. An :class:`Outcome`
comes back: what the call returned (pickled in the worker), or its fault (kind and message), or
the :class:`~privgate.errors.InputError` it raised, and the seconds it took;
:meth:`Outcome.unwrap` returns or raises it in the driver as the call would have there. A fit
sends back the fitted generator with its table (the attacks read both), and on failure the
epsilon the generator claims (the ledger books at least that).

Where a call cannot travel it runs in the driver, with a note: a plugin object or input that
cannot be pickled here (:func:`pack`), or one a worker cannot rebuild (:attr:`Outcome.unsent`:
a plugin module only the driver can import, such as one loaded from a path). Nothing of it ran
in a worker, so nothing runs twice. A call that did run but whose result cannot be pickled back
is a malformed result (``PluginFault``), never run again: it may have refitted the generator on
the data. Ray does not retry a task whose worker died (:class:`privgate.executor.RayExecutor`),
for the same reason: the audit stops with an internal error and the ledger keeps what was
running as spent.

A call that runs past its time limit in a worker is abandoned there as it is in the driver
(:mod:`privgate.isolation`): it runs on in that worker until the audit's Ray job ends. While a
call runs on its thread, the task's main thread does the call's waits for Ray (the nested tasks
of shadow fits or per-secret jobs; :func:`privgate.executor.plugin_waiter`): only then does Ray
lend the task's CPU to the tasks it waits for, so that a cluster whose every CPU runs an attack
cannot deadlock.
"""

from __future__ import annotations

import math
import pickle
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from privgate.attack import AttackContext
from privgate.errors import InputError, Text
from privgate.executor import Executor, Shared
from privgate.fitting import claimed_epsilon, fit_and_sample
from privgate.generator import PrivacyBudget
from privgate.isolation import Origin, PluginFault, call_plugin, malformed
from privgate.ray_waits import plugin_waiter
from privgate.schema import Schema

#: :attr:`Call.method` of a generator's fit and sample (an attack's is ``"run"``, a metric's
#: ``"compute"``).
FIT = "fit"


@dataclass(frozen=True)
class FitInput:
    """What a generator's fit reads: the training rows, their schema, the budget, how many
    rows to sample and the seed (the arguments of :func:`privgate.fitting.fit_and_sample`)."""

    train: pd.DataFrame
    schema: Schema
    budget: PrivacyBudget | None
    n: int
    seed: int


@dataclass(frozen=True)
class Call:
    """One plugin call for a worker.

    Attributes:
        plugin: the plugin object (attack, metric, unfitted generator), pickled.
        method: ``"run"``, ``"compute"`` or :data:`FIT`.
        what: how messages name the call (``"run()"``, ``"fit and sample"``).
        origin: who provides the plugin (for its faults).
        timeout_s: the per-plugin time limit (``None``: none).
        data: the pickled :class:`~privgate.attack.AttackContext` or :class:`FitInput`.
    """

    plugin: bytes
    method: str
    what: str
    origin: Origin
    timeout_s: float | None
    data: Shared[bytes]


@dataclass(frozen=True)
class Outcome:
    """How a call ended in a worker: ``value`` (what it returned, pickled; a fit's is the
    fitted generator and its table), or ``fault`` (a :class:`PluginFault`'s kind and
    message), or ``refused`` (the :class:`InputError` it raised), or ``unsent`` (why the worker
    could not rebuild the call: it never ran). ``claimed_epsilon``: what a failed fit's
    generator claims to have spent; ``seconds``: how long the call took there."""

    value: bytes | None = None
    fault: tuple[str, str] | None = None
    refused: InputError | None = None
    unsent: str | None = None
    claimed_epsilon: float | None = None
    seconds: float = 0.0

    def unwrap(self, origin: Origin) -> Any:
        """What the call returned, or its fault or refusal raised, as in the driver."""
        if self.refused is not None:
            raise self.refused
        if self.fault is not None:
            raise PluginFault(origin, *self.fault)
        try:
            return pickle.loads(self.value or b"")
        except Exception as exc:  # noqa: BLE001 -- whatever the plugin's objects do
            raise malformed(origin, f"what the worker sent back cannot be read here "
                                    f"({type(exc).__name__}: {exc})") from None


def pack(value: object) -> tuple[bytes | None, str]:
    """``value`` pickled for a worker, or ``None`` and why it cannot be."""
    try:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), ""
    except Exception as exc:  # noqa: BLE001 -- whatever the plugin's objects do
        return None, f"it cannot be pickled: {type(exc).__name__}: {exc}"


def fresh(context: AttackContext) -> AttackContext:
    """``context`` with its own copies of the tables (one call cannot alter the next's), the
    persons read-only again."""
    persons = None if context.persons is None else replace(context.persons)
    return replace(context, train=context.train.copy(), control=context.control.copy(),
                   synthetic=context.synthetic.copy(), persons=persons)


def _fit(generator: Any, data: FitInput) -> tuple[Any, object]:
    return generator, fit_and_sample(generator, data.budget, data.train, data.schema, data.n,
                                     seed=data.seed)


def _portable(exc: InputError) -> InputError:
    """``exc`` if it survives pickling, else an :class:`InputError` with its message and
    spend (a non-number spend becomes NaN: the ledger then keeps the fit as spent)."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 -- whatever the plugin's error holds
        text = getattr(exc, "text", None)
        out = InputError(text if isinstance(text, Text) and text == str(exc) else str(exc))
        spent = getattr(exc, "spent_epsilon", 0.0)
        out.spent_epsilon = (float(spent) if isinstance(spent, int | float)
                             and not isinstance(spent, bool) else math.nan)
        return out


def run_call(call: Call) -> Outcome:
    """The task body, in a worker: rebuild the call, make it, send back how it ended."""
    started = time.perf_counter()
    try:
        plugin = pickle.loads(call.plugin)
        data = pickle.loads(call.data.get())
    except Exception as exc:  # noqa: BLE001 -- nothing ran: the driver runs it instead
        return Outcome(unsent=f"{type(exc).__name__}: {exc}")
    fit = call.method == FIT

    def took() -> float:
        return time.perf_counter() - started

    waiter = plugin_waiter()  # on Ray: the main thread does the call's waits for Ray
    try:
        if fit:
            value = call_plugin(call.origin, call.what, _fit, plugin, data,
                                timeout_s=call.timeout_s, waiter=waiter)
        else:
            value = call_plugin(call.origin, call.what, getattr(plugin, call.method),
                                fresh(data), timeout_s=call.timeout_s, waiter=waiter)
    except InputError as exc:
        return Outcome(refused=_portable(exc), seconds=took())
    except PluginFault as fault:
        return Outcome(fault=(fault.kind, fault.message), seconds=took(),
                       claimed_epsilon=claimed_epsilon(plugin) if fit else None)
    blob, why = pack(value)
    if blob is None:
        return Outcome(fault=("malformed", f"{call.what} returned what cannot be sent back "
                                           f"from the worker: {why}"), seconds=took(),
                       claimed_epsilon=claimed_epsilon(plugin) if fit else None)
    return Outcome(value=blob, seconds=took())


def stream(executor: Executor, calls: Sequence[Call | None]) -> Iterator[Outcome | None]:
    """Every call run over ``executor`` at once, outcomes in the order of ``calls`` as they
    come in; a ``None`` call (one that stays in the driver) has a ``None`` outcome."""
    sending = [c for c in calls if c is not None]
    found = executor.imap(run_call, sending) if sending else iter([])
    for call in calls:
        yield None if call is None else next(found)


def send(executor: Executor, calls: Sequence[Call | None]) -> list[Outcome | None]:
    """:func:`stream`'s outcomes, all of them."""
    return list(stream(executor, calls))


__all__ = ["FIT", "Call", "FitInput", "Outcome", "fresh", "pack", "run_call", "send", "stream"]
