"""``low-fpr-membership``: membership inference judged where a small leak shows, at low FPR.

The membership advantage (the best TPR - FPR over all thresholds) averages over every record: a
generator that copies 1% of its training rows moves it by about 0.01, inside the noise of a
table of tens of thousands of rows. Carlini et al. (2022) judge membership attacks instead by
the true-positive rate at a fixed, low false-positive rate, where the copied records stand out:
a copy sits at distance 0 from the synthetic table, closer than almost every outsider.

The attack scores every real row by its distance to the closest synthetic row (DCR, the schema
encoding, as ``dcr-membership`` does) and fixes the operating point *before* looking at the
members, so the rates at it are plain binomial counts:

1. the control rows are split in two (seeded): a *calibration* half chooses the distance below
   which a row is called a member -- the largest one that flags at most ``fpr`` (default 0.1%)
   of the calibration rows;
2. that rule is applied to the training rows (TPR: members flagged) and to the other, *held-out*
   half of the control rows (FPR: outsiders flagged).

The risk is TPR - FPR at that operating point, reported as counts (estimator ``"difference"``):
core bounds it exactly (Clopper-Pearson on both rates). TPR at FPR 1% is computed the same way
and reported, not gated.

At most ``max_rows`` training rows are scored, and at most ``max_rows`` control rows are split
into the two halves (default :data:`~privgate.attacks._common.MAX_TARGETS`, 20,000 each: a
uniform random subsample beyond, stated in the result; the counts, and so the exact bounds,
are those of the rows scored); every scored row's nearest synthetic row is searched among ALL
synthetic rows (a subsample of them would inflate distances and hide copies).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from privgate import Attack, AttackContext, AttackResult, hookimpl, randomness
from privgate.attack import AttackPlan
from privgate.attacks._common import (
    MAX_TARGETS,
    check_choice,
    check_int,
    interval_from_counts,
    jsonable,
    modelled_columns,
    raised,
    resolve_params,
    subsampled,
    targets_statement,
    trials_asked,
)
from privgate.attacks._membership_metrics import (
    nearest_distances,
    positions,
    rank_against,
    record_risk_series,
)
from privgate.attacks._nearest import encode_rows
from privgate.attacks._persons import (
    closest_per_person,
    first_rows,
    people_halves,
    unit_sizes,
)
from privgate.encoding import TableEncoder
from privgate.errors import N_, InputError, plugin_named
from privgate.evidence import Counts
from privgate.figures import Table
from privgate.operating_points import OperatingPoint
from privgate.params import check_positive
from privgate.persons import unit_of

#: The false-positive rate reported beside the gated one.
REPORTED_FPR = 0.01


def operating_distance(calibration: np.ndarray, fpr: float) -> float:
    """The largest distance cut that flags (distance strictly below it) at most ``fpr`` of the
    ``calibration`` distances: their ``k``-th smallest, ``k = floor(fpr * n)`` (the smallest
    when ``k = 0``, which flags none of them)."""
    ordered = np.sort(np.asarray(calibration, dtype=float))
    k = int(np.floor(fpr * len(ordered) + 1e-9))
    return float(ordered[k]) if k < len(ordered) else float("inf")


class LowFPRMembership(Attack):
    """DCR membership inference at a low false-positive rate fixed on held-out control rows."""

    name: ClassVar[str] = "low-fpr-membership"
    risk_kind: ClassVar[str] = "membership-low-fpr"
    description: ClassVar[str] = (
        "Membership inference from the distance to the closest synthetic record, at a false-"
        "positive rate of 0.1% fixed on held-out control rows (risk = TPR - FPR there).")
    explanation: ClassVar[str] = (
        "The simulated adversary flags a real person as \"in the training data\" only when a "
        "synthetic record is almost exactly theirs -- so close that it would wrongly flag just "
        "one outsider in a thousand. We set that bar on half of the people the generator never "
        "saw, then count how many training members clear it, and how many of the other "
        "outsiders do. A generator that copies even a small share of its training records "
        "shows here: the copies clear the bar, while outsiders almost never do. The risk is the "
        "share of members flagged minus the share of outsiders flagged.")
    references: ClassVar[tuple[str, ...]] = (
        "Carlini et al. (2022). Membership inference attacks from first principles. IEEE S&P "
        "(TPR at low FPR).",
        "Chen, Yu, Zhang & Fritz (2020). GAN-Leaks: a taxonomy of membership inference attacks "
        "against generative models. ACM CCS (distance-based attacks).",
    )
    DEFAULTS: ClassVar[dict[str, Any]] = {"fpr": 0.001, "max_rows": MAX_TARGETS,
                                          "metric": "euclidean"}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._settings()

    def params_for_trials(self, trials: int) -> dict[str, Any] | None:
        """A larger ``max_rows`` (the default caps the targets at
        :data:`~privgate.attacks._common.MAX_TARGETS`)."""
        return raised(self.params, "max_rows", trials)

    def _settings(self) -> tuple[dict[str, Any], float, int | None, str]:
        p = resolve_params(self.name, self.DEFAULTS, self.params)
        fpr = check_positive(plugin_named("attack", self.name), p, "fpr")
        if fpr >= 0.5:
            raise InputError(N_("attack %(name)r: parameter 'fpr' must be below 0.5, got %(fpr)s"),
                             name=self.name, fpr=fpr)
        cap = None if p["max_rows"] is None else check_int(self.name, p, "max_rows", 10)
        return p, fpr, cap, check_choice(self.name, p, "metric", ("euclidean", "manhattan"))

    def _split(self, context: AttackContext, cap: int | None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Calibration and held-out control rows: at most ``cap`` control rows (whole people
        with persons), drawn uniformly at random, in two halves."""
        if len(context.control) < 4:
            raise InputError(N_("attack %(name)r: needs at least 4 control rows (half fix the "
                                "operating point, half measure it), got %(n_control)s"),
                             name=self.name, n_control=len(context.control))
        perm = randomness.rng(context.seed, self.name, "split").permutation(len(context.control))
        codes = None if context.persons is None else context.persons.control
        return people_halves(first_rows(perm, codes, None if cap is None else max(cap, 4)),
                             codes)

    def run(self, context: AttackContext) -> AttackResult:
        """Fix the operating point on calibration rows; count members and held-out rows
        flagged."""
        p, fpr, cap, metric = self._settings()
        modelled_columns(self.name, context)
        calibration, held_out = self._split(context, cap)
        member_pos = positions(len(context.train), cap or len(context.train),
                               randomness.rng(context.seed, self.name, "members"))
        encoder = TableEncoder(context.schema)
        dist = nearest_distances(encode_rows(encoder, context.synthetic), encode_rows(
            encoder, context.train.iloc[member_pos], context.control.iloc[calibration],
            context.control.iloc[held_out]), metric)  # sparse 0/1 slots, chunked
        n, m_cal = len(member_pos), len(calibration)
        targets = (targets_statement("training rows", n, len(context.train), context.seed,
                                     self.name),
                   targets_statement("control rows (both halves)",
                                     m_cal + len(held_out), len(context.control), context.seed,
                                     self.name))
        d_mem, d_cal, d_out, unit_of_row = closest_per_person(  # rows, or people
            context, member_pos, calibration, held_out,
            (dist[:n], dist[n:n + m_cal], dist[n + m_cal:]))
        n, m_cal = len(d_mem), len(d_cal)
        rates, counts = {}, []
        for rate in sorted({fpr, REPORTED_FPR}):
            cut = operating_distance(d_cal, rate)
            hits, false_hits = int(np.sum(d_mem < cut)), int(np.sum(d_out < cut))
            rates[rate] = {"tpr": hits / n, "fpr": false_hits / len(d_out), "members_flagged":
                           hits, "held_out_flagged": false_hits, "distance_cut": cut}
            if rate == fpr:
                counts.append(Counts(f"members flagged at false-positive rate {fpr:g}",
                                     "difference", hits, n, false_hits, len(d_out)))
        risk, low, high, method = interval_from_counts(counts, context.confidence_level)
        method += subsampled(targets)
        details = {"operating_points": {f"{r:g}": v for r, v in rates.items()},
                   "targets": list(targets),
                   "n_members": n, "n_calibration": m_cal, "n_held_out": len(d_out),
                   "calibration_resolution": 1.0 / m_cal, "params": dict(p),
                   "unit": unit_of(context.persons)}
        return AttackResult(
            attack=self.name, risk_kind=self.risk_kind, risk=risk, ci_low=low, ci_high=high,
            confidence_level=context.confidence_level, interval_method=method,
            baseline=0.0, baseline_description=(
                "a generator that never saw the training rows flags members as often as "
                "held-out outsiders: TPR - FPR = 0"),
            n_trials=n, details=jsonable(details), counts=tuple(counts),
            trials_planned=trials_asked(self.params, cap),
            trials_available=unit_sizes(context, len(context.train), 0)[0],
            tpr_at_fpr={r: max(v["tpr"], 0.0) for r, v in rates.items()},
            record_risk=record_risk_series(member_pos,
                                           rank_against(-d_mem, -d_out)[unit_of_row]),
            figures=(_table(rates),), operating_points=tuple(
                OperatingPoint(f"distance cut fixed on calibration control rows at "
                               f"false-positive rate {r:g}", int(v["members_flagged"]), n,
                               int(v["held_out_flagged"]), len(d_out))
                for r, v in rates.items()))

    def plan(self, context: AttackContext) -> AttackPlan:
        """Members and held-out rows at the operating point; a leak-free generator flags
        both at the chosen false-positive rate."""
        _, fpr, cap, _ = self._settings()
        calibration, held_out = self._split(context, cap)
        n = min(cap or len(context.train), len(context.train))
        if context.persons is not None:  # one trial per person
            n = unit_sizes(context, n, 0)[0]
            calibration, held_out = (np.unique(context.persons.control[calibration]),
                                     np.unique(context.persons.control[held_out]))
        rate = max(fpr, 1.0 / (len(calibration) + 1))
        return AttackPlan(
            (Counts(f"members flagged at false-positive rate {fpr:g}", "difference", rate * n,
                    n, rate * len(held_out), len(held_out)),),
            unit_sizes(context, len(context.train), 0)[0],
            notes=(f"{n:,} members against {len(held_out):,} held-out control "
                   f"{'rows' if context.persons is None else 'people'}; the operating point "
                   f"is fixed on {len(calibration):,} others",))


def _table(rates: dict[float, dict[str, Any]]) -> Table:
    return Table(
        headers=("false-positive rate aimed at", "members flagged (TPR)",
                 "held-out outsiders flagged (FPR)"),
        rows=tuple((r, v["tpr"], v["fpr"]) for r, v in rates.items()),
        caption=("Members and outsiders flagged at low false-positive rates. The bar is set on "
                 "half of the people the generator never saw; the other half shows how many "
                 "outsiders clear it. Copied or near-copied training records clear it; "
                 "outsiders almost never do."))


@hookimpl
def privgate_attacks() -> list[type[Attack]]:
    """Register the low-FPR membership attack."""
    return [LowFPRMembership]
