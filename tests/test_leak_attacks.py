"""The attacks that catch a small leak -- ``verbatim-copy`` and ``low-fpr-membership`` -- and the
anonymeter adapters' fast neighbour search and honest counting (trials are what was built,
anonymeter's own warnings are kept)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from privgate import AttackContext, Column, Kind, Role, Schema
from privgate.attacks._neighbours import Neighbours
from privgate.attacks.anonymeter_singling_out import AnonymeterSinglingOut
from privgate.attacks.low_fpr_membership import LowFPRMembership, operating_distance
from privgate.attacks.verbatim_copy import ALL_COLUMNS, QUASI_IDENTIFIERS, VerbatimCopy
from privgate.errors import InputError
from privgate.policy import Policy, Status, check
from privgate.testing_evidence import check_attack_evidence

SCHEMA = Schema((
    Column("age", Kind.INTEGER, Role.QUASI_IDENTIFIER, bounds=(0.0, 100.0)),
    Column("zip", Kind.CATEGORICAL, Role.QUASI_IDENTIFIER,
           categories=tuple(f"z{i}" for i in range(20))),
    Column("income", Kind.INTEGER, Role.SENSITIVE, bounds=(0.0, 1_000_000.0)),
    Column("weight", Kind.INTEGER, Role.OTHER, bounds=(0.0, 1_000_000.0)),
))
POLICY = Policy("p", "P", "d", {"verbatim-copy": 0.0004, "membership-low-fpr": 0.005})


def people(n: int, seed: int) -> pd.DataFrame:
    """Two near-unique numbers per person: independent marginals of them (each cell drawn from
    a training row) reproduce a whole training row only by a negligible chance."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.integers(0, 101, n),
                         "zip": rng.choice([f"z{i}" for i in range(20)], n),
                         "income": rng.integers(0, 1_000_001, n),
                         "weight": rng.integers(0, 1_000_001, n)})


def marginals(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: df[c].to_numpy()[rng.integers(0, len(df), len(df))]
                         for c in df.columns})


def planted(train: pd.DataFrame, k: int, seed: int) -> pd.DataFrame:
    """Independent marginals with the first ``k`` training rows copied in."""
    rows = marginals(train, seed)
    if k:
        rows.iloc[:k] = train.iloc[:k].to_numpy()
    return rows.astype(train.dtypes.to_dict())


def test_verbatim_copies_of_unique_records_are_counted_against_control() -> None:
    train, control = people(4000, 0), people(2000, 1)
    train.iloc[1] = train.iloc[0]  # a record shared by two: not unique, never counted
    syn = planted(train, 40, 2)
    result = VerbatimCopy().run(AttackContext(train, control, syn, SCHEMA, seed=0))
    main, qi = result.counts
    assert (main.label, main.estimator, main.supplementary) == (ALL_COLUMNS, "difference",
                                                                 False)
    assert main.trials == 3998 and main.successes == 38  # rows 0 and 1 are not unique
    assert main.control_trials == 2000 and main.control_successes == 0
    assert qi.label == QUASI_IDENTIFIERS and qi.supplementary and qi.trials < main.trials
    assert result.risk == pytest.approx(38 / 3998)
    assert result.record_risk is not None and result.record_risk.iloc[2] == 1.0
    out = check(POLICY, "g", "verbatim-copy", "verbatim-copy", result)
    assert out.status is Status.FAIL and out.ci_low > 0.0004  # 1% copied: caught
    check_attack_evidence("verbatim-copy", VerbatimCopy, result, n_train=4000, level=0.95)


def test_no_copies_pass_where_the_table_is_large_enough() -> None:
    train, control = people(12_000, 0), people(5000, 1)
    result = VerbatimCopy().run(AttackContext(train, control, marginals(train, 3), SCHEMA))
    out = check(POLICY, "g", "verbatim-copy", "verbatim-copy", result)
    assert result.counts[0].successes == 0 and out.status is Status.PASS
    small = VerbatimCopy().run(AttackContext(train[:2000], control, marginals(train[:2000], 3),
                                             SCHEMA))
    out = check(POLICY, "g", "verbatim-copy", "verbatim-copy", small)
    assert out.status is Status.CANNOT_CERTIFY and out.certifiable_on_table is False
    assert out.trials_needed == 7488  # 1 - 0.05 ** (1/n) <= 0.0004


