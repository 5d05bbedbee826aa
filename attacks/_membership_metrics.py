"""What every membership attack reports: AUROC with its interval, TPR at low FPR, the ROC curve,
the membership advantage with exact distribution-free bounds, and a permutation-null baseline.

``dcr-membership``, ``density-membership`` and ``shadow-membership`` score real records (higher
score = "more likely a training member") and hand the scores and true labels to
:func:`summarise`; :meth:`MembershipSummary.result` puts the ROC curve, the AUROC with its
interval and the TPR at low FPR into the result's typed evidence fields, which every report
draws. Keeping this in one place keeps the risk definition identical across attacks: ``risk`` =
membership advantage = max over thresholds of TPR - FPR.

Bounds of the advantage, both exact at every sample size and for every score distribution
(ties and discrete scores included):

* upper (:func:`hoeffding_margin`): the true advantage is the gap ``T(t*) - F(t*)`` at some
  threshold ``t*`` (members' and non-members' shares above it), and the measured advantage is
  at least the measured gap at that same, fixed threshold -- an average of independent terms
  each within ``1/m`` or ``1/n``. Hoeffding's inequality bounds how far it falls short:
  ``sqrt(ln(1/alpha) / 2 * (1/m + 1/n))``;
* lower (:func:`dkw_margin`): the measured advantage is the gap at a threshold chosen from
  the data, so it may exceed the truth by as much as the two empirical distributions deviate
  anywhere: the Dvoretzky-Kiefer-Wolfowitz inequality with Massart's constant bounds each
  one-sided deviation by ``sqrt(ln(1/a) / (2 n))``, each at ``a = alpha / 2``.

A check passes on the upper bound and fails on the lower one, so a leak-free generator fails
with probability at most alpha, and one above the threshold passes with at most alpha. (A
percentile bootstrap of a maximum is biased upwards near zero -- a leak-free table of 5,000 rows
showed a lower bound of 0.01 -- so it could fail an honest generator under a strict threshold;
the Hoeffding upper bound is about 1.4 to 2 times narrower than a DKW one, enough to certify
0.09 on tables of a few thousand rows.) The leak-free bounds are the upper margin added to the
advantage under label permutations: their median is what a leak-free table of this size shows,
their spread gives the power.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from privgate.attack import AttackPlan, AttackResult
from privgate.attacks._common import (
    advantage,
    auroc,
    bootstrap_interval,
    downsample_roc,
    jsonable,
    roc_arrays,
    single_threaded,
    subsampled,
    tpr_at_fpr,
)
from privgate.attacks._nearest import EncodedRows, from_dense, nearest
from privgate.attacks._operating_point import held_out_point
from privgate.evidence import Estimate, Interval, RocCurve
from privgate.operating_points import OperatingPoint
from privgate.randomness import child_seed, rng

#: The low false-positive rates every membership attack reports TPR at (Carlini et al. 2022).
LOW_FPRS: tuple[float, ...] = (0.001, 0.01)
#: Label shuffles behind the permutation-null baseline.
N_PERMUTATIONS = 200
#: How the advantage's bounds are computed, in words.
BOUND_METHOD = ("exact distribution-free bounds: upper, the advantage + Hoeffding's deviation "
                "of the gap at the true best threshold, sqrt(ln(1/alpha)/2 * (1/m + 1/n)); "
                "lower, the advantage - the one-sided Dvoretzky-Kiefer-Wolfowitz deviations "
                "(Massart's constant) of the members' and non-members' score distributions, "
                "each at alpha/2")


def hoeffding_margin(n_members: int, n_nonmembers: int, level: float) -> float:
    """How far below the truth the advantage can fall at ``level`` (one-sided)."""
    if n_members <= 0 or n_nonmembers <= 0:
        return 1.0
    return math.sqrt(math.log(1 / (1.0 - level)) / 2 * (1 / n_members + 1 / n_nonmembers))


def dkw_margin(n_members: int, n_nonmembers: int, level: float, sides: int = 1) -> float:
    """How far above the truth the advantage can be at ``level``: the sum of the two one-sided
    DKW deviations, each at ``(1 - level) / (2 * sides)`` (``sides = 2`` for a two-sided
    interval)."""
    a = (1.0 - level) / (2.0 * sides)
    if n_members <= 0 or n_nonmembers <= 0:
        return 1.0
    return math.sqrt(math.log(1 / a) / (2 * n_members)) + math.sqrt(
        math.log(1 / a) / (2 * n_nonmembers))


def positions(n_total: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Row positions of a seeded sample of ``n`` of ``n_total`` rows, sorted.

    Draws exactly like :func:`privgate.attacks._common.subsample` (all rows when ``n >=
    n_total``), so attacks that need the positions (for ``record_risk``) stay reproducible.
    """
    if n >= n_total:
        return np.arange(n_total)
    return np.sort(rng.choice(n_total, size=n, replace=False))


