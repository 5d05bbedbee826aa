"""Every word translated: Korean particles chosen by the final syllable, dates through Babel,
every built-in plugin text and every terminal message with a Korean entry, plugin catalogs
(the ``PRIVGATE_TRANSLATIONS`` contract), and explanations that name the audited columns."""

from __future__ import annotations

import json
import re
import types
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from privgate.cli_sign import CLI_DOMAIN, CLI_PACKAGE, CLI_SOURCES, translator
from privgate.i18n import (
    TextCatalog,
    extract_messages,
    module_catalog,
    plugin_catalog,
    po_path,
)
from privgate.particles import particle, resolve_particles
from privgate.reports.html import render
from privgate.reports.i18n import Lang, plugin_texts
from privgate.reports.plugin_texts import registry_texts, result_texts

FIXTURE = Path(__file__).parent / "fixtures" / "example_results.json"


@pytest.mark.parametrize(("word", "fallback", "want"), [
    ("0.303", "이(가)", "0.303이"), ("2", "이(가)", "2가"), ("10", "은(는)", "10은"),
    ("gmm", "은(는)", "gmm은"), ("dpsgd-vae", "은(는)", "dpsgd-vae는"),
    ("AUROC", "을(를)", "AUROC를"),
    ("거리", "이(가)", "거리가"), ("위험", "을(를)", "위험을"), ("서울", "(으)로", "서울로"),
    ("표", "(으)로", "표로"), ("결과", "과(와)", "결과와"), ("7", "(으)로", "7로"),
    ("3", "(으)로", "3으로"), ("URL", "(으)로", "URL로"), ("training", "이(가)", "training이"),
    ("'result'", "을(를)", "'result'를"), ("50%", "이(가)", "50%가"),
    ("홍길동", "이(가)", "홍길동이"), ("density-membership", "을(를)", "density-membership을"),
    ("dp-audit", "이(가)", "dp-audit이"), ("singling-out", "은(는)", "singling-out은"),
    ("hellinger", "을(를)", "hellinger를"), ("correlation", "과(와)", "correlation과"),
    ("tstr", "(으)로", "tstr로"), ("smote", "이(가)", "smote가"), ("model", "(으)로", "model로"),
    ("dpsgd-ctgan", "은(는)", "dpsgd-ctgan은"), ("copy", "을(를)", "copy를")])
def test_korean_particles_follow_the_final_syllable(word: str, fallback: str, want: str) -> None:
    assert word + particle(word, fallback) == want
    assert resolve_particles(f"{word}{fallback} 있다") == f"{want} 있다"


def test_a_particle_with_nothing_before_it_stays_as_written() -> None:
    assert resolve_particles("이(가) 있다") == "이(가) 있다"
    assert resolve_particles("@@x@@이(가)") == "@@x@@이(가)"


def test_korean_times_say_오전_or_오후_not_am_pm() -> None:
    ko, en = Lang.get("ko"), Lang.get("en")
    assert ko.datetime("2025-11-23T21:41:57+00:00") == "2025년 11월 23일 오후 9:41 UTC"
    assert ko.datetime("2025-11-23T09:05:00+00:00").startswith("2025년 11월 23일 오전 9:05")
    assert en.datetime("2025-11-23T21:41:57+00:00").replace("\u202f", " ") \
        == "November 23, 2025, 9:41 PM UTC"
    assert "PM" not in translator("ko").gettext("pass")  # the terminal speaks Korean too


def _catalog(package: str, domain: str) -> dict[str, str]:
    with po_path(package, "ko", domain).open("rb") as fh:
        return {m.id: m.string for m in read_po(fh, locale="ko") if m.id and not m.fuzzy}


def test_every_terminal_message_has_a_korean_translation() -> None:
    have = _catalog(CLI_PACKAGE, CLI_DOMAIN)
    used = extract_messages(CLI_PACKAGE, CLI_SOURCES)
    assert len(used) > 30
    missing = [m for m in used if not have.get(m)]  # type: ignore[call-overload]
    assert missing == [], "run privgate.i18n.update_catalog(...) and translate these"
    ko = translator("ko")
    assert ko.gettext("verdict: %(verdict)s (exit code %(code)s)", verdict="X", code=1) \
        == "판정: X (종료 코드 1)"


def _untranslated(texts: dict[str, str], catalog: TextCatalog) -> list[str]:
    return [f"{where}: {text}" for text, where in texts.items()
            if re.search(r"[A-Za-z]{2}", text) and catalog.lookup(text) is None]


