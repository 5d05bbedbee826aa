"""identity-disclosure: quasi-identifier matching that counts only matches teaching the secret,
and the calibration-only leaky generator whose planted copies are its ground truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privgate.attack import AttackContext
from privgate.attacks.identity_disclosure import IdentityDisclosure
from privgate.certification import trials_needed
from privgate.errors import InputError
from privgate.figures import BarChart
from privgate.plugins.generators.leaky.generator import LeakyGenerator, planted_identity_truth
from privgate.plugins.policies import EXPERT_DETERMINATION, STRICT
from privgate.policy import Status, check
from privgate.schema import Column, Kind, Role, Schema
from privgate.testing_evidence import check_attack_evidence

SCHEMA = Schema((
    Column("age", Kind.INTEGER, Role.QUASI_IDENTIFIER, bounds=(0.0, 100.0)),
    Column("zip", Kind.CATEGORICAL, Role.QUASI_IDENTIFIER,
           categories=("10001", "10002", "20001", "20002", "30001")),
    Column("dx", Kind.CATEGORICAL, Role.SENSITIVE, categories=("a", "b", "c", "d")),
    Column("cost", Kind.INTEGER, Role.SENSITIVE, bounds=(0.0, 1000.0)),
))


def _table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "age": rng.integers(0, 100, n),
        "zip": rng.choice(["10001", "10002", "20001", "20002", "30001"], n),
        "dx": rng.choice(["a", "b", "c", "d"], n),
        "cost": rng.integers(0, 1000, n),
    })


def _run(train: pd.DataFrame, control: pd.DataFrame, syn: pd.DataFrame,
         **params: object) -> object:
    return IdentityDisclosure(**params).run(AttackContext(train, control, syn, SCHEMA, seed=0))


def _people() -> pd.DataFrame:
    """Four people: two unique on (age, zip), two sharing (50, 20001)."""
    return pd.DataFrame({"age": [30, 41, 50, 50], "zip": ["10001", "10002", "20001", "20001"],
                         "dx": ["a", "b", "c", "d"], "cost": [100, 200, 300, 400]})


def _stranger() -> pd.DataFrame:
    return pd.DataFrame({"age": [99], "zip": ["30001"], "dx": ["a"], "cost": [0]})


def test_a_copied_unique_record_is_disclosed_and_a_shared_one_counts_one_in_k() -> None:
    train = _people()
    syn = train.iloc[[0, 2]].reset_index(drop=True)  # copies of a unique and a shared record
    result = _run(train, _stranger(), syn)
    risk = result.record_risk
    assert list(risk) == [1.0, 0.0, 0.5, 0.0]  # 1/f_s for the copies, 0 for the others
    assert result.details["sample_rate"] == pytest.approx(1.5 / 4)
    assert result.details["control_rate"] == 0.0
    assert result.risk == pytest.approx(1.5 / 4)
    assert result.ci_low <= result.risk <= result.ci_high
    assert result.n_trials == 4
    (counts,) = result.counts  # what core bounds: the four counts of p - (1 - q) c
    assert (counts.estimator, counts.successes, counts.trials, counts.hits) == (
        "corrected", 1.5, 4, 2)
    assert "corrected" in result.interval_method
    assert result.baseline == 0.0 and result.baseline_description
    # the report's chart: members matched (3 of 4) and taught (2 of 4), against control rows
    (chart,) = result.figures
    assert isinstance(chart, BarChart) and chart.values == (0.75, 0.0, 0.5, 0.0)
    check_attack_evidence("identity-disclosure", IdentityDisclosure, result, n_train=4,
                          level=0.95)


def test_a_match_that_teaches_nothing_is_no_disclosure() -> None:
    train = _people()
    syn = train.iloc[[0]].assign(dx="d", cost=900).reset_index(drop=True)
    result = _run(train, _stranger(), syn)
    assert result.details["matched_rate"] == 0.25  # the QIs match ...
    assert result.risk == 0.0 and float(result.record_risk.sum()) == 0.0  # ... nothing learned


def test_numbers_agree_within_the_tolerance_of_the_declared_range() -> None:
    train = _people()
    near = train.iloc[[0]].assign(cost=100 + 40).reset_index(drop=True)  # 4% of the range
    assert _run(train, _stranger(), near, tolerance=0.05).record_risk[0] == 1.0
    assert _run(train, _stranger(), near, tolerance=0.01).record_risk[0] == 0.0
    # with L = 0.5 one of the two secrets is enough
    assert _run(train, _stranger(), near, tolerance=0.01,
                min_sensitive_share=0.5).record_risk[0] == 1.0


def test_generalised_quasi_identifiers_match_within_their_bins() -> None:
    train = _people()
    syn = train.iloc[[0]].assign(age=33, zip="10009").reset_index(drop=True)
    assert _run(train, _stranger(), syn).risk == 0.0
    generalised = _run(train, _stranger(), syn, generalise={"age": 5, "zip": {"prefix": 4}})
    assert generalised.record_risk[0] == 1.0  # 33 and 30 share [30, 35); "1000" prefixes
    assert generalised.details["generalise"] == {"age": 5.0, "zip": {"prefix": 4}}


def test_chance_matches_of_people_never_seen_are_subtracted() -> None:
    train = _people()
    control = _people().assign(age=[60, 61, 62, 63])
    # the synthetic table discloses one training person and one outsider alike: whatever it
    # reveals, it does not reveal more about members than about people it never saw
    syn = pd.concat([train.iloc[[0]], control.iloc[[0]]], ignore_index=True)
    result = _run(train, control, syn)
    assert result.details["sample_rate"] == pytest.approx(0.25)
    # an outsider counts as if added to the training data: class size = matches in train + 1
    assert result.details["control_rate"] == pytest.approx(0.25)
    assert result.risk == 0.0 and result.ci_low == 0.0
    # an outsider who would share a training person's QIs counts one in two
    twin = _run(train, train.iloc[[0]].assign(cost=101), train.iloc[[0]])
    assert twin.details["control_rate"] == pytest.approx(0.5)
    assert twin.risk == 0.0  # 0.25 - (1 - 0) * 0.5 < 0, clipped


@pytest.mark.parametrize("params, message", [
    ({"generalise": {"dx": 5}}, "not a quasi-identifier"),
    ({"generalise": {"zip": 5}}, "use { prefix = k }"),
    ({"generalise": {"age": -1}}, "positive bin width"),
    ({"min_sensitive_share": 0}, "min_sensitive_share"),
    ({"tolerance": 2.0}, "tolerance"),
    ({"interval": "normal"}, "'interval'"),
    ({"quasi_identifiers": ["nope"]}, "quasi_identifiers"),
    ({"sensitive": ["age"]}, "both quasi-identifier and sensitive"),
    ({"population_size": -5}, "population_size"),
    ({"qis": ["age"]}, "unknown parameter"),
])
def test_bad_parameters_name_the_parameter(params: dict, message: str) -> None:
    train = _people()
    with pytest.raises(InputError, match=message):
        _run(train, _stranger(), train, **params)


def test_without_declared_quasi_identifiers_the_adversary_knows_everything_else() -> None:
    schema = Schema(tuple(Column(c.name, c.kind, Role.OTHER if c.role is Role.QUASI_IDENTIFIER
                                 else c.role, c.categories, c.bounds) for c in SCHEMA))
    train = _people()
    result = IdentityDisclosure().run(AttackContext(train, _stranger(), train, schema))
    assert result.details["quasi_identifiers"] == ["age", "zip"]
    assert "assumed" in result.details["quasi_identifiers_source"]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(5, 60), st.floats(0.0, 1.0))
def test_every_planted_copy_is_found(seed: int, n: int, f: float) -> None:
    train, control = _table(n, seed), _table(n, seed + 1)
    gen = LeakyGenerator(fraction=f).fit(train, SCHEMA, None)
    high = gen.sample(n, seed=seed)
    r_high = _run(train, control, high)
    assert 0 <= r_high.ci_low <= r_high.risk <= r_high.ci_high <= 1
    # every planted copy is found: the rate is at least the planted truth
    truth = planted_identity_truth(train, ["age", "zip"], gen.copied_index_)["rate"]
    assert r_high.details["sample_rate"] >= truth - 1e-12
    # and a fixed seed gives the same result
    assert _run(train, control, high).to_dict() == r_high.to_dict()


def test_leaky_generator_plants_the_stated_fraction_verbatim() -> None:
    train = _table(200, 0)
    gen = LeakyGenerator(fraction=0.1).fit(train, SCHEMA, None, seed=0)
    syn = gen.sample(200, seed=3)
    assert len(gen.copied_index_) == 20 and len(set(gen.copied_index_)) == 20
    pd.testing.assert_frame_equal(syn.iloc[gen.copied_positions_].reset_index(drop=True),
                                  train.iloc[gen.copied_index_].reset_index(drop=True))
    assert syn.equals(gen.sample(200, seed=3)) and not syn.equals(gen.sample(200, seed=4))
    assert not gen.privacy_spent.is_private
    assert "NOT PRIVATE" in LeakyGenerator.description
    with pytest.raises(InputError, match="'fraction'"):
        LeakyGenerator(fraction=1.5)
    with pytest.raises(InputError, match="cannot sample under conditions"):
        gen.sample(5, conditions={"dx": "a"})


def test_policies_gate_identity_disclosure_with_exact_certification() -> None:
    train = _table(30, 0)
    result = _run(train, _table(30, 1), LeakyGenerator(fraction=0.0).fit(
        train, SCHEMA, None).sample(30))
    for policy in (EXPERT_DETERMINATION, STRICT):
        assert "identity-disclosure" in policy.thresholds
        out = check(policy, "g", "identity-disclosure", "identity-disclosure", result)
        doc = out.to_dict()
        cert = doc["certification"]
        assert cert["trials_available"] == 30 and cert["can_certify"] is False
        assert doc["certifiable_on_table"] is False and doc["trials_available"] == 30
        (counts,) = result.counts  # the leak-free trials, inverted exactly from the counts
        assert cert["trials_needed"] == doc["trials_needed"] == trials_needed(
            counts, policy.thresholds["identity-disclosure"], 0.95)
        assert cert["trials_needed"] > 30
        assert out.status is not Status.PASS and "on this table" in out.message


def test_categories_match_across_csv_spellings_and_missing_values_match_each_other() -> None:
    train = _people().astype({"zip": object})
    train.loc[1, "dx"] = None
    syn = train.iloc[[0, 1]].reset_index(drop=True)
    syn["zip"] = [10001, 10002]  # read back from a CSV as numbers
    result = _run(train, _stranger(), syn)
    assert list(result.record_risk) == [1.0, 1.0, 0.0, 0.0]


def test_planted_rows_do_not_follow_an_attack_subsample_with_the_same_seed() -> None:
    train = _table(2000, 0)
    gen = LeakyGenerator(fraction=0.1).fit(train, SCHEMA, None, seed=0)
    gen.sample(2000, seed=0)
    attack_pick = np.random.default_rng(0).choice(2000, size=500, replace=False)
    overlap = len(set(attack_pick) & set(gen.copied_index_)) / 500
    assert overlap < 0.2  # about 0.1 by chance; 1.0 if both drew from the same stream


def test_when_every_member_leaked_chance_is_not_subtracted() -> None:
    train = _people()
    control = _people().assign(age=[60, 61, 62, 63])
    syn = pd.concat([train, control.iloc[[0]]], ignore_index=True)
    result = _run(train, control, syn)
    assert result.details["control_rate"] == pytest.approx(0.25)  # an outsider disclosed too
    assert result.details["leaked_share"] == 1.0
    assert result.risk == pytest.approx((1 + 1 + 0.5 + 0.5) / 4)  # every member's 1/f_s
    assert result.ci_low <= result.risk <= result.ci_high
