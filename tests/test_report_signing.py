"""The released artefact and a real signature: ``privgate keygen``, ``sign``, ``verify --key
--synthetic``, ``audit --sign``; ``report`` refusing results whose statuses contradict their
numbers, ``--compare`` refusing inputs that fail verification. On the hand-made fixture (fast)
and one small real audit (slow)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from privgate.cli import main
from privgate.outputs import write_released
from privgate.results import dumps
from privgate.signing import SIDECAR, envelope_of, generate_keypair
from privgate.verify import REPORT_META, REPORT_TAG, seal_html

FIXTURE = Path(__file__).parent / "fixtures" / "example_results.json"
SYNTHETIC = pd.DataFrame({"age": [30, 41, 52], "sex": ["f", "m", "f"]})


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    """Two key pairs: the signer's and someone else's."""
    out = {}
    for who in ("signer", "other"):
        private, public = tmp_path / f"{who}.pem", tmp_path / f"{who}.pub"
        generate_keypair(private, public)
        out[who], out[f"{who}_pub"] = private, public
    return out


def _folder(tmp_path: Path, name: str = "audit") -> Path:
    """An audit folder as an audit leaves it: results.json (with the released files),
    report.html rendered from it, and the synthetic table as CSV and Parquet."""
    out = tmp_path / name
    out.mkdir()
    result = json.loads(FIXTURE.read_text("utf-8"))
    run = SimpleNamespace(name="dpsgd-vae", gated=True, synthetic=SYNTHETIC, error=None)
    result["released"] = write_released([run], out)
    (out / "results.json").write_text(dumps(result), "utf-8")
    assert main(["report", str(out / "results.json")]) == 0
    return out


def _signed(tmp_path: Path, keys: dict[str, Path], key: str = "signer") -> Path:
    out = _folder(tmp_path)
    assert main(["sign", "--key", str(keys[key]), "--signer", "Dr. Ana Lima", str(out)]) == 0
    return out


def _verify(out: Path, *extra: str) -> int:
    return main(["verify", str(out / "report.html"), str(out / "results.json"), *extra])


def test_audit_folder_holds_the_released_file_and_its_hash(tmp_path: Path) -> None:
    out = _folder(tmp_path)
    result = json.loads((out / "results.json").read_text("utf-8"))
    files = {r["file"]: r for r in result["released"]}
    assert set(files) == {"synthetic-dpsgd-vae.csv", "synthetic-dpsgd-vae.parquet"}
    assert pd.read_parquet(out / "synthetic-dpsgd-vae.parquet").equals(SYNTHETIC)
    html = (out / "report.html").read_text("utf-8")
    first = html[html.index('id="verdict"'):html.index("</section>")]
    for item in files.values():  # on the first screen, with its SHA-256
        assert item["file"] in first and item["sha256"] in first and item["rows"] == 3


def test_verify_synthetic_detects_a_later_edit(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = _folder(tmp_path)
    csv = out / "synthetic-dpsgd-vae.csv"
    assert _verify(out, "--synthetic", str(csv)) == 0
    assert "checksum, not a signature" in capsys.readouterr().out  # says so in those words
    csv.write_text(csv.read_text() + "99,m\n")
    assert _verify(out, "--synthetic", str(csv)) == 1
    assert "not a synthetic file this audit released" in capsys.readouterr().err
    assert main(["verify", str(out / "report.html"), "--synthetic",
                 str(out / "synthetic-dpsgd-vae.parquet")]) == 0  # the report alone suffices


def test_signed_report_names_signer_and_key_and_verifies(
        tmp_path: Path, keys: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    out = _signed(tmp_path, keys)
    html = (out / "report.html").read_text("utf-8")
    envelope = envelope_of(html)
    assert envelope is not None
    assert json.loads((out / SIDECAR).read_text("utf-8")) == envelope
    fp = envelope["manifest"]["key_fingerprint"]
    assert "Digitally signed by Dr. Ana Lima" in html and fp in html
    assert "Not digitally signed" not in html and 'id="privgate-signed"' not in html
    capsys.readouterr()
    assert _verify(out, "--synthetic", str(out / "synthetic-dpsgd-vae.csv"),
                   "--key", str(keys["signer_pub"])) == 0
    assert "signed by Dr. Ana Lima with the key given" in capsys.readouterr().out
    assert _verify(out) == 0  # the seal still holds after signing


def test_verify_key_rejects_results_edited_and_rerendered(
        tmp_path: Path, keys: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    out = _signed(tmp_path, keys)
    forged = tmp_path / "forged"
    forged.mkdir()
    result = json.loads((out / "results.json").read_text("utf-8"))
    result["title"] = "A better-looking audit"  # an edit that contradicts nothing
    (forged / "results.json").write_text(dumps(result), "utf-8")
    for item in result["released"]:
        shutil.copy(out / item["file"], forged / item["file"])
    assert main(["report", str(forged / "results.json")]) == 0
    assert _verify(forged) == 0  # a checksum: anyone can re-seal
    assert _verify(forged, "--key", str(keys["signer_pub"])) == 1
    assert "is not signed" in capsys.readouterr().err
    # re-rendered beside the signed report, the edit is refused outright
    (out / "results.json").write_text(dumps(result), "utf-8")
    assert main(["report", str(out / "results.json"), "--out", str(tmp_path / "x.html")]) == 2
    assert "fails verification" in capsys.readouterr().err


def test_verify_key_rejects_an_edited_report(tmp_path: Path, keys: dict[str, Path],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = _signed(tmp_path, keys)
    html = (out / "report.html").read_text("utf-8").replace("Verdict: PASS", "Verdict: PASS!")
    (out / "report.html").write_text(html, "utf-8")
    assert _verify(out, "--key", str(keys["signer_pub"])) == 1
    assert "was edited after it was generated" in capsys.readouterr().err
    # resealed by hand: the seal holds, the signature does not
    blank = REPORT_TAG.sub(f'<meta name="{REPORT_META}" content="">', html, count=1)
    (out / "report.html").write_text(seal_html(blank), "utf-8")
    assert _verify(out, "--key", str(keys["signer_pub"])) == 1
    assert "changed after it was signed" in capsys.readouterr().err


def test_verify_key_rejects_an_edited_synthetic_file(
        tmp_path: Path, keys: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    out = _signed(tmp_path, keys)
    parquet = out / "synthetic-dpsgd-vae.parquet"
    SYNTHETIC.assign(age=SYNTHETIC["age"] + 1).to_parquet(parquet, index=False)
    assert _verify(out, "--synthetic", str(parquet), "--key", str(keys["signer_pub"])) == 1
    assert "not a synthetic file this audit released" in capsys.readouterr().err


def test_verify_key_rejects_a_report_signed_by_another_key(
        tmp_path: Path, keys: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    out = _signed(tmp_path, keys, key="other")
    assert _verify(out, "--key", str(keys["signer_pub"])) == 1
    assert "was signed by another key" in capsys.readouterr().err
    assert _verify(out, "--key", str(keys["other_pub"])) == 0


def test_a_signature_copied_into_another_report_does_not_hold(
        tmp_path: Path, keys: dict[str, Path]) -> None:
    out = _signed(tmp_path, keys)
    tag = re.search(r'<meta name="privgate-signature" content="[^"]*">',
                    (out / "report.html").read_text("utf-8"))
    assert tag is not None
    other = _folder(tmp_path, "other")
    html = (other / "report.html").read_text("utf-8")
    html = re.sub(r'<meta name="privgate-signature" content="">', tag.group(0), html)
    html = REPORT_TAG.sub(f'<meta name="{REPORT_META}" content="">', html, count=1)
    (other / "report.html").write_text(seal_html(html), "utf-8")
    assert _verify(other, "--key", str(keys["signer_pub"])) == 1


def test_sign_refuses_a_folder_that_does_not_verify(tmp_path: Path, keys: dict[str, Path],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = _folder(tmp_path)
    (out / "synthetic-dpsgd-vae.csv").write_text("age,sex\n1,f\n")
    assert main(["sign", "--key", str(keys["signer"]), "--signer", "X", str(out)]) == 2
    assert "cannot be signed" in capsys.readouterr().err
    again = tmp_path / "again"
    again.mkdir()
    signed = _signed(again, keys)  # and a folder signed once is not signed again
    assert main(["sign", "--key", str(keys["signer"]), "--signer", "X", str(signed)]) == 2
    assert "already signed" in capsys.readouterr().err


def test_keygen_never_overwrites_and_encrypts_with_a_passphrase(
        tmp_path: Path, keys: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["keygen", "--private", str(keys["signer"]), "--public",
                 str(tmp_path / "new.pub")]) == 2
    assert keys["signer"].stat().st_mode & 0o077 == 0  # owner-only
    monkeypatch.setenv("PRIVGATE_KEY_PASSPHRASE", "correct horse")
    assert main(["keygen", "--private", str(tmp_path / "enc.pem"), "--public",
                 str(tmp_path / "enc.pub")]) == 0
    assert b"ENCRYPTED" in (tmp_path / "enc.pem").read_bytes()
    out = _folder(tmp_path)
    assert main(["sign", "--key", str(tmp_path / "enc.pem"), "--signer", "X", str(out)]) == 0
    monkeypatch.delenv("PRIVGATE_KEY_PASSPHRASE")
    out2 = _folder(tmp_path, "second")
    assert main(["sign", "--key", str(tmp_path / "enc.pem"), "--signer", "X", str(out2)]) == 2


# ---------------------------------------------------------------------------- refusals


def _contradicting(result: dict[str, Any]) -> dict[str, Any]:
    check = next(c for c in result["checks"] if c["gated"])
    check.update(status="pass", ci_high=check["threshold"] * 2, risk=check["threshold"] * 1.5)
    return result


def test_report_refuses_statuses_that_contradict_their_numbers(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "results.json"
    path.write_text(dumps(_contradicting(json.loads(FIXTURE.read_text("utf-8")))), "utf-8")
    assert main(["report", str(path)]) == 2
    err = capsys.readouterr().err
    assert "contradict" in err and "is not at or below the threshold" in err
    assert not (tmp_path / "report.html").exists()
    doc = json.loads(FIXTURE.read_text("utf-8"))
    doc["verdict"] = "fail"  # a headline its checks do not give
    path.write_text(dumps(doc), "utf-8")
    assert main(["report", str(path)]) == 2
    assert "the verdict says fail but its checks give pass" in capsys.readouterr().err


def test_compare_refuses_inputs_that_fail_verification(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _folder(tmp_path)
    doctored = tmp_path / "doctored.json"
    doc = json.loads(FIXTURE.read_text("utf-8"))
    doc["verdict"], doc["exit_code"] = "fail", 1  # headline contradicting the table
    doctored.write_text(dumps(doc), "utf-8")
    out = tmp_path / "cmp.html"
    assert main(["report", "--compare", str(good / "results.json"), str(doctored),
                 "--out", str(out)]) == 2
    assert "contradict" in capsys.readouterr().err and not out.exists()
    # consistent, but edited after the report beside it was made
    result = json.loads((good / "results.json").read_text("utf-8"))
    result["title"] = "edited"
    (good / "results.json").write_text(dumps(result), "utf-8")
    assert main(["report", "--compare", str(FIXTURE), str(good / "results.json"),
                 "--out", str(out)]) == 2
    assert "fails verification" in capsys.readouterr().err


def test_compare_with_a_key_needs_signed_inputs(tmp_path: Path, keys: dict[str, Path],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    signed = _signed(tmp_path, keys)
    unsigned = _folder(tmp_path, "unsigned")
    out = tmp_path / "cmp.html"
    args = ["report", "--compare", str(unsigned / "results.json"),
            str(signed / "results.json"), "--out", str(out), "--key", str(keys["signer_pub"])]
    assert main(args) == 2
    assert "is not signed" in capsys.readouterr().err
    args[2] = str(signed / "results.json")
    assert main(args) == 0 and out.exists()


@pytest.mark.slow
def test_audit_sign_end_to_end(tmp_path: Path, keys: dict[str, Path],
                               capsys: pytest.CaptureFixture[str]) -> None:
    """A real audit writes and signs the synthetic table it audited."""
    rows = pd.DataFrame({"age": [20 + (i * 7) % 60 for i in range(120)],
                         "sex": ["f", "m"] * 60, "dx": ["a", "b", "c", "d"] * 30})
    rows.to_csv(tmp_path / "rows.csv", index=False)
    out = tmp_path / "out"
    code = main(["audit", "--data", str(tmp_path / "rows.csv"), "--generator", "gmm",
                 "--attack", "dcr-membership", "--seed", "0", "--out", str(out),
                 "--no-ledger", "--sign", str(keys["signer"]), "--signer", "Dr. Ana Lima"])
    assert code in (0, 1)
    printed = capsys.readouterr().out
    result = json.loads((out / "results.json").read_text("utf-8"))
    assert [r["file"] for r in result["released"]] == ["synthetic-gmm.csv",
                                                       "synthetic-gmm.parquet"]
    assert result["released"][0]["sha256"] in printed.replace("\n", "")
    assert (out / SIDECAR).is_file()
    assert _verify(out, "--synthetic", str(out / "synthetic-gmm.parquet"),
                   "--key", str(keys["signer_pub"])) == 0
    if code == 1:  # not approved: the synthetic table stays owner-only
        assert (out / "synthetic-gmm.csv").stat().st_mode & 0o077 == 0
