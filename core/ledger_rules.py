"""The privacy ledger's rules: every fit on a data set, and a total budget enforced across fits.

Differential privacy composes: ten fits at epsilon 1 on the same people spend (up to) epsilon 10.
:class:`PrivacyLedger` records each fit per data-set fingerprint
(:func:`privgate.tables.fingerprint`: the SHA-256 of the multiset of rows, whatever their order)
with the generator, epsilon, delta, accountant, config hash, times, the audit it belongs to, and
the operator and host that ran it; it refuses a fit that would take the data set past its
configured total *before* the fit starts. The rows live in a backend of
:mod:`privgate.ledger_storage` (SQLite or PostgreSQL).

Rules (what counts against the total; basic sequential composition, so the sum of the epsilons):

* ``reserve`` runs in one write transaction that serialises every reservation of the data set:
  SQLite's ``BEGIN IMMEDIATE`` write lock, or in PostgreSQL a transaction-scoped advisory lock
  keyed by the fingerprint (``pg_advisory_xact_lock``) taken before anything is read. Inside
  it, the data set's spent and reserved epsilon is summed, and either a ``reserved`` row with
  the planned epsilon is inserted or :class:`~privgate.errors.BudgetError` (exit code 2) is
  raised. Two processes reserving at once are serialised, so the total is never exceeded.
  An epsilon above :data:`privgate.generator.MAX_EPSILON` (or a total above 1000 times it) is
  refused outright: such a reservation could never finish and would block the data set.
* ``commit`` replaces the reservation by the accountant's figure (status ``spent``).
* A fit refused with an input error *before training* gives its reservation back
  (``released``), unless something already ran on the data (a DP domain mechanism): then that
  epsilon is booked as ``spent``.
* A fit that fails *after it started* keeps its reservation as ``spent`` (at least the planned
  epsilon; more when the generator claims more): it may already have touched the data.
* A reservation whose fit never started (the audit stopped earlier) is ``released``; released
  rows do not count. A process killed mid-fit leaves its row ``reserved``; it keeps counting
  (fail closed).
* A non-private fit (a baseline) touches the data without any epsilon: it is recorded with
  ``epsilon = NULL`` (shown as "not private"), is not counted against a finite total, and every
  report shows it.
"""

from __future__ import annotations

import datetime as dt
import getpass
import math
import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from privgate.errors import N_, BudgetError, InputError, Text, joined
from privgate.generator import MAX_EPSILON
from privgate.ledger_storage import FIELDS, Entry, Tx, entry_from_row, open_store
from privgate.limits import MAX_TOTAL_EPSILON

STATUSES = ("reserved", "spent", "released")
#: Relative slack when comparing sums of floats with the total.
_SLACK = 1e-9
#: Test seam: called inside ``reserve``'s transaction between the budget check and the insert.
#: The concurrency tests set it to a short sleep to widen the race window and show that the
#: lock, not luck, keeps two processes from both passing the check.
_after_check: Callable[[], None] | None = None
#: Test seam for the negative control of the PostgreSQL concurrency test: ``False`` skips the
#: per-data-set advisory lock in ``reserve`` (never do this outside that test).
_lock_reserve = True


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _operator() -> str:
    try:
        return getpass.getuser() or "unknown"
    except Exception:  # noqa: BLE001 -- no user name in a container: KeyError, OSError, ...
        return "unknown"


def _host() -> str:
    try:
        return socket.gethostname() or "unknown"
    except OSError:
        return "unknown"


def _eps(value: float | None) -> str:
    """An epsilon for messages: never raises, whatever the float."""
    return "not private" if value is None else f"{value:.4g}"


