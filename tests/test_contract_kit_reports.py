"""The contract kit's reporter and report-section checks catch plugins that break the rules
(mutating the read-only document, writing the wrong files, unescaped HTML, leaking data values,
non-deterministic output, a constructor without the Reporter options, a malformed chart) and
pass ones that keep them."""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from privgate.reporting import (
    BarChart,
    HeatMap,
    KeyValues,
    LineChart,
    Paragraph,
    Reporter,
    ReportSection,
    Series,
    Table,
)
from privgate.testing import ContractViolation, check_report_sections, check_reporter
from privgate.testing_reports import (
    CONTROL_CHARACTERS,
    DATA_VALUES,
    HOSTILE,
    contract_result,
    hostile_result,
)


@pytest.fixture(scope="module", autouse=True)
def _reference_audit() -> None:
    contract_result()  # the kit's reference audit runs once, outside the checks' time limits


def _line(marker: str) -> int:
    lines = Path(__file__).read_text(encoding="utf-8").splitlines()
    (number,) = [i for i, text in enumerate(lines, start=1) if text.endswith(f"# {marker}")]
    return number


# -- reporters -------------------------------------------------------------------------------


class TextReporter(Reporter):
    """A well-behaved reporter: the document's top-level keys and the section ids."""

    format = "contract-text"
    filename = "contract.txt"

    def render(self, result: Mapping[str, Any], sections: Sequence[ReportSection]) -> str:
        return json.dumps({"keys": sorted(result), "sections": [s.id for s in sections]}) + "\n"


_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


class PageReporter(Reporter):
    """A well-behaved HTML reporter: every string escaped, control characters dropped."""

    format = "contract-page"
    filename = "page.html"

    def render(self, result: Mapping[str, Any], sections: Sequence[ReportSection]) -> str:
        def text(value: object) -> str:
            return html.escape(_CONTROL.sub("", str(value)))

        items = [f"<h1 title='{text(result.get('title'))}'>{text(result.get('title'))}</h1>"]
        items += [f"<p>{text(g.get('description'))}</p>" for g in result.get("generators", [])]
        items += [f"<h2 id='{text(s.id)}'>{text(s.title)}</h2>" for s in sections]
        return "\n".join(items) + "\n"


class Unescaped(PageReporter):
    def render(self, result: Mapping[str, Any], sections: Sequence[ReportSection]) -> str:
        return "".join(f"<p>{g.get('description')}</p>" for g in result.get("generators", []))


class KeepsControlCharacters(PageReporter):
    def render(self, result: Mapping[str, Any], sections: Sequence[ReportSection]) -> str:
        return "".join(f"<p>{html.escape(str(g.get('description')))}</p>"
                       for g in result.get("generators", []))


class Mutates(TextReporter):
    def render(self, result: Mapping[str, Any], sections: Sequence[ReportSection]) -> str:
        result["verdict"] = "pass"  # type: ignore[index]  # MUTATES
        return super().render(result, sections)


class MutatesBehindTheGuard(TextReporter):
    def render(self, result: Mapping[str, Any], sections: Sequence[ReportSection]) -> str:
        dict.__setitem__(result, "verdict", "pass")  # type: ignore[index]
        return super().render(result, sections)


class MutatesANestedList(TextReporter):
    def render(self, result: Mapping[str, Any], sections: Sequence[ReportSection]) -> str:
        result["checks"].sort(key=lambda c: c["status"])
        return super().render(result, sections)


class Crashes(TextReporter):
    def render(self, result: Mapping[str, Any], sections: Sequence[ReportSection]) -> str:
        return str(result["no such key"])  # REPORTER-RAISES


class Clock(TextReporter):
    def render(self, result: Mapping[str, Any], sections: Sequence[ReportSection]) -> str:
        return f"rendered at {time.perf_counter_ns()}\n"


class ReturnsBytes(TextReporter):
    def render(self, result: Mapping[str, Any], sections: Sequence[ReportSection]) -> Any:
        return b"bytes"


