"""The budget split of a DP fit: DP domain estimation first, the rest for training.

A column whose domain (categories, bounds) the schema does not declare, or declares as read off
the data, is released under DP (:mod:`privgate.dp.domains`) with ``domain_share`` of epsilon;
with a fully declared schema nothing is spent there and training gets the whole budget. The
rows outside the released domains are dropped (a per-row filter, so training on the rest stays
within the training budget).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from privgate.dp.domains import DomainSpend, needs_domain, privatize_domains, restrict_to_domains
from privgate.errors import BudgetError, InputError
from privgate.generator import PrivacyBudget
from privgate.schema import Schema, complete_schema


def split_budget(budget: PrivacyBudget, schema: Schema, domain_share: float
                 ) -> tuple[float, float]:
    """``(epsilon for DP domains, epsilon for training)``, adding up to the budget's epsilon.

    The domain part is 0 when every modelled column has a declared (not data-dependent)
    domain; otherwise it is ``domain_share * budget.epsilon``.

    Raises:
        BudgetError: ``domain_share`` outside ``[0, 1)``.
    """
    if isinstance(domain_share, bool) or not (0 <= domain_share < 1):
        raise BudgetError(f"domain_share must be in [0, 1) (the share of epsilon spent on "
                          f"estimating undeclared domains), got {domain_share!r}")
    if not any(needs_domain(c) for c in schema.modelled):
        return 0.0, float(budget.epsilon)
    domain = float(domain_share) * float(budget.epsilon)
    return domain, float(budget.epsilon) - domain


def training_delta(budget: PrivacyBudget, domains: DomainSpend) -> float:
    """The delta left for training once DP domain estimation took ``domains.delta``."""
    left = budget.delta - domains.delta
    if not left > 0:
        raise BudgetError(f"delta={budget.delta} leaves nothing for training after the "
                          f"{domains.delta:g} spent on category lists; raise delta or declare "
                          f"the categories of {list(domains.columns)}")
    return left


@dataclass
class Prepared:
    """What a DP fit may train on, and the budget left for training.

    ``schema`` has a domain for every modelled column (declared, or released under DP from
    ``domains.epsilon``); ``data`` holds only rows inside those domains. ``train_epsilon``
    shrinks as counts are released from it (:meth:`privgate.dp.DPTrainer.release_counts`).
    """

    data: pd.DataFrame
    schema: Schema
    domains: DomainSpend
    train_epsilon: float
    train_delta: float


def prepare(owner: str, data: pd.DataFrame, schema: Schema, budget: PrivacyBudget | None,
            *, dp: bool, domain_share: float, rng: np.random.Generator) -> Prepared:
    """The checks and the domain step before training.

    With ``dp``: a budget with ``delta > 0`` is required (:class:`BudgetError`). Without
    ``dp`` (the overhead benchmark only): domains are read off the data, the budget is
    infinite.
    """
    if dp:
        if budget is None:
            raise BudgetError(f"{owner} is differentially private and needs a privacy budget "
                              "(epsilon, delta); none was given")
        if budget.delta <= 0:
            raise BudgetError(f"{owner}: DP-SGD's Gaussian noise gives (epsilon, delta)-DP "
                              "with delta > 0; the budget has delta = 0")
    absent = [c.name for c in schema.modelled if c.name not in data.columns]
    if absent:
        raise InputError(f"{owner}: training table lacks column(s) {absent}")
    if len(data) == 0:
        raise InputError(f"{owner}: the training table has no rows")
    if not dp:  # not private anyway: undeclared domains are simply read off the data
        nothing = DomainSpend(0.0, (), {"rule": "not private: domains read off the data"})
        return Prepared(data, complete_schema(schema, data), nothing, math.inf, 0.0)
    assert budget is not None
    eps_domains, eps_train = split_budget(budget, schema, domain_share)
    schema, domains = privatize_domains(data, schema, epsilon=eps_domains, rng=rng)
    if domains.columns:
        data = restrict_to_domains(data, schema)
        if len(data) == 0:
            raise InputError(f"{owner}: no training row lies inside the DP-released domains "
                             f"of {list(domains.columns)}; declare them in the schema")
    return Prepared(data, schema, domains, eps_train, training_delta(budget, domains))
