"""The privacy ledger: records every fit per data set and enforces a total epsilon, also when
several processes spend at once; ``privgate ledger`` and the audit's ``--total-epsilon``."""

from __future__ import annotations

import json
import multiprocessing as mp
import time
import tomllib
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privgate import hookimpl
from privgate.cli import main
from privgate.config import parse_config
from privgate.errors import BudgetError, InputError
from privgate.generator import Generator, PrivacyBudget, PrivacySpent
from privgate.ledger import ENV_VAR, PrivacyLedger, default_path, resolve_path
from privgate.pipeline import run_audit
from privgate.registry import build_registry, get_plugin_manager
from privgate.schema import Schema
from privgate.sources import load

FP = "ab" * 32


def _ledger(tmp_path: Path) -> PrivacyLedger:
    return PrivacyLedger(tmp_path / "ledger.sqlite")


def _spend(ledger: PrivacyLedger, generator: str, eps: float | None,
           total: float | None = None, fp: str = FP) -> int:
    entry = ledger.reserve(fp, generator, eps, 1e-5, "planned budget", "c" * 64, total,
                           dataset_name="claims")
    ledger.commit(entry, eps, 1e-5, "opacus rdp")
    return entry


# -- the ledger itself ----------------------------------------------------------------------------

def test_fits_are_recorded_per_data_set(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
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
                                         "config_sha256", "status"}


def test_overspending_is_refused_with_what_was_spent(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    _spend(ledger, "dpsgd-vae", 0.75, total=1.0)
    with pytest.raises(BudgetError) as err:
        ledger.reserve(FP, "dpsgd-ctgan", 0.5, 1e-5, "planned", "c" * 64, 1.0)
    message = str(err.value)
    assert err.value.exit_code == 2
    assert "spent 0.75 of its total epsilon 1" in message and "0.25 is left" in message
    assert "dpsgd-vae  epsilon=0.75" in message and "'dpsgd-ctgan' at epsilon=0.5" in message
    assert len(ledger.history(FP)) == 1  # the refused fit left no row
    ledger.reserve(FP, "dpsgd-ctgan", 0.25, 1e-5, "planned", "c" * 64, 1.0)  # exactly fits


def test_released_reservations_are_free_and_failed_fits_stay_spent(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    never = ledger.reserve(FP, "a", 0.4, 1e-5, "planned", "c" * 64, 1.0)
    crashed = ledger.reserve(FP, "b", 0.4, 1e-5, "planned", "c" * 64, 1.0)
    assert ledger.spent(FP) == pytest.approx(0.8)  # reservations count at once
    ledger.release(never, "the audit stopped first")
    ledger.fail(crashed, "RuntimeError")
    assert ledger.spent(FP) == pytest.approx(0.4)
    assert [e.status for e in ledger.history(FP)] == ["released", "spent"]
    with pytest.raises(InputError, match="is 'spent', not 'reserved'"):
        ledger.commit(crashed, 0.1, 1e-5, "rdp")


@settings(max_examples=30, deadline=None)
@given(amounts=st.lists(st.floats(0.01, 2.0), min_size=1, max_size=12),
       total=st.floats(0.5, 5.0))
def test_accepted_spending_never_exceeds_the_total(tmp_path_factory: pytest.TempPathFactory,
                                                   amounts: list[float], total: float) -> None:
    ledger = PrivacyLedger(tmp_path_factory.mktemp("hyp") / "ledger.sqlite")
    accepted = 0.0
    for x in amounts:
        try:
            _spend(ledger, "g", x, total=total)
            accepted += x
        except BudgetError:
            assert accepted + x > total  # refused only when it would not fit
    assert ledger.spent(FP) == pytest.approx(accepted)
    assert accepted <= total * (1 + 1e-9)


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


def test_a_folder_as_ledger_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a folder"):
        PrivacyLedger(tmp_path)


# -- concurrent processes -------------------------------------------------------------------------

def _slow_down() -> None:
    """Widen the window between the budget check and the insert (see ledger._after_check)."""
    import privgate.ledger

    privgate.ledger._after_check = lambda: time.sleep(0.05)


def _race(path: str, eps: float, total: float, barrier: Any, queue: Any) -> None:
    _slow_down()
    ledger = PrivacyLedger(path)
    barrier.wait()
    try:
        ledger.reserve(FP, "racer", eps, 1e-5, "planned", "c" * 64, total)
        queue.put("won")
    except BudgetError:
        queue.put("refused")


def _run_processes(path: Path, eps: float, total: float, n: int) -> list[str]:
    ctx = mp.get_context("fork")
    barrier, queue = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(str(path), eps, total, barrier, queue))
             for _ in range(n)]
    for p in procs:
        p.start()
    outcomes = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return outcomes


