"""``privgate schema draft``: roles guessed, every read-off domain marked, and a config that
``privgate audit`` accepts as it is."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from privgate.cli import main
from privgate.config import parse_config
from privgate.schema import Kind, Role
from privgate.schema_draft import READ_OFF, draft, person_id_candidates, to_toml


def _people(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "record_id": np.arange(1000, 1000 + n),
        "patient_nbr": rng.integers(0, n // 3, n) * 7 + 100_000,
        "age": rng.integers(18, 90, n),
        "sex": rng.choice(["f", "m"], n),
        "zip3": rng.choice(["021", "100", "941"], n),
        "diagnosis": rng.choice(["flu", "asthma", "diabetes"], n),
        "income": rng.normal(40_000, 9_000, n).round(2),
        "visits": rng.integers(0, 5, n),
        "admitted on": pd.Series(pd.to_datetime("2020-01-01") + pd.to_timedelta(
            rng.integers(0, 700, n), unit="D")).dt.strftime("%Y-%m-%d"),
        "outcome": rng.choice(["good", "bad", None], n, p=[0.6, 0.3, 0.1]),
    })


def test_roles_are_guessed_from_names_and_shapes() -> None:
    df = _people()
    schema = draft(df, target="outcome")
    roles = {c.name: c.role for c in schema.columns}
    assert roles["record_id"] is Role.DIRECT_IDENTIFIER  # unique per row
    assert roles["patient_nbr"] is Role.PERSON_ID  # id-like name, repeats: one person's rows
    assert schema.person_id == "patient_nbr"
    assert schema["record_id"].kind is Kind.IDENTIFIER
    assert {roles["age"], roles["sex"], roles["zip3"], roles["admitted on"]} == {
        Role.QUASI_IDENTIFIER}
    assert roles["diagnosis"] is roles["income"] is Role.SENSITIVE
    assert roles["visits"] is Role.OTHER and roles["outcome"] is Role.TARGET
    assert person_id_candidates(df) == ["patient_nbr"]
    with pytest.raises(Exception, match="not in the table"):
        draft(df, target="nope")


def test_every_read_off_domain_is_marked_and_the_toml_round_trips() -> None:
    df = _people()
    schema = draft(df, target="outcome")
    text = to_toml(schema, data_path="people.csv", source="people.csv", n_rows=len(df),
                   person_ids=["patient_nbr"])
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(("categories =", "bounds =", "nullable =")):
            assert READ_OFF in lines[i - 1] or lines[i - 1].startswith("# 20"), line
    assert sum(READ_OFF in line for line in lines) == sum(
        (c.categories is not None) + (c.bounds is not None) + c.nullable for c in schema.columns)
    assert 'role = "person-id"' in text and "# Person id: rows that share patient_nbr" in text
    raw = tomllib.loads(text)
    config = parse_config(raw, where="draft.toml")
    declared = config.declared_schema("draft.toml")
    assert declared is not None
    for col in schema.columns:
        again = declared[col.name]
        assert (again.kind, again.role, again.nullable) == (col.kind, col.role, col.nullable)
        assert again.categories == col.categories and again.bounds == col.bounds
        assert not again.data_dependent  # once written down, the user declares it
    assert config.data.path == "people.csv" and config.generators[0].name == "dpsgd-vae"


def test_the_cli_writes_a_config_that_audit_accepts(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "people.csv"
    _people().to_csv(data, index=False)
    config = tmp_path / "gate.toml"
    assert main(["schema", "draft", str(data), "--target", "outcome", "--out",
                 str(config)]) == 0
    assert "every domain was read off the data" in capsys.readouterr().out
    assert main(["schema", "draft", str(data), "--out", str(config)]) == 2  # no overwrite
    assert "--overwrite" in capsys.readouterr().err
    out = tmp_path / "report"
    code = main(["audit", str(config), "--generator", "gmm", "--attack", "dcr-membership",
                 "--no-ledger", "--out", str(out)])
    assert code in (0, 1), capsys.readouterr().err
    result = json.loads((out / "results.json").read_text())
    assert result["data_dependent_domains"] == []  # the draft's domains are declared now
    assert "schema draft" not in capsys.readouterr().err  # no hint: nothing was inferred


def test_the_draft_goes_to_stdout_and_names_refusals(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "people.csv"
    _people().to_csv(data, index=False)
    assert main(["schema", "draft", str(data)]) == 0
    text = capsys.readouterr().out
    assert tomllib.loads(text)["schema"]["columns"]["outcome"]["role"] == "other"
    assert main(["schema", "draft", str(data), "--target", "nope"]) == 2
    assert "'nope'" in capsys.readouterr().err
    assert main(["schema", "draft", str(tmp_path / "missing.csv")]) == 2


def test_inferring_audit_and_synth_hint_at_the_draft(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "people.csv"
    _people().drop(columns=["record_id", "patient_nbr"]).to_csv(data, index=False)
    assert main(["audit", "--data", str(data), "--generator", "gmm", "--attack",
                 "dcr-membership", "--no-ledger", "--out", str(tmp_path / "out")]) in (0, 1)
    err = "".join(capsys.readouterr().err.split())  # the console wraps long lines, paths too
    hint = f"note: the schema was inferred from the data; `privgate schema draft {data}`"
    assert "".join(hint.split()) in err
    assert main(["synth", "--data", str(data), "--generator", "gmm", "--target", "outcome",
                 "--out", str(tmp_path / "syn.csv")]) == 0
    assert f"privgateschemadraft{data}" in "".join(capsys.readouterr().err.split())


def test_synth_target_names_the_target_of_an_inferred_schema(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from privgate.sources import _schema_for, with_target

    df = _people().drop(columns=["record_id", "patient_nbr"])
    schema = _schema_for(parse_config(with_target({}, "outcome"), where="cli"), df, "cli")
    assert schema.target == "outcome" and schema.source == "inferred"
    data = tmp_path / "people.csv"
    df.to_csv(data, index=False)
    assert main(["synth", "--data", str(data), "--generator", "gmm", "--target", "nope",
                 "--out", str(tmp_path / "syn.csv")]) == 2
    assert "--target" in capsys.readouterr().err
