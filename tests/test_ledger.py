"""The privacy ledger: records every fit per data set and enforces a total epsilon, also when
several processes spend at once; ``privgate ledger`` and the audit's ``--total-epsilon``.

The behaviour tests run against both backends (``location`` is a SQLite file or a fresh
PostgreSQL schema; the PostgreSQL half skips with a reason when no server answers, see
:func:`postgres_server`). PostgreSQL-only tests live in ``test_ledger_postgres.py``.
"""

from __future__ import annotations

import copy
import functools
import json
import multiprocessing as mp
import os
import sqlite3
import time
import tomllib
import types
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from privgate import hookimpl
from privgate.cli import main
from privgate.config import parse_config
from privgate.errors import BudgetError, InputError
from privgate.generator import MAX_EPSILON, Generator, PrivacyBudget, PrivacySpent
from privgate.ledger import AuditLedger, PlannedFit
from privgate.ledger_location import (
    ENV_VAR,
    URL_ENV_VAR,
    default_path,
    redact_url,
    resolve_location,
    resolve_path,
)
from privgate.ledger_rules import PrivacyLedger
from privgate.pipeline import run_audit
from privgate.plugin_loading import get_plugin_manager
from privgate.registry import build_registry
from privgate.schema import Schema
from privgate.sources import load
from privgate.tables import fingerprint

FP = "ab" * 32
#: Where the PostgreSQL tests look for a server when $PRIVGATE_TEST_POSTGRES_URL is not set
#: (.ci/run creates this role and database).
POSTGRES_DEFAULT_URL = "postgresql://privgate:privgate@127.0.0.1:5432/privgate_test"


# -- the PostgreSQL test server -------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def postgres_server() -> tuple[str | None, str]:
    """(URL of a PostgreSQL server that answers, "") or (None, why the tests skip)."""
    url = os.environ.get("PRIVGATE_TEST_POSTGRES_URL") or POSTGRES_DEFAULT_URL
    try:
        import psycopg
    except ImportError:
        return None, "psycopg is not installed (pip install privgate[postgres])"
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error as exc:
        first = (str(exc).strip().splitlines() or ["?"])[0]
        return None, (f"no PostgreSQL server answers at {redact_url(url)} ({first}); .ci/run "
                      "starts one, or set PRIVGATE_TEST_POSTGRES_URL")
    return url, ""


@contextmanager
def fresh_postgres_url() -> Iterator[str]:
    """A URL whose connections use a new, empty schema (dropped afterwards), so that tests and
    runs never see each other's rows. Skips the test when no server answers."""
    url, why = postgres_server()
    if url is None:
        pytest.skip(why)
    import psycopg

    schema = f"privgate_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options={quote(f'-csearch_path={schema}', safe='')}"
    finally:
        with psycopg.connect(url, autocommit=True) as con:
            con.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty ledger location of each backend."""
    if request.param == "sqlite":
        yield str(tmp_path / "ledger.sqlite")
    else:
        with fresh_postgres_url() as url:
            yield url


def _ledger(tmp_path: Path) -> PrivacyLedger:
    return PrivacyLedger(tmp_path / "ledger.sqlite")


def _spend(ledger: PrivacyLedger, generator: str, eps: float | None,
           total: float | None = None, fp: str = FP) -> int:
    entry = ledger.reserve(fp, generator, eps, 1e-5, "planned budget", "c" * 64, total,
                           dataset_name="claims")
    ledger.commit(entry, eps, 1e-5, "opacus rdp")
    return entry


def _set_started(ledger: PrivacyLedger, entry: int, when: str) -> None:
    """Backdate an entry (the ledger's clock has one-second resolution)."""
    with ledger.store.write(None) as tx:
        tx.run(f"UPDATE {ledger.store.table} SET started_at = ? WHERE id = ?", (when, entry))


# -- the fingerprint ------------------------------------------------------------------------------

_cells = st.one_of(st.none(), st.integers(-5, 5), st.sampled_from(["a", "b", "ß", ""]))


@st.composite
def _tables(draw: st.DrawFn) -> pd.DataFrame:
    """Small tables with integer, float (with NaN), text (with None) columns and duplicates."""
    n = draw(st.integers(1, 12))
    cols: dict[str, Any] = {}
    for i in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["int", "float", "text"]))
        if kind == "int":
            cols[f"i{i}"] = draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n))
        elif kind == "float":
            cols[f"f{i}"] = draw(st.lists(st.one_of(st.just(float("nan")),
                                                    st.floats(-2, 2, allow_nan=False)),
                                          min_size=n, max_size=n))
        else:
            cols[f"t{i}"] = pd.Series(draw(st.lists(st.one_of(st.none(), st.text(max_size=3)),
                                                    min_size=n, max_size=n)), dtype=object)
    df = pd.DataFrame(cols)
    if draw(st.booleans()):  # duplicated rows: the fingerprint is of a multiset
        df = pd.concat([df, df.iloc[: draw(st.integers(1, n))]], ignore_index=True)
    return df


@settings(max_examples=150, deadline=None)
@given(df=_tables(), seed=st.integers(0, 2 ** 32 - 1))
def test_fingerprint_ignores_the_order_of_rows_and_columns(df: pd.DataFrame,
                                                           seed: int) -> None:
    rng = np.random.default_rng(seed)
    shuffled = df.iloc[rng.permutation(len(df)), rng.permutation(df.shape[1])]
    assert fingerprint(shuffled) == fingerprint(df)
    assert fingerprint(shuffled.reset_index(drop=True)) == fingerprint(df)  # index ignored


@settings(max_examples=150, deadline=None)
@given(df=_tables(), data=st.data())
def test_fingerprint_changes_with_any_cell_column_name_or_row_count(
        df: pd.DataFrame, data: st.DataObject) -> None:
    base = fingerprint(df)
    row = data.draw(st.integers(0, len(df) - 1))
    col = data.draw(st.sampled_from(list(df.columns)))
    old = df.iloc[row][col]
    new = data.draw(_cells)
    same = (pd.isna(old) and new is None) or (not pd.isna(old) and new is not None
                                             and type(new) is not str and old == new)
    same = same or (isinstance(old, str) and old == new)
    assume(not same)
    changed = df.astype(object)
    changed.iloc[row, list(df.columns).index(col)] = new
    assert fingerprint(changed) != base
    assert fingerprint(df.rename(columns={col: col + "_"})) != base
    assert fingerprint(pd.concat([df, df.iloc[[row]]])) != base  # one more copy of a row
    assert fingerprint(df.drop(index=df.index[row])) != base


