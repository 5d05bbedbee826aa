"""The audit pipeline: fit each generator on the training part, sample, attack, measure,
apply the policies, and assemble the result document that every report is rendered from.

Fails closed: a generator, attack or metric that raises is recorded as ``error`` with its
message, the remaining checks still run, and the verdict is ``error`` (exit code 3).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from privgate.attack import Attack, AttackContext, AttackResult
from privgate.config import AuditConfig
from privgate.errors import EXIT_INTERNAL_ERROR, EXIT_PASS, EXIT_POLICY_FAILED, InputError
from privgate.executor import Executor
from privgate.generator import Generator, PrivacyBudget
from privgate.metric import Metric, MetricResult
from privgate.policy import CheckOutcome, Status, check, worst
from privgate.progress import Progress
from privgate.registry import Registry
from privgate.results import build_result
from privgate.sources import AuditData, load

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
    from privgate.config import PluginRef

    return [PluginRef(name=n) for n in sorted(table)]


def _fit_and_sample(run: GeneratorRun, data: AuditData, config: AuditConfig, rows: int | None,
                    progress: Progress) -> None:
    assert run.generator is not None
    with progress.step(f"fit:{run.name}", f"training {run.name} on {len(data.train):,} rows"):
        try:
            run.generator.fit(data.train.copy(), data.schema.select(list(data.train.columns)),
                              run.budget, seed=config.seed)
            n = rows or len(data.train)
            synthetic = run.generator.sample(n, seed=config.seed)
            _check_synthetic(synthetic, data, n)
            run.synthetic = synthetic[list(data.train.columns)].reset_index(drop=True)
        except InputError:
            raise
        except Exception as exc:  # fail closed: the generator's checks become errors
            run.error = f"{type(exc).__name__}: {exc}"
            raise _Failed() from exc


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
            progress: Progress, executor: Executor | None = None) -> None:
    assert run.synthetic is not None
    schema = data.schema.select(list(data.train.columns))
    for name, attack in attacks:
        ctx = AttackContext(data.train, data.control, run.synthetic, schema, config.seed,
                            config.confidence_level, generator=run.generator,
                            budget=run.budget, executor=executor)
        with progress.step(f"attack:{run.name}:{name}", f"attack {name} on {run.name}"):
            try:
                result = attack.run(ctx)
                if not isinstance(result, AttackResult):
                    raise TypeError(f"run() returned {type(result).__name__}, not AttackResult")
                if result.risk_kind != attack.risk_kind:
                    raise ValueError(f"result risk_kind {result.risk_kind!r} differs from the "
                                     f"attack's declared {attack.risk_kind!r}")
                run.attacks.append((name, result, None))
            except Exception as exc:  # noqa: BLE001 -- recorded, fails the gate
                run.attacks.append((name, None, f"{type(exc).__name__}: {exc}"))
    for name, metric in metrics:
        ctx = AttackContext(data.train, data.control, run.synthetic, schema, config.seed,
                            config.confidence_level, generator=run.generator,
                            budget=run.budget, executor=executor)
        with progress.step(f"metric:{run.name}:{name}", f"metric {name} on {run.name}"):
            try:
                m = metric.compute(ctx)
                if not isinstance(m, MetricResult):
                    raise TypeError(f"compute() returned {type(m).__name__}, not MetricResult")
                run.metrics.append((name, m, None))
            except Exception as exc:  # noqa: BLE001 -- metrics inform, they do not gate
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
              progress: Progress | None = None) -> dict[str, Any]:
    """Run the whole audit and return the result document (what ``results.json`` holds)."""
    progress = progress or Progress()
    started = dt.datetime.now(dt.UTC)
    with progress.step("load", "loading and checking the data"):
        data = load(config, where=where)
    runs, attacks, metrics = _plan(config, registry, where, data.synthetic is not None)
    rows = {g.name: g.rows for g in config.generators}
    for run in runs:
        if run.name == EXTERNAL:
            run.synthetic = data.synthetic
        else:
            try:
                _fit_and_sample(run, data, config, rows.get(run.name), progress)
            except _Failed:
                continue
        _attack(run, data, config, attacks, metrics, progress)
    checks = _checks(runs, config, registry, attacks)
    gated = [c.status for c in checks if c.gated]
    if any(r.error for r in runs if r.gated):
        gated.append(Status.ERROR)
    verdict = worst(gated)
    exit_code = {Status.PASS: EXIT_PASS, Status.ERROR: EXIT_INTERNAL_ERROR}.get(
        verdict, EXIT_POLICY_FAILED)
    finished = dt.datetime.now(dt.UTC)
    return build_result(config=config, registry=registry, data=data, runs=runs,
                        attacks=attacks, metrics=metrics, checks=checks, verdict=verdict,
                        exit_code=exit_code, started=started, finished=finished,
                        durations=progress.durations)






__all__ = ["EXTERNAL", "GeneratorRun", "run_audit"]
