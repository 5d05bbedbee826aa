"""DP accounting shared by the DP-SGD generators: noise calibration, spent epsilon, composition.

Every figure comes from opacus' accountants (RDP, or PRV, the numerical privacy-random-variable
accountant of Gopi et al. 2021): :func:`noise_multiplier_for` wraps
``opacus.accountants.utils.get_noise_multiplier`` and :func:`spent_epsilon` replays the
(noise multiplier, sample rate, steps) history through ``RDPAccountant`` / ``PRVAccountant``.
The only arithmetic done here is basic sequential composition (Dwork & Roth 2014, Thm 3.16):
the epsilon spent on DP domain estimation (:mod:`privgate.plugins._dp_domains`) plus the epsilon
of training, and likewise for delta. That bound is loose but always valid, which is what a gate
that must fail closed needs.

Typical use inside a generator's ``fit``::

    domain_eps, train_eps = split_budget(budget, schema, domain_share)
    schema, domains = privatize_domains(data, schema, epsilon=domain_eps, seed=seed)
    delta = training_delta(budget, domains)
    sigma = noise_multiplier_for(train_eps, delta, sample_rate, steps, accountant)
    ... train ...
    spent = composed_spent(spent_epsilon(sigma, sample_rate, steps, delta, accountant),
                           delta, accountant, domains, {"noise_multiplier": sigma, ...})
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from privgate.errors import BudgetError, InputError
from privgate.generator import PrivacyBudget, PrivacySpent
from privgate.plugins._dp_domains import DomainSpend, needs_domain
from privgate.schema import Schema

#: The accountants a generator may choose (opacus' names).
ACCOUNTANTS = ("rdp", "prv")

COMPOSITION_RULE = ("basic sequential composition: epsilon = domain epsilon (DP domain "
                    "estimation) + training epsilon (DP-SGD accountant); delta likewise")


def _check(sample_rate: float, steps: int, delta: float, accountant: str) -> None:
    if accountant not in ACCOUNTANTS:
        raise BudgetError(f"accountant {accountant!r} is not one of {list(ACCOUNTANTS)}")
    if not (0 < sample_rate <= 1):
        raise BudgetError(f"sample rate must be in (0, 1], got {sample_rate!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise BudgetError(f"steps must be a positive integer, got {steps!r}")
    if not (0 < delta < 1):
        raise BudgetError(f"DP-SGD needs (epsilon, delta)-DP with 0 < delta < 1, got "
                          f"delta={delta!r}")


def noise_multiplier_for(epsilon: float, delta: float, sample_rate: float, steps: int,
                         accountant: str) -> float:
    """The noise multiplier sigma at which ``steps`` Poisson-subsampled Gaussian steps spend
    at most ``epsilon`` (at ``delta``) according to ``accountant``.

    Opacus' binary search returns the upper end of its bracket, so the accountant's epsilon at
    the returned sigma is never above ``epsilon``; we narrow its tolerance to 0.5% of epsilon
    (opacus' default is an absolute 0.01, too coarse for small budgets).

    Raises:
        BudgetError: bad arguments, or the budget is too small for any sigma below 1e6.
    """
    _check(sample_rate, steps, delta, accountant)
    if not (epsilon > 0 and math.isfinite(epsilon)):
        raise BudgetError(f"epsilon must be a positive finite number, got {epsilon!r}")
    from opacus.accountants.utils import get_noise_multiplier

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Oo]ptimal order.*")
            sigma = get_noise_multiplier(target_epsilon=epsilon, target_delta=delta,
                                         sample_rate=sample_rate, steps=steps,
                                         accountant=accountant,
                                         epsilon_tolerance=min(0.01, 0.005 * epsilon))
    except ValueError as exc:
        raise BudgetError(f"opacus cannot calibrate noise for epsilon={epsilon}, "
                          f"delta={delta}, sample rate={sample_rate}, steps={steps} "
                          f"({accountant}): {exc}; raise epsilon or train fewer steps"
                          ) from None
    return float(sigma)


def spent_epsilon(noise_multiplier: float, sample_rate: float, steps: int, delta: float,
                  accountant: str) -> float:
    """The epsilon (at ``delta``) that opacus' accountant charges for ``steps`` steps.

    For PRV this is opacus' upper bound (estimate + its error bar), the guaranteed figure.
    """
    _check(sample_rate, steps, delta, accountant)
    if not (noise_multiplier > 0 and math.isfinite(noise_multiplier)):
        raise BudgetError(f"noise multiplier must be a positive finite number, got "
                          f"{noise_multiplier!r}")
    from opacus.accountants import PRVAccountant, RDPAccountant

    acc = RDPAccountant() if accountant == "rdp" else PRVAccountant()
    acc.history = [(float(noise_multiplier), float(sample_rate), int(steps))]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Oo]ptimal order.*")
        return float(acc.get_epsilon(delta=delta))


def split_budget(budget: PrivacyBudget, schema: Schema, domain_share: float
                 ) -> tuple[float, float]:
    """``(epsilon for DP domains, epsilon for training)``.

    The domain part is 0 when every modelled column has a declared (not data-dependent)
    domain; otherwise it is ``domain_share * budget.epsilon``. The two parts add up to the
    budget's epsilon.

    Raises:
        BudgetError: ``domain_share`` outside ``[0, 1)``.
    """
    if not (0 <= domain_share < 1) or isinstance(domain_share, bool):
        raise BudgetError(f"domain_share must be in [0, 1) (the share of epsilon spent on "
                          f"estimating undeclared domains), got {domain_share!r}")
    if not any(needs_domain(c) for c in schema.modelled):
        return 0.0, float(budget.epsilon)
    domain = float(domain_share) * float(budget.epsilon)
    return domain, float(budget.epsilon) - domain


def training_delta(budget: PrivacyBudget, domains: DomainSpend) -> float:
    """The delta left for training once DP domain estimation took ``domains.delta``.

    Train with this delta and pass it to :func:`composed_spent`: the composed delta is then
    exactly the budget's.
    """
    left = budget.delta - domains.delta
    if not left > 0:
        raise BudgetError(f"delta={budget.delta} leaves nothing for training after the "
                          f"{domains.delta:g} spent on category lists; raise delta or declare "
                          f"the categories of {list(domains.columns)}")
    return left


def composed_spent(train_epsilon: float, delta: float, accountant: str, domains: DomainSpend,
                   details: Mapping[str, Any]) -> PrivacySpent:
    """What a fit spent in total: DP domain estimation composed with training.

    Args:
        train_epsilon: the accountant's epsilon for the training steps (at ``delta``).
        delta: the delta training was accounted at.
        accountant: ``"rdp"`` or ``"prv"``.
        domains: what :func:`privatize_domains` spent (epsilon 0 when nothing was estimated).
        details: the caller's figures (noise multiplier, sample rate, steps, ...), kept as is.
    """
    if accountant not in ACCOUNTANTS:
        raise BudgetError(f"accountant {accountant!r} is not one of {list(ACCOUNTANTS)}")
    if not (train_epsilon >= 0 and math.isfinite(train_epsilon)):
        raise BudgetError(f"training epsilon must be finite and >= 0, got {train_epsilon!r}")
    epsilon = float(domains.epsilon) + float(train_epsilon)
    total_delta = float(delta) + float(domains.delta)
    label = f"opacus {accountant}"
    if domains.epsilon > 0:
        label += " + DP domains (basic composition)"
    out: dict[str, Any] = dict(details)
    out.update({
        "accountant": accountant,
        "composition": COMPOSITION_RULE,
        "train_epsilon": float(train_epsilon),
        "train_delta": float(delta),
        "domain_epsilon": float(domains.epsilon),
        "domain_delta": float(domains.delta),
        "domain_columns": list(domains.columns),
        "domain_details": dict(domains.details),
    })
    return PrivacySpent(epsilon=epsilon, delta=total_delta, accountant=label, details=out)


@dataclass(frozen=True)
class FitInputs:
    """What a DP-SGD generator may train on, and the budget left for training.

    ``schema`` has a domain for every modelled column (declared, or released under DP from
    ``domains.epsilon``); ``data`` holds only rows inside those domains.
    """

    data: pd.DataFrame
    schema: Schema
    domains: DomainSpend
    train_epsilon: float
    train_delta: float


def prepare_fit(owner: str, data: pd.DataFrame, schema: Schema, budget: PrivacyBudget | None,
                *, dp: bool, domain_share: float, seed: int) -> FitInputs:
    """The checks and the domain step every DP-SGD generator runs before training.

    With ``dp``: a budget with ``delta > 0`` is required (:class:`BudgetError`); undeclared
    domains are released under DP from ``domain_share`` of epsilon, rows outside the released
    domains are dropped, and the rest of the budget is left for training. Without ``dp`` (the
    overhead benchmark only): domains are read off the data and the budget is infinite.
    """
    from privgate.plugins._dp_domains import privatize_domains, restrict_to_domains
    from privgate.schema import complete_schema

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
        return FitInputs(data, complete_schema(schema, data), nothing, math.inf, 0.0)
    assert budget is not None
    eps_domains, eps_train = split_budget(budget, schema, domain_share)
    schema, domains = privatize_domains(data, schema, epsilon=eps_domains, seed=seed)
    if domains.columns:
        data = restrict_to_domains(data, schema)
        if len(data) == 0:
            raise InputError(f"{owner}: no training row lies inside the DP-released domains "
                             f"of {list(domains.columns)}; declare them in the schema")
    return FitInputs(data, schema, domains, eps_train, training_delta(budget, domains))
