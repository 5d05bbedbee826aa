"""Policies: named threshold profiles that turn attack results into a verdict.

A check passes only when the upper bound of the attack's confidence interval is at or below the
threshold. When even a perfect attack result could not get its upper bound under the threshold
with the number of trials the attack ran, the check is ``cannot-certify`` -- never ``pass`` --
and says how many trials it would need.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from privgate.attack import RISK_KINDS, AttackResult
from privgate.errors import EXIT_INTERNAL_ERROR, EXIT_PASS, EXIT_POLICY_FAILED
from privgate.stats import BINOMIAL_METHODS, trials_to_certify


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
            upper confidence bound. Attacks of other kinds are reported but not gated.
        references: citations for the thresholds.
    """

    name: str
    title: str
    description: str
    thresholds: Mapping[str, float]
    references: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for kind, value in self.thresholds.items():
            if kind not in RISK_KINDS:
                raise ValueError(f"policy {self.name!r}: unknown risk kind {kind!r}")
            if not 0 <= value <= 1:
                raise ValueError(f"policy {self.name!r}: threshold for {kind} must be in "
                                 f"[0, 1], got {value}")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "description": self.description,
                "thresholds": dict(self.thresholds), "references": list(self.references)}


@dataclass(frozen=True)
class CheckOutcome:
    """One policy check: one attack's risk on one generator's output against one threshold."""

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

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, "generator": self.generator, "attack": self.attack,
                "risk_kind": self.risk_kind, "threshold": self.threshold,
                "status": str(self.status), "risk": self.risk, "ci_low": self.ci_low,
                "ci_high": self.ci_high, "confidence_level": self.confidence_level,
                "n_trials": self.n_trials, "trials_needed": self.trials_needed,
                "message": self.message, "gated": self.gated,
                "interval_method": self.extra.get("interval_method"),
                "certification": self.extra.get("certification")}


def certification(result: AttackResult, threshold: float) -> dict[str, Any]:
    """Whether the attack's sample can certify ``threshold`` at all, and how many trials would.

    * A binomial interval (``result.binomial_method`` is ``"exact"`` or ``"wilson"``): the
      smallest number of trials whose zero-success upper bound, under that very method and
      level, is at most the threshold -- computed exactly
      (:func:`privgate.stats.trials_to_certify`).
    * Another interval with the attack's own leak-free bound ``null_upper``: the threshold is
      out of reach when ``null_upper`` exceeds it; the trials needed assume the bound shrinks as
      one over the square root of the trials (an approximation, said in ``method``).
    * Neither: the exact (Clopper-Pearson) zero-success bound, the most lenient honest
      assumption for a rate over ``n_trials`` trials.

    Returns the ``certification`` block of a check: ``method``, ``level``, ``trials_needed``
    (``None`` when no finite sample reaches the threshold), ``trials_available`` and
    ``can_certify``.
    """
    level = result.confidence_level
    n = result.n_trials
    if result.binomial_method is not None or result.null_upper is None:
        method = result.binomial_method or "exact"
        if result.binomial_method is not None and result.binomial_level is not None:
            level = result.binomial_level
        needed = trials_to_certify(threshold, level, method)
        can = needed is not None and n >= needed
        how = (f"zero-success {BINOMIAL_METHODS[method]} upper bound at {level:.4g} "
               f"confidence, inverted "
               "exactly: the fewest trials for which a perfect result's upper bound is at or "
               "below the threshold")
        if result.binomial_method is None:
            how += " (the attack's interval is not binomial; the exact bound is assumed)"
    else:
        null_upper = float(result.null_upper)
        can = null_upper <= threshold
        needed = (None if threshold <= 0 else
                  max(n, math.ceil(n * (null_upper / threshold) ** 2)))
        how = (f"the attack's own upper bound on a leak-free table of this size "
               f"({null_upper:.4g}), scaled as one over the square root of the trials")
    return {"method": how, "level": level, "trials_needed": needed, "trials_available": n,
            "can_certify": bool(can)}


def check(policy: Policy, generator: str, attack: str, risk_kind: str,
          result: AttackResult | None, error: str | None = None, *, gated: bool = True,
          not_applicable: str | None = None) -> CheckOutcome:
    """Hold one attack result (or its error) against the policy's threshold for its kind.

    Order of the decision: a lower bound above the threshold is a ``fail`` whatever the sample
    size; otherwise a sample too small to certify the threshold is ``cannot-certify`` (never
    ``pass``); otherwise the upper bound decides between ``pass`` and ``fail``. An attack that
    could not run on this table's shape (``not_applicable``, the reason) is ``cannot-certify``:
    nothing was measured, so nothing is certified, but nothing crashed either.
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
    cert = certification(result, threshold)
    needed = cert["trials_needed"]
    pct = f"{result.confidence_level:.0%}"
    bound = f"upper {pct} bound {result.ci_high:.4g} vs threshold {threshold:.4g}"
    if result.ci_low > threshold:
        status, msg = Status.FAIL, f"fail: even the lower {pct} bound {result.ci_low:.4g} " \
                                   f"exceeds the threshold {threshold:.4g}"
    elif not cert["can_certify"]:
        status = Status.CANNOT_CERTIFY
        need = ("no finite number of trials (records) can certify it" if needed is None
                else f"{needed:,} trials (records) are needed")
        msg = (f"cannot certify: with {result.n_trials:,} attack trials even a table that "
               f"leaks nothing would show an upper bound above {threshold:.4g} ({bound}); "
               f"{need}")
    elif result.ci_high <= threshold:
        status, msg = Status.PASS, f"pass: {bound}"
    else:
        status, msg = Status.FAIL, f"fail: {bound}"
    return CheckOutcome(policy.name, generator, attack, risk_kind, threshold, status,
                        result.risk, result.ci_low, result.ci_high, result.confidence_level,
                        result.n_trials, needed, msg, gated,
                        extra={"interval_method": result.interval_method,
                               "certification": cert})


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
