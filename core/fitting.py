"""One fit, checked and booked: what both ``privgate audit`` and ``privgate synth`` do with a
generator.

:func:`fit_booked` fits and samples a generator under its time limit, has core re-validate its
table and its privacy spend (:mod:`privgate.validate`), and records the outcome in the privacy
ledger:

* the generator refused the input (an :class:`~privgate.errors.InputError`, found before
  training): the reservation is released, less any ``spent_epsilon`` the error carries (a DP
  mechanism that already ran on the data); the error propagates (exit 2);
* it failed, timed out or returned something malformed (a
  :class:`~privgate.isolation.PluginFault`): it may have touched the data, so at least the
  planned budget -- or more, if it claims more -- stays spent; the fault propagates;
* it succeeded: the accountant's figure, as core read and checked it, is booked.

A fit that ran in a worker of a distributed executor (:mod:`privgate.spread`) comes back as
the fitted generator and its raw table; the driver checks them with :func:`checked` and books
the outcome with :func:`booked`, by the same rules.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd

from privgate import validate
from privgate.errors import InputError
from privgate.generator import Generator, PrivacyBudget, PrivacySpent
from privgate.isolation import Origin, PluginFault, call_plugin
from privgate.schema import Schema

if TYPE_CHECKING:
    from privgate.ledger import AuditLedger


def claimed_epsilon(generator: Any) -> float | None:
    """The epsilon a failed fit claims, when it is a finite positive number (the ledger then
    books at least that much, and never less than the planned budget)."""
    try:
        value = float(generator.privacy_spent.epsilon)
    except Exception:  # noqa: BLE001 -- whatever the plugin's property does
        return None
    return value if value > 0 and math.isfinite(value) else None


def fit_and_sample(generator: Generator, budget: PrivacyBudget | None, train: pd.DataFrame,
                   schema: Schema, n: int, *, seed: int) -> object:
    """The plugin's own work: fit on a copy of ``train``, then sample ``n`` rows (one time
    limit covers both); unchecked."""
    generator.fit(train.copy(), schema, budget, seed=seed)
    return generator.sample(n, seed=seed)


def checked(generator: Generator, synthetic: object, budget: PrivacyBudget | None,
            schema: Schema, n: int, origin: Origin) -> tuple[pd.DataFrame, PrivacySpent]:
    """Core's checked copies of a fitted generator's table and its spend (raises
    :class:`PluginFault` when either is malformed)."""
    spent = validate.privacy_spent(generator, budget, origin)
    return validate.synthetic_output(synthetic, schema, n, origin), spent


def fit_checked(generator: Generator, budget: PrivacyBudget | None, train: pd.DataFrame,
                schema: Schema, n: int, *, seed: int, origin: Origin,
                timeout_s: float | None) -> tuple[pd.DataFrame, PrivacySpent]:
    """Fit and sample one generator under its time limit; return core's checked copies of
    its table and its spend.

    Raises :class:`InputError` when the generator refused the input (nothing trained) and
    :class:`PluginFault` when it failed or returned something malformed.
    """
    synthetic = call_plugin(origin, "fit and sample", fit_and_sample, generator, budget, train,
                            schema, n, seed=seed, timeout_s=timeout_s)
    return checked(generator, synthetic, budget, schema, n, origin)


def booked(name: str, ledger: AuditLedger | None,
           fit: Callable[[], tuple[pd.DataFrame, PrivacySpent]],
           claimed: Callable[[], float | None]) -> tuple[pd.DataFrame, PrivacySpent]:
    """``fit()`` -- :func:`fit_checked`, or a worker's fit read back and checked -- with its
    outcome booked in ``ledger`` (see the module docstring); ``claimed()``: the epsilon a
    failed fit claims (:func:`claimed_epsilon`). The fit is marked started first (a fit sent
    to a worker already was, before it left)."""
    if ledger is not None:
        ledger.started(name)
    try:
        synthetic, spent = fit()
    except InputError as exc:
        if ledger is not None:  # found before training: give the budget back
            ledger.refused(name, str(exc), float(getattr(exc, "spent_epsilon", 0.0) or 0.0))
        raise
    except PluginFault as fault:
        if ledger is not None:  # it may have touched the data: at least the plan stays spent
            ledger.failed(name, fault.summary(), book_epsilon=claimed())
        raise
    if ledger is not None:
        ledger.finished(name, spent.epsilon if spent.is_private else None, spent.delta,
                        spent.accountant)
    return synthetic, spent


def fit_booked(name: str, generator: Generator, budget: PrivacyBudget | None,
               train: pd.DataFrame, schema: Schema, n: int, *, seed: int, origin: Origin,
               timeout_s: float | None, ledger: AuditLedger | None
               ) -> tuple[pd.DataFrame, PrivacySpent]:
    """:func:`fit_checked`, with the outcome booked in ``ledger`` (see the module docstring)."""
    return booked(name, ledger, lambda: fit_checked(
        generator, budget, train, schema, n, seed=seed, origin=origin, timeout_s=timeout_s),
        lambda: claimed_epsilon(generator))


__all__ = ["booked", "checked", "claimed_epsilon", "fit_and_sample", "fit_booked",
           "fit_checked"]