def test_fingerprint_canonicalises_missing_values_and_number_types() -> None:
    base = pd.DataFrame({"n": [1, 2, 3], "t": ["x", None, "z"], "f": [0.5, np.nan, 2.0]})
    same = [
        pd.DataFrame({"n": [1.0, 2.0, 3.0], "t": ["x", np.nan, "z"], "f": [0.5, None, 2]}),
        pd.DataFrame({"n": pd.array([1, 2, 3], dtype="Int64"),
                      "t": pd.Series(["x", None, "z"], dtype="str"),
                      "f": pd.array([0.5, None, 2.0], dtype="Float64")}),
        pd.DataFrame({"n": [1, 2, 3], "t": pd.Categorical(["x", None, "z"]),
                      "f": pd.Series([0.5, pd.NA, 2], dtype=object)}).set_axis([7, 8, 9]),
    ]
    for other in same:
        assert fingerprint(other) == fingerprint(base)
    different = [
        base.assign(n=[1, 2, 4]), base.assign(t=["x", "", "z"]),  # empty text is not missing
        base.assign(f=[0.5, 0.0, 2.0]), base.assign(f=[-0.5, np.nan, 2.0]),
        base.assign(n=["1", "2", "3"]),  # text is not a number
        base.rename(columns={"n": "m"}),
        base.assign(n=base["f"], f=base["n"]),  # the same values in other columns
    ]
    for other in different:
        assert fingerprint(other) != fingerprint(base)
    dates = pd.DataFrame({"d": pd.to_datetime(["2024-01-01 10:00", None]).tz_localize("UTC")})
    naive = pd.DataFrame({"d": pd.to_datetime(["2024-01-01 10:00", None])})
    paris = dates.assign(d=dates["d"].dt.tz_convert("Europe/Paris"))
    assert fingerprint(dates) == fingerprint(naive) == fingerprint(paris)


def test_fingerprint_reads_text_with_nul_characters_whole() -> None:
    # pandas' factorize stops at a NUL: "" and "\x00", "a" and "a\x00b" once shared a code
    # and the fingerprint then depended on which came first
    for cells in (["", "\x00", "a", "a\x00b", "\x00\x00"], ["\x00", "", None, "a\x00b", "a"]):
        text = pd.DataFrame({"t": cells})
        assert fingerprint(text) == fingerprint(text.iloc[::-1])
        assert fingerprint(text) != fingerprint(text.assign(
            t=[None if c is None else c.split("\x00")[0] for c in cells]))
    for a, b in [("", "\x00"), ("a", "a\x00b"), ("\x00", "\x00\x00")]:
        assert fingerprint(pd.DataFrame({"t": [a]})) != fingerprint(pd.DataFrame({"t": [b]}))
    plain = pd.DataFrame({"t": ["x", "y"], "n": [1, 2]})  # text without NUL: as before
    assert fingerprint(plain) == fingerprint(plain.assign(t=pd.Series(["x", "y"], dtype=object)))


def _fingerprint_in_child(queue: Any) -> None:
    queue.put(fingerprint(_rows()))


def test_fingerprint_is_the_same_in_another_process_and_release() -> None:
    ctx = mp.get_context("spawn")  # a fresh interpreter: another hash seed, nothing shared
    queue = ctx.Queue()
    proc = ctx.Process(target=_fingerprint_in_child, args=(queue,))
    proc.start()
    other = queue.get(timeout=120)
    proc.join(timeout=60)
    assert other == fingerprint(_rows())
    # pinned: a change of the canonical form must be deliberate (it resets every budget)
    assert fingerprint(_rows()) == \
        "2b85bf0eadef6ddef3295033b5b972b50602ed2190aa1be952520d4006cf0775"


@pytest.mark.slow
def test_the_same_rows_in_another_order_share_one_budget(tmp_path: Path) -> None:
    df = _rows()
    ledger = _ledger(tmp_path)
    _spend(ledger, "dpsgd-vae", 2.0, total=2.5, fp=fingerprint(df))
    reversed_fp = fingerprint(df.iloc[::-1][list(reversed(df.columns))])
    with pytest.raises(BudgetError, match="spent 2 of its total epsilon 2.5"):
        ledger.reserve(reversed_fp, "dpsgd-vae", 0.995, 1e-5, "planned", "c" * 64, 2.5)


# -- the ledger itself (both backends) ------------------------------------------------------------

def test_fits_are_recorded_per_data_set(location: str) -> None:
    ledger = PrivacyLedger(location)
    _spend(ledger, "dpsgd-vae", 0.5)
    _spend(ledger, "gmm", None)  # a non-private baseline: recorded, not counted
    _spend(ledger, "dpsgd-vae", 0.25, fp="cd" * 32)
    history = ledger.history(FP)
    assert [(e.generator, e.epsilon, e.status) for e in history] == [
        ("dpsgd-vae", 0.5, "spent"), ("gmm", None, "spent")]
    assert "not differentially private" in (history[1].note or "")
    assert ledger.spent(FP) == 0.5 and ledger.spent("cd" * 32) == 0.25
    assert len(ledger.history()) == 3
    assert history[0].accountant == "opacus rdp" and history[0].finished_at is not None
    summary = ledger.summary(FP, 2.0)
    assert summary["spent_epsilon"] == 0.5 and summary["total_epsilon"] == 2.0
    assert set(summary["entries"][0]) >= {"time", "generator", "epsilon", "delta", "accountant",
                                         "config_sha256", "status", "operator", "host",
                                         "audit_id", "this_audit"}
    assert PrivacyLedger(location).spent(FP) == 0.5  # reopening keeps everything


def test_overspending_is_refused_with_what_was_spent(location: str) -> None:
    ledger = PrivacyLedger(location)
    _spend(ledger, "dpsgd-vae", 0.75, total=1.0)
    with pytest.raises(BudgetError) as err:
        ledger.reserve(FP, "dpsgd-ctgan", 0.5, 1e-5, "planned", "c" * 64, 1.0)
    message = str(err.value)
    assert err.value.exit_code == 2
    assert "spent 0.75 of its total epsilon 1" in message and "0.25 is left" in message
    assert "dpsgd-vae  epsilon=0.75" in message and "'dpsgd-ctgan' at epsilon=0.5" in message
    assert len(ledger.history(FP)) == 1  # the refused fit left no row
    ledger.reserve(FP, "dpsgd-ctgan", 0.25, 1e-5, "planned", "c" * 64, 1.0)  # exactly fits


