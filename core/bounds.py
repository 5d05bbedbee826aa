"""One-sided confidence bounds for the question a gate asks: "is the risk at most T?".

A gate passes a check only when an *upper* confidence bound is at or below the threshold, so
the bound that fits is one-sided: at level ``1 - alpha`` it is exceeded by the true risk with
probability at most ``alpha`` (a two-sided interval at the same level spends only ``alpha / 2``
on that side and is needlessly wide). Everything here is exact where the counts allow:

* :func:`upper_rate` / :func:`lower_rate` -- Clopper-Pearson one-sided bounds for a binomial
  rate (scipy's beta quantiles; a fractional success count, a sum of per-trial probabilities,
  is allowed: a [0, 1]-valued mean has at most the binomial variance, so the bound is
  conservative);
* :func:`upper_excess` / :func:`lower_excess` -- anonymeter's baseline-normalised risk
  ``(p_a - p_c) / (1 - p_c)`` bounded from the two binomials of attack successes and control
  successes: the risk rises with ``p_a`` and falls with ``p_c``, so the upper bound of ``p_a``
  and the lower bound of ``p_c``, each at level ``1 - alpha / 2`` (Bonferroni), give an exact
  bound at ``1 - alpha`` (anonymeter's own interval is a normal approximation);
* :func:`upper_difference` / :func:`lower_difference` -- the attack rate minus the control
  rate (a verbatim-copy excess, TPR - FPR at a fixed operating point), bounded the same way
  from the two Clopper-Pearson bounds at ``1 - alpha / 2`` each;
* :func:`upper_excess_mover` / :func:`upper_difference_mover` -- the same upper bounds by
  MOVER (Newcombe 1998; Zou & Donner 2008): the two exact Clopper-Pearson bounds, each at the
  full ``1 - alpha``, their distances from the estimates combined in quadrature (weighted by
  the risk's derivatives for the excess). Adding the two distances, as Bonferroni does, is
  exact but about 1.7 times wider than needed: it left a leak-free Adult table (24,000 rows a
  side, a secret 86% predictable) a 35% chance to certify 0.09. MOVER is not exact; over a
  grid of 200 to 15,000 trials and control rates 0 to 0.97 its upper bound missed the true
  risk at most 5.1% of the time at level 0.95 (simulation error 0.15%; ``tests/test_bounds.py``
  keeps a grid of it), and it is exactly Clopper-Pearson's when no control attempt succeeds.
  The gate passes on these; it fails only on the exact lower bounds, so a generator that
  leaks nothing fails with probability at most alpha;
* the same MOVER upper bound over strata of matched targets is in
  :mod:`privgate.strata_bounds`;
* :func:`upper_corrected` / :func:`lower_corrected` -- the chance-corrected identity-disclosure
  rate ``p - (1 - q) c`` of El Emam et al. (rising in ``p`` and ``q``, falling in ``c``), from
  four Clopper-Pearson bounds at ``1 - alpha / 4`` each;
* :func:`trials_to_certify` -- the fewest trials for which a leak-free result (zero successes,
  or attack rate equal to the control rate) has its upper bound at or below the threshold;
* :func:`certify_probability` -- the probability that a leak-free table passes with ``n``
  trials (the power to certify an honest generator), computed exactly over the binomial
  distribution of the counts.

The bounds of each estimator are monotone in the counts in the direction that keeps them valid
whatever the dependence between the attack and the control counts (Bonferroni needs no
independence), so pairing the same targets or queries across the two arms is allowed.

Why hand-written: scipy gives two-sided binomial intervals; one-sided bounds are its beta
quantiles at the full ``alpha``, and the inversions and the excess-risk bound are a few lines
on top of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

#: Names of the bound methods, as reports state them.
METHODS = {
    "clopper-pearson": "one-sided Clopper-Pearson (exact binomial)",
    "excess-clopper-pearson": ("one-sided bound on (attack rate - control rate) / (1 - control "
                               "rate) from Clopper-Pearson bounds of the two rates, each at "
                               "level 1 - alpha/2 (exact, conservative)"),
    "difference-clopper-pearson": ("one-sided bound on attack rate - control rate from "
                                   "Clopper-Pearson bounds of the two rates, each at level "
                                   "1 - alpha/2 (exact, conservative)"),
    "corrected-clopper-pearson": ("one-sided bound on the chance-corrected rate p - (1 - q) c "
                                  "from Clopper-Pearson bounds of its four rates, each at "
                                  "level 1 - alpha/4 (exact, conservative)"),
    "excess-mover": ("upper: MOVER (Zou & Donner 2008) on (attack rate - control rate) / (1 - "
                     "control rate), the two Clopper-Pearson bounds at the full level combined "
                     "in quadrature (close to the stated level, not exact); lower: Clopper-"
                     "Pearson bounds of the two rates at 1 - alpha/2 each (exact)"),
    "difference-mover": ("upper: MOVER (Newcombe 1998) on attack rate - control rate, the two "
                         "Clopper-Pearson bounds at the full level combined in quadrature "
                         "(close to the stated level, not exact); lower: Clopper-Pearson bounds "
                         "of the two rates at 1 - alpha/2 each (exact)"),
}
#: The bound method of each estimator of :class:`privgate.evidence.Counts`.
ESTIMATOR_METHODS = {"rate": "clopper-pearson", "excess": "excess-mover",
                     "difference": "difference-mover",
                     "corrected": "corrected-clopper-pearson"}


def check_level(trials: float, level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if trials < 0 or not math.isfinite(trials):
        raise ValueError(f"trials must be a finite number >= 0, got {trials!r}")


def _clip(successes: float, trials: float) -> float:
    k = min(max(float(successes), 0.0), float(trials))
    return float(round(k)) if abs(k - round(k)) < 1e-9 else k


def upper_rate(successes: float, trials: float, level: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of a success rate at ``level``."""
    check_level(trials, level)
    if trials == 0:
        return 1.0
    k = _clip(successes, trials)
    if k >= trials:
        return 1.0
    return float(stats.beta.ppf(level, k + 1.0, trials - k))


