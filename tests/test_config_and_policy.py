"""Audit config validation, policy checks and certification arithmetic."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privgate.attack import AttackResult
from privgate.config import load_config, parse_config
from privgate.errors import InputError
from privgate.policy import Policy, Status, check, worst
from privgate.stats import binomial_ci, trials_to_certify


@pytest.mark.parametrize("raw, message", [
    ({"seeed": 1}, "unknown key 'seeed'"),
    ({"seed": "one"}, "'seed' must be an integer"),
    ({"data": {"pth": "x.csv"}}, "unknown key 'data.pth'"),
    ({"data": {"control_fraction": 1.5}}, "'data.control_fraction'"),
    ({"generators": [{"name": "gmm", "epsilon": "1"}]}, r"'generators\[0\].epsilon'"),
    ({"generators": [{"name": "gmm", "epsilon": -1}]}, r"'generators\[0\].epsilon'"),
    ({"generators": [{"name": "gmm", "budget": 1}]}, r"unknown key 'generators\[0\].budget'"),
    ({"attacks": [{"name": "x", "parms": {}}]}, r"unknown key 'attacks\[0\].parms'"),
    ({"policies": "strict"}, "'policies'"),
    ({"policies": []}, "at least one policy"),
    ({"confidence_level": 1.2}, "'confidence_level'"),
])
def test_bad_config_names_the_key(raw: dict, message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        parse_config(raw, where="gate.toml")
    assert str(info.value).startswith("gate.toml: ")


def test_config_file_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "gate.toml").write_text(
        'seed = 3\npolicies = ["strict-0.04pct"]\nattacks = ["dcr-membership", '
        '{ name = "distinguishability", params = { folds = 3 } }]\n'
        '[data]\npath = "rows.csv"\n[[generators]]\nname = "dpsgd-vae"\nepsilon = 2\n'
        '[schema.columns.age]\nkind = "integer"\nbounds = [0, 99]\n')
    config = load_config(tmp_path / "gate.toml")
    assert config.resolve(config.data.path) == tmp_path / "rows.csv"
    assert config.generators[0].epsilon == 2.0 and config.generators[0].delta == 1e-5
    assert [(r.name, r.params) for r in config.refs("attacks")] == [
        ("dcr-membership", {}), ("distinguishability", {"folds": 3})]
    assert config.declared_schema("gate.toml")["age"].bounds == (0.0, 99.0)
    assert config.sha256() == load_config(tmp_path / "gate.toml").sha256()


def test_config_that_is_not_toml(tmp_path: Path) -> None:
    (tmp_path / "gate.toml").write_text("seed = = 1\n")
    with pytest.raises(InputError, match="gate.toml: not valid TOML"):
        load_config(tmp_path / "gate.toml")


def _result(risk: float, low: float, high: float, n: int = 1000) -> AttackResult:
    return AttackResult("a", "membership", risk, low, high, 0.95, "test", 0.0, "coin", n)


POLICY = Policy("p", "P", "test policy", {"membership": 0.09})


def test_check_passes_only_under_the_upper_bound_and_fails_only_over_the_lower() -> None:
    assert check(POLICY, "g", "a", "membership", _result(0.05, 0.03, 0.09)).status is Status.PASS
    # the bounds straddle the threshold: not a pass, and not a fail either (the risk may be
    # under it); the message says where the best estimate lies
    straddle = check(POLICY, "g", "a", "membership", _result(0.05, 0.03, 0.0901))
    assert straddle.status is Status.CANNOT_CERTIFY
    assert "best estimate, 0.05, is at or below the threshold" in straddle.message
    assert check(POLICY, "g", "a", "membership", _result(0.2, 0.15, 0.25)).status is Status.FAIL


def test_check_cannot_certify_small_samples_and_says_how_many_are_needed() -> None:
    out = check(POLICY, "g", "a", "membership", _result(0.0, 0.0, 0.3, n=10))
    assert out.status is Status.CANNOT_CERTIFY
    assert out.trials_needed == trials_to_certify(0.09, 0.95) == 40
    assert "40" in out.message and out.certifiable_on_table is False


def test_errors_fail_closed() -> None:
    out = check(POLICY, "g", "a", "membership", None, "boom")
    assert out.status is Status.ERROR and "boom" in out.message
    assert worst([Status.PASS, Status.ERROR, Status.FAIL]) is Status.ERROR
    assert worst([Status.PASS, Status.CANNOT_CERTIFY]) is Status.CANNOT_CERTIFY
    assert worst([]) is Status.CANNOT_CERTIFY  # nothing checked never passes


@settings(max_examples=40, deadline=None)
@given(st.floats(0.0001, 0.5), st.sampled_from([0.9, 0.95, 0.99]))
def test_trials_to_certify_is_exactly_enough(threshold: float, level: float) -> None:
    n = trials_to_certify(threshold, level)
    assert n is not None
    assert binomial_ci(0, n, level, "exact")[1] <= threshold + 1e-12
    if n > 1:
        assert binomial_ci(0, n - 1, level, "exact")[1] > threshold


@settings(max_examples=40, deadline=None)
@given(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1))
def test_policy_decisions_are_monotone_in_the_upper_bound(a: float, b: float, t: float) -> None:
    low, high = sorted((a, b))
    policy = Policy("p", "P", "d", {"membership": t})
    status = check(policy, "g", "x", "membership", _result(low, low, high)).status
    if status is Status.PASS:
        assert high <= t
        # any smaller upper bound also passes
        assert check(policy, "g", "x", "membership", _result(low, low, (low + high) / 2)
                     ).status is Status.PASS
    else:
        # a sample too small for the threshold is cannot-certify even under a low bound
        assert high > t or status is Status.CANNOT_CERTIFY
    if status is Status.FAIL:  # only a lower bound above the threshold fails
        assert low > t


def test_attack_stated_null_bound_decides_cannot_certify() -> None:
    wide = AttackResult("a", "membership", 0.0, 0.0, 0.2, 0.95, "test", 0.0, "coin", 2000,
                        null_upper=0.18)
    out = check(POLICY, "g", "a", "membership", wide)
    assert out.status is Status.CANNOT_CERTIFY
    # the interval narrows as 1/sqrt(n): (0.18 / 0.09)^2 = 4 times the trials
    assert out.trials_needed == 8000 and "8,000" in out.message
    narrow = AttackResult("a", "membership", 0.12, 0.10, 0.14, 0.95, "test", 0.0, "coin", 2000,
                          null_upper=0.03)
    assert check(POLICY, "g", "a", "membership", narrow).status is Status.FAIL


def test_null_bound_must_be_finite() -> None:
    with pytest.raises(ValueError, match="null_upper"):
        AttackResult("a", "membership", 0.0, 0.0, 0.2, 0.95, "t", 0.0, "c", 10,
                     null_upper=float("inf"))


def test_built_in_policies_state_their_sources_honestly() -> None:
    from privgate.plugins.policies import EXPERT_DETERMINATION, STRICT

    for policy in (EXPERT_DETERMINATION, STRICT):
        refs = " ".join(policy.references)
        assert "Benitez" in refs
        # any demonstrated excess of verbatim copies fails; a pass needs it bounded
        assert policy.fail_threshold("verbatim-copy") == 0.0
        assert policy.to_dict()["fail_thresholds"]["verbatim-copy"] == 0.0
        assert policy.fail_threshold("inference") == policy.thresholds["inference"]
        assert policy.thresholds["membership-low-fpr"] == 0.005
        # distinguishability is reported by every audit but gated by neither profile
        assert "distinguishability" not in policy.thresholds
    text = EXPERT_DETERMINATION.description + " ".join(EXPERT_DETERMINATION.references)
    assert "EMA" in text and "Health Canada" in text and "El Emam" in text
    assert "names no number" in EXPERT_DETERMINATION.description
    assert STRICT.thresholds["identity-disclosure"] == 0.0004
    assert "privgate plan" in STRICT.description
    assert (EXPERT_DETERMINATION.thresholds["verbatim-copy"],
            STRICT.thresholds["verbatim-copy"]) == (0.002, 0.0004)


def test_a_fail_threshold_below_the_threshold_fails_what_it_demonstrates() -> None:
    from privgate.evidence import Counts

    policy = Policy("p", "P", "d", {"verbatim-copy": 0.002}, fail_thresholds={
        "verbatim-copy": 0.0})
    copies = Counts("all", "difference", 24, 24_000, 0, 24_000)  # 0.1%: under the threshold
    result = AttackResult("a", "verbatim-copy", 0.001, 0.0, 0.002, 0.95, "t", 0.0, "c",
                          24_000, counts=(copies,))
    out = check(policy, "g", "a", "verbatim-copy", result)
    assert out.status is Status.FAIL and "fails above" in out.message
    assert out.to_dict()["fail_threshold"] == 0.0
    none = AttackResult("a", "verbatim-copy", 0.0, 0.0, 0.0002, 0.95, "t", 0.0, "c", 24_000,
                        counts=(Counts("all", "difference", 0, 24_000, 0, 24_000),))
    assert check(policy, "g", "a", "verbatim-copy", none).status is Status.PASS
    with pytest.raises(ValueError, match="fail threshold"):
        Policy("p", "P", "d", {"membership": 0.09}, fail_thresholds={"membership": 0.2})
