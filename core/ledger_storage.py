"""Where the privacy ledger's rows live: an SQLite file or a PostgreSQL table.

The ledger's rules (:mod:`privgate.ledger_rules`) are written once against :class:`Store`;
a backend only connects, locks and knows its SQL dialect.

* SQLite (stdlib ``sqlite3``, the embedded default): one local file, no server, real
  transactions with file locking between processes; ``BEGIN IMMEDIATE`` takes the whole
  file's write lock, which also serialises every reservation.
* PostgreSQL (``psycopg`` 3, ``pip install privgate[postgres]``), for a team that shares one
  ledger, e.g. CI gates on fresh runners where a per-user file would start empty every time.
  The table is ``privgate_fits`` in the connection's schema; reservations of one data set are
  serialised by a transaction-scoped advisory lock keyed by its fingerprint.
"""

from __future__ import annotations

import hashlib
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from privgate.errors import N_, InputError, Text
from privgate.ledger_location import is_url, redact_url

#: Seconds a process waits for another one's transaction (or lock) before giving up.
BUSY_TIMEOUT_S = 60.0

#: Every column of the fits table, in the order :class:`Entry` takes them; the type is the
#: SQL type with ``{real}`` the backend's double-precision float.
COLUMNS: tuple[tuple[str, str], ...] = (
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
    ("dp_claim", "TEXT"),
    ("unit", "TEXT"),
)
#: Columns added after the first release: ledgers written before get them on open (new ones
#: go at the end: :func:`entry_from_row` reads by position).
ADDED = ("audit_id", "operator", "host", "dp_claim", "unit")
FIELDS = tuple(name for name, _ in COLUMNS)


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
    #: ``"refuted"`` when the audit's membership evidence refuted the fit's epsilon (dp-claim)
    dp_claim: str | None = None
    #: What the entry's epsilon protects, ``"per person"`` or ``"per row"``
    #: (:mod:`privgate.persons`); ``None`` for a non-private fit or an entry written before
    #: privgate recorded it
    unit: str | None = None

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
                "audit_id": self.audit_id, "operator": self.operator, "host": self.host,
                "dp_claim": self.dp_claim, "unit": self.unit}


def entry_from_row(row: Sequence[Any]) -> Entry:
    def num(value: Any) -> float | None:
        return None if value is None else float(value)

    return Entry(int(row[0]), str(row[1]), row[2], str(row[3]), num(row[4]),
                 float(row[5]), str(row[6]), str(row[7]), str(row[8]), row[9], str(row[10]),
                 row[11], row[12], row[13], row[14], row[15] if len(row) > 15 else None,
                 row[16] if len(row) > 16 else None)


