"""DP accounting and DP domain estimation (privgate.dp.accounting, .budget, .domains, .record).

The cross-checks compare opacus with Google's ``dp-accounting`` on the same Poisson-subsampled
Gaussian mechanism, like with like: opacus RDP vs ``RdpAccountant`` (same orders), opacus PRV vs
``PLDAccountant`` (both numerical privacy-loss-distribution accountants).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privgate.dp import (
    ACCOUNTANTS,
    AccountingInputs,
    DomainSpend,
    composed_spent,
    noise_multiplier_for,
    restrict_to_domains,
    spent_epsilon,
    split_budget,
    training_delta,
)
from privgate.dp import privatize_domains as _privatize
from privgate.errors import BudgetError, InputError
from privgate.generator import PrivacyBudget
from privgate.schema import Column, Kind, Schema, infer_schema

try:
    import dp_accounting
    from dp_accounting import pld, rdp
except ImportError:  # pragma: no cover - the test extra installs it
    dp_accounting = None

needs_dp_accounting = pytest.mark.skipif(
    dp_accounting is None, reason="dp-accounting (test extra) is not installed")


def privatize_domains(data: pd.DataFrame, schema: Schema, *, epsilon: float, seed: int
                      ) -> tuple[Schema, DomainSpend]:
    """The DP domains with the noise drawn from ``numpy.random.default_rng(seed)``."""
    return _privatize(data, schema, epsilon=epsilon, rng=np.random.default_rng(seed))


def _event(sigma: float, q: float, steps: int) -> object:
    assert dp_accounting is not None
    return dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma)), steps)


# -- cross-checks against dp-accounting -----------------------------------------------------------

@needs_dp_accounting
@pytest.mark.parametrize("sigma, q, steps, delta", [
    (1.0, 0.01, 1000, 1e-5), (2.0, 0.001, 10_000, 1e-5), (0.7, 0.004, 3000, 1e-6)])
def test_opacus_rdp_matches_dp_accounting_rdp(sigma: float, q: float, steps: int,
                                              delta: float) -> None:
    from opacus.accountants import RDPAccountant

    google = rdp.RdpAccountant(orders=RDPAccountant.DEFAULT_ALPHAS)
    google.compose(_event(sigma, q, steps))
    ours = spent_epsilon(sigma, q, steps, delta, "rdp")
    assert ours == pytest.approx(google.get_epsilon(delta), rel=0.02)


@needs_dp_accounting
@pytest.mark.parametrize("sigma, q, steps, delta", [
    (1.0, 0.01, 1000, 1e-5), (0.9, 0.02, 500, 1e-5)])
def test_opacus_prv_matches_dp_accounting_pld(sigma: float, q: float, steps: int,
                                              delta: float) -> None:
    google = pld.PLDAccountant(value_discretization_interval=1e-3)
    google.compose(_event(sigma, q, steps))
    reference = google.get_epsilon(delta)
    ours = spent_epsilon(sigma, q, steps, delta, "prv")
    assert ours == pytest.approx(reference, rel=0.02)
    # opacus reports its upper bound (estimate + error bar): never below the PLD estimate by more
    # than the PLD's own discretisation slack.
    assert ours >= reference * (1 - 1e-3)


# -- accounting properties ------------------------------------------------------------------------

@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(q=st.floats(1e-3, 0.2), steps=st.integers(1, 5000), more=st.integers(1, 5000),
       sigma=st.floats(0.6, 5.0))
def test_rdp_epsilon_rises_with_steps(q: float, steps: int, more: int, sigma: float) -> None:
    fewer = spent_epsilon(sigma, q, steps, 1e-5, "rdp")
    assert 0 < fewer < spent_epsilon(sigma, q, steps + more, 1e-5, "rdp")


def test_prv_epsilon_rises_with_steps() -> None:
    figures = [spent_epsilon(1.0, 0.01, steps, 1e-5, "prv") for steps in (100, 400, 1600)]
    assert figures == sorted(figures) and len(set(figures)) == 3


@pytest.mark.parametrize("accountant", ACCOUNTANTS)
@pytest.mark.parametrize("epsilon, q, steps", [(1.0, 0.01, 2000), (0.3, 0.05, 200)])
def test_noise_multiplier_meets_target(accountant: str, epsilon: float, q: float,
                                       steps: int) -> None:
    sigma = noise_multiplier_for(epsilon, 1e-5, q, steps, accountant)
    spent = spent_epsilon(sigma, q, steps, 1e-5, accountant)
    assert spent <= epsilon
    assert spent >= epsilon - min(0.01, 0.005 * epsilon) - 1e-9


def test_noise_multiplier_rises_as_budget_shrinks() -> None:
    sigmas = [noise_multiplier_for(e, 1e-5, 0.01, 1000, "rdp") for e in (4.0, 1.0, 0.25)]
    assert sigmas == sorted(sigmas) and len(set(sigmas)) == 3


@pytest.mark.parametrize("kwargs, fragment", [
    ({"epsilon": 1e-7, "sample_rate": 1.0, "steps": 100_000}, "raise epsilon"),
    ({"accountant": "gdp"}, "accountant"),
    ({"delta": 0.0}, "delta"),
    ({"sample_rate": 0.0}, "sample rate"),
    ({"steps": 0}, "steps"),
    ({"epsilon": math.inf}, "epsilon"),
])
def test_noise_multiplier_refuses_bad_or_impossible_budgets(kwargs: dict, fragment: str) -> None:
    args = {"epsilon": 1.0, "delta": 1e-5, "sample_rate": 0.01, "steps": 100,
            "accountant": "rdp", **kwargs}
    with pytest.raises(BudgetError, match=fragment):
        noise_multiplier_for(**args)


def _schema(declared: bool) -> Schema:
    return Schema((
        Column("a", Kind.CATEGORICAL, categories=("x", "y"), data_dependent=not declared),
        Column("b", Kind.CONTINUOUS, bounds=(0.0, 1.0))))


def test_split_budget_spends_nothing_on_declared_domains() -> None:
    budget = PrivacyBudget(2.0)
    assert split_budget(budget, _schema(declared=True), 0.2) == (0.0, 2.0)
    domain, train = split_budget(budget, _schema(declared=False), 0.2)
    assert domain == pytest.approx(0.4) and domain + train == pytest.approx(2.0)
    with pytest.raises(BudgetError, match="domain_share"):
        split_budget(budget, _schema(declared=False), 1.0)


@settings(max_examples=10, deadline=None)
@given(epsilon=st.floats(0.2, 8.0), share=st.floats(0.0, 0.5), declared=st.booleans(),
       q=st.floats(0.005, 0.1), steps=st.integers(10, 2000))
def test_composed_epsilon_never_exceeds_budget(epsilon: float, share: float, declared: bool,
                                               q: float, steps: int) -> None:
    budget = PrivacyBudget(epsilon, 1e-5)
    domain_eps, train_eps = split_budget(budget, _schema(declared), share)
    domains = DomainSpend(domain_eps, () if domain_eps == 0 else ("a",), {},
                          delta=0.0 if domain_eps == 0 else 1e-9)
    delta = training_delta(budget, domains)
    sigma = noise_multiplier_for(train_eps, delta, q, steps, "rdp")
    inputs = AccountingInputs("rdp", ((sigma, q, steps),), delta, domains.epsilon, domains.delta)
    spent = composed_spent(inputs, {"noise_multiplier": sigma}, domain_columns=domains.columns)
    assert spent.epsilon <= budget.epsilon
    assert spent.delta == pytest.approx(budget.delta, rel=1e-12)
    assert spent.details["noise_multiplier"] == sigma
    assert spent.details["domain_epsilon"] + spent.details["train_epsilon"] == \
        pytest.approx(spent.epsilon)
    assert "composition" in spent.details


# -- DP domains -----------------------------------------------------------------------------------

def _table(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "city": rng.choice(["north", "south", "east"], size=n),
        "income": rng.normal(50_000, 8_000, size=n),
        "age": rng.integers(18, 80, size=n),
    })


def test_declared_domains_are_untouched_and_free() -> None:
    df = _table()
    schema = Schema((
        Column("city", Kind.CATEGORICAL, categories=("north", "south", "east", "west")),
        Column("income", Kind.CONTINUOUS, bounds=(0.0, 1e6)),
        Column("age", Kind.INTEGER, bounds=(0.0, 120.0))))
    out, spend = privatize_domains(df, schema, epsilon=0.0, seed=1)
    assert out == schema
    assert spend.epsilon == 0.0 and spend.columns == () and spend.delta == 0.0


def test_needed_domain_without_epsilon_is_refused() -> None:
    df = _table()
    schema = infer_schema(df)
    with pytest.raises(BudgetError, match=r"city.*domain share"):
        privatize_domains(df, schema, epsilon=0.0, seed=0)


def test_estimated_domains_are_marked_protected_and_recorded() -> None:
    df = _table()
    schema = infer_schema(df)
    out, spend = privatize_domains(df, schema, epsilon=1.5, seed=0)
    assert out.data_dependent_columns == []
    assert all(c.has_public_domain for c in out.modelled)
    assert spend.epsilon == 1.5 and set(spend.columns) == {"city", "income", "age"}
    assert spend.details["epsilon_per_column"] == pytest.approx(0.5)
    assert spend.details["columns"]["city"]["was_data_dependent"] is True
    assert set(out["city"].categories or ()) == {"north", "south", "east"}
    low, high = out["age"].bounds or (0, 0)
    assert low == int(low) and high == int(high)


def test_categories_seen_once_are_dropped() -> None:
    rng = np.random.default_rng(3)
    common = list(rng.choice(["a", "b"], size=3000))
    rare = [f"person-{i}" for i in range(200)]
    df = pd.DataFrame({"c": common + rare})
    schema = Schema((Column("c", Kind.CATEGORICAL),))
    for seed in range(5):
        out, spend = privatize_domains(df, schema, epsilon=1.0, seed=seed)
        assert set(out["c"].categories or ()) == {"a", "b"}
        assert spend.delta > 0  # the stability-based histogram is (epsilon, delta)-DP


def test_no_releasable_category_is_refused() -> None:
    df = pd.DataFrame({"c": [f"v{i}" for i in range(300)]})
    with pytest.raises(BudgetError, match=r"'c'.*categories"):
        privatize_domains(df, Schema((Column("c", Kind.CATEGORICAL),)), epsilon=1.0, seed=0)


@settings(max_examples=25, deadline=None)
@given(loc=st.floats(-1e6, 1e6), scale=st.floats(1e-2, 1e5), seed=st.integers(0, 2**31 - 1))
def test_dp_bounds_cover_most_of_the_data(loc: float, scale: float, seed: int) -> None:
    x = np.random.default_rng(seed).normal(loc, scale, size=3000)
    df = pd.DataFrame({"x": x})
    out, _ = privatize_domains(df, Schema((Column("x", Kind.CONTINUOUS),)), epsilon=1.0,
                               seed=seed)
    low, high = out["x"].bounds or (0.0, 0.0)
    assert np.mean((x >= low) & (x <= high)) >= 0.95
    # ... and the bounds are not absurdly wide: within the log grid's resolution of the data.
    span = max(abs(x).max(), 1e-3)
    assert -4 * span <= low <= high <= 4 * span


def test_domains_are_deterministic_under_a_seed() -> None:
    df = _table(n=1500)
    schema = infer_schema(df)
    first = privatize_domains(df, schema, epsilon=0.6, seed=7)
    again = privatize_domains(df, schema, epsilon=0.6, seed=7)
    assert first[0] == again[0] and first[1] == again[1]
    bounds = {privatize_domains(df, schema, epsilon=0.6, seed=s)[0]["income"].bounds
              for s in range(30)}
    assert len(bounds) > 1  # the noise does depend on the seed


def test_datetime_bounds_are_epoch_seconds_around_the_data() -> None:
    stamps = pd.to_datetime("2015-01-01") + pd.to_timedelta(
        np.random.default_rng(0).integers(0, 5 * 365, size=3000), unit="D")
    df = pd.DataFrame({"when": stamps})
    out, _ = privatize_domains(df, infer_schema(df), epsilon=1.0, seed=0)
    low, high = out["when"].bounds or (0.0, 0.0)
    secs = (stamps - pd.Timestamp("1970-01-01")) / pd.Timedelta(seconds=1)
    assert low <= secs.min() and secs.max() <= high


def test_nullability_of_an_inferred_column_is_decided_privately() -> None:
    df = _table(n=3000)
    df.loc[: len(df) // 3, "income"] = np.nan
    df.loc[:5, "city"] = None  # six missing: too few to be released
    out, _ = privatize_domains(df, infer_schema(df), epsilon=3.0, seed=0)
    assert out["income"].nullable is True
    assert out["city"].nullable is False
    kept = restrict_to_domains(df, out)
    assert len(kept) == len(df) - 6 and kept["city"].notna().all()


def test_restrict_to_domains_drops_rows_outside_the_released_lists() -> None:
    df = pd.DataFrame({"c": ["a", "b", "z", None], "n": [1.0, 2.0, 3.0, 4.0]})
    schema = Schema((Column("c", Kind.CATEGORICAL, categories=("a", "b"), nullable=True),
                     Column("n", Kind.CONTINUOUS, bounds=(0.0, 2.0))))
    kept = restrict_to_domains(df, schema)
    assert kept["c"].tolist()[:2] == ["a", "b"] and len(kept) == 3


def test_missing_or_malformed_columns_are_input_errors() -> None:
    schema = Schema((Column("n", Kind.CONTINUOUS),))
    with pytest.raises(InputError, match="'n'"):
        privatize_domains(pd.DataFrame({"m": [1.0]}), schema, epsilon=1.0, seed=0)
    with pytest.raises(InputError, match="'n' is declared continuous"):
        privatize_domains(pd.DataFrame({"n": ["1", "x"]}), schema, epsilon=1.0, seed=0)
    with pytest.raises(BudgetError, match="epsilon"):
        privatize_domains(pd.DataFrame({"n": [1.0]}), schema, epsilon=-1.0, seed=0)
