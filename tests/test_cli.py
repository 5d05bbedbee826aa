"""The command line: exit codes and messages a CI pipeline and a user rely on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from privgate.cli import main

TINY = pd.DataFrame({
    "age": [20 + (i * 7) % 60 for i in range(80)],
    "sex": ["f", "m"] * 40,
    "dx": ["a", "b", "c", "d"] * 20,
})


def _write(tmp_path: Path, df: pd.DataFrame, name: str = "rows.csv") -> Path:
    path = tmp_path / name
    df.to_csv(path, index=False)
    return path


def _config(tmp_path: Path, body: str) -> Path:
    _write(tmp_path, TINY)
    path = tmp_path / "gate.toml"
    path.write_text(body)
    return path


SCHEMA = """
[schema.columns.age]
kind = "integer"
role = "quasi-identifier"
bounds = [0, 99]
[schema.columns.sex]
kind = "categorical"
role = "quasi-identifier"
categories = ["f", "m"]
[schema.columns.dx]
kind = "categorical"
role = "sensitive"
categories = ["a", "b", "c", "d"]
"""


@pytest.mark.parametrize("body, message", [
    ('sed = 1\n[data]\npath = "rows.csv"\n', "unknown key 'sed'"),
    ('seed = "x"\n[data]\npath = "rows.csv"\n', "'seed'"),
    ('[data]\npath = "rows.csv"\n[[generators]]\nname = "gmm"\nepsilon = "big"\n',
     r"'generators\[0\].epsilon'"),
    ('[data]\npath = "missing.csv"\n[[generators]]\nname = "gmm"\n', "missing.csv: data file "
     "not found"),
    ('[data]\npath = "rows.csv"\n[[generators]]\nname = "nope"\n', "unknown generator 'nope'"),
    ('[data]\npath = "rows.csv"\n[[generators]]\nname = "dpsgd-vae"\n',
     "'epsilon' is required"),
    ('policies = ["lax"]\n[data]\npath = "rows.csv"\n[[generators]]\nname = "gmm"\n',
     "unknown policy 'lax'"),
    ('attacks = ["dcr"]\n[data]\npath = "rows.csv"\n[[generators]]\nname = "gmm"\n',
     "unknown attack 'dcr'"),
    ('[data]\npath = "rows.csv"\n[[generators]]\nname = "gmm"\n' + SCHEMA +
     '[schema.columns.bmi]\nkind = "continuous"\nbounds = [10, 50]\n',
     r"schema column\(s\) \['bmi'\] are not in the table"),
    ('[data]\npath = "rows.csv"\n[[generators]]\nname = "gmm"\n'
     + SCHEMA.replace('"a", "b", "c", "d"', '"a", "b"'), "'dx' holds 40 value"),
    ('[data]\npath = "rows.csv"\n[[generators]]\nname = "gmm"\nparams = { colour = 1 }\n',
     "colour"),
    ("seed = = 2\n", "not valid TOML"),
])
def test_bad_config_exits_2_naming_the_culprit(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                body: str, message: str) -> None:
    config = _config(tmp_path, body)
    assert main(["audit", str(config)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert pytest.importorskip("re").search(message, err), err


@pytest.mark.parametrize("content, message", [
    ("", "is empty"),
    ("age,sex,dx\n", "header but no rows"),
    ("age,sex,dx,empty\n" + "".join(f"{20 + i},f,a,\n" for i in range(30)),
     "'empty' holds no values"),
])
def test_bad_table_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture, content: str,
                           message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert main(["audit", "--data", str(path), "--generator", "gmm"]) == 2
    assert message in capsys.readouterr().err


def test_wrong_type_in_declared_column_exits_2(tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    bad = TINY.astype({"age": object})
    bad.loc[5, "age"] = "forty"
    _write(tmp_path, bad)
    (tmp_path / "gate.toml").write_text('[data]\npath = "rows.csv"\n[[generators]]\n'
                                        'name = "gmm"\n' + SCHEMA)
    assert main(["audit", str(tmp_path / "gate.toml")]) == 2
    err = capsys.readouterr().err
    assert "column 'age' is declared integer but 1 value(s) are not (first at row 6)" in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        main(["audit", "--epsilon", "many"])
    assert info.value.code == 2
    assert main(["audit"]) == 2
    assert main(["audit", "--synthetic", "x.csv"]) == 2
    assert "--train" in capsys.readouterr().err


def test_plugins_lists_builtins_with_their_distribution(capsys: pytest.CaptureFixture) -> None:
    assert main(["plugins", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    provided = {n for p in listed for names in p["provides"].values() for n in names}
    assert {"dpsgd-vae", "gmm", "dcr-membership", "html", "expert-determination-0.09"} <= provided
    assert {p["distribution"] for p in listed} == {"privgate"}


def test_console_script_is_installed() -> None:
    out = subprocess.run([sys.executable, "-m", "privgate.cli", "--version"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.startswith("privgate ")


def test_role_flags_set_roles_on_an_inferred_schema(tmp_path: Path) -> None:
    data = _write(tmp_path, TINY)
    out = tmp_path / "out"
    code = main(["audit", "--data", str(data), "--generator", "gmm", "--attack",
                 "dcr-membership", "--quasi-identifiers", "age,sex", "--target", "dx",
                 "--out", str(out)])
    assert code in (0, 1)
    result = json.loads((out / "results.json").read_text())
    roles = {c["name"]: c["role"] for c in result["schema"]["columns"]}
    assert roles == {"age": "quasi-identifier", "sex": "quasi-identifier", "dx": "target"}
    assert result["schema"]["source"] == "inferred"
    assert set(result["data_dependent_domains"]) == {"age", "sex", "dx"}


def test_role_flag_naming_a_missing_column_exits_2(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    data = _write(tmp_path, TINY)
    assert main(["audit", "--data", str(data), "--generator", "gmm", "--sensitive",
                 "diagnosis"]) == 2
    assert "['diagnosis'] that are not in the table" in capsys.readouterr().err


def test_output_folder_that_cannot_be_made_exits_2(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    data = _write(tmp_path, TINY)
    blocker = tmp_path / "taken"
    blocker.write_text("a file, not a folder")
    assert main(["audit", "--data", str(data), "--generator", "gmm", "--attack",
                 "dcr-membership", "--out", str(blocker / "report")]) == 2
    assert "cannot create the output folder" in capsys.readouterr().err


def test_ledger_total_keeps_your_fits_apart_from_everyone_elses() -> None:
    from privgate.ledger_view import split_by_operator

    entries = [{"epsilon": 1.0, "status": "spent", "operator": "ana", "host": "h1"},
               {"epsilon": 2.0, "status": "spent", "operator": "bo", "host": "h1"},
               {"epsilon": 0.5, "status": "released", "operator": "ana", "host": "h1"},
               {"epsilon": None, "status": "spent", "operator": "ana", "host": "h1"},
               {"epsilon": 4.0, "status": "spent", "operator": "ana", "host": "h2"}]
    assert split_by_operator(entries, "ana", "h1") == (1.0, 6.0)


def test_terminal_messages_follow_the_language(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from privgate.results import dumps

    fixture = Path(__file__).parent / "fixtures" / "example_results.json"
    (tmp_path / "results.json").write_text(dumps(json.loads(fixture.read_text("utf-8"))),
                                           "utf-8")
    assert main(["report", str(tmp_path / "results.json")]) == 0
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "report.html"), str(tmp_path / "results.json"),
                 "--lang", "ko"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("일치:") and "체크섬" in out and "(가)" not in out
