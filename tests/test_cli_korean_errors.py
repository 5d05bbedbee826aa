"""Errors, usage errors and ``privgate ledger`` under ``--lang ko``.

Every error privgate raises on purpose carries its English msgid and values
(:class:`privgate.errors.Text`): ``str(exc)`` is the English exactly as before, and the command
line prints it in the command's language (``--lang``, else the config's ``[report] lang`` once
the config was read). argparse's own words come from the ``argparse`` catalog while the
command line is parsed. Every marked message has a Korean translation with the same
placeholders, and no error is raised from an f-string (it could not be translated).
"""

from __future__ import annotations

import ast
import pickle
import re
from importlib import resources
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from test_cli_korean import _table

from privgate.cli import main
from privgate.cli_sign import CLI_DOMAIN, CLI_MARKED, CLI_PACKAGE, CLI_SOURCES, translator
from privgate.errors import N_, BudgetError, InputError, PluginError, Text
from privgate.i18n import extract_marked, extract_messages, po_path
from privgate.ledger import AuditLedger, PlannedFit
from privgate.ledger_rules import PrivacyLedger

#: ``%(name)s`` / ``%(name)r`` placeholders (argparse's catalog also has bare ``%s``/``%r``).
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?([sdrfgi])")
#: Three English words in a row: an untranslated sentence.
ENGLISH = re.compile(r"[A-Za-z]{3,}(?:[ ,;:]+[A-Za-z]{3,}){2,}")
HANGUL = re.compile("[\uac00-\ud7a3]")
#: The privgate error classes a message may be raised with.
ERRORS = {"PrivgateError", "InputError", "BudgetError", "UnknownPluginError", "PluginError",
          "PluginClashError", "NotReleasable"}
#: Error sites that still build their message with an f-string, per file, and why.
UNTRANSLATED: dict[str, int] = {}


def _placeholders(text: str) -> list[tuple[str, str]]:
    return sorted(PLACEHOLDER.findall(text.replace("%%", "")))


def _catalog(domain: str) -> dict[str, object]:
    with po_path(CLI_PACKAGE, "ko", domain).open("rb") as fh:  # Babel must parse it
        return {m.id: m for m in read_po(fh, locale="ko", domain=domain) if m.id}


def _used() -> dict[str | tuple[str, str], list[str]]:
    """Every msgid of the command line: the CLI modules' (``_``, ``gettext``, ``N_``...) and
    every ``N_`` anywhere in privgate (errors, the ledger, usage errors), extracted by Babel."""
    used = extract_messages(CLI_PACKAGE, CLI_SOURCES)
    for msgid, where in extract_marked(CLI_MARKED).items():
        used.setdefault(msgid, []).extend(where)
    return used


# -- the catalogs ---------------------------------------------------------------------------


def test_every_marked_message_has_a_korean_translation_with_the_same_placeholders() -> None:
    have = _catalog(CLI_DOMAIN)
    used = _used()
    assert len(used) > 500  # the errors of core, plugins, attacks and reports are in
    problems = []
    for msgid, where in used.items():
        assert isinstance(msgid, str), msgid  # no plural messages on the command line
        entry = have.get(msgid)
        text = getattr(entry, "string", None)
        if not text or getattr(entry, "fuzzy", False):
            problems.append(f"{where[0]}: untranslated: {msgid!r}")
        elif _placeholders(msgid) != _placeholders(str(text)):
            problems.append(f"{where[0]}: placeholders differ: {msgid!r} -> {text!r}")
        elif "%(" in msgid and "python-format" not in getattr(entry, "flags", ()):
            problems.append(f"{where[0]}: no python-format flag: {msgid!r}")
        elif ENGLISH.search(re.sub(r"%\(\w+\)[sr]|`[^`]*`|'[^']*'|\[[^]]*\]", " ", msgid)) \
                and not HANGUL.search(str(text)):
            problems.append(f"{where[0]}: still English: {msgid!r} -> {text!r}")
    assert problems == [], "\n".join(problems)


