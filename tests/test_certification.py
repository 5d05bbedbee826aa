"""Certification: can the sample certify the threshold at all, and how many trials would?"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from privgate.attack import AttackResult
from privgate.bounds import certify_probability, upper_excess_mover
from privgate.evidence import Counts
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
    doc = out.to_dict()
    cert = doc["certification"]
    needed = cert["trials_needed"]
    assert cert["trials_available"] == doc["trials_available"] == n
    assert cert["can_certify"] == doc["certifiable_on_table"] == (
        needed is not None and n >= needed)
    if not cert["can_certify"]:
        assert out.status in (Status.CANNOT_CERTIFY, Status.FAIL)
        if out.status is Status.CANNOT_CERTIFY and needed is not None:
            assert f"{needed:,}" in out.message
    if out.status is Status.PASS:
        assert high <= threshold and cert["can_certify"]
    if out.status is Status.FAIL:  # only a lower bound above the threshold fails
        assert low > threshold


def test_check_states_its_bound_method_and_certification_block() -> None:
    policy = Policy("p", "P", "d", {"identity-disclosure": 0.09})
    small = check(policy, "g", "a", "identity-disclosure", _result(30, 0.05, "wilson")).to_dict()
    assert small["status"] == "cannot-certify"  # a perfect-looking bound on 30 trials
    assert small["interval_method"] == "test interval"
    cert = small["certification"]
    assert {"method", "level", "trials_needed", "trials_available", "can_certify",
            "power"} <= set(cert)
    assert cert["trials_needed"] == 39 and "Wilson" in cert["method"]
    assert "39 trials (records)" in small["message"] and "on this table" in small["message"]
    big = check(policy, "g", "a", "identity-disclosure", _result(400, 0.05)).to_dict()
    assert big["status"] == "pass" and big["certification"]["can_certify"] is True
    # an older attack with only a two-sided interval: its ends serve as one-sided bounds
    assert "conservatively" in big["bound_method"]
    assert big["upper_bound"] == big["ci_high"] == 0.05
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
    assert out["certification"]["trials_needed"] == trials_to_certify(0.09, 0.975) == 47
    assert out["status"] == "cannot-certify"


# --- counts: core computes the bounds, power and certification itself ---------------------

INFERENCE = Policy("p", "P", "d", {"inference": 0.09, "verbatim-copy": 0.0004})


def _counted(*counts: Counts, n: int | None = None, available: int | None = None,
             planned: int | None = None, kind: str = "inference") -> AttackResult:
    n = n or max(c.trials for c in counts)
    # the attack's own risk and interval are ignored: core decides from the counts
    return AttackResult("a", kind, 0.5, 0.0, 1.0, 0.95, "attack's own", 0.0, "b", n,
                        counts=counts, trials_available=available, trials_planned=planned)


def test_counts_decide_with_exact_one_sided_bounds() -> None:
    leak_free = Counts("secret x", "excess", 2000, 4000, 2000, 4000)
    out = check(INFERENCE, "g", "a", "inference", _counted(leak_free)).to_dict()
    assert out["status"] == "pass" and out["risk"] == 0.0
    assert out["upper_bound"] == pytest.approx(upper_excess_mover(2000, 4000, 2000, 4000))
    assert out["upper_bound"] == out["ci_high"] and out["lower_bound"] == out["ci_low"] == 0.0
    assert "MOVER" in out["bound_method"] and out["trials_run"] == 4000
    assert out["power"] == pytest.approx(certify_probability(0.09, 4000, control_rate=0.5))
    assert "0.5" in out["power_null"] and out["certifiable_on_table"] is True
    leak = Counts("secret x", "excess", 2800, 4000, 2000, 4000)  # risk 0.4
    out = check(INFERENCE, "g", "a", "inference", _counted(leak)).to_dict()
    assert out["status"] == "fail" and out["lower_bound"] > 0.09
    # between: the bounds straddle the threshold; the message says where the estimate lies
    near = Counts("secret x", "excess", 2190, 4000, 2000, 4000)  # risk 0.095
    out = check(INFERENCE, "g", "a", "inference", _counted(near))
    assert out.status is Status.CANNOT_CERTIFY
    assert "best estimate, 0.095, is above the threshold" in out.message


def test_a_predictable_secret_cannot_be_certified_on_this_table_and_says_why() -> None:
    easy = Counts("secret ct", "excess", 4300, 4657, 4330, 4657)  # 93% guessed on control
    out = check(INFERENCE, "g", "a", "inference", _counted(easy)).to_dict()
    assert out["status"] == "cannot-certify" and out["certifiable_on_table"] is False
    assert "93% of control attempts already succeed" in out["message"]
    assert out["trials_needed"] > 4657 and out["power"] < 0.5


def test_several_comparisons_bonferroni_and_supplementary_gating() -> None:
    one = Counts("secret a", "excess", 1000, 4000, 1000, 4000)
    two = Counts("secret b", "excess", 1000, 4000, 1000, 4000)
    single = check(INFERENCE, "g", "a", "inference", _counted(one)).to_dict()
    both = check(INFERENCE, "g", "a", "inference", _counted(one, two)).to_dict()
    assert both["upper_bound"] > single["upper_bound"]  # each at 1 - alpha/2
    assert [c["level"] for c in both["comparisons"]] == [0.975, 0.975]
    # a supplementary comparison this table cannot certify is reported, not gated
    unique = Counts("all", "difference", 0, 34000, 0, 14000)
    few = Counts("qi", "difference", 0, 2000, 0, 900, supplementary=True)
    out = check(INFERENCE, "g", "a", "verbatim-copy", _counted(unique, few,
                                                                kind="verbatim-copy"))
    doc = out.to_dict()
    assert out.status is Status.PASS
    assert [c["gated"] for c in doc["comparisons"]] == [True, False]
    assert any("qi: reported, not gated" in w for w in doc["warnings"])


def test_trials_asked_for_beyond_the_table_are_a_warning() -> None:
    c = Counts("secret x", "excess", 2000, 4657, 2000, 4657)
    out = check(INFERENCE, "g", "a", "inference", _counted(c, planned=8329, available=4657))
    assert "asked for 8,329 trials; the table allows 4,657" in out.warnings
    # too few run while the table has more: never a pass, and the message says so
    short = Counts("secret x", "excess", 10, 20, 10, 20)
    out = check(INFERENCE, "g", "a", "inference", _counted(short, available=4657))
    assert out.status is Status.CANNOT_CERTIFY and "trials run" in out.message
    assert any("ran 20 of the 4,657 trials" in w for w in out.warnings)


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
