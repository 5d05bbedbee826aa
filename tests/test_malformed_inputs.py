"""A corpus of malformed inputs: every one must exit 2 naming the culprit, never 3, never a
traceback, never a silent pass.

Each case runs ``privgate.cli.main([...])`` in-process (a few that could block forever, a named
pipe or a device, run in a subprocess with a time limit) and asserts exit code 2, that stderr
names the key, flag, file or column at fault, and that no traceback was printed.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import socket
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from privgate.cli import main
from privgate.errors import InputError
from privgate.generator import MAX_EPSILON
from privgate.limits import MAX_TIMEOUT_S, MAX_TOTAL_EPSILON, SEED_LIMIT
from privgate.schema import Column, Kind, Schema
from privgate.tables import conform

ROWS = 80
TINY = pd.DataFrame({
    "age": [20 + (i * 7) % 60 for i in range(ROWS)],
    "sex": ["f", "m"] * (ROWS // 2),
    "dx": ["a", "b", "c", "d"] * (ROWS // 4),
})
CSV = TINY.to_csv(index=False)

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

QUICK = ["--generator", "gmm", "--attack", "dcr-membership"]


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A work folder (the current directory) holding rows.csv, a valid 80-row table."""
    (tmp_path / "rows.csv").write_text(CSV)
    monkeypatch.chdir(tmp_path)
    for var in ("PRIVGATE_LOAD_PLUGINS", "PRIVGATE_DISABLE_PLUGINS", "PRIVGATE_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def _refused(code: int, err: str, *culprits: str) -> None:
    assert code == 2, f"exit code {code}, expected 2; stderr:\n{err}"
    assert "Traceback" not in err, err
    assert "internal error" not in err, err
    for culprit in culprits:
        assert culprit in err, f"{culprit!r} is not named in:\n{err}"


def _no_results(folder: Path) -> None:
    assert not list(folder.rglob("results.json")), "a refused input left a results.json"


# -- 1. config keys of the wrong type, out of range, or unknown ------------------------------

def _toml(overrides: dict[str, str | None]) -> str:
    """A config: a valid base (data path, one generator, one attack) with ``overrides``
    (dotted key -> TOML literal, or None to delete the key) applied; a top-level key naming a
    section replaces that section."""
    top: dict[str, str | None] = {"attacks": '["dcr-membership"]'}
    sections: dict[str, dict[str, str | None]] = {"data": {"path": '"rows.csv"'},
                                                   "generators": {"name": '"gmm"'}}
    for dotted, literal in overrides.items():
        section, _, key = dotted.rpartition(".")
        if not section:
            sections.pop(key, None)
            top[key] = literal
        else:
            sections.setdefault(section, {})[key] = literal
    lines = [f"{k} = {v}" for k, v in top.items() if v is not None]
    for section, body in sections.items():
        lines.append(f"[[{section}]]" if section == "generators" else f"[{section}]")
        lines += [f"{k} = {v}" for k, v in body.items() if v is not None]
    return "\n".join(lines) + "\n"


INT_BAD = ['"7"', "true", "1.5", "[1]", "{ a = 1 }", "1180591620717411303424", "nan"]
FLOAT_BAD = ['"0.5"', "true", "nan", "inf", "-inf", "[0.5]", "{ a = 1 }", "1e400"]
STR_BAD = ["5", "true", '["a"]', "{ a = 1 }", "1979-05-27"]
BOOL_BAD = ['"yes"', "1", "[true]"]
LIST_BAD = ['"x"', "5", "{ a = 1 }", "[1]"]
TABLE_BAD = ['"x"', "5", "[]", "true"]

KEYS: dict[str, list[str]] = {
    # top level
    "title": STR_BAD[:4],
    "seed": INT_BAD + ["-1", str(SEED_LIMIT), "-9223372036854775808"],
    "output": STR_BAD[:4] + ['""', '"a\\u0000b"'],
    "confidence_level": FLOAT_BAD[:5] + ["0.5", "1", "0.2", "1.5"],
    "policies": LIST_BAD + ["[]", '["expert-determination-0.09", "expert-determination-0.09"]'],
    "attacks": LIST_BAD + ["[]", '["dcr-membership", "dcr-membership"]', "[{ nam = 1 }]",
                           '[{ name = "" }]'],
    "metrics": LIST_BAD + ['["hellinger", "hellinger"]'],
    "data": TABLE_BAD,
    "schema": TABLE_BAD,
    "generators": ['"gmm"', "5", "{ name = 1 }", '["gmm"]'],
    "ledger": TABLE_BAD,
    "report": TABLE_BAD,
    "execution": TABLE_BAD,
    # [data]
    "data.path": STR_BAD[:4] + ['""', '"   "', '"a\\u0000b"'],
    "data.rdataset": STR_BAD[:3] + ['"../x"', '"a/b/c"', '""', '"nope"', '"/etc"', '"a/"'],
    "data.name": STR_BAD[:3],
    "data.control_fraction": FLOAT_BAD + ["0", "1", "-0.1", "1.5"],
    "data.max_rows": INT_BAD + ["0", "-1", "100000001"],
    "data.train": STR_BAD[:3] + ['""'],
    "data.control": STR_BAD[:3] + ['""'],
    "data.synthetic": STR_BAD[:3] + ['""'],
    # [schema]
    "schema.columns": ['"x"', "5", "[1]"],
    "schema.infer_missing": BOOL_BAD,
    "schema.max_categories": INT_BAD[:5] + ["1", "0", "-3", "1000000001"],
    "schema.direct_identifiers": LIST_BAD[:3] + ["[1]"],
    "schema.quasi_identifiers": LIST_BAD[:3] + ["[true]"],
    "schema.sensitive": LIST_BAD[:3],
    "schema.target": STR_BAD[:4] + ['""'],
    # [[generators]]
    "generators.name": STR_BAD[:4] + ['""'],
    "generators.epsilon": FLOAT_BAD + ["0", "-1", "1e20", str(MAX_EPSILON + 1)],
    "generators.delta": FLOAT_BAD[:5] + ["1", "-0.1", "2"],
    "generators.gate": BOOL_BAD,
    "generators.rows": INT_BAD[:6] + ["0", "-5", "1000000000"],
    "generators.params": TABLE_BAD,
    # [ledger]
    "ledger.enabled": BOOL_BAD,
    "ledger.path": STR_BAD[:3] + ['""'],
    "ledger.url": STR_BAD[:3],
    "ledger.total_epsilon": FLOAT_BAD + ["0", "-1", str(MAX_TOTAL_EPSILON * 10)],
    # [report]
    "report.lang": STR_BAD[:3] + ['"fr"', '""'],
    "report.min_cell_size": INT_BAD[:6] + ["0", "-1", "2000000"],
    # [execution]
    "execution.backend": STR_BAD[:3] + ['"spark"', '""'],
    "execution.n_jobs": INT_BAD[:6] + ["0", "-2", "100000"],
    "execution.ray_address": STR_BAD[:3],
    "execution.plugin_timeout_s": FLOAT_BAD + ["0", "-1", str(MAX_TIMEOUT_S + 1), "1e300"],
}


def _shown_key(dotted: str) -> str:
    return dotted.replace("generators.", "generators[0].")


CONFIG_CASES = [pytest.param(key, literal, id=f"{key}={literal}")
                for key, literals in KEYS.items() for literal in literals]


@pytest.mark.parametrize("key, literal", CONFIG_CASES)
def test_config_key_of_wrong_type_or_range(ws: Path, capsys: pytest.CaptureFixture[str],
                                           key: str, literal: str) -> None:
    (ws / "gate.toml").write_text(_toml({key: literal}), encoding="utf-8")
    out = [] if key == "output" else ["--out", "out"]  # --out would replace 'output'
    code, err = _run(["audit", "gate.toml", *out], capsys)
    _refused(code, err, "gate.toml", "'" + _shown_key(key))
    _no_results(ws)


UNKNOWN_KEYS = ["sed", "data.pth", "generators.budget", "ledger.totl", "report.colour",
                "execution.threads", "schema.foo", "schema.columns.age.colour", "base_dir"]


@pytest.mark.parametrize("key", UNKNOWN_KEYS)
def test_unknown_config_key(ws: Path, capsys: pytest.CaptureFixture[str], key: str) -> None:
    extra: dict[str, str | None] = (
        {"schema.columns.age": '{ kind = "integer", bounds = [0, 99], colour = 1 }'}
        if key.startswith("schema.columns") else {key: "1"})
    (ws / "gate.toml").write_text(_toml(extra), encoding="utf-8")
    code, err = _run(["audit", "gate.toml", "--out", "out"], capsys)
    _refused(code, err, "gate.toml", key.split(".")[-1])


@pytest.mark.parametrize("content, culprit", [
    pytest.param(b"seed = = 2\n", "not valid TOML", id="syntax"),
    pytest.param(b"seed = 1\nseed = 2\n", "not valid TOML", id="duplicate-key"),
    pytest.param(b"[data]\n[data]\n", "not valid TOML", id="duplicate-table"),
    pytest.param("title = 'caf\u00e9'\n".encode("latin-1"), "not a UTF-8", id="latin-1"),
    pytest.param(b"\x00\x01\x02binary", "gate.toml", id="binary"),
    pytest.param(b"", "no data given", id="empty-file"),
    pytest.param(b'[data]\nrdataset = "nope/nothing"\n[[generators]]\nname = "gmm"\n',
                 "data.rdataset", id="rdataset-unknown-package"),
    pytest.param(b'[data]\nrdataset = "medicaldata/nothing"\n[[generators]]\nname = "gmm"\n',
                 "no table 'nothing'", id="rdataset-unknown-item"),
    pytest.param(b'[data]\npath = "rows.csv"\nrdataset = "medicaldata/covid_testing"\n',
                 "data.path", id="path-and-rdataset"),
    pytest.param(b'[data]\npath = "rows.csv"\ntrain = "rows.csv"\ncontrol = "rows.csv"\n',
                 "not both", id="path-and-train"),
    pytest.param(b'[data]\ntrain = "rows.csv"\n', "data.control", id="train-without-control"),
    pytest.param(b'[data]\npath = "rows.csv"\nsynthetic = "rows.csv"\n', "data.synthetic",
                 id="synthetic-without-train"),
    pytest.param(b'[data]\npath = "rows.csv"\n', "no generator", id="no-generator"),
    pytest.param(b'[data]\npath = "rows.csv"\n[[generators]]\nname = "gmm"\n'
                 b'[[generators]]\nname = "gmm"\n', "listed twice", id="generator-twice"),
])
def test_malformed_config_file(ws: Path, capsys: pytest.CaptureFixture[str], content: bytes,
                               culprit: str) -> None:
    (ws / "gate.toml").write_bytes(content)
    code, err = _run(["audit", "gate.toml", "--out", "out"], capsys)
    _refused(code, err, culprit)
    _no_results(ws)


# -- 2. plugin names and parameters ----------------------------------------------------------

@pytest.mark.parametrize("overrides, culprit", [
    pytest.param({"generators.name": '"nope"'}, "unknown generator 'nope'", id="generator"),
    pytest.param({"attacks": '["nope"]'}, "unknown attack 'nope'", id="attack"),
    pytest.param({"metrics": '["nope"]'}, "unknown metric 'nope'", id="metric"),
    pytest.param({"policies": '["nope"]'}, "unknown policy 'nope'", id="policy"),
    pytest.param({"generators.params": "{ colour = 1 }"}, "colour", id="unknown-param"),
    pytest.param({"generators.params": '{ n_components = "x" }'}, "n_components",
                 id="param-string"),
    pytest.param({"generators.params": "{ n_components = -1 }"}, "n_components",
                 id="param-negative"),
    pytest.param({"generators.params": "{ n_components = 1180591620717411303424 }"},
                 "n_components", id="param-huge"),
    pytest.param({"generators.params": "{ n_components = true }"}, "n_components",
                 id="param-bool"),
    pytest.param({"generators.params": '{ covariance_type = "round" }'}, "covariance_type",
                 id="param-choice"),
    pytest.param({"generators.params": "{ reg_covar = nan }"}, "reg_covar", id="param-nan"),
    pytest.param({"generators.params": "{ reg_covar = inf }"}, "reg_covar", id="param-inf"),
    pytest.param({"generators.params": "{ n_components = [1] }"}, "n_components",
                 id="param-array"),
    pytest.param({"attacks": '[{ name = "dcr-membership", params = { colour = 1 } }]'},
                 "colour", id="attack-param"),
    pytest.param({"attacks": '[{ name = "dcr-membership", params = { metric = "nope" } }]'},
                 "metric", id="attack-unknown-metric"),
    pytest.param({"attacks": '[{ name = "dcr-membership", params = { max_rows = "x" } }]'},
                 "max_rows", id="attack-param-type"),
    pytest.param({"attacks": '[{ name = "distinguishability", params = { folds = 1 } }]'},
                 "folds", id="attack-param-range"),
    pytest.param({"attacks": '[{ name = "anonymeter-singling-out", params = '
                             '{ mode = "sideways" } }]'}, "mode", id="attack-param-choice"),
    pytest.param({"attacks": '[{ name = "anonymeter-inference", params = '
                             '{ secrets = ["nope"] } }]'}, "nope", id="attack-param-column"),
    pytest.param({"attacks": '[{ name = "anonymeter-linkability", params = '
                             '{ aux_cols = ["age"] } }]'}, "aux_cols",
                 id="attack-param-shape"),
    pytest.param({"attacks": '[{ name = "identity-disclosure", params = '
                             '{ tolerance = 3.0 } }]'}, "tolerance", id="attack-param-tolerance"),
    pytest.param({"attacks": '[{ name = "density-membership", params = '
                             '{ n_neighbors = 0 } }]'}, "n_neighbors", id="attack-param-zero"),
    pytest.param({"generators.name": '"dpsgd-vae"'}, "'epsilon' is required",
                 id="private-without-epsilon"),
])
def test_unknown_plugin_or_bad_parameter(ws: Path, capsys: pytest.CaptureFixture[str],
                                         overrides: dict[str, str | None],
                                         culprit: str) -> None:
    (ws / "gate.toml").write_text(_toml(overrides) + SCHEMA, encoding="utf-8")
    code, err = _run(["audit", "gate.toml", "--out", "out"], capsys)
    _refused(code, err, culprit)
    _no_results(ws)


# -- 3. command-line flags -------------------------------------------------------------------

FLAG_CASES = [
    (["--seed", "-5"], "--seed"), (["--seed", str(SEED_LIMIT)], "--seed"),
    (["--seed", "2e3"], "--seed"), (["--seed", str(2**70)], "--seed"),
    (["--epsilon", "nan"], "--epsilon"), (["--epsilon", "inf"], "--epsilon"),
    (["--epsilon", "-1"], "--epsilon"), (["--epsilon", "0"], "--epsilon"),
    (["--epsilon", "1e20"], "--epsilon"), (["--epsilon", "1e999"], "--epsilon"),
    (["--epsilon", "many"], "--epsilon"),
    (["--delta", "1"], "--delta"), (["--delta", "-0.1"], "--delta"),
    (["--delta", "nan"], "--delta"),
    (["--total-epsilon", "inf"], "--total-epsilon"), (["--total-epsilon", "nan"],
                                                      "--total-epsilon"),
    (["--total-epsilon", "0"], "--total-epsilon"), (["--total-epsilon", "1e9"],
                                                    "--total-epsilon"),
    (["--plugin-timeout", "inf"], "--plugin-timeout"),
    (["--plugin-timeout", "nan"], "--plugin-timeout"),
    (["--plugin-timeout", "0"], "--plugin-timeout"),
    (["--plugin-timeout", "-1"], "--plugin-timeout"),
    (["--plugin-timeout", "1e9"], "--plugin-timeout"),
    (["--max-rows", "0"], "--max-rows"), (["--max-rows", "-1"], "--max-rows"),
    (["--jobs", "0"], "--jobs"), (["--jobs", "-2"], "--jobs"), (["--jobs", "99999"], "--jobs"),
    (["--disable-plugin", "nope"], "--disable-plugin 'nope'"),
    (["--disable-plugin", ""], "--disable-plugin"),
    (["--target", "nope"], "'nope'"), (["--drop", "nope"], "'nope'"),
    (["--sensitive", "age,nope"], "'nope'"), (["--quasi-identifiers", "nope"], "'nope'"),
    (["--target", ""], "--target"), (["--drop", " , "], "--drop"),
    (["--quasi-identifiers", "age", "--target", "age"], "'age'"),
    (["--policy", "nope"], "unknown policy 'nope'"),
    (["--lang", "fr"], "--lang"), (["--backend", "spark"], "--backend"),
    (["--train", "rows.csv"], "--train"), (["--control", "rows.csv"], "--control"),
    (["--train", "rows.csv", "--control", "rows.csv"], "not both"),
    (["--colour"], "--colour"),
]


@pytest.mark.parametrize("flags, culprit", [
    pytest.param(f, c, id=" ".join(f) or "none") for f, c in FLAG_CASES])
def test_bad_audit_flag(ws: Path, capsys: pytest.CaptureFixture[str], flags: list[str],
                        culprit: str) -> None:
    code, err = _run(["audit", "--data", "rows.csv", *QUICK, "--out", "out", *flags], capsys)
    _refused(code, err, culprit)
    _no_results(ws)


@pytest.mark.parametrize("argv, culprit", [
    pytest.param(["audit"], "config file", id="audit-nothing"),
    pytest.param(["audit", "--synthetic", "rows.csv"], "--train", id="synthetic-alone"),
    pytest.param(["audit", "--synthetic", "rows.csv", "--train", "rows.csv"], "--control",
                 id="synthetic-train-only"),
    pytest.param(["audit", "--data", "rows.csv", "--generator", "nope"],
                 "unknown generator 'nope'", id="generator-flag"),
    pytest.param(["audit", "--data", "rows.csv", "--generator", "gmm", "--attack", "nope"],
                 "unknown attack 'nope'", id="attack-flag"),
    pytest.param(["synth", "--data", "rows.csv", "--generator", "gmm", "--rows", "0",
                  "--out", "s.csv"], "--rows", id="synth-rows-0"),
    pytest.param(["synth", "--data", "rows.csv", "--generator", "gmm", "--rows", "-3",
                  "--out", "s.csv"], "--rows", id="synth-rows-negative"),
    pytest.param(["synth", "--data", "rows.csv", "--generator", "gmm", "--rows", "10**9",
                  "--out", "s.csv"], "--rows", id="synth-rows-text"),
    pytest.param(["synth", "--data", "rows.csv", "--generator", "dpsgd-vae", "--epsilon",
                  "1e20", "--out", "s.csv"], "--epsilon", id="synth-epsilon-huge"),
    pytest.param(["synth", "--data", "rows.csv", "--generator", "dpsgd-vae", "--epsilon",
                  "nan", "--out", "s.csv"], "--epsilon", id="synth-epsilon-nan"),
    pytest.param(["synth", "--data", "rows.csv", "--generator", "dpsgd-vae", "--out",
                  "s.csv"], "--epsilon", id="synth-epsilon-missing"),
    pytest.param(["synth", "--data", "rows.csv", "--generator", "gmm", "--seed", "-1",
                  "--out", "s.csv"], "--seed", id="synth-seed-negative"),
    pytest.param(["synth", "--data", "rows.csv", "--generator", "gmm", "--delta", "inf",
                  "--out", "s.csv"], "--delta", id="synth-delta-inf"),
    pytest.param(["synth", "--data", "rows.csv", "--generator", "nope", "--out", "s.csv"],
                 "unknown generator 'nope'", id="synth-generator"),
    pytest.param(["synth", "--data", "missing.csv", "--generator", "gmm", "--out", "s.csv"],
                 "missing.csv", id="synth-data-missing"),
    pytest.param(["synth", "--data", "rows.csv", "--generator", "gmm", "--out", "."],
                 "--out", id="synth-out-folder"),
    pytest.param(["synth", "--data", "rows.csv", "--generator", "gmm", "--out", "rows.csv"],
                 "--out", id="synth-out-is-input"),
    pytest.param(["synth", "--data", "rows.csv", "--generator", "gmm", "--out", "s.csv",
                  "--disable-plugin", "nope"], "--disable-plugin", id="synth-disable"),
    pytest.param(["demo", "--epochs", "0"], "--epochs", id="demo-epochs-0"),
    pytest.param(["demo", "--seed", "-1"], "--seed", id="demo-seed"),
    pytest.param(["demo", "--max-rows", "0"], "--max-rows", id="demo-max-rows"),
    pytest.param(["plugins", "--disable-plugin", "nope"], "--disable-plugin 'nope'",
                 id="plugins-disable"),
])
def test_bad_command_line(ws: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                          culprit: str) -> None:
    code, err = _run(argv, capsys)
    _refused(code, err, culprit)
    assert not (ws / "s.csv").exists()


# -- 4. table files that are not well-formed CSV ---------------------------------------------

def _rows(n: int) -> str:
    return "age,sex,dx\n" + "".join(f"{20 + i % 60},{'fm'[i % 2]},{'abcd'[i % 4]}\n"
                                    for i in range(n))


def _gz(text: str) -> bytes:
    return gzip.compress(text.encode())


def _zip(members: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buf.getvalue()


def _tar(members: dict[str, str], mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as archive:  # type: ignore[call-overload]
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _with_column(name: str, values: list[str]) -> str:
    lines = _rows(len(values)).splitlines()
    return "\n".join([lines[0] + f",{name}"] +
                     [f"{line},{v}" for line, v in zip(lines[1:], values, strict=True)]) + "\n"


PASSWD = "".join(f"user{i}:x:{1000 + i}:{1000 + i}::/home/user{i}:/bin/sh\n" for i in range(30))

TABLE_CASES: list[tuple[str, str, bytes, str]] = [
    # (id, file name, content, culprit named in the message besides the file)
    ("empty", "t.csv", b"", "empty"),
    ("blank-lines-only", "t.csv", b"\n\n\n", "empty"),
    ("header-only", "t.csv", b"age,sex,dx\n", "header but no rows"),
    ("bom-header-only", "t.csv", b"\xef\xbb\xbfage,sex,dx\n", "header but no rows"),
    ("duplicate-column", "t.csv", _rows(40).replace("dx\n", "age\n", 1).encode(),
     "['age'] appear twice"),
    ("duplicate-mangled-name", "t.csv",
     ("a,a.1,a\n" + "1,2,3\n" * 30).encode(), "['a'] appear twice"),
    ("empty-column-name", "t.csv", _rows(40).replace("age,sex,dx", "age,,dx").encode(),
     "column 2"),
    ("blank-column-name", "t.csv", _rows(40).replace("age,sex,dx", "age,  ,dx").encode(),
     "column 2"),
    ("trailing-comma-header", "t.csv", _rows(40).replace("dx\n", "dx,\n", 1).encode(),
     "column 4"),
    ("ragged-long-row", "t.csv", (_rows(40) + "1,f,a,extra\n").encode(), "4 field"),
    ("ragged-short-row", "t.csv", (_rows(5) + "33,f\n" + _rows(30)[11:]).encode(),
     "data row 6 has 2 field"),
    ("binary-junk", "t.csv", bytes(range(256)) * 8, "t.csv"),
    ("nul-bytes", "t.csv", _rows(30).replace("f,", "f\x00,").encode(), "NUL"),
    ("utf-16", "t.csv", _rows(30).encode("utf-16"), "t.csv"),
    ("latin-1", "t.csv", _rows(30).replace(",a\n", ",caf\xe9\n").encode("latin-1"),
     "not UTF-8"),
    ("gzip-that-is-plain-text", "t.csv.gz", _rows(30).encode(), "not gzip"),
    ("gzip-named-csv", "t.csv", _gz(_rows(30)), "gzip-compressed"),
    ("corrupt-gzip", "t.csv.gz", b"\x1f\x8b\x08" + b"junk" * 30, "corrupt"),
    ("truncated-gzip", "t.csv.gz", _gz(_rows(300))[:-20], "corrupt"),
    ("corrupt-bz2", "t.csv.bz2", b"BZh9" + b"junk" * 30, "corrupt"),
    ("corrupt-xz", "t.csv.xz", b"\xfd7zXZ\x00" + b"junk" * 30, "corrupt"),
    ("truncated-xz", "t.csv.xz", lzma.compress(_rows(300).encode())[:-30], "corrupt"),
    ("corrupt-zip", "t.csv.zip", b"PK\x03\x04" + b"junk" * 30, "corrupt"),
    ("zip-two-members", "t.csv.zip", _zip({"a.csv": _rows(30), "b.csv": _rows(30)}),
     "holds 2 files"),
    ("zip-no-member", "t.csv.zip", _zip({}), "holds 0 files"),
    ("empty-gzip-file", "t.csv.gz", b"", "empty"),
    ("gzip-of-nothing", "t.csv.gz", _gz(""), "empty"),
    ("bz2-of-header-only", "t.csv.bz2", bz2.compress(b"age,sex,dx\n"), "header but no rows"),
    ("7z", "t.7z", b"7z\xbc\xaf'\x1c" + bytes(60), "7-Zip"),
    ("rar", "t.rar", b"Rar!\x1a\x07\x00" + bytes(60), "RAR"),
    ("zstd", "t.csv.zst", b"(\xb5/\xfd" + bytes(60), "Zstandard"),
    ("tar", "t.tar", _tar({"rows.csv": _rows(30)}), "tar archive"),
    ("tar-gz", "t.tar.gz", _tar({"rows.csv": _rows(30)}, "w:gz"), "tar archive"),
    ("tgz", "t.tgz", _tar({"rows.csv": _rows(30)}, "w:gz"), "tar archive"),
    ("parquet-that-is-text", "t.parquet", _rows(30).encode(), "not a Parquet"),
    ("corrupt-parquet", "t.parquet", b"PAR1" + b"junk" * 30, "Parquet"),
    ("xlsx", "t.xlsx", _zip({"[Content_Types].xml": "<x/>", "xl/workbook.xml": "<x/>"}),
     "t.xlsx"),
    ("pdf", "t.csv", b"%PDF-1.4\n" + bytes(100), "PDF"),
    ("elf", "t.csv", b"\x7fELF" + bytes(100), "executable"),
    ("sqlite", "t.db", b"SQLite format 3\x00" + bytes(100), "SQLite"),
    ("19-rows", "t.csv", _rows(19).encode(), "19 rows"),
    ("all-missing-column", "t.csv", _with_column("empty", [""] * 30).encode(), "'empty'"),
    ("long-cell", "t.csv", _with_column("note", ["x" * 200_000] + ["y"] * 29).encode(),
     "longer than"),
    ("unclosed-quote", "t.csv", (_rows(30) + '40,f,"a\n' + "x" * 140_000 + "\n").encode(),
     "t.csv"),
    ("inf", "t.csv", _with_column("bmi", ["inf"] + ["21.5"] * 29).encode(), "'bmi'"),
    ("minus-inf", "t.csv", _with_column("bmi", ["21.5", "-inf"] + ["21.5"] * 28).encode(),
     "'bmi'"),
    ("Infinity", "t.csv", _with_column("bmi", ["Infinity"] + ["21.5"] * 29).encode(), "'bmi'"),
    ("1e999", "t.csv", _with_column("bmi", ["1e999"] + ["21.5"] * 29).encode(), "'bmi'"),
    ("passwd-like", "t.csv", PASSWD.encode(), "single column"),
    ("semicolon-separated", "t.csv", _rows(30).replace(",", ";").encode(), "';'"),
    ("tab-separated", "t.tsv", _rows(30).replace(",", "\t").encode(), "'\\t'"),
    ("free-text-lines", "t.txt",
     "".join(f"This is sentence number {i} of a free text.\n" for i in range(60)).encode(),
     "single column"),
    ("all-identifiers", "t.csv",
     ("id,name\n" + "".join(f"p{i},person {i}\n" for i in range(80))).encode(),
     "every column is an identifier"),
]


@pytest.mark.parametrize("name, content, culprit", [
    pytest.param(n, c, k, id=i) for i, n, c, k in TABLE_CASES])
def test_malformed_table_file(ws: Path, capsys: pytest.CaptureFixture[str], name: str,
                              content: bytes, culprit: str) -> None:
    (ws / name).write_bytes(content)
    code, err = _run(["audit", "--data", name, *QUICK, "--out", "out"], capsys)
    _refused(code, err, name, culprit)
    _no_results(ws)


@pytest.mark.parametrize("role", ["--train", "--control", "--synthetic"])
@pytest.mark.parametrize("case", ["header-only", "ragged-long-row", "corrupt-gzip",
                                  "zip-two-members", "latin-1", "inf", "passwd-like"])
def test_malformed_file_in_any_role(ws: Path, capsys: pytest.CaptureFixture[str], role: str,
                                    case: str) -> None:
    _, name, content, culprit = next(c for c in TABLE_CASES if c[0] == case)
    (ws / name).write_bytes(content)
    (ws / "train.csv").write_text(_rows(60))
    (ws / "control.csv").write_text(_rows(30))
    files = {"--train": "train.csv", "--control": "control.csv", "--synthetic": "train.csv",
             role: name}
    argv = ["audit", "--attack", "dcr-membership", "--out", "out"]
    for flag, path in files.items():
        argv += [flag, path]
    code, err = _run(argv, capsys)
    _refused(code, err, name, culprit)
    _no_results(ws)


# -- 5. paths that are not regular files -----------------------------------------------------

def _symlink_loop(ws: Path) -> str:
    (ws / "loop.csv").symlink_to("loop.csv")
    return "loop.csv"


def _dangling(ws: Path) -> str:
    (ws / "dangling.csv").symlink_to(ws / "nowhere.csv")
    return "dangling.csv"


def _folder(ws: Path) -> str:
    (ws / "folder.csv").mkdir()
    return "folder.csv"


def _socket(ws: Path) -> str:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(ws / "s.csv"))
    _SOCKETS.append(sock)
    return "s.csv"


def _below_a_file(ws: Path) -> str:
    return "rows.csv/inner.csv"


_SOCKETS: list[socket.socket] = []

SPECIAL: dict[str, tuple[Callable[[Path], str], str]] = {
    "missing": (lambda ws: "missing.csv", "not found"),
    "folder": (_folder, "folder"),
    "symlink-loop": (_symlink_loop, "loops"),
    "dangling-symlink": (_dangling, "not found"),
    "socket": (_socket, "socket"),
    "below-a-file": (_below_a_file, "not found"),
    "dev-null": (lambda ws: "/dev/null", "character device"),
}


@pytest.fixture(autouse=True)
def _close_sockets() -> Iterator[None]:
    yield
    while _SOCKETS:
        _SOCKETS.pop().close()


@pytest.mark.parametrize("role", ["--data", "--train", "--synthetic", "config"])
@pytest.mark.parametrize("kind", list(SPECIAL))
def test_path_that_is_not_a_regular_file(ws: Path, capsys: pytest.CaptureFixture[str],
                                         kind: str, role: str) -> None:
    make, culprit = SPECIAL[kind]
    path = make(ws)
    (ws / "other.csv").write_text(_rows(30))
    if role == "config":
        argv = ["audit", path]
    elif role == "--data":
        argv = ["audit", "--data", path, *QUICK]
    else:
        files = {"--train": "rows.csv", "--control": "other.csv", "--synthetic": "other.csv",
                 role: path}
        argv = ["audit", "--attack", "dcr-membership"]
        for flag, value in files.items():
            argv += [flag, value]
    code, err = _run([*argv, "--out", "out"], capsys)
    _refused(code, err, path, culprit)
    _no_results(ws)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root reads files whatever their permissions")
def test_unreadable_file(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (ws / "secret.csv").write_text(_rows(30))
    (ws / "secret.csv").chmod(0)
    code, err = _run(["audit", "--data", "secret.csv", *QUICK, "--out", "out"], capsys)
    _refused(code, err, "secret.csv", "permission denied")


def test_unreadable_file_as_root_too(ws: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Root reads any file, so the refusal is simulated where the permission is asked."""
    (ws / "secret.csv").write_text(_rows(30))
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: (
        False if str(p).endswith("secret.csv") else real_access(p, mode, **kw)))
    code, err = _run(["audit", "--data", "secret.csv", *QUICK, "--out", "out"], capsys)
    _refused(code, err, "secret.csv", "permission denied")


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRIVGATE_DEBUG")}
    return subprocess.run([sys.executable, "-m", "privgate.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("argv, culprit", [
    pytest.param(["audit", "--data", "pipe.csv", *QUICK], "named pipe", id="fifo-data"),
    pytest.param(["audit", "--train", "rows.csv", "--control", "rows.csv", "--synthetic",
                  "pipe.csv"], "named pipe", id="fifo-synthetic"),
    pytest.param(["audit", "pipe.csv"], "named pipe", id="fifo-config"),
    pytest.param(["audit", "--data", "/dev/zero", *QUICK], "character device",
                 id="dev-zero"),
    pytest.param(["audit", "--data", "/dev/stdin", *QUICK], "/dev/stdin", id="dev-stdin"),
])
def test_blocking_or_endless_file_is_refused_before_opening(ws: Path, argv: list[str],
                                                            culprit: str) -> None:
    """A named pipe blocks forever when opened, /dev/zero never ends: run in a subprocess."""
    os.mkfifo(ws / "pipe.csv")
    out = _cli([*argv, "--out", "out"], ws)
    _refused(out.returncode, out.stderr, culprit)


# -- 6. declared schemas that do not fit ------------------------------------------------------

def _schema_with(column: str, spec: str) -> str:
    """SCHEMA with the declaration of ``column`` replaced by ``spec`` (TOML lines)."""
    blocks = SCHEMA.split("[schema.columns.")
    out = [b for b in blocks if b.strip() and not b.startswith(column + "]")]
    return "".join("[schema.columns." + b for b in out) + spec


SCHEMA_CASES = [
    ("unknown-kind", _schema_with("age", '[schema.columns.age]\nkind = "integr"\n'),
     "schema.columns.age.kind"),
    ("unknown-role", _schema_with("age", '[schema.columns.age]\nkind = "integer"\n'
                                  'role = "qi"\nbounds = [0, 99]\n'), "schema.columns.age.role"),
    ("missing-kind", _schema_with("age", "[schema.columns.age]\nbounds = [0, 99]\n"),
     "'kind' is required"),
    ("bounds-one", _schema_with("age", '[schema.columns.age]\nkind = "integer"\nbounds = [1]\n'),
     "schema.columns.age.bounds"),
    ("bounds-nan", _schema_with("age", '[schema.columns.age]\nkind = "integer"\n'
                                "bounds = [nan, 1]\n"), "'age'"),
    ("bounds-inf", _schema_with("age", '[schema.columns.age]\nkind = "integer"\n'
                                "bounds = [0, inf]\n"), "'age'"),
    ("bounds-reversed", _schema_with("age", '[schema.columns.age]\nkind = "integer"\n'
                                     "bounds = [2, 1]\n"), "'age'"),
    ("bounds-strings", _schema_with("age", '[schema.columns.age]\nkind = "integer"\n'
                                    'bounds = ["a", "b"]\n'), "schema.columns.age.bounds"),
    ("bounds-bools", _schema_with("age", '[schema.columns.age]\nkind = "integer"\n'
                                  "bounds = [true, false]\n"), "schema.columns.age.bounds"),
    ("bounds-table", _schema_with("age", '[schema.columns.age]\nkind = "integer"\n'
                                  "bounds = { low = 0 }\n"), "schema.columns.age.bounds"),
    ("bounds-overflow", _schema_with("age", '[schema.columns.age]\nkind = "integer"\n'
                                       "bounds = [0, 1e400]\n"), "'age'"),
    ("categories-string", _schema_with("sex", '[schema.columns.sex]\nkind = "categorical"\n'
                                       'categories = "f,m"\n'), "schema.columns.sex.categories"),
    ("categories-table", _schema_with("sex", '[schema.columns.sex]\nkind = "categorical"\n'
                                      "categories = { f = 1 }\n"),
     "schema.columns.sex.categories"),
    ("categories-duplicate", _schema_with("sex", '[schema.columns.sex]\nkind = "categorical"\n'
                                          'categories = ["f", "m", "f"]\n'), "'sex'"),
    ("categories-empty", _schema_with("sex", '[schema.columns.sex]\nkind = "categorical"\n'
                                      "categories = []\n"), "'sex'"),
    ("categories-missing-values", _schema_with("dx", '[schema.columns.dx]\n'
                                               'kind = "categorical"\ncategories = ["a", "b"]\n'),
     "'dx'"),
    ("categorical-with-bounds", _schema_with("sex", '[schema.columns.sex]\n'
                                             'kind = "categorical"\nbounds = [0, 1]\n'), "'sex'"),
    ("integer-with-categories", _schema_with("age", '[schema.columns.age]\nkind = "integer"\n'
                                             "categories = [1, 2]\n"), "'age'"),
    ("nullable-string", _schema_with("age", '[schema.columns.age]\nkind = "integer"\n'
                                     'bounds = [0, 99]\nnullable = "yes"\n'),
     "schema.columns.age.nullable"),
    ("unknown-column-key", _schema_with("age", '[schema.columns.age]\nkind = "integer"\n'
                                        "bounds = [0, 99]\ncolour = 1\n"), "colour"),
    ("column-not-a-table", SCHEMA + "[schema.columns]\nbmi = 5\n", "bmi"),
    ("declared-column-absent", SCHEMA + '[schema.columns.bmi]\nkind = "continuous"\n'
                                        "bounds = [10, 50]\n", "'bmi'"),
    ("table-column-undeclared", _schema_with("dx", ""), "'dx'"),
    ("no-domain", _schema_with("age", '[schema.columns.age]\nkind = "integer"\n'), "'age'"),
    ("age-declared-categorical", _schema_with("age", '[schema.columns.age]\n'
                                              'kind = "categorical"\ncategories = [1, 2]\n'),
     "'age'"),
    ("sex-declared-integer", _schema_with("sex", '[schema.columns.sex]\nkind = "integer"\n'
                                          "bounds = [0, 1]\n"), "'sex'"),
    ("sex-declared-datetime", _schema_with("sex", '[schema.columns.sex]\nkind = "datetime"\n'
                                           "bounds = [0, 1]\n"), "'sex'"),
    ("roles-with-declared-columns", SCHEMA.replace("[schema.columns.age]",
                                                   '[schema]\nsensitive = ["dx"]\n'
                                                   "[schema.columns.age]"), "schema.sensitive"),
    ("two-roles", '[schema]\nquasi_identifiers = ["dx"]\ntarget = "dx"\n', "'dx'"),
    ("role-names-absent-column", '[schema]\nquasi_identifiers = ["zip"]\n', "'zip'"),
]


@pytest.mark.parametrize("schema, culprit", [
    pytest.param(s, c, id=i) for i, s, c in SCHEMA_CASES])
def test_declared_schema_that_does_not_fit(ws: Path, capsys: pytest.CaptureFixture[str],
                                           schema: str, culprit: str) -> None:
    (ws / "gate.toml").write_text(_toml({}) + schema, encoding="utf-8")
    code, err = _run(["audit", "gate.toml", "--out", "out"], capsys)
    _refused(code, err, culprit)
    _no_results(ws)


# -- 7. train / control / synthetic tables that disagree ---------------------------------------

TRAIN = _rows(60)
CONTROL = _rows(30)


def _numeric_rows(n: int, bmi: list[str] | None = None) -> str:
    bmi = bmi or [f"{18 + (i % 20) * 0.7:.1f}" for i in range(n)]
    return "age,sex,bmi\n" + "".join(f"{20 + i % 60},{'fm'[i % 2]},{b}\n"
                                     for i, b in enumerate(bmi))


SYNTHETIC_CASES = [
    ("lacks-a-column", TRAIN, CONTROL, "age,sex\n" + "30,f\n" * 30, "['dx']"),
    ("control-other-columns", TRAIN, CONTROL.replace("dx", "diagnosis"), TRAIN, "columns"),
    ("control-reordered-columns", TRAIN, "sex,age,dx\n" + "f,30,a\n" * 30, TRAIN, "columns"),
    ("unknown-category", TRAIN, CONTROL, TRAIN.replace(",a\n", ",z\n"), "'dx'"),
    ("missing-in-non-nullable", TRAIN, CONTROL, TRAIN.replace(",a\n", ",NaN\n"), "'dx'"),
    ("empty-cells", TRAIN, CONTROL, TRAIN.replace(",f,", ",,"), "'sex'"),
    ("inf-numeric", _numeric_rows(60), _numeric_rows(30),
     _numeric_rows(30, ["inf"] * 30), "'bmi'"),
    ("one-inf", _numeric_rows(60), _numeric_rows(30),
     _numeric_rows(30, ["21.5"] * 29 + ["-inf"]), "row 30"),
    ("Infinity-text", _numeric_rows(60), _numeric_rows(30),
     _numeric_rows(30, ["Infinity"] + ["21.5"] * 29), "'bmi'"),
    ("1e999", _numeric_rows(60), _numeric_rows(30),
     _numeric_rows(30, ["1e999"] + ["21.5"] * 29), "'bmi'"),
    ("text-in-numeric", _numeric_rows(60), _numeric_rows(30),
     _numeric_rows(30, ["heavy"] + ["21.5"] * 29), "'bmi'"),
    ("nan-in-numeric", _numeric_rows(60), _numeric_rows(30),
     _numeric_rows(30, ["nan"] + ["21.5"] * 29), "'bmi'"),
    ("header-only", TRAIN, CONTROL, "age,sex,dx\n", "header but no rows"),
    ("far-out-of-domain", _numeric_rows(60), _numeric_rows(30),
     _numeric_rows(30, ["21.5"] * 3 + ["1e6"] * 27), "'bmi': 90% of its values lie far"),
    ("huge-finite", _numeric_rows(60), _numeric_rows(30),
     _numeric_rows(30, ["1e300"] * 30), "'bmi'"),
    ("inf-in-train", _numeric_rows(60, ["inf"] + ["21.5"] * 59), _numeric_rows(30),
     _numeric_rows(30), "'bmi'"),
    ("inf-in-control", _numeric_rows(60), _numeric_rows(30, ["21.5"] * 29 + ["1e999"]),
     _numeric_rows(30), "'bmi'"),
]


@pytest.mark.parametrize("train, control, synthetic, culprit", [
    pytest.param(t, c, s, k, id=i) for i, t, c, s, k in SYNTHETIC_CASES])
def test_external_synthetic_table_that_does_not_fit(
        ws: Path, capsys: pytest.CaptureFixture[str], train: str, control: str,
        synthetic: str, culprit: str) -> None:
    for name, text in (("train.csv", train), ("control.csv", control),
                       ("synthetic.csv", synthetic)):
        (ws / name).write_text(text)
    code, err = _run(["audit", "--train", "train.csv", "--control", "control.csv",
                      "--synthetic", "synthetic.csv", "--attack", "dcr-membership",
                      "--out", "out"], capsys)
    _refused(code, err, culprit)
    _no_results(ws)


def test_synthetic_integer_column_may_hold_fractions_but_not_infinity() -> None:
    schema = Schema((Column("age", Kind.INTEGER, bounds=(0.0, 99.0)),))
    syn = pd.DataFrame({"age": [30.5, 41.25, 50.0]})
    out = conform(syn, schema, where="syn.csv", synthetic=True)
    assert out["age"].tolist() == [30.5, 41.25, 50.0]  # kept as floats
    with pytest.raises(InputError, match="declared integer but holds fractions"):
        conform(syn, schema, where="train.csv")
    with pytest.raises(InputError, match=r"syn.csv: column 'age' holds 1 infinite.*row 2"):
        conform(pd.DataFrame({"age": ["30", "inf", "40"]}), schema, where="syn.csv",
                synthetic=True)
    with pytest.raises(InputError, match="infinite"):
        conform(pd.DataFrame({"age": [30.0, -np.inf]}), schema, where="train.csv")
    with pytest.raises(InputError, match=r"syn.csv: column 'age': 1 value\(s\) lie outside "
                                         r"its declared bounds \[0, 99\]"):
        conform(pd.DataFrame({"age": [30.0, 40.5, 1e6]}), schema, where="syn.csv",
                synthetic=True)


# -- 8. a config file names paths outside its folder -------------------------------------------

@pytest.fixture
def outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config folder ``cfg`` (the current directory) and a table ``elsewhere/x.csv``."""
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.csv").write_text(_rows(19))
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "rows.csv").write_text(CSV)
    monkeypatch.chdir(cfg)
    return tmp_path


OUTSIDE_CASES = [
    ("etc-shadow", {"data.path": '"/etc/shadow"'}, "data.path"),
    ("etc-passwd", {"data.path": '"/etc/passwd"'}, "data.path"),
    ("dot-dot", {"data.path": '"../elsewhere/x.csv"'}, "data.path"),
    ("home", {"data.path": '"~/x.csv"'}, "data.path"),
    ("symlink-out", {"data.path": '"link.csv"'}, "data.path"),
    ("train", {"data.path": None, "data.train": '"../elsewhere/x.csv"',
               "data.control": '"rows.csv"'}, "data.train"),
    ("control", {"data.path": None, "data.control": '"/etc/hostname"',
                 "data.train": '"rows.csv"'}, "data.control"),
    ("synthetic", {"data.path": None, "data.synthetic": '"../elsewhere/x.csv"',
                   "data.train": '"rows.csv"', "data.control": '"rows.csv"'},
     "data.synthetic"),
    ("output", {"output": '"/tmp/privgate-out"'}, "output"),
    ("output-dot-dot", {"output": '"../report"'}, "output"),
    ("ledger", {"ledger.path": '"../ledger.sqlite"'}, "ledger.path"),
]


@pytest.mark.parametrize("overrides, key", [
    pytest.param(o, k, id=i) for i, o, k in OUTSIDE_CASES])
def test_config_path_outside_its_folder_is_refused(outside: Path,
                                                   capsys: pytest.CaptureFixture[str],
                                                   overrides: dict[str, str | None],
                                                   key: str) -> None:
    (outside / "cfg" / "link.csv").symlink_to(outside / "elsewhere" / "x.csv")
    (outside / "cfg" / "gate.toml").write_text(_toml(overrides), encoding="utf-8")
    code, err = _run(["audit", "gate.toml"], capsys)
    _refused(code, err, f"'{key}'", "--allow-paths-outside-config", "gate.toml")
    assert "outside the config file's folder" in err
    _no_results(outside)


def test_allowing_paths_outside_reads_them(outside: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    (outside / "cfg" / "gate.toml").write_text(_toml({"data.path": '"../elsewhere/x.csv"'}))
    code, err = _run(["audit", "gate.toml", "--out", "out", "--allow-paths-outside-config"],
                     capsys)
    _refused(code, err, "x.csv", "19 rows")  # read (and refused for its size), not fenced
    assert "outside the config file's folder" not in err


def test_command_line_paths_are_not_fenced(outside: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    (outside / "cfg" / "gate.toml").write_text(_toml({"data.path": '"/etc/shadow"'}))
    code, err = _run(["audit", "gate.toml", "--data", "../elsewhere/x.csv", "--out",
                      "../out"], capsys)
    _refused(code, err, "x.csv", "19 rows")
    assert "outside the config file's folder" not in err


def test_passwd_like_file_never_reaches_results(outside: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (outside / "elsewhere" / "passwd").write_text(PASSWD)
    (outside / "cfg" / "gate.toml").write_text(_toml({"data.path": '"../elsewhere/passwd"'}))
    code, err = _run(["audit", "gate.toml", "--out", "out", "--allow-paths-outside-config"],
                     capsys)
    _refused(code, err, "passwd", "single column")
    _no_results(outside)
    assert "user7" not in err  # the file's content is not quoted


def test_synth_config_ledger_outside_its_folder(outside: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (outside / "cfg" / "gate.toml").write_text('[ledger]\npath = "/tmp/elsewhere.sqlite"\n')
    code, err = _run(["synth", "--data", "rows.csv", "--generator", "gmm", "--config",
                      "gate.toml", "--out", "s.csv"], capsys)
    _refused(code, err, "'ledger.path'", "--allow-paths-outside-config")


@pytest.mark.parametrize("case", ["empty", "header-only", "corrupt-xz", "zip-two-members",
                                  "utf-16", "1e999", "free-text-lines", "passwd-like"])
def test_malformed_file_for_synth(ws: Path, capsys: pytest.CaptureFixture[str],
                                  case: str) -> None:
    _, name, content, culprit = next(c for c in TABLE_CASES if c[0] == case)
    (ws / name).write_bytes(content)
    code, err = _run(["synth", "--data", name, "--generator", "gmm", "--out", "s.csv"], capsys)
    _refused(code, err, name, culprit)
    assert not (ws / "s.csv").exists()


def test_the_edges_of_every_range_are_accepted() -> None:
    """Borderline-valid values parse: the limits are inclusive where the rule says so."""
    from privgate.config import parse_config
    from privgate.limits import MAX_JOBS, MAX_ROWS

    config = parse_config({
        "seed": SEED_LIMIT - 1, "metrics": [], "confidence_level": 0.999,
        "data": {"path": "rows.csv", "max_rows": MAX_ROWS, "control_fraction": 0.01},
        "generators": [{"name": "dpsgd-vae", "epsilon": MAX_EPSILON, "delta": 0.0,
                        "rows": MAX_ROWS}],
        "ledger": {"total_epsilon": MAX_TOTAL_EPSILON},
        "execution": {"n_jobs": MAX_JOBS, "plugin_timeout_s": MAX_TIMEOUT_S},
        "report": {"min_cell_size": 1},
    }, where="gate.toml")
    assert config.metrics == [] and config.refs("metrics") == []  # [] means: no metrics
    assert parse_config({"seed": 0, "execution": {"n_jobs": -1}}, where="gate.toml").seed == 0


def test_an_attack_that_needs_the_generator_is_refused_for_a_synthetic_file(
        ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """shadow-membership retrains the generator: with --synthetic there is none (exit 2 at
    once, before any attack ran)."""
    (ws / "train.csv").write_text(CSV)
    (ws / "control.csv").write_text(CSV)
    code, err = _run(["audit", "--train", "train.csv", "--control", "control.csv",
                      "--synthetic", "rows.csv", "--attack", "shadow-membership",
                      "--no-ledger", "--out", "out"], capsys)
    _refused(code, err, "shadow-membership", "--synthetic")
    _no_results(ws)
