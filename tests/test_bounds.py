"""One-sided exact bounds (privgate.bounds): coverage, inversions and power, against scipy and
simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from privgate import bounds

LEVELS = st.sampled_from([0.9, 0.95, 0.99])


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 5000), st.floats(0, 1), LEVELS)
def test_clopper_pearson_one_sided_matches_scipy_at_twice_alpha(n: int, share: float,
                                                                 level: float) -> None:
    k = round(share * n)
    # a two-sided exact interval at 1 - 2 alpha has one-sided ends at 1 - alpha
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=2 * level - 1, method="exact")
    assert bounds.upper_rate(k, n, level) == pytest.approx(ci.high, abs=1e-9)
    assert bounds.lower_rate(k, n, level) == pytest.approx(ci.low, abs=1e-9)
    assert bounds.lower_rate(k, n, level) <= k / n <= bounds.upper_rate(k, n, level)


def test_zero_success_bound_and_its_closed_form() -> None:
    for n in (1, 10, 32, 9221):
        assert bounds.upper_rate(0, n, 0.95) == pytest.approx(1 - 0.05 ** (1 / n))
    assert bounds.trials_to_certify(0.09) == 32  # 1 - 0.05 ** (1/n) <= 0.09 first at 32
    assert bounds.trials_to_certify(0.0) is None and bounds.trials_to_certify(1.0) == 1
    # a difference with no control successes: MOVER's upper bound is then Clopper-Pearson's
    # 1 - 0.05 ** (1/n) <= 0.0004 first at n = 7488 (ln 0.05 / ln 0.9996 = 7487.8)
    assert bounds.trials_to_certify(0.0004, estimator="difference") == 7488
    assert bounds.upper_difference_mover(0, 7488, 0, 3000) == pytest.approx(
        bounds.upper_rate(0, 7488))
    assert bounds.upper_rate(5, 0) == 1.0 and bounds.lower_rate(5, 0) == 0.0


@settings(max_examples=40, deadline=None)
@given(st.floats(0.001, 0.5), st.floats(0.0, 0.9), LEVELS,
       st.sampled_from(["excess", "difference"]))
def test_trials_to_certify_is_the_smallest_leak_free_sample(threshold: float, rate: float,
                                                            level: float, kind: str) -> None:
    n = bounds.trials_to_certify(threshold, level, control_rate=rate, estimator=kind)
    if n is None:
        return
    assert bounds.null_upper(kind, n, level, control_rate=rate) <= threshold
    if n > 1:
        assert bounds.null_upper(kind, n - 1, level, control_rate=rate) > threshold


@pytest.mark.parametrize("kind", ["excess", "difference"])
def test_two_binomial_bounds_cover_at_their_level(kind: str) -> None:
    """Simulated coverage of the one-sided bounds of (p_a - p_c)/(1 - p_c) and p_a - p_c:
    exact and conservative, so at least the stated level."""
    rng = np.random.default_rng(0)
    level, n, m = 0.95, 400, 300
    upper = bounds.upper_excess if kind == "excess" else bounds.upper_difference
    lower = bounds.lower_excess if kind == "excess" else bounds.lower_difference
    truth = bounds.excess if kind == "excess" else bounds.difference
    for pa, pc in ((0.5, 0.5), (0.62, 0.5), (0.95, 0.9), (0.02, 0.0)):
        ka, kc = rng.binomial(n, pa, 2000), rng.binomial(m, pc, 2000)
        risk = truth(pa, pc)
        above = np.mean([upper(a, n, c, m, level) < risk for a, c in zip(ka, kc)])
        below = np.mean([lower(a, n, c, m, level) > risk for a, c in zip(ka, kc)])
        assert above <= 1 - level and below <= 1 - level, (pa, pc, above, below)


def test_corrected_bound_covers_el_emams_rate() -> None:
    """p - (1 - q) c with q = excess(h, h_c): its bounds hold the truth at their level."""
    rng = np.random.default_rng(1)
    n, m, level = 500, 300, 0.95
    p, c, h, hc = 0.05, 0.03, 0.2, 0.12
    truth = bounds.corrected(p, c, h, hc)
    misses = 0
    for _ in range(1000):
        k, kc = rng.binomial(n, p), rng.binomial(m, c)
        hits, chits = max(k, rng.binomial(n, h)), max(kc, rng.binomial(m, hc))
        misses += bounds.upper_corrected(k, n, kc, m, hits, chits, level) < truth
    assert misses / 1000 <= 1 - level


def test_power_is_the_exact_probability_a_leak_free_table_passes() -> None:
    # a rate with no control: zero successes always pass once n certifies the threshold
    assert bounds.certify_probability(0.09, 31) == 0.0
    assert bounds.certify_probability(0.09, 32) == 1.0
    # excess over a control rate: matches a simulation of the two binomials
    rng = np.random.default_rng(2)
    n, rate, t = 2000, 0.4, 0.09
    exact = bounds.certify_probability(t, n, control_rate=rate)
    ka, kc = rng.binomial(n, rate, 4000), rng.binomial(n, rate, 4000)
    simulated = np.mean([bounds.upper_excess_mover(a, n, c, n) <= t for a, c in zip(ka, kc)])
    assert exact == pytest.approx(simulated, abs=0.03)
    # more trials, more power
    assert bounds.certify_probability(t, 4 * n, control_rate=rate) >= exact


def test_bounds_are_monotone_in_the_counts() -> None:
    base = bounds.upper_excess(120, 400, 100, 400)
    assert bounds.upper_excess(130, 400, 100, 400) >= base
    assert bounds.upper_excess(120, 400, 110, 400) <= base
    assert bounds.upper_difference(5, 1000, 0, 1000) >= bounds.upper_difference(4, 1000, 0,
                                                                                   1000)
    assert math.isclose(bounds.excess(1.0, 1.0), 0.0)
    with pytest.raises(ValueError, match="level"):
        bounds.upper_rate(1, 10, 1.5)
    with pytest.raises(ValueError, match="estimator"):
        bounds.null_upper("median", 10)


@pytest.mark.parametrize("kind", ["excess", "difference"])
def test_mover_upper_bounds_hold_their_level_and_are_narrower(kind: str) -> None:
    """The upper bounds the gate passes on (MOVER on the two exact bounds): over a grid of
    sizes, control rates and risks they miss the truth at most about alpha of the time, and
    they are narrower than the exact Bonferroni ones."""
    rng = np.random.default_rng(3)
    mover = bounds.upper_excess_mover if kind == "excess" else bounds.upper_difference_mover
    exact = bounds.upper_excess if kind == "excess" else bounds.upper_difference
    truth = bounds.excess if kind == "excess" else bounds.difference
    draws = 3000
    for n, m in ((300, 300), (2000, 800)):
        for pc in (0.0, 0.05, 0.5, 0.9):
            for risk in (0.0, 0.09):
                pa = pc + risk * (1 - pc) if kind == "excess" else min(1.0, pc + risk)
                ka, kc = rng.binomial(n, pa, draws), rng.binomial(m, pc, draws)
                highs = np.array([mover(a, n, c, m) for a, c in zip(ka, kc)])
                target = truth(pa, pc)
                miss = np.mean(highs < target - 1e-12)
                assert miss <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / draws), (n, m, pc, risk, miss)
                assert np.mean(highs) <= np.mean([exact(a, n, c, m)
                                                  for a, c in zip(ka[:200], kc[:200])]) + 1e-9