class EmptyFormat(TextReporter):
    format = ""


class PathFilename(TextReporter):
    filename = "../escape.txt"


class TwoFiles(TextReporter):
    def write(self, result: Mapping[str, Any], sections: Sequence[ReportSection],
              out_dir: Path) -> Path:
        (Path(out_dir) / "extra.log").write_text("x", encoding="utf-8")
        return super().write(result, sections, out_dir)


class DeclaresTwoFiles(TwoFiles):
    contract_files: ClassVar[tuple[str, ...]] = ("contract.txt", "*.log")


class WritesNextToTheFolder(TextReporter):
    def write(self, result: Mapping[str, Any], sections: Sequence[ReportSection],
              out_dir: Path) -> Path:
        return super().write(result, sections, Path(out_dir).parent)


class ReturnsNothing(TextReporter):
    def write(self, result: Mapping[str, Any], sections: Sequence[ReportSection],
              out_dir: Path) -> Any:
        super().write(result, sections, out_dir)
        return None


class LoneSurrogateBreaksWrite(TextReporter):
    def write(self, result: Mapping[str, Any], sections: Sequence[ReportSection],
              out_dir: Path) -> Path:
        path = Path(out_dir) / self.filename
        path.write_text(json.dumps(result.get("title"), ensure_ascii=False), encoding="utf-8")
        return path


class OwnConstructor(TextReporter):
    """Takes no options: the command line could not pass it a language or the seal."""

    def __init__(self) -> None:
        super().__init__()


class FrenchOnly(TextReporter):
    languages: ClassVar[tuple[str, ...]] = ("fr",)

    def render(self, result: Mapping[str, Any], sections: Sequence[ReportSection]) -> str:
        assert self.lang in (None, "fr"), self.lang  # only what it declared
        return super().render(result, sections)


class LanguagesNotATuple(TextReporter):
    languages = "en"  # type: ignore[assignment]


class Slow(TextReporter):
    def render(self, result: Mapping[str, Any], sections: Sequence[ReportSection]) -> str:
        time.sleep(3)
        return super().render(result, sections)


def test_well_behaved_reporters_pass() -> None:
    check_reporter(TextReporter)
    check_reporter(PageReporter)
    check_reporter(DeclaresTwoFiles)
    check_reporter(FrenchOnly)  # rendered once per language it declares


@pytest.mark.parametrize(("cls", "rule"), [
    (Mutates, r"render\(\) mutates the result document it was given \[at "),
    (MutatesBehindTheGuard, "mutates the result document it was given .*behind its guard"),
    (MutatesANestedList, "mutates the result document it was given"),
    (Crashes, r"render\(\) raised KeyError: 'no such key'"),
    (Clock, r"render\(\) is not deterministic: .*line 1: 'rendered at"),
    (ReturnsBytes, r"render\(\) returned bytes, not str"),
    (EmptyFormat, "format must be a non-empty string"),
    (PathFilename, r"filename '\.\./escape\.txt' must be a plain file name"),
    (TwoFiles, r"must write exactly one file, out_dir/contract\.txt .* it wrote "
               r"\['contract\.txt', 'extra\.log'\]"),
    (WritesNextToTheFolder, "wrote outside the output folder it was given"),
    (ReturnsNothing, "returned NoneType, not the path of the file it wrote"),
    (LoneSurrogateBreaksWrite, r"write\(\) on a document with hostile strings raised "
                               "UnicodeEncodeError"),
    (Unescaped, "shows '<script>alert\\(1\\)</script>' unescaped"),
    (KeepsControlCharacters, r"raw control character\(s\) U\+0000, U\+0007, U\+001B"),
    (OwnConstructor, r"the constructor with the Reporter options lang=None and "
                     r"results_sha256=\.\.\. raised TypeError"),
    (LanguagesNotATuple, "languages must be a tuple of language codes, got 'en'"),
])
def test_the_kit_catches_a_broken_reporter(cls: type[Reporter], rule: str) -> None:
    with pytest.raises(ContractViolation, match=rule):
        check_reporter(cls)


