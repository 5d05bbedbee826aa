"""The privacy record of a DP fit: what was spent, how it composes, and how to recompute it.

A DP generator's :class:`~privgate.PrivacySpent` carries, in ``details``, the *accountant
inputs* an auditor needs to recompute its epsilon independently (:class:`AccountingInputs`):

==========================  ==================================================================
``accountant``              ``"rdp"`` or ``"prv"`` (opacus' accountants)
``accountant_history``      ``[[noise multiplier, sample rate, steps], ...]``: every mechanism
                            the accountant composes (the Gaussian domain release, other
                            Gaussian releases, DP-SGD)
``domain_entries``          how many leading entries of the history are the domain release
                            (0 or 1; :mod:`privgate.dp.domains`)
``train_delta``             the delta the history is accounted at
``domain_epsilon``          epsilon of pure-DP domain estimation outside the accountant (0 for
                            privgate's trainer, whose domain release is in the history)
``domain_delta``            the delta of the category thresholds
``release_epsilon``         epsilon of pure-DP (Laplace) releases outside the accountant
==========================  ==================================================================

A generator made only of pure-DP releases (Laplace histograms, no DP-SGD) reports an empty
``accountant_history`` and its ``release_epsilon``.

The accountant composes its history tightly (RDP or PRV); between it and the pure-DP parts the
composition is basic (Dwork & Roth 2014, Thm 3.16): ``epsilon = domain_epsilon + accountant
epsilon + release_epsilon`` and ``delta = domain_delta + train_delta``. That bound is loose but
always valid, which is what a gate that must fail closed needs. A generator that does not use
:class:`privgate.dp.DPTrainer` may give ``noise_multiplier``, ``sample_rate`` and ``steps``
instead of ``accountant_history``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from privgate.dp.accounting import ACCOUNTANTS, history_epsilon
from privgate.errors import N_, InputError, Text
from privgate.generator import PrivacySpent

COMPOSITION_RULE = ("the accountant composes its history (Gaussian domain release, Gaussian "
                    "releases, DP-SGD); basic sequential composition with the rest: epsilon = "
                    "domain epsilon (pure-DP domain estimation) + accountant epsilon + Laplace "
                    "release epsilon; delta = domain delta (category thresholds) + training "
                    "delta")


@dataclass(frozen=True)
class AccountingInputs:
    """Everything needed to recompute a DP fit's epsilon (see the module docstring)."""

    accountant: str
    history: tuple[tuple[float, float, int], ...]
    train_delta: float
    domain_epsilon: float = 0.0
    domain_delta: float = 0.0
    release_epsilon: float = 0.0
    domain_entries: int = 0

    def accountant_epsilon(self) -> float:
        """What opacus' accountant charges for :attr:`history` at :attr:`train_delta` (0 for
        a fit whose every mechanism is a pure-DP release: an empty history)."""
        if not self.history:
            return 0.0
        return history_epsilon(self.history, self.train_delta, self.accountant)

    def epsilon(self) -> float:
        """The composed epsilon: domains + accountant + Laplace releases."""
        return self.domain_epsilon + self.accountant_epsilon() + self.release_epsilon

    def domain_cost(self) -> float:
        """What the domains cost: the pure-DP domain epsilon plus what the domain release adds
        to the accountant's epsilon (the history with it minus the history without it)."""
        if not self.domain_entries:
            return self.domain_epsilon
        rest = self.history[self.domain_entries:]
        without = history_epsilon(rest, self.train_delta, self.accountant) if rest else 0.0
        return self.domain_epsilon + self.accountant_epsilon() - without

    def delta(self) -> float:
        """The composed delta: domains + training."""
        return self.domain_delta + self.train_delta

    def details(self) -> dict[str, Any]:
        """The inputs as ``PrivacySpent.details`` entries (plain JSON types)."""
        return {"accountant": self.accountant,
                "accountant_history": [[s, q, k] for s, q, k in self.history],
                "train_delta": self.train_delta, "domain_epsilon": self.domain_epsilon,
                "domain_delta": self.domain_delta, "release_epsilon": self.release_epsilon,
                "domain_entries": self.domain_entries, "composition": COMPOSITION_RULE}

    @classmethod
    def from_spent(cls, spent: PrivacySpent) -> AccountingInputs:
        """Read the inputs back from a reported :class:`PrivacySpent`.

        Raises:
            InputError: the details lack the accountant or its history (the message says
                which keys a DP generator must report).
        """
        d: Mapping[str, Any] = spent.details
        need = Text(N_("details must name 'accountant' (one of %(accountants)s) and give either "
                       "'accountant_history' [[noise multiplier, sample rate, steps], ...] or "
                       "'noise_multiplier', 'sample_rate' and 'steps'"),
                    accountants=list(ACCOUNTANTS))
        accountant = d.get("accountant")
        if accountant not in ACCOUNTANTS:
            raise InputError(N_("no accountant inputs: %(need)s; got accountant=%(accountant)r"),
                             need=need, accountant=accountant)
        raw = d.get("accountant_history")
        if raw is None and all(k in d for k in ("noise_multiplier", "sample_rate", "steps")):
            raw = [[d["noise_multiplier"], d["sample_rate"], d["steps"]]]
        try:
            history = tuple((float(s), float(q), _whole(k)) for s, q, k in raw or ())
            domain_epsilon = float(d.get("domain_epsilon", 0.0))
            domain_delta = float(d.get("domain_delta", 0.0))
            train_delta = float(d.get("train_delta", spent.delta - domain_delta))
            release_epsilon = float(d.get("release_epsilon", 0.0))
            domain_entries = _whole(d.get("domain_entries", 0))
        except (TypeError, ValueError) as exc:
            raise InputError(N_("malformed accountant inputs (%(exc)s): %(need)s"),
                             exc=exc, need=need) from None
        if not history and release_epsilon <= 0 and domain_epsilon <= 0:
            # an empty history is honest only for a fit made of pure-DP releases
            raise InputError(N_("no accountant inputs: %(need)s"), need=need)
        if not 0 <= domain_entries <= len(history):
            raise InputError(N_("domain_entries=%(domain_entries)s does not index the "
                                "accountant history (%(n_history)s entries)"),
                             domain_entries=domain_entries, n_history=len(history))
        return cls(str(accountant), history, train_delta, domain_epsilon, domain_delta,
                   release_epsilon, domain_entries)


