"""The privacy ledger: every fit on a data set, and a total budget enforced across fits.

Differential privacy composes: ten fits at epsilon 1 on the same people spend (up to) epsilon 10.
The ledger records each fit per data-set fingerprint (:func:`privgate.tables.fingerprint`: the
SHA-256 of the multiset of rows, whatever their order) with the generator, epsilon, delta,
accountant, config hash, times, the audit it belongs to, and the operator and host that ran
it; it refuses a fit that would take the data set past its configured total *before* the fit
starts.

Storage: one :class:`PrivacyLedger` holds the rules; two small backends hold the rows.

* SQLite (stdlib ``sqlite3``, the embedded default): one local file, no server, real
  transactions with file locking between processes.
* PostgreSQL (``psycopg`` 3, ``pip install privgate[postgres]``), for a team that shares one
  ledger, e.g. CI gates on fresh runners where a per-user file would start empty every time.
  Selected by a ``postgresql://`` URL (``--ledger-url``, ``[ledger] url`` or
  ``$PRIVGATE_LEDGER_URL``); the table is ``privgate_fits`` in the connection's schema.

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
import hashlib
import math
import os
import socket
import sqlite3
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from privgate.config import AuditConfig
from privgate.errors import BudgetError, InputError
from privgate.generator import MAX_EPSILON

#: Environment variable naming the ledger file (below --ledger and [ledger] path).
ENV_VAR = "PRIVGATE_LEDGER"
#: Environment variable naming a PostgreSQL ledger (below --ledger-url and [ledger] url).
URL_ENV_VAR = "PRIVGATE_LEDGER_URL"
STATUSES = ("reserved", "spent", "released")
#: Seconds a process waits for another one's transaction (or lock) before giving up.
BUSY_TIMEOUT_S = 60.0
#: The largest total epsilon a ledger accepts for one data set.
MAX_TOTAL_EPSILON = MAX_EPSILON * 1000
#: Relative slack when comparing sums of floats with the total.
_SLACK = 1e-9
#: Test seam: called inside ``reserve``'s transaction between the budget check and the insert.
#: The concurrency tests set it to a short sleep to widen the race window and show that the
#: lock, not luck, keeps two processes from both passing the check.
_after_check: Callable[[], None] | None = None
#: Test seam for the negative control of the PostgreSQL concurrency test: ``False`` skips the
#: per-data-set advisory lock in ``reserve`` (never do this outside that test).
_lock_reserve = True

#: Every column of the fits table, in the order :class:`Entry` takes them; the type is the
#: SQL type with ``{real}`` the backend's double-precision float.
_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "{id}"),
    ("dataset_fingerprint", "TEXT NOT NULL"),
    ("dataset_name", "TEXT"),
    ("generator", "TEXT NOT NULL"),
    ("epsilon", "{real}"),
    ("delta", "{real} NOT NULL"),
    ("accountant", "TEXT NOT NULL"),
    ("config_sha256", "TEXT NOT NULL"),
    ("started_at", "TEXT NOT NULL"),
    ("finished_at", "TEXT"),
    ("status", "TEXT NOT NULL CHECK (status IN ('reserved', 'spent', 'released'))"),
    ("note", "TEXT"),
    ("audit_id", "TEXT"),
    ("operator", "TEXT"),
    ("host", "TEXT"),
)
#: Columns added after the first release: ledgers written before get them on open.
_ADDED = ("audit_id", "operator", "host")
_FIELDS = tuple(name for name, _ in _COLUMNS)


def default_path() -> Path:
    """``<user data dir>/privgate/ledger.sqlite`` (platformdirs)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("privgate", appauthor=False)) / "ledger.sqlite"


def is_url(location: str | Path | None) -> bool:
    """Whether ``location`` names a PostgreSQL ledger (``postgresql://`` or ``postgres://``)."""
    return isinstance(location, str) and location.split("://", 1)[0].lower() in (
        "postgresql", "postgres")