@pytest.mark.parametrize("round_", range(8))
def test_two_processes_spending_at_once_never_exceed_the_total(tmp_path: Path,
                                                                round_: int) -> None:
    path = tmp_path / "ledger.sqlite"
    PrivacyLedger(path)
    outcomes = _run_processes(path, eps=0.7, total=1.0, n=2)
    assert sorted(outcomes) == ["refused", "won"]  # exactly one wins
    assert PrivacyLedger(path).spent(FP) == pytest.approx(0.7)


def _many(path: str, barrier: Any, queue: Any) -> None:
    _slow_down()
    ledger = PrivacyLedger(path)
    barrier.wait()
    won = 0
    for _ in range(10):
        try:
            ledger.reserve(FP, "racer", 0.1, 1e-5, "planned", "c" * 64, 2.5)
            won += 1
        except BudgetError:
            pass
    queue.put(won)


def test_four_processes_reserving_repeatedly_stop_exactly_at_the_total(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    PrivacyLedger(path)
    ctx = mp.get_context("fork")
    barrier, queue = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_many, args=(str(path), barrier, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    won = sum(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    assert won == 25  # 25 x 0.1 = 2.5: every reservation that fits, and not one more
    assert PrivacyLedger(path).spent(FP) == pytest.approx(2.5)


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

    def __init__(self, share: float = 0.9, crash: bool = False) -> None:
        self.params = {"share": share, "crash": crash}

    def fit(self, data: pd.DataFrame, schema: Schema, budget: PrivacyBudget | None,
            *, seed: int = 0) -> _ReportsItsSpend:
        assert budget is not None
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
    second = run_audit(config, registry)
    assert second["ledger"]["spent_epsilon"] == pytest.approx(0.8)
    with pytest.raises(BudgetError, match="spent 0.8 of its total epsilon 1"):
        run_audit(config, registry)  # 0.8 + 0.5 > 1: refused before training
    assert len(PrivacyLedger(tmp_path / "my-ledger.sqlite").history()) == 4


@pytest.mark.slow
def test_a_crashed_fit_keeps_its_reservation(tmp_path: Path) -> None:
    gens = [{"name": "reports-spend", "epsilon": 0.5, "params": {"crash": True}}]
    result = run_audit(_audit_config(tmp_path, gens, total_epsilon=1.0), _registry())
    assert result["verdict"] == "error"
    entry = result["ledger"]["entries"][0]
    assert entry["status"] == "spent" and entry["epsilon"] == 0.5
    assert "fit failed" in entry["note"]


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
    fingerprint = load(parse_config(tomllib.loads(body), where="t",
                                    base_dir=tmp_path), where="t").sha256
    path = tmp_path / "ledger.sqlite"
    _spend(PrivacyLedger(path), "dpsgd-vae", 0.7, fp=fingerprint)
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


def test_ledger_command_shows_history_and_totals(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ledger.sqlite"
    ledger = PrivacyLedger(path)
    _spend(ledger, "dpsgd-vae", 0.5)
    _spend(ledger, "gmm", None)
    _spend(ledger, "dpsgd-ctgan", 0.3, fp="cd" * 32)
    assert main(["ledger", "--ledger", str(path)]) == 0
    out = capsys.readouterr().out
    assert "epsilon spent 0.5 in 2 fit(s); 1 non-private" in out
    assert "dpsgd-ctgan" in out and "not private" in out
    assert main(["ledger", "--ledger", str(path), "--fingerprint", "CDCD", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [d["fingerprint"] for d in doc["datasets"]] == ["cd" * 32]
    assert doc["datasets"][0]["entries"][0]["generator"] == "dpsgd-ctgan"


def test_ledger_command_on_a_missing_ledger_creates_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ledger", "--ledger", str(tmp_path / "none.sqlite")]) == 0
    assert "no fits recorded" in capsys.readouterr().out
    assert not (tmp_path / "none.sqlite").exists()


@pytest.mark.slow
def test_synth_records_its_fit_under_the_same_fingerprint_as_an_audit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _rows().to_csv(tmp_path / "rows.csv", index=False)
    monkeypatch.chdir(tmp_path)
    assert main(["synth", "--data", "rows.csv", "--generator", "gmm", "--out", "s.csv"]) == 0
    (entry,) = PrivacyLedger(resolve_path()).history()
    assert entry.generator == "gmm" and entry.epsilon is None and entry.status == "spent"
    config = parse_config({"data": {"path": "rows.csv"}, "schema": {"infer_missing": True}},
                          where="t", base_dir=tmp_path)
    assert entry.dataset_fingerprint == load(config, where="t").sha256
