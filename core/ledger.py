"""The privacy ledger: every fit on a data set, and a total budget enforced across fits.

Differential privacy composes: ten fits at epsilon 1 on the same people spend (up to) epsilon 10.
The ledger is an embedded SQLite file that records each fit per data-set fingerprint (SHA-256 of
the canonical table, :func:`privgate.tables.fingerprint`) with the generator, epsilon, delta,
accountant, config hash and times, and refuses a fit that would take the data set past its
configured total *before* the fit starts.

Why stdlib ``sqlite3``: a single local file, no server, and real transactions with file locking
between processes are exactly what is needed; nothing else is installed for it.

Rules (what counts against the total; basic sequential composition, so the sum of the epsilons):

* ``reserve`` runs in one ``BEGIN IMMEDIATE`` transaction: it takes SQLite's write lock, sums
  what the data set has spent or reserved, and either inserts a ``reserved`` row with the planned
  epsilon or raises :class:`~privgate.errors.BudgetError` (exit code 2). Two processes reserving
  at once are serialised by the lock, so the total is never exceeded. A busy timeout makes the
  second one wait instead of failing.
* ``commit`` replaces the reservation by the accountant's figure (status ``spent``).
* A fit that fails *after it started* keeps its reservation as ``spent``: it may already have
  touched the data (DP-SGD steps already taken), so nothing is given back (``fail``). Only a
  reservation whose fit never started (the audit stopped earlier) is ``released``, and released
  rows do not count.
* A process killed mid-fit leaves its row ``reserved``; it keeps counting (fail closed).
* A non-private fit (a baseline) touches the data without any epsilon: it is recorded with
  ``epsilon = NULL`` (shown as "not private"), is not counted against a finite total, and every
  report shows it.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from privgate.config import AuditConfig
from privgate.errors import BudgetError, InputError

#: Environment variable naming the ledger file (below --ledger and [ledger] path).
ENV_VAR = "PRIVGATE_LEDGER"
STATUSES = ("reserved", "spent", "released")
#: Seconds a process waits for another one's transaction before giving up.
BUSY_TIMEOUT_S = 60.0
#: Relative slack when comparing sums of floats with the total.
_SLACK = 1e-9
#: Test seam: called inside ``reserve``'s transaction between the budget check and the insert.
#: The concurrency tests set it to a short sleep to widen the race window and show that the
#: write lock, not luck, keeps two processes from both passing the check.
_after_check: Callable[[], None] | None = None

_SCHEMA = """
CREATE TABLE IF NOT EXISTS fits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset_fingerprint TEXT NOT NULL,
    dataset_name TEXT,
    generator TEXT NOT NULL,
    epsilon REAL,
    delta REAL NOT NULL,
    accountant TEXT NOT NULL,
    config_sha256 TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL CHECK (status IN ('reserved', 'spent', 'released')),
    note TEXT
);
CREATE INDEX IF NOT EXISTS fits_by_dataset ON fits (dataset_fingerprint);
"""


def default_path() -> Path:
    """``<user data dir>/privgate/ledger.sqlite`` (platformdirs)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("privgate", appauthor=False)) / "ledger.sqlite"


def resolve_path(cli: str | Path | None = None, config: str | Path | None = None) -> Path:
    """The ledger file: ``--ledger`` beats ``[ledger] path`` beats ``$PRIVGATE_LEDGER`` beats
    the default under the user's data directory. ``config`` is already resolved against the
    config file's folder."""
    for value in (cli, config, os.environ.get(ENV_VAR) or None):
        if value is not None:
            return Path(value).expanduser()
    return default_path()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Entry:
    """One row of the ledger."""

    id: int
    dataset_fingerprint: str
    dataset_name: str | None
    generator: str
    epsilon: float | None
    delta: float
    accountant: str
    config_sha256: str
    started_at: str
    finished_at: str | None
    status: str
    note: str | None

    @property
    def counts(self) -> bool:
        """Whether the entry counts against the data set's total."""
        return self.status != "released" and self.epsilon is not None

    def to_dict(self) -> dict[str, Any]:
        """The shape of ``results.json["ledger"]["entries"]`` (plus id, name and note)."""
        return {"id": self.id, "time": self.finished_at or self.started_at,
                "started_at": self.started_at, "finished_at": self.finished_at,
                "generator": self.generator, "epsilon": self.epsilon, "delta": self.delta,
                "accountant": self.accountant, "config_sha256": self.config_sha256,
                "status": self.status, "dataset_fingerprint": self.dataset_fingerprint,
                "dataset_name": self.dataset_name, "note": self.note}


