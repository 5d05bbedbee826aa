"""A hostile installed plugin distribution cannot change the verdict, refund budget, blind the
attacks or carry real values into the outputs.

``tests/fixtures/hostile_plugin/hostile_privgate.py`` is installed (as pip would lay it out:
the module plus a ``.dist-info`` with entry points) as the distribution ``hostile-privgate``;
each test turns on the entry points it needs and runs the real command line in-process.
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from privgate.cli import main
from privgate.ledger_rules import PrivacyLedger
from privgate.verify import verify

FIXTURE = Path(__file__).parent / "fixtures" / "hostile_plugin" / "hostile_privgate.py"
DIST = "hostile-privgate"
PLANTED = "planted-secret-7Q4Z"


def _install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *entry_points: str) -> None:
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(FIXTURE, site / FIXTURE.name)
    info = site / "hostile_privgate-6.6.6.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {DIST}\nVersion: 6.6.6\n")
    eps = "\n".join(f"hostile-{e.replace('_', '-')} = hostile_privgate:{e}"
                    for e in entry_points)
    (info / "entry_points.txt").write_text(f"[privgate]\n{eps}\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv("PRIVGATE_LOAD_PLUGINS", raising=False)
    monkeypatch.delitem(__import__("sys").modules, "hostile_privgate", raising=False)


@pytest.fixture()
def table(tmp_path: Path) -> Path:
    """400 people; incomes are unique (each one identifies a person); a planted rare note."""
    rng = np.random.default_rng(11)
    n = 400
    note = np.array(["none"] * n, dtype=object)
    note[[0, 1, 2]] = PLANTED
    df = pd.DataFrame({
        "age": rng.integers(18, 91, n),
        "sex": rng.choice(["f", "m"], n),
        "region": rng.choice([f"r{i}" for i in range(6)], n),
        "income": np.round(rng.uniform(20_000, 90_000, n), 2) + 0.01,
        "diagnosis": rng.choice(["a", "b", "c"], n),
        "note": note,
    })
    path = tmp_path / "people.csv"
    df.to_csv(path, index=False)
    return path


def _audit(table: Path, out: Path, *extra: str) -> int:
    return main(["audit", "--data", str(table), "--seed", "3", "--out", str(out), *extra])


def _outputs(out: Path) -> dict[str, str]:
    return {name: (out / name).read_text(encoding="utf-8")
            for name in ("results.json", "report.html", "junit.xml") if (out / name).exists()}


# -- reporters and report sections cannot change the verdict -------------------------------


def test_a_rewriting_reporter_and_section_change_nothing(
        table: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    args = ("--generator", "hostile-honest-copy", "--epsilon", "1",
            "--attack", "dcr-membership", "--no-ledger")
    _install(tmp_path, monkeypatch, "generators", "reporter_rewrite", "sections")
    honest = _audit(table, tmp_path / "plain", *args, "--disable-plugin",
                    "hostile-reporter-rewrite", "--disable-plugin", "hostile-sections")
    code = _audit(table, tmp_path / "out", *args)
    out = tmp_path / "out"
    result = json.loads((out / "results.json").read_text())
    assert honest == code == 1  # a verbatim copy fails; the plugins could not make it pass
    assert result["verdict"] == "fail" and result["exit_code"] == 1
    assert all(c["status"] != "pass" for c in result["checks"] if c["attack"] ==
               "dcr-membership")
    assert (out / "hostile.txt").read_text() == "rewritten\n"  # the reporter did run
    assert verify(out / "report.html", out / "results.json").ok
    suites = ET.parse(out / "junit.xml").getroot()
    assert int(suites.get("failures") or 0) >= 1
    stdout = capsys.readouterr().out
    assert "verdict: FAIL (exit code 1)" in stdout
    html = (out / "report.html").read_text()
    assert PLANTED not in html and "\x1b" not in html  # the section's leak was withheld


def test_a_reporter_that_mutates_its_input_fails_closed_without_touching_the_record(
        table: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _install(tmp_path, monkeypatch, "generators", "reporter_naive")
    code = _audit(table, tmp_path / "out", "--generator", "hostile-honest-copy", "--epsilon",
                  "1", "--attack", "dcr-membership", "--no-ledger")
    assert code == 3
    assert "read-only" in capsys.readouterr().err
    result = json.loads((tmp_path / "out" / "results.json").read_text())
    assert result["verdict"] == "fail"
    assert verify(tmp_path / "out" / "report.html", tmp_path / "out" / "results.json").ok


def test_a_reporter_cannot_overwrite_another_reporters_files(
        table: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _install(tmp_path, monkeypatch, "generators", "reporter_overwrite")
    code = _audit(table, tmp_path / "out", "--generator", "hostile-honest-copy", "--epsilon",
                  "1", "--attack", "dcr-membership", "--no-ledger")
    err = capsys.readouterr().err
    assert code == 3
    assert "hostile-overwrite" in err and "already written by reporter 'html'" in err
    assert "results.json (already written by privgate core)" in err
    out = tmp_path / "out"
    assert json.loads((out / "results.json").read_text())["verdict"] == "fail"
    assert verify(out / "report.html", out / "results.json").ok


# -- results are re-validated whatever their class -----------------------------------------


@pytest.mark.parametrize("attack, message", [
    ("hostile-inconsistent", "ci_low <= risk <= ci_high"),
    ("hostile-nan", "finite"),
    ("hostile-negative", "ci_low <= risk"),
    ("hostile-narrow-level", "below the audit's"),
    ("hostile-impossible-binomial", "zero successes"),
    ("hostile-wrong-kind", "differs from the attack's declared"),
    ("hostile-fake-strata", "add up to"),
])
def test_malformed_attack_results_are_errors(table: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch, attack: str,
                                             message: str) -> None:
    _install(tmp_path, monkeypatch, "attacks")
    code = _audit(table, tmp_path / "out", "--generator", "gmm", "--attack", attack,
                  "--attack", "dcr-membership", "--no-ledger")
    assert code == 3
    result = json.loads((tmp_path / "out" / "results.json").read_text())
    entry = next(a for a in result["generators"][0]["attacks"] if a["attack"] == attack)
    assert entry["status"] == "error"
    assert entry["error_detail"]["kind"] == "malformed"
    assert message in entry["error_detail"]["message"]
    assert result["verdict"] == "error"
    # the honest attack still ran
    assert any(a["attack"] == "dcr-membership" and a["status"] == "ok"
               for a in result["generators"][0]["attacks"])


# -- a generator's privacy spend is checked; the ledger books at least the plan --------------


@pytest.mark.parametrize("generator, booked", [
    ("hostile-refund", 1.0),
    ("hostile-no-epsilon", 1.0),
    ("hostile-overspend", 5.0),
])
def test_an_impossible_privacy_spend_is_malformed_and_never_refunds(
        table: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, generator: str,
        booked: float) -> None:
    _install(tmp_path, monkeypatch, "generators")
    ledger = tmp_path / "ledger.sqlite"
    code = _audit(table, tmp_path / "out", "--generator", generator, "--epsilon", "1",
                  "--attack", "dcr-membership", "--ledger", str(ledger))
    assert code == 3
    result = json.loads((tmp_path / "out" / "results.json").read_text())
    gen = result["generators"][0]
    assert gen["status"] == "error" and gen["error_detail"]["kind"] == "malformed"
    assert "epsilon" in gen["error_detail"]["message"]
    [entry] = PrivacyLedger(ledger).history()
    assert entry.status == "spent" and entry.epsilon == pytest.approx(booked)


def test_a_refunding_generator_cannot_stretch_a_total_budget(
        table: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install(tmp_path, monkeypatch, "generators")
    ledger = tmp_path / "ledger.sqlite"
    codes = [_audit(table, tmp_path / f"out{i}", "--generator", "hostile-refund",
                    "--epsilon", "1", "--attack", "dcr-membership", "--ledger", str(ledger),
                    "--total-epsilon", "2") for i in range(4)]
    assert codes == [3, 3, 2, 2]  # two fits of 1 fill a total of 2; the rest are refused
    assert PrivacyLedger(ledger).history()[0].epsilon == pytest.approx(1.0)


@pytest.mark.parametrize("generator, message", [
    ("hostile-disguise", "outside"),
    ("hostile-missing", "missing value"),
])
def test_output_outside_the_schema_is_malformed(table: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch, generator: str,
                                               message: str) -> None:
    _install(tmp_path, monkeypatch, "generators")
    code = _audit(table, tmp_path / "out", "--generator", generator, "--epsilon", "1",
                  "--attack", "dcr-membership", "--no-ledger")
    assert code == 3
    gen = json.loads((tmp_path / "out" / "results.json").read_text())["generators"][0]
    assert gen["error_detail"]["kind"] == "malformed"
    assert message in gen["error_detail"]["message"]


# -- a third-party policy is marked wherever its verdict appears -----------------------------


def test_a_third_party_policy_is_marked_everywhere(
        table: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _install(tmp_path, monkeypatch, "generators", "policy")
    code = _audit(table, tmp_path / "out", "--generator", "hostile-honest-copy", "--epsilon",
                  "1", "--attack", "dcr-membership", "--policy", "lenient-release",
                  "--no-ledger")
    out = capsys.readouterr().out
    assert "third-party policy from hostile-privgate 6.6.6" in out
    result = json.loads((tmp_path / "out" / "results.json").read_text())
    [policy] = result["policies"]
    # the lenient policy passes a copy: that is why it must be marked; core's own dp-claim
    # check still refutes the copy's "epsilon 1", whatever the policy says
    assert policy["verdict"] == "pass"
    assert code == 1 and result["generators"][0]["dp_claim"]["status"] == "fail"
    assert policy["builtin"] is False and policy["distribution"] == DIST
    assert policy["version"] == "6.6.6"
    suite = ET.parse(tmp_path / "out" / "junit.xml").getroot().find("testsuite")
    assert suite is not None and "third-party" in str(suite.get("name"))
    html = (tmp_path / "out" / "report.html").read_text()
    assert "third-party policy" in html and DIST in html


# -- no real value reaches an output through plugin text --------------------------------------


def test_plugin_text_never_carries_real_values(table: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    _install(tmp_path, monkeypatch, "attacks", "sections")
    code = _audit(table, tmp_path / "out", "--generator", "gmm", "--attack",
                  "hostile-leaky-text", "--attack", "hostile-leaky-error", "--no-ledger")
    captured = capsys.readouterr()
    assert code == 3  # the leaky-error attack raised
    real = pd.read_csv(table)
    incomes = {f"{v}" for v in real["income"]} | {f"{v:.2f}" for v in real["income"]}
    texts = {**_outputs(tmp_path / "out"), "stdout": captured.out, "stderr": captured.err}
    for name, text in texts.items():
        assert PLANTED not in text, name
        leaked = [v for v in incomes if v in text]
        assert not leaked, (name, leaked[:3])
        assert "\x1b" not in text and "\x07" not in text, name
    assert "withheld by privgate" in texts["results.json"]
