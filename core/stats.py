"""Confidence intervals and sample-size arithmetic shared by attacks and policies.

Binomial intervals come from scipy (``binomtest(...).proportion_ci``); resampling intervals from
``scipy.stats.bootstrap``. Written here: the inversion of the zero-success upper bound (scipy
offers no inverse; the result is checked against scipy's interval) and the Wilson formula for a
fractional count (scipy's ``binomtest`` takes whole counts only).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
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


def rate_ci(successes: float, trials: int, level: float = 0.95, method: str = "exact"
            ) -> tuple[float, float]:
    """Binomial interval for a success count that may be fractional (a sum of probabilities).

    Attacks whose per-trial outcome is a probability in [0, 1] (e.g. a 1-in-k chance of picking
    the right person) report their summed probabilities. A [0, 1]-valued mean has at most the
    variance of a binomial with the same mean, so a binomial interval on it is conservative.
    ``"exact"`` is the Clopper-Pearson interval written with scipy's beta quantiles, which accept
    a fractional count and equal ``binomtest``'s exact interval for whole counts; ``"wilson"``
    is the Wilson score interval (scipy's ``binomtest`` for whole counts).
    """
    if method not in BINOMIAL_METHODS:
        raise ValueError(f"unknown interval method {method!r}; use one of "
                         f"{sorted(BINOMIAL_METHODS)}")
    if trials <= 0:
        return 0.0, 1.0
    k = min(max(float(successes), 0.0), float(trials))
    if abs(k - round(k)) < 1e-9:  # a sum of probabilities that is a whole count up to noise
        k = float(round(k))
    if k.is_integer():
        return binomial_ci(int(k), int(trials), level, method)
    if method == "exact":
        alpha = 1.0 - level
        low = float(stats.beta.ppf(alpha / 2, k, trials - k + 1))
        high = float(stats.beta.ppf(1 - alpha / 2, k + 1, trials - k))
        # beta quantiles at vanishing shapes carry float noise; the estimate stays inside
        p = k / trials
        return min(low, p), max(high, p)
    # scipy's binomtest takes whole counts only; the Wilson score formula is the same for a
    # fractional count, so it is written out here.
    z = float(stats.norm.ppf((1 + level) / 2))
    p = k / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (
        1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def zero_success_upper(trials: int, level: float = 0.95, method: str = "exact") -> float:
    """The upper bound of the two-sided interval of a perfect (zero-success) result."""
    return binomial_ci(0, trials, level, method)[1]


def trials_to_certify(threshold: float, level: float = 0.95, method: str = "exact"
                      ) -> int | None:
    """The smallest number of trials whose zero-success upper bound is at most ``threshold``.

    ``method`` is the interval the attack uses: ``"exact"`` (two-sided Clopper-Pearson, upper
    limit ``1 - (alpha/2) ** (1/n)`` at zero successes) or ``"wilson"`` (Wilson score, upper
    limit ``z**2 / (n + z**2)`` at zero successes). The closed forms give a first guess; the
    answer is then checked against scipy's own interval (``binomtest(0, n).proportion_ci``) and
    moved by single steps, so it is exactly the smallest ``n``, not a rounding of a formula.
    Returns ``None`` for a zero threshold (no finite sample certifies it) or one so small that
    no sample below 10**12 does.
    """
    if method not in BINOMIAL_METHODS:
        raise ValueError(f"unknown interval method {method!r}; use one of "
                         f"{sorted(BINOMIAL_METHODS)}")
    if threshold >= 1:
        return 1
    if threshold <= 0:
        return None
    alpha = 1 - level
    if method == "exact":
        guess = math.log(alpha / 2) / math.log1p(-threshold)
    else:
        z = float(stats.norm.ppf(1 - alpha / 2))
        guess = z * z * (1 - threshold) / threshold
    if not math.isfinite(guess) or guess > 1e12:
        return None
    n = max(1, math.ceil(guess))

    def ok(m: int) -> bool:
        return zero_success_upper(m, level, method) <= threshold

    while not ok(n):
        n += 1
    while n > 1 and ok(n - 1):
        n -= 1
    return n


#: Resampled values a bootstrap holds at once (its index array and each resampled sample).
BOOTSTRAP_CELLS = 2_000_000


def bootstrap_ci(statistic: Callable[..., float], data: Sequence[NDArray[Any]], *,
                 level: float = 0.95, n_resamples: int = 500, seed: int = 0
                 ) -> tuple[float, float]:
    """Percentile bootstrap interval of a statistic of paired samples (scipy.stats.bootstrap),
    drawn in batches of at most :data:`BOOTSTRAP_CELLS` resampled values (the same resamples
    as all at once: memory stays bounded on tables of 100k rows)."""
    n = max(1, len(data[0]))
    res = stats.bootstrap(tuple(data), statistic, paired=True, vectorized=False,
                          n_resamples=n_resamples, confidence_level=level,
                          method="percentile", random_state=np.random.default_rng(seed),
                          batch=max(1, min(n_resamples, BOOTSTRAP_CELLS // n)))
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if math.isnan(low) or math.isnan(high):  # degenerate resamples (e.g. one class only)
        return float("-inf"), float("inf")
    return low, high


def clamp01(x: float) -> float:
    return float(min(1.0, max(0.0, x)))
