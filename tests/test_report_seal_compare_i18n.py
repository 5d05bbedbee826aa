"""``privgate verify``, ``privgate report --compare`` and ``--lang ko``: the CLI paths of the
report, on the hand-made fixture result (fast; no training)."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po

from privgate.cli import main
from privgate.reports import sections as builtin_sections
from privgate.reports.html import render
from privgate.reports.i18n import Lang, extract_messages, po_path
from privgate.results import dumps

FIXTURE = Path(__file__).parent / "fixtures" / "example_results.json"


@pytest.fixture
def audit(tmp_path: Path) -> tuple[Path, Path]:
    """A results.json (canonical text) and the report.html rendered from it by the CLI."""
    results = tmp_path / "results.json"
    results.write_text(dumps(json.loads(FIXTURE.read_text(encoding="utf-8"))), "utf-8")
    assert main(["report", str(results)]) == 0
    return tmp_path / "report.html", results


def _flip_byte(path: Path, needle: bytes) -> None:
    """Change one byte of ``path`` inside the first occurrence of ``needle``."""
    data = bytearray(path.read_bytes())
    at = data.index(needle)
    data[at] = data[at] ^ 0x01
    path.write_bytes(bytes(data))


# ---------------------------------------------------------------------------- verify


def test_verify_match(audit: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    report, results = audit
    assert main(["verify", str(report), str(results)]) == 0
    assert "match" in capsys.readouterr().out


@pytest.mark.parametrize("needle", [b"What decided it", b"covid_testing", b"</footer>"])
def test_verify_one_byte_edited_in_report(audit: tuple[Path, Path], needle: bytes,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    report, results = audit
    _flip_byte(report, needle)
    assert main(["verify", str(report), str(results)]) == 1
    assert "report.html was edited" in capsys.readouterr().err


def test_verify_report_with_a_forged_seal(audit: tuple[Path, Path],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    report, results = audit
    html = report.read_text("utf-8")
    html = re.sub(r'(privgate-report-sha256" content=")[0-9a-f]{64}', r"\g<1>" + "0" * 64, html)
    report.write_text(html, "utf-8")
    assert main(["verify", str(report), str(results)]) == 1
    assert "was edited" in capsys.readouterr().err


@pytest.mark.parametrize("needle", [b'"risk": 0.004', b'"verdict": "pass"', b"}\n"])
def test_verify_one_byte_edited_in_results(audit: tuple[Path, Path], needle: bytes,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    report, results = audit
    _flip_byte(results, needle)
    assert main(["verify", str(report), str(results)]) == 1
    err = capsys.readouterr().err
    assert "results.json was edited" in err


def test_verify_different_audits(audit: tuple[Path, Path], tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    report, results = audit
    other = json.loads(results.read_text("utf-8"))
    other["timestamps"]["started_at"] = "2025-12-01T09:00:00+00:00"
    other_path = tmp_path / "other.json"
    other_path.write_text(dumps(other), "utf-8")
    assert main(["verify", str(report), str(other_path)]) == 1
    assert "belong to different audits" in capsys.readouterr().err


def test_verify_unreadable_or_unsealed_is_bad_input(audit: tuple[Path, Path], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    report, results = audit
    assert main(["verify", str(tmp_path / "missing.html"), str(results)]) == 2
    assert "missing.html: report not found" in capsys.readouterr().err
    assert main(["verify", str(report), str(tmp_path / "missing.json")]) == 2
    plain = tmp_path / "plain.html"
    plain.write_text("<html><body>hello</body></html>", "utf-8")
    assert main(["verify", str(plain), str(results)]) == 2
    assert "not a sealed privgate report" in capsys.readouterr().err


def test_verify_reports_rerendered_in_korean_and_non_canonical_results(
        audit: tuple[Path, Path], tmp_path: Path) -> None:
    _, results = audit
    # a results.json written by hand (other whitespace) still seals to its own bytes; in a
    # folder of its own (beside the report of the canonical file it would be refused as edited)
    (tmp_path / "loose").mkdir()
    loose = tmp_path / "loose" / "loose.json"
    loose.write_text(json.dumps(json.loads(results.read_text("utf-8"))), "utf-8")
    out = tmp_path / "ko.html"
    assert main(["report", str(loose), "--lang", "ko", "--out", str(out)]) == 0
    assert main(["verify", str(out), str(loose)]) == 0
    assert '<html lang="ko">' in out.read_text("utf-8")


# ---------------------------------------------------------------------------- compare


def test_compare_renders_changes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = json.loads(FIXTURE.read_text("utf-8"))
    new = copy.deepcopy(old)
    new["verdict"], new["exit_code"] = "fail", 1
    new["policies"][0]["verdict"] = "fail"
    first = new["checks"][0]
    first.update(risk=0.2, ci_low=0.15, ci_high=0.25, status="fail")
    new["generators"][0]["verdicts"] = {k: "fail" for k in new["generators"][0]["verdicts"]}
    new["checks"][1]["risk"] = old["checks"][1]["risk"] / 2
    new["generators"] = [g for g in new["generators"] if g["name"] != "gmm"]
    new["checks"] = [c for c in new["checks"] if c["generator"] != "gmm"]
    new["generators"].append({"name": "ctgan-dp", "attacks": [], "metrics": []})
    (tmp_path / "old.json").write_text(dumps(old), "utf-8")
    (tmp_path / "new.json").write_text(dumps(new), "utf-8")
    out = tmp_path / "cmp"
    code = main(["report", "--compare", str(tmp_path / "old.json"), str(tmp_path / "new.json"),
                 "--out", str(out)])
    assert code == 0
    html = (out / "comparison.html").read_text("utf-8")
    text = re.sub(r"<[^>]+>", " ", html)
    text = re.sub(r"\s+", " ", text)
    assert "Verdict: PASS → FAIL" in text
    assert "The verdict changed from PASS to FAIL." in text
    assert "▲ risk up (+0.196)" in text and "▼ risk down" in text
    assert "✓ PASS → ✗ FAIL changed" in text
    assert "check removed" in text  # the gmm checks
    assert "Generators ctgan-dp gmm" in text  # added ctgan-dp, removed gmm
    assert "default-src 'none'" in html and "<script" not in html
    for name in ("old.json", "new.json"):  # each audit named by its file's SHA-256
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() in html


def test_compare_in_korean_and_needs_two_files(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(FIXTURE, tmp_path / "a.json")
    out = tmp_path / "c.html"
    assert main(["report", "--compare", str(FIXTURE), str(tmp_path / "a.json"), "--lang", "ko",
                 "--out", str(out)]) == 0
    html = out.read_text("utf-8")
    assert "두 감사의 비교" in html and "판정은 바뀌지 않았습니다." in html
    assert main(["report", "--compare", str(FIXTURE), str(tmp_path / "nope.json")]) == 2
    assert main(["report"]) == 2


# ---------------------------------------------------------------------------- languages


def test_every_message_has_a_korean_translation() -> None:
    with po_path("ko").open("rb") as fh:
        catalog = read_po(fh, locale="ko")
    used = extract_messages()
    assert len(used) > 250
    missing = []
    for msgid, where in used.items():
        msg = catalog.get(msgid)
        text = msg.string if msg is not None else None
        texts = list(text) if isinstance(text, tuple | list) else [text]
        if msg is None or msg.fuzzy or not all(texts):
            missing.append((msgid, where))
    assert missing == []
    # placeholders survive translation
    for msgid in used:
        ids = msgid if isinstance(msgid, tuple) else (msgid,)
        msg = catalog.get(msgid)
        assert msg is not None
        texts = msg.string if isinstance(msg.string, tuple | list) else [msg.string]
        want = set(re.findall(r"%\((\w+)\)s", ids[-1])) - {"num"}
        assert want <= set(re.findall(r"%\((\w+)\)s", texts[0])), msgid


def test_no_english_leaks_into_the_korean_report() -> None:
    result = json.loads(FIXTURE.read_text("utf-8"))
    result["lang"] = "ko"
    html = render(result, builtin_sections.privgate_report_sections(result) or [])
    assert "감사 대상 표의 스키마" in html  # the built-in sections follow the language
    plugin_text = json.dumps([result["catalog"], result["policies"], result["title"]])
    lang = Lang.get("ko")
    leaks = []
    used = extract_messages()
    translated = [lang._t.gettext(m if isinstance(m, str) else m[0]) for m in used]
    for msgid in used:
        english = msgid[0] if isinstance(msgid, tuple) else msgid
        if lang._t.gettext(english) == english:
            continue  # the same in both (AUROC, [%(low)s, %(high)s], ...)
        for piece in re.split(r"%\(\w+\)s|<[^>]+>", english):
            piece = piece.strip(" .,:;()")
            kept = any(piece in t for t in translated)  # a term kept on purpose
            shown = piece.replace("'", "&#39;").replace('"', "&#34;") in html
            if len(piece) >= 14 and piece not in plugin_text and not kept and shown:
                leaks.append(piece)
    assert leaks == []
    assert '<html lang="ko">' in html and "판정: 통과" in html


def test_korean_numbers_and_dates_use_the_locale() -> None:
    ko, en = Lang.get("ko"), Lang.get("en")
    stamp = "2025-11-23T10:41:57+00:00"
    assert ko.datetime(stamp).startswith("2025년 11월 23일")
    assert en.datetime(stamp).startswith("November 23, 2025")
    assert ko.count(10866) == "10,866" and en.pct(0.0241) == "2.41%"
    assert en.num(0.00001) == "0.00001" and en.num(2.874) == "2.87"
    assert Lang.get("xx").code == "en"  # unknown languages fall back to English


def test_lang_flag_reaches_the_audit_config() -> None:
    from privgate.cli_config import apply_flags as _apply_flags
    from privgate.cli_config import demo_config
    from privgate.cli_parser import build_parser

    args = build_parser().parse_args(["audit", "--data", "x.csv", "--lang", "ko"])
    assert _apply_flags({}, args)["report"]["lang"] == "ko"
    demo = demo_config(build_parser().parse_args(["demo", "--lang", "ko"]))
    assert demo.report.lang == "ko"


@pytest.mark.parametrize("argv", [["report", "r.json", "--lang", "fr"],
                                  ["report", "--compare", "a.json", "b.json", "--lang", "fr"],
                                  ["audit", "--data", "x.csv", "--lang", "fr"],
                                  ["demo", "--lang", "fr"]])
def test_lang_is_checked_against_the_registered_reporters(
        argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """The languages come from the reporters' contract (Reporter.languages), checked once the
    registry is built and before anything is read or trained: exit 2 naming the flag."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--lang: 'fr'" in err and "en, ko" in err


def _korean(result: dict[str, Any]) -> str:
    return render({**result, "lang": "ko"}, [])


def test_korean_report_renders_every_verdict() -> None:
    result = json.loads(FIXTURE.read_text("utf-8"))
    for verdict, word in (("pass", "통과"), ("fail", "불합격"), ("cannot-certify", "인증 불가"),
                          ("error", "오류")):
        result["verdict"] = verdict
        assert f"판정: {word}" in _korean(result)


def test_update_catalog_keeps_every_translation(tmp_path: Path) -> None:
    from privgate.reports.i18n import update_catalog

    target = tmp_path / "ko.po"
    assert update_catalog("ko", str(target)) == []
    with target.open("rb") as fh:
        rewritten = read_po(fh, locale="ko")
    with po_path("ko").open("rb") as fh:
        shipped = read_po(fh, locale="ko")
    assert {m.id: m.string for m in rewritten if m.id} == {
        m.id: m.string for m in shipped if m.id}
