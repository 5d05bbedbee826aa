"""The contract kit's check of a DP generator's accounting: :func:`check_dp_accounting`.

A DP generator (``is_private = True``), built on :class:`privgate.dp.DPTrainer` or not, must
report in ``privacy_spent.details`` the inputs of its accountant
(:class:`privgate.dp.AccountingInputs`: ``accountant`` and ``accountant_history``, or
``noise_multiplier``, ``sample_rate`` and ``steps``; plus ``train_delta``, ``domain_epsilon``
or ``domain_entries``, ``domain_delta`` and ``release_epsilon`` where they apply). The check
fits it and recomputes the epsilon independently from those inputs with opacus' accountant; the
reported figure must be that one, and neither may exceed the budget by more than opacus'
calibration tolerance. """

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from privgate.dp.record import AccountingInputs
from privgate.errors import PluginError, PrivgateError
from privgate.generator import Generator, PrivacyBudget, PrivacySpent
from privgate.schema import Schema, infer_schema
from privgate.testing_runtime import (
    ContractViolation,
    instantiate,
    label,
    plugin_call,
    violation,
    within_limit,
)
from privgate.validate import EPSILON_TOLERANCE

__all__ = ["DPAccountingReport", "check_dp_accounting"]

#: How far the reported epsilon may differ from the recomputed one (relative): the same
#: accountant on the same inputs gives the same figure up to float round-off.
RECOMPUTE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class DPAccountingReport:
    """What :func:`check_dp_accounting` found.

    Attributes:
        reported_epsilon, recomputed_epsilon: on the declared table (budget epsilon 1).
        accountant: the accountant named in the details.
        domain_epsilon: what the fit on a table with undeclared domains spent on them (for a
            release in the accountant's history, what it adds to the accountant's epsilon);
            ``None`` when the generator declined that table (with a PrivgateError).
        round_trip: whether the record was checked through ``save``/``load`` (``False`` for
            a generator without persistence).
    """

    reported_epsilon: float
    recomputed_epsilon: float
    accountant: str
    domain_epsilon: float | None
    round_trip: bool


def _declared_table() -> tuple[pd.DataFrame, Schema]:
    from privgate.testing import scenario  # the kit's table; imported late (no cycle)

    train, _, schema = scenario(300, seed=3)
    return train, schema


def _undeclared_table(n: int = 2000) -> tuple[pd.DataFrame, Schema]:
    """A table whose schema is inferred: every domain was read off the data."""
    rng = np.random.default_rng(11)
    df = pd.DataFrame({"city": rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2]),
                       "age": rng.integers(18, 80, n),
                       "income": rng.normal(50_000, 8_000, n).round(2)})
    return df, infer_schema(df)


def _recompute(owner: str, spent: PrivacySpent, budget: PrivacyBudget
               ) -> tuple[AccountingInputs, float]:
    """The accountant inputs and the epsilon recomputed from them; violations for a record
    that does not add up."""
    try:
        inputs = AccountingInputs.from_spent(spent)
        again = inputs.epsilon()
    except PrivgateError as exc:
        raise violation(owner, f"its privacy record exposes no usable accountant inputs: "
                               f"{exc}") from exc
    if abs(again - spent.epsilon) > RECOMPUTE_TOLERANCE * max(1.0, again):
        raise violation(owner, f"reports epsilon {spent.epsilon:.6g}, but its own accountant "
                               f"inputs ({inputs.accountant}, history {list(inputs.history)}, "
                               f"delta {inputs.train_delta:g}, domains "
                               f"{inputs.domain_epsilon:g}, releases "
                               f"{inputs.release_epsilon:g}) give {again:.6g}")
    limit = budget.epsilon + EPSILON_TOLERANCE
    if again > limit or spent.epsilon > limit:
        raise violation(owner, f"spends epsilon {max(again, spent.epsilon):.6g}, above its "
                               f"budget {budget.epsilon:g} (tolerance {EPSILON_TOLERANCE:g})")
    if not math.isclose(inputs.delta(), spent.delta, rel_tol=1e-9, abs_tol=1e-15):
        raise violation(owner, f"reports delta {spent.delta:g}; its training and domain "
                               f"deltas add up to {inputs.delta():g}")
    if spent.delta > budget.delta * (1 + 1e-9):
        raise violation(owner, f"spends delta {spent.delta:g}, above its budget "
                               f"{budget.delta:g}")
    return inputs, again


