"""DP accounting (privgate.dp.accounting, .budget, .record); the domain release itself is
tested in test_dp_domains.py.

The cross-checks compare opacus with Google's ``dp-accounting`` on the same Poisson-subsampled
Gaussian mechanism, like with like: opacus RDP vs ``RdpAccountant`` (same orders), opacus PRV vs
``PLDAccountant`` (both numerical privacy-loss-distribution accountants).
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privgate.dp import (
    ACCOUNTANTS,
    AccountingInputs,
    DomainSpend,
    calibrate_with_release,
    composed_spent,
    domain_noise,
    history_epsilon,
    noise_multiplier_for,
    spent_epsilon,
    training_delta,
)
from privgate.errors import BudgetError, InputError
from privgate.generator import PrivacyBudget, PrivacySpent
from privgate.schema import Column, Kind, Schema

try:
    import dp_accounting
    from dp_accounting import pld, rdp
except ImportError:  # pragma: no cover - the test extra installs it
    dp_accounting = None

needs_dp_accounting = pytest.mark.skipif(
    dp_accounting is None, reason="dp-accounting (test extra) is not installed")


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


@pytest.mark.parametrize("accountant", ACCOUNTANTS)
def test_calibration_with_a_prior_release_fits_the_budget(accountant: str) -> None:
    prior = ((9.5, 1.0, 1),)
    alone = noise_multiplier_for(1.0, 1e-5, 0.05, 400, accountant)
    sigma = noise_multiplier_for(1.0, 1e-5, 0.05, 400, accountant, prior=prior)
    assert sigma > alone  # the release takes part of the budget
    assert history_epsilon([*prior, (sigma, 0.05, 400)], 1e-5, accountant) <= 1.0
    # ... and no more noise than needed (0.1% of sigma)
    assert history_epsilon([*prior, (sigma / 1.002, 0.05, 400)], 1e-5, accountant) > 1.0
    with pytest.raises(BudgetError, match="no room"):
        noise_multiplier_for(1.0, 1e-5, 0.05, 400, "rdp", prior=((0.3, 1.0, 1),))


def test_a_release_between_a_prior_and_training_fits_too() -> None:
    prior = ((9.5, 1.0, 1),)
    sigma, sigma_r = calibrate_with_release(2.0, 1e-5, 0.02, 500, "rdp", share=0.1,
                                            prior=prior)
    assert history_epsilon([*prior, (sigma_r, 1.0, 1), (sigma, 0.02, 500)], 1e-5,
                           "rdp") <= 2.0


def _schema(declared: bool) -> Schema:
    return Schema((
        Column("a", Kind.CATEGORICAL, categories=("x", "y"), data_dependent=not declared),
        Column("b", Kind.CONTINUOUS, bounds=(0.0, 1.0))))


def test_domain_noise_spends_nothing_on_declared_domains() -> None:
    budget = PrivacyBudget(2.0)
    assert domain_noise(budget, _schema(declared=True), 0.2, n_rows=1000, epochs=10,
                        batch_size=None) is None
    low = domain_noise(budget, _schema(declared=False), 0.2, n_rows=1000, epochs=10,
                       batch_size=None)
    high = domain_noise(budget, _schema(declared=False), 0.05, n_rows=1000, epochs=10,
                        batch_size=None)
    assert low is not None and high is not None and 0 < low < high  # a smaller share: more noise
    for bad in (1.0, -0.1, True):
        with pytest.raises(BudgetError, match="domain_share"):
            domain_noise(budget, _schema(declared=False), bad, n_rows=1000, epochs=10,
                         batch_size=None)
    with pytest.raises(BudgetError, match="domain share of epsilon is 0"):
        domain_noise(budget, _schema(declared=False), 0.0, n_rows=1000, epochs=10,
                     batch_size=None)


@settings(max_examples=8, deadline=None)
@given(epsilon=st.floats(0.3, 8.0), share=st.floats(0.02, 0.5), declared=st.booleans(),
       q=st.floats(0.005, 0.1), steps=st.integers(10, 2000))
def test_composed_epsilon_never_exceeds_budget(epsilon: float, share: float, declared: bool,
                                               q: float, steps: int) -> None:
    budget = PrivacyBudget(epsilon, 1e-5)
    schema = _schema(declared)
    sigma_d = domain_noise(budget, schema, share, n_rows=int(1 / q) * 100, epochs=10,
                           batch_size=100)
    domains = DomainSpend(sigma_d, () if sigma_d is None else ("a",), {},
                          delta=0.0 if sigma_d is None else 1e-7)
    delta = training_delta(budget, domains)
    sigma = noise_multiplier_for(epsilon, delta, q, steps, "rdp", prior=domains.history)
    inputs = AccountingInputs("rdp", (*domains.history, (sigma, q, steps)), delta, 0.0,
                              domains.delta, domain_entries=len(domains.history))
    spent = composed_spent(inputs, {"noise_multiplier": sigma}, domain_columns=domains.columns)
    assert spent.epsilon <= budget.epsilon
    assert spent.delta == pytest.approx(budget.delta, rel=1e-12)
    assert spent.details["noise_multiplier"] == sigma
    assert spent.details["train_epsilon"] == pytest.approx(spent.epsilon)
    assert (spent.details["domain_marginal_epsilon"] > 0) == (not declared)
    assert "composition" in spent.details
    again = AccountingInputs.from_spent(spent)
    assert again == inputs and again.epsilon() == pytest.approx(spent.epsilon)


def test_domain_entries_must_index_the_history() -> None:
    details = {"accountant": "rdp", "accountant_history": [[1.0, 0.1, 20]],
               "domain_entries": 2}
    with pytest.raises(InputError, match="domain_entries"):
        AccountingInputs.from_spent(PrivacySpent(1.0, 1e-5, "x", details))
