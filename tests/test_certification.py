"""Certification: can the sample certify the threshold at all, and how many trials would?"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from privgate.attack import AttackResult
from privgate.policy import Policy, Status, check
from privgate.stats import rate_ci, trials_to_certify, zero_success_upper

METHODS = st.sampled_from(["exact", "wilson"])
LEVELS = st.sampled_from([0.9, 0.95, 0.975, 0.99])


@settings(max_examples=60, deadline=None)
@given(st.floats(0.0002, 0.6), LEVELS, METHODS)
def test_trials_needed_is_the_smallest_n_whose_perfect_result_certifies(
        threshold: float, level: float, method: str) -> None:
    n = trials_to_certify(threshold, level, method)
    assert n is not None
    upper = stats.binomtest(0, n).proportion_ci(confidence_level=level, method=method).high
    assert upper <= threshold
    if n > 1:
        assert zero_success_upper(n - 1, level, method) > threshold


def test_known_figures() -> None:
    # Clopper-Pearson: 1 - 0.025 ** (1/n) <= 0.09 first at n = 40; Wilson: z^2 (1-t)/t
    assert trials_to_certify(0.09, 0.95, "exact") == 40
    assert trials_to_certify(0.09, 0.95, "wilson") == 39
    assert trials_to_certify(0.0004, 0.95, "exact") == 9221
    assert trials_to_certify(0.0, 0.95) is None
    with pytest.raises(ValueError, match="interval method"):
        trials_to_certify(0.1, 0.95, "normal")


def _result(n: int, high: float, method: str | None = "exact", low: float = 0.0,
            null_upper: float | None = None) -> AttackResult:
    return AttackResult("a", "identity-disclosure", low, low, high, 0.95, "test interval", 0.0,
                        "none", n, null_upper=null_upper, binomial_method=method)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 20_000), st.floats(0, 1), st.floats(0, 1), st.floats(0.0001, 1),
       st.sampled_from(["exact", "wilson", None]))
def test_cannot_certify_is_never_pass(n: int, a: float, b: float, threshold: float,
                                      method: str | None) -> None:
    low, high = sorted((a, b))
    policy = Policy("p", "P", "d", {"identity-disclosure": threshold})
    out = check(policy, "g", "a", "identity-disclosure", _result(n, high, method, low))
    cert = out.to_dict()["certification"]
    needed = cert["trials_needed"]
    assert cert["trials_available"] == n
    assert cert["can_certify"] == (needed is not None and n >= needed)
    if not cert["can_certify"]:
        assert out.status in (Status.CANNOT_CERTIFY, Status.FAIL)
        assert out.status is not Status.PASS
        if out.status is Status.CANNOT_CERTIFY and needed is not None:
            assert f"{needed:,}" in out.message
    if out.status is Status.PASS:
        assert high <= threshold and cert["can_certify"]


def test_check_states_its_interval_method_and_certification_block() -> None:
    policy = Policy("p", "P", "d", {"identity-disclosure": 0.09})
    small = check(policy, "g", "a", "identity-disclosure", _result(30, 0.05, "wilson")).to_dict()
    assert small["status"] == "cannot-certify"  # a perfect-looking bound on 30 trials
    assert small["interval_method"] == "test interval"
    cert = small["certification"]
    assert set(cert) == {"method", "level", "trials_needed", "trials_available", "can_certify"}
    assert cert["trials_needed"] == 39 and "Wilson" in cert["method"]
    assert "39 trials (records) are needed" in small["message"]
    big = check(policy, "g", "a", "identity-disclosure", _result(400, 0.05)).to_dict()
    assert big["status"] == "pass" and big["certification"]["can_certify"] is True
    # an attack whose interval is not binomial states its own leak-free bound
    boot = check(policy, "g", "a", "identity-disclosure",
                 _result(2000, 0.2, None, null_upper=0.18)).to_dict()
    assert boot["status"] == "cannot-certify"
    assert boot["certification"]["trials_needed"] == 8000
    assert "square root" in boot["certification"]["method"]


def test_bonferroni_level_is_what_certification_inverts() -> None:
    result = AttackResult("a", "identity-disclosure", 0.0, 0.0, 0.05, 0.95, "t", 0.0, "n", 45,
                          binomial_method="exact", binomial_level=0.975)
    out = check(Policy("p", "P", "d", {"identity-disclosure": 0.09}), "g", "a",
                "identity-disclosure", result).to_dict()
    assert out["certification"]["level"] == 0.975
    assert out["certification"]["trials_needed"] == trials_to_certify(0.09, 0.975) == 47
    assert out["status"] == "cannot-certify"


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5000), st.floats(0, 1), LEVELS, METHODS)
def test_fractional_rate_interval_contains_the_rate_and_matches_scipy_on_whole_counts(
        n: int, share: float, level: float, method: str) -> None:
    k = share * n
    low, high = rate_ci(k, n, level, method)
    assert 0 <= low <= k / n + 1e-12 and k / n - 1e-12 <= high <= 1
    whole = round(k)
    ci = stats.binomtest(whole, n).proportion_ci(confidence_level=level, method=method)
    assert rate_ci(whole, n, level, method) == pytest.approx((ci.low, ci.high))
