"""One-sided confidence bounds for the question a gate asks: "is the risk at most T?".

A gate passes a check only when an *upper* confidence bound is at or below the threshold, so
the bound that fits is one-sided: at level ``1 - alpha`` it is exceeded by the true risk with
probability at most ``alpha`` (a two-sided interval at the same level spends only ``alpha / 2``
on that side and is needlessly wide). Everything here is exact where the counts allow:

* :func:`upper_rate` / :func:`lower_rate` -- Clopper-Pearson one-sided bounds for a binomial
  rate (scipy's beta quantiles; a fractional success count, a sum of per-trial probabilities,
  is allowed: a [0, 1]-valued mean has at most the binomial variance, so the bound is
  conservative);
* :func:`upper_excess` -- anonymeter's baseline-normalised risk ``(p_a - p_c) / (1 - p_c)``
  bounded from the two binomials of attack successes and control successes: the risk rises
  with ``p_a`` and falls with ``p_c``, so the upper bound of ``p_a`` and the lower bound of
  ``p_c``, each at level ``1 - alpha / 2`` (Bonferroni), give an upper bound at ``1 - alpha``
  (anonymeter's own interval is a normal approximation);
* :func:`trials_to_certify` -- the fewest trials for which a leak-free result (zero successes,
  or attack rate equal to the control rate) has its upper bound at or below the threshold;
* :func:`certify_probability` -- the probability that a leak-free table passes with ``n``
  trials (the power to certify an honest generator), computed exactly over the binomial
  distribution of the counts.

Why hand-written: scipy gives two-sided binomial intervals; one-sided bounds are its beta
quantiles at the full ``alpha``, and the inversions and the excess-risk bound are a few lines
on top of them.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

#: Names of the bound methods, as reports state them.
METHODS = {
    "clopper-pearson": "one-sided Clopper-Pearson (exact binomial)",
    "excess-clopper-pearson": ("one-sided bound on (attack rate - control rate) / (1 - control "
                               "rate) from Clopper-Pearson bounds of the two rates, each at "
                               "level 1 - alpha/2 (exact, conservative)"),
}


def _check(trials: float, level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if trials < 0 or not math.isfinite(trials):
        raise ValueError(f"trials must be a finite number >= 0, got {trials!r}")


def _clip(successes: float, trials: float) -> float:
    k = min(max(float(successes), 0.0), float(trials))
    return float(round(k)) if abs(k - round(k)) < 1e-9 else k


def upper_rate(successes: float, trials: float, level: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of a success rate at ``level``."""
    _check(trials, level)
    if trials == 0:
        return 1.0
    k = _clip(successes, trials)
    if k >= trials:
        return 1.0
    return float(stats.beta.ppf(level, k + 1.0, trials - k))


def lower_rate(successes: float, trials: float, level: float = 0.95) -> float:
    """One-sided Clopper-Pearson lower bound of a success rate at ``level``."""
    _check(trials, level)
    if trials == 0:
        return 0.0
    k = _clip(successes, trials)
    if k <= 0:
        return 0.0
    return float(stats.beta.ppf(1.0 - level, k, trials - k + 1.0))


def excess(attack_rate: float, control_rate: float) -> float:
    """Anonymeter's risk ``(p_a - p_c) / (1 - p_c)``, clipped to [0, 1] (0 when p_c = 1)."""
    if control_rate >= 1.0:
        return 0.0
    return float(min(1.0, max(0.0, (attack_rate - control_rate) / (1.0 - control_rate))))


def upper_excess(attack_successes: float, attack_trials: float, control_successes: float,
                 control_trials: float, level: float = 0.95) -> float:
    """Upper bound at ``level`` of ``(p_a - p_c) / (1 - p_c)`` from the two binomial counts."""
    each = 1.0 - (1.0 - level) / 2.0
    high = upper_rate(attack_successes, attack_trials, each)
    low = lower_rate(control_successes, control_trials, each)
    return excess(high, low)