def test_verbatim_plan_and_parameters() -> None:
    train, control = people(3000, 0), people(1000, 1)
    plan = VerbatimCopy().plan(AttackContext(train, control, train, SCHEMA))
    assert plan.counts[0].successes == 0 and plan.counts[0].trials == 3000
    with pytest.raises(InputError, match="quasi_identifiers"):
        VerbatimCopy(quasi_identifiers="age")
    with pytest.raises(InputError, match="nope"):
        VerbatimCopy(quasi_identifiers=["nope"]).check_schema(SCHEMA)


def test_operating_point_is_fixed_on_calibration_rows() -> None:
    cal = np.arange(1000, dtype=float)
    assert operating_distance(cal, 0.001) == 1.0  # flags only the smallest (distance < 1)
    assert operating_distance(cal, 0.01) == 10.0
    assert operating_distance(cal[:500], 0.001) == 0.0  # k = 0: flags none of them
    assert operating_distance(cal[:3], 0.9) == 2.0


def test_low_fpr_catches_one_percent_and_passes_none() -> None:
    train, control = people(8000, 0), people(8000, 1)
    clean = LowFPRMembership().run(AttackContext(train, control, marginals(train, 4), SCHEMA))
    leaky = LowFPRMembership().run(AttackContext(train, control, planted(train, 160, 4),
                                                 SCHEMA))
    (counts,) = leaky.counts
    assert counts.estimator == "difference" and counts.trials == 8000
    assert counts.control_trials == 4000  # the held-out half of the control rows
    assert counts.successes >= 160 and leaky.tpr_at_fpr[0.001] >= 0.02
    assert check(POLICY, "g", "low-fpr", "membership-low-fpr", leaky).status is Status.FAIL
    assert check(POLICY, "g", "low-fpr", "membership-low-fpr", clean).status is Status.PASS
    plan = LowFPRMembership().plan(AttackContext(train, control, train, SCHEMA))
    assert plan.counts[0].trials == 8000 and plan.trials_available == 8000
    with pytest.raises(InputError, match="fpr"):
        LowFPRMembership(fpr=0.7)


def test_fast_neighbours_agree_with_anonymeters_search() -> None:
    from anonymeter.neighbors.mixed_types_kneighbors import MixedTypeKNeighbors

    rng = np.random.default_rng(5)
    cand = pd.DataFrame({"a": rng.normal(size=300), "b": rng.choice(list("xyz"), 300)})
    query = pd.DataFrame({"a": rng.normal(size=50), "b": rng.choice(list("xyz"), 50)})
    ours = Neighbours(cand, query, ["a", "b"], k=3).of(query)
    theirs = MixedTypeKNeighbors(n_neighbors=3, n_jobs=1).fit(cand).kneighbors(query)
    assert np.array_equal(ours, theirs)  # continuous distances: no ties to break


def test_singling_out_counts_only_built_predicates_and_keeps_anonymeters_warnings() -> None:
    train, control = people(600, 0), people(400, 1)
    result = AnonymeterSinglingOut(n_attacks=400, max_attempts=300).run(
        AttackContext(train, control, train.copy(), SCHEMA, seed=1))
    (counts,) = result.counts
    assert counts.trials == result.n_trials == result.details["n_queries_built"] < 400
    assert result.trials_planned == 400
    assert any(w.startswith("anonymeter: ") for w in result.warnings)
    assert any(f"only {counts.trials:,} of the 400" in w for w in result.warnings)


def test_the_expert_profile_fails_a_tenth_of_a_percent_and_passes_none() -> None:
    from privgate.plugins.policies import EXPERT_DETERMINATION

    train, control = people(24_000, 0), people(24_000, 1)
    for k, status in ((24, Status.FAIL), (0, Status.PASS)):
        result = VerbatimCopy().run(AttackContext(train, control, planted(train, k, 6), SCHEMA))
        out = check(EXPERT_DETERMINATION, "g", "verbatim-copy", "verbatim-copy", result)
        assert out.status is status, out.message
