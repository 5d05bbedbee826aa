"""The example plugins pass privgate's contract kit and account for their privacy honestly.

``pytest --privgate-contract`` adds the kit's checks for everything this distribution
registers; the tests below call the same checks directly and test what is specific to it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from privgate import PrivacyBudget
from privgate.errors import InputError
from privgate.testing import check_attack, check_generator, check_policy, scenario

from privgate_example.knn_inference import KNNInference, excess
from privgate_example.marginals import NoisyMarginals, gaussian_epsilon
from privgate_example.policy import RESEARCH_RELEASE


@pytest.mark.parametrize("mechanism", ["laplace", "gaussian"])
def test_generator_contract(mechanism: str) -> None:
    check_generator(NoisyMarginals, {"mechanism": mechanism, "bins": 8}, max_examples=6)


def test_attack_and_policy_contract() -> None:
    check_attack(KNNInference, {"n_targets": 150}, n=200)
    check_policy(RESEARCH_RELEASE)


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
    again = gaussian_epsilon(spent.details["noise_multiplier"], 1e-5)
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
