"""The example plugins pass privgate's contract kit, account for their privacy honestly, and
return the typed evidence and figures privgate's report draws.

``pytest --privgate-contract`` adds the kit's checks for everything this distribution
registers; the tests below call the same checks directly and test what is specific to it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from privgate import AttackContext, PrivacyBudget
from privgate.dp import AccountingInputs
from privgate.errors import InputError
from privgate.figures import BarChart
from privgate.testing import (
    check_attack,
    check_generator,
    check_metric,
    check_policy,
    independent_marginals,
    scenario,
)
from privgate.testing_evidence import check_attack_evidence, check_metric_evidence

from privgate_example.coverage import CategoryCoverage
from privgate_example.knn_inference import KNNInference, excess, hanley_mcneil
from privgate_example.marginals import NoisyMarginals
from privgate_example.policy import RESEARCH_RELEASE


@pytest.mark.parametrize("mechanism", ["laplace", "gaussian"])
def test_generator_contract(mechanism: str) -> None:
    check_generator(NoisyMarginals, {"mechanism": mechanism, "bins": 8}, max_examples=6)


def test_attack_metric_and_policy_contract() -> None:
    check_attack(KNNInference, {"n_targets": 150}, n=200)
    check_metric(CategoryCoverage)
    check_policy(RESEARCH_RELEASE)


def test_the_attack_reports_typed_evidence_core_accepts() -> None:
    """A ROC curve, AUROC with its interval, TPR at low FPR and trials: privgate's report draws
    them as it draws a built-in attack's."""
    train, control, schema = scenario(300)
    ctx = AttackContext(train, control, train.copy(), schema, seed=3)  # a verbatim copy
    result = KNNInference(n_targets=400).run(ctx)
    assert result.trials_planned == 400 and result.n_trials == 300  # fewer rows than asked
    assert result.roc is not None and result.auroc is not None
    assert result.auroc.value > 0.5 and result.auroc.interval is not None
    assert set(result.tpr_at_fpr) == {0.01, 0.1}
    (chart,) = result.figures
    assert isinstance(chart, BarChart) and chart.labels == tuple(schema.sensitive)
    check_attack_evidence("example", KNNInference, result, n_train=len(train), level=0.95)


def test_the_metric_draws_a_bar_per_categorical_column() -> None:
    train, control, schema = scenario(300)
    synthetic = independent_marginals(train, seed=1)
    synthetic["region"] = "r0"  # every other region dropped
    result = CategoryCoverage().compute(AttackContext(train, control, synthetic, schema))
    bars, table = result.figures
    assert isinstance(bars, BarChart) and "region" in bars.labels
    coverage = dict(zip(bars.labels, bars.values, strict=True))
    assert coverage["region"] == pytest.approx(1 / train["region"].nunique())
    assert coverage["sex"] == 1.0 and result.value == pytest.approx(np.mean(bars.values))
    assert "r1" not in str(table)  # shares and names only, never a category value
    check_metric_evidence("example", CategoryCoverage, result)


def test_hanley_mcneil_interval_contains_the_auroc() -> None:
    low, high = hanley_mcneil(0.8, 100, 100, 0.95)
    assert 0.7 < low < 0.8 < high < 0.9
    assert hanley_mcneil(1.0, 50, 50, 0.95) == (1.0, 1.0)


def test_laplace_spends_exactly_the_budget_with_scale_d_over_epsilon() -> None:
    train, _, schema = scenario(200)
    gen = NoisyMarginals().fit(train, schema, PrivacyBudget(0.5, 1e-5), seed=1)
    spent = gen.privacy_spent
    assert (spent.epsilon, spent.delta) == (0.5, 0.0)
    assert spent.details["laplace_scale"] == pytest.approx(len(schema.modelled) / 0.5)


def test_gaussian_accounting_is_recomputable_and_within_budget() -> None:
    train, _, schema = scenario(200)
    gen = NoisyMarginals(mechanism="gaussian").fit(train, schema, PrivacyBudget(1.0, 1e-5))
    spent = gen.privacy_spent
    assert 0.9 < spent.epsilon <= 1.0 and spent.delta == 1e-5
    again = AccountingInputs.from_spent(spent).epsilon()  # what the contract kit recomputes
    assert math.isclose(again, spent.epsilon)
    with pytest.raises(InputError, match="delta > 0"):
        NoisyMarginals(mechanism="gaussian").fit(train, schema, PrivacyBudget(1.0, 0.0))


def test_more_budget_means_marginals_closer_to_the_data() -> None:
    train, _, schema = scenario(300)
    truth = train["region"].value_counts(normalize=True).sort_index()

    def error(epsilon: float) -> float:
        errs = []
        for seed in range(5):
            gen = NoisyMarginals().fit(train, schema, PrivacyBudget(epsilon), seed=seed)
            probs = pd.Series(gen.probs_["region"], index=list(schema["region"].categories))
            errs.append(float(np.abs(probs - truth.reindex(probs.index, fill_value=0)).sum()))
        return float(np.mean(errs))

    assert error(50.0) < error(0.2)


def test_conditions_fix_the_column_and_unknown_values_are_refused() -> None:
    train, _, schema = scenario(100)
    gen = NoisyMarginals().fit(train, schema, PrivacyBudget(1.0))
    out = gen.sample(30, seed=2, conditions={"sex": "f"})
    assert (out["sex"] == "f").all() and len(out) == 30
    with pytest.raises(InputError, match="not in the column's categories"):
        gen.sample(5, conditions={"sex": "x"})


def test_excess_is_anonymeters_normalised_risk() -> None:
    assert excess(0.8, 0.6) == pytest.approx(0.5)
    assert excess(0.5, 0.6) == 0.0 and excess(1.0, 1.0) == 0.0