def test_argparse_catalog_parses_and_keeps_its_placeholders() -> None:
    have = _catalog("argparse")
    assert {"usage: ", "the following arguments are required: %s",
            "unrecognized arguments: %s", "options", "positional arguments"} <= set(have)
    for msgid, entry in have.items():
        forms = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        ids = msgid if isinstance(msgid, tuple) else (msgid,)
        for form in forms:
            assert form and HANGUL.search(form), msgid
            assert _placeholders(form) == _placeholders(ids[0]), msgid


def _error_sites() -> dict[str, list[int]]:
    """Per source file, the lines where a privgate error is made from a string built in
    place (an f-string, a concatenation, ``%`` or ``.format``): text no catalog can hold."""
    found: dict[str, list[int]] = {}
    for package in CLI_MARKED:
        root = Path(str(resources.files(package)))
        prefix = "" if "." not in package else package.rsplit(".", 1)[1] + "/"
        for file in sorted(root.rglob("*.py")):
            rel = prefix + file.relative_to(root).as_posix()
            if rel.split("/")[0] in ("attacks", "plugins", "reports") and not prefix:
                continue  # an installed layout: those folders are their own packages here
            for node in ast.walk(ast.parse(file.read_text("utf-8"))):
                if not (isinstance(node, ast.Call) and node.args):
                    continue
                func = node.func
                name = getattr(func, "id", None) or getattr(func, "attr", None)
                first = node.args[0]
                built = isinstance(first, ast.JoinedStr | ast.BinOp) or (
                    isinstance(first, ast.Call) and getattr(first.func, "attr", "") == "format")
                if name in ERRORS and built:
                    found.setdefault(rel, []).append(node.lineno)
    return found


def test_no_error_is_raised_with_a_message_no_catalog_can_hold() -> None:
    """``raise InputError(f"...")`` prints English whatever the language: write
    ``InputError(N_("... %(name)s ..."), name=value)`` (the English stays the same)."""
    sites = _error_sites()
    left = {f: lines for f, lines in sites.items() if len(lines) > UNTRANSLATED.get(f, 0)}
    assert left == {}, f"error messages built from f-strings (use N_ and values): {left}"
    assert all(len(sites.get(f, [])) <= n for f, n in UNTRANSLATED.items())


# -- the message objects --------------------------------------------------------------------


def test_a_message_is_its_english_and_renders_in_korean_with_the_messages_inside_it() -> None:
    inner = InputError(N_("%(path)s: %(what)s file not found"), path=Path("/d/t.csv"),
                       what=Text(N_("data")))
    outer = InputError(N_("%(where)s: %(exc)s"), where="gate.toml", exc=inner)
    assert str(inner) == inner.args[0] == "/d/t.csv: data file not found"
    assert str(outer) == "gate.toml: /d/t.csv: data file not found"
    ko = translator("ko")
    assert ko.message(outer) == "gate.toml: /d/t.csv: 데이터 파일을 찾을 수 없습니다"
    assert translator("en").message(outer) == str(outer)
    # %r shows a value as {value!r} does, %% is a percent sign, particles follow the value
    err = BudgetError(N_("%(owner)s: parameter %(name)r must be a positive number, got "
                         "%(value)r"), owner=Text(N_("generator %(name)r"), name="gmm"),
                      name="epochs", value=-1)
    assert str(err) == "generator 'gmm': parameter 'epochs' must be a positive number, got -1"
    assert ko.message(err) == ("생성기 'gmm': 매개변수 'epochs'는 양수여야 하는데 -1이 "
                               "주어졌습니다")
    assert str(InputError(N_("%(n)s%% done"), n=5)) == "5% done"
    assert str(InputError("100% plain")) == "100% plain"  # no values: no formatting


def test_a_message_survives_pickling_and_a_bad_translation_falls_back_to_english() -> None:
    err = InputError(N_("%(path)s: results file not found"), path=Path("r.json"))
    back = pickle.loads(pickle.dumps(err))
    assert str(back) == str(err) and translator("ko").message(back) == \
        "r.json: 결과 파일을 찾을 수 없습니다"
    text = Text(N_("%(path)s: results file not found"), path="x")
    assert text.render(lambda msgid: "%(nope)s") == "x: results file not found"
    # a plugin's own message (no msgid in the catalog) is shown as it is
    assert translator("ko").message(PluginError("a plugin's own words")) == "a plugin's own words"


# -- the command line -----------------------------------------------------------------------