def redact_url(url: str) -> str:
    """``url`` without its password (user name, host, database and options kept), safe to
    print and to write into results and reports."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.rpartition("@")
        host = netloc[2]
        if netloc[1]:
            user = netloc[0].split(":", 1)[0]
            host = f"{user}@{host}" if user else host
        query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                           if k.lower() != "password"], quote_via=quote, safe="=-/")
        return urlunsplit((parts.scheme, host, parts.path, query, ""))
    except ValueError:
        return "postgresql://(unparsable URL)"


def resolve_location(cli: str | Path | None = None, config: str | Path | None = None, *,
                     cli_url: str | None = None, config_url: str | None = None
                     ) -> str | Path:
    """Where the ledger is: ``--ledger-url`` beats ``--ledger`` beats ``[ledger] url`` beats
    ``[ledger] path`` (resolved against the config file's folder) beats
    ``$PRIVGATE_LEDGER_URL`` beats ``$PRIVGATE_LEDGER`` beats the default file under the
    user's data directory. A URL is returned as ``str``, a file as :class:`Path`."""
    for url, path in ((cli_url, cli), (config_url, config),
                      (os.environ.get(URL_ENV_VAR) or None, os.environ.get(ENV_VAR) or None)):
        if url:
            if not is_url(url):
                raise InputError(f"{redact_url(url)}: a ledger URL must start with "
                                 "postgresql:// (a file goes to --ledger / [ledger] path)")
            return url
        if path is not None:
            return Path(path).expanduser()
    return default_path()


def resolve_path(cli: str | Path | None = None, config: str | Path | None = None) -> Path:
    """The ledger file when no URL is involved: ``--ledger`` beats ``[ledger] path`` beats
    ``$PRIVGATE_LEDGER`` beats the default under the user's data directory."""
    for value in (cli, config, os.environ.get(ENV_VAR) or None):
        if value is not None:
            return Path(value).expanduser()
    return default_path()


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
    audit_id: str | None = None
    operator: str | None = None
    host: str | None = None

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
                "dataset_name": self.dataset_name, "note": self.note,
                "audit_id": self.audit_id, "operator": self.operator, "host": self.host}


def _entry(row: Sequence[Any]) -> Entry:
    def num(value: Any) -> float | None:
        return None if value is None else float(value)

    return Entry(int(row[0]), str(row[1]), row[2], str(row[3]), num(row[4]),
                 float(row[5]), str(row[6]), str(row[7]), str(row[8]), row[9], str(row[10]),
                 row[11], row[12], row[13], row[14])


# -- storage backends ------------------------------------------------------------------------


class _Tx(ABC):
    """One connection (inside a transaction when writing); SQL uses ``?`` placeholders."""

    @abstractmethod
    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def run(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    @abstractmethod
    def insert(self, sql: str, params: Sequence[Any]) -> int:
        """Run an ``INSERT`` and return the new row's id."""


class _Store(ABC):
    """Where the rows live. The ledger's logic (:class:`PrivacyLedger`) is written once against
    this interface; a backend only connects, locks and knows its SQL dialect."""

    kind: str
    #: What to show for the ledger: the file, or the URL without its password.
    where: str
    table: str
    #: The SQL types of ``{id}`` and ``{real}`` in :data:`_COLUMNS`.
    types: dict[str, str]
    #: Appended to the ``SELECT`` that checks an entry's status before updating it.
    for_update: str = ""

    @abstractmethod
    def read(self) -> AbstractContextManager[_Tx]:
        """A connection for reading."""

    @abstractmethod
    def write(self, lock: str | None) -> AbstractContextManager[_Tx]:
        """One transaction, committed or rolled back as a whole; ``lock`` (a data-set
        fingerprint, or ``"schema"``) names what it must hold exclusively before reading."""

    @abstractmethod
    def columns(self, tx: _Tx) -> set[str]:
        """The fits table's columns (empty when it does not exist)."""

    @abstractmethod
    def present(self) -> bool:
        """Whether the ledger exists (reading must not create it)."""

    def ensure_schema(self) -> None:
        """Create the table, or add the columns a ledger from an older privgate lacks; safe
        when several processes open a new ledger at once (done under the ``schema`` lock)."""
        with self.write("schema") as tx:
            have = self.columns(tx)
            if not have:
                body = ",\n    ".join(f"{n} {t.format(**self.types)}" for n, t in _COLUMNS)
                tx.run(f"CREATE TABLE IF NOT EXISTS {self.table} (\n    {body}\n)")
                tx.run(f"CREATE INDEX IF NOT EXISTS {self.table}_by_dataset ON {self.table} "
                       "(dataset_fingerprint)")
                return
            for name, sql_type in _COLUMNS:
                if name not in have and name in _ADDED:
                    tx.run(f"ALTER TABLE {self.table} ADD COLUMN {name} "
                           f"{sql_type.format(**self.types)}")


class _SqliteTx(_Tx):
    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.con.execute(sql, tuple(params)))

    def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.con.execute(sql, tuple(params))

    def insert(self, sql: str, params: Sequence[Any]) -> int:
        cur = self.con.execute(sql, tuple(params))
        assert cur.lastrowid is not None
        return int(cur.lastrowid)