def test_released_reservations_are_free_and_failed_fits_stay_spent(location: str) -> None:
    ledger = PrivacyLedger(location)
    never = ledger.reserve(FP, "a", 0.4, 1e-5, "planned", "c" * 64, 1.0)
    crashed = ledger.reserve(FP, "b", 0.4, 1e-5, "planned", "c" * 64, 1.0)
    assert ledger.spent(FP) == pytest.approx(0.8)  # reservations count at once
    ledger.release(never, "the audit stopped first")
    ledger.fail(crashed, "RuntimeError")
    assert ledger.spent(FP) == pytest.approx(0.4)
    assert [e.status for e in ledger.history(FP)] == ["released", "spent"]
    with pytest.raises(InputError, match="is 'spent', not 'reserved'"):
        ledger.commit(crashed, 0.1, 1e-5, "rdp")
    with pytest.raises(InputError, match="no ledger entry 999"):
        ledger.release(999, "?")


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amounts=st.lists(st.floats(0.01, 2.0), min_size=1, max_size=12),
       total=st.floats(0.5, 5.0))
def test_accepted_spending_never_exceeds_the_total(location: str, amounts: list[float],
                                                   total: float) -> None:
    ledger = PrivacyLedger(location)
    fp = uuid.uuid4().hex * 2  # a data set of its own per example
    accepted = 0.0
    for x in amounts:
        try:
            _spend(ledger, "g", x, total=total, fp=fp)
            accepted += x
        except BudgetError:
            assert accepted + x > total  # refused only when it would not fit
    assert ledger.spent(fp) == pytest.approx(accepted)
    assert accepted <= total * (1 + 1e-9)


def test_the_ceiling_refuses_reservations_that_could_never_finish(location: str) -> None:
    ledger = PrivacyLedger(location)
    for eps, total in ((MAX_EPSILON * 1.01, None), (1e300, None), (float("inf"), None),
                       (float("nan"), None), (-1.0, None), (1.0, MAX_EPSILON * 1000 * 1.01),
                       (1.0, float("inf")), (1.0, float("nan")), (1.0, 0.0)):
        with pytest.raises(BudgetError) as err:
            ledger.reserve(FP, "g", eps, 1e-5, "planned", "c" * 64, total)
        assert err.value.exit_code == 2
    assert ledger.history() == []  # nothing was reserved
    ledger.reserve(FP, "g", MAX_EPSILON, 1e-5, "planned", "c" * 64, MAX_EPSILON * 1000)
    assert ledger.spent(FP) == MAX_EPSILON


def _audit(ledger: PrivacyLedger, *fits: PlannedFit, total: float | None = 10.0,
           fp: str = FP) -> AuditLedger:
    audit = AuditLedger(ledger, fp, "claims", "c" * 64, total)
    audit.reserve_all(list(fits))
    return audit


def test_an_input_error_before_training_gives_the_budget_back(location: str) -> None:
    ledger = PrivacyLedger(location)
    audit = _audit(ledger, PlannedFit("delta-zero", 2.0, 0.0), PlannedFit("domain", 2.0, 1e-5),
                   PlannedFit("laplace-ran", 2.0, 1e-5))
    assert ledger.spent(FP) == 6.0
    for name in ("delta-zero", "domain", "laplace-ran"):
        audit.started(name)
    audit.refused("delta-zero", "delta must be > 0 for DP-SGD")
    audit.refused("domain", "column 'age' has no declared bounds and domain_share = 0")
    audit.refused("laplace-ran", "a category list came out empty", spent_epsilon=0.3)
    audit.close()
    entries = {e.generator: e for e in ledger.history(FP)}
    assert entries["delta-zero"].status == "released"
    assert "delta must be > 0" in (entries["delta-zero"].note or "")
    assert entries["domain"].status == "released"
    assert (entries["laplace-ran"].status, entries["laplace-ran"].epsilon) == ("spent", 0.3)
    assert "a category list came out empty" in (entries["laplace-ran"].note or "")
    assert ledger.spent(FP) == pytest.approx(0.3)
    refused = _audit(ledger, PlannedFit("before-start", 1.0, 1e-5))
    refused.refused("before-start", "checked before started()")  # never started: released
    assert ledger.history(FP)[-1].status == "released"


def test_a_failed_fit_books_at_least_its_plan(location: str) -> None:
    ledger = PrivacyLedger(location)
    audit = _audit(ledger, *(PlannedFit(g, 1.0, 1e-5) for g in ("a", "b", "c", "d")),
                   PlannedFit("baseline", None, 0.0))
    for name in ("a", "b", "c", "d", "baseline"):
        audit.started(name)
    audit.failed("a", "RuntimeError: crashed")
    audit.failed("b", "claims less", book_epsilon=0.2)
    audit.failed("c", "claims more", book_epsilon=3.5)
    audit.failed("d", "unreadable spend", book_epsilon=float("nan"))
    audit.failed("baseline", "crashed")
    got = {e.generator: (e.status, e.epsilon) for e in ledger.history(FP)}
    assert got == {"a": ("spent", 1.0), "b": ("spent", 1.0), "c": ("spent", 3.5),
                   "d": ("spent", 1.0), "baseline": ("spent", None)}
    assert all("fit failed" in (e.note or "") for e in ledger.history(FP))


def test_a_finished_fit_records_the_validated_spend_and_fails_closed(location: str) -> None:
    ledger = PrivacyLedger(location)
    audit = _audit(ledger, PlannedFit("ok", 1.0, 1e-5), PlannedFit("none", 1.0, 1e-5),
                   PlannedFit("inf", 1.0, 1e-5), PlannedFit("baseline", None, 0.0))
    for name in ("ok", "none", "inf", "baseline"):
        audit.started(name)
    audit.finished("ok", 0.8, 1e-6, "opacus rdp")
    audit.finished("none", None, 1e-5, "broken")       # a private fit without an epsilon
    audit.finished("inf", float("inf"), 1e-5, "broken")
    audit.finished("baseline", None, 0.0, "none (not differentially private)")
    got = {e.generator: (e.status, e.epsilon, e.accountant) for e in ledger.history(FP)}
    assert got["ok"] == ("spent", 0.8, "opacus rdp")
    assert got["none"][:2] == ("spent", 1.0) and got["inf"][:2] == ("spent", 1.0)
    assert got["baseline"] == ("spent", None, "none (not differentially private)")
    assert ledger.history(FP)[0].delta == 1e-6


