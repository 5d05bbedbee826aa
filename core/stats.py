"""Confidence intervals and sample-size arithmetic shared by attacks and policies.

Binomial intervals come from scipy (``binomtest(...).proportion_ci``); resampling intervals from
``scipy.stats.bootstrap``. The only arithmetic written here is the inversion of the exact
(Clopper-Pearson) bound for a zero-success result, which scipy does not offer directly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats

BINOMIAL_METHODS = {"exact": "Clopper-Pearson exact", "wilson": "Wilson score"}


def binomial_ci(successes: int, trials: int, level: float = 0.95,
                method: str = "wilson") -> tuple[float, float]:
    """Two-sided interval for a success rate (``method`` is ``"wilson"`` or ``"exact"``)."""
    if trials <= 0:
        return 0.0, 1.0
    ci = stats.binomtest(int(successes), int(trials)).proportion_ci(
        confidence_level=level, method=method)
    return float(ci.low), float(ci.high)


def trials_to_certify(threshold: float, level: float = 0.95) -> int | None:
    """How many trials a perfect (zero-success) attack needs for its upper bound to be <= threshold.

    Uses the two-sided exact (Clopper-Pearson) bound, whose upper limit at zero successes in
    ``n`` trials is ``1 - (alpha/2) ** (1/n)``; solving for ``n`` gives
    ``ceil(log(alpha/2) / log(1 - threshold))``. Returns ``None`` for a zero threshold (no
    finite sample certifies it).
    """
    if threshold >= 1:
        return 1
    if threshold <= 0:
        return None
    alpha = 1 - level
    n = math.log(alpha / 2) / math.log1p(-threshold)
    if not math.isfinite(n):  # a threshold so small that no representable sample reaches it
        return None
    return max(1, math.ceil(n))


def bootstrap_ci(statistic: Callable[..., float], data: Sequence[np.ndarray], *,
                 level: float = 0.95, n_resamples: int = 500, seed: int = 0
                 ) -> tuple[float, float]:
    """Percentile bootstrap interval of a statistic of paired samples (scipy.stats.bootstrap)."""
    res = stats.bootstrap(tuple(data), statistic, paired=True, vectorized=False,
                          n_resamples=n_resamples, confidence_level=level,
                          method="percentile", random_state=np.random.default_rng(seed))
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if math.isnan(low) or math.isnan(high):  # degenerate resamples (e.g. one class only)
        return float("-inf"), float("inf")
    return low, high


def clamp01(x: float) -> float:
    return float(min(1.0, max(0.0, x)))
