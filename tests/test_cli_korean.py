"""``privgate plan`` and ``privgate synth`` under ``--lang ko``: headers, summary lines,
baselines, warnings, suggestions, progress and the lines synth prints come from the command
line's catalog, and the reasons core's checks write (privgate.certification, privgate.planning)
from the report's plugin catalog by template; English output stays as it was."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from privgate.cli import main
from privgate.cli_plan import show
from privgate.cli_sign import translator
from privgate.planning import PlannedCheck, PlanReport, Suggestion

COLUMNS = ("age", "sex", "city")
#: Names printed as they are: plugins, the policy, risk kinds, columns.
NAMES = ("expert-determination-0.09", "dcr-membership", "verbatim-copy", "gaussian-copula",
         "identity-disclosure", "membership-low-fpr", "singling-out", "linkability",
         "inference", "(none)", *COLUMNS)
#: Three English words in a row: an untranslated sentence.
ENGLISH = re.compile(r"[A-Za-z]{2,}(?:[ ,;:]+[A-Za-z]{2,}){2,}")


def _english(text: str, *paths: Path) -> list[str]:
    flat = " ".join(text.split())  # rich wraps long lines
    flat = re.sub(r"`[^`]*`|--\w+ COL", " ", flat)  # a command to type stays as it is
    for name in sorted(NAMES + tuple(str(p) for p in paths), key=len, reverse=True):
        flat = flat.replace(name, " ")
    return ENGLISH.findall(flat)


def _table(tmp_path: Path) -> Path:
    data = tmp_path / "t.csv"
    n = 300
    pd.DataFrame({"age": [20 + i % 50 for i in range(n)],
                  "sex": ["f" if i % 3 else "m" for i in range(n)],
                  "city": [f"c{i % 7}" for i in range(n)]}).to_csv(data, index=False)
    return data


def test_plan_and_synth_with_lang_ko_print_no_english_sentence(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _table(tmp_path)
    code = main(["plan", "--data", str(data), "--attack", "dcr-membership", "--attack",
                 "verbatim-copy", "--lang", "ko", "--seed", "0"])
    assert code == 1
    out, err = capsys.readouterr()
    assert _english(out + err, data) == [], out + err
    assert "가능한 시행" in out and "이 표로는 인증할 수 없음" in out
    assert "기준선 (dcr-membership): 학습 행 210개 대 대조 행 90개" in out
    assert "검사 계획 세우기 (생성기는 학습하지 않음): 완료" in err

    out_csv = tmp_path / "s.csv"
    assert main(["synth", "--data", str(data), "--generator", "gaussian-copula", "--out",
                 str(out_csv), "--lang", "ko"]) == 0
    out, err = capsys.readouterr()
    assert _english(out + err, data, out_csv) == [], out + err
    assert f"합성 행 300개를 {out_csv}에 썼습니다" in out
    assert "gaussian-copula 학습 (300행): 완료" in err


def test_synth_takes_the_configs_report_lang(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    data = _table(tmp_path)
    config = tmp_path / "gate.toml"
    config.write_text('[report]\nlang = "ko"\n', "utf-8")
    assert main(["synth", "--data", str(data), "--generator", "gaussian-copula", "--config",
                 str(config), "--out", str(tmp_path / "s.csv")]) == 0
    assert "합성 행 300개를" in capsys.readouterr().out


def _report() -> PlanReport:
    blocked = PlannedCheck("p", "dcr", "membership", 0.09, False, 300, 1932, 0.0, 0.2,
                           reasons=("even a leak-free table would show an upper bound of about "
                                    "0.228 (> 0.09) with the 300 trials this table allows",),
                           notes=("210 training rows against 90 control rows",))
    weak = PlannedCheck("p", "vc", "copy", 0.002, True, 2000, 1500, 0.5, 0.001)
    said = ("judge by %(policy)s instead", {"policy": "q"})
    return PlanReport([blocked, weak], 1234, 864, 370, [
        Suggestion('policies = ["q"]', "judge by q instead", ("dcr",), False, said)])


def _shown(lang: str) -> list[str]:
    buf = io.StringIO()
    show(_report(), ["p"], Console(file=buf, width=400), translator(lang))
    return [line for line in buf.getvalue().splitlines() if line[:1] not in "┏┃┡│└"]


def test_plan_lines_in_english_and_korean() -> None:
    en = _shown("en")
    assert en[0] == "1,234 rows: 864 training, 370 control (no generator fitted)"
    assert "p: 1 check(s) cannot be certified on this table; a table of about 7,947 rows " \
           "(same control fraction) would certify every check" in en
    assert "  baseline (dcr): 210 training rows against 90 control rows" in en
    assert "  warning: p / dcr: cannot be certified on this table: even a leak-free table " \
           "would show an upper bound of about 0.228 (> 0.09) with the 300 trials this table " \
           "allows; about 1,932 trials would (the table allows 300)" in en
    assert "  warning: p / vc: can be certified, but a generator that leaks nothing passes it " \
           "with probability 50% only (about 1,500 trials are the least that certify it; the " \
           "table allows 2,000)" in en
    assert "  # judge by q instead: certifies dcr; some still cannot" in en
    ko = _shown("ko")
    assert ko[0] == "1,234행: 학습 864행, 대조 370행 (생성기는 학습하지 않음)"
    assert "  경고: p / dcr: 이 표로는 인증할 수 없음: 이 표로 가능한 시행 300회로는 " \
           "아무것도 유출하지 않는 표조차 상한이 약 0.228(> 0.09)로 나옵니다. " \
           "시행이 약 1,932회면 인증할 수 있습니다(이 표로는 300회까지 가능)" in ko
    assert "  # 대신 q로 판정: dcr을 인증할 수 있게 됨. 일부는 여전히 인증할 수 없음" in ko
    assert not [line for line in ko if ENGLISH.search(line)], ko


def test_synth_lines_for_a_private_generator_in_korean() -> None:
    ko = translator("ko")
    line = ko.gettext("wrote %(rows)s synthetic rows to %(out)s; privacy spent: epsilon "
                      "%(eps)s, delta %(delta)s (%(accountant)s); epsilon protects each person "
                      "(one row per person of %(person)s was used)", rows=ko.num(1200),
                      out="s.csv", eps="1.000", delta="1e-05", accountant="rdp", person="pid")
    assert line == ("합성 행 1,200개를 s.csv에 썼습니다. 사용한 프라이버시: 엡실론 1.000, 델타 "
                    "1e-05 (rdp). 엡실론은 각 사람을 보호합니다(pid의 사람마다 행 하나만 썼음)")


def test_core_check_texts_on_the_console_use_the_reports_templates() -> None:
    import privgate.reports.reporters  # noqa: F401 -- loaded as the CLI's registry loads it

    text = ("secret age: 8% of control attempts already succeed, so even a leak-free result "
            "would show 0.104 (> 0.09) with 90 trials")
    assert translator("en").plugin(text) == text
    assert translator("ko").plugin(text) == (
        "비밀 age: 대조 시도의 8%가 이미 성공하므로, 시행 90회로는 아무것도 유출하지 않는 "
        "결과조차 0.104(> 0.09)로 나옵니다")
    asked = "asked for 1,000 trials; the table allows 300"
    assert translator("ko").plugin(asked) == ("시행 1,000회를 요청했지만 "
                                              "이 표로는 300회까지 가능합니다")


@pytest.mark.parametrize("command", ["plan", "synth"])
def test_an_unknown_language_is_refused_before_any_work(
        command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Like ``audit --lang xx``: exit 2 naming the flag and the languages on offer, nothing
    written (plan and synth used to fall back to English without a word)."""
    data = _table(tmp_path)
    args = ["--data", str(data), "--lang", "xx"]
    if command == "synth":
        args += ["--generator", "gaussian-copula", "--out", str(tmp_path / "s.csv")]
    assert main([command, *args]) == 2
    err = capsys.readouterr().err
    assert "--lang" in err and "'xx'" in err and "ko" in err
    assert not (tmp_path / "s.csv").exists()