def lower_rate(successes: float, trials: float, level: float = 0.95) -> float:
    """One-sided Clopper-Pearson lower bound of a success rate at ``level``."""
    check_level(trials, level)
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


def difference(attack_rate: float, control_rate: float) -> float:
    """``p_a - p_c`` clipped to [0, 1]."""
    return float(min(1.0, max(0.0, attack_rate - control_rate)))


def upper_difference(attack_successes: float, attack_trials: float, control_successes: float,
                     control_trials: float, level: float = 0.95) -> float:
    """Upper bound at ``level`` of ``p_a - p_c`` from the two binomial counts."""
    return _difference_bound(True, attack_successes, attack_trials, control_successes,
                             control_trials, level)


def lower_difference(attack_successes: float, attack_trials: float, control_successes: float,
                     control_trials: float, level: float = 0.95) -> float:
    """Lower bound at ``level`` of ``p_a - p_c`` from the two binomial counts."""
    return _difference_bound(False, attack_successes, attack_trials, control_successes,
                             control_trials, level)


def upper_excess_mover(attack_successes: float, attack_trials: float,
                       control_successes: float, control_trials: float, level: float = 0.95
                       ) -> float:
    """MOVER upper bound at ``level`` of ``(p_a - p_c) / (1 - p_c)`` (see the module)."""
    return float(_mover_upper("excess", attack_successes, attack_trials, control_successes,
                              control_trials, level))


def upper_difference_mover(attack_successes: float, attack_trials: float,
                           control_successes: float, control_trials: float,
                           level: float = 0.95) -> float:
    """MOVER upper bound at ``level`` of ``p_a - p_c`` (see the module)."""
    return float(_mover_upper("difference", attack_successes, attack_trials,
                              control_successes, control_trials, level))


def _mover_upper(kind: str, ka: Any, n: float, kc: Any, m: float, level: float
                 ) -> NDArray[np.float64]:
    """MOVER upper bounds for arrays of counts (``ka`` and ``kc`` broadcast)."""
    check_level(n, level)
    check_level(m, level)
    if n <= 0 or m <= 0:
        return np.ones(np.broadcast(np.asarray(ka), np.asarray(kc)).shape)
    ka = np.clip(np.asarray(ka, dtype=float), 0.0, n)
    kc = np.clip(np.asarray(kc, dtype=float), 0.0, m)
    pa, pc = ka / n, kc / m
    high = mover_combine(kind, pa, pc, cp_upper(ka, n, level) - pa, pc - cp_lower(kc, m, level))
    if kind == "difference":
        return high
    return np.where(kc >= m, 1.0, high)  # every control attempt succeeds: nothing to bound


def cp_upper(k: Any, n: Any, level: float) -> NDArray[np.float64]:
    """Clopper-Pearson upper bounds of arrays of counts (1 where every trial succeeds)."""
    return np.asarray(np.where(k >= n, 1.0, stats.beta.ppf(level, k + 1.0,
                                                           np.maximum(n - k, 1e-12))),
                      dtype=np.float64)