def test_every_builtin_plugin_text_has_a_korean_entry() -> None:
    """Attack explanations, policy, metric and generator texts of privgate's built-in plugins:
    when one changes, add its translation to reports/locale/ko/LC_MESSAGES/privgate-plugins.po
    (keyed by the exact English text)."""
    from privgate.cli_config import registry_for

    texts = registry_texts(registry_for(None))
    assert len(texts) > 25
    assert _untranslated(texts, plugin_texts("ko")) == []


@pytest.mark.slow
def test_every_text_of_a_real_audit_has_a_korean_entry(demo_run: tuple[int, Path]) -> None:
    """What the demo's plugins wrote into results.json (interval methods, baselines, figure
    captions and headers, check warnings) is translated, by exact text or by template; names
    of columns and categories are data and stay as they are."""
    _, out = demo_run
    result = json.loads((out / "results.json").read_text("utf-8"))
    names = set(result["dataset"]["columns"])
    for col in result["schema"]["columns"]:
        names.update(str(c) for c in col.get("categories") or [])
    texts = {t: w for t, w in result_texts(result).items() if t not in names}
    assert _untranslated(texts, plugin_texts("ko")) == []


def test_plugins_ship_their_own_catalogs(tmp_path: Path) -> None:
    """The PRIVGATE_TRANSLATIONS contract: a mapping per language, or a folder of .po files;
    templates with {placeholders} translate texts with values in them."""
    module = types.ModuleType("acme_attacks")
    module.PRIVGATE_TRANSLATIONS = {"ko": {"Acme attack": "애크미 공격",  # type: ignore[attr-defined]
                                           "{n} rows matched": "{n}개 행이 일치"}}
    found = module_catalog(module, "ko")
    assert found.lookup("Acme attack") == "애크미 공격"
    assert found.lookup("12 rows matched") == "12개 행이 일치" and found.lookup("x") is None
    folder = tmp_path / "pkg" / "locale" / "ko" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "acme.po").write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; '
                                    'charset=utf-8\\n"\n\nmsgid "Hello"\nmsgstr "안녕"\n', "utf-8")
    packaged = types.ModuleType("acme_pkg")
    packaged.__file__ = str(tmp_path / "pkg" / "__init__.py")
    packaged.PRIVGATE_TRANSLATIONS = ("locale", "acme")  # type: ignore[attr-defined]
    assert module_catalog(packaged, "ko").lookup("Hello") == "안녕"
    # privgate's own catalog comes first; an unknown text stays English
    merged = plugin_catalog("ko", first=[packaged, module])
    assert merged.lookup("Hello") == "안녕" and merged.lookup("Acme attack") == "애크미 공격"


def _visible(html: str) -> str:
    """What a reader sees: no markup, styles, templates, code or lang="en" parts."""
    body = html[html.index("<body>"):]
    body = re.sub(r"<(style|template|code|pre)\b[^>]*>.*?</\1>", " ", body, flags=re.S)
    body = re.sub(r'<(\w+)[^>]*\blang="en"[^>]*>.*?</\1>', " ", body, flags=re.S)
    return re.sub(r"<[^>]+>", "\n", body)


def test_korean_report_has_no_fallback_particles_and_names_the_columns() -> None:
    result = json.loads(FIXTURE.read_text("utf-8"))
    result["lang"] = "ko"
    text = _visible(render(result, []))
    for fallback in ("이(가)", "은(는)", "을(를)", "과(와)", "(으)로"):
        assert fallback not in text, fallback
    qis = [c["name"] for c in result["schema"]["columns"] if c["role"] == "quasi-identifier"]
    assert "이 표에서 공격자는" in text and all(q in text for q in qis)


def test_english_explanations_use_the_audited_columns_not_census_examples() -> None:
    """Built-in explanations that gave census examples ("a widow, born in Peru") are shown
    with the audited table's own columns (the report's column placeholders)."""
    from privgate.cli_config import registry_for

    registry = registry_for(None)
    result = json.loads(FIXTURE.read_text("utf-8"))
    result["catalog"]["attacks"] = {
        name: {"description": item.obj.description, "explanation": item.obj.explanation,
               "references": [], "risk_kind": item.obj.risk_kind}
        for name, item in registry.attacks.items() if item.builtin}
    html = render(result, [])
    assert "born in Peru" not in html and "such as age, sex and education" not in html
    qis = [c["name"] for c in result["schema"]["columns"] if c["role"] == "quasi-identifier"]
    assert f"here {qis[0]}" in html
    assert "{quasi_identifiers}" not in html and "{sensitive}" not in html
