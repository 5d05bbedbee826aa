"""Variance reduction for the inference attack: matched targets stratified by the secret's value.

Three layers: the stratified MOVER bound (:mod:`privgate.bounds`) -- its coverage, that one
stratum is the pooled bound, that strata which differ in rate narrow it; ``Counts.strata``
(:mod:`privgate.evidence`) -- strata that do not add up, or differ in composition between the
two sides, are refused; and the attack (:mod:`privgate.attacks.anonymeter_inference`) --
matched pairs, strata that add up to anonymeter's own counts, the plan's strata, and a
secret whose rate depends on its value certified with fewer trials than the pooled bound needs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privgate import AttackContext, Column, Kind, Role, Schema, bounds, strata_bounds
from privgate.attacks._inference_targets import (
    MAX_STRATA_VALUES,
    matched_targets,
    secret_strata,
    strata_of,
)
from privgate.attacks.anonymeter_inference import AnonymeterInference
from privgate.certification import assess, null_upper, one_sided, trials_needed
from privgate.evidence import Counts, PlainError, counts_from_plain

# --- the bound -----------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 5000), m=st.integers(1, 5000), a=st.floats(0, 1), c=st.floats(0, 1),
       kind=st.sampled_from(["excess", "difference"]))
def test_one_stratum_is_the_pooled_mover_bound(n: int, m: int, a: float, c: float,
                                               kind: str) -> None:
    ka, kc = round(a * n), round(c * m)
    pooled = (bounds.upper_excess_mover if kind == "excess"
              else bounds.upper_difference_mover)(ka, n, kc, m)
    strat = float(strata_bounds.upper_mover_strata(kind, np.array([ka]), [n], np.array([kc]), [m]))
    assert strat == pytest.approx(pooled, abs=1e-12)


@pytest.mark.parametrize("weights, rates", [
    ((0.9, 0.1), (0.98, 0.3)),
    ((0.5, 0.3, 0.2), (0.99, 0.5, 0.05)),
    ((0.97, 0.03), (1.0, 0.0)),
])
@pytest.mark.parametrize("trials", [300, 3000])
@pytest.mark.parametrize("risk", [0.0, 0.09])
def test_stratified_bound_covers_the_true_risk(weights: tuple[float, ...],
                                               rates: tuple[float, ...], trials: int,
                                               risk: float) -> None:
    """Members hit at ``p_c + risk (1 - p_c)`` in every stratum: the true excess is ``risk``;
    the upper bound at 0.95 misses it at most about 5% of the time (1,500 draws: a miss rate
    of 7.5% would be 4.5 standard errors above 5%)."""
    draw = np.random.default_rng(7)
    n = np.maximum(1, np.round(np.array(weights) * trials)).astype(int)
    pc = np.array(rates)
    pa = pc + risk * (1 - pc)
    ka = draw.binomial(n, pa, size=(1500, len(n)))
    kc = draw.binomial(n, pc, size=(1500, len(n)))
    high = strata_bounds.upper_mover_strata("excess", ka, n, kc, n, 0.95)
    w = n / n.sum()
    true = ((w * pa).sum() - (w * pc).sum()) / (1 - (w * pc).sum())
    assert np.mean(high < true - 1e-12) <= 0.075


def test_strata_that_differ_narrow_the_leak_free_bound_and_the_trials_needed() -> None:
    n = np.array([9000, 1000])
    rates = np.array([0.98, 0.3])  # 91.2% overall
    strat = strata_bounds.null_upper_strata("excess", n, n, rates)
    pooled = bounds.null_upper("excess", 10_000, control_rate=float((n * rates).sum() / 1e4))
    assert strat < 0.8 * pooled
    need = strata_bounds.trials_to_certify_strata(0.09, "excess", n, n, rates)
    assert need is not None
    assert need < 0.6 * (bounds.trials_to_certify(0.09, control_rate=0.912) or 0)
    # the smallest: at `need` trials the leak-free bound is under 0.09, one fewer it is not
    at = strata_bounds.null_upper_strata("excess", n * need / 1e4, n * need / 1e4, rates)
    below = strata_bounds.null_upper_strata("excess", n * (need - 1) / 1e4, n * (need - 1) / 1e4,
                                     rates)
    assert at <= 0.09 < below
    # equal rates: nothing to gain, nothing lost
    same = strata_bounds.null_upper_strata("excess", n, n, np.array([0.9, 0.9]))
    assert same == pytest.approx(bounds.null_upper("excess", 10_000, control_rate=0.9),
                                 rel=0.02)


def test_stratified_power_is_reproducible_and_grows_with_the_trials() -> None:
    rates = [0.98, 0.3]
    power = strata_bounds.certify_probability_strata
    small = power(0.09, "excess", [2700, 300], [2700, 300], rates)
    again = power(0.09, "excess", [2700, 300], [2700, 300], rates)
    large = power(0.09, "excess", [9000, 1000], [9000, 1000], rates)
    assert small == again
    assert 0.0 <= small < large <= 1.0 and large > 0.8


# --- Counts.strata -------------------------------------------------------------------------


def _counts(strata: object, **kw: object) -> Counts:
    base: dict[str, object] = {"label": "secret s", "estimator": "excess", "successes": 95,
                               "trials": 100, "control_successes": 90, "control_trials": 100,
                               "strata": strata}
    return Counts.from_plain({**base, **kw})


def test_strata_round_trip_and_bound_the_check() -> None:
    c = _counts([[88, 90, 88, 90], [7, 10, 2, 10]])
    assert c.strata == ((88.0, 90, 88.0, 90), (7.0, 10, 2.0, 10))
    assert counts_from_plain([c.to_dict()])[0] == c
    low, high = one_sided(c, 0.95)
    pooled = Counts("secret s", "excess", 95, 100, 90, 100)
    assert low == one_sided(pooled, 0.95)[0]  # the exact lower bound: pooled counts
    assert high < one_sided(pooled, 0.95)[1]
    assert null_upper(c, 0.95) < null_upper(pooled, 0.95)
    assert (trials_needed(c, 0.09, 0.95) or 0) < (trials_needed(pooled, 0.09, 0.95) or 0)


@pytest.mark.parametrize("strata, message", [
    ([[88, 90, 88, 90]], "add up to"),  # trials missing
    ([[80, 90, 88, 90], [7, 10, 2, 10]], "add up to"),  # successes do not add up
    ([[78, 80, 88, 90], [17, 20, 2, 10]], "same share"),  # composition differs
    ([[88, 90, 88, 90], [11, 10, 2, 10]], "must be in [0, 10]"),  # more than its trials
    ([[88, 90, 88, 90], [7, 10, 2]], "4 counts"),
    ([[88, 90, 88, 90], [7, 10.5, 2, 10]], "integer"),
    ("not a list", "must be a list"),
])
def test_strata_that_do_not_fit_their_counts_are_refused(strata: object, message: str) -> None:
    with pytest.raises(PlainError, match=message.replace("[", r"\[")):
        _counts(strata)


def test_strata_only_for_two_sided_comparisons() -> None:
    with pytest.raises(PlainError, match="only for"):
        Counts.from_plain({"label": "r", "estimator": "rate", "successes": 1, "trials": 10,
                           "strata": [[1, 10, 0, 10]]})


# --- the attack ----------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from("abcde"), min_size=1, max_size=80),
       st.lists(st.sampled_from("abcdf"), min_size=1, max_size=80),
       st.integers(1, 100), st.integers(0, 2**31))
def test_matched_targets_pair_rows_of_the_same_stratum(train: list[str], control: list[str],
                                                       limit: int, seed: int) -> None:
    a, b = pd.Series(train), pd.Series(control)
    m = matched_targets(secret_strata(a, b, numeric=False), len(a), limit,
                        np.random.default_rng(seed))
    assert len(m.train) == len(m.control) == len(m.stratum) == min(limit, m.available)
    assert len(set(m.train)) == len(m.train) and len(set(m.control)) == len(m.control)
    shared = set(train) & set(control)
    if shared:  # pairs share the value; every value on both sides gives min(train, control)
        assert (a.to_numpy()[m.train] == b.to_numpy()[m.control]).all()
        assert m.available == sum(min(train.count(v), control.count(v)) for v in shared)
    else:  # nothing shared: one stratum for all rows
        assert m.available == min(len(train), len(control))


def test_many_values_keep_spikes_alone_and_bin_the_rest() -> None:
    values = pd.Series([45.0] * 600 + list(np.linspace(10, 40, 400)))
    keys = strata_of(values, numeric=True)
    assert len(set(keys[:600])) == 1 and keys[0] not in set(keys[600:])
    assert 5 <= len(set(keys[600:])) <= 10  # quantile bins of the spread
    few = pd.Series(list("ab") * 10)
    assert len(set(strata_of(few, numeric=False))) == 2
    many = pd.Series([f"v{i}" for i in range(MAX_STRATA_VALUES + 5)])
    assert len(set(strata_of(many, numeric=False))) == 1  # none frequent: one "other" stratum


def _skewed(seed: int, n: int) -> pd.DataFrame:
    """A secret that is "common" wherever ``qi`` is not 0 (always guessed right from the
    quasi-identifiers) and one of four values, at random, where it is 0 (seldom guessed)."""
    draw = np.random.default_rng(seed)
    qi = draw.integers(0, 10, n)
    mixed = draw.choice(["r1", "r2", "r3", "common"], n)
    return pd.DataFrame({"qi": qi, "noise": draw.integers(0, 3, n),
                         "secret": np.where(qi == 0, mixed, "common")})


SCHEMA = Schema((Column("qi", Kind.CATEGORICAL, Role.QUASI_IDENTIFIER),
                 Column("noise", Kind.CATEGORICAL, Role.QUASI_IDENTIFIER),
                 Column("secret", Kind.CATEGORICAL, Role.SENSITIVE)))


def test_inference_counts_strata_that_add_up_to_anonymeters_counts() -> None:
    train, control, synthetic = _skewed(1, 3000), _skewed(2, 2000), _skewed(3, 3000)
    context = AttackContext(train, control, synthetic, SCHEMA, seed=5)
    result = AnonymeterInference().run(context)
    (c,) = result.counts
    assert len(c.strata) == 4  # common, r1, r2, r3
    assert sum(s[1] for s in c.strata) == c.trials == c.control_trials
    assert result.trials_available == c.trials  # every matched pair was attacked
    per = result.details["per_secret"]["secret"]
    assert (per["n_success"], per["n_control"]) == (c.successes, c.control_successes)
    assert AnonymeterInference().run(context).to_dict() == result.to_dict()
    # the plan sees the same strata and the same trials
    plan = AnonymeterInference().plan(context)
    (planned,) = plan.counts
    assert [s[1] for s in planned.strata] == [s[1] for s in c.strata]
    assert plan.trials_available == result.trials_available


def test_a_skewed_secret_certifies_with_stratification_where_the_pooled_bound_cannot() -> None:
    """The synthetic table is independent of the training rows (no leak): stratified, the
    check passes 0.09; with the same counts pooled it could not."""
    train, control, synthetic = _skewed(11, 6000), _skewed(12, 6000), _skewed(13, 6000)
    result = AnonymeterInference().run(AttackContext(train, control, synthetic, SCHEMA,
                                                     seed=1))
    (c,) = result.counts
    pooled = Counts(c.label, "excess", c.successes, c.trials, c.control_successes,
                    c.control_trials)
    assert null_upper(c, 0.95) < null_upper(pooled, 0.95)
    a = assess(result, 0.09)
    assert a.upper <= 0.09 and "over strata" in a.method
    assert one_sided(pooled, 0.95)[1] > 0.09
