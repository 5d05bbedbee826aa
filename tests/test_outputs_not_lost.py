"""Nothing the user has is lost: ``report`` writes exactly the path asked for and never an
input; ``synth`` refuses to write over its input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from privgate.cli import main
from privgate.verify import verify


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("audited")
    rng = np.random.default_rng(1)
    n = 150
    data = tmp / "people.csv"
    pd.DataFrame({"age": rng.integers(18, 90, n), "sex": rng.choice(["f", "m"], n),
                  "score": rng.normal(size=n).round(3)}).to_csv(data, index=False)
    out = tmp / "A"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PRIVGATE_LEDGER", str(tmp / "ledger.sqlite"))
        assert main(["audit", "--data", str(data), "--generator", "gmm", "--attack",
                     "dcr-membership", "--out", str(out)]) in (0, 1)
    return out


def test_report_writes_exactly_the_path_asked_for(audited: Path, tmp_path: Path) -> None:
    other = tmp_path / "B"
    other.mkdir()
    keep = other / "report.html"
    keep.write_text("someone else's report")
    assert main(["report", str(audited / "results.json"), "--out",
                 str(other / "other.html")]) == 0
    assert keep.read_text() == "someone else's report"
    assert sorted(p.name for p in other.iterdir()) == ["other.html", "report.html"]
    assert verify(other / "other.html", audited / "results.json").ok


def test_report_never_writes_over_an_input_or_a_results_file(
        audited: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = audited / "results.json"
    before = results.read_bytes()
    assert main(["report", str(results), "--out", str(results)]) == 2
    assert "input file" in capsys.readouterr().err
    assert results.read_bytes() == before
    elsewhere = tmp_path / "results.json"
    elsewhere.write_bytes(before)
    assert main(["report", str(results), "--out", str(elsewhere)]) == 2
    assert elsewhere.read_bytes() == before
    assert main(["report", "--compare", str(results), str(results), "--out",
                 str(results)]) == 2
    assert results.read_bytes() == before


def test_report_into_a_folder(audited: Path, tmp_path: Path) -> None:
    assert main(["report", str(audited / "results.json"), "--out", str(tmp_path / "C")]) == 0
    assert (tmp_path / "C" / "report.html").exists()


def test_synth_refuses_to_overwrite_its_input(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(2)
    data = tmp_path / "g.csv"
    pd.DataFrame({"a": rng.integers(0, 9, 80), "b": rng.choice(["x", "y"], 80)}).to_csv(
        data, index=False)
    before = data.read_bytes()
    assert main(["synth", "--data", str(data), "--generator", "gmm", "--out", str(data)]) == 2
    assert "input file" in capsys.readouterr().err
    assert data.read_bytes() == before
    link = tmp_path / "alias.csv"
    link.symlink_to(data)
    assert main(["synth", "--data", str(data), "--generator", "gmm", "--out", str(link)]) == 2
    assert data.read_bytes() == before
    assert main(["synth", "--data", str(data), "--generator", "gmm", "--rows", "10", "--out",
                 str(tmp_path / "s.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "s.csv")) == 10


def test_a_config_output_is_written_beside_the_config_not_where_privgate_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``output = "gate-out"`` in gate.toml means gate.toml's folder, like every other path the
    config names (README: paths a config names lie inside its folder)."""
    rng = np.random.default_rng(2)
    project = tmp_path / "project"
    project.mkdir()
    pd.DataFrame({"age": rng.integers(18, 90, 150), "sex": rng.choice(["f", "m"], 150)}).to_csv(
        project / "rows.csv", index=False)
    (project / "gate.toml").write_text(
        'output = "gate-out"\nattacks = ["dcr-membership"]\n[data]\npath = "rows.csv"\n'
        '[[generators]]\nname = "gmm"\n', encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("PRIVGATE_LEDGER", str(tmp_path / "ledger.sqlite"))
    assert main(["audit", str(project / "gate.toml")]) in (0, 1)
    assert (project / "gate-out" / "results.json").is_file()
    assert list(elsewhere.iterdir()) == []
