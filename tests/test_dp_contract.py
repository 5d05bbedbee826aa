"""The DP layer's public API from a third party's side, and the contract kit's DP check.

The worked example of docs/plugins.md ("DP-SGD generators: the DP layer") is executed as
written: it must pass the generator contract and :func:`privgate.testing_dp.check_dp_accounting`.
Generators that misreport their accounting must fail that check.
"""

from __future__ import annotations

import math
import re
import types
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from privgate.dp import AccountingInputs, DPSGDGenerator, history_epsilon, is_epoch_trained
from privgate.errors import BudgetError, InputError
from privgate.generator import Generator, PrivacyBudget, PrivacySpent
from privgate.schema import Schema
from privgate.testing import ContractViolation, check_generator
from privgate.testing_dp import check_dp_accounting

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def _example() -> types.ModuleType:
    """The ``# my_plugin/dp_marginals.py`` code block of docs/plugins.md, as a module."""
    text = DOC.read_text(encoding="utf-8")
    match = re.search(r"```python\n(# my_plugin/dp_marginals\.py\n.*?)```", text, re.S)
    assert match, "the worked DP example is missing from docs/plugins.md"
    module = types.ModuleType("my_plugin_dp_marginals")
    exec(compile(match.group(1), str(DOC), "exec"), module.__dict__)  # noqa: S102
    return module


EXAMPLE = _example()
DPMarginals: type[DPSGDGenerator] = EXAMPLE.DPMarginals


def test_the_documented_example_registers_one_dp_generator() -> None:
    assert EXAMPLE.privgate_generators() == [DPMarginals]
    assert issubclass(DPMarginals, DPSGDGenerator) and DPMarginals.is_private
    assert is_epoch_trained(DPMarginals) and not is_epoch_trained(Generator)
    assert set(DPMarginals.defaults()) >= {"epochs", "batch_size", "max_grad_norm",
                                           "accountant", "grad_sample_mode", "domain_share",
                                           "secure_rng", "dp", "lr"}


def test_the_documented_example_honours_the_generator_contract() -> None:
    check_generator(DPMarginals, max_examples=3)


def test_the_documented_example_passes_the_dp_accounting_check() -> None:
    report = check_dp_accounting(DPMarginals)
    assert report.reported_epsilon == pytest.approx(report.recomputed_epsilon, rel=1e-9)
    assert 0.9 < report.reported_epsilon <= 1.0
    assert report.accountant == "rdp"
    # domain_share 0.1 of epsilon 8: what the domain release adds to the accountant's epsilon
    assert report.domain_epsilon == pytest.approx(0.8, rel=0.05)
    assert report.round_trip is False  # the example has no save/load


@pytest.mark.parametrize("name", ["dpsgd-vae", "dpsgd-ctgan", "dpsgd-diffusion"])
def test_the_built_in_dp_generators_pass_the_dp_accounting_check(name: str) -> None:
    from privgate.registry import build_registry

    fast: dict[str, dict[str, Any]] = {
        "dpsgd-vae": {"epochs": 2, "hidden": [16], "latent_dim": 4},
        "dpsgd-ctgan": {"epochs": 2, "batch_size": 256, "z_dim": 8, "generator_dims": [16],
                        "discriminator_dims": [16]},
        "dpsgd-diffusion": {"epochs": 2, "batch_size": 256, "hidden": [16], "steps": 5}}
    report = check_dp_accounting(build_registry().generator(name), fast[name])
    assert report.round_trip and report.domain_epsilon is not None
    assert report.domain_epsilon > 0


# -- generators that misreport -------------------------------------------------------------

def _tampered(name: str, change: Any) -> type[Generator]:
    """The documented example with its reported privacy record changed by ``change``."""

    def fit(self: Any, data: pd.DataFrame, schema: Schema, budget: PrivacyBudget | None,
            *, seed: int = 0) -> Any:
        DPMarginals.fit(self, data, schema, budget, seed=seed)
        self.privacy_spent_ = change(self.privacy_spent_)
        return self

    return type(name, (DPMarginals,), {"name": name, "fit": fit})


def _history(spent: PrivacySpent, fn: Any) -> PrivacySpent:
    details = dict(spent.details)
    details["accountant_history"] = [fn(*h) for h in details["accountant_history"]]
    return replace(spent, details=details)