def _fit(owner: str, cls: type[Generator], params: Mapping[str, Any] | None,
         data: pd.DataFrame, schema: Schema, budget: PrivacyBudget) -> Generator:
    gen: Generator = plugin_call(owner, "the constructor", lambda: instantiate(cls, params))
    plugin_call(owner, f"fit() on {len(data)} rows",
                lambda: gen.fit(data, schema, budget, seed=0))
    return gen


def _spent(owner: str, gen: Generator) -> PrivacySpent:
    spent = plugin_call(owner, "privacy_spent", lambda: gen.privacy_spent)
    if not isinstance(spent, PrivacySpent):
        raise violation(owner, f"privacy_spent is {type(spent).__name__}, not PrivacySpent")
    return spent


def _domain_spend(owner: str, cls: type[Generator], params: Mapping[str, Any] | None
                  ) -> float | None:
    """Fit on a table with inferred domains: the generator declines (None) or must pay for
    the domains and compose that spend into its epsilon."""
    data, schema = _undeclared_table()
    budget = PrivacyBudget(8.0, 1e-5)
    gen = plugin_call(owner, "the constructor", lambda: instantiate(cls, params))
    try:
        gen.fit(data, schema, budget, seed=0)
    except PrivgateError:
        return None  # declined a schema whose domains were read off the data: allowed
    except Exception as exc:
        raise violation(owner, f"fit() on a table with undeclared domains raised "
                               f"{type(exc).__name__}: {exc}") from exc
    inputs, _ = _recompute(owner, _spent(owner, gen), budget)
    if not (inputs.domain_epsilon > 0 or inputs.domain_entries > 0):
        raise violation(owner, "fitted a table whose domains were read off the data but "
                               "reports domain_epsilon = 0 and no domain release in its "
                               "accountant history (domain_entries = 0): the domains must be "
                               "estimated under DP and their cost composed in (or the fit "
                               "declined)")
    return inputs.domain_cost()


def _round_trip(owner: str, gen: Generator, spent: PrivacySpent) -> bool:
    """Save and load: the loaded generator reports the same record (False: no persistence)."""
    with tempfile.TemporaryDirectory(prefix="privgate-dp-check-") as tmp:
        try:
            path = gen.save(Path(tmp) / "model")
        except PluginError as exc:
            if "does not support save/load" in str(exc):
                return False
            raise violation(owner, f"save() raised PluginError: {exc}") from exc
        except Exception as exc:
            raise violation(owner, f"save() raised {type(exc).__name__}: {exc}") from exc
        loaded = plugin_call(owner, "load()", lambda: type(gen).load(path))
    again = _spent(owner, loaded)
    if again != spent:
        raise violation(owner, f"privacy_spent does not survive save/load: {spent} became "
                               f"{again}")
    return True


def check_dp_accounting(cls: type[Generator], params: Mapping[str, Any] | None = None, *,
                        timeout_s: float | None = None) -> DPAccountingReport:
    """Check a DP generator's privacy accounting (see the module docstring).

    Rules: a fit on the kit's 300-row table with budget (1, 1e-5) reports accountant inputs;
    the epsilon recomputed from them with opacus equals the reported one and neither exceeds
    the budget by more than :data:`privgate.validate.EPSILON_TOLERANCE`; the deltas add up to
    the reported delta, within budget; on a table whose domains were read off the data
    (budget (8, 1e-5)) the generator either declines with a PrivgateError or reports a domain
    epsilon > 0 composed into its total; and the record survives ``save``/``load`` when the
    generator supports them. ``params`` (default: the class's ``contract_params``) are passed
    to the constructor.

    Raises:
        ContractViolation: which rule was broken and how.
    """
    __tracebackhide__ = True
    if not (isinstance(cls, type) and issubclass(cls, Generator)):
        raise ContractViolation(f"{cls!r} is not a privgate.Generator subclass")
    owner = label("generator", cls)
    if not cls.is_private:
        raise violation(owner, "is_private is False: there is no DP accounting to check")
    found: list[DPAccountingReport] = []

    def run() -> None:
        data, schema = _declared_table()
        budget = PrivacyBudget(1.0, 1e-5)
        gen = _fit(owner, cls, params, data, schema, budget)
        spent = _spent(owner, gen)
        inputs, again = _recompute(owner, spent, budget)
        round_trip = _round_trip(owner, gen, spent)
        found.append(DPAccountingReport(spent.epsilon, again, inputs.accountant,
                                        _domain_spend(owner, cls, params), round_trip))

    within_limit(owner, "check_dp_accounting", cls, timeout_s, run)
    return found[0]
