"""Epsilon lower bounds from canary guesses in ONE training run (Steinke, Nasr & Jagielski 2023).

A canary audit inserts ``m`` canaries into the training data, each independently with
probability 1/2, trains once, and guesses from the output which canaries were in: ``r``
guesses (it may abstain on the rest), ``v`` of them right. For an (epsilon, delta)-DP
training algorithm (add/remove neighbours) the number of right guesses is, up to a delta term,
stochastically dominated by a binomial ``Binomial(r, q)`` with ``q = e^epsilon / (1 +
e^epsilon)`` (their Theorem 3.1 and its approximate-DP extension, Theorem 5.2). So

    p(epsilon) = P[Binomial(r, q) >= v] + 2 m delta * max_{1 <= i <= v} (P[Binomial(r, q) >=
                 v - i] - P[Binomial(r, q) >= v]) / i

is a p-value for the hypothesis "the training run is (epsilon, delta)-DP", non-decreasing in
epsilon, and the largest epsilon whose p-value is at most the significance alpha is a lower
bound at confidence ``1 - alpha``: a run that truly is (epsilon, delta)-DP shows a bound above
epsilon with probability at most alpha. This module computes it from the three counts alone;
nothing an attack computed is read. (Written from the paper's statement; google-deepmind's
``jax_privacy.auditing`` computes the same p-value.)

Over ``R`` training runs (Nasr et al. 2023; Annamalai, Ganev & De Cristofaro 2024) each run
inserts the canary on its own coin toss, so the runs are independent trials of the membership
game: at a threshold fixed without the counted runs, the canary is flagged in ``k1`` of the
``n1`` runs that had it and in ``k0`` of the ``n0`` runs that did not, and for an
(epsilon, delta)-DP training algorithm ``TPR <= e^epsilon FPR + delta`` and ``1 - FPR <=
e^epsilon (1 - TPR) + delta``. With one-sided Clopper-Pearson bounds ``TPR_low`` and
``FPR_high`` (:func:`rates_epsilon`), ``epsilon >= max(log((TPR_low - delta) / FPR_high),
log((1 - FPR_high - delta) / (1 - TPR_low)))`` holds at the product of their levels.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from privgate import bounds

__all__ = ["multi_run_epsilon", "one_run_epsilon", "one_run_p_value", "rates_epsilon"]

#: The largest epsilon the search reports (a bound beyond it says "no privacy" anyway).
MAX_SEARCH_EPSILON = 50.0


def one_run_p_value(epsilon: float, canaries: int, guesses: int, correct: int,
                    delta: float) -> float:
    """The p-value of ``correct`` right guesses out of ``guesses`` on ``canaries`` canaries
    under the hypothesis that the run is (``epsilon``, ``delta``)-DP."""
    if correct <= 0:
        return 1.0
    q = 1.0 / (1.0 + math.exp(-epsilon))
    tail = float(stats.binom.sf(correct - 1, guesses, q))  # P[Binomial(r, q) >= v]
    if delta <= 0.0:
        return min(1.0, tail)
    i = np.arange(1, correct + 1)
    wider = stats.binom.sf(correct - i - 1, guesses, q)  # P[Binomial(r, q) >= v - i]
    slack = float(np.max((wider - tail) / i, initial=0.0))
    return min(1.0, tail + 2.0 * canaries * delta * slack)


def one_run_epsilon(canaries: int, guesses: int, correct: int, delta: float,
                    significance: float) -> float:
    """The largest epsilon refuted at ``significance`` by ``correct`` of ``guesses`` right
    (0 when none is); found by bisection to 1e-6 (the p-value is monotone in epsilon)."""
    if not 0.0 < significance < 1.0:
        raise ValueError(f"significance must be in (0, 1), got {significance!r}")
    if not 0 <= correct <= guesses <= canaries or guesses == 0:
        raise ValueError(f"need 0 <= correct <= guesses <= canaries and guesses > 0, got "
                         f"{correct}, {guesses}, {canaries}")

    def refuted(eps: float) -> bool:
        return one_run_p_value(eps, canaries, guesses, correct, delta) <= significance

    if not refuted(0.0):
        return 0.0
    low, high = 0.0, 1.0
    while refuted(high):
        if high >= MAX_SEARCH_EPSILON:
            return MAX_SEARCH_EPSILON
        low, high = high, min(2.0 * high, MAX_SEARCH_EPSILON)
    while high - low > 1e-6:
        mid = (low + high) / 2.0
        low, high = (mid, high) if refuted(mid) else (low, mid)
    return low


def rates_epsilon(members_flagged: int, members: int, nonmembers_flagged: int, nonmembers: int,
                  delta: float, level: float) -> tuple[float, float, float]:
    """``(epsilon lower bound, TPR_low, FPR_high)`` from the counts at one pre-fixed threshold,
    each binomial bound one-sided Clopper-Pearson at ``level``, both forms of the DP
    inequality; the bound is 0 when the counts refute nothing."""
    tpr_low = bounds.lower_rate(members_flagged, members, level)
    fpr_high = bounds.upper_rate(nonmembers_flagged, nonmembers, level)
    best = 0.0
    if tpr_low - delta > 0.0 and fpr_high > 0.0:
        best = max(best, math.log((tpr_low - delta) / fpr_high))
    if 1.0 - fpr_high - delta > 0.0 and tpr_low < 1.0:
        best = max(best, math.log((1.0 - fpr_high - delta) / (1.0 - tpr_low)))
    return best, tpr_low, fpr_high


def multi_run_epsilon(in_flagged: int, in_runs: int, out_flagged: int, out_runs: int,
                      delta: float, significance: float) -> float:
    """The epsilon lower bound of a multi-run audit at confidence ``1 - significance``: the
    canary flagged in ``in_flagged`` of the ``in_runs`` counted runs that inserted it and in
    ``out_flagged`` of the ``out_runs`` that did not (each binomial bound at ``1 -
    significance / 2``, so both hold together at ``1 - significance``)."""
    if not 0.0 < significance < 1.0:
        raise ValueError(f"significance must be in (0, 1), got {significance!r}")
    if not (0 <= in_flagged <= in_runs and 0 <= out_flagged <= out_runs and in_runs > 0
            and out_runs > 0):
        raise ValueError(f"need 0 <= flagged <= runs and runs > 0, got {in_flagged}/{in_runs} "
                         f"and {out_flagged}/{out_runs}")
    return rates_epsilon(in_flagged, in_runs, out_flagged, out_runs, delta,
                         1.0 - significance / 2.0)[0]
