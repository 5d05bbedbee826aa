"""The audit end to end on real data: generators fitted on the training part only, every attack
and metric run, policies applied, the three reports written, fixed seeds reproducible."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from privgate.cli import main
from privgate.config import parse_config
from privgate.outputs import write_reports
from privgate.pipeline import run_audit
from privgate.registry import build_registry
from privgate.results import dumps

pytestmark = pytest.mark.slow

ADULT_SCHEMA_TOML = """
[schema.columns.age]
kind = "integer"
role = "quasi-identifier"
bounds = [17, 90]
[schema.columns.sex]
kind = "categorical"
role = "quasi-identifier"
categories = ["Female", "Male"]
[schema.columns.race]
kind = "categorical"
role = "quasi-identifier"
categories = ["Amer-Indian-Eskimo", "Asian-Pac-Islander", "Black", "Other", "White"]
[schema.columns.education_num]
kind = "integer"
role = "quasi-identifier"
bounds = [1, 16]
[schema.columns.hours_per_week]
kind = "integer"
role = "other"
bounds = [1, 99]
[schema.columns.capital_gain]
kind = "integer"
role = "sensitive"
bounds = [0, 99999]
[schema.columns.income]
kind = "categorical"
role = "target"
categories = ["<=50K", ">50K"]
"""
ADULT_COLUMNS = ["age", "sex", "race", "education_num", "hours_per_week", "capital_gain",
                 "income"]


@pytest.fixture(scope="module")
def adult_subset(adult_full: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("adult") / "adult_subset.csv"
    adult_full[ADULT_COLUMNS].sample(n=2500, random_state=1).to_csv(path, index=False)
    return path


def _config(data: Path, out: Path, **extra: Any) -> Any:
    import tomllib

    raw = tomllib.loads(ADULT_SCHEMA_TOML)
    raw.update({
        "seed": 11, "output": str(out), "data": {"path": str(data)},
        "policies": ["expert-determination-0.09", "strict-0.04pct"],
        "generators": [
            {"name": "dpsgd-vae", "epsilon": 1.0, "delta": 1e-5, "params": {"epochs": 3}},
            {"name": "gmm", "gate": False},
        ],
    })
    raw.update(extra)
    return parse_config(raw, where="test")


@pytest.fixture(scope="module")
def audited(adult_subset: Path, tmp_path_factory: pytest.TempPathFactory
            ) -> tuple[dict[str, Any], dict[str, Path]]:
    out = tmp_path_factory.mktemp("report")
    registry = build_registry()
    result = run_audit(_config(adult_subset, out), registry)
    return result, write_reports(result, registry, out)


def test_every_generator_attack_metric_and_policy_ran(audited: tuple) -> None:
    result, _ = audited
    assert result["dataset"]["n_train"] + result["dataset"]["n_control"] == 2500
    assert result["dataset"]["n_control"] == 750
    by_name = {g["name"]: g for g in result["generators"]}
    assert set(by_name) == {"dpsgd-vae", "gmm"}
    for g in by_name.values():
        assert g["status"] == "ok", g["error"]
        assert {a["attack"] for a in g["attacks"]} == {
            "distinguishability", "dcr-membership", "anonymeter-singling-out",
            "anonymeter-linkability", "anonymeter-inference", "identity-disclosure",
            "density-membership", "verbatim-copy", "low-fpr-membership"}
        # shadow-membership is opt-in (default = False)
        assert all(a["status"] == "ok" for a in g["attacks"]), g["attacks"]
        assert {m["metric"] for m in g["metrics"]} == {"hellinger", "correlation", "tstr",
                                                      "augmentation"}
        for a in g["attacks"]:
            assert 0 <= a["ci_low"] <= a["risk"] <= a["ci_high"] <= 1
            assert a["baseline"] is not None and a["confidence_level"] == 0.95
    vae = by_name["dpsgd-vae"]
    assert 0 < vae["spent"]["epsilon"] <= 1.0 + 1e-9
    assert vae["spent"]["delta"] == 1e-5
    assert by_name["gmm"]["spent"]["is_private"] is False


def test_verdict_follows_the_gated_checks(audited: tuple) -> None:
    result, _ = audited
    gated = [c for c in result["checks"] if c["gated"]]
    assert gated and all(c["generator"] == "dpsgd-vae" for c in gated)
    statuses = {c["status"] for c in gated}
    # strict-0.04pct cannot be certified on 1,750 training rows
    assert "cannot-certify" in statuses or "fail" in statuses
    assert result["verdict"] != "pass" and result["exit_code"] == 1
    strict = [c for c in gated if c["policy"] == "strict-0.04pct" and c["status"] ==
              "cannot-certify"]
    assert strict and all(c["trials_needed"] > c["n_trials"] for c in strict
                          if c["n_trials"] is not None)


#: The keys every check carries (the report renders them; None where not applicable).
CHECK_KEYS = {"upper_bound", "lower_bound", "bound_method", "trials_planned", "trials_run",
              "trials_needed", "trials_available", "power", "certifiable_on_table",
              "warnings", "risk", "ci_low", "ci_high", "confidence_level", "n_trials",
              "message", "certification", "status", "threshold", "fail_threshold", "gated"}


def test_every_check_states_its_bounds_trials_and_power(audited: tuple) -> None:
    result, _ = audited
    assert result["schema_version"] == "1.2"
    for c in result["checks"]:
        assert not CHECK_KEYS - set(c), CHECK_KEYS - set(c)
        assert isinstance(c["warnings"], list)
        if c["status"] in ("pass", "fail", "cannot-certify") and c["upper_bound"] is not None:
            assert c["ci_high"] == c["upper_bound"] and c["ci_low"] == c["lower_bound"]
            assert c["lower_bound"] <= c["risk"] <= c["upper_bound"]
            assert c["trials_available"] >= c["trials_run"] and c["bound_method"]
        if c["status"] == "pass":
            assert c["upper_bound"] <= c["threshold"] and c["certifiable_on_table"]
        if c["status"] == "fail":
            assert c["lower_bound"] > c["fail_threshold"]
        assert c["fail_threshold"] <= c["threshold"]
    by = {(c["generator"], c["policy"], c["attack"]): c for c in result["checks"]}
    counted = by[("dpsgd-vae", "expert-determination-0.09", "anonymeter-inference")]
    assert counted["power"] is not None and "Clopper-Pearson" in counted["bound_method"]
    # the plan ran first: what this table can certify, before any generator was fitted
    plan = result["plan"]
    assert plan["n_train"] == result["dataset"]["n_train"]
    assert {(c["policy"], c["attack"]) for c in plan["checks"]} == {
        (c["policy"], c["attack"]) for c in result["checks"] if c["generator"] == "dpsgd-vae"}


def test_reports_are_written_and_agree(audited: tuple) -> None:
    result, written = audited
    assert set(written) >= {"html", "json", "junit"}
    on_disk = json.loads(written["json"].read_text())
    assert on_disk == json.loads(dumps(result))
    suites = ET.parse(written["junit"]).getroot()
    cases = suites.findall(".//testcase")
    claims = [g for g in result["generators"]  # plus one dp-claim case per private generator
              if g["dp_claim"]["status"] != "not-applicable"]
    assert len(cases) == len(result["checks"]) + len(claims)
    html = written["html"].read_text()
    assert "dpsgd-vae" in html and result["dataset"]["sha256"] in html


def test_reports_hold_no_training_rows(audited: tuple, adult_subset: Path) -> None:
    _, written = audited
    html = written["html"].read_text()
    rows = pd.read_csv(adult_subset)
    # a row's full quasi-identifier tuple, as it would be printed, must not appear
    for row in rows.head(300).itertuples(index=False):
        needle = f"{row.age}, {row.sex}, {row.race}"
        assert needle not in html


def _strip_volatile(doc: dict[str, Any]) -> dict[str, Any]:
    doc = json.loads(json.dumps(doc))
    doc.pop("timestamps")
    doc["config"].pop("output")
    if doc.get("ledger"):  # where the ledger lives, when each fit ran, the run's random id
        doc["ledger"].pop("path")
        doc["ledger"].pop("audit_id", None)
        for entry in doc["ledger"]["entries"]:
            entry.pop("time")
            entry.pop("audit_id", None)
    return doc


def test_same_seed_same_config_gives_identical_results(adult_subset: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    registry = build_registry()
    kwargs = {"attacks": ["dcr-membership", "distinguishability", "anonymeter-inference"]}
    # Each run gets a fresh ledger: the ledger's history is meant to differ between a first and a
    # second fit of the same data set; everything the audit computes must not.
    monkeypatch.setenv("PRIVGATE_LEDGER", str(tmp_path / "a.sqlite"))
    a = run_audit(_config(adult_subset, tmp_path / "a", **kwargs), registry)
    monkeypatch.setenv("PRIVGATE_LEDGER", str(tmp_path / "b.sqlite"))
    b = run_audit(_config(adult_subset, tmp_path / "b", **kwargs), registry)
    assert _strip_volatile(a) == _strip_volatile(b)


def test_external_synthetic_table_is_audited(adult_subset: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    rows = pd.read_csv(adult_subset)
    train, control = rows.iloc[:1500], rows.iloc[1500:]
    train.to_csv(tmp_path / "train.csv", index=False)
    control.to_csv(tmp_path / "control.csv", index=False)
    train.sample(frac=1.0, random_state=0).to_csv(tmp_path / "leak.csv", index=False)
    code = main(["audit", "--synthetic", str(tmp_path / "leak.csv"), "--train",
                 str(tmp_path / "train.csv"), "--control", str(tmp_path / "control.csv"),
                 "--attack", "dcr-membership", "--out", str(tmp_path / "out")])
    result = json.loads((tmp_path / "out" / "results.json").read_text())
    assert code == 1 and result["verdict"] == "fail"  # a verbatim copy must never pass
    dcr = result["generators"][0]["attacks"][0]
    assert dcr["auroc"]["value"] > 0.8  # control rows that duplicate a training row tie
    assert result["data_dependent_domains"]  # inferred schema: the report must say so
    assert "not privacy-protected" in capsys.readouterr().out