@dataclass(frozen=True)
class MembershipSummary:
    """The figures of one membership attack, ready for :class:`~privgate.AttackResult`."""

    auroc: float
    auroc_ci: tuple[float, float]
    advantage: float
    advantage_ci: tuple[float, float]
    tpr_at_fpr: dict[float, float]
    roc: RocCurve
    baseline: float
    null_p95: float
    null_upper: float
    null_bounds: tuple[float, ...]
    upper_margin: float
    lower_margin: float
    n_members: int
    n_nonmembers: int
    n_resamples: int
    level: float
    #: members and non-members flagged at a threshold fixed on held-out scores (dp-claim)
    operating_points: tuple[OperatingPoint, ...] = ()

    @property
    def fpr_resolution(self) -> float:
        """The smallest non-zero FPR these non-members can show (1 / their number)."""
        return 1.0 / self.n_nonmembers if self.n_nonmembers else 1.0

    def details(self) -> dict[str, Any]:
        """The free figures every membership attack's ``details`` carries (the ROC curve, AUROC
        and TPR at low FPR are typed fields of the result, see :meth:`result`)."""
        out: dict[str, Any] = {
            "advantage": self.advantage,
            "n_members": self.n_members,
            "n_nonmembers": self.n_nonmembers,
            "fpr_resolution": self.fpr_resolution,
            "null_advantage": {"mean": self.baseline, "p95": self.null_p95,
                               "permutations": N_PERMUTATIONS},
        }
        coarse = [f"{f:g}" for f in LOW_FPRS if f < self.fpr_resolution]
        if coarse:
            out["tpr_at_fpr_note"] = (
                f"with {self.n_nonmembers} non-members the smallest non-zero false-positive "
                f"rate is {self.fpr_resolution:.3g}; TPR at FPR {', '.join(coarse)} is the "
                "TPR at zero false positives (more non-members are needed to resolve it)")
        return out

    def auroc_estimate(self) -> Estimate:
        """The AUROC with its paired bootstrap interval."""
        return Estimate(self.auroc, Interval(
            self.auroc_ci[0], self.auroc_ci[1], self.level,
            f"paired percentile bootstrap, {self.n_resamples} resamples"))

    def interval_method(self, unit: str, targets: Sequence[str] = ()) -> str:
        """How the advantage interval was computed, naming what was scored (and, where the
        targets are a random subsample of a side, which: ``targets``)."""
        return (f"{BOUND_METHOD}; two-sided: each end at alpha/2; over the scored "
                f"({unit}, membership) pairs" + subsampled(targets))

    def result(self, attack: str, risk_kind: str, *, unit: str, n_trials: int,
               trials_planned: int | None, details: dict[str, Any], record_risk: pd.Series,
               figures: tuple[Any, ...] = (), trials_available: int | None = None,
               targets: Sequence[str] = ()) -> AttackResult:
        """The attack's result: the advantage with its two-sided interval and its one-sided
        bounds (exact: :func:`hoeffding_margin`, :func:`dkw_margin`), baseline, ``null_upper``
        (the median upper bound a
        leak-free table of this size shows) and ``null_bounds`` (one per label permutation),
        and the typed evidence: ROC curve, AUROC with its interval, TPR at :data:`LOW_FPRS`,
        trials planned, run and available; ``targets`` (:func:`privgate.attacks._common.
        targets_statement`, one per side) say how the scored rows were drawn."""
        n_trials = int(n_trials)
        return AttackResult(
            attack=attack, risk_kind=risk_kind, risk=self.advantage,
            ci_low=self.advantage_ci[0], ci_high=self.advantage_ci[1],
            confidence_level=self.level, interval_method=self.interval_method(unit, targets),
            baseline=self.baseline, baseline_description=self.baseline_description(),
            n_trials=n_trials, details=jsonable(details), null_upper=self.null_upper,
            record_risk=record_risk,
            trials_planned=None if trials_planned is None else max(int(trials_planned),
                                                                   n_trials),
            roc=self.roc, auroc=self.auroc_estimate(), tpr_at_fpr=dict(self.tpr_at_fpr),
            figures=figures, upper_bound=min(1.0, self.advantage + self.upper_margin),
            lower_bound=max(0.0, self.advantage - self.lower_margin),
            bound_method=BOUND_METHOD,
            null_bounds=self.null_bounds,
            trials_available=None if trials_available is None else max(trials_available,
                                                                       n_trials),
            operating_points=self.operating_points)

    @staticmethod
    def baseline_description() -> str:
        return ("the advantage a random guesser reaches on samples of this size (mean over "
                f"{N_PERMUTATIONS} shuffles of the membership labels; 0 in the limit of "
                "infinite samples)")


