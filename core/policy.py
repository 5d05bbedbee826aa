"""Policies: named threshold profiles that turn attack results into a verdict.

A gate asks "is the risk at most T?" and answers with one-sided bounds at the audit's level
(:mod:`privgate.certification`, exact where the attack gave its counts):

* ``fail`` -- the *lower* bound exceeds T (or the policy's lower fail threshold for that kind,
  :attr:`Policy.fail_thresholds`): the risk is above it with the stated confidence. A
  generator whose true risk is at or below it fails with probability at most alpha (the
  check's type-I error).
* ``pass`` -- the *upper* bound is at or below T, and a leak-free result could reach that with
  the trials that ran. A generator whose true risk is above T passes with probability at most
  alpha; a check too small to certify T never passes.
* ``cannot-certify`` -- neither: either the table cannot certify T at all (even a leak-free
  result would show a bound above it with every trial the table can supply; the check says why
  and how many trials would), too few trials ran, or the evidence is inconclusive (the bounds
  straddle T; the message says on which side the best estimate lies).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from privgate.attack import RISK_KINDS, AttackResult
from privgate.certification import Assessment, assess
from privgate.errors import EXIT_INTERNAL_ERROR, EXIT_PASS, EXIT_POLICY_FAILED


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    CANNOT_CERTIFY = "cannot-certify"
    ERROR = "error"


#: Worst first: the verdict of a group of checks is the worst status among them.
SEVERITY = (Status.ERROR, Status.FAIL, Status.CANNOT_CERTIFY, Status.PASS)


@dataclass(frozen=True)
class Policy:
    """A named threshold profile.

    Attributes:
        name: identifier used in configs and on the command line.
        title: a short human title.
        description: what the profile is for and where its thresholds come from.
        thresholds: risk kind (see :data:`privgate.attack.RISK_KINDS`) -> highest acceptable
            upper confidence bound (a check passes at or below it). Attacks of other kinds are
            reported but not gated.
        references: citations for the thresholds.
        fail_thresholds: risk kind -> the level a check fails above (its lower bound must
            exceed it), at most the threshold; unset kinds fail above their threshold. A lower
            one says "any demonstrated risk above this fails, even under the pass threshold":
            e.g. 0 for verbatim copies of unique records, which no release may show more of
            than chance, while a pass only needs the copy rate bounded below what a finite
            table can certify. A generator whose risk is at or below the fail threshold fails
            with probability at most alpha.
    """

    name: str
    title: str
    description: str
    thresholds: Mapping[str, float]
    references: tuple[str, ...] = ()
    fail_thresholds: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for kind, value in self.thresholds.items():
            if kind not in RISK_KINDS:
                raise ValueError(f"policy {self.name!r}: unknown risk kind {kind!r}")
            if not 0 <= value <= 1:
                raise ValueError(f"policy {self.name!r}: threshold for {kind} must be in "
                                 f"[0, 1], got {value}")
        for kind, value in self.fail_thresholds.items():
            if kind not in self.thresholds or not 0 <= value <= self.thresholds[kind]:
                raise ValueError(f"policy {self.name!r}: the fail threshold for {kind} must "
                                 "be between 0 and that kind's threshold")

    def fail_threshold(self, kind: str) -> float:
        """The level a check of ``kind`` fails above."""
        return float(self.fail_thresholds.get(kind, self.thresholds[kind]))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "description": self.description,
                "thresholds": dict(self.thresholds),
                "fail_thresholds": {k: self.fail_threshold(k) for k in self.thresholds},
                "references": list(self.references)}


@dataclass(frozen=True)
class CheckOutcome:
    """One policy check: one attack's risk on one generator's output against one threshold.

    ``ci_low`` and ``ci_high`` are the one-sided lower and upper bounds the decision used
    (each at ``confidence_level``), equal to ``lower_bound`` and ``upper_bound``; ``risk`` is
    core's estimate where the attack gave counts.
    """

    policy: str
    generator: str
    attack: str
    risk_kind: str
    threshold: float
    status: Status
    risk: float | None
    ci_low: float | None
    ci_high: float | None
    confidence_level: float | None
    n_trials: int | None
    trials_needed: int | None
    message: str
    gated: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    bound_method: str | None = None
    fail_threshold: float | None = None
    trials_planned: int | None = None
    trials_available: int | None = None
    power: float | None = None
    certifiable_on_table: bool | None = None
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, "generator": self.generator, "attack": self.attack,
                "risk_kind": self.risk_kind, "threshold": self.threshold,
                "fail_threshold": (self.threshold if self.fail_threshold is None
                                   else self.fail_threshold),
                "status": str(self.status), "risk": self.risk, "ci_low": self.ci_low,
                "ci_high": self.ci_high, "confidence_level": self.confidence_level,
                "n_trials": self.n_trials, "trials_needed": self.trials_needed,
                "message": self.message, "gated": self.gated,
                "upper_bound": self.ci_high, "lower_bound": self.ci_low,
                "bound_method": self.bound_method, "trials_planned": self.trials_planned,
                "trials_run": self.n_trials, "trials_available": self.trials_available,
                "power": self.power, "certifiable_on_table": self.certifiable_on_table,
                "warnings": list(self.warnings),
                "power_null": self.extra.get("power_null"),
                "comparisons": self.extra.get("comparisons", []),
                "interval_method": self.extra.get("interval_method"),
                "certification": self.extra.get("certification")}


def _block(a: Assessment) -> dict[str, Any]:
    """The ``certification`` block of a check: whether this table can certify the threshold
    at all (``can_certify``), how many trials would, the power and the evidence used."""
    return {"method": a.method, "level": a.level, "trials_needed": a.trials_needed,
            "trials_available": a.trials_available, "can_certify": a.certifiable,
            "power": a.power, "null_upper": a.null_upper, "evidence": a.source}


def _decide(a: Assessment, threshold: float, fail_at: float, attack: str
            ) -> tuple[Status, str]:
    """The status and its reason, in plain words with the numbers."""
    pct = f"{a.level:.0%}"
    side = ("above" if a.risk > threshold else "at or below")
    estimate = f"the best estimate, {a.risk:.4g}, is {side} the threshold"
    if a.lower > fail_at:
        what = (f"the threshold {threshold:.4g}" if fail_at == threshold else
                f"{fail_at:.4g}, the level this policy fails above (it passes at or below "
                f"{threshold:.4g})")
        return Status.FAIL, (f"fail: even the lower {pct} one-sided bound {a.lower:.4g} exceeds "
                             f"{what} (estimate {a.risk:.4g})")
    if not a.certifiable:
        need = ("no number of trials can certify it" if a.trials_needed is None else
                f"certifying it needs about {a.trials_needed:,} trials (records) where this "
                f"table allows {a.trials_available:,}")
        return Status.CANNOT_CERTIFY, (
            f"cannot certify on this table: {'; '.join(a.reasons)}; {need} (privgate plan "
            f"shows what would: a larger control fraction, fewer secrets, more rows); "
            f"{estimate}")
    if not a.certifiable_run:
        return Status.CANNOT_CERTIFY, (
            f"cannot certify with the {a.trials_run:,} trials run: a leak-free result needs "
            f"{a.trials_needed or 0:,} and the table allows {a.trials_available:,}; run "
            f"{attack} with more trials; {estimate}")
    if a.upper <= threshold:
        return Status.PASS, (f"pass: upper {pct} one-sided bound {a.upper:.4g} is at or below "
                             f"the threshold {threshold:.4g} (estimate {a.risk:.4g}, "
                             f"{a.trials_run:,} trials)")
    return Status.CANNOT_CERTIFY, (
        f"not certified: the upper {pct} bound {a.upper:.4g} is above the threshold "
        f"{threshold:.4g} while the lower bound {a.lower:.4g} is not; {estimate}")


def check(policy: Policy, generator: str, attack: str, risk_kind: str,
          result: AttackResult | None, error: str | None = None, *, gated: bool = True,
          not_applicable: str | None = None) -> CheckOutcome:
    """Hold one attack result (or its error) against the policy's threshold for its kind.

    Order of the decision (see the module docstring): a lower bound above the threshold is a
    ``fail`` whatever the sample size; otherwise a table or a sample too small to certify the
    threshold is ``cannot-certify`` (never ``pass``); otherwise an upper bound at or below the
    threshold is a ``pass``, and anything else is ``cannot-certify`` (inconclusive). An attack
    that could not run on this table's shape (``not_applicable``, the reason) is
    ``cannot-certify``: nothing was measured, so nothing is certified, but nothing crashed.
    """
    threshold = policy.thresholds[risk_kind]
    if result is None and not_applicable is not None:
        return CheckOutcome(policy.name, generator, attack, risk_kind, threshold,
                            Status.CANNOT_CERTIFY, None, None, None, None, None, None,
                            f"cannot certify: the attack could not run on this table: "
                            f"{not_applicable}", gated)
    if result is None:
        return CheckOutcome(policy.name, generator, attack, risk_kind, threshold, Status.ERROR,
                            None, None, None, None, None, None,
                            f"the attack did not produce a result: {error or 'unknown error'}",
                            gated)
    a = assess(result, threshold)
    fail_at = policy.fail_threshold(risk_kind)
    status, msg = _decide(a, threshold, fail_at, attack)
    return CheckOutcome(
        policy.name, generator, attack, risk_kind, threshold, status, a.risk, a.lower, a.upper,
        a.level, a.trials_run, a.trials_needed, msg, gated,
        extra={"interval_method": result.interval_method, "certification": _block(a),
               "power_null": a.power_null, "comparisons": list(a.comparisons)},
        bound_method=a.method, fail_threshold=fail_at, trials_planned=a.trials_planned,
        trials_available=a.trials_available, power=a.power, certifiable_on_table=a.certifiable,
        warnings=a.warnings)


def gated_attacks(policy: Policy, attacks: Sequence[tuple[str, Any]]
                  ) -> tuple[list[tuple[str, Any]], list[str]]:
    """The ``(name, attack)`` pairs ``policy`` gates (their risk kind has a threshold), and the
    risk kinds it thresholds that none of them measures (never certifiable)."""
    mine = [(name, a) for name, a in attacks if a.risk_kind in policy.thresholds]
    covered = {a.risk_kind for _, a in mine}
    return mine, sorted(set(policy.thresholds) - covered)


def verdict_and_exit_code(gated: Iterable[Status], *, plugin_fault: bool = False
                          ) -> tuple[Status, int]:
    """The audit's verdict and exit code from its gated checks' statuses (core's rule).

    The worst status wins; any plugin fault on a gated generator makes the verdict ``error``
    even when its checks look fine. Exit codes: 0 pass, 1 fail or cannot-certify, 3 error.
    """
    statuses = list(gated)
    if plugin_fault:
        statuses.append(Status.ERROR)
    verdict = worst(statuses)
    code = {Status.PASS: EXIT_PASS, Status.ERROR: EXIT_INTERNAL_ERROR}.get(
        verdict, EXIT_POLICY_FAILED)
    return verdict, code


def worst(statuses: Iterable[Status]) -> Status:
    """The verdict of a group of checks; an empty group cannot be certified."""
    present = set(statuses)
    for status in SEVERITY:
        if status in present:
            return status
    return Status.CANNOT_CERTIFY