def cp_lower(k: Any, n: Any, level: float) -> NDArray[np.float64]:
    """Clopper-Pearson lower bounds of arrays of counts (0 where no trial succeeds)."""
    return np.asarray(np.where(k <= 0, 0.0, stats.beta.ppf(1.0 - level, np.maximum(k, 1e-12),
                                                           n - k + 1.0)), dtype=np.float64)


def mover_combine(kind: str, pa: Any, pc: Any, da: Any, dc: Any) -> NDArray[np.float64]:
    """MOVER's upper end from the rates and the distances of their own bounds: the attack
    rate's upper distance ``da`` and the control rate's lower distance ``dc`` combined in
    quadrature, weighted by the risk's derivatives (Zou & Donner 2008)."""
    if kind == "difference":
        high = pa - pc + np.sqrt(da * da + dc * dc)
    else:
        qc = np.maximum(1.0 - pc, 1e-12)
        high = (pa - pc) / qc + np.sqrt((da / qc) ** 2 + (dc * (1.0 - pa) / qc ** 2) ** 2)
    return np.asarray(np.clip(high, 0.0, 1.0), dtype=np.float64)


def _ends(upper: bool) -> tuple[Any, Any]:
    """The bounds of the rates a risk rises and falls with, for its upper (lower) bound."""
    return (upper_rate, lower_rate) if upper else (lower_rate, upper_rate)


def _difference_bound(upper: bool, a: float, n: float, c: float, m: float, level: float
                      ) -> float:
    rises, falls = _ends(upper)
    each = 1.0 - (1.0 - level) / 2.0
    return difference(rises(a, n, each), falls(c, m, each))


def corrected(rate: float, control_rate: float, hit_rate: float, control_hit_rate: float
              ) -> float:
    """El Emam's chance-corrected rate ``p - (1 - q) c``, ``q = excess(h, h_c)``, in [0, 1]."""
    q = excess(hit_rate, control_hit_rate)
    return float(min(1.0, max(0.0, rate - (1.0 - q) * control_rate)))


def upper_corrected(successes: float, trials: float, control_successes: float,
                    control_trials: float, hits: float, control_hits: float,
                    level: float = 0.95) -> float:
    """Upper bound at ``level`` of the chance-corrected rate from its four counts."""
    return _corrected_bound(True, (successes, trials, control_successes, control_trials, hits,
                                   control_hits), level)


def lower_corrected(successes: float, trials: float, control_successes: float,
                    control_trials: float, hits: float, control_hits: float,
                    level: float = 0.95) -> float:
    """Lower bound at ``level`` of the chance-corrected rate from its four counts."""
    return _corrected_bound(False, (successes, trials, control_successes, control_trials, hits,
                                    control_hits), level)


def _corrected_bound(upper: bool, counts: tuple[float, ...], level: float) -> float:
    """``p - (1 - q) c`` rises with ``p`` and the hit share, falls with ``c`` and the control
    hit share: each bounded on its side at ``1 - alpha/4``."""
    s, n, cs, m, h, hc = counts
    rises, falls = _ends(upper)
    each = 1.0 - (1.0 - level) / 4.0
    return corrected(rises(s, n, each), falls(cs, m, each), rises(h, n, each),
                     falls(hc, m, each))


def null_upper(estimator: str, trials: float, level: float = 0.95, *,
               control_rate: float = 0.0, control_trials: float | None = None,
               hit_rate: float = 0.0) -> float:
    """The upper bound a leak-free result shows with ``trials`` attack trials.

    Leak-free: for ``"rate"``, zero successes; otherwise the attack succeeds on members exactly
    as often as on control rows (``control_rate``; for ``"corrected"`` also the hit shares are
    equal, ``hit_rate``), the counts at their expected values ``rate * trials``.
    ``control_trials`` defaults to ``trials``.
    """
    m = trials if control_trials is None else control_trials
    if estimator == "rate":
        return upper_rate(0, trials, level)
    k, kc = control_rate * trials, control_rate * m
    if estimator == "excess":
        return upper_excess_mover(k, trials, kc, m, level)
    if estimator == "difference":
        return upper_difference_mover(k, trials, kc, m, level)
    if estimator == "corrected":
        return upper_corrected(k, trials, kc, m, hit_rate * trials, hit_rate * m, level)
    raise ValueError(f"unknown estimator {estimator!r}")


