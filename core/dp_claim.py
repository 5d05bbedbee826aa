"""The ``dp-claim`` check: can the membership attacks' evidence refute a generator's epsilon?

An (epsilon, delta)-DP generator bounds every membership adversary: at any threshold fixed in
advance, its true-positive rate (members flagged) and false-positive rate (non-members flagged)
satisfy ``TPR <= exp(epsilon) * FPR + delta`` and ``1 - FPR <= exp(epsilon) * (1 - TPR) +
delta`` (Kairouz, Oh & Viswanath 2015; Jagielski, Ullman & Oprea 2020). So every operating
point an attack reports (:class:`~privgate.operating_points.OperatingPoint`: members and
non-members flagged, counted on records that did not choose the threshold) gives an empirical
lower bound::

    epsilon >= max(log((TPR_low - delta) / FPR_high), log((1 - FPR_high - delta) / (1 - TPR_low)))

with ``TPR_low`` and ``FPR_high`` one-sided Clopper-Pearson bounds computed here from the
counts (nothing an attack computed is read). A canary audit (``dp-audit``) adds its guesses
(:class:`~privgate.operating_points.CanaryGuesses`), bounded by the one-run method of Steinke,
Nasr & Jagielski (:mod:`privgate.dp_audit_bounds`); a multi-run canary audit (``mode =
"multi-run"``) reports an operating point whose trials are independent training runs, bounded
like any other (kind ``multi-run``). All the bounds of one generator hold
together at the audit's level: each of its ``k`` pieces of evidence gets ``alpha / k``
(Bonferroni; an operating point splits it between its two binomial bounds), and the largest
epsilon bound is taken. The check

* **fails** when that lower bound exceeds the epsilon the generator reports: a generator whose
  claim is true fails with probability at most alpha;
* **passes** when the evidence does not refute the claim (this never proves the claim: the
  attacks may be weak; the canary audit ``dp-audit`` probes harder);
* is **cannot-certify** when a canary audit was asked for and could not audit the generator
  (gated: never a pass; the reason is given), or (reported, not gated) when no membership
  attack gave any evidence; and **not-applicable** for a non-private fit.

The bound treats the scored records as independent trials of the membership game (the
standard reading of a population membership attack); the one-run canary audit
(``dp-audit``) needs no such assumption.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from privgate.dp_audit_bounds import one_run_epsilon, rates_epsilon
from privgate.errors import N_, Text
from privgate.operating_points import OperatingPoint
from privgate.policy import Status
from privgate.redact import strip_controls

if TYPE_CHECKING:
    from privgate.attack import AttackResult
    from privgate.generator import PrivacySpent

__all__ = ["CHECK", "DpClaim", "assess_claim", "claim_problems", "claim_statuses",
           "epsilon_bound"]

#: The check's name, in results.json and the report.
CHECK = "dp-claim"
#: How the bound is computed, in words (results.json ``method``).
METHOD = ("epsilon >= max(log((TPR_low - delta) / FPR_high), log((1 - FPR_high - delta) / "
          "(1 - TPR_low))) at each operating point a membership attack fixed on records it "
          "did not count; TPR_low and FPR_high one-sided Clopper-Pearson bounds computed by "
          "privgate from the counts; canary guesses: the one-run bound of Steinke, Nasr & "
          "Jagielski (2023); a multi-run canary audit's runs: the operating-point bound over "
          "independent runs (Nasr et al. 2023); each of the k pieces of evidence (operating "
          "points and canary guess sets) at significance alpha / k (Bonferroni; an operating "
          "point's two bounds at alpha / (2 k) each), the largest bound taken")
#: The risk kind of canary audits: one that did not run leaves the claim uncertified.
CANARY_KIND = "canary-membership"
#: Statuses of a claim, besides :class:`~privgate.policy.Status`'s.
NOT_APPLICABLE = "not-applicable"


def epsilon_bound(point: OperatingPoint, delta: float, level: float
                  ) -> tuple[float, float, float]:
    """``(epsilon lower bound, TPR_low, FPR_high)`` of one operating point, each binomial
    bound one-sided at ``level``; the epsilon bound is 0 when the point refutes nothing
    (:func:`privgate.dp_audit_bounds.rates_epsilon`)."""
    return rates_epsilon(point.members_flagged, point.members, point.nonmembers_flagged,
                         point.nonmembers, delta, level)


@dataclass(frozen=True)
class DpClaim:
    """One generator's ``dp-claim`` check (``results.json``: ``generators[i].dp_claim``)."""

    generator: str
    status: str
    gated: bool
    message: str
    claimed_epsilon: float | None = None
    delta: float | None = None
    epsilon_lower_bound: float | None = None
    level: float | None = None
    points: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @property
    def refuted(self) -> bool:
        return self.status == str(Status.FAIL)

    def to_dict(self) -> dict[str, Any]:
        return {"check": CHECK, "generator": self.generator, "status": self.status,
                "gated": self.gated, "message": self.message,
                "claimed_epsilon": self.claimed_epsilon, "delta": self.delta,
                "epsilon_lower_bound": self.epsilon_lower_bound, "level": self.level,
                "method": METHOD if self.points else None, "points": list(self.points)}