def lower_excess(attack_successes: float, attack_trials: float, control_successes: float,
                 control_trials: float, level: float = 0.95) -> float:
    """Lower bound at ``level`` of ``(p_a - p_c) / (1 - p_c)`` from the two binomial counts."""
    each = 1.0 - (1.0 - level) / 2.0
    return excess(lower_rate(attack_successes, attack_trials, each),
                  upper_rate(control_successes, control_trials, each))


def trials_to_certify(threshold: float, level: float = 0.95, *, control_rate: float = 0.0
                      ) -> int | None:
    """Fewest trials whose leak-free upper bound is at or below ``threshold``.

    With ``control_rate == 0`` the leak-free result is zero successes and the bound is the
    Clopper-Pearson one (closed form ``1 - alpha ** (1/n)``). With a control rate ``p`` (the
    share an adversary gets right from general patterns), the leak-free result has attack and
    control rates both at ``p`` (counts ``n p`` on ``n`` trials each) and the bound is
    :func:`upper_excess`. Returns ``None`` when no sample below 10**9 certifies it.
    """
    if threshold >= 1.0:
        return 1
    if threshold <= 0.0:
        return None

    def bound(n: int) -> float:
        if control_rate <= 0.0:
            return upper_rate(0, n, level)
        k = control_rate * n
        return upper_excess(k, n, k, n, level)

    hi = 1
    while bound(hi) > threshold:
        hi *= 2
        if hi > 10**9:
            return None
    lo = max(1, hi // 2)
    while lo < hi:  # the bound falls as n grows: bisect for the smallest passing n
        mid = (lo + hi) // 2
        if bound(mid) <= threshold:
            hi = mid
        else:
            lo = mid + 1
    return hi


def certify_probability(threshold: float, trials: int, level: float = 0.95, *,
                        control_rate: float = 0.0, control_trials: int | None = None
                        ) -> float:
    """Probability that a leak-free table passes a check of ``trials`` trials.

    Leak-free means the attack succeeds on members exactly as often as on non-members (rate
    ``control_rate``; 0 for a rate with no control, where every success counts against). The
    probability is summed exactly over the binomial distributions of the two counts (attack
    counts on ``trials``, control counts on ``control_trials``, default ``trials``).
    """
    if trials <= 0:
        return 0.0
    m = trials if control_trials is None else control_trials
    if control_rate <= 0.0:
        # pass iff upper_rate(k, n) <= threshold: k below the largest passing count
        k_max = _largest_passing(threshold, trials, level)
        return float(stats.binom.cdf(k_max, trials, 0.0)) if k_max >= 0 else 0.0
    ka = np.arange(trials + 1)
    kc = np.arange(m + 1)
    pa = stats.binom.pmf(ka, trials, control_rate)
    pc = stats.binom.pmf(kc, m, control_rate)
    each = 1.0 - (1.0 - level) / 2.0
    # only counts with non-negligible probability matter
    ka, pa = ka[pa > 1e-12], pa[pa > 1e-12]
    kc, pc = kc[pc > 1e-12], pc[pc > 1e-12]
    high = stats.beta.ppf(each, ka + 1.0, np.maximum(trials - ka, 1e-12))
    high = np.where(ka >= trials, 1.0, high)
    low = np.where(kc <= 0, 0.0, stats.beta.ppf(1.0 - each, np.maximum(kc, 1e-12), m - kc + 1.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        risk = (high[:, None] - low[None, :]) / (1.0 - low[None, :])
    risk = np.clip(np.nan_to_num(risk, nan=0.0), 0.0, 1.0)
    return float(np.sum(pa[:, None] * pc[None, :] * (risk <= threshold)))


def _largest_passing(threshold: float, trials: int, level: float) -> int:
    """The largest success count whose upper bound is at or below ``threshold`` (-1: none)."""
    lo, hi = -1, trials
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if upper_rate(mid, trials, level) <= threshold:
            lo = mid
        else:
            hi = mid - 1
    return lo


__all__ = ["METHODS", "certify_probability", "excess", "lower_excess", "lower_rate",
           "trials_to_certify", "upper_excess", "upper_rate"]
