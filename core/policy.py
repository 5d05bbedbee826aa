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
from privgate.stats import trials_to_certify


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
                "message": self.message, "gated": self.gated}


def check(policy: Policy, generator: str, attack: str, risk_kind: str,
          result: AttackResult | None, error: str | None = None, *, gated: bool = True
          ) -> CheckOutcome:
    """Hold one attack result (or its error) against the policy's threshold for its kind."""
    threshold = policy.thresholds[risk_kind]
    if result is None:
        return CheckOutcome(policy.name, generator, attack, risk_kind, threshold, Status.ERROR,
                            None, None, None, None, None, None,
                            f"the attack did not produce a result: {error or 'unknown error'}",
                            gated)
    needed = trials_to_certify(threshold, result.confidence_level)
    too_few = needed is None or result.n_trials < needed
    if result.null_upper is not None:
        # The attack knows its own interval: at this size a leak-free table would still show
        # an upper bound of null_upper; the width shrinks as 1/sqrt(trials).
        too_few = result.null_upper > threshold
        needed = (None if threshold <= 0 else
                  max(result.n_trials, math.ceil(result.n_trials *
                                                 (result.null_upper / threshold) ** 2)))
    pct = f"{result.confidence_level:.0%}"
    bound = f"upper {pct} bound {result.ci_high:.4g} vs threshold {threshold:.4g}"
    if result.ci_high <= threshold:
        status, msg = Status.PASS, f"pass: {bound}"
    elif result.ci_low > threshold:
        status, msg = Status.FAIL, f"fail: even the lower {pct} bound {result.ci_low:.4g} " \
                                   f"exceeds the threshold {threshold:.4g}"
    elif too_few:
        status = Status.CANNOT_CERTIFY
        need = "no finite number of" if needed is None else f"about {needed:,}"
        msg = (f"cannot certify: with {result.n_trials:,} attack trials even a table that "
               f"leaks nothing would show an upper bound above {threshold:.4g} ({bound}); "
               f"{need} trials (records) are needed")
    else:
        status, msg = Status.FAIL, f"fail: {bound}"
    return CheckOutcome(policy.name, generator, attack, risk_kind, threshold, status,
                        result.risk, result.ci_low, result.ci_high, result.confidence_level,
                        result.n_trials, needed, msg, gated)


def worst(statuses: Iterable[Status]) -> Status:
    """The verdict of a group of checks; an empty group cannot be certified."""
    present = set(statuses)
    for status in SEVERITY:
        if status in present:
            return status
    return Status.CANNOT_CERTIFY