def _whole(value: Any) -> int:
    """A step count: an integer, or a float with no fractional part (JSON round trips)."""
    number = float(value)
    if not number.is_integer():
        raise ValueError(f"steps must be a whole number, got {value!r}")
    return int(number)


def composed_spent(inputs: AccountingInputs, details: Mapping[str, Any], *,
                   domain_details: Mapping[str, Any] | None = None,
                   domain_columns: tuple[str, ...] = ()) -> PrivacySpent:
    """The :class:`PrivacySpent` of a fit whose accounting is ``inputs``.

    ``details`` (the generator's own figures) are kept; the accounting entries, the training
    epsilon and the domain record are added over them.
    """
    train_epsilon = inputs.accountant_epsilon()
    epsilon = inputs.domain_epsilon + train_epsilon + inputs.release_epsilon
    label = f"opacus {inputs.accountant}"
    if inputs.domain_entries:
        label += " (DP domains composed in)"
    if inputs.domain_epsilon > 0:
        label += " + DP domains (basic composition)"
    if inputs.release_epsilon > 0:
        label += " + Laplace releases (basic composition)"
    out: dict[str, Any] = dict(details)
    out.update(inputs.details())
    out.update({"train_epsilon": train_epsilon, "domain_columns": list(domain_columns),
                "domain_details": dict(domain_details or {}),
                "domain_marginal_epsilon": inputs.domain_cost()})
    return PrivacySpent(epsilon=epsilon, delta=inputs.delta(), accountant=label, details=out)


def spent_from_dict(doc: Mapping[str, Any], owner: str) -> PrivacySpent:
    """The :class:`PrivacySpent` that :meth:`PrivacySpent.to_dict` wrote (``epsilon`` None
    means not private).

    Raises:
        InputError: the document is incomplete (re-save with this version of privgate).
    """
    try:
        epsilon = doc["epsilon"]
        return PrivacySpent(epsilon=math.inf if epsilon is None else float(epsilon),
                            delta=float(doc["delta"]), accountant=str(doc["accountant"]),
                            details=dict(doc.get("details", {})))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(N_("%(owner)s: the saved privacy record is incomplete (%(exc)r); "
                            "re-save the generator with this version of privgate"),
                         owner=owner, exc=exc) from None
