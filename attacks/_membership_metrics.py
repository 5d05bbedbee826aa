"""What every membership attack reports: AUROC with its interval, TPR at low FPR, the ROC curve,
the membership advantage with a bootstrap interval, and a permutation-null baseline.

``dcr-membership``, ``density-membership`` and ``shadow-membership`` score real records (higher
score = "more likely a training member") and hand the scores and true labels to
:func:`summarise`; :meth:`MembershipSummary.result` puts the ROC curve, the AUROC with its
interval and the TPR at low FPR into the result's typed evidence fields, which every report
draws. Keeping this in one place keeps the risk definition identical across attacks: ``risk`` =
membership advantage = max over thresholds of TPR - FPR.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from privgate.attack import AttackResult
from privgate.attacks._common import (
    advantage,
    auroc,
    bootstrap_interval,
    downsample_roc,
    jsonable,
    roc_arrays,
    tpr_at_fpr,
)
from privgate.evidence import Estimate, Interval, RocCurve
from privgate.randomness import child_seed, rng

#: The low false-positive rates every membership attack reports TPR at (Carlini et al. 2022).
LOW_FPRS: tuple[float, ...] = (0.001, 0.01)
#: Label shuffles behind the permutation-null baseline.
N_PERMUTATIONS = 200


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
    n_members: int
    n_nonmembers: int
    n_resamples: int
    level: float

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

    def interval_method(self, unit: str) -> str:
        """How the advantage interval was computed, naming what was resampled."""
        return (f"paired percentile bootstrap ({self.n_resamples} resamples of the scored "
                f"({unit}, membership) pairs, scipy.stats.bootstrap); the advantage is "
                "recomputed (best threshold re-chosen) in every resample")

    def result(self, attack: str, risk_kind: str, *, unit: str, n_trials: int,
               trials_planned: int, details: dict[str, Any], record_risk: pd.Series,
               figures: tuple[Any, ...] = ()) -> AttackResult:
        """The attack's result: the advantage with its interval, baseline and ``null_upper``
        (the upper bound a leak-free table of this size would show), and the typed evidence:
        ROC curve, AUROC with its interval, TPR at :data:`LOW_FPRS`, trials planned and run."""
        return AttackResult(
            attack=attack, risk_kind=risk_kind, risk=self.advantage,
            ci_low=self.advantage_ci[0], ci_high=self.advantage_ci[1],
            confidence_level=self.level, interval_method=self.interval_method(unit),
            baseline=self.baseline, baseline_description=self.baseline_description(),
            n_trials=int(n_trials), details=jsonable(details), null_upper=self.null_upper,
            record_risk=record_risk, trials_planned=max(int(trials_planned), int(n_trials)),
            roc=self.roc, auroc=self.auroc_estimate(), tpr_at_fpr=dict(self.tpr_at_fpr),
            figures=figures)

    @staticmethod
    def baseline_description() -> str:
        return ("the advantage a random guesser reaches on samples of this size (mean over "
                f"{N_PERMUTATIONS} shuffles of the membership labels; 0 in the limit of "
                "infinite samples)")


def summarise(scores: np.ndarray, labels: np.ndarray, *, level: float, n_resamples: int,
              seed: int, stream: str) -> MembershipSummary:
    """Score-based membership figures for ``scores`` (higher = member) and 0/1 ``labels``.

    AUROC and advantage get paired percentile bootstrap intervals at ``level`` (the same
    resamples for both: the random stream ``(seed, stream, "bootstrap")``, see
    :mod:`privgate.randomness`). The baseline is the advantage under seeded permutations of the
    labels (the random guesser on samples of this size; stream ``(seed, stream,
    "permutations")``), and ``null_upper`` that null
    distribution's ``(1 + level) / 2`` quantile: the upper bound a leak-free table of this size
    would show. Both classes must be present.
    """
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels).astype(int)
    auc = auroc(scores, labels)
    adv = max(0.0, advantage(scores, labels))
    boot = child_seed(seed, stream, "bootstrap")
    adv_low, adv_high = bootstrap_interval(
        lambda s, y: max(0.0, advantage(s, y)), scores, labels, estimate=adv, level=level,
        n_resamples=n_resamples, seed=boot)
    auc_low, auc_high = bootstrap_interval(
        auroc, scores, labels, estimate=auc, level=level, n_resamples=n_resamples, seed=boot)
    perm_rng = rng(seed, stream, "permutations")
    null = np.array([advantage(scores, perm_rng.permutation(labels))
                     for _ in range(N_PERMUTATIONS)])
    fpr, tpr = roc_arrays(scores, labels)
    return MembershipSummary(
        auroc=auc, auroc_ci=(auc_low, auc_high), advantage=adv,
        advantage_ci=(adv_low, adv_high),
        tpr_at_fpr={f: tpr_at_fpr(fpr, tpr, f) for f in LOW_FPRS},
        roc=downsample_roc(fpr, tpr), baseline=float(np.clip(null.mean(), 0.0, 1.0)),
        null_p95=float(np.quantile(null, 0.95)),
        null_upper=float(np.quantile(null, (1 + level) / 2)),
        n_members=int(labels.sum()), n_nonmembers=int((labels == 0).sum()),
        n_resamples=n_resamples, level=level)


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
