"""The privacy ledger as an audit uses it: reserve every fit before training, record how each
ended, release what never started.

The ledger is four modules, each with one job:

* :mod:`privgate.ledger` (here) -- :class:`AuditLedger`, one audit's reservations, and
  :func:`open_audit_ledger` / :func:`open_ledger` for the ledger a config names;
* :mod:`privgate.ledger_rules` -- :class:`~privgate.ledger_rules.PrivacyLedger`: reserve,
  commit, fail, release, and the total budget (the rules are in its docstring);
* :mod:`privgate.ledger_storage` -- where the rows live (SQLite file, PostgreSQL table);
* :mod:`privgate.ledger_location` -- which ledger (flags, config, environment) and URLs
  without passwords;

and :mod:`privgate.ledger_view` prints it (``privgate ledger``).

An attack that refits the audited generator on the training rows (the canary fits of
``dp-audit``; :meth:`privgate.Attack.refits`) spends budget like any fit: each refit is reserved
with the audit's fits, as ``"<generator> (<attack> refit i/n)"`` at the generator's budget
(unit per row: refits see every training row), and booked around the attack's run by
:meth:`AuditLedger.refits` -- spent at that budget when the run returns (the refits report no
spend to core), spent when it fails, given back when it refuses its input (before any refit),
released with the rest when the attack never runs.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from privgate.config import AuditConfig
from privgate.errors import InputError
from privgate.ledger_location import resolve_location
from privgate.ledger_rules import PrivacyLedger


@dataclass(frozen=True)
class PlannedFit:
    """One fit an audit is about to run: ``epsilon`` is ``None`` for a non-private one.
    ``unit`` is what a private fit's epsilon protects: ``"per person"`` when it is fitted on
    one row per person (a person column is declared), else ``"per row"``
    (:data:`privgate.persons.PER_PERSON` / :data:`~privgate.persons.PER_ROW`)."""

    generator: str
    epsilon: float | None
    delta: float
    accountant: str = "planned budget"
    unit: str | None = None
    #: ``(generator, attack)`` for a refit an attack makes of an audited generator
    refit_of: tuple[str, str] | None = None


def refit_fits(generator: str, attack: str, count: int, epsilon: float | None, delta: float,
               unit: str | None) -> list[PlannedFit]:
    """The ``count`` refits ``attack`` makes of ``generator``, each at its budget."""
    return [PlannedFit(f"{generator} ({attack} refit {i}/{count})", epsilon, delta,
                       f"{attack} refit, booked at the generator's budget", unit,
                       (generator, attack)) for i in range(1, count + 1)]


class AuditLedger:
    """The ledger as one audit uses it: reserve every fit before training starts, then record
    how each fit ended, and release what never started. Every entry carries the audit's
    :attr:`audit_id` (a random UUID4, hex)."""

    def __init__(self, ledger: PrivacyLedger, fingerprint: str, dataset_name: str | None,
                 config_sha256: str, total_epsilon: float | None, *,
                 audit_id: str | None = None) -> None:
        self.ledger = ledger
        self.fingerprint = fingerprint
        self.dataset_name = dataset_name
        self.config_sha256 = config_sha256
        self.total_epsilon = total_epsilon
        self.audit_id = audit_id or uuid.uuid4().hex
        self._pending: dict[str, int] = {}   # reserved, fit not started
        self._running: dict[str, int] = {}   # fit started, not finished
        self._planned: dict[str, PlannedFit] = {}
        self._done: dict[str, int] = {}      # committed as spent

    def reserve_all(self, fits: list[PlannedFit]) -> None:
        """Reserve every fit, or none: if one is refused the earlier ones are released and the
        :class:`BudgetError` propagates (the audit stops before any training)."""
        try:
            for fit in fits:
                self._planned[fit.generator] = fit
                self._pending[fit.generator] = self.ledger.reserve(
                    self.fingerprint, fit.generator, fit.epsilon, fit.delta, fit.accountant,
                    self.config_sha256, self.total_epsilon, dataset_name=self.dataset_name,
                    audit_id=self.audit_id, unit=None if fit.epsilon is None else fit.unit)
        except BaseException:
            self.close("another fit of the same audit was refused by the budget")
            raise

    def started(self, generator: str) -> None:
        """The fit is about to touch the data."""
        if generator in self._pending:
            self._running[generator] = self._pending.pop(generator)

    def _take(self, generator: str) -> int | None:
        entry = self._running.pop(generator, None)
        return self._pending.pop(generator, None) if entry is None else entry

    def finished(self, generator: str, epsilon: float | None, delta: float,
                 accountant: str) -> None:
        """The fit succeeded: record the accountant's figure (validated by core; ``None`` for
        a non-private fit). Fails closed: a private fit without a finite, non-negative epsilon
        keeps its reservation as spent."""
        planned = self._planned.get(generator)
        if (planned is not None and planned.epsilon is not None
                and (epsilon is None or not math.isfinite(epsilon) or epsilon < 0)):
            self.failed(generator, f"the private generator reported epsilon {epsilon!r}")
            return
        entry = self._take(generator)
        if entry is not None:
            self.ledger.commit(entry, epsilon, delta, accountant)
            self._done[generator] = entry

    def refuted(self, generator: str, reason: str) -> None:
        """The audit's evidence refuted the epsilon this fit reported (``dp-claim``): mark its
        entry and its refits' (they stay booked at what they reported, or more)."""
        for name, fit in self._planned.items():
            entry = self._done.get(name)
            if entry is not None and (name == generator or (
                    fit.refit_of is not None and fit.refit_of[0] == generator)):
                self.ledger.refuted(entry, reason)

    def start_refits(self, generator: str, attack: str) -> list[str]:
        """Mark the reserved refits of ``attack`` on ``generator`` as started (about to touch
        the data), e.g. before the attack is sent to a worker; :meth:`refits` books them once
        its outcome is back. Returns their names."""
        names = [n for n, fit in self._planned.items() if fit.refit_of == (generator, attack)]
        for name in names:
            self.started(name)
        return names

    @contextmanager
    def refits(self, generator: str, attack: str) -> Iterator[None]:
        """Book the reserved refits of ``attack`` on ``generator`` around the attack's run:
        spent at their planned budget when it returns, spent when it fails, given back when it
        refuses its input (:class:`InputError`, raised before any refit). Refits already
        marked started (:meth:`start_refits`) are booked the same way."""
        names = self.start_refits(generator, attack)
        try:
            yield
        except InputError as exc:
            for name in names:
                self.refused(name, str(exc))
            raise
        except BaseException as exc:
            for name in names:
                self.failed(name, f"{attack} failed: {type(exc).__name__}: {exc}")
            raise
        for name in names:
            fit = self._planned[name]
            self.finished(name, fit.epsilon, fit.delta, fit.accountant)

    def refused(self, generator: str, reason: str, spent_epsilon: float = 0.0) -> None:
        """The fit stopped with an input error before training. Nothing ran on the data
        (``spent_epsilon == 0``): the reservation is released, with ``reason`` as its note.
        A DP mechanism already ran (``spent_epsilon > 0``, e.g. a domain estimate): that
        epsilon is booked as spent, with ``reason`` as its note."""
        if not (math.isfinite(spent_epsilon) and spent_epsilon >= 0):
            self.failed(generator, f"refused after an unreadable spend ({spent_epsilon!r}): "
                                   f"{reason}")
            return
        entry = self._take(generator)
        if entry is None:
            return
        if spent_epsilon == 0:
            self.ledger.release(entry, f"refused before training: {reason}")
            return
        planned = self._planned.get(generator)
        self.ledger.commit(entry, spent_epsilon, 0.0 if planned is None else planned.delta,
                           "spent before the fit was refused",
                           note=f"refused before training, after epsilon {spent_epsilon:.4g} "
                                f"was spent on the data: {reason}")

    def failed(self, generator: str, reason: str, book_epsilon: float | None = None) -> None:
        """The fit failed after it started, or reported an impossible spend: its reservation
        stays spent at the planned epsilon, or at ``book_epsilon`` when that is more."""
        entry = self._take(generator)
        if entry is not None:
            self.ledger.fail(entry, reason, at_least=book_epsilon)

    def close(self, reason: str = "the audit stopped before this fit started") -> None:
        """Release every reservation whose fit never started; a fit still marked running (the
        audit was interrupted mid-fit) is kept as spent."""
        for generator, entry in list(self._running.items()):
            self.ledger.fail(entry, "the audit stopped during the fit")
            del self._running[generator]
        for generator, entry in list(self._pending.items()):
            self.ledger.release(entry, reason)
            del self._pending[generator]

    def summary(self) -> dict[str, Any]:
        """``results.json["ledger"]``: this data set's entries, this audit's marked."""
        return self.ledger.summary(self.fingerprint, self.total_epsilon, self.audit_id)


def open_ledger(config: AuditConfig, *, create: bool = True) -> PrivacyLedger:
    """The ledger ``config`` names (its ``[ledger] url`` or ``path``, else the environment)."""
    return PrivacyLedger(resolve_location(config=config.resolve(config.ledger.path),
                                          config_url=config.ledger.url), create=create)


def open_audit_ledger(config: AuditConfig, fingerprint: str, dataset_name: str | None,
                      fits: list[PlannedFit]) -> AuditLedger | None:
    """Reserve an audit's fits in the configured ledger (``None`` when ``[ledger] enabled =
    false``). Raises :class:`BudgetError` (exit 2) when the data set's total would be exceeded.

    The fingerprint identifies the whole conformed table (train and control, identifier
    columns included, rows in any order): every fit on any split of the same table spends the
    same people's budget.
    """
    if not config.ledger.enabled:
        return None
    audit = AuditLedger(open_ledger(config), fingerprint, dataset_name, config.sha256(),
                        config.ledger.total_epsilon)
    audit.reserve_all(fits)
    return audit


__all__ = ["AuditLedger", "PlannedFit", "open_audit_ledger", "open_ledger", "refit_fits"]
