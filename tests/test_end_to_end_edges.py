"""End-to-end edges: a failing plugin fails the gate closed, hostile names stay text, synth and
report re-rendering work from the command line."""

from __future__ import annotations

import types
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from privgate import Attack, AttackContext, AttackResult, hookimpl
from privgate.cli import main
from privgate.config import parse_config
from privgate.outputs import write_reports
from privgate.pipeline import run_audit
from privgate.plugin_loading import get_plugin_manager
from privgate.registry import build_registry

HOSTILE_COLUMN = '<script>alert("col")</script> "age" [yrs]'
HOSTILE_VALUE = "<img src=x onerror=alert(1)>'é\u202e"


def _table(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        HOSTILE_COLUMN: rng.integers(18, 90, n),
        "sex": rng.choice(["f", "m"], n),
        "dx": rng.choice(["flu", HOSTILE_VALUE, "covid"], n),
        "cost": rng.gamma(2.0, 500.0, n).round(2),
    })


class _Broken(Attack):
    name = "broken-attack"
    risk_kind = "membership"
    description = "always raises"

    def run(self, context: AttackContext) -> AttackResult:
        raise RuntimeError("the attack crashed")


def _config(tmp_path: Path, **extra: object) -> object:
    path = tmp_path / "rows.csv"
    _table().to_csv(path, index=False)
    raw = {"seed": 1, "output": str(tmp_path / "out"), "data": {"path": str(path)},
           "generators": [{"name": "gmm", "params": {"n_components": 3}}],
           "attacks": ["dcr-membership"], "metrics": ["hellinger"]}
    raw.update(extra)
    return parse_config(raw, where="test")


def test_an_attack_that_raises_fails_the_gate_with_error(tmp_path: Path) -> None:
    plugin = types.ModuleType("vendor_attack")
    plugin.privgate_attacks = hookimpl(lambda: [_Broken])  # type: ignore[attr-defined]
    registry = build_registry(get_plugin_manager([plugin]))
    config = _config(tmp_path, attacks=["dcr-membership", "broken-attack"])
    result = run_audit(config, registry)  # type: ignore[arg-type]
    assert result["verdict"] == "error" and result["exit_code"] == 3
    broken = [c for c in result["checks"] if c["attack"] == "broken-attack"]
    assert broken and broken[0]["status"] == "error"
    assert "the attack crashed" in broken[0]["message"]
    # the other checks still ran
    assert any(c["attack"] == "dcr-membership" and c["status"] != "error"
               for c in result["checks"])


def test_hostile_names_and_values_are_escaped_end_to_end(tmp_path: Path) -> None:
    schema = {
        HOSTILE_COLUMN: {"kind": "integer", "role": "quasi-identifier", "bounds": [0, 120]},
        "sex": {"kind": "categorical", "role": "quasi-identifier", "categories": ["f", "m"]},
        "dx": {"kind": "categorical", "role": "sensitive",
               "categories": ["flu", HOSTILE_VALUE, "covid"]},
        "cost": {"kind": "continuous", "role": "other", "bounds": [0, 10_000]},
    }
    config = _config(tmp_path, schema={"columns": schema},
                     attacks=["dcr-membership", "anonymeter-inference"])
    registry = build_registry()
    result = run_audit(config, registry)  # type: ignore[arg-type]
    written = write_reports(result, registry, tmp_path / "out")
    html = written["html"].read_text()
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert "&lt;script&gt;alert(" in html  # the column name is shown, as text
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # the declared category, as text
    assert HOSTILE_COLUMN in result["dataset"]["columns"]
    attacks = result["generators"][0]["attacks"]
    assert all(a["status"] == "ok" for a in attacks), attacks
    assert ET.parse(written["junit"]).getroot() is not None


def test_synth_writes_rows_in_the_declared_domain(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "rows.csv"
    _table().to_csv(src, index=False)
    out = tmp_path / "syn.csv"
    # An inferred schema's category lists are re-estimated under DP from 10% of the budget: on
    # 400 rows, epsilon 0.2 cannot release any category, and the gate says which column to
    # declare.
    code = main(["synth", "--data", str(src), "--generator", "dpsgd-vae", "--epsilon", "0.2",
                 "--rows", "123", "--seed", "4", "--out", str(out)])
    assert code == 2
    assert "declare their categories in the schema" in capsys.readouterr().err
    code = main(["synth", "--data", str(src), "--generator", "dpsgd-vae", "--epsilon", "20",
                 "--rows", "123", "--seed", "4", "--out", str(out)])
    assert code == 0
    syn = pd.read_csv(out)
    assert len(syn) == 123 and list(syn.columns) == list(_table().columns)
    assert set(syn["sex"]) <= {"f", "m"}
    text = capsys.readouterr()
    assert "epsilon" in text.out and "estimated them under DP from its budget" in text.err
    assert main(["synth", "--data", str(src), "--generator", "dpsgd-vae", "--out",
                 str(out)]) == 2  # a private generator needs --epsilon


def test_report_rerenders_from_results_json(tmp_path: Path) -> None:
    assert main(["audit", "--data", str(_write(tmp_path)), "--generator", "gmm", "--attack",
                 "dcr-membership", "--out", str(tmp_path / "out")]) in (0, 1)
    results = tmp_path / "out" / "results.json"
    target = tmp_path / "again.html"
    assert main(["report", str(results), "--out", str(target)]) == 0
    assert "dcr-membership" in target.read_text()
    results.write_text("{not json")
    assert main(["report", str(results)]) == 2


def _write(tmp_path: Path) -> Path:
    path = tmp_path / "plain.csv"
    _table().rename(columns={HOSTILE_COLUMN: "age"}).to_csv(path, index=False)
    return path