class _SqliteStore(_Store):
    """A local SQLite file; ``BEGIN IMMEDIATE`` takes the whole file's write lock, which also
    serialises every reservation."""

    kind = "sqlite"
    table = "fits"
    types = {"id": "INTEGER PRIMARY KEY AUTOINCREMENT", "real": "REAL"}

    def __init__(self, path: Path, *, create: bool) -> None:
        self.path = path
        self.where = str(path)
        if path.is_dir():
            raise InputError(f"{path}: the privacy ledger path is a folder; give a file "
                             "(e.g. ledger.sqlite) with --ledger or [ledger] path")
        if create:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise self._unusable(exc) from None

    def _unusable(self, exc: BaseException) -> InputError:
        return InputError(f"{self.path}: cannot open the privacy ledger ({exc}); choose "
                          "another file with --ledger or [ledger] path")

    def present(self) -> bool:
        return self.path.is_file()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves; one connection per call, so
        # the object is safe to use after fork and from several threads.
        try:
            con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        except sqlite3.Error as exc:
            raise self._unusable(exc) from None
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def read(self) -> Iterator[_Tx]:
        with self._connect() as con:
            yield _SqliteTx(con)

    @contextmanager
    def write(self, lock: str | None) -> Iterator[_Tx]:
        with self._connect() as con:
            try:
                con.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise InputError(f"{self.path}: the privacy ledger stayed locked for "
                                 f"{BUSY_TIMEOUT_S:.0f} s ({exc}); retry later") from None
            try:
                yield _SqliteTx(con)
            except BaseException:
                con.execute("ROLLBACK")
                raise
            try:
                con.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._unusable(exc) from None

    def columns(self, tx: _Tx) -> set[str]:
        return {str(r[1]) for r in tx.rows(f"PRAGMA table_info({self.table})")}


def _advisory_key(name: str) -> int:
    """A signed 64-bit advisory-lock key for a data set (or the schema), from its name."""
    digest = hashlib.sha256(b"privgate-ledger\0" + name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class _PostgresTx(_Tx):
    def __init__(self, con: Any) -> None:
        self.con = con

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.con.execute(sql.replace("?", "%s"), tuple(params)).fetchall())

    def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.con.execute(sql.replace("?", "%s"), tuple(params))

    def insert(self, sql: str, params: Sequence[Any]) -> int:
        row = self.con.execute(sql.replace("?", "%s") + " RETURNING id", tuple(params))
        return int(row.fetchone()[0])