class PrivacyLedger:
    """The ledger file at ``path`` (created with its folder on first use)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise InputError(f"{self.path}: the privacy ledger path is a folder; give a file "
                             "(e.g. ledger.sqlite) with --ledger or [ledger] path")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as con:
                con.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise InputError(f"{self.path}: cannot open the privacy ledger ({exc}); choose "
                             "another file with --ledger or [ledger] path") from None

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves; one connection per call, so
        # the object is safe to use after fork and from several threads.
        con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            yield con
        finally:
            con.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction (write lock taken at once), committed or rolled
        back as a whole."""
        with self._connect() as con:
            try:
                con.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise InputError(f"{self.path}: the privacy ledger stayed locked for "
                                 f"{BUSY_TIMEOUT_S:.0f} s ({exc}); retry later") from None
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    # -- writing ------------------------------------------------------------------------------

    def reserve(self, fingerprint: str, generator: str, epsilon: float | None, delta: float,
                accountant: str, config_sha256: str, total_epsilon: float | None, *,
                dataset_name: str | None = None) -> int:
        """Reserve ``epsilon`` for a fit that is about to start; returns the entry id.

        ``epsilon=None`` records a non-private fit (not counted against the total).

        Raises:
            BudgetError: the data set's spent and reserved epsilon plus ``epsilon`` would exceed
                ``total_epsilon``; the message lists what has been spent.
        """
        if epsilon is not None and not (epsilon >= 0 and math.isfinite(epsilon)):
            raise BudgetError(f"ledger: epsilon must be finite and >= 0, got {epsilon!r}")
        if total_epsilon is not None and not (total_epsilon > 0
                                              and math.isfinite(total_epsilon)):
            raise BudgetError(f"ledger: total_epsilon must be a positive finite number, got "
                              f"{total_epsilon!r}")
        with self._write() as con:
            rows = [_entry(r) for r in con.execute(
                "SELECT * FROM fits WHERE dataset_fingerprint = ? ORDER BY id", (fingerprint,))]
            used = sum((e.epsilon or 0.0 for e in rows if e.counts), 0.0)
            if (epsilon is not None and total_epsilon is not None
                    and used + epsilon > total_epsilon * (1 + _SLACK)):
                raise BudgetError(_refusal(fingerprint, dataset_name, generator, epsilon,
                                           total_epsilon, used, rows, self.path))
            if _after_check is not None:
                _after_check()
            cur = con.execute(
                "INSERT INTO fits (dataset_fingerprint, dataset_name, generator, epsilon, delta,"
                " accountant, config_sha256, started_at, status, note) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (fingerprint, dataset_name, generator, epsilon, float(delta), accountant,
                 config_sha256, _now(), "reserved",
                 None if epsilon is not None else "not differentially private; not counted "
                                                  "against the total"))
            assert cur.lastrowid is not None
            return int(cur.lastrowid)

    def commit(self, entry_id: int, actual_epsilon: float | None, delta: float,
               accountant: str) -> None:
        """Record what the fit actually spent (the accountant's figure): status ``spent``."""
        if actual_epsilon is not None and not math.isfinite(actual_epsilon):
            actual_epsilon = None
        with self._write() as con:
            self._require(con, entry_id, "reserved")
            con.execute("UPDATE fits SET epsilon = ?, delta = ?, accountant = ?, "
                        "finished_at = ?, status = 'spent' WHERE id = ?",
                        (actual_epsilon, float(delta), accountant, _now(), entry_id))

    def fail(self, entry_id: int, reason: str) -> None:
        """A fit failed after it started: keep the reserved epsilon as spent (it may have
        touched the data)."""
        with self._write() as con:
            self._require(con, entry_id, "reserved")
            con.execute("UPDATE fits SET finished_at = ?, status = 'spent', note = ? "
                        "WHERE id = ?",
                        (_now(), f"fit failed; reservation kept as spent: {reason}"[:500],
                         entry_id))

    def release(self, entry_id: int, reason: str) -> None:
        """The fit never started: give the reservation back (status ``released``)."""
        with self._write() as con:
            self._require(con, entry_id, "reserved")
            con.execute("UPDATE fits SET finished_at = ?, status = 'released', note = ? "
                        "WHERE id = ?", (_now(), reason[:500], entry_id))

    def _require(self, con: sqlite3.Connection, entry_id: int, status: str) -> None:
        row = con.execute("SELECT status FROM fits WHERE id = ?", (entry_id,)).fetchone()
        if row is None:
            raise InputError(f"{self.path}: no ledger entry {entry_id}")
        if row[0] != status:
            raise InputError(f"{self.path}: ledger entry {entry_id} is {row[0]!r}, not "
                             f"{status!r}")

    # -- reading ------------------------------------------------------------------------------

    def history(self, fingerprint: str | None = None) -> list[Entry]:
        """Every entry (of one data set, or of all), oldest first."""
        with self._connect() as con:
            if fingerprint is None:
                cur = con.execute("SELECT * FROM fits ORDER BY id")
            else:
                cur = con.execute("SELECT * FROM fits WHERE dataset_fingerprint = ? "
                                  "ORDER BY id", (fingerprint,))
            return [_entry(r) for r in cur]

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

    def summary(self, fingerprint: str, total_epsilon: float | None) -> dict[str, Any]:
        """The ``results.json["ledger"]`` document for one data set."""
        entries = self.history(fingerprint)
        return {"path": str(self.path), "fingerprint": fingerprint,
                "total_epsilon": total_epsilon,
                "spent_epsilon": sum((e.epsilon or 0.0 for e in entries if e.counts), 0.0),
                "entries": [{k: v for k, v in e.to_dict().items()
                             if k in ("time", "generator", "epsilon", "delta", "accountant",
                                      "config_sha256", "status", "note")}
                            for e in entries]}


