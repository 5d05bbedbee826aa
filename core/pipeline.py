"""The audit pipeline: fit each generator on the training part, sample, attack, measure,
apply the policies, and assemble the result document that every report is rendered from.

Fails closed: a generator, attack or metric that raises is recorded as ``error`` with its
message, the remaining checks still run, and the verdict is ``error`` (exit code 3).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from privgate.attack import Attack, AttackContext, AttackResult
from privgate.config import AuditConfig
from privgate.errors import EXIT_INTERNAL_ERROR, EXIT_PASS, EXIT_POLICY_FAILED, InputError
from privgate.executor import Executor, make_executor
from privgate.generator import Generator, PrivacyBudget
from privgate.isolation import Origin, PluginFault, call_plugin, malformed
from privgate.ledger import AuditLedger, PlannedFit, open_audit_ledger
from privgate.metric import Metric, MetricResult
from privgate.policy import CheckOutcome, Status, check, worst
from privgate.progress import Progress
from privgate.registry import Registry
from privgate.results import build_result, jsonable
from privgate.sources import AuditData, load
from privgate.vulnerability import assess, record_risk_sources

EXTERNAL = "external"


@dataclass
class GeneratorRun:
    """What happened to one generator (or one externally made synthetic table)."""

    name: str
    gated: bool
    generator: Generator | None
    params: dict[str, Any]
    budget: PrivacyBudget | None
    description: str = ""
    is_private: bool | None = None
    synthetic: pd.DataFrame | None = None
    error: str | None = None
    attacks: list[tuple[str, AttackResult | None, str | None]] = field(default_factory=list)
    metrics: list[tuple[str, MetricResult | None, str | None]] = field(default_factory=list)
    #: structured plugin failures: "generator", "attack:NAME", "metric:NAME" -> error_detail
    faults: dict[str, dict[str, Any]] = field(default_factory=dict)


def _instantiate(cls: type, params: dict[str, Any], what: str) -> Any:
    try:
        return cls(**params)
    except InputError as exc:
        raise InputError(f"{what}: {exc}") from None
    except TypeError as exc:
        raise InputError(f"{what}: bad parameters {sorted(params)}: {exc}") from None


def _plan(config: AuditConfig, registry: Registry, where: str, has_external: bool
          ) -> tuple[list[GeneratorRun], list[tuple[str, Attack]], list[tuple[str, Metric]]]:
    """Resolve every name and parameter before any slow work, so typos exit 2 at once."""
    runs: list[GeneratorRun] = []
    for i, g in enumerate(config.generators):
        at = f"{where}: generators[{i}] ({g.name})"
        cls = registry.generator(g.name)
        budget = None
        if cls.is_private:
            if g.epsilon is None:
                raise InputError(f"{at}: 'epsilon' is required for the private generator "
                                 f"{g.name!r} (e.g. epsilon = 1.0)")
            budget = PrivacyBudget(g.epsilon, g.delta)
        runs.append(GeneratorRun(g.name, g.gate, _instantiate(cls, g.params, at), g.params,
                                 budget, cls.description, cls.is_private))
    if has_external:
        runs.append(GeneratorRun(EXTERNAL, True, None, {}, None,
                                 "a synthetic table made outside privgate", None))
    if not runs:
        raise InputError(f"{where}: no generator configured and no synthetic table given; add "
                         "a [[generators]] table or pass --generator NAME or --synthetic CSV")
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise InputError(f"{where}: a generator is listed twice: {names}")
    attacks = [(ref.name, _instantiate(registry.attack(ref.name), ref.params,
                                       f"{where}: attack {ref.name!r}"))
               for ref in (config.refs("attacks") or _all(registry.attacks))]
    metrics = [(ref.name, _instantiate(registry.metric(ref.name), ref.params,
                                       f"{where}: metric {ref.name!r}"))
               for ref in (config.refs("metrics") or _all(registry.metrics))]
    for p in config.policies:
        registry.policy(p)
    return runs, attacks, metrics


def _all(table: dict[str, Any]) -> list[Any]:
    """Every registered plugin of a kind that runs by default (``default = False`` opts out)."""
    from privgate.config import PluginRef

    return [PluginRef(name=n) for n in sorted(table)
            if getattr(table[n].obj, "default", True) is not False]


def _origin(registry: Registry | None, kind: str, name: str) -> Origin:
    """Which plugin, distribution and version provide ``name`` (for error reports)."""
    item = registry.provided(kind, name) if registry is not None else None
    if item is None:
        return Origin(name)
    return Origin(name, item.plugin, item.distribution, item.version)


def _fit_and_sample(run: GeneratorRun, data: AuditData, config: AuditConfig, rows: int | None,
                    progress: Progress, registry: Registry | None = None) -> None:
    assert run.generator is not None
    origin = _origin(registry, "generators", run.name)
    limit = config.execution.plugin_timeout_s
    generator = run.generator
    with progress.step(f"fit:{run.name}", f"training {run.name} on {len(data.train):,} rows"):
        try:
            n = rows or len(data.train)

            def fit_and_sample() -> object:  # one time limit covers fit + sample
                generator.fit(data.train.copy(), data.schema.select(list(data.train.columns)),
                              run.budget, seed=config.seed)
                return generator.sample(n, seed=config.seed)

            synthetic = call_plugin(origin, "fit and sample", fit_and_sample, timeout_s=limit)
            try:
                _check_synthetic(synthetic, data, n)
            except (TypeError, ValueError) as exc:
                raise malformed(origin, str(exc)) from None
            assert isinstance(synthetic, pd.DataFrame)
            run.synthetic = synthetic[list(data.train.columns)].reset_index(drop=True)
        except InputError:
            raise
        except PluginFault as fault:  # fail closed: the generator's checks become errors
            run.error = fault.summary()
            run.faults["generator"] = fault.to_dict()
            raise _Failed() from fault


class _Failed(Exception):
    pass


def _check_synthetic(synthetic: object, data: AuditData, n: int) -> None:
    if not isinstance(synthetic, pd.DataFrame):
        raise TypeError(f"sample() returned {type(synthetic).__name__}, not a DataFrame")
    absent = [c for c in data.train.columns if c not in synthetic.columns]
    if absent:
        raise ValueError(f"sample() output lacks column(s) {absent}")
    if len(synthetic) != n:
        raise ValueError(f"sample({n}) returned {len(synthetic)} rows")


def _attack(run: GeneratorRun, data: AuditData, config: AuditConfig,
            attacks: list[tuple[str, Attack]], metrics: list[tuple[str, Metric]],
            progress: Progress, executor: Executor | None = None,
            registry: Registry | None = None) -> None:
    assert run.synthetic is not None
    schema = data.schema.select(list(data.train.columns))
    limit = config.execution.plugin_timeout_s
    for name, attack in attacks:
        ctx = AttackContext(data.train, data.control, run.synthetic, schema, config.seed,
                            config.confidence_level, generator=run.generator,
                            budget=run.budget, executor=executor)
        with progress.step(f"attack:{run.name}:{name}", f"attack {name} on {run.name}"):
            origin = _origin(registry, "attacks", name)
            try:
                result = call_plugin(origin, "run()", attack.run, ctx, timeout_s=limit)
                if not isinstance(result, AttackResult):
                    raise malformed(origin, f"run() returned {type(result).__name__}, "
                                            "not AttackResult")
                if result.risk_kind != attack.risk_kind:
                    raise malformed(origin, f"result risk_kind {result.risk_kind!r} differs "
                                            f"from the attack's declared {attack.risk_kind!r}")
                run.attacks.append((name, result, None))
            except PluginFault as fault:  # recorded, fails the gate
                run.attacks.append((name, None, fault.summary()))
                run.faults[f"attack:{name}"] = fault.to_dict()
            except InputError as exc:  # the attack cannot run on this input: fail closed
                run.attacks.append((name, None, f"{type(exc).__name__}: {exc}"))
    for name, metric in metrics:
        ctx = AttackContext(data.train, data.control, run.synthetic, schema, config.seed,
                            config.confidence_level, generator=run.generator,
                            budget=run.budget, executor=executor)
        with progress.step(f"metric:{run.name}:{name}", f"metric {name} on {run.name}"):
            origin = _origin(registry, "metrics", name)
            try:
                m = call_plugin(origin, "compute()", metric.compute, ctx, timeout_s=limit)
                if not isinstance(m, MetricResult):
                    raise malformed(origin, f"compute() returned {type(m).__name__}, "
                                            "not MetricResult")
                run.metrics.append((name, m, None))
            except PluginFault as fault:  # a crashed plugin makes the verdict error
                run.metrics.append((name, None, fault.summary()))
                run.faults[f"metric:{name}"] = fault.to_dict()
            except InputError as exc:  # not applicable to this table: informs, does not gate
                run.metrics.append((name, None, f"{type(exc).__name__}: {exc}"))


def _checks(runs: list[GeneratorRun], config: AuditConfig, registry: Registry,
            attacks: list[tuple[str, Attack]]) -> list[CheckOutcome]:
    out: list[CheckOutcome] = []
    for policy_name in config.policies:
        policy = registry.policy(policy_name)
        for run in runs:
            covered = set()
            for name, attack in attacks:
                kind = attack.risk_kind
                if kind not in policy.thresholds:
                    continue
                covered.add(kind)
                if run.error is not None:
                    out.append(check(policy, run.name, name, kind, None,
                                     f"generator failed: {run.error}", gated=run.gated))
                    continue
                result, error = next((r, e) for n, r, e in run.attacks if n == name)
                out.append(check(policy, run.name, name, kind, result, error, gated=run.gated))
            for kind in sorted(set(policy.thresholds) - covered):
                # A policy threshold no configured attack measures cannot be certified.
                out.append(CheckOutcome(
                    policy.name, run.name, "(none)", kind, policy.thresholds[kind],
                    Status.CANNOT_CERTIFY, None, None, None, None, None, None,
                    f"no configured attack measures {kind} risk; add one to certify it",
                    run.gated))
    return out


def run_audit(config: AuditConfig, registry: Registry, *, where: str = "config",
              progress: Progress | None = None, out_dir: Path | None = None
              ) -> dict[str, Any]:
    """Run the whole audit and return the result document (what ``results.json`` holds).

    With ``out_dir``, the per-record vulnerability ranking (personal data) is written there as
    ``vulnerable_records.csv``; the document only ever holds its counts.
    """
    progress = progress or Progress()
    started = dt.datetime.now(dt.UTC)
    with progress.step("load", "loading and checking the data"):
        data = load(config, where=where)
    runs, attacks, metrics = _plan(config, registry, where, data.synthetic is not None)
    rows = {g.name: g.rows for g in config.generators}
    ex = config.execution
    executor = make_executor(ex.backend, ex.n_jobs, ex.ray_address)  # one per audit
    ledger: AuditLedger | None = None
    try:
        # Privacy ledger (core/ledger.py): every fit is reserved against the data set's total
        # before any training; an overspend stops the audit here (BudgetError, exit 2).
        ledger = open_audit_ledger(config, data.sha256, data.name, [
            PlannedFit(r.name, None if r.budget is None else r.budget.epsilon,
                       0.0 if r.budget is None else r.budget.delta)
            for r in runs if r.name != EXTERNAL])
        for run in runs:
            if run.name == EXTERNAL:
                run.synthetic = data.synthetic
            else:
                if ledger is not None:
                    ledger.started(run.name)
                try:
                    _fit_and_sample(run, data, config, rows.get(run.name), progress,
                                    registry)
                except _Failed:
                    if ledger is not None:
                        ledger.failed(run.name, run.error or "fit failed")
                    continue
                if ledger is not None:
                    ledger.finished(run.name, run.generator)
            _attack(run, data, config, attacks, metrics, progress, executor, registry)
        execution = executor.describe()
    finally:
        executor.close()
        if ledger is not None:
            ledger.close()
    checks = _checks(runs, config, registry, attacks)
    gated = [c.status for c in checks if c.gated]
    if any(r.error or r.faults for r in runs if r.gated):  # any plugin fault: never pass
        gated.append(Status.ERROR)
    verdict = worst(gated)
    exit_code = {Status.PASS: EXIT_PASS, Status.ERROR: EXIT_INTERNAL_ERROR}.get(
        verdict, EXIT_POLICY_FAILED)
    finished = dt.datetime.now(dt.UTC)
    result = build_result(config=config, registry=registry, data=data, runs=runs,
                          attacks=attacks, metrics=metrics, checks=checks, verdict=verdict,
                          exit_code=exit_code, started=started, finished=finished,
                          durations=progress.durations, execution=execution)
    result["ledger"] = None if ledger is None else ledger.summary()
    # counts and large cells only; the ranking itself goes to vulnerable_records.csv
    result["vulnerability"] = jsonable(assess(
        record_risk_sources(runs), data.train, data.schema.quasi_identifiers,
        config.report.min_cell_size, out_dir, data.train_source_rows))
    return result






__all__ = ["EXTERNAL", "GeneratorRun", "run_audit"]
