"""Bad input never costs budget: an input error found before the first gradient step releases
the fit's reservation, and an unwritable output folder is found before anything is reserved."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from privgate.cli import main
from privgate.ledger_rules import PrivacyLedger


@pytest.fixture()
def people(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    n = 120
    path = tmp_path / "people.csv"
    pd.DataFrame({"age": rng.integers(18, 90, n), "sex": rng.choice(["f", "m"], n),
                  "score": rng.normal(size=n).round(3)}).to_csv(path, index=False)
    return path


def _entries(ledger: Path) -> list[tuple[str, float | None]]:
    return [(e.status, e.epsilon) for e in PrivacyLedger(ledger).history()]


def test_delta_zero_is_refused_and_released(people: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    ledger = tmp_path / "ledger.sqlite"
    code = main(["audit", "--data", str(people), "--generator", "dpsgd-vae", "--epsilon", "1",
                 "--delta", "0", "--ledger", str(ledger), "--out", str(tmp_path / "out")])
    assert code == 2
    assert "delta" in capsys.readouterr().err
    assert _entries(ledger) == [("released", 1.0)]
    assert PrivacyLedger(ledger).spent(PrivacyLedger(ledger).history()[0].dataset_fingerprint) \
        == 0.0


def test_a_domain_that_cannot_be_released_costs_nothing_on_a_small_table(
        people: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = tmp_path / "ledger.sqlite"
    code = main(["audit", "--data", str(people), "--generator", "dpsgd-vae", "--epsilon", "1",
                 "--ledger", str(ledger), "--out", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err
    assert "declare their categories" in err and "'sex'" in err
    assert _entries(ledger) == [("released", 1.0)]


def test_an_unwritable_output_is_found_before_any_reservation(
        people: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    ledger = tmp_path / "ledger.sqlite"
    code = main(["audit", "--data", str(people), "--generator", "dpsgd-vae", "--epsilon", "1",
                 "--ledger", str(ledger), "--out", str(blocker / "out")])
    assert code == 2
    assert str(blocker) in capsys.readouterr().err
    assert not ledger.exists() or _entries(ledger) == []


def test_nothing_is_created_before_the_inputs_are_checked(people: Path, tmp_path: Path) -> None:
    out = tmp_path / "new" / "out"
    code = main(["audit", "--data", str(people), "--generator", "no-such-generator",
                 "--no-ledger", "--out", str(out)])
    assert code == 2
    assert not (tmp_path / "new").exists()
    code = main(["audit", "--data", str(tmp_path / "missing.csv"), "--generator", "gmm",
                 "--no-ledger", "--out", str(out)])
    assert code == 2
    assert not (tmp_path / "new").exists()


def test_an_output_folder_holding_a_report_is_not_overwritten(
        people: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    args = ["audit", "--data", str(people), "--generator", "gmm", "--attack",
            "dcr-membership", "--no-ledger", "--out", str(out)]
    assert main(args) in (0, 1)
    before = (out / "results.json").read_bytes()
    assert main(args) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "results.json").read_bytes() == before
    assert main([*args, "--overwrite"]) in (0, 1)


def test_vulnerable_records_are_owner_only_and_named(people: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["audit", "--data", str(people), "--generator", "gmm", "--attack",
                 "dcr-membership", "--no-ledger", "--out", str(out)]) in (0, 1)
    csv = out / "vulnerable_records.csv"
    assert csv.stat().st_mode & 0o777 == 0o600
    assert f"PERSONAL DATA: {csv}" in capsys.readouterr().out.replace("\n", "")