def trials_to_certify(threshold: float, level: float = 0.95, *, control_rate: float = 0.0,
                      estimator: str | None = None, control_ratio: float = 1.0,
                      hit_rate: float = 0.0) -> int | None:
    """Fewest trials whose leak-free upper bound is at or below ``threshold``.

    With ``control_rate == 0`` (and no ``estimator``) the leak-free result is zero successes
    and the bound is the Clopper-Pearson one (closed form ``1 - alpha ** (1/n)``). With a
    control rate ``p`` (the share an adversary gets right from general patterns), the
    leak-free result has attack and control rates both at ``p`` (counts ``n p`` on ``n``
    trials, and ``control_ratio * n`` control trials) and the bound is that of ``estimator``
    (default ``"excess"``, see :func:`null_upper`). Returns ``None`` when no sample below
    10**9 certifies it.
    """
    if threshold >= 1.0:
        return 1
    if threshold <= 0.0:
        return None
    kind = estimator or ("rate" if control_rate <= 0.0 else "excess")

    def bound(n: int) -> float:
        return null_upper(kind, n, level, control_rate=control_rate,
                          control_trials=max(1.0, control_ratio * n), hit_rate=hit_rate)

    return smallest_passing(bound, threshold)


def smallest_passing(bound: Callable[[int], float], threshold: float) -> int | None:
    """The smallest ``n >= 1`` with ``bound(n) <= threshold`` for a ``bound`` that falls as
    ``n`` grows (doubling, then bisection); ``None`` when none up to 10**9 is."""
    hi = 1
    while bound(hi) > threshold:
        hi *= 2
        if hi > 10**9:
            return None
    lo = max(1, hi // 2)
    while lo < hi:
        mid = (lo + hi) // 2
        if bound(mid) <= threshold:
            hi = mid
        else:
            lo = mid + 1
    return hi


def certify_probability(threshold: float, trials: int, level: float = 0.95, *,
                        control_rate: float = 0.0, control_trials: int | None = None,
                        estimator: str | None = None, hit_rate: float = 0.0) -> float:
    """Probability that a leak-free table passes a check of ``trials`` trials.

    Leak-free means the attack succeeds on members exactly as often as on non-members (rate
    ``control_rate``; 0 for a rate with no control, where every success counts against). The
    probability is summed exactly over the binomial distributions of the two counts (attack
    counts on ``trials``, control counts on ``control_trials``, default ``trials``). For
    ``"corrected"`` the two hit counts are held at their expected values (``hit_rate`` times
    the trials): the sum is over the re-identification counts only.
    """
    if trials <= 0:
        return 0.0
    m = trials if control_trials is None else control_trials
    kind = estimator or ("rate" if control_rate <= 0.0 else "excess")
    if kind == "rate" or control_rate <= 0.0:
        if kind == "rate":
            # pass iff upper_rate(k, n) <= threshold: k below the largest passing count
            k_max = _largest_passing(threshold, trials, level)
            return float(stats.binom.cdf(k_max, trials, control_rate)) if k_max >= 0 else 0.0
        return float(null_upper(kind, trials, level, control_rate=0.0, control_trials=m,
                                hit_rate=hit_rate) <= threshold)
    ka, pa = _support(trials, control_rate)
    kc, pc = _support(m, control_rate)
    if kind == "corrected":  # hits held at their expected counts: q is one number
        each = 1.0 - (1.0 - level) / 4.0
        high = np.where(ka >= trials, 1.0,
                        stats.beta.ppf(each, ka + 1.0, np.maximum(trials - ka, 1e-12)))
        low = np.where(kc <= 0, 0.0,
                       stats.beta.ppf(1.0 - each, np.maximum(kc, 1e-12), m - kc + 1.0))
        q = excess(upper_rate(hit_rate * trials, trials, each),
                   lower_rate(hit_rate * m, m, each))
        risk = np.clip(high[:, None] - (1.0 - q) * low[None, :], 0.0, 1.0)
    else:
        risk = _mover_upper(kind, ka[:, None], trials, kc[None, :], m, level)
    return float(np.sum(pa[:, None] * pc[None, :] * (risk <= threshold)))


def _support(n: int, rate: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The counts of a binomial(n, rate) with non-negligible probability, and theirs."""
    k = np.arange(n + 1)
    p = stats.binom.pmf(k, n, rate)
    keep = p > 1e-12
    return k[keep].astype(float), p[keep]


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


__all__ = ["ESTIMATOR_METHODS", "METHODS", "certify_probability", "check_level",
           "corrected", "cp_lower", "cp_upper", "difference", "excess", "lower_corrected",
           "lower_difference", "lower_excess", "lower_rate", "mover_combine", "null_upper",
           "smallest_passing", "trials_to_certify", "upper_corrected", "upper_difference",
           "upper_difference_mover", "upper_excess", "upper_excess_mover", "upper_rate"]
