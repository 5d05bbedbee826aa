"""An audit's fits: each generator fitted on the training part, sampled and booked in the
privacy ledger -- one after another in this process, or all at once as tasks of a distributed
executor (:mod:`privgate.spread`), with the same booking and the same checks.

On a distributed executor (Ray) every fit is marked started in the ledger before it leaves,
runs in a worker under the same time limit, and comes back as the fitted generator and its raw
table; core checks both here (:func:`privgate.fitting.checked`) and books the outcome by the
rules of :mod:`privgate.fitting`, in the plan's order. A generator that cannot travel (it cannot
be pickled here, or a worker cannot load its module) is fitted here, with a note. Only what
depends on the order differs: a generator that refuses its input (exit 2) no longer keeps the
later ones from training -- they ran at the same time, and are booked as they ended before the
refusal stops the audit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from functools import partial

import pandas as pd

from privgate.attacking import origin_of
from privgate.audit_plan import EXTERNAL, GeneratorRun, Plan
from privgate.config import AuditConfig
from privgate.errors import InputError, plugin_named
from privgate.executor import Executor
from privgate.fitting import booked, checked, claimed_epsilon, fit_booked
from privgate.generator import PrivacySpent
from privgate.isolation import Origin, PluginFault
from privgate.ledger import AuditLedger
from privgate.progress import N_, Progress, note
from privgate.redact import strip_controls
from privgate.registry import Registry
from privgate.schema import Schema
from privgate.sources import AuditData
from privgate.spread import FIT, Call, FitInput, Outcome, pack, send


def _fit_rows(run: GeneratorRun, data: AuditData, seed: int) -> pd.DataFrame:
    """The rows a generator is fitted on: one per person for a private fit when the schema
    declares a person column (person-level DP), else every training row."""
    if run.budget is not None and data.persons is not None:
        from privgate.dp.contribution import one_row_per_person

        return one_row_per_person(data.train, data.persons.train, seed)
    return data.train


def _fitted(run: GeneratorRun, fit: Callable[[], tuple[pd.DataFrame, PrivacySpent]]) -> bool:
    """Keep what a booked ``fit()`` made on ``run``; ``False`` when it failed (fail closed:
    the generator's checks become errors)."""
    try:
        run.synthetic, run.spent = fit()
    except PluginFault as fault:
        run.error = fault.summary()
        run.faults["generator"] = fault.to_dict()
        return False
    return True


def fit_one(run: GeneratorRun, data: AuditData, config: AuditConfig, rows: int | None,
            progress: Progress, registry: Registry, ledger: AuditLedger | None) -> bool:
    """Fit, sample and book one generator here; ``False`` when it failed (its checks become
    errors). An input the generator refused propagates as :class:`InputError` (exit 2)."""
    assert run.generator is not None
    train = _fit_rows(run, data, config.seed)
    with progress.step(f"fit:{run.name}", N_("training %(name)s on %(rows)s rows"),
                       name=run.name, rows=f"{len(train):,}"):
        return _fitted(run, partial(
            fit_booked, run.name, run.generator, run.budget, train,
            data.schema.select(list(data.train.columns)), rows or len(data.train),
            seed=config.seed, origin=origin_of(registry, "generators", run.name),
            timeout_s=config.execution.plugin_timeout_s, ledger=ledger))


def fit_spread(plan: Plan, data: AuditData, config: AuditConfig, rows: dict[str, int | None],
               progress: Progress, registry: Registry, ledger: AuditLedger | None,
               executor: Executor) -> list[GeneratorRun]:
    """Every generator's fit at once on the distributed executor (:mod:`privgate.spread`),
    each marked started in the ledger before it leaves and booked in the plan's order as a fit
    here would be; a generator that cannot travel is fitted here, with a note. Returns the
    runs to attack (the external table's too), in the plan's order. A refused input (exit 2)
    is raised once every fit is booked: the others did train."""
    schema = data.schema.select(list(data.train.columns))
    limit = config.execution.plugin_timeout_s
    runs = [r for r in plan.runs if r.name != EXTERNAL]
    trains = [_fit_rows(r, data, config.seed) for r in runs]
    sizes = [rows.get(r.name) or len(data.train) for r in runs]
    origins = [origin_of(registry, "generators", r.name) for r in runs]
    calls: list[Call | None] = []
    whys: list[str] = []
    for run, train, n, origin in zip(runs, trains, sizes, origins, strict=True):
        inputs, why = pack(FitInput(train, schema, run.budget, n, config.seed))
        plugin, plugin_why = pack(run.generator)
        call = (Call(plugin, FIT, "fit and sample", origin, limit, executor.share(inputs))
                if plugin is not None and inputs is not None else None)
        calls.append(call)
        whys.append(plugin_why or f"its input: {why}")
        if call is not None and ledger is not None:  # it may touch the data once it leaves
            ledger.started(run.name)
    refused: list[InputError] = []
    waiting = progress.step(None, N_("training %(count)s generators on the %(backend)s "
                                     "workers"), count=len(runs),
                            backend=executor.name) if runs else nullcontext()
    with waiting:
        outcomes = send(executor, calls)
        for i, (run, outcome) in enumerate(zip(runs, outcomes, strict=True)):
            started, remote = time.perf_counter(), 0.0
            if outcome is not None and outcome.unsent is None:
                fit: Callable[[], tuple[pd.DataFrame, PrivacySpent]] = partial(
                    booked, run.name, ledger,
                    partial(_read_fit, run, outcome, schema, sizes[i], origins[i]),
                    partial(_claimed, run, outcome))
                remote = outcome.seconds
            else:
                assert run.generator is not None
                note(N_("%(plugin)s runs in this process: a worker cannot take it "
                        "(%(reason)s)"), plugin=plugin_named("generator", run.name),
                     reason=strip_controls(whys[i] if outcome is None else
                                           str(outcome.unsent)))
                fit = partial(fit_booked, run.name, run.generator, run.budget, trains[i],
                              schema, sizes[i], seed=config.seed, origin=origins[i],
                              timeout_s=limit, ledger=ledger)
            try:
                _fitted(run, fit)
            except InputError as exc:  # booked; raised once the others are
                refused.append(exc)
            progress.ran(f"fit:{run.name}", N_("training %(name)s on %(rows)s rows"),
                         remote + time.perf_counter() - started, name=run.name,
                         rows=f"{len(trains[i]):,}")
    if refused:
        raise refused[0]
    for run in plan.runs:
        if run.name == EXTERNAL:
            run.synthetic = data.synthetic
    return [r for r in plan.runs if r.synthetic is not None and r.error is None]


def _read_fit(run: GeneratorRun, outcome: Outcome, schema: Schema, n: int, origin: Origin
              ) -> tuple[pd.DataFrame, PrivacySpent]:
    """A worker's fit read back: the fitted generator replaces ``run``'s, and core checks
    its table and spend here."""
    generator, synthetic = outcome.unwrap(origin)
    run.generator = generator
    return checked(generator, synthetic, run.budget, schema, n, origin)


def _claimed(run: GeneratorRun, outcome: Outcome) -> float | None:
    """The epsilon a failed fit claims: the fitted generator's if it came back, else the
    worker's reading."""
    return claimed_epsilon(run.generator) if outcome.value is not None else (
        outcome.claimed_epsilon)


__all__ = ["fit_one", "fit_spread"]
