"""The budget of a DP fit: the domain release first, then training, in one accountant.

A column whose domain (categories, bounds) the schema does not declare, or declares as read off
the data, is released under DP (:mod:`privgate.dp.domains`) by one Gaussian mechanism whose
noise multiplier :func:`domain_noise` chooses from ``domain_share``: the smallest noise at which
the release, composed by the accountant with DP-SGD calibrated for ``(1 - domain_share)`` of
epsilon on a reference schedule, still fits epsilon (the accountant's headroom, as for the
Gaussian releases of :func:`privgate.dp.accounting.calibrate_with_release`). Training is then
calibrated on its real schedule with the release in the accountant's history, so the total
fits epsilon whatever the reference was. With a fully declared schema nothing is released and
training gets the whole budget. The rows are then mapped into the released domains (a per-row
rule, so training on them stays within the training budget).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from privgate.dp.accounting import calibrate_with_release, history_epsilon
from privgate.dp.domains import (
    DOMAIN_DELTA_SHARE,
    NOTHING_RELEASED,
    DomainSpend,
    NotReleasable,
    conform_to_domains,
    needs_domain,
    privatize_domains,
)
from privgate.errors import N_, BudgetError, InputError
from privgate.generator import PrivacyBudget
from privgate.schema import Kind, Schema, complete_schema

#: The reference schedule's share of the rows per batch when the batch size is chosen later.
REFERENCE_BATCH_SHARE = 1 / 20


def domain_delta(budget: PrivacyBudget, schema: Schema) -> float:
    """The delta of the category thresholds: ``DOMAIN_DELTA_SHARE`` of the budget's delta when
    some categorical column needs its domain released, else 0."""
    cats = [c for c in schema.modelled if needs_domain(c) and c.kind is Kind.CATEGORICAL]
    return DOMAIN_DELTA_SHARE * float(budget.delta) if cats else 0.0


def domain_noise(budget: PrivacyBudget, schema: Schema, domain_share: float, *, n_rows: int,
                 epochs: int, batch_size: int | None) -> float | None:
    """The noise multiplier of the domain release (``None`` when every domain is declared).

    The reference schedule is the trainer's: sample rate ``1 / ceil(n_rows / batch)`` (batch
    ``n_rows / 20`` when the generator picks it later) for ``epochs``; the row count is public,
    as in DP-SGD's sample rate. Calibrated with the RDP accountant (fast; any noise is valid,
    the accounting happens later on the real history).

    Raises:
        BudgetError: ``domain_share`` outside ``[0, 1)``, or 0 while a domain is needed.
    """
    if isinstance(domain_share, bool) or not (0 <= domain_share < 1):
        raise BudgetError(N_("domain_share must be in [0, 1) (the share of epsilon spent on "
                             "estimating undeclared domains), got %(domain_share)r"),
                          domain_share=domain_share)
    todo = [c.name for c in schema.modelled if needs_domain(c)]
    if not todo:
        return None
    if domain_share == 0:
        raise BudgetError(N_("column(s) %(todo)s have no declared domain (or one read off the "
                             "data) and the domain share of epsilon is 0; declare their "
                             "categories/bounds in the schema or set a domain share > 0"),
                          todo=todo)
    batch = batch_size or max(1, round(n_rows * REFERENCE_BATCH_SHARE))
    sample_rate = 1.0 / math.ceil(max(n_rows, 1) / batch)
    steps = max(1, int(epochs / sample_rate))
    delta = float(budget.delta) - domain_delta(budget, schema)
    return calibrate_with_release(float(budget.epsilon), delta, sample_rate, steps, "rdp",
                                  share=float(domain_share))[1]


def training_delta(budget: PrivacyBudget, domains: DomainSpend) -> float:
    """The delta left for training once the category thresholds took ``domains.delta``."""
    left = budget.delta - domains.delta
    if not left > 0:
        raise BudgetError(N_("delta=%(delta)s leaves nothing for training after the %(delta2)s "
                             "spent on category lists; raise delta or declare the categories of "
                             "%(columns)s"),
                          delta=budget.delta, delta2=f"{domains.delta:g}",
                          columns=list(domains.columns))
    return left


@dataclass
class Prepared:
    """What a DP fit may train on, and the budget left for training.

    ``schema`` has a domain for every modelled column (declared, or released under DP by
    ``domains``, whose accountant entry comes first in the history); ``data`` holds only rows
    inside those domains (``mapped``: cells moved into a released category list, per column).
    ``train_epsilon`` is what the accountant's history (domain release included) may spend;
    it shrinks as counts are released with the Laplace mechanism
    (:meth:`privgate.dp.DPTrainer.release_counts`).
    """

    data: pd.DataFrame
    schema: Schema
    domains: DomainSpend
    train_epsilon: float
    train_delta: float
    mapped: dict[str, int] = field(default_factory=dict)


def prepare(owner: str, data: pd.DataFrame, schema: Schema, budget: PrivacyBudget | None,
            *, dp: bool, domain_share: float, accountant: str, epochs: int,
            batch_size: int | None, noise: np.random.Generator,
            mapping: np.random.Generator) -> Prepared:
    """The checks and the domain step before training.

    With ``dp``: a budget with ``delta > 0`` is required (:class:`BudgetError`); ``noise``
    draws the release's noise, ``mapping`` the categories of values mapped into the released
    lists. Without ``dp`` (the overhead benchmark only): domains are read off the data, the
    budget is infinite.
    """
    if dp:
        if budget is None:
            raise BudgetError(N_("%(owner)s is differentially private and needs a privacy "
                                 "budget (epsilon, delta); none was given"), owner=owner)
        if budget.delta <= 0:
            raise BudgetError(N_("%(owner)s: DP-SGD's Gaussian noise gives (epsilon, delta)-DP "
                                 "with delta > 0; the budget has delta = 0"), owner=owner)
    absent = [c.name for c in schema.modelled if c.name not in data.columns]
    if absent:
        raise InputError(N_("%(owner)s: training table lacks column(s) %(absent)s"),
                         owner=owner, absent=absent)
    if len(data) == 0:
        raise InputError(N_("%(owner)s: the training table has no rows"), owner=owner)
    if not dp:  # not private anyway: undeclared domains are simply read off the data
        nothing = DomainSpend(None, (), {"rule": "not private: domains read off the data"})
        return Prepared(data, complete_schema(schema, data), nothing, math.inf, 0.0)
    assert budget is not None
    sigma = domain_noise(budget, schema, domain_share, n_rows=len(data), epochs=epochs,
                         batch_size=batch_size)
    if sigma is None:
        return Prepared(data, schema, NOTHING_RELEASED, float(budget.epsilon),
                        training_delta(budget, NOTHING_RELEASED))
    delta = domain_delta(budget, schema)
    try:
        schema, domains = privatize_domains(data, schema, noise_multiplier=sigma, delta=delta,
                                            epsilon=float(budget.epsilon), rng=noise)
    except NotReleasable as exc:  # the release ran: what it spent alone stays booked
        exc.spent_epsilon = history_epsilon([(sigma, 1.0, 1)], budget.delta - delta,
                                            accountant)
        raise
    data, mapped = conform_to_domains(data, schema, domains.weights, mapping)
    if len(data) == 0:
        raise InputError(N_("%(owner)s: no training row lies inside the DP-released domains of "
                            "%(columns)s; declare them in the schema"),
                         owner=owner, columns=list(domains.columns))
    return Prepared(data, schema, domains, float(budget.epsilon),
                    training_delta(budget, domains), mapped)