def test_closing_releases_unstarted_fits_and_keeps_interrupted_ones(location: str) -> None:
    ledger = PrivacyLedger(location)
    audit = _audit(ledger, PlannedFit("interrupted", 1.0, 1e-5), PlannedFit("later", 1.0, 1e-5))
    audit.started("interrupted")
    audit.close("stopped by the operator")
    got = {e.generator: (e.status, e.note) for e in ledger.history(FP)}
    assert got["interrupted"] == ("spent", "fit failed; reservation kept as spent: the audit "
                                           "stopped during the fit")
    assert got["later"] == ("released", "stopped by the operator")
    assert ledger.spent(FP) == 1.0


def test_a_refused_reservation_releases_the_audits_other_ones(location: str) -> None:
    ledger = PrivacyLedger(location)
    with pytest.raises(BudgetError):
        _audit(ledger, PlannedFit("a", 0.6, 1e-5), PlannedFit("b", 0.6, 1e-5), total=1.0)
    assert [e.status for e in ledger.history(FP)] == ["released"]


def test_the_summary_marks_this_audit_in_time_order_with_operator_and_host(
        location: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import getpass
    import socket

    ledger = PrivacyLedger(location)
    other = ledger.reserve(FP, "dpsgd-vae", 1.5, 1e-5, "planned", "c" * 64, None,
                           audit_id="f" * 32, operator="alice", host="ci-runner-7")
    ledger.commit(other, 1.5, 1e-5, "rdp")
    monkeypatch.setattr(getpass, "getuser", lambda: "bob")
    monkeypatch.setattr(socket, "gethostname", lambda: "laptop")
    audit = _audit(ledger, PlannedFit("dpsgd-ctgan", 1.0, 1e-5), PlannedFit("gmm", None, 0.0),
                   total=None)
    assert len(audit.audit_id) == 32 and int(audit.audit_id, 16) >= 0  # uuid4 hex
    assert AuditLedger(ledger, FP, None, "c", None).audit_id != audit.audit_id
    for name in ("dpsgd-ctgan", "gmm"):
        audit.started(name)
    audit.finished("dpsgd-ctgan", 0.9, 1e-5, "rdp")
    audit.finished("gmm", None, 0.0, "none")
    ids = [e.id for e in ledger.history(FP)]
    _set_started(ledger, ids[0], "2030-01-01T00:00:00+00:00")  # alice's fit is the newest
    _set_started(ledger, ids[1], "2029-01-01T00:00:00+00:00")
    _set_started(ledger, ids[2], "2029-01-01T00:00:00+00:00")  # a tie: by id
    doc = audit.summary()
    assert [(e["generator"], e["this_audit"], e["operator"], e["host"])
            for e in doc["entries"]] == [("dpsgd-ctgan", True, "bob", "laptop"),
                                         ("gmm", True, "bob", "laptop"),
                                         ("dpsgd-vae", False, "alice", "ci-runner-7")]
    assert [e["audit_id"] for e in doc["entries"]] == [audit.audit_id] * 2 + ["f" * 32]
    assert doc["audit_id"] == audit.audit_id
    assert doc["this_audit_epsilon"] == pytest.approx(0.9)
    assert doc["others_epsilon"] == pytest.approx(1.5)
    assert doc["spent_epsilon"] == pytest.approx(2.4)
    assert doc["backend"] in ("sqlite", "postgresql")
    assert [e.generator for e in ledger.history(FP)] == ["dpsgd-ctgan", "gmm", "dpsgd-vae"]

    def no_user() -> str:
        raise OSError("no such user")

    monkeypatch.setattr(getpass, "getuser", no_user)
    entry = ledger.reserve(FP, "x", 0.1, 1e-5, "planned", "c" * 64, None)
    assert next(e for e in ledger.history(FP) if e.id == entry).operator == "unknown"


def test_reading_an_absent_ledger_creates_nothing(location: str) -> None:
    reader = PrivacyLedger(location, create=False)
    assert reader.history() == [] and reader.datasets() == []
    assert not reader.store.present()


# -- concurrent processes (both backends) ---------------------------------------------------------

def _slow_down(pause: float = 0.05) -> None:
    """Widen the window between the budget check and the insert (see
    ledger_rules._after_check)."""
    import privgate.ledger_rules

    privgate.ledger_rules._after_check = lambda: time.sleep(pause)


def _race(where: str, eps: float, total: float, barrier: Any, queue: Any,
          lock: bool = True, pause: float = 0.05) -> None:
    import privgate.ledger_rules

    _slow_down(pause)
    privgate.ledger_rules._lock_reserve = lock
    ledger = PrivacyLedger(where)
    barrier.wait()
    try:
        ledger.reserve(FP, "racer", eps, 1e-5, "planned", "c" * 64, total)
        queue.put("won")
    except BudgetError:
        queue.put("refused")


def run_processes(where: str, eps: float, total: float, n: int, *, lock: bool = True,
                  pause: float = 0.05) -> list[str]:
    """``n`` processes reserving ``eps`` each against ``total`` at the same moment (each
    pausing ``pause`` seconds between its budget check and its insert)."""
    ctx = mp.get_context("fork")
    barrier, queue = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(where, eps, total, barrier, queue, lock, pause))
             for _ in range(n)]
    for p in procs:
        p.start()
    outcomes = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return outcomes


@pytest.mark.parametrize("round_", range(4))
def test_processes_spending_at_once_never_exceed_the_total(location: str, round_: int) -> None:
    PrivacyLedger(location)
    outcomes = run_processes(location, eps=0.7, total=1.0, n=2)
    assert sorted(outcomes) == ["refused", "won"]  # exactly one wins
    assert PrivacyLedger(location).spent(FP) == pytest.approx(0.7)


def test_four_processes_where_only_some_fit_exactly_those_win(location: str) -> None:
    PrivacyLedger(location)
    outcomes = run_processes(location, eps=0.4, total=1.0, n=4)
    assert sorted(outcomes) == ["refused", "refused", "won", "won"]
    assert PrivacyLedger(location).spent(FP) == pytest.approx(0.8)


def _many(where: str, barrier: Any, queue: Any) -> None:
    _slow_down()
    ledger = PrivacyLedger(where)
    barrier.wait()
    won = 0
    for _ in range(10):
        try:
            ledger.reserve(FP, "racer", 0.1, 1e-5, "planned", "c" * 64, 2.5)
            won += 1
        except BudgetError:
            pass
    queue.put(won)