@pytest.mark.parametrize("what, change", [
    ("sample rate", lambda s: _history(s, lambda sg, q, k: [sg, q / 2, k])),
    ("steps", lambda s: _history(s, lambda sg, q, k: [sg, q, k // 2])),
    ("noise", lambda s: _history(s, lambda sg, q, k: [sg * 2, q, k])),
])
def test_misreported_accountant_inputs_fail(what: str, change: Any) -> None:
    cls = _tampered(f"dp-marginals-wrong-{what.replace(' ', '-')}", change)
    with pytest.raises(ContractViolation, match="its own accountant inputs"):
        check_dp_accounting(cls)


def test_a_record_without_accountant_inputs_fails_with_a_clear_message() -> None:
    cls = _tampered("dp-marginals-no-inputs", lambda s: replace(s, details={"note": "trust me"}))
    with pytest.raises(ContractViolation, match="no usable accountant inputs.*accountant"):
        check_dp_accounting(cls)


def test_an_epsilon_over_budget_fails_even_when_it_adds_up() -> None:
    def inflate(s: PrivacySpent) -> PrivacySpent:
        details = dict(s.details)
        details["release_epsilon"] = 0.5
        return replace(s, epsilon=s.epsilon + 0.5, details=details)

    with pytest.raises(ContractViolation, match="above its budget"):
        check_dp_accounting(_tampered("dp-marginals-over-budget", inflate))


def test_domains_read_off_the_data_must_be_paid_for() -> None:
    def forget_domains(s: PrivacySpent) -> PrivacySpent:
        d = dict(s.details)  # the domain release taken out of the history, the rest recomputed
        d.update(accountant_history=d["accountant_history"][d["domain_entries"]:],
                 domain_entries=0, domain_epsilon=0.0, domain_delta=0.0)
        tampered = replace(s, delta=d["train_delta"], details=d)
        return replace(tampered, epsilon=AccountingInputs.from_spent(tampered).epsilon())

    with pytest.raises(ContractViolation, match="domain_epsilon = 0"):
        check_dp_accounting(_tampered("dp-marginals-free-domains", forget_domains))


class _GaussianHistograms(Generator):
    """A DP generator not built on the trainer: one Gaussian histogram per categorical column
    (numbers at the middle of their bounds), accounted as one step at sample rate 1."""

    name: ClassVar[str] = "gaussian-histograms"
    is_private: ClassVar[bool] = True

    def __init__(self, **params: Any) -> None:
        self.params = dict(params)

    def fit(self, data: pd.DataFrame, schema: Schema, budget: PrivacyBudget | None,
            *, seed: int = 0) -> _GaussianHistograms:
        if budget is None or budget.delta <= 0:
            raise BudgetError("needs a budget with delta > 0")
        if schema.data_dependent_columns:
            raise InputError("declare the domains: this generator cannot pay for them")
        from privgate.dp import noise_multiplier_for

        self.sigma_ = noise_multiplier_for(budget.epsilon, budget.delta, 1.0, 1, "rdp")
        self.schema_ = schema
        self.epsilon_ = history_epsilon([(self.sigma_, 1.0, 1)], budget.delta, "rdp")
        self.delta_ = budget.delta
        return self

    def sample(self, n: int, *, seed: int = 0, conditions: Any = None) -> pd.DataFrame:
        raise NotImplementedError  # not needed by the accounting check

    @property
    def privacy_spent(self) -> PrivacySpent:
        return PrivacySpent(self.epsilon_, self.delta_, "opacus rdp",
                            {"accountant": "rdp", "noise_multiplier": self.sigma_,
                             "sample_rate": 1.0, "steps": 1})


def test_a_generator_not_built_on_the_trainer_is_checked_the_same_way() -> None:
    report = check_dp_accounting(_GaussianHistograms)
    assert report.domain_epsilon is None  # declined the undeclared domains: allowed
    assert math.isfinite(report.recomputed_epsilon) and report.reported_epsilon <= 1.0


def test_non_private_generators_are_not_dp_checked() -> None:
    from privgate.plugins.generators.gmm.generator import GaussianMixtureGenerator

    with pytest.raises(ContractViolation, match="no DP accounting"):
        check_dp_accounting(GaussianMixtureGenerator)
    with pytest.raises(ContractViolation, match="not a privgate.Generator"):
        check_dp_accounting(dict)  # type: ignore[arg-type]


def test_the_example_learns_the_marginals() -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"c": rng.choice(["a", "b"], 3000, p=[0.8, 0.2])})
    from privgate.schema import Column, Kind

    schema = Schema((Column("c", Kind.CATEGORICAL, categories=("a", "b")),))
    g = DPMarginals(epochs=5).fit(df, schema, PrivacyBudget(4.0, 1e-5), seed=0)
    share = (g.sample(4000, seed=1)["c"] == "a").mean()
    assert 0.65 < share < 0.95
