"""Target caps (issue 15, "scale on one machine"): on a table with more rows than
:data:`privgate.attacks._common.MAX_TARGETS` a side, each default attack scores exactly that
many targets, drawn uniformly at random (seeded), says so in its details and interval method,
and computes its interval over them (``n_trials``); the same seed gives the same result; below
the cap nothing changes (the same result as with the cap switched off).

The membership attacks are run with their real default (20,000 a side) against a small
synthetic table (the cost is targets x synthetic rows); the anonymeter attacks with the cap
lowered, as the module constant it is. The singling-out predicate builder that checks
candidates on slices of the synthetic table first must keep exactly anonymeter's predicates.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from anonymeter.evaluators.singling_out_evaluator import (
    _evaluate_queries,
    multivariate_singling_out_queries,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from privgate import AttackContext, AttackResult, Column, Kind, Role, Schema
from privgate.attacks import _anonymeter, _singling_out_queries, anonymeter_singling_out
from privgate.attacks._common import DRAWN, MAX_TARGETS
from privgate.attacks._persons import first_rows
from privgate.attacks.anonymeter_inference import AnonymeterInference
from privgate.attacks.anonymeter_linkability import AnonymeterLinkability
from privgate.attacks.anonymeter_singling_out import AnonymeterSinglingOut
from privgate.attacks.dcr_membership import DCRMembership
from privgate.attacks.density_membership import DensityMembership
from privgate.attacks.low_fpr_membership import LowFPRMembership

SCHEMA = Schema((
    Column("age", Kind.INTEGER, Role.QUASI_IDENTIFIER, bounds=(18.0, 90.0)),
    Column("city", Kind.CATEGORICAL, Role.QUASI_IDENTIFIER, categories=tuple("ABCDEF")),
    Column("job", Kind.CATEGORICAL, Role.SENSITIVE, categories=("nurse", "clerk", "baker")),
    Column("score", Kind.CONTINUOUS, Role.QUASI_IDENTIFIER, bounds=(0.0, 100.0)),
))
FAST = {"n_resamples": 50}


def _table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.integers(18, 90, n), "city": rng.choice(list("ABCDEF"), n),
                         "job": rng.choice(["nurse", "clerk", "baker"], n),
                         "score": np.round(rng.uniform(0, 100, n), 1)})


def _context(n_train: int, n_control: int, n_syn: int = 400, seed: int = 3) -> AttackContext:
    return AttackContext(_table(n_train, 1), _table(n_control, 2), _table(n_syn, 3), SCHEMA,
                         seed=seed)


def _same(a: AttackResult, b: AttackResult) -> None:
    assert (a.risk, a.ci_low, a.ci_high, a.n_trials) == (b.risk, b.ci_low, b.ci_high, b.n_trials)
    assert a.interval_method == b.interval_method


@pytest.fixture(scope="module")
def big() -> AttackContext:
    """More training rows than the cap, and more control rows than twice the cap (density
    membership's non-members are half of the control rows)."""
    return _context(MAX_TARGETS + 1_500, 2 * MAX_TARGETS + 1_000)


@pytest.mark.parametrize(("attack", "members", "nonmembers"), [
    (DCRMembership, MAX_TARGETS, MAX_TARGETS),
    (DensityMembership, MAX_TARGETS, MAX_TARGETS),
])
def test_membership_scores_the_cap_on_a_large_table(big: AttackContext, attack: Any,
                                                    members: int, nonmembers: int) -> None:
    result = attack(**FAST).run(big)
    again = attack(**FAST).run(big)
    assert result.details["n_members"] == members
    assert result.details["n_nonmembers"] == nonmembers
    assert result.n_trials == members + nonmembers  # the interval is over these
    assert result.trials_planned is None  # the default cap asks for nothing
    assert result.trials_available is not None and result.trials_available > result.n_trials
    assert f"{MAX_TARGETS:,} of {len(big.train):,}" in result.details["targets"][0]
    assert DRAWN in result.details["targets"][0] and DRAWN in result.interval_method
    _same(result, again)
    assert len(result.record_risk) == members  # one exposure per scored training row


def test_low_fpr_caps_members_and_control_rows(big: AttackContext) -> None:
    result = LowFPRMembership().run(big)
    d = result.details
    assert d["n_members"] == MAX_TARGETS == result.n_trials
    assert d["n_calibration"] + d["n_held_out"] == MAX_TARGETS
    assert abs(d["n_calibration"] - d["n_held_out"]) <= 1
    assert result.counts[0].trials == MAX_TARGETS  # core's exact bounds are over these
    assert result.counts[0].control_trials == d["n_held_out"]
    assert DRAWN in result.interval_method and result.trials_planned is None
    _same(result, LowFPRMembership().run(big))
    # the plan uses the same cap as the run
    plan = LowFPRMembership().plan(big)
    assert plan.counts[0].trials == MAX_TARGETS
    assert plan.counts[0].control_trials == d["n_held_out"]


@pytest.mark.parametrize("attack", [DCRMembership, DensityMembership, LowFPRMembership])
def test_membership_below_the_cap_is_unchanged(attack: Any) -> None:
    """Below the cap every row is scored, exactly as with the cap switched off."""
    ctx = _context(900, 400)
    params = {} if attack is LowFPRMembership else FAST
    capped, uncapped = attack(**params).run(ctx), attack(**params, max_rows=None).run(ctx)
    _same(capped, uncapped)
    assert DRAWN not in capped.interval_method
    assert capped.trials_planned is None


def test_membership_plans_use_the_cap(big: AttackContext) -> None:
    for attack in (DCRMembership(), DensityMembership()):
        plan = attack.plan(big)
        assert f"{MAX_TARGETS:,} training rows against {MAX_TARGETS:,} control rows" in (
            plan.notes[0])


def test_a_user_cap_still_asks_for_its_trials() -> None:
    result = DCRMembership(max_rows=50, **FAST).run(_context(300, 200))
    assert result.n_trials == 100 and result.trials_planned == 100


@pytest.fixture
def small_cap(monkeypatch: pytest.MonkeyPatch) -> int:
    """The anonymeter attacks' cap, lowered to 60 (read when they run)."""
    for module in (_anonymeter, anonymeter_singling_out):
        monkeypatch.setattr(module, "MAX_TARGETS", 60)
    import privgate.attacks.anonymeter_inference as inference
    monkeypatch.setattr(inference, "MAX_TARGETS", 60)
    return 60


def test_linkability_attacks_the_cap(small_cap: int) -> None:
    ctx = _context(400, 300)
    result = AnonymeterLinkability().run(ctx)
    assert result.n_trials == small_cap == result.counts[0].trials
    assert result.counts[0].control_trials == small_cap
    assert f"{small_cap} of 400" in result.details["targets"][0]
    assert DRAWN in result.interval_method
    _same(result, AnonymeterLinkability().run(ctx))
    plan = AnonymeterLinkability().plan(ctx)
    assert plan.counts[0].trials == small_cap
    below = _context(50, 40)  # below the cap: every row, as with n_attacks = all of them
    _same(AnonymeterLinkability().run(below), AnonymeterLinkability(n_attacks=40).run(below))


def test_inference_attacks_the_cap(small_cap: int) -> None:
    ctx = _context(400, 300)
    result = AnonymeterInference().run(ctx)
    assert result.n_trials == small_cap == result.counts[0].trials
    assert DRAWN in result.details["targets_drawn"][0] and DRAWN in result.interval_method
    assert not any("every column is a secret" in w for w in result.warnings)
    _same(result, AnonymeterInference().run(ctx))
    assert sum(s[1] for s in AnonymeterInference().plan(ctx).counts[0].strata) == small_cap


def test_singling_out_caps_the_predicates(small_cap: int) -> None:
    ctx = _context(400, 300, n_syn=400)
    params = {"n_cols": 3}
    result = AnonymeterSinglingOut(**params).run(ctx)
    assert result.details["n_queries_asked"] == small_cap
    assert result.n_trials == result.details["n_queries_built"] <= small_cap
    assert result.details["target_rows"] == 300  # the rows tested on are not capped
    _same(result, AnonymeterSinglingOut(**params).run(ctx))
    # the capped predicates are the first of the uncapped ones: n_attacks asks for the same
    _same(result, AnonymeterSinglingOut(**params, n_attacks=small_cap).run(ctx))


def _synthetic_frame(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame({"a": rng.integers(0, 30, n).astype(float),
                         "b": rng.choice(["x", "y", "z"], n),
                         "c": np.round(rng.normal(0, 1, n), 2)})


def test_probed_builder_keeps_anonymeter_predicates(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checking candidates on slices first (forced on here) keeps exactly anonymeter's
    predicates, in anonymeter's order, from the same draws."""
    monkeypatch.setattr(_singling_out_queries, "MIN_PROBED_ROWS", 100)
    df = _synthetic_frame(3_000, 4)
    assert len(_singling_out_queries._probes(df)) == 2
    for n_queries, attempts in ((400, 3_000), (20, 5_000)):
        ours = _singling_out_queries.multivariate_queries(df, n_queries, 2, attempts,
                                                         np.random.default_rng(9))
        theirs = multivariate_singling_out_queries(df, n_queries, 2, attempts,
                                                   np.random.default_rng(9))
        assert [str(q) for q in ours] == [str(q) for q in theirs]
        assert ours


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 80), seed=st.integers(0, 10_000), n_cols=st.integers(1, 3))
def test_repeated_candidates_are_counted_once_and_keep_anonymeter_predicates(
        n: int, seed: int, n_cols: int) -> None:
    """On a small table the draws repeat the same candidates batch after batch until
    ``max_attempts``: each is built and counted once, and the predicates are still exactly
    anonymeter's, in its order (missing values included)."""
    df = _synthetic_frame(n, seed).with_columns(
        pl.when(pl.col("a") < 3).then(None).otherwise(pl.col("c")).alias("c"))
    ours = _singling_out_queries.multivariate_queries(df, 50, n_cols, 4_000,
                                                     np.random.default_rng(seed))
    theirs = multivariate_singling_out_queries(df, 50, n_cols, 4_000,
                                               np.random.default_rng(seed))
    assert [str(q) for q in ours] == [str(q) for q in theirs]


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 400), seed=st.integers(0, 10_000), step=st.integers(2, 9))
def test_probe_never_drops_a_single(n: int, seed: int, step: int) -> None:
    """Whatever the table and the slices, a query is kept exactly when it matches one row."""
    df = _synthetic_frame(n, seed)
    rng = np.random.default_rng(seed)
    queries = [(pl.col("a") <= float(rng.integers(0, 30))) & (pl.col("b") == rng.choice(
        ["x", "y", "z"])) & (pl.col("c") >= float(np.round(rng.normal(0, 1), 2)))
        for _ in range(40)]
    truth = np.array(_evaluate_queries(df, queries)) == 1
    probes = [df.gather_every(step * step), df.gather_every(step)]
    assert np.array_equal(_singling_out_queries.singles_on(df, queries, probes), truth)


@settings(max_examples=40, deadline=None)
@given(people=st.lists(st.integers(0, 30), min_size=4, max_size=200),
       cap=st.integers(1, 250), seed=st.integers(0, 1_000))
def test_first_rows_takes_whole_people_within_the_cap(people: list[int], cap: int,
                                                      seed: int) -> None:
    """Low-FPR's control cap: without persons the first ``cap`` rows of the permutation; with
    persons whole people, in the order the permutation meets them, within ``cap`` rows (one
    person at least)."""
    codes = np.asarray(people)
    perm = np.random.default_rng(seed).permutation(len(codes))
    rows = first_rows(perm, None, cap)
    assert np.array_equal(rows, perm[:cap])
    kept = first_rows(perm, codes, cap)
    chosen = set(codes[kept].tolist())
    assert set(np.flatnonzero(np.isin(codes, list(chosen))).tolist()) == set(kept.tolist())
    met = list(dict.fromkeys(codes[perm].tolist()))  # people in the order perm meets them
    assert chosen == set(met[:len(chosen)])
    assert len(kept) <= cap or len(chosen) == 1
    if len(kept) < len(codes):  # the next person would not have fitted
        assert len(kept) + int(np.sum(codes == met[len(chosen)])) > cap