class PrivacyLedger:
    """The ledger at ``location``: a SQLite file (created with its folder on first use) or a
    ``postgresql://`` URL (the table is created on first use). With ``create=False`` nothing
    is created or migrated: an absent ledger reads as empty."""

    def __init__(self, location: str | Path, *, create: bool = True) -> None:
        self.store = open_store(location, create=create)
        #: Where the ledger is, safe to show (a URL without its password).
        self.where = self.store.where
        self.backend = self.store.kind
        self._columns: set[str] = set()
        try:
            if create:
                self.store.ensure_schema()
            if create or self.store.present():
                with self.store.read() as tx:
                    self._columns = self.store.columns(tx)
        except (OSError, sqlite3.Error) as exc:
            raise InputError(N_("%(where)s: cannot open the privacy ledger (%(exc)s); choose "
                                "another file with --ledger or [ledger] path"),
                             where=self.where, exc=exc) from None

    @property
    def path(self) -> Path | None:
        """The SQLite file (``None`` for a PostgreSQL ledger)."""
        return getattr(self.store, "path", None)

    def _select(self) -> str:
        """The column list, with ``NULL`` for columns an old, not yet migrated ledger lacks."""
        return ", ".join(c if c in self._columns else f"NULL AS {c}" for c in FIELDS)

    # -- writing ------------------------------------------------------------------------------

    def reserve(self, fingerprint: str, generator: str, epsilon: float | None, delta: float,
                accountant: str, config_sha256: str, total_epsilon: float | None, *,
                dataset_name: str | None = None, audit_id: str | None = None,
                operator: str | None = None, host: str | None = None,
                unit: str | None = None) -> int:
        """Reserve ``epsilon`` for a fit that is about to start; returns the entry id.

        ``epsilon=None`` records a non-private fit (not counted against the total).
        ``operator`` and ``host`` default to this process's user and machine. ``unit`` is
        what the epsilon protects (``"per person"`` or ``"per row"``, stored with the entry;
        entries of different units on one data set are still summed).

        Raises:
            BudgetError: ``epsilon`` or ``total_epsilon`` is not a number the ledger accepts
                (negative, not finite, above the ceiling), or the data set's spent and
                reserved epsilon plus ``epsilon`` would exceed ``total_epsilon``; the message
                lists what has been spent.
        """
        if epsilon is not None and not (epsilon >= 0 and math.isfinite(epsilon)):
            raise BudgetError(N_("ledger: epsilon must be finite and >= 0, got %(epsilon)r"),
                              epsilon=epsilon)
        if epsilon is not None and epsilon > MAX_EPSILON:
            raise BudgetError(N_("ledger: epsilon %(epsilon)s is above privgate's ceiling of "
                                 "%(max_epsilon)s (privgate.generator.MAX_EPSILON); such a fit "
                                 "protects no one and is not reserved"),
                              epsilon=f"{epsilon:.4g}", max_epsilon=f"{MAX_EPSILON:g}")
        if total_epsilon is not None and not (total_epsilon > 0
                                              and math.isfinite(total_epsilon)):
            raise BudgetError(N_("ledger: total_epsilon must be a positive finite number, got "
                                 "%(total_epsilon)r"), total_epsilon=total_epsilon)
        if total_epsilon is not None and total_epsilon > MAX_TOTAL_EPSILON:
            raise BudgetError(N_("ledger: total_epsilon %(total_epsilon)s is above the ceiling "
                                 "of %(max_total_epsilon)s (1000 x "
                                 "privgate.generator.MAX_EPSILON); omit it to record without "
                                 "limiting"),
                              total_epsilon=f"{total_epsilon:.4g}",
                              max_total_epsilon=f"{MAX_TOTAL_EPSILON:g}")
        lock = fingerprint if _lock_reserve else None
        with self.store.write(lock) as tx:
            rows = [entry_from_row(r) for r in tx.rows(
                f"SELECT {self._select()} FROM {self.store.table} WHERE dataset_fingerprint "
                "= ? ORDER BY started_at, id", (fingerprint,))]
            used = sum((e.epsilon or 0.0 for e in rows if e.counts), 0.0)
            if (epsilon is not None and total_epsilon is not None
                    and not used + epsilon <= total_epsilon * (1 + _SLACK)):
                raise BudgetError(_refusal(fingerprint, dataset_name, generator, epsilon,
                                           total_epsilon, used, rows, self.where))
            if _after_check is not None:
                _after_check()
            values: dict[str, Any] = {
                "dataset_fingerprint": fingerprint, "dataset_name": dataset_name,
                "generator": generator, "epsilon": epsilon, "delta": float(delta),
                "accountant": accountant, "config_sha256": config_sha256,
                "started_at": _now(), "status": "reserved",
                "note": None if epsilon is not None else "not differentially private; not "
                                                         "counted against the total",
                "audit_id": audit_id, "operator": operator or _operator(),
                "host": host or _host(), "unit": unit}
            names = [k for k in values if k in self._columns]
            return tx.insert(f"INSERT INTO {self.store.table} ({', '.join(names)}) VALUES "
                             f"({', '.join('?' for _ in names)})", [values[k] for k in names])

    def commit(self, entry_id: int, actual_epsilon: float | None, delta: float,
               accountant: str, *, note: str | None = None) -> None:
        """Record what the fit actually spent (the accountant's figure): status ``spent``."""
        if actual_epsilon is not None and not math.isfinite(actual_epsilon):
            actual_epsilon = None
        with self.store.write(None) as tx:
            self._require(tx, entry_id, "reserved")
            tx.run(f"UPDATE {self.store.table} SET epsilon = ?, delta = ?, accountant = ?, "
                   "finished_at = ?, status = 'spent', note = COALESCE(?, note) WHERE id = ?",
                   (actual_epsilon, float(delta), accountant, _now(),
                    None if note is None else note[:500], entry_id))

    def fail(self, entry_id: int, reason: str, *, at_least: float | None = None) -> None:
        """A fit failed after it started: keep the reserved epsilon as spent (it may have
        touched the data), raised to ``at_least`` when that is more (what the fit claims)."""
        with self.store.write(None) as tx:
            self._require(tx, entry_id, "reserved")
            tx.run(f"UPDATE {self.store.table} SET finished_at = ?, status = 'spent', note = ? "
                   "WHERE id = ?",
                   (_now(), f"fit failed; reservation kept as spent: {reason}"[:500],
                    entry_id))
            if at_least is not None and math.isfinite(at_least) and at_least > 0:
                tx.run(f"UPDATE {self.store.table} SET epsilon = ? WHERE id = ? AND "
                       "(epsilon IS NULL OR epsilon < ?)", (at_least, entry_id, at_least))

    def release(self, entry_id: int, reason: str) -> None:
        """The fit never started (or stopped before training): give the reservation back
        (status ``released``)."""
        with self.store.write(None) as tx:
            self._require(tx, entry_id, "reserved")
            tx.run(f"UPDATE {self.store.table} SET finished_at = ?, status = 'released', "
                   "note = ? WHERE id = ?", (_now(), reason[:500], entry_id))

    def refuted(self, entry_id: int, reason: str) -> None:
        """Mark a spent fit whose claimed epsilon the audit's evidence refuted (``dp_claim =
        'refuted'``, ``reason`` appended to its note). Its booked epsilon stays as it is."""
        if "dp_claim" not in self._columns:  # a ledger opened read-only, not migrated
            return
        with self.store.write(None) as tx:
            tx.run(f"UPDATE {self.store.table} SET dp_claim = 'refuted', note = CASE WHEN "
                   "note IS NULL THEN ? ELSE note || '; ' || ? END WHERE id = ?",
                   (reason[:500], reason[:500], entry_id))

    def _require(self, tx: Tx, entry_id: int, status: str) -> None:
        rows = tx.rows(f"SELECT status FROM {self.store.table} WHERE id = ?"
                       f"{self.store.for_update}", (entry_id,))
        if not rows:
            raise InputError(N_("%(where)s: no ledger entry %(entry_id)s"),
                             where=self.where, entry_id=entry_id)
        if rows[0][0] != status:
            raise InputError(N_("%(where)s: ledger entry %(entry_id)s is %(rows)r, not "
                                "%(status)r"),
                             where=self.where, entry_id=entry_id, rows=rows[0][0], status=status)

    # -- reading ------------------------------------------------------------------------------

    def history(self, fingerprint: str | None = None) -> list[Entry]:
        """Every entry (of one data set, or of all), in time order (start time, then id)."""
        if not self._columns:
            return []
        sql = f"SELECT {self._select()} FROM {self.store.table}"
        params: tuple[str, ...] = ()
        if fingerprint is not None:
            sql, params = sql + " WHERE dataset_fingerprint = ?", (fingerprint,)
        with self.store.read() as tx:
            return [entry_from_row(r) for r in tx.rows(sql + " ORDER BY started_at, id", params)]

    def spent(self, fingerprint: str) -> float:
        """Epsilon spent or reserved on the data set (released and non-private rows excluded)."""
        return sum((e.epsilon or 0.0 for e in self.history(fingerprint) if e.counts), 0.0)

    def datasets(self) -> list[dict[str, Any]]:
        """Per data set: fingerprint, name, number of fits, epsilon counted, non-private fits."""
        out: dict[str, dict[str, Any]] = {}
        for e in self.history():
            d = out.setdefault(e.dataset_fingerprint, {
                "fingerprint": e.dataset_fingerprint, "name": e.dataset_name, "fits": 0,
                "spent_epsilon": 0.0, "non_private_fits": 0, "last": e.started_at})
            d["name"] = e.dataset_name or d["name"]
            d["fits"] += 1
            d["last"] = e.finished_at or e.started_at
            if e.counts:
                d["spent_epsilon"] += e.epsilon or 0.0
            elif e.epsilon is None and e.status != "released":
                d["non_private_fits"] += 1
        return list(out.values())

    def summary(self, fingerprint: str, total_epsilon: float | None,
                audit_id: str | None = None) -> dict[str, Any]:
        """The ``results.json["ledger"]`` document for one data set: every entry in time
        order, each marked ``this_audit`` when it belongs to the audit ``audit_id``."""
        entries = self.history(fingerprint)
        mine = {e.id for e in entries if audit_id is not None and e.audit_id == audit_id}

        def counted(this_audit: bool) -> float:
            return sum((e.epsilon or 0.0 for e in entries
                        if e.counts and (e.id in mine) == this_audit), 0.0)

        keep = ("id", "time", "generator", "epsilon", "delta", "accountant", "config_sha256",
                "status", "note", "audit_id", "operator", "host", "dp_claim", "unit")
        return {"path": self.where, "backend": self.backend, "fingerprint": fingerprint,
                "audit_id": audit_id, "total_epsilon": total_epsilon,
                "spent_epsilon": sum((e.epsilon or 0.0 for e in entries if e.counts), 0.0),
                "this_audit_epsilon": counted(True), "others_epsilon": counted(False),
                "entries": [{**{k: v for k, v in e.to_dict().items() if k in keep},
                             "this_audit": e.id in mine} for e in entries]}


def _refusal(fingerprint: str, name: str | None, generator: str, epsilon: float,
             total: float, used: float, rows: list[Entry], where: str) -> Text:
    lines: list[str] = [Text(N_(
        "privacy ledger %(where)s: refusing to fit %(generator)r at epsilon=%(epsilon)s on data "
        "set %(name)s (%(fingerprint)s): it has spent %(used)s of its total epsilon %(total)s, "
        "so %(left)s is left. Spent so far:"), where=where, generator=generator,
        epsilon=f"{epsilon:g}", name=name or "?", fingerprint=fingerprint[:12],
        used=f"{used:.4g}", total=f"{total:g}", left=f"{max(total - used, 0.0):.4g}")]
    for e in rows:
        if e.counts:
            lines.append(f"  {e.finished_at or e.started_at}  {e.generator}  "
                         f"epsilon={_eps(e.epsilon)}  ({e.status}, {e.accountant}; "
                         f"{e.operator or 'unknown'}@{e.host or 'unknown'})")
    lines.append(Text(N_("Lower epsilon, raise [ledger] total_epsilon / --total-epsilon if the "
                         "data owner allows it, or audit new data.")))
    return joined("\n", lines)

