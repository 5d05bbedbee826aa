"""Progress lines in the audit's language: step descriptions, done/failed marks, the estimate
and notes come from the command line's catalog (``privgate-cli``) under ``--lang ko``; text
the catalog does not hold (a plugin's warning) is shown as it is."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from privgate import progress
from privgate.cli import main
from privgate.progress import N_, ConsoleProgress


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _console(lang: str | None) -> tuple[ConsoleProgress, io.StringIO]:
    out = io.StringIO()
    return ConsoleProgress(Console(file=out, force_terminal=False, width=300), lang), out


def test_korean_steps_estimates_and_notes(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock()
    monkeypatch.setattr(progress.time, "perf_counter", clock)
    shown, out = _console("ko")
    with shown.step("fit", N_("training %(name)s on %(rows)s rows"), name="gmm", rows="1,000"):
        progress.advance(0, 400, "training steps")
        clock.now += progress.PLAIN_EVERY_S + 10
        progress.advance(160, 400, "training steps")
        progress.note(N_("plan: %(line)s"), line="dcr-membership: can be certified")
        progress.note("a plugin's own warning")
    with pytest.raises(RuntimeError), shown.step("load", N_("loading and checking the data")):
        raise RuntimeError
    lines = out.getvalue().splitlines()
    assert lines[0] == "  gmm 학습 (1,000행): 학습 단계 160/400 (40%), 약 1분 0초 남음"
    assert lines[1] == "  참고: 계획: dcr-membership: can be certified"
    assert lines[2] == "  참고: a plugin's own warning"
    assert lines[3].startswith("  gmm 학습 (1,000행): 완료 (") and lines[3].endswith("초)")
    assert lines[4].startswith("  데이터 불러오기 및 검사: 실패 (")


def test_english_lines_are_unchanged() -> None:
    shown, out = _console(None)
    with shown.step("x", N_("attack %(name)s on %(generator)s"), name="dcr", generator="gmm"):
        progress.note(N_("%(name)s on %(generator)s: %(warning)s"), name="a", generator="g",
                      warning="w")
    lines = out.getvalue().splitlines()
    assert lines[0] == "  note: a on g: w"
    assert lines[1].startswith("  attack dcr on gmm: done (")


@pytest.mark.slow
def test_audit_with_lang_ko_prints_korean_progress(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "t.csv"
    n = 400
    pd.DataFrame({"age": [20 + i % 50 for i in range(n)],
                  "sex": ["f" if i % 3 else "m" for i in range(n)],
                  "city": [f"c{i % 7}" for i in range(n)]}).to_csv(data, index=False)
    code = main(["audit", "--data", str(data), "--generator", "gmm", "--attack",
                 "dcr-membership", "--lang", "ko", "--seed", "0", "--out",
                 str(tmp_path / "out")])
    assert code in (0, 1)
    err = capsys.readouterr().err
    assert "데이터 불러오기 및 검사: 완료" in err
    assert "gmm 대상 공격 dcr-membership: 완료" in err
    assert "스키마를 데이터에서 추론했습니다" in err
    flat = " ".join(err.split())  # rich wraps long lines
    assert re.search(r"참고: \S+ 기준 gmm: [^;]+;.*검사 \d+개 중 \d+개 통과", flat), flat
    assert "loading and checking the data" not in err and ": done (" not in err
