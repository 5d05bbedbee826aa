"""``privgate report results.json`` never replaces a signed report: a re-render is unsigned,
so beside a signed ``report.html`` (no ``--out``), or with ``--out`` naming one, it exits 2
naming the file and suggesting ``--out``; the signed report is left byte for byte."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from privgate.cli import main
from privgate.outputs import write_released
from privgate.results import dumps
from privgate.signing import generate_keypair

FIXTURE = Path(__file__).parent / "fixtures" / "example_results.json"


def _signed_folder(tmp_path: Path) -> Path:
    out = tmp_path / "audit"
    out.mkdir()
    result = json.loads(FIXTURE.read_text("utf-8"))
    run = SimpleNamespace(name="dpsgd-vae", gated=True, error=None,
                          synthetic=pd.DataFrame({"age": [30, 41], "sex": ["f", "m"]}))
    result["released"] = write_released([run], out)
    (out / "results.json").write_text(dumps(result), "utf-8")
    assert main(["report", str(out / "results.json")]) == 0  # unsigned: re-rendered in place
    assert main(["report", str(out / "results.json")]) == 0
    key, pub = tmp_path / "k.pem", tmp_path / "k.pub"
    generate_keypair(key, pub)
    assert main(["sign", "--key", str(key), "--signer", "Dr. Ana Lima", str(out)]) == 0
    return out


def test_report_without_out_refuses_to_replace_a_signed_report(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = _signed_folder(tmp_path)
    signed = (out / "report.html").read_bytes()
    capsys.readouterr()
    assert main(["report", str(out / "results.json")]) == 2
    err = capsys.readouterr().err
    assert str(out / "report.html") in err and "signed report" in err and "--out" in err
    assert (out / "report.html").read_bytes() == signed
    # an explicit --out naming it (or its folder) is refused the same way
    assert main(["report", str(out / "results.json"), "--out", str(out / "report.html")]) == 2
    assert main(["report", str(out / "results.json"), "--out", str(out)]) == 2
    assert (out / "report.html").read_bytes() == signed
    # elsewhere is fine, and the signed report is untouched
    assert main(["report", str(out / "results.json"), "--out",
                 str(out / "report-rerendered.html")]) == 0
    assert (out / "report-rerendered.html").is_file()
    assert (out / "report.html").read_bytes() == signed