def _error_line(err: str) -> str:
    (line,) = [x for x in err.splitlines() if x.startswith("privgate: ")
               and not x.startswith(("privgate: auditing", "privgate: 감사 중"))]
    return line


def _no_english(line: str, *names: str) -> None:
    flat = line
    for name in sorted(names, key=len, reverse=True):
        flat = flat.replace(name, " ")
    assert not ENGLISH.search(flat), line


def test_a_missing_data_file_in_korean_and_in_english(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    missing = tmp_path / "missing.csv"
    assert main(["audit", "--data", str(missing), "--lang", "ko"]) == 2
    line = _error_line(capsys.readouterr().err)
    assert line == f"privgate: 오류: {missing}: 데이터 파일을 찾을 수 없습니다"
    assert main(["audit", "--data", str(missing)]) == 2
    assert _error_line(capsys.readouterr().err) == \
        f"privgate: error: {missing}: data file not found"


def test_a_malformed_config_in_korean_and_in_english(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "gate.toml"
    config.write_text("data = 3\n", "utf-8")
    assert main(["audit", str(config), "--lang", "ko"]) == 2
    line = _error_line(capsys.readouterr().err)
    assert line == (f"privgate: 오류: {config}: 'data'는 테이블(path = \"table.csv\"가 있는 "
                    "[data])이어야 하는데 정수가 주어졌습니다")
    assert main(["audit", str(config)]) == 2
    assert _error_line(capsys.readouterr().err) == (
        f"privgate: error: {config}: 'data' must be a table ([data] with path = \"table.csv\"), "
        "got an integer")
    config.write_text('seed = -1\n[data]\npath = "t.csv"\n', "utf-8")
    assert main(["audit", str(config), "--lang", "ko"]) == 2
    line = _error_line(capsys.readouterr().err)
    assert "'seed' 값은 0 <= seed < 2**32인 정수여야 합니다" in line and "주어진 값: -1" in line


def test_the_configs_report_lang_speaks_once_the_config_was_read(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "gate.toml"
    config.write_text('[report]\nlang = "ko"\n[data]\npath = "absent.csv"\n', "utf-8")
    assert main(["audit", str(config)]) == 2
    assert _error_line(capsys.readouterr().err) == \
        f"privgate: 오류: {tmp_path / 'absent.csv'}: 데이터 파일을 찾을 수 없습니다"


def test_bad_column_names_and_plugin_names_keep_the_names(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _table(tmp_path)
    args = ["audit", "--data", str(data), "--generator", "gmm", "--out", str(tmp_path / "o")]
    assert main([*args, "--quasi-identifiers", "agee,sex", "--lang", "ko"]) == 2
    line = _error_line(capsys.readouterr().err)
    assert "['agee']" in line and "표에 없습니다" in line, line
    _no_english(line, "['agee']", "['age', 'sex', 'city']", "schema.quasi_identifiers",
                "--quasi-identifiers", "command line")
    assert main([*args, "--attack", "no-such-attack", "--lang", "ko"]) == 2
    line = _error_line(capsys.readouterr().err)
    assert line.startswith("privgate: 오류: 알 수 없는 공격 'no-such-attack'. 등록된 공격: ")
    assert "'privgate plugins'를 실행하십시오." in line
    config = tmp_path / "gate.toml"  # a message inside a message: both parts in Korean
    config.write_text('attacks = [{name = "dcr-membership", params = {bogus = 1}}]\n'
                      '[data]\npath = "t.csv"\n[[generators]]\nname = "gmm"\n', "utf-8")
    assert main(["audit", str(config), "--lang", "ko", "--out", str(tmp_path / "o2")]) == 2
    line = _error_line(capsys.readouterr().err)
    assert "공격 'dcr-membership': 알 수 없는 매개변수 ['bogus']. 허용되는 매개변수: " in line
    assert main(["audit", str(config), "--out", str(tmp_path / "o3")]) == 2
    assert "attack 'dcr-membership': unknown parameter(s) ['bogus']; allowed: " in \
        _error_line(capsys.readouterr().err)


def test_usage_errors_and_help_in_korean(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["audit", "--bogus-flag", "--lang", "ko"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("사용법: privgate ")
    assert "privgate: 오류: 알 수 없는 인수: --bogus-flag" in err
    assert "옵션을 보려면 'privgate --help'를 실행하십시오." in err
    with pytest.raises(SystemExit) as info:
        main(["synth", "--lang=ko"])
    assert info.value.code == 2
    assert "privgate: 오류: 다음 인수가 필요합니다: --data, --generator, --out" in \
        capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["audit", "--seed", "many", "--lang", "ko"])
    assert info.value.code == 2
    assert ("privgate: 오류: 인수 --seed: 0 <= seed < 2**32인 정수여야 합니다(0부터 "
            "4294967295까지. numpy와 torch는 32비트 시드를 받음). 주어진 값: 'many'"
            ) in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["ledger", "--help", "--lang", "ko"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("사용법: privgate ledger") and "옵션:" in out
    assert "이 도움말을 보여 주고 끝냅니다" in out
    # English again afterwards: argparse is left as it was
    with pytest.raises(SystemExit) as info:
        main(["audit", "--bogus-flag"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: privgate ")
    assert "privgate: error: unrecognized arguments: --bogus-flag\n" \
           "Run 'privgate --help' for the options.\n" in err


def test_an_internal_error_in_korean(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    import privgate.cli

    def boom(args: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setitem(privgate.cli.COMMANDS, "ledger", boom)
    assert main(["ledger", "--lang", "ko"]) == 3
    assert capsys.readouterr().err == ("privgate: 내부 오류: RuntimeError: boom (트레이스백을 "
                                       "보려면 PRIVGATE_DEBUG=1을 설정하십시오)\n")
    assert main(["ledger"]) == 3
    assert capsys.readouterr().err == ("privgate: internal error: RuntimeError: boom (set "
                                       "PRIVGATE_DEBUG=1 for a traceback)\n")


def _ledger(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.sqlite"
    ledger = PrivacyLedger(path)
    audit = AuditLedger(ledger, "ab" * 32, "claims", "c" * 64, 5.0)
    audit.reserve_all([PlannedFit("dpsgd-vae", 0.5, 1e-5, unit="per person"),
                       PlannedFit("gmm", None, 0.0, unit="per row")])
    for name in ("dpsgd-vae", "gmm"):
        audit.started(name)
    audit.finished("dpsgd-vae", 0.5, 1e-5, "rdp")
    audit.finished("gmm", None, 0.0, "none")
    return path


def test_the_ledger_in_korean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _ledger(tmp_path)
    assert main(["ledger", "--ledger", str(path), "--lang", "ko"]) == 0
    out = capsys.readouterr().out
    assert f"프라이버시 장부 {path}" in out
    assert ("claims (abababababab): 학습 2회에 사용한 엡실론 0.5; 차분 프라이버시가 아닌 "
            "학습 1회(DP 보장 없음)") in " ".join(out.split())
    for word in ("시각", "생성기", "엡실론", "델타", "단위", "회계 방식", "상태", "실행자",
                 "호스트", "감사", "설정", "사람 단위", "사용됨", "차분 프라이버시 아님",
                 "내 사용분 (", "다른 모든 사람의 사용분: 엡실론 0"):
        assert word in out, word
    _no_english(" ".join(out.split()), str(path), "dpsgd-vae", "claims")
    assert main(["ledger", "--ledger", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"privacy ledger {path}" in out and "epsilon spent 0.5 in 2 fit(s)" in out
    assert "not private" in out and "everyone else's: epsilon 0" in out
    assert main(["ledger", "--ledger", str(path), "--json", "--lang", "ko"]) == 0
    out = capsys.readouterr().out
    assert '"datasets"' in out and '"per person"' in out and not HANGUL.search(out)


def test_an_empty_ledger_and_an_unknown_language(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "absent.sqlite"  # reading creates nothing
    assert main(["ledger", "--ledger", str(path), "--lang", "ko"]) == 0
    assert capsys.readouterr().out.strip() == f"프라이버시 장부 {path}: 기록된 학습이 없습니다"
    assert main(["ledger", "--ledger", str(path), "--lang", "xx"]) == 2
    assert "--lang: 'xx' is not a language privgate speaks; choose one of en, ko" in \
        capsys.readouterr().err