def assess_claim(generator: str, spent: PrivacySpent | None, *, gated: bool, level: float,
                 attacks: Sequence[tuple[str, AttackResult | None, str | None]],
                 failed: bool = False, unaudited: Sequence[tuple[str, str]] = ()) -> DpClaim:
    """Hold ``generator``'s reported (epsilon, delta) against its attacks' evidence.

    ``spent`` is core's validated spend (``None`` or an infinite epsilon: not private);
    ``failed``: the fit itself failed (nothing to check); ``unaudited``: ``(attack, reason)``
    for each canary audit that was asked for and could not run on this generator. Only a
    private fit's claim is gated (see the module docstring).
    """
    if failed or spent is None or not math.isfinite(spent.epsilon):
        why = ("the generator failed" if failed else
               "the generator does not claim differential privacy")
        return DpClaim(generator, NOT_APPLICABLE, False, f"not applicable: {why}")
    eps, delta = float(spent.epsilon), float(spent.delta)
    points = [(name, p, result.risk_kind == CANARY_KIND) for name, result, _ in attacks
              if result is not None for p in result.operating_points]
    guesses = [(name, g) for name, result, _ in attacks if result is not None
               for g in result.canary_guesses]
    alpha = (1.0 - level) / max(1, len(points) + len(guesses))
    rows: list[dict[str, Any]] = []
    for name, p, runs in points:  # a canary audit's points count training runs
        bound, tpr_low, fpr_high = epsilon_bound(p, delta, 1.0 - alpha / 2)
        rows.append({"attack": name, "kind": "multi-run" if runs else "operating-point",
                     **p.to_dict(),
                     "tpr_low": tpr_low, "fpr_high": fpr_high, "epsilon_lower_bound": bound,
                     "level": 1.0 - alpha / 2})
    for name, g in guesses:
        rows.append({"attack": name, "kind": "canaries", **g.to_dict(), "level": 1.0 - alpha,
                     "epsilon_lower_bound": one_run_epsilon(g.canaries, g.guesses, g.correct,
                                                            delta, alpha)})
    pct = f"{level:.0%}"
    low = max((float(r["epsilon_lower_bound"]) for r in rows), default=None)
    if low is not None and low > eps:
        best = max(rows, key=lambda r: float(r["epsilon_lower_bound"]))
        return DpClaim(generator, str(Status.FAIL), gated, Text(N_(
            "fail: the claim is refuted: %(attack)s shows epsilon >= %(low)s at %(pct)s "
            "confidence, above the claimed epsilon %(eps)s; no (%(eps)s, %(delta)s)-DP "
            "generator could show this"), attack=strip_controls(str(best["attack"])),
            low=f"{low:.3g}", pct=pct, eps=f"{eps:.3g}", delta=f"{delta:.3g}"), eps, delta, low,
            level, tuple(rows))
    if unaudited:
        why = strip_controls("; ".join(f"{name}: {reason}" for name, reason in unaudited))
        return DpClaim(generator, str(Status.CANNOT_CERTIFY), gated, Text(N_(
            "cannot certify: the canary audit could not audit this generator (%(why)s)"),
            why=why), eps, delta, low, level, tuple(rows))
    if low is None:
        return DpClaim(generator, str(Status.CANNOT_CERTIFY), False, Text(N_(
            "cannot certify: no membership attack reported an operating point, so nothing "
            "tested the claimed epsilon (run dcr-membership or low-fpr-membership)")), eps,
            delta, None, level)
    return DpClaim(generator, str(Status.PASS), gated, Text(N_(
        "pass: not refuted: the attacks show epsilon >= %(low)s at %(pct)s confidence, at or "
        "below the claimed %(eps)s (this does not prove the claim)"), low=f"{low:.3g}",
        pct=pct, eps=f"{eps:.3g}"), eps, delta, low, level, tuple(rows))


def _claims(result: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    out = []
    for g in result.get("generators") or []:
        if isinstance(g, Mapping) and isinstance(g.get("dp_claim"), Mapping):
            out.append(g["dp_claim"])
    return out


def claim_statuses(result: Mapping[str, Any]) -> list[Status]:
    """The statuses of a result document's gated ``dp-claim`` checks (they join the verdict);
    an unreadable status is ``error``."""
    out = []
    gated = {g.get("name"): g.get("gated", True) for g in result.get("generators") or []
             if isinstance(g, Mapping)}
    for c in _claims(result):
        if c.get("gated") is not True or gated.get(c.get("generator")) is False:
            continue
        try:
            out.append(Status(str(c.get("status"))))
        except ValueError:
            out.append(Status.ERROR)
    return out


def claim_problems(result: Mapping[str, Any]) -> list[str]:
    """What in a document's ``dp-claim`` checks contradicts its numbers (a refuted claim
    shown green, a fail without a bound above its claim)."""
    out = []
    for c in _claims(result):
        status, low, eps = c.get("status"), c.get("epsilon_lower_bound"), c.get(
            "claimed_epsilon")
        where = f"dp-claim of {c.get('generator')} says {status}"
        if not (isinstance(low, int | float) and isinstance(eps, int | float)) or isinstance(
                low, bool) or isinstance(eps, bool):
            if status in ("pass", "fail"):
                out.append(f"{where} without its bound and claim")
            continue
        if status == "fail" and not low > eps:
            out.append(f"{where} but its bound {low} is not above the claim {eps}")
        elif status == "pass" and low > eps:
            out.append(f"{where} but its bound {low} is above the claim {eps} (that is a fail)")
    return out