def test_four_processes_reserving_repeatedly_stop_exactly_at_the_total(location: str) -> None:
    PrivacyLedger(location)
    ctx = mp.get_context("fork")
    barrier, queue = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_many, args=(location, barrier, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    won = sum(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    assert won == 25  # 25 x 0.1 = 2.5: every reservation that fits, and not one more
    assert PrivacyLedger(location).spent(FP) == pytest.approx(2.5)


# -- where the ledger is --------------------------------------------------------------------------

def test_the_default_path_is_under_the_user_data_dir(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    import platformdirs

    assert default_path() == Path(platformdirs.user_data_dir("privgate", appauthor=False),
                                  "ledger.sqlite")
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env.sqlite"))
    assert resolve_path() == tmp_path / "env.sqlite"
    assert resolve_path(config=tmp_path / "cfg.sqlite") == tmp_path / "cfg.sqlite"
    assert resolve_path(tmp_path / "cli.sqlite", tmp_path / "cfg.sqlite") == \
        tmp_path / "cli.sqlite"
    monkeypatch.delenv(ENV_VAR)
    assert resolve_path() == default_path()


def test_a_url_beats_a_path_at_each_level(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    cli, cfg, env = "postgresql://a@cli/db", "postgresql://a@cfg/db", "postgres://a@env/db"
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env.sqlite"))
    monkeypatch.setenv(URL_ENV_VAR, env)
    assert resolve_location() == env
    assert resolve_location(config=tmp_path / "c.sqlite") == tmp_path / "c.sqlite"
    assert resolve_location(config=tmp_path / "c.sqlite", config_url=cfg) == cfg
    assert resolve_location(tmp_path / "x.sqlite", config_url=cfg) == tmp_path / "x.sqlite"
    assert resolve_location(tmp_path / "x.sqlite", cli_url=cli, config_url=cfg) == cli
    monkeypatch.delenv(URL_ENV_VAR)
    assert resolve_location() == tmp_path / "env.sqlite"
    with pytest.raises(InputError, match="must start with postgresql://"):
        resolve_location(cli_url="mysql://u:secret@h/db")


def test_a_url_is_shown_without_its_password() -> None:
    assert redact_url("postgresql://gate:s3cr%40t@db.example:5432/ledger?sslmode=require") \
        == "postgresql://gate@db.example:5432/ledger?sslmode=require"
    assert redact_url("postgresql://db.example/ledger?user=gate&password=s3cret") == \
        "postgresql://db.example/ledger?user=gate"
    assert redact_url("postgres://:pw@h/db") == "postgres://h/db"
    assert "pw" not in redact_url("postgresql://u:pw@[::1/db")


def test_the_config_never_carries_the_ledger_password(tmp_path: Path) -> None:
    def config(url: str) -> Any:
        return parse_config({"data": {"path": "rows.csv"}, "ledger": {"url": url}},
                            where="t", base_dir=tmp_path)

    one, two = config("postgresql://gate:one@h/db"), config("postgresql://gate:two@h/db")
    assert one.ledger.url == "postgresql://gate:one@h/db"  # the connection still has it
    assert one.normalised()["ledger"]["url"] == "postgresql://gate@h/db"
    assert "one" not in json.dumps(one.normalised())
    assert one.sha256() == two.sha256()  # a rotated password is the same configuration


def test_a_folder_as_ledger_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a folder"):
        PrivacyLedger(tmp_path)


def test_an_old_sqlite_ledger_gains_the_new_columns(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as con:  # the schema privgate 0.1 wrote
        con.executescript("""
            CREATE TABLE fits (id INTEGER PRIMARY KEY AUTOINCREMENT,
                dataset_fingerprint TEXT NOT NULL, dataset_name TEXT, generator TEXT NOT NULL,
                epsilon REAL, delta REAL NOT NULL, accountant TEXT NOT NULL,
                config_sha256 TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT,
                status TEXT NOT NULL, note TEXT);
            INSERT INTO fits VALUES (1, 'ab', 'claims', 'dpsgd-vae', 0.5, 1e-5, 'rdp', 'c',
                '2025-01-01T00:00:00+00:00', NULL, 'spent', NULL);""")
    assert main(["ledger", "--ledger", str(path)]) == 0  # reading: works, changes nothing
    assert "unknown" in capsys.readouterr().out
    with sqlite3.connect(path) as con:
        assert "audit_id" not in {r[1] for r in con.execute("PRAGMA table_info(fits)")}
    ledger = PrivacyLedger(path)  # writing: migrated
    (old,) = ledger.history()
    assert (old.epsilon, old.audit_id, old.operator, old.host) == (0.5, None, None, None)
    ledger.reserve("ab", "gmm", None, 0.0, "none", "c", None, audit_id="1" * 32)
    assert ledger.history()[-1].audit_id == "1" * 32 and ledger.history()[-1].host


def test_a_ledger_without_the_unit_column_is_read_as_is_and_gains_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "before-unit.sqlite"
    with sqlite3.connect(path) as con:  # the schema privgate wrote before entries had a unit
        con.executescript("""
            CREATE TABLE fits (id INTEGER PRIMARY KEY AUTOINCREMENT,
                dataset_fingerprint TEXT NOT NULL, dataset_name TEXT, generator TEXT NOT NULL,
                epsilon REAL, delta REAL NOT NULL, accountant TEXT NOT NULL,
                config_sha256 TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT,
                status TEXT NOT NULL, note TEXT, audit_id TEXT, operator TEXT, host TEXT,
                dp_claim TEXT);
            INSERT INTO fits VALUES (1, 'ab', 'claims', 'dpsgd-vae', 0.5, 1e-5, 'rdp', 'c',
                '2025-01-01T00:00:00+00:00', NULL, 'spent', NULL, 'aaaa', 'alice', 'ci-7',
                'refuted');""")
    assert main(["ledger", "--ledger", str(path)]) == 0  # reading: works, changes nothing
    assert "not recorded" in capsys.readouterr().out
    assert main(["ledger", "--ledger", str(path), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["datasets"][0]["entries"]
    assert (row["unit"], row["dp_claim"], row["host"]) == (None, "refuted", "ci-7")
    with sqlite3.connect(path) as con:
        assert "unit" not in {r[1] for r in con.execute("PRAGMA table_info(fits)")}
    ledger = PrivacyLedger(path)  # writing: migrated, the old entry untouched
    with sqlite3.connect(path) as con:
        assert "unit" in {r[1] for r in con.execute("PRAGMA table_info(fits)")}
    (old,) = ledger.history()
    assert (old.unit, old.dp_claim, old.operator, old.epsilon) == (None, "refuted", "alice", 0.5)
    audit = _audit(ledger, PlannedFit("dpsgd-ctgan", 0.3, 1e-5, unit="per person"),
                   total=1.0, fp="ab")
    audit.started("dpsgd-ctgan")
    audit.finished("dpsgd-ctgan", 0.3, 1e-5, "rdp")
    assert [e.unit for e in ledger.history()] == [None, "per person"]
    assert ledger.spent("ab") == pytest.approx(0.8)  # old and new summed
    assert main(["ledger", "--ledger", str(path)]) == 0
    out = capsys.readouterr().out
    assert "per person" in out and "not recorded" in out


def test_each_entry_records_its_unit_and_entries_of_other_units_are_summed(
        location: str, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = PrivacyLedger(location)
    earlier = _audit(ledger, PlannedFit("dpsgd-vae", 0.4, 1e-5, unit="per row"), total=1.0)
    earlier.started("dpsgd-vae")
    earlier.finished("dpsgd-vae", 0.4, 1e-5, "rdp")
    audit = _audit(ledger, PlannedFit("dpsgd-ctgan", 0.5, 1e-5, unit="per person"),
                   PlannedFit("gmm", None, 0.0, unit="per person"), total=1.0)
    assert [(e.generator, e.unit) for e in ledger.history(FP)] == [
        ("dpsgd-vae", "per row"), ("dpsgd-ctgan", "per person"), ("gmm", None)]
    assert ledger.spent(FP) == pytest.approx(0.9)  # different units, one sum
    with pytest.raises(BudgetError, match="spent 0.9 of its total epsilon 1"):
        _audit(ledger, PlannedFit("dpsgd-tvae", 0.2, 1e-5, unit="per person"), total=1.0)
    entries = audit.summary()["entries"]
    assert [(e["unit"], e["this_audit"]) for e in entries[:3]] == [
        ("per row", False), ("per person", True), (None, True)]
    assert main(["ledger", "--ledger-url" if "://" in location else "--ledger",
                 location]) == 0
    assert "epsilons of different units summed (per person, per row)" in \
        capsys.readouterr().out


# -- the audit pipeline and the CLI ---------------------------------------------------------------

def _rows(n: int = 120) -> pd.DataFrame:
    return pd.DataFrame({"age": [20 + (i * 7) % 60 for i in range(n)],
                         "sex": ["f", "m"] * (n // 2),
                         "dx": ["a", "b", "c", "d"] * (n // 4)})


SCHEMA = {"age": {"kind": "integer", "role": "quasi-identifier", "bounds": [0, 99]},
          "sex": {"kind": "categorical", "role": "quasi-identifier", "categories": ["f", "m"]},
          "dx": {"kind": "categorical", "role": "sensitive",
                 "categories": ["a", "b", "c", "d"]}}


class _ReportsItsSpend(Generator):
    """Test double: resamples the training rows (NOT private) and reports a spend the test
    chooses, so the test can tell the recorded figure from the planned one."""

    name = "reports-spend"
    is_private = True

    def __init__(self, share: float = 0.9, crash: bool = False, refuse: bool = False) -> None:
        self.params = {"share": share, "crash": crash, "refuse": refuse}

    def fit(self, data: pd.DataFrame, schema: Schema, budget: PrivacyBudget | None,
            *, seed: int = 0) -> _ReportsItsSpend:
        assert budget is not None
        if self.params["refuse"]:
            raise InputError("column 'age' has no declared bounds and domain_share = 0")
        if self.params["crash"]:
            raise RuntimeError("crashed during training")
        self.rows_ = data.reset_index(drop=True)
        self.spent_ = PrivacySpent(budget.epsilon * self.params["share"], budget.delta,
                                   "test accountant")
        return self

    def sample(self, n: int, *, seed: int = 0,
               conditions: Mapping[str, Any] | None = None) -> pd.DataFrame:
        return self.rows_.sample(n, replace=True, random_state=seed).reset_index(drop=True)

    @property
    def privacy_spent(self) -> PrivacySpent:
        return self.spent_


def _registry() -> Any:
    plugin = types.ModuleType("ledger_test_plugin")
    plugin.privgate_generators = hookimpl(lambda: [_ReportsItsSpend])  # type: ignore[attr-defined]
    return build_registry(get_plugin_manager([plugin]))


def _audit_config(tmp_path: Path, generators: list[dict[str, Any]], **ledger: Any) -> Any:
    path = tmp_path / "rows.csv"
    if not path.exists():
        _rows().to_csv(path, index=False)
    raw = {"seed": 1, "output": str(tmp_path / "out"), "data": {"path": "rows.csv"},
           "schema": {"columns": SCHEMA}, "generators": generators,
           "attacks": ["dcr-membership"], "metrics": [], "ledger": ledger}
    return parse_config(raw, where="test.toml", base_dir=tmp_path)


@pytest.mark.slow
def test_audits_record_the_accountants_figure_and_stop_at_the_total(tmp_path: Path) -> None:
    registry = _registry()
    gens = [{"name": "reports-spend", "epsilon": 0.5, "params": {"share": 0.8}},
            {"name": "gmm", "gate": False, "params": {"n_components": 2}}]
    config = _audit_config(tmp_path, gens, path="my-ledger.sqlite", total_epsilon=1.0)
    first = run_audit(config, registry)
    doc = first["ledger"]
    assert doc["path"] == str(tmp_path / "my-ledger.sqlite")  # relative to the config file
    assert doc["fingerprint"] == first["dataset"]["sha256"]
    assert doc["total_epsilon"] == 1.0 and doc["spent_epsilon"] == pytest.approx(0.4)
    assert [(e["generator"], e["epsilon"], e["status"]) for e in doc["entries"]] == [
        ("reports-spend", pytest.approx(0.4), "spent"), ("gmm", None, "spent")]
    assert doc["entries"][0]["accountant"] == "test accountant"
    assert doc["entries"][0]["config_sha256"] == first["config_sha256"]
    assert all(e["this_audit"] for e in doc["entries"])
    second = run_audit(config, registry)
    assert second["ledger"]["spent_epsilon"] == pytest.approx(0.8)
    assert second["ledger"]["this_audit_epsilon"] == pytest.approx(0.4)
    assert second["ledger"]["others_epsilon"] == pytest.approx(0.4)
    assert [e["this_audit"] for e in second["ledger"]["entries"]] == [False, False, True, True]
    with pytest.raises(BudgetError, match="spent 0.8 of its total epsilon 1"):
        run_audit(config, registry)  # 0.8 + 0.5 > 1: refused before training
    assert len(PrivacyLedger(tmp_path / "my-ledger.sqlite").history()) == 4


def test_a_person_level_audit_records_per_person_and_the_report_shows_it(
        tmp_path: Path) -> None:
    from privgate.reports.html import render

    _rows().assign(pid=[f"p{i // 2}" for i in range(120)]).to_csv(
        tmp_path / "rows.csv", index=False)  # two rows per person
    gens = [{"name": "reports-spend", "epsilon": 0.5, "params": {"share": 0.8}},
            {"name": "gmm", "gate": False, "params": {"n_components": 2}}]

    def audit(role: str) -> dict[str, Any]:  # the same table, with or without its person
        raw = {"seed": 1, "output": str(tmp_path / role), "data": {"path": "rows.csv"},
               "schema": {"columns": {**SCHEMA, "pid": {"kind": "identifier", "role": role}}},
               "generators": gens, "attacks": ["dcr-membership"], "metrics": [],
               "ledger": {"path": "ledger.sqlite"}}
        return run_audit(parse_config(raw, where="test.toml", base_dir=tmp_path), _registry())

    per_row = audit("direct-identifier")
    assert per_row["ledger"]["unit"] == "per row"
    assert [e["unit"] for e in per_row["ledger"]["entries"]] == ["per row", None]
    result = audit("person-id")
    doc = result["ledger"]
    assert doc["fingerprint"] == per_row["ledger"]["fingerprint"]
    assert doc["unit"] == result["privacy_unit"]["epsilon_protects"] == "per person"
    assert [(e["generator"], e["unit"], e["this_audit"]) for e in doc["entries"]] == [
        ("reports-spend", "per row", False), ("gmm", None, False),
        ("reports-spend", "per person", True), ("gmm", None, True)]
    assert doc["spent_epsilon"] == pytest.approx(0.8)  # per row and per person, summed
    assert [e.unit for e in PrivacyLedger(tmp_path / "ledger.sqlite").history()] == [
        "per row", None, "per person", None]
    html = render(result, [])
    section = html[html.index('<section id="ledger"'):]
    section = section[:section.index("</section>")]
    this = section[section.index('class="ledger-this"'):section.index('class="ledger-others"')]
    others = section[section.index('class="ledger-others"'):]
    assert ">Unit</th>" in this and "<td>per person</td>" in this and "per row" not in this
    assert "<td>per row</td>" in others and "different units" in section
    ko = render({**result, "lang": "ko"}, [])
    ko = ko[ko.index('<section id="ledger"'):]
    assert "<td>사람 단위</td>" in ko and "<td>행 단위</td>" in ko and ">단위</th>" in ko


@pytest.mark.slow
def test_a_crashed_fit_keeps_its_reservation(tmp_path: Path) -> None:
    gens = [{"name": "reports-spend", "epsilon": 0.5, "params": {"crash": True}}]
    result = run_audit(_audit_config(tmp_path, gens, total_epsilon=1.0), _registry())
    assert result["verdict"] == "error"
    entry = result["ledger"]["entries"][0]
    assert entry["status"] == "spent" and entry["epsilon"] == 0.5
    assert "fit failed" in entry["note"]


def test_a_generator_refusing_its_input_releases_the_reservation(tmp_path: Path) -> None:
    gens = [{"name": "reports-spend", "epsilon": 0.5, "params": {"refuse": True}}]
    with pytest.raises(InputError, match="no declared bounds"):
        run_audit(_audit_config(tmp_path, gens, total_epsilon=1.0), _registry())
    (entry,) = PrivacyLedger(resolve_path()).history()
    assert entry.status == "released" and "no declared bounds" in (entry.note or "")


def test_a_refused_audit_releases_its_other_reservations(tmp_path: Path) -> None:
    gens = [{"name": "reports-spend", "epsilon": 0.6},
            {"name": "dpsgd-vae", "epsilon": 0.6}]
    config = _audit_config(tmp_path, gens, total_epsilon=1.0)
    with pytest.raises(BudgetError):
        run_audit(config, _registry())
    ledger = PrivacyLedger(resolve_path())
    assert [e.status for e in ledger.history()] == ["released"]
    assert ledger.spent(ledger.history()[0].dataset_fingerprint) == 0.0


@pytest.mark.slow
def test_disabled_ledger_records_nothing(tmp_path: Path) -> None:
    gens = [{"name": "reports-spend", "epsilon": 0.5}]
    result = run_audit(_audit_config(tmp_path, gens, enabled=False), _registry())
    assert result["ledger"] is None
    assert not resolve_path().exists()


def test_cli_refuses_overspending_with_exit_2_before_training(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _rows().to_csv(tmp_path / "rows.csv", index=False)
    body = ('seed = 1\n[data]\npath = "rows.csv"\n[[generators]]\nname = "dpsgd-vae"\n'
            'epsilon = 1.0\n')
    for col, spec in SCHEMA.items():
        body += f"[schema.columns.{col}]\n" + "".join(
            f"{k} = {json.dumps(v)}\n" for k, v in spec.items())
    cfg = tmp_path / "gate.toml"
    cfg.write_text(body)
    fp = load(parse_config(tomllib.loads(body), where="t", base_dir=tmp_path), where="t").sha256
    path = tmp_path / "ledger.sqlite"
    _spend(PrivacyLedger(path), "dpsgd-vae", 0.7, fp=fp)
    code = main(["audit", str(cfg), "--ledger", str(path), "--total-epsilon", "1.5",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert "spent 0.7 of its total epsilon 1.5" in err and "dpsgd-vae  epsilon=0.7" in err
    assert len(PrivacyLedger(path).history()) == 1  # nothing reserved, nothing trained
    assert not (tmp_path / "out" / "results.json").exists()
    code = main(["ledger", "--ledger", str(path), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["datasets"][0]["spent_epsilon"] == pytest.approx(0.7)


def test_ledger_command_shows_history_totals_operator_host_and_audit(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ledger.sqlite"
    ledger = PrivacyLedger(path)
    _spend(ledger, "dpsgd-vae", 0.5)
    _spend(ledger, "gmm", None)
    entry = ledger.reserve("cd" * 32, "dpsgd-ctgan", 0.3, 1e-5, "planned", "c" * 64, None,
                           audit_id="0123456789abcdef" * 2, operator="alice", host="ci-7")
    ledger.commit(entry, 0.3, 1e-5, "rdp")
    assert main(["ledger", "--ledger", str(path)]) == 0
    out = capsys.readouterr().out
    assert "epsilon spent 0.5 in 2 fit(s); 1 non-private" in out
    assert "dpsgd-ctgan" in out and "not private" in out
    assert "alice" in out and "ci-7" in out and "01234567" in out
    assert "0123456789abcdef0123" not in out  # the short audit id only
    assert main(["ledger", "--ledger", str(path), "--fingerprint", "CDCD", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [d["fingerprint"] for d in doc["datasets"]] == ["cd" * 32]
    (row,) = doc["datasets"][0]["entries"]
    assert (row["generator"], row["operator"], row["host"], row["audit_id"]) == (
        "dpsgd-ctgan", "alice", "ci-7", "0123456789abcdef" * 2)


def test_ledger_command_on_a_missing_ledger_creates_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ledger", "--ledger", str(tmp_path / "none.sqlite")]) == 0
    assert "no fits recorded" in capsys.readouterr().out
    assert not (tmp_path / "none.sqlite").exists()


def test_absurd_rows_in_an_old_ledger_do_not_break_the_ledger_command(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ledger.sqlite"
    ledger = PrivacyLedger(path)
    for eps in (1e300, 1.7e308, 5e-324, float("inf")):
        _plant(path, FP, eps, "reserved")
    _spend(ledger, "g", 0.5)
    assert main(["ledger", "--ledger", str(path)]) == 0
    out = capsys.readouterr().out
    assert "1e+300" in out and "inf" in out
    assert main(["ledger", "--ledger", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["datasets"][0]["fits"] == 5
    with pytest.raises(BudgetError, match="refusing"):  # the data set is exhausted
        ledger.reserve(FP, "g", 0.1, 1e-5, "planned", "c", 5.0)


def _plant(path: Path, fp: str, epsilon: float, status: str) -> None:
    """A row written by hand (or by an older privgate), bypassing every check."""
    with sqlite3.connect(path) as con:
        con.execute("INSERT INTO fits (dataset_fingerprint, dataset_name, generator, epsilon, "
                    "delta, accountant, config_sha256, started_at, status) VALUES "
                    "(?, 'rows', 'dpsgd-vae', ?, 1e-5, 'planned budget', ?, ?, ?)",
                    (fp, epsilon, "c" * 64, "2025-06-01T00:00:00+00:00", status))


@pytest.mark.slow
def test_a_reservation_of_1e300_does_not_poison_later_audits(tmp_path: Path) -> None:
    n = 60
    pd.DataFrame({"age": [20 + (i * 7) % 60 for i in range(n)], "sex": ["f", "m"] * (n // 2),
                  "dx": ["a", "b", "c", "d"] * (n // 4)}).to_csv(tmp_path / "rows.csv",
                                                                  index=False)
    config = parse_config({"data": {"path": "rows.csv"}, "schema": {"infer_missing": True}},
                          where="t", base_dir=tmp_path)
    fp = load(config, where="t").sha256
    path = tmp_path / "ledger.sqlite"
    PrivacyLedger(path)
    _plant(path, fp, 1e300, "reserved")  # an old privgate reserved it; the fit never ended
    _plant(path, fp, 1e300, "spent")
    out = tmp_path / "out"
    code = main(["audit", "--data", str(tmp_path / "rows.csv"), "--generator", "gmm",
                 "--attack", "dcr-membership", "--backend", "inline", "--ledger", str(path),
                 "--out", str(out)])
    assert code in (0, 1)
    result = json.loads((out / "results.json").read_text("utf-8"))
    doc = result["ledger"]
    assert doc["fingerprint"] == fp and doc["spent_epsilon"] == 2e300
    assert [e["epsilon"] for e in doc["entries"]][:2] == [1e300, 1e300]
    html = (out / "report.html").read_text("utf-8")
    assert "1E300" in html and "Fits of this audit" in html


def test_the_report_separates_this_audits_fits_and_formats_any_number(
        tmp_path: Path) -> None:
    from privgate.reports.html import render

    fixture = Path(__file__).parent / "fixtures" / "example_results.json"
    result = json.loads(fixture.read_text("utf-8"))
    ledger = PrivacyLedger(tmp_path / "ledger.sqlite")
    theirs = ledger.reserve(FP, "dpsgd-vae", 1.0, 1e-5, "planned", "c", None,
                            audit_id="e" * 32, operator="alice", host="ci-runner-7")
    ledger.commit(theirs, 1.0, 1e-5, "rdp")
    audit = _audit(ledger, PlannedFit("dpsgd-ctgan", 2.0, 1e-5), total=None)
    audit.started("dpsgd-ctgan")
    audit.finished("dpsgd-ctgan", 1.5, 1e-5, "rdp")
    result["ledger"] = audit.summary()
    html = render(result, [])
    section = html[html.index("<section id=\"ledger\""):]
    section = section[:section.index("</section>")]
    this = section[section.index('class="ledger-this"'):section.index('class="ledger-others"')]
    others = section[section.index('class="ledger-others"'):]
    assert "dpsgd-ctgan" in this and "alice" not in this and "dpsgd-vae" not in this
    assert "dpsgd-vae" in others and "alice" in others and "ci-runner-7" in others
    assert "eeeeeeee" in others
    assert "This audit spent ε 1.5; other fits on this data set" in section
    ko = render({**result, "lang": "ko"}, [])
    assert "이번 감사의 학습 실행" in ko and "실행자" in ko
    for extreme in (1e300, 1.7e308, 5e-324, float("inf"), float("nan"), -1e300):
        doc = copy.deepcopy(result)
        for key in ("spent_epsilon", "others_epsilon", "total_epsilon"):
            doc["ledger"][key] = extreme
        for entry in doc["ledger"]["entries"]:
            entry["epsilon"] = extreme
        assert 'id="ledger"' in render(doc, [])
        assert 'id="ledger"' in render({**doc, "lang": "ko"}, [])
    old = copy.deepcopy(result)  # a results.json from before this_audit: one table, as then
    for entry in old["ledger"]["entries"]:
        del entry["this_audit"]
    assert "ledger-others" not in render(old, []) and "Ledger entries" in render(old, [])


@pytest.mark.slow
def test_synth_records_its_fit_under_the_same_fingerprint_as_an_audit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _rows().to_csv(tmp_path / "rows.csv", index=False)
    monkeypatch.chdir(tmp_path)
    assert main(["synth", "--data", "rows.csv", "--generator", "gmm", "--out", "s.csv"]) == 0
    (entry,) = PrivacyLedger(resolve_path()).history()
    assert entry.generator == "gmm" and entry.epsilon is None and entry.status == "spent"
    assert entry.operator and entry.host and entry.audit_id
    config = parse_config({"data": {"path": "rows.csv"}, "schema": {"infer_missing": True}},
                          where="t", base_dir=tmp_path)
    assert entry.dataset_fingerprint == load(config, where="t").sha256