class Tx(ABC):
    """One connection (inside a transaction when writing); SQL uses ``?`` placeholders."""

    @abstractmethod
    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def run(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    @abstractmethod
    def insert(self, sql: str, params: Sequence[Any]) -> int:
        """Run an ``INSERT`` and return the new row's id."""


class Store(ABC):
    """Where the rows live. The ledger's logic (:class:`PrivacyLedger`) is written once against
    this interface; a backend only connects, locks and knows its SQL dialect."""

    kind: str
    #: What to show for the ledger: the file, or the URL without its password.
    where: str
    table: str
    #: The SQL types of ``{id}`` and ``{real}`` in :data:`COLUMNS`.
    types: dict[str, str]
    #: Appended to the ``SELECT`` that checks an entry's status before updating it.
    for_update: str = ""

    @abstractmethod
    def read(self) -> AbstractContextManager[Tx]:
        """A connection for reading."""

    @abstractmethod
    def write(self, lock: str | None) -> AbstractContextManager[Tx]:
        """One transaction, committed or rolled back as a whole; ``lock`` (a data-set
        fingerprint, or ``"schema"``) names what it must hold exclusively before reading."""

    @abstractmethod
    def columns(self, tx: Tx) -> set[str]:
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
                body = ",\n    ".join(f"{n} {t.format(**self.types)}" for n, t in COLUMNS)
                tx.run(f"CREATE TABLE IF NOT EXISTS {self.table} (\n    {body}\n)")
                tx.run(f"CREATE INDEX IF NOT EXISTS {self.table}_by_dataset ON {self.table} "
                       "(dataset_fingerprint)")
                return
            for name, sql_type in COLUMNS:
                if name not in have and name in ADDED:
                    tx.run(f"ALTER TABLE {self.table} ADD COLUMN {name} "
                           f"{sql_type.format(**self.types)}")


class SqliteTx(Tx):
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


class SqliteStore(Store):
    """A local SQLite file; ``BEGIN IMMEDIATE`` takes the whole file's write lock, which also
    serialises every reservation."""

    kind = "sqlite"
    table = "fits"
    types = {"id": "INTEGER PRIMARY KEY AUTOINCREMENT", "real": "REAL"}

    def __init__(self, path: Path, *, create: bool) -> None:
        self.path = path
        self.where = str(path)
        if path.is_dir():
            raise InputError(N_("%(path)s: the privacy ledger path is a folder; give a file "
                                "(e.g. ledger.sqlite) with --ledger or [ledger] path"), path=path)
        if create:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise self._unusable(exc) from None

    def _unusable(self, exc: BaseException) -> InputError:
        return InputError(N_("%(path)s: cannot open the privacy ledger (%(exc)s); choose "
                             "another file with --ledger or [ledger] path"),
                          path=self.path, exc=exc)

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
    def read(self) -> Iterator[Tx]:
        with self._connect() as con:
            yield SqliteTx(con)

    @contextmanager
    def write(self, lock: str | None) -> Iterator[Tx]:
        with self._connect() as con:
            try:
                con.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise InputError(N_("%(path)s: the privacy ledger stayed locked for "
                                    "%(busy_timeout_s)s s (%(exc)s); retry later"),
                                 path=self.path, busy_timeout_s=f"{BUSY_TIMEOUT_S:.0f}",
                                 exc=exc) from None
            try:
                yield SqliteTx(con)
            except BaseException:
                con.execute("ROLLBACK")
                raise
            try:
                con.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._unusable(exc) from None

    def columns(self, tx: Tx) -> set[str]:
        return {str(r[1]) for r in tx.rows(f"PRAGMA table_info({self.table})")}


def advisory_key(name: str) -> int:
    """A signed 64-bit advisory-lock key for a data set (or the schema), from its name."""
    digest = hashlib.sha256(b"privgate-ledger\0" + name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresTx(Tx):
    def __init__(self, con: Any) -> None:
        self.con = con

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.con.execute(sql.replace("?", "%s"), tuple(params)).fetchall())

    def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.con.execute(sql.replace("?", "%s"), tuple(params))

    def insert(self, sql: str, params: Sequence[Any]) -> int:
        row = self.con.execute(sql.replace("?", "%s") + " RETURNING id", tuple(params))
        return int(row.fetchone()[0])


class PostgresStore(Store):
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
            raise InputError(N_("%(where)s: a PostgreSQL privacy ledger needs psycopg 3: pip "
                                "install privgate[postgres]"), where=self.where) from None
        self._psycopg = psycopg

    def _error(self, exc: BaseException, doing: str) -> InputError:
        text = " ".join(str(exc).split()).replace(self.url, self.where)
        try:
            password = urlsplit(self.url).password
        except ValueError:
            password = None
        if password:
            text = text.replace(password, "***")
        return InputError(N_("privacy ledger %(where)s: %(doing)s (%(text)s); check the URL "
                             "(--ledger-url, [ledger] url or $PRIVGATE_LEDGER_URL) and that the "
                             "server is running"), where=self.where, doing=doing, text=text)

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        try:
            con = self._psycopg.connect(self.url, connect_timeout=10, autocommit=True)
        except self._psycopg.Error as exc:
            raise self._error(exc, Text(N_("cannot connect to the PostgreSQL server"))) from None
        try:
            yield con
        except self._psycopg.errors.LockNotAvailable:
            raise InputError(N_("privacy ledger %(where)s: another process held the data set's "
                                "lock for %(busy_timeout_s)s s; retry later"),
                             where=self.where, busy_timeout_s=f"{BUSY_TIMEOUT_S:.0f}") from None
        except self._psycopg.Error as exc:
            raise self._error(exc, Text(N_("a database operation failed"))) from None
        finally:
            con.close()

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with self._connect() as con:
            yield PostgresTx(con)

    @contextmanager
    def write(self, lock: str | None) -> Iterator[Tx]:
        with self._connect() as con, con.transaction():
            tx = PostgresTx(con)
            tx.run(f"SET LOCAL lock_timeout = '{int(BUSY_TIMEOUT_S * 1000)}ms'")
            if lock is not None:
                tx.run("SELECT pg_advisory_xact_lock(?)", (advisory_key(lock),))
            yield tx

    def columns(self, tx: Tx) -> set[str]:
        return {str(r[0]) for r in tx.rows(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND table_name = ?", (self.table,))}

    def present(self) -> bool:
        with self.read() as tx:
            return bool(self.columns(tx))


def open_store(location: str | Path, *, create: bool) -> Store:
    """The backend for ``location``: a ``postgresql://`` URL or a SQLite file."""
    if is_url(location):
        return PostgresStore(str(location))
    return SqliteStore(Path(location), create=create)