def test_a_mutating_or_crashing_reporter_is_named_with_its_line() -> None:
    with pytest.raises(ContractViolation) as caught:
        check_reporter(Mutates)
    assert f"{Path(__file__).name}:{_line('MUTATES')} in render" in str(caught.value)
    with pytest.raises(ContractViolation) as caught:
        check_reporter(Crashes)
    assert f"{Path(__file__).name}:{_line('REPORTER-RAISES')} in render" in str(caught.value)
    assert isinstance(caught.value.__cause__, KeyError)


def test_a_slow_reporter_is_stopped_at_the_limit() -> None:
    with pytest.raises(ContractViolation, match="reporter 'contract-text': check_reporter did "
                                                "not finish within the contract time limit of "
                                                "0.5 s"):
        check_reporter(Slow, timeout_s=0.5)


def test_a_reporter_of_another_document_declares_it() -> None:
    class Comparison(TextReporter):
        @classmethod
        def contract_document(cls, result: Mapping[str, Any]) -> dict[str, Any]:
            return {"comparison": {"old": dict(result), "new": dict(result)}}

        def render(self, result: Mapping[str, Any], sections: Sequence[ReportSection]) -> str:
            return str(sorted(result["comparison"]["new"]))

    class Undeclared(TextReporter):
        render = Comparison.render

    check_reporter(Comparison)
    with pytest.raises(ContractViolation, match="raised KeyError: 'comparison'"):
        check_reporter(Undeclared)


def test_the_caller_can_pass_its_own_document() -> None:
    class NeedsRisk(TextReporter):
        def render(self, result: Mapping[str, Any], sections: Sequence[ReportSection]) -> str:
            return f"{result['risk']:.2f}\n"

    check_reporter(NeedsRisk, result={"risk": 0.25, "title": "mine"})
    with pytest.raises(ContractViolation, match="raised KeyError: 'risk'"):
        check_reporter(NeedsRisk)


def test_the_hostile_document_plants_strings_in_plugin_texts_only() -> None:
    doc = contract_result()
    bad = hostile_result(doc)
    assert bad["title"].endswith(HOSTILE) and bad["verdict"] == doc["verdict"]
    attack = bad["generators"][0]["attacks"][0]
    assert attack["interval_method"].endswith(HOSTILE)
    assert attack["baseline_description"].endswith(HOSTILE)
    assert attack["attack"] == doc["generators"][0]["attacks"][0]["attack"]  # names kept
    assert attack["risk"] == doc["generators"][0]["attacks"][0]["risk"]
    assert all(c in HOSTILE for c in CONTROL_CHARACTERS) and "\ud800" in HOSTILE
    assert contract_result() == doc  # a fresh copy each time


# -- report sections ---------------------------------------------------------------------------


def good_sections(result: Mapping[str, Any]) -> list[ReportSection]:
    """Counts and names only: the kind of section the contract asks for."""
    cols = result.get("schema", {}).get("columns", [])
    return [ReportSection("contract-columns", "Columns", (
        Paragraph(f"{len(cols)} columns."),
        Table(("column", "kind"), [(c.get("name"), c.get("kind")) for c in cols]),
        KeyValues((("verdict", result.get("verdict")),))))]


def shows_categories(result: Mapping[str, Any]) -> list[ReportSection]:
    cols = result.get("schema", {}).get("columns", [])
    return [ReportSection("contract-categories", "Categories", (
        Table(("column", "values"), [(c.get("name"), ", ".join(map(str, c.get("categories")
                                                                      or [])))
                                     for c in cols]),))]


def mutates(result: Mapping[str, Any]) -> list[ReportSection]:
    result["schema"]["columns"].append({"name": "extra"})  # SECTIONS-MUTATE
    return []


def twice(result: Mapping[str, Any]) -> list[ReportSection]:
    return [ReportSection("same", "One"), ReportSection("same", "Two")]