def _entry(row: tuple[Any, ...]) -> Entry:
    return Entry(int(row[0]), str(row[1]), row[2], str(row[3]),
                 None if row[4] is None else float(row[4]), float(row[5]), str(row[6]),
                 str(row[7]), str(row[8]), row[9], str(row[10]), row[11])


def _refusal(fingerprint: str, name: str | None, generator: str, epsilon: float,
             total: float, used: float, rows: list[Entry], path: Path) -> str:
    lines = [f"privacy ledger {path}: refusing to fit {generator!r} at epsilon={epsilon:g} on "
             f"data set {name or '?'} ({fingerprint[:12]}): it has spent {used:.4g} of its "
             f"total epsilon {total:g}, so {max(total - used, 0.0):.4g} is left. Spent so far:"]
    for e in rows:
        if e.counts:
            lines.append(f"  {e.finished_at or e.started_at}  {e.generator}  "
                         f"epsilon={e.epsilon:.4g}  ({e.status}, {e.accountant})")
    lines.append("Lower epsilon, raise [ledger] total_epsilon / --total-epsilon if the data "
                 "owner allows it, or audit new data.")
    return "\n".join(lines)


@dataclass(frozen=True)
class PlannedFit:
    """One fit an audit is about to run: ``epsilon`` is ``None`` for a non-private one."""

    generator: str
    epsilon: float | None
    delta: float
    accountant: str = "planned budget"


class AuditLedger:
    """The ledger as one audit uses it: reserve every fit before training starts, then record
    how each fit ended, and release what never started."""

    def __init__(self, ledger: PrivacyLedger, fingerprint: str, dataset_name: str | None,
                 config_sha256: str, total_epsilon: float | None) -> None:
        self.ledger = ledger
        self.fingerprint = fingerprint
        self.dataset_name = dataset_name
        self.config_sha256 = config_sha256
        self.total_epsilon = total_epsilon
        self._pending: dict[str, int] = {}   # reserved, fit not started
        self._running: dict[str, int] = {}   # fit started, not finished
        self._planned: dict[str, PlannedFit] = {}

    def reserve_all(self, fits: list[PlannedFit]) -> None:
        """Reserve every fit, or none: if one is refused the earlier ones are released and the
        :class:`BudgetError` propagates (the audit stops before any training)."""
        try:
            for fit in fits:
                self._planned[fit.generator] = fit
                self._pending[fit.generator] = self.ledger.reserve(
                    self.fingerprint, fit.generator, fit.epsilon, fit.delta, fit.accountant,
                    self.config_sha256, self.total_epsilon, dataset_name=self.dataset_name)
        except BaseException:
            self.close("another fit of the same audit was refused by the budget")
            raise

    def started(self, generator: str) -> None:
        if generator in self._pending:
            self._running[generator] = self._pending.pop(generator)

    def finished(self, generator: str, fitted: Any) -> None:
        """The fit succeeded: record the accountant's figure (``fitted.privacy_spent``).

        Fails closed: a private fit whose spend cannot be read, or is not finite, keeps its
        reservation as spent.
        """
        entry = self._running.get(generator)
        if entry is None:
            return
        try:
            spent = fitted.privacy_spent
            epsilon = float(spent.epsilon)
            delta, accountant = float(spent.delta), str(spent.accountant)
        except Exception as exc:  # a plugin's property: anything can go wrong
            self.failed(generator, f"privacy_spent unreadable: {type(exc).__name__}: {exc}")
            return
        if not math.isfinite(epsilon) and self._planned[generator].epsilon is not None:
            self.failed(generator, "the private generator reported no finite epsilon")
            return
        del self._running[generator]
        self.ledger.commit(entry, epsilon if math.isfinite(epsilon) else None, delta,
                           accountant)

    def failed(self, generator: str, reason: str) -> None:
        """The fit failed after it started: its reservation stays spent."""
        entry = self._running.pop(generator, None)
        if entry is not None:
            self.ledger.fail(entry, reason)

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
        return self.ledger.summary(self.fingerprint, self.total_epsilon)


def open_audit_ledger(config: AuditConfig, fingerprint: str, dataset_name: str | None,
                      fits: list[PlannedFit]) -> AuditLedger | None:
    """Reserve an audit's fits in the configured ledger (``None`` when ``[ledger] enabled =
    false``). Raises :class:`BudgetError` (exit 2) when the data set's total would be exceeded.

    The fingerprint is the SHA-256 of the whole conformed table (train and control, identifier
    columns included): every fit on any split of the same table spends the same people's
    budget.
    """
    if not config.ledger.enabled:
        return None
    ledger = PrivacyLedger(resolve_path(None, config.resolve(config.ledger.path)))
    audit = AuditLedger(ledger, fingerprint, dataset_name, config.sha256(),
                        config.ledger.total_epsilon)
    audit.reserve_all(fits)
    return audit


__all__ = ["ENV_VAR", "AuditLedger", "Entry", "PlannedFit", "PrivacyLedger", "default_path",
           "open_audit_ledger", "resolve_path"]
