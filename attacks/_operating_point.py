"""A membership attack's operating point, fixed on held-out scores: what ``dp-claim`` bounds.

Half of the scored members and half of the scored non-members (a seeded split) choose the
threshold; the other halves are counted at it. The threshold is the one that gives the largest
epsilon lower bound on the choosing half (one-sided Clopper-Pearson at 95%, delta 0, both
forms of the DP inequality); the counting half then yields binomial counts that core bounds
itself (:mod:`privgate.dp_claim`), because the threshold never saw them.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from privgate.operating_points import OperatingPoint
from privgate.randomness import rng

#: The most candidate thresholds tried on the choosing half (quantiles of its scores beyond).
MAX_CANDIDATES = 2_000
#: The level of the bounds that pick the threshold (the counted half is bounded by core).
CHOICE_LEVEL = 0.95


def _epsilon_bounds(k_m: np.ndarray, n_m: int, k_n: np.ndarray, n_n: int) -> np.ndarray:
    """The epsilon lower bound (delta 0) of every candidate, vectorised over the counts."""
    a = 1.0 - CHOICE_LEVEL
    k_m, k_n = k_m.astype(float), k_n.astype(float)
    tpr_low = np.where(k_m > 0, stats.beta.ppf(a, np.maximum(k_m, 1e-12), n_m - k_m + 1), 0.0)
    fpr_high = np.where(k_n < n_n, stats.beta.ppf(1 - a, k_n + 1, np.maximum(n_n - k_n, 1e-12)),
                        1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        first = np.where(tpr_low > 0, np.log(tpr_low / fpr_high), -np.inf)
        second = np.where(fpr_high < 1, np.log((1 - fpr_high) / (1 - tpr_low)), -np.inf)
    return np.nan_to_num(np.maximum(first, second), nan=-np.inf)


def held_out_point(scores: np.ndarray, labels: np.ndarray, *, seed: int, stream: str,
                   unit: str, trials: str = "scored records") -> tuple[OperatingPoint, ...]:
    """One operating point (flag a record when its score is at least the threshold; higher
    scores = more member-like), or none when either class has fewer than 2 scored records
    (``trials`` names what the scores are of, in the point's label)."""
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels).astype(int)
    draws = rng(seed, stream, "operating-point")
    mem = draws.permutation(np.flatnonzero(labels == 1))
    non = draws.permutation(np.flatnonzero(labels == 0))
    if len(mem) < 2 or len(non) < 2:
        return ()
    choose_m, count_m = scores[mem[: len(mem) // 2]], scores[mem[len(mem) // 2:]]
    choose_n, count_n = scores[non[: len(non) // 2]], scores[non[len(non) // 2:]]
    candidates = np.unique(np.r_[choose_m, choose_n])
    if len(candidates) > MAX_CANDIDATES:
        candidates = np.unique(np.quantile(candidates, np.linspace(0, 1, MAX_CANDIDATES)))
    sm, sn = np.sort(choose_m), np.sort(choose_n)
    k_m = len(sm) - np.searchsorted(sm, candidates, side="left")
    k_n = len(sn) - np.searchsorted(sn, candidates, side="left")
    best = candidates[int(np.argmax(_epsilon_bounds(k_m, len(sm), k_n, len(sn))))]
    return (OperatingPoint(
        f"{unit} threshold chosen on half of the {trials} (seeded), counted on the other half",
        int(np.sum(count_m >= best)), len(count_m), int(np.sum(count_n >= best)),
        len(count_n)),)
