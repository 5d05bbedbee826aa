"""The fits ``dp-audit`` makes of a generator on the training rows are fits of the real data:
each is reserved in the privacy ledger before the audit trains anything and booked at the
generator's budget (:meth:`privgate.Attack.refits`, :meth:`privgate.ledger.AuditLedger.refits`);
a canary audit that refuses its input gives them back; the white-box mode fits no real row.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from privgate import hookimpl
from privgate.attacks.dp_audit import DPAudit
from privgate.config import parse_config
from privgate.errors import BudgetError
from privgate.generator import Generator, PrivacyBudget, PrivacySpent
from privgate.ledger import AuditLedger, PlannedFit, refit_fits
from privgate.ledger_location import resolve_path
from privgate.ledger_rules import PrivacyLedger
from privgate.pipeline import run_audit
from privgate.plugin_loading import get_plugin_manager
from privgate.registry import build_registry

SCHEMA = {"age": {"kind": "integer", "role": "quasi-identifier", "bounds": [0, 99]},
          "sex": {"kind": "categorical", "role": "quasi-identifier", "categories": ["f", "m"]},
          "dx": {"kind": "categorical", "role": "sensitive",
                 "categories": ["a", "b", "c", "d"]}}


class _Copies(Generator):
    """Test double: resamples its training rows (NOT private), reports epsilon 0.4 of 0.5."""

    name = "copies-rows"
    is_private = True

    def __init__(self, **params: Any) -> None:
        self.params = params

    def fit(self, data: pd.DataFrame, schema: Any, budget: PrivacyBudget | None,
            *, seed: int = 0) -> _Copies:
        self.rows_ = data.reset_index(drop=True)
        return self

    def sample(self, n: int, *, seed: int = 0,
               conditions: Mapping[str, Any] | None = None) -> pd.DataFrame:
        return self.rows_.sample(n, replace=True, random_state=seed).reset_index(drop=True)

    @property
    def privacy_spent(self) -> PrivacySpent:
        return PrivacySpent(0.4, 1e-5, "test accountant")


def _registry() -> Any:
    plugin = types.ModuleType("dp_audit_ledger_test_plugin")
    plugin.privgate_generators = hookimpl(lambda: [_Copies])  # type: ignore[attr-defined]
    return build_registry(get_plugin_manager([plugin]))


def _config(tmp_path: Path, audit: dict[str, Any], **ledger: Any) -> Any:
    rows = pd.DataFrame({"age": [20 + (i * 7) % 60 for i in range(300)],
                         "sex": ["f", "m"] * 150, "dx": ["a", "b", "c", "d"] * 75})
    rows.to_csv(tmp_path / "rows.csv", index=False)
    raw = {"seed": 1, "output": str(tmp_path / "out"), "data": {"path": "rows.csv"},
           "schema": {"columns": SCHEMA},
           "generators": [{"name": "copies-rows", "epsilon": 0.5}],
           "attacks": ["dcr-membership", {"name": "dp-audit", "params": audit}],
           "metrics": [], "ledger": ledger}
    return parse_config(raw, where="test.toml", base_dir=tmp_path)


def test_the_attack_says_how_many_refits_it_makes() -> None:
    assert DPAudit().refits() == 1 and DPAudit(runs=3).refits() == 3
    assert DPAudit(mode="multi-run").refits() == 100
    assert DPAudit(whitebox=True, runs=5).refits() == 0  # made-up canaries, no real row


def test_each_refit_is_booked_at_the_budget_and_marked_when_the_claim_is_refuted(
        tmp_path: Path) -> None:
    result = run_audit(_config(tmp_path, {"runs": 2, "n_canaries": 40}, total_epsilon=5.0),
                       _registry())
    entries = result["ledger"]["entries"]
    assert [(e["generator"], e["epsilon"], e["status"], e["unit"]) for e in entries] == [
        ("copies-rows", pytest.approx(0.4), "spent", "per row"),
        ("copies-rows (dp-audit refit 1/2)", pytest.approx(0.5), "spent", "per row"),
        ("copies-rows (dp-audit refit 2/2)", pytest.approx(0.5), "spent", "per row")]
    assert "dp-audit refit" in entries[1]["accountant"]
    assert result["ledger"]["spent_epsilon"] == pytest.approx(1.4)
    # the copier's claim is refuted: its fit and both refits are marked
    assert result["generators"][0]["dp_claim"]["status"] == "fail"
    assert [e["dp_claim"] for e in entries] == ["refuted"] * 3


def test_refits_count_against_the_total_before_anything_trains(tmp_path: Path) -> None:
    with pytest.raises(BudgetError):  # 0.5 + 2 x 0.5 > 1.2: refused before any fit
        run_audit(_config(tmp_path, {"runs": 2, "n_canaries": 40}, total_epsilon=1.2),
                  _registry())
    ledger = PrivacyLedger(resolve_path())
    assert {e.status for e in ledger.history()} == {"released"}
    assert ledger.spent(ledger.history()[0].dataset_fingerprint) == 0.0


def test_a_canary_audit_that_refuses_its_input_gives_its_refits_back(tmp_path: Path) -> None:
    # 400 canaries cannot be drawn from 210 training rows: refused before any refit
    result = run_audit(_config(tmp_path, {"n_canaries": 400}), _registry())
    claim = result["generators"][0]["dp_claim"]
    assert claim["status"] == "cannot-certify" and "too few" in claim["message"]
    refit = [e for e in result["ledger"]["entries"] if "refit" in e["generator"]]
    assert [e["status"] for e in refit] == ["released"]
    assert refit[0]["note"].startswith("refused before training") and "too few" in refit[0][
        "note"]
    assert result["ledger"]["spent_epsilon"] == pytest.approx(0.4)


def test_a_refit_that_crashes_stays_spent_and_one_never_run_is_released(
        tmp_path: Path) -> None:
    ledger = PrivacyLedger(tmp_path / "l.sqlite")
    audit = AuditLedger(ledger, "ab" * 32, "t", "c" * 64, None)
    audit.reserve_all([PlannedFit("g", 1.0, 1e-5), *refit_fits("g", "a", 2, 1.0, 1e-5, None),
                       *refit_fits("g", "b", 1, 1.0, 1e-5, None)])
    with pytest.raises(RuntimeError), audit.refits("g", "a"):
        raise RuntimeError("crashed mid-refit")
    audit.close()
    got = {e.generator: (e.status, e.epsilon) for e in ledger.history()}
    assert got["g (a refit 1/2)"] == got["g (a refit 2/2)"] == ("spent", 1.0)
    assert got["g (b refit 1/1)"][0] == got["g"][0] == "released"