def summarise(scores: np.ndarray, labels: np.ndarray, *, level: float, n_resamples: int,
              seed: int, stream: str) -> MembershipSummary:
    """Score-based membership figures for ``scores`` (higher = member) and 0/1 ``labels``.

    The advantage gets exact one-sided bounds (:func:`hoeffding_margin` above,
    :func:`dkw_margin` below) and a two-sided interval at ``level`` from the same
    inequalities; the AUROC a paired percentile bootstrap interval at
    ``level`` (random stream ``(seed, stream, "bootstrap")``, see :mod:`privgate.randomness`).
    The baseline is the advantage under seeded permutations of the labels (the random guesser on
    samples of this size; stream ``(seed, stream, "permutations")``); each permuted advantage
    plus the upper margin is a leak-free upper bound (``null_bounds``), and their median is
    ``null_upper``. Both classes must be present.
    """
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels).astype(int)
    n_members, n_nonmembers = int(labels.sum()), int((labels == 0).sum())
    auc = auroc(scores, labels)
    adv = max(0.0, advantage(scores, labels))
    auc_low, auc_high = bootstrap_interval(
        auroc, scores, labels, estimate=auc, level=level, n_resamples=n_resamples,
        seed=child_seed(seed, stream, "bootstrap"))
    upper = hoeffding_margin(n_members, n_nonmembers, level)
    lower = dkw_margin(n_members, n_nonmembers, level)
    two_sided = (dkw_margin(n_members, n_nonmembers, level, sides=2),
                 hoeffding_margin(n_members, n_nonmembers, (1 + level) / 2))
    perm_rng = rng(seed, stream, "permutations")
    null = np.array([max(0.0, advantage(scores, perm_rng.permutation(labels)))
                     for _ in range(N_PERMUTATIONS)])
    bounds = np.minimum(1.0, null + upper)
    fpr, tpr = roc_arrays(scores, labels)
    return MembershipSummary(
        auroc=auc, auroc_ci=(auc_low, auc_high), advantage=adv,
        advantage_ci=(max(0.0, adv - two_sided[0]), min(1.0, adv + two_sided[1])),
        tpr_at_fpr={f: tpr_at_fpr(fpr, tpr, f) for f in LOW_FPRS},
        roc=downsample_roc(fpr, tpr), baseline=float(np.clip(null.mean(), 0.0, 1.0)),
        null_p95=float(np.quantile(null, 0.95)),
        null_upper=float(np.median(bounds)), null_bounds=tuple(float(x) for x in bounds),
        upper_margin=upper, lower_margin=lower, n_members=n_members,
        n_nonmembers=n_nonmembers,
        n_resamples=n_resamples, level=level,
        operating_points=held_out_point(scores, labels, seed=seed, stream=stream,
                                        unit="score"))


def null_plan(n_members: int, n_nonmembers: int, level: float, note: str,
              available: int | None = None) -> AttackPlan:
    """What a leak-free table of this size shows, said before any generator is fitted
    (``available``: the trials the table has when a cap scores fewer).

    Under no leak the advantage is the one-sided two-sample Kolmogorov-Smirnov statistic of
    the two score samples, whose distribution does not depend on the scores (continuous ones;
    ties only make it smaller): ``P(D > x) <= exp(-2 x**2 n m / (n + m))`` (Smirnov's limit).
    Its quantiles plus the upper (Hoeffding) margin are the leak-free bounds; their median is
    ``null_upper``.
    """
    effective = n_members * n_nonmembers / max(1, n_members + n_nonmembers)
    margin = hoeffding_margin(n_members, n_nonmembers, level)
    grid = (np.arange(N_PERMUTATIONS) + 0.5) / N_PERMUTATIONS
    quantiles = np.sqrt(-np.log1p(-grid) / 2.0) / math.sqrt(max(effective, 1e-12))
    bounds = tuple(float(min(1.0, q + margin)) for q in quantiles)
    run = n_members + n_nonmembers
    return AttackPlan((), max(run, available or run), null_upper=float(np.median(bounds)),
                      null_bounds=bounds, notes=(note,),
                      trials_run=run if available and available > run else None)


def nearest_distances(x_syn: np.ndarray | EncodedRows, x_real: np.ndarray | EncodedRows,
                      metric: str = "euclidean") -> np.ndarray:
    """Each real row's distance to its closest synthetic row (DCR), exact: an exact copy is
    at 0. Chunked and float32/sparse where exact (:mod:`privgate.attacks._nearest`): memory
    stays bounded on wide one-hot encodings; dense matrices are split into their 0/1 and
    numeric columns first."""
    if not isinstance(x_syn, EncodedRows) or not isinstance(x_real, EncodedRows):
        x_syn, x_real = from_dense(np.asarray(x_syn), np.asarray(x_real))
    with single_threaded():
        return nearest(x_syn, x_real, metric)[1]


def rank_against(member_scores: np.ndarray, nonmember_scores: np.ndarray) -> np.ndarray:
    """Per-member exposure in [0, 1]: the share of non-members scoring below it (ties half).

    1 means the record looks more "member-like" than every outsider; 0.5 means it is typical.
    """
    ref = np.sort(np.asarray(nonmember_scores, dtype=float))
    s = np.asarray(member_scores, dtype=float)
    if len(ref) == 0:
        return np.full(len(s), 0.5)
    below = np.searchsorted(ref, s, side="left")
    at_or_below = np.searchsorted(ref, s, side="right")
    return (below + at_or_below) / (2.0 * len(ref))


def record_risk_series(pos: np.ndarray, risk: np.ndarray) -> pd.Series:
    """``record_risk`` for :class:`~privgate.AttackResult`: indexed by train row position."""
    return pd.Series(np.asarray(risk, dtype=float), index=pd.Index(np.asarray(pos, dtype=int)),
                     name="record_risk")