def empty_id(result: Mapping[str, Any]) -> list[ReportSection]:
    return [ReportSection(" ", "Blank")]


def returns_html(result: Mapping[str, Any]) -> Any:
    return "<h2>section</h2>"


def returns_dicts(result: Mapping[str, Any]) -> Any:
    return [{"id": "x", "title": "X"}]


def raw_html_block(result: Mapping[str, Any]) -> Any:
    return [ReportSection("x", "X", ("<b>raw</b>",))]  # type: ignore[arg-type]


def broken_chart(result: Mapping[str, Any]) -> Any:
    return [ReportSection("x", "X", (BarChart("Bars", ("a", "b"), (0.5,)),))]


def charts(result: Mapping[str, Any]) -> list[ReportSection]:
    """Charts in a section: counts and shares only, as the contract asks."""
    cols = result.get("schema", {}).get("columns", [])
    return [ReportSection("contract-charts", "Charts", (
        BarChart("Columns by kind", ("all",), (len(cols),), caption="How many columns."),
        LineChart("A line", (Series("s", (0.0, 1.0), (0.0, 1.0)),), diagonal=True),
        HeatMap("A map", ("r",), ("c",), ((0.5,),))))]


def nothing(result: Mapping[str, Any]) -> None:
    return None


def crashes_on_hostile_text(result: Mapping[str, Any]) -> list[ReportSection]:
    result["title"].encode("utf-8")  # fails on the lone surrogate  # SECTIONS-RAISE
    return []


class PluginModule:
    """Stands for a plugin module: the kit finds its ``privgate_report_sections`` hook."""

    privgate_report_sections = staticmethod(good_sections)


def test_well_behaved_report_sections_pass() -> None:
    check_report_sections(good_sections)
    check_report_sections(nothing)
    check_report_sections(PluginModule())
    check_report_sections(charts)


@pytest.mark.parametrize(("hook", "rule"), [
    (shows_categories, f"section 'contract-categories' shows '{DATA_VALUES[0]}', a category "
                       "value the document says was read from the real data"),
    (mutates, "mutates the result document it was given"),
    (twice, r"section ids \['same'\] more than once"),
    (empty_id, "a section with an empty id"),
    (returns_html, "returned str; the hook returns a sequence"),
    (returns_dicts, "returned a dict among its sections, not a ReportSection"),
    (raw_html_block, "block 0 is a str; blocks are Paragraph, Table, KeyValues, BarChart, "
                     "LineChart or HeatMap"),
    (crashes_on_hostile_text, "the hook on a document with hostile strings raised "
                              "UnicodeEncodeError"),
])
def test_the_kit_catches_broken_report_sections(hook: Any, rule: str) -> None:
    with pytest.raises(ContractViolation, match=rule):
        check_report_sections(hook)


def test_report_sections_must_not_show_forbidden_values() -> None:
    check_report_sections(good_sections, forbidden=["pgk-training-row-4711", 123456, 4])
    with pytest.raises(ContractViolation, match="shows 'integer', a forbidden value"):
        check_report_sections(good_sections, forbidden=["integer"])
    with pytest.raises(ContractViolation, match="section 'n' shows 4, a forbidden value"):
        # other values than strings: a whole cell ("4 columns." above does not count)
        check_report_sections(lambda result: [ReportSection("n", "N", (KeyValues((("n", 4),)),))],
                              forbidden=[4])


def test_report_section_failures_name_the_plugin_line() -> None:
    with pytest.raises(ContractViolation) as caught:
        check_report_sections(mutates)
    assert f"{Path(__file__).name}:{_line('SECTIONS-MUTATE')} in mutates" in str(caught.value)
    with pytest.raises(ContractViolation) as caught:
        check_report_sections(crashes_on_hostile_text)
    assert f"{Path(__file__).name}:{_line('SECTIONS-RAISE')}" in str(caught.value)


def test_something_without_the_hook_is_refused() -> None:
    with pytest.raises(ContractViolation, match="has no privgate_report_sections hook"):
        check_report_sections(object())