class _PostgresStore(_Store):
    """A PostgreSQL database shared by a team. Reservations of one data set are serialised by
    a transaction-scoped advisory lock on a key from its fingerprint; the table is created
    under another advisory lock, so that runners starting at once do not race."""

    kind = "postgresql"
    table = "privgate_fits"
    types = {"id": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
             "real": "DOUBLE PRECISION"}
    for_update = " FOR UPDATE"

    def __init__(self, url: str) -> None:
        self.url = url
        self.where = redact_url(url)
        try:
            import psycopg
        except ImportError:
            raise InputError(f"{self.where}: a PostgreSQL privacy ledger needs psycopg 3: "
                             "pip install privgate[postgres]") from None
        self._psycopg = psycopg

    def _error(self, exc: BaseException, doing: str) -> InputError:
        text = " ".join(str(exc).split()).replace(self.url, self.where)
        try:
            password = urlsplit(self.url).password
        except ValueError:
            password = None
        if password:
            text = text.replace(password, "***")
        return InputError(f"privacy ledger {self.where}: {doing} ({text}); check the URL "
                          "(--ledger-url, [ledger] url or $PRIVGATE_LEDGER_URL) and that the "
                          "server is running")

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        try:
            con = self._psycopg.connect(self.url, connect_timeout=10, autocommit=True)
        except self._psycopg.Error as exc:
            raise self._error(exc, "cannot connect to the PostgreSQL server") from None
        try:
            yield con
        except self._psycopg.errors.LockNotAvailable:
            raise InputError(f"privacy ledger {self.where}: another process held the data "
                             f"set's lock for {BUSY_TIMEOUT_S:.0f} s; retry later") from None
        except self._psycopg.Error as exc:
            raise self._error(exc, "a database operation failed") from None
        finally:
            con.close()

    @contextmanager
    def read(self) -> Iterator[_Tx]:
        with self._connect() as con:
            yield _PostgresTx(con)

    @contextmanager
    def write(self, lock: str | None) -> Iterator[_Tx]:
        with self._connect() as con, con.transaction():
            tx = _PostgresTx(con)
            tx.run(f"SET LOCAL lock_timeout = '{int(BUSY_TIMEOUT_S * 1000)}ms'")
            if lock is not None:
                tx.run("SELECT pg_advisory_xact_lock(?)", (_advisory_key(lock),))
            yield tx

    def columns(self, tx: _Tx) -> set[str]:
        return {str(r[0]) for r in tx.rows(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND table_name = ?", (self.table,))}

    def present(self) -> bool:
        with self.read() as tx:
            return bool(self.columns(tx))


def _store(location: str | Path, *, create: bool) -> _Store:
    if is_url(location):
        return _PostgresStore(str(location))
    return _SqliteStore(Path(location), create=create)


# -- the ledger --------------------------------------------------------------------------------


class PrivacyLedger:
    """The ledger at ``location``: a SQLite file (created with its folder on first use) or a
    ``postgresql://`` URL (the table is created on first use). With ``create=False`` nothing
    is created or migrated: an absent ledger reads as empty."""

    def __init__(self, location: str | Path, *, create: bool = True) -> None:
        self.store = _store(location, create=create)
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
            raise InputError(f"{self.where}: cannot open the privacy ledger ({exc}); choose "
                             "another file with --ledger or [ledger] path") from None

    @property
    def path(self) -> Path | None:
        """The SQLite file (``None`` for a PostgreSQL ledger)."""
        return getattr(self.store, "path", None)

    def _select(self) -> str:
        """The column list, with ``NULL`` for columns an old, not yet migrated ledger lacks."""
        return ", ".join(c if c in self._columns else f"NULL AS {c}" for c in _FIELDS)

    # -- writing ------------------------------------------------------------------------------

    def reserve(self, fingerprint: str, generator: str, epsilon: float | None, delta: float,
                accountant: str, config_sha256: str, total_epsilon: float | None, *,
                dataset_name: str | None = None, audit_id: str | None = None,
                operator: str | None = None, host: str | None = None) -> int:
        """Reserve ``epsilon`` for a fit that is about to start; returns the entry id.

        ``epsilon=None`` records a non-private fit (not counted against the total).
        ``operator`` and ``host`` default to this process's user and machine.

        Raises:
            BudgetError: ``epsilon`` or ``total_epsilon`` is not a number the ledger accepts
                (negative, not finite, above the ceiling), or the data set's spent and
                reserved epsilon plus ``epsilon`` would exceed ``total_epsilon``; the message
                lists what has been spent.
        """
        if epsilon is not None and not (epsilon >= 0 and math.isfinite(epsilon)):
            raise BudgetError(f"ledger: epsilon must be finite and >= 0, got {epsilon!r}")
        if epsilon is not None and epsilon > MAX_EPSILON:
            raise BudgetError(f"ledger: epsilon {epsilon:.4g} is above privgate's ceiling of "
                              f"{MAX_EPSILON:g} (privgate.generator.MAX_EPSILON); such a fit "
                              "protects no one and is not reserved")
        if total_epsilon is not None and not (total_epsilon > 0
                                              and math.isfinite(total_epsilon)):
            raise BudgetError(f"ledger: total_epsilon must be a positive finite number, got "
                              f"{total_epsilon!r}")
        if total_epsilon is not None and total_epsilon > MAX_TOTAL_EPSILON:
            raise BudgetError(f"ledger: total_epsilon {total_epsilon:.4g} is above the "
                              f"ceiling of {MAX_TOTAL_EPSILON:g} (1000 x "
                              "privgate.generator.MAX_EPSILON); omit it to record without "
                              "limiting")
        lock = fingerprint if _lock_reserve else None
        with self.store.write(lock) as tx:
            rows = [_entry(r) for r in tx.rows(
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
                "host": host or _host()}
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

    def _require(self, tx: _Tx, entry_id: int, status: str) -> None:
        rows = tx.rows(f"SELECT status FROM {self.store.table} WHERE id = ?"
                       f"{self.store.for_update}", (entry_id,))
        if not rows:
            raise InputError(f"{self.where}: no ledger entry {entry_id}")
        if rows[0][0] != status:
            raise InputError(f"{self.where}: ledger entry {entry_id} is {rows[0][0]!r}, not "
                             f"{status!r}")

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
            return [_entry(r) for r in tx.rows(sql + " ORDER BY started_at, id", params)]

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
                "status", "note", "audit_id", "operator", "host")
        return {"path": self.where, "backend": self.backend, "fingerprint": fingerprint,
                "audit_id": audit_id, "total_epsilon": total_epsilon,
                "spent_epsilon": sum((e.epsilon or 0.0 for e in entries if e.counts), 0.0),
                "this_audit_epsilon": counted(True), "others_epsilon": counted(False),
                "entries": [{**{k: v for k, v in e.to_dict().items() if k in keep},
                             "this_audit": e.id in mine} for e in entries]}


def _refusal(fingerprint: str, name: str | None, generator: str, epsilon: float,
             total: float, used: float, rows: list[Entry], where: str) -> str:
    lines = [f"privacy ledger {where}: refusing to fit {generator!r} at epsilon={epsilon:g} on "
             f"data set {name or '?'} ({fingerprint[:12]}): it has spent {used:.4g} of its "
             f"total epsilon {total:g}, so {max(total - used, 0.0):.4g} is left. Spent so far:"]
    for e in rows:
        if e.counts:
            lines.append(f"  {e.finished_at or e.started_at}  {e.generator}  "
                         f"epsilon={_eps(e.epsilon)}  ({e.status}, {e.accountant}; "
                         f"{e.operator or 'unknown'}@{e.host or 'unknown'})")
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

    def reserve_all(self, fits: list[PlannedFit]) -> None:
        """Reserve every fit, or none: if one is refused the earlier ones are released and the
        :class:`BudgetError` propagates (the audit stops before any training)."""
        try:
            for fit in fits:
                self._planned[fit.generator] = fit
                self._pending[fit.generator] = self.ledger.reserve(
                    self.fingerprint, fit.generator, fit.epsilon, fit.delta, fit.accountant,
                    self.config_sha256, self.total_epsilon, dataset_name=self.dataset_name,
                    audit_id=self.audit_id)
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


__all__ = ["ENV_VAR", "MAX_TOTAL_EPSILON", "URL_ENV_VAR", "AuditLedger", "Entry", "PlannedFit",
           "PrivacyLedger", "default_path", "is_url", "open_audit_ledger", "open_ledger",
           "redact_url", "resolve_location", "resolve_path"]
