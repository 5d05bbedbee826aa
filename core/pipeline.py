"""The audit pipeline: fit each generator on the training part, sample, attack, measure,
apply the policies, and assemble the result document that every report is rendered from.

Core trusts nothing a plugin returns. Every generator output, privacy spend, attack result and
metric result is re-validated and rebuilt by :mod:`privgate.validate`; every plugin string and
``details`` tree passes :class:`privgate.redact.DataGuard`; the verdict and the exit code are
computed here from the checks, never read back from a plugin.

Fails closed: a generator, attack or metric that raises or returns malformed output is
recorded as ``error`` with its message, the remaining checks still run, and the verdict is
``error`` (exit code 3). An attack that cannot run on this table's shape (too few rows or
columns) is ``cannot-certify`` with the reason (exit code 1). Anything the user named that
cannot run on their input is refused before any slow work (exit code 2).

The fits (:mod:`privgate.training`) and the attacks and metrics (:mod:`privgate.attacking`) run
here one after another, or, on a distributed executor (``--backend ray``), as tasks on its
workers (:mod:`privgate.spread`) with the same checks, ledger bookings and result document;
everything else stays in this process.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from privgate.attack import Attack
from privgate.attacking import attack_runs
from privgate.audit_plan import EXTERNAL, GeneratorRun, Plan, plan_audit
from privgate.config import AuditConfig
from privgate.dp_claim import CANARY_KIND, CHECK, DpClaim, assess_claim
from privgate.errors import InputError
from privgate.executor import Executor, make_executor
from privgate.ledger import AuditLedger, PlannedFit, open_audit_ledger, refit_fits
from privgate.outputs import prepare_output_dir
from privgate.persons import PER_PERSON, PER_ROW, privacy_unit
from privgate.planning import PlanReport, plan_checks
from privgate.policy import (
    CheckOutcome,
    Status,
    check,
    gated_attacks,
    verdict_and_exit_code,
    worst,
)
from privgate.progress import N_, Progress, note, translate
from privgate.redact import DataGuard, strip_controls
from privgate.registry import Registry
from privgate.results import build_result, jsonable
from privgate.sources import AuditData, load
from privgate.training import fit_one, fit_spread
from privgate.vulnerability import assess, record_risk_sources


def _refits(plan: Plan) -> list[PlannedFit]:
    """The fits the attacks make of each fitted generator on the training rows (booked like
    fits: :mod:`privgate.ledger`)."""
    out: list[PlannedFit] = []
    for run in plan.runs:
        for name, attack in plan.attacks:
            count = attack.refits()
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise TypeError(f"attack {name!r}: refits() must be an int >= 0, got {count!r}")
            if run.name != EXTERNAL and name not in plan.inapplicable:
                out += refit_fits(run.name, name, count,
                                  None if run.budget is None else run.budget.epsilon,
                                  0.0 if run.budget is None else run.budget.delta, PER_ROW)
    return out


def _checks(runs: list[GeneratorRun], config: AuditConfig, registry: Registry,
            attacks: list[tuple[str, Attack]]) -> list[CheckOutcome]:
    out: list[CheckOutcome] = []
    for policy_name in config.policies:
        policy = registry.policy(policy_name)
        mine, uncovered = gated_attacks(policy, attacks)
        for run in runs:
            for name, attack in mine:
                kind = attack.risk_kind
                if run.error is not None:
                    out.append(check(policy, run.name, name, kind, None,
                                     f"generator failed: {run.error}", gated=run.gated))
                    continue
                result, error = next((r, e) for n, r, e in run.attacks if n == name)
                out.append(check(policy, run.name, name, kind, result, error, gated=run.gated,
                                 not_applicable=run.not_applicable.get(name)))
            for kind in uncovered:
                # A policy threshold no configured attack measures cannot be certified.
                out.append(CheckOutcome(
                    policy.name, run.name, "(none)", kind, policy.thresholds[kind],
                    Status.CANNOT_CERTIFY, None, None, None, None, None, None,
                    f"no configured attack measures {kind} risk; add one to certify it",
                    run.gated))
    return out


#: How a verdict reads in the console's summary lines.
STATUS_WORDS = {Status.PASS: N_("pass"), Status.FAIL: N_("fail"),
                Status.CANNOT_CERTIFY: N_("cannot-certify"), Status.ERROR: N_("error")}


def summaries(checks: list[CheckOutcome], runs: list[GeneratorRun]) -> list[str]:
    """One plain line per generator and policy: its verdict, what decided it, and -- for a
    baseline -- whether the gate caught it (what the console shows before the tables)."""
    out = []
    for run in runs:
        for policy in dict.fromkeys(c.policy for c in checks):
            mine = [c for c in checks if c.generator == run.name and c.policy == policy]
            if not mine:
                continue
            verdict = worst(c.status for c in mine)
            by = {s: [c.attack for c in mine if c.status is s] for s in Status}
            who = (run.name if run.gated else
                   translate(N_("%(name)s (baseline, not gated)"), name=run.name))
            parts = [translate(N_("%(who)s under %(policy)s: %(verdict)s"), who=who,
                               policy=policy, verdict=translate(STATUS_WORDS[verdict]).upper())]
            if by[Status.FAIL]:
                parts.append(translate(N_("caught by %(attacks)s"),
                                       attacks=", ".join(by[Status.FAIL])))
            table = [c.attack for c in mine if c.status is Status.CANNOT_CERTIFY
                     and c.certifiable_on_table is False]
            if table:
                parts.append(translate(N_("this table cannot certify %(attacks)s (privgate "
                                          "plan says what would)"), attacks=", ".join(table)))
            rest = [a for a in by[Status.CANNOT_CERTIFY] if a not in table]
            if rest:
                parts.append(translate(N_("not certified: %(attacks)s"),
                                       attacks=", ".join(rest)))
            parts.append(translate(N_("%(passed)s of %(total)s checks pass"),
                                   passed=len(by[Status.PASS]), total=len(mine)))
            out.append("; ".join(parts))
    return out


def _fit_all(plan: Plan, data: AuditData, config: AuditConfig, registry: Registry,
             ledger: AuditLedger | None, progress: Progress, executor: Executor) -> None:
    """Fit every generator (booking each in the ledger) and attack its output: one generator
    after another, or on a distributed executor every fit at once and then every attack."""
    rows = {g.name: g.rows for g in config.generators}
    if executor.distributed:
        fitted = fit_spread(plan, data, config, rows, progress, registry, ledger, executor)
        attack_runs(fitted, data, config, plan, progress, executor, registry, ledger)
        return
    for run in plan.runs:
        if run.name == EXTERNAL:
            run.synthetic = data.synthetic
        elif not fit_one(run, data, config, rows.get(run.name), progress, registry, ledger):
            continue
        attack_runs([run], data, config, plan, progress, executor, registry, ledger)


def _dp_claims(runs: list[GeneratorRun], config: AuditConfig, ledger: AuditLedger | None,
               kinds: dict[str, str], progress: Progress) -> dict[str, DpClaim]:
    """Each generator's ``dp-claim`` check (:mod:`privgate.dp_claim`); a refuted fit is marked
    in the ledger."""
    with progress.step(CHECK, N_("testing the epsilon each private generator claims")):
        out = {run.name: assess_claim(
            run.name, run.spent, gated=run.gated, level=config.confidence_level,
            attacks=run.attacks, failed=run.error is not None,
            unaudited=[(name, reason) for name, reason in run.not_applicable.items()
                       if kinds.get(name) == CANARY_KIND]) for run in runs}
        for claim in out.values():
            if claim.refuted and ledger is not None:
                ledger.refuted(claim.generator, claim.message)
            if claim.claimed_epsilon is not None:
                note(N_("%(check)s on %(generator)s: %(outcome)s"), check=CHECK,
                     generator=claim.generator, outcome=claim.message)
    return out


def _advice(config: AuditConfig, registry: Registry, where: str, data: AuditData,
            progress: Progress, executor: Executor | None = None) -> PlanReport | None:
    """The audit's first step: what this table can certify (:mod:`privgate.planning`), its
    warnings printed before any training. Advice only: a plan that fails is a note, never a
    stop."""
    with progress.step("plan", N_("checking what this table can certify")):
        try:
            advice = plan_checks(config, registry, where, data, executor)
        except Exception as exc:  # noqa: BLE001 -- a plan is advice; the audit goes on
            note(N_("the plan could not be made (%(error)s)"),
                 error=strip_controls(f"{type(exc).__name__}: {exc}"))
            return None
        for line in advice.warnings(getattr(progress, "tr", None)):  # console's language
            note(N_("plan: %(line)s"), line=strip_controls(line))
    return advice


@dataclass(frozen=True)
class AuditRun:
    """An audit's result document and the guard built from its real tables (the report
    sections written later pass through the same guard)."""

    result: dict[str, Any]
    guard: DataGuard
    #: every generator run, with the synthetic table it produced (the released artefact is
    #: written from these: privgate.outputs.write_released)
    runs: tuple[GeneratorRun, ...] = ()


def run_audit(config: AuditConfig, registry: Registry, *, where: str = "config",
              progress: Progress | None = None, out_dir: Path | None = None
              ) -> dict[str, Any]:
    """Run the whole audit and return the result document (what ``results.json`` holds)."""
    return audit(config, registry, where=where, progress=progress, out_dir=out_dir).result


def audit(config: AuditConfig, registry: Registry, *, where: str = "config",
          progress: Progress | None = None, out_dir: Path | None = None) -> AuditRun:
    """Run the whole audit: the result document and the data guard.

    With ``out_dir``, the folder is checked (and created) after the inputs are checked and
    before any budget is reserved or any generator trained, and the per-record vulnerability
    ranking (personal data) is written there as ``vulnerable_records.csv`` (owner-only
    permissions); the document only ever holds its counts.
    """
    progress = progress or Progress()
    started = dt.datetime.now(dt.UTC)
    with progress.step("load", N_("loading and checking the data")):
        data = load(config, where=where)
    plan = plan_audit(config, registry, where, data)
    runs, attacks, metrics = plan.runs, plan.attacks, plan.metrics
    ex = config.execution
    executor = make_executor(ex.backend, ex.n_jobs, ex.ray_address)  # one per audit
    ledger: AuditLedger | None = None
    try:
        advice = _advice(config, registry, where, data, progress, executor)
        if out_dir is not None:
            prepare_output_dir(out_dir)
        guard = DataGuard([data.train, data.control], data.schema, config.report.min_cell_size,
                          public_numbers=(data.n_rows, len(data.train), len(data.control)))
        # Privacy ledger (core/ledger.py): every fit is reserved against the data set's total
        # before any training; an overspend stops the audit here (BudgetError, exit 2). Each
        # entry records its unit: private fits see one row per person with a person column;
        # the attacks' refits of a generator on the training rows are booked like fits.
        ledger = open_audit_ledger(config, data.sha256, data.name, [
            PlannedFit(r.name, None if r.budget is None else r.budget.epsilon,
                       0.0 if r.budget is None else r.budget.delta,
                       unit=PER_ROW if data.persons is None else PER_PERSON)
            for r in runs if r.name != EXTERNAL] + _refits(plan))
        try:
            _fit_all(plan, data, config, registry, ledger, progress, executor)
        except InputError as exc:
            raise guard.error(exc) from None
        claims = _dp_claims(runs, config, ledger, {n: a.risk_kind for n, a in attacks},
                            progress)
        execution = executor.describe()
    finally:
        executor.close()
        if ledger is not None:
            ledger.close()
    with progress.step("verdict", N_("deciding the checks")):
        checks = _checks(runs, config, registry, attacks)
        for line in summaries(checks, runs):
            note(strip_controls(line))
    verdict, exit_code = verdict_and_exit_code(
        [c.status for c in checks if c.gated]
        + [Status(c.status) for c in claims.values() if c.gated],
        plugin_fault=any(r.error or r.faults for r in runs if r.gated))
    finished = dt.datetime.now(dt.UTC)
    result = build_result(config=config, registry=registry, data=data, runs=runs,
                          attacks=attacks, metrics=metrics, checks=checks, verdict=verdict,
                          exit_code=exit_code, started=started, finished=finished,
                          durations=progress.durations, execution=execution, guard=guard)
    for gen in result["generators"]:
        gen["dp_claim"] = jsonable(guard.data(claims[gen["name"]].to_dict()))
    result["ledger"] = None if ledger is None else ledger.summary()
    bounded = data.persons is not None and any(  # private fits saw one row per person
        r.budget is not None and r.name != EXTERNAL for r in runs)
    result["privacy_unit"] = jsonable(privacy_unit(  # what epsilon protects
        data.persons, PER_PERSON if bounded else PER_ROW))
    if result["ledger"] is not None:
        result["ledger"]["unit"] = result["privacy_unit"]["epsilon_protects"]
    result["plan"] = None if advice is None else jsonable(guard.data(advice.to_dict()))
    # counts and large cells only; the ranking itself goes to vulnerable_records.csv
    result["vulnerability"] = jsonable(assess(
        record_risk_sources(runs), data.train, data.schema.quasi_identifiers,
        config.report.min_cell_size, out_dir, data.train_source_rows,
        public_columns=[c.name for c in data.schema.modelled
                        if c.has_public_domain and not c.data_dependent],
        persons=None if data.persons is None else data.persons.train))
    return AuditRun(result, guard, tuple(runs))


__all__ = ["EXTERNAL", "AuditRun", "GeneratorRun", "audit", "run_audit"]
