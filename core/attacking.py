"""A generator's attacks and metrics: each call made -- in this process, or as a task of an
executor's worker (:mod:`privgate.spread`) -- and its outcome checked, booked and recorded on
the generator's run the same way wherever it ran.

In this process (the inline backend, and the joblib backend on a small table) the attacks and
then the metrics of a generator run one after another, each on fresh copies of the tables.
With an executor that takes the calls (:meth:`privgate.executor.Executor.calls_pool`: Ray
always, joblib on a large table, where its local processes run them side by side) the attacks
and metrics of the fitted generators leave at once, one task each, and their outcomes are
taken in the plan's order, one by one as they come in, as a call made here would be: the
refits an attack makes of the generator are marked started before it leaves
(:meth:`privgate.ledger.AuditLedger.start_refits`) and booked when its outcome is back
(:meth:`~privgate.ledger.AuditLedger.refits`); the result is validated here; a fault, a refusal
and a malformed result are recorded exactly as for a call made here; each call's own time goes
into the step durations. A call that cannot travel runs here, with a note. The attacks seed
themselves from the audit's seed (never from what ran before), so where they run and in what
order changes no figure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial

from privgate import validate
from privgate.attack import Attack, AttackContext
from privgate.audit_plan import GeneratorRun, Plan
from privgate.config import AuditConfig
from privgate.errors import InputError, plugin_named
from privgate.executor import Executor
from privgate.i18n import Translator
from privgate.isolation import Origin, PluginFault, call_plugin
from privgate.ledger import AuditLedger
from privgate.metric import Metric
from privgate.progress import N_, Progress, note
from privgate.redact import strip_controls
from privgate.registry import Registry
from privgate.sources import AuditData
from privgate.spread import Call, Outcome, pack, stream


def origin_of(registry: Registry | None, kind: str, name: str) -> Origin:
    """Which plugin, distribution and version provide ``name`` (for error reports)."""
    item = registry.provided(kind, name) if registry is not None else None
    if item is None:
        return Origin(name)
    return Origin(name, item.plugin, item.distribution, item.version)


def said(progress: Progress, text: str) -> str:
    """A plugin's or a check's text in the console's language (the report's catalogs)."""
    tr = getattr(progress, "tr", None)
    return tr.plugin(text) if isinstance(tr, Translator) else text


@dataclass(frozen=True)
class _Scope:
    """What every call of one audit shares."""

    data: AuditData
    config: AuditConfig
    plan: Plan
    progress: Progress
    executor: Executor | None
    registry: Registry | None
    ledger: AuditLedger | None

    def context(self, run: GeneratorRun, *, copies: bool = True,
                executor: Executor | None = None) -> AttackContext:
        """What an attack or metric sees of ``run``: by default fresh copies of the tables
        (one plugin cannot alter the next's) and the audit's executor."""
        data, synthetic = self.data, run.synthetic
        assert synthetic is not None
        frames = (data.train, data.control, synthetic)
        train, control, synthetic = (f.copy() for f in frames) if copies else frames
        return AttackContext(train, control, synthetic,
                             data.schema.select(list(data.train.columns)), self.config.seed,
                             self.config.confidence_level, generator=run.generator,
                             budget=run.budget, executor=executor or self.executor,
                             persons=data.persons)

    def here(self, run: GeneratorRun, method: Callable[[AttackContext], object], what: str,
             origin: Origin) -> Callable[[], object]:
        """The call made in this process, on fresh copies of the tables."""
        return partial(call_plugin, origin, what, method, self.context(run),
                       timeout_s=self.config.execution.plugin_timeout_s)


def attack_runs(runs: Sequence[GeneratorRun], data: AuditData, config: AuditConfig,
                plan: Plan, progress: Progress, executor: Executor | None = None,
                registry: Registry | None = None, ledger: AuditLedger | None = None) -> None:
    """Run every attack and metric of ``plan`` on each run's synthetic table and record the
    outcomes on the run, in the plan's order: one after another here, or all at once on the
    workers of an ``executor`` that takes the calls (:meth:`Executor.calls_pool`)."""
    scope = _Scope(data, config, plan, progress, executor, registry, ledger)
    pool = None if executor is None else executor.calls_pool(int(data.train.size))
    if pool is not None:
        _spread(runs, scope, pool)
        return
    for run in runs:
        for name, plugin in plan.attacks:
            if _inapplicable(run, name, plan):
                continue
            with progress.step(f"attack:{run.name}:{name}", N_("attack %(name)s on "
                               "%(generator)s"), name=name, generator=run.name):
                origin = origin_of(registry, "attacks", name)
                _record_attack(run, name, plugin, scope.here(run, plugin.run, "run()", origin),
                               scope, origin)
        for name, metric in plan.metrics:
            with progress.step(f"metric:{run.name}:{name}", N_("metric %(name)s on "
                               "%(generator)s"), name=name, generator=run.name):
                origin = origin_of(registry, "metrics", name)
                _record_metric(run, name, scope.here(run, metric.compute, "compute()", origin),
                               origin)


def _inapplicable(run: GeneratorRun, name: str, plan: Plan) -> bool:
    """Record an attack that cannot run on this table (found by the plan); ``False`` if it
    can."""
    if name not in plan.inapplicable:
        return False
    run.attacks.append((name, None, plan.inapplicable[name]))
    run.not_applicable[name] = plan.inapplicable[name]
    return True


def _record_attack(run: GeneratorRun, name: str, attack: Attack,
                   make: Callable[[], object], scope: _Scope, origin: Origin) -> None:
    """Make the attack's call (``make``: here, or read back from a worker) with its refits
    booked around it, check its result and record it on ``run``."""
    ledger, level = scope.ledger, scope.config.confidence_level
    try:
        with nullcontext() if ledger is None else ledger.refits(run.name, name):
            raw = make()
        result = validate.attack_result(raw, name=name, risk_kind=attack.risk_kind,
                                        n_train=len(scope.data.train),
                                        confidence_level=level, origin=origin)
        run.attacks.append((name, result, None))
        for warning in result.warnings:  # e.g. anonymeter's own, shown on the console
            note(N_("%(name)s on %(generator)s: %(warning)s"), name=name,
                 generator=run.name, warning=strip_controls(said(scope.progress, warning)))
    except PluginFault as fault:  # recorded, fails the gate
        run.attacks.append((name, None, fault.summary()))
        run.faults[f"attack:{name}"] = fault.to_dict()
    except InputError as exc:  # cannot run on this table's shape: cannot certify
        reason = strip_controls(str(exc))
        run.attacks.append((name, None, reason))
        run.not_applicable[name] = reason


def _record_metric(run: GeneratorRun, name: str, make: Callable[[], object],
                   origin: Origin) -> None:
    """Make the metric's call, check its result and record it on ``run``."""
    try:
        run.metrics.append((name, validate.metric_result(make(), name=name, origin=origin),
                            None))
    except PluginFault as fault:  # a crashed plugin makes the verdict error
        run.metrics.append((name, None, fault.summary()))
        run.faults[f"metric:{name}"] = fault.to_dict()
    except InputError as exc:  # not applicable to this table: informs, does not gate
        run.metrics.append((name, None, f"{type(exc).__name__}: {exc}"))


@dataclass(frozen=True)
class _Task:
    """One attack or metric of one run, as sent (``call``) or kept here (``why``)."""

    run: GeneratorRun
    kind: str  # "attack" or "metric"
    name: str
    plugin: Attack | Metric
    method: str  # "run" or "compute"
    origin: Origin
    call: Call | None
    why: str

    def record(self, make: Callable[[], object], scope: _Scope) -> None:
        if isinstance(self.plugin, Attack):
            _record_attack(self.run, self.name, self.plugin, make, scope, self.origin)
        else:
            _record_metric(self.run, self.name, make, self.origin)


def _tasks(runs: Sequence[GeneratorRun], scope: _Scope, executor: Executor) -> list[_Task]:
    """Every attack and metric call of ``runs`` in the plan's order (not the attacks the plan
    found inapplicable), packed for a worker where it can be: the context pickled once per
    run and shared by its calls."""
    limit, plan = scope.config.execution.plugin_timeout_s, scope.plan
    out = []
    for run in runs:
        blob, context_why = pack(scope.context(run, copies=False,
                                               executor=executor.for_calls()))
        shared = None if blob is None else executor.share(blob)
        todo: list[tuple[str, str, Attack | Metric, str]] = [
            ("attack", name, a, "run") for name, a in plan.attacks
            if name not in plan.inapplicable]
        todo += [("metric", name, m, "compute") for name, m in plan.metrics]
        for kind, name, plugin, method in todo:
            origin = origin_of(scope.registry, f"{kind}s", name)
            packed, why = pack(plugin)
            call = (None if packed is None or shared is None else
                    Call(packed, method, f"{method}()", origin, limit, shared))
            out.append(_Task(run, kind, name, plugin, method, origin, call,
                             why if shared is not None else f"its input: {context_why}"))
    return out


def _spread(runs: Sequence[GeneratorRun], scope: _Scope, executor: Executor) -> None:
    """All attacks and metrics of ``runs`` at once on the executor's workers; the outcomes
    taken in the plan's order as they come in (see the module docstring)."""
    progress, ledger = scope.progress, scope.ledger
    tasks = _tasks(runs, scope, executor)
    if ledger is not None:  # the refits may touch the data as soon as the attack leaves
        for task in tasks:
            if task.kind == "attack" and task.call is not None:
                ledger.start_refits(task.run.name, task.name)
    waiting = progress.step(None, N_("running %(count)s attacks and metrics on the "
                                     "%(backend)s workers"), count=len(tasks),
                            backend=executor.name) if tasks else nullcontext()
    with waiting:
        taken = iter(zip(tasks, stream(executor, [t.call for t in tasks]), strict=True))
        done = 0
        for run in runs:
            for name, _ in scope.plan.attacks:
                if not _inapplicable(run, name, scope.plan):
                    _take(*next(taken), scope)
                    done += 1
                    progress.advance(done, len(tasks), "calls")
            for _ in scope.plan.metrics:
                _take(*next(taken), scope)
                done += 1
                progress.advance(done, len(tasks), "calls")


def _take(task: _Task, outcome: Outcome | None, scope: _Scope) -> None:
    """Record one call's outcome (a worker's, or the call made here when it could not
    travel) and its step."""
    run, name = task.run, task.name
    started = time.perf_counter()
    if outcome is not None and outcome.unsent is None:
        task.record(partial(outcome.unwrap, task.origin), scope)
        seconds = outcome.seconds + time.perf_counter() - started
    else:
        note(N_("%(plugin)s on %(generator)s runs in this process: a worker cannot take it "
                "(%(reason)s)"), plugin=plugin_named(task.kind, name), generator=run.name,
             reason=strip_controls(task.why if outcome is None else str(outcome.unsent)))
        task.record(scope.here(run, getattr(task.plugin, task.method), f"{task.method}()",
                               task.origin), scope)
        seconds = time.perf_counter() - started
    description = (N_("attack %(name)s on %(generator)s") if task.kind == "attack"
                   else N_("metric %(name)s on %(generator)s"))
    scope.progress.ran(f"{task.kind}:{run.name}:{name}", description, seconds, name=name,
                       generator=run.name)


__all__ = ["attack_runs", "origin_of", "said"]
