"""Fast tests of the built-in reporters (HTML, JSON, JUnit) and report sections.

They render ``tests/fixtures/example_results.json`` (a hand-made result document, results
schema 1.1, with two generators, five attacks each, three metrics each and one policy) and
variations of it; ``example_results_1_0.json`` is the same audit as schema 1.0 wrote it.
"""

from __future__ import annotations

import copy
import json
import math
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pluggy
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape

from privgate import hookspecs
from privgate.outputs import write_atomic
from privgate.redact import strip_controls
from privgate.reporting import KeyValues, Paragraph, ReportSection, Table
from privgate.reports import charts, reporters
from privgate.reports import sections as builtin_sections
from privgate.reports.html import HtmlReporter, render
from privgate.reports.junit import JUnitReporter
from privgate.results import dumps, result_sha256

FIXTURE = Path(__file__).parent / "fixtures" / "example_results.json"
LEGACY = Path(__file__).parent / "fixtures" / "example_results_1_0.json"
CSS = Path(__file__).parents[1] / "reports" / "templates" / "report.css"
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
MAX_BYTES = 1_500_000

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'; DROP TABLE x; --\"",
    "Zoë \u202e ☃ 漢字 \U0001f600",
    "]]><![CDATA[",
    "&amp;",
    "</style><script>x</script>",
    "<svg onload=alert(1)>",
]


# ---------------------------------------------------------------------------- helpers


@pytest.fixture
def result() -> dict[str, Any]:
    """A fresh copy of the example result document."""
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def sections_for(result: dict[str, Any]) -> list[ReportSection]:
    """The built-in sections for ``result``."""
    return list(builtin_sections.privgate_report_sections(result) or [])


class Page(HTMLParser):
    """Collects tags, attributes, headings, tables and SVGs of an HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.headings: list[int] = []
        self.tables: list[dict[str, Any]] = []
        self.svgs: list[dict[str, Any]] = []
        self._stack_tables: list[dict[str, Any]] = []
        self._stack_svgs: list[dict[str, Any]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "table":
            self._stack_tables.append({"th": 0, "th_scoped": 0})
        if tag == "th" and self._stack_tables:
            self._stack_tables[-1]["th"] += 1
            self._stack_tables[-1]["th_scoped"] += a.get("scope") in ("col", "row")
        if tag == "svg":
            self._stack_svgs.append({"aria": bool(a.get("aria-label") or
                                                  a.get("aria-labelledby")), "title": 0})
        if tag == "title" and self._stack_svgs:
            self._stack_svgs[-1]["title"] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._stack_tables:
            self.tables.append(self._stack_tables.pop())
        if tag == "svg" and self._stack_svgs:
            self.svgs.append(self._stack_svgs.pop())

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Page:
    """Parse ``html``."""
    page = Page()
    page.feed(html)
    page.close()
    return page


def write_all(result: dict[str, Any], out: Path,
              sections: list[ReportSection] | None = None) -> dict[str, Path]:
    """Write all three reports of ``result`` into ``out``."""
    secs = sections_for(result) if sections is None else sections
    written = {r.format: r().write(result, secs, out) for r in (HtmlReporter, JUnitReporter)}
    written["json"] = write_results(result, out)
    return written


def write_results(result: dict[str, Any], out: Path) -> Path:
    """results.json as core writes it (its own serialisation, not a reporter's)."""
    out.mkdir(parents=True, exist_ok=True)
    return write_atomic(out / "results.json", dumps(result).encode("utf-8"))


# ---------------------------------------------------------------------------- registration


def test_reporters_register_through_the_hook() -> None:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(reporters)
    pm.register(builtin_sections)
    found = [cls for group in pm.hook.privgate_reporters() for cls in group]
    assert {(c.format, c.filename) for c in found} == {
        ("html", "report.html"), ("junit", "junit.xml"), ("compare", "comparison.html")}
    # the comparison renders two audits, so it is not written after an audit; results.json is
    # core's own record, written by no reporter
    assert {c.format for c in found if c.on_audit} == {"html", "junit"}
    secs = [s for group in pm.hook.privgate_report_sections(result={}) for s in group or []]
    assert secs and all(isinstance(s, ReportSection) for s in secs)


# ---------------------------------------------------------------------------- HTML


def test_html_structure(result: dict[str, Any], tmp_path: Path) -> None:
    paths = write_all(result, tmp_path)
    html = paths["html"].read_text(encoding="utf-8")
    page = parse(html)
    assert paths["html"].stat().st_size < MAX_BYTES
    # verdict in words, first
    assert "Verdict: PASS" in html
    assert html.index('id="verdict"') < html.index('id="checks"')
    # content security policy, no scripts, nothing fetched
    metas = [a for t, a in page.tags if t == "meta" and a.get("http-equiv")]
    assert any(a.get("http-equiv") == "Content-Security-Policy" and a.get("content") == CSP
               for a in metas)
    names = {t for t, _ in page.tags}
    assert not names & {"script", "img", "iframe", "link", "object", "embed", "base", "form"}
    for tag, attrs in page.tags:
        for key, value in attrs.items():
            assert not key.startswith("on"), (tag, key)
            if key in ("src", "href", "xlink:href", "action", "srcset", "poster", "data"):
                assert value is not None and not re.match(r"\s*(https?:)?//", value), (tag, key)
                assert value.startswith("#"), (tag, key, value)
    assert "url(" not in html
    # headings: one h1, first, never skipping a level going down
    assert page.headings[0] == 1 and page.headings.count(1) == 1
    for before, after in zip(page.headings, page.headings[1:], strict=False):
        assert after <= before + 1, page.headings
    # tables have header cells with a scope; charts have a text alternative
    assert page.tables and all(t["th"] > 0 and t["th"] == t["th_scoped"] for t in page.tables)
    # forest plot, 4 ROC curves, 6 success-rate bar charts of the anonymeter attacks,
    # 2 hellinger bar charts, 2 correlation heat maps
    assert len(page.svgs) == 1 + 4 + 6 + 2 + 2
    assert all(s["title"] and s["aria"] for s in page.svgs)
    # the sections in the promised order: page 1 (verdict, usefulness beside risk), page 2
    # (checks and sign-off), then the appendices
    order = ["verdict", "worth", "checks", "signoff", "checks-detail", "attacks", "generators",
             "utility", "section-0", "section-1", "method", "provenance"]
    positions = [html.index(f'id="{name}"') for name in order]
    assert positions == sorted(positions)


def test_html_content(result: dict[str, Any]) -> None:
    html = render(result, sections_for(result))
    text = " ".join(parse(html).text)
    # what was audited, the budget, the date, the deciding checks
    assert "covid_testing" in text and "dpsgd-vae" in text and "gmm" in text
    assert "ε = 2.87 spent of a target of 3" in text
    assert "November 23, 2025" in text
    assert "What decided it" in text and "All 4 gated checks passed" in text
    # warnings: data-dependent domains and the non-private baseline
    assert "not privacy-protected" in text
    assert "Generator gmm is not private" in text
    # checks table, per-attack explanations from the catalog, utility, provenance
    assert text.count("pass: the upper 95% bound") >= 6
    assert "Could someone use the synthetic data" in text
    assert "Trained on synthetic (TSTR)" in text
    assert result["dataset"]["sha256"] in text and result["config_sha256"] in text
    assert '"n_components": 10' in text  # pretty config
    assert "torch" in text and "2.13.0" in text
    assert "Methodology and limitations" in text and "What a pass does not prove" in text
    # one section per attack family, in plain words, with the technical details folded away
    for family in ("Singling out", "Linkability", "Attribute inference",
                   "Membership inference", "Distinguishability"):
        assert family in text
    assert html.count("<details><summary>Technical details of") == 5
    # methodology per attack and metric: assumptions and references
    assert "Attacks: assumptions and references" in text
    assert "S. Yeom et al., Privacy Risk in Machine Learning, CSF 2018." in text
    assert "Pairwise associations only" in text
    # provenance: the results' SHA-256, plugins with versions, how to verify
    assert result_sha256(result) in text
    assert "privgate verify report.html results.json" in text
    # category values only of declared, non-data-dependent columns
    assert "moderate" in text
    assert "Adams" not in text and "drive-through" not in text


@pytest.mark.parametrize(("verdict", "word"), [("pass", "PASS"), ("fail", "FAIL"),
                                               ("cannot-certify", "CANNOT CERTIFY"),
                                               ("error", "ERROR")])
def test_every_verdict_in_words(result: dict[str, Any], verdict: str, word: str) -> None:
    result["verdict"] = verdict
    if verdict != "pass":
        result["checks"][0]["status"] = verdict
    html = render(result, [])
    assert f"Verdict: {word}" in html
    assert f'class="verdict st-{verdict}"' in html
    if verdict != "pass":
        assert "1 of 4 gated checks decided this verdict" in html


def test_no_warning_without_data_dependent_domains(result: dict[str, Any]) -> None:
    result["data_dependent_domains"] = []
    assert "not privacy-protected" not in render(result, [])


def test_contributed_sections_sorted_and_escaped(result: dict[str, Any]) -> None:
    secs = [
        ReportSection(id="late", title="Zeta section", order=500, plugin="p<b>",
                      blocks=(Paragraph("<b>bold?</b>"),)),
        ReportSection(id="early", title="Alpha section", order=1, plugin="p2",
                      blocks=(Table(headers=("a", "<th>"), rows=[(1, "<td>")], caption="c"),
                              KeyValues(items=(("k", {"nested": "<i>"}),)))),
    ]
    html = render(result, secs)
    assert html.index("Alpha section") < html.index("Zeta section")
    assert "<b>bold?</b>" not in html and "&lt;b&gt;bold?&lt;/b&gt;" in html
    assert "&lt;th&gt;" in html and "&lt;td&gt;" in html and "p&lt;b&gt;" in html


def test_minimal_and_broken_results_still_render() -> None:
    html = render({}, [])
    assert "Verdict: ERROR" in html
    broken: dict[str, Any] = {
        "verdict": "weird", "checks": [{"status": "pass"}, "not a dict", {"risk": float("nan")}],
        "generators": [{"name": "g", "attacks": [{"attack": "a", "status": "error",
                                                  "error": "boom"}, {}, None],
                        "metrics": [{"metric": "hellinger", "details": {"per_column": 3}},
                                    {"metric": "new-metric", "value": "x"}],
                        "spent": None, "budget": None}],
        "policies": [{"name": "p"}], "environment": {"plugins": [{}]},
        "timestamps": {"started_at": "not a date"},
    }
    html = render(broken, [])
    assert "Verdict: ERROR" in html and "boom" in html and "Attacks failed on g" in html


def test_inferred_schema_never_lists_category_values(result: dict[str, Any]) -> None:
    result["schema"]["source"] = "inferred"
    for i, col in enumerate(result["schema"]["columns"]):
        if col.get("categories"):
            col["categories"] = [f"rare-value-{i}-{j}" for j in range(len(col["categories"]))]
    html = render(result, sections_for(result))
    assert "rare-value-" not in html
    assert "4 categories (values not shown" in html


def test_roc_downsampled_and_size_bounded(result: dict[str, Any]) -> None:
    n = 4_999  # the most points a result may carry (privgate.evidence.MAX_ROC_POINTS)
    fpr = [i / n for i in range(n + 1)]
    roc = {"fpr": fpr, "tpr": [min(1.0, math.sqrt(f)) for f in fpr]}
    for gen in result["generators"]:
        for att in gen["attacks"]:
            if att.get("roc"):
                att["roc"] = roc
    html = render(result, sections_for(result))
    assert len(html.encode()) < MAX_BYTES
    curves = re.findall(r'<polyline points="([^"]+)" fill="none" stroke="#0b5cad"', html)
    assert len(curves) == 4
    assert all(len(c.split()) <= 200 for c in curves)


# ---------------------------------------------------------------------------- hostile strings


def poison(result: dict[str, Any], s: str) -> dict[str, Any]:
    """``result`` with ``s`` placed in every kind of string that comes from data or plugins."""
    r = copy.deepcopy(result)
    gen = r["generators"][0]
    old = gen["name"]
    gen["name"] = s
    gen["description"] = s
    for check in r["checks"]:
        if check["generator"] == old:
            check["generator"] = s
    r["verdict"] = "fail"
    r["checks"][0]["status"] = "fail"
    r["checks"][0]["message"] = s
    r["checks"][1]["attack"] = s
    r["checks"][2]["policy"] = s
    r["dataset"]["name"] = s
    r["dataset"]["columns"][0] = s
    r["dataset"]["dropped_columns"].append(s)
    r["schema"]["columns"][0]["name"] = s
    r["schema"]["columns"][1]["categories"] = [s, "M"]
    r["data_dependent_domains"].append(s)
    gen["attacks"][0]["details"][s] = s
    gen["attacks"][0]["details"]["nested"] = {s: [s]}
    gen["attacks"][0]["baseline_description"] = s
    gen["attacks"][1] = {"attack": s, "status": "error", "error": s}
    gen["params"][s] = s
    gen["spent"]["details"][s] = s
    gen["verdicts"][s] = "fail"
    gen["metrics"][0]["details"]["per_column"][s] = 0.5
    gen["metrics"][0]["figures"][0]["labels"][0] = s
    gen["metrics"][0]["figures"][0]["caption"] = s
    gen["metrics"][1]["details"]["columns"][0] = s
    gen["metrics"][1]["figures"][0]["row_labels"][0] = s
    gen["metrics"][1]["figures"][1]["rows"][0][0] = s
    gen["metrics"][2]["details"]["target"] = s
    gen["metrics"][2]["figures"][0]["headers"][0] = s
    gen["metrics"][2]["interval"]["method"] = s
    r["catalog"]["metrics"]["hellinger"]["title"] = s
    r["catalog"]["attacks"][gen["attacks"][0]["attack"]]["explanation"] = s
    r["policies"][0]["title"] = s
    r["environment"]["plugins"][0]["plugin"] = s
    r["environment"]["plugins"][0]["provides"] = {s: [s]}
    r["environment"]["packages"][s] = s
    r["config"][s] = s
    r["ledger"] = copy.deepcopy(LEDGER)
    r["ledger"]["path"] = s
    r["ledger"]["entries"][0]["generator"] = s
    r["ledger"]["entries"][1]["status"] = s
    r["vulnerability"] = copy.deepcopy(VULNERABILITY)
    r["vulnerability"]["rule"] = s
    r["vulnerability"]["standout_combinations"][0]["columns"][0] = s
    r["vulnerability"]["standout_combinations"][0]["values"][1] = s
    gen["attacks"][3]["details"][s] = 0.5
    gen["attacks"][2]["figures"][0]["title"] = s
    gen["attacks"][2]["figures"][0]["labels"][1] = s
    gen["attacks"][3]["auroc"]["interval"]["method"] = s
    gen["attacks"][3]["risk_kind"] = s
    return r


def check_hostile(result: dict[str, Any], s: str, out: Path) -> None:
    """Render the poisoned result; nothing of ``s`` may turn into markup."""
    r = poison(result, s)
    secs = sections_for(r) + [ReportSection(id=s, title=s, plugin=s, order=30, blocks=(
        Paragraph(s), Table(headers=(s,), rows=[(s,)], caption=s), KeyValues(items=((s, s),))))]
    paths = write_all(r, out, secs)
    html = paths["html"].read_bytes().decode("utf-8")  # keep "\r" as written
    page = parse(html)
    allowed = {"html", "head", "meta", "title", "style", "body", "a", "header", "p", "h1", "h2",
               "h3", "h4", "main", "section", "span", "div", "dl", "dt", "dd", "ul", "ol", "li",
               "strong", "aside", "code", "nav", "table", "caption", "thead", "tbody", "tr",
               "th", "td", "br", "figure", "figcaption", "svg", "desc", "line", "text", "rect",
               "circle", "path", "polyline", "details", "summary", "pre", "footer", "template"}
    assert {t for t, _ in page.tags} <= allowed
    assert not [k for _, a in page.tags for k in a if k.startswith("on")]
    assert "<script" not in html.lower()
    # control characters cannot be escaped in HTML: they are removed, the rest is shown escaped
    assert str(escape(strip_controls(s))) in html
    assert not any(c in html for c in s if c != "\n" and strip_controls(c) == "")
    if "<" in s:
        assert s not in html
    # the other formats survive too
    root = ET.parse(paths["junit"]).getroot()
    assert root.tag == "testsuites"
    assert sum(int(x.get("tests", 0)) for x in root) == len(r["checks"])
    assert json.loads(paths["json"].read_text(encoding="utf-8")) == r


@pytest.mark.parametrize("s", HOSTILE)
def test_hostile_strings_fixed(result: dict[str, Any], s: str, tmp_path: Path) -> None:
    check_hostile(result, s, tmp_path)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(s=st.text(min_size=1, max_size=40))
def test_hostile_strings_generated(result: dict[str, Any], s: str,
                                   tmp_path_factory: pytest.TempPathFactory) -> None:
    check_hostile(result, s, tmp_path_factory.mktemp("hostile"))


# ---------------------------------------------------------------------------- JSON


def test_json_round_trip_and_strict(result: dict[str, Any], tmp_path: Path) -> None:
    path = write_results(result, tmp_path)
    text = path.read_text(encoding="utf-8")
    assert path.name == "results.json" and text.endswith("}\n")
    assert json.loads(text) == result
    assert text == json.dumps(result, indent=2, sort_keys=True, allow_nan=False) + "\n"
    result["checks"][0]["risk"] = float("nan")
    result["generators"][1]["spent"]["epsilon"] = float("inf")
    result["generators"][0]["attacks"][0]["details"]["t"] = (1.0, float("-inf"))
    back = json.loads(write_results(result, tmp_path).read_text(encoding="utf-8"))
    assert back["checks"][0]["risk"] is None
    assert back["generators"][1]["spent"]["epsilon"] is None
    assert back["generators"][0]["attacks"][0]["details"]["t"] == [1.0, None]


# ---------------------------------------------------------------------------- JUnit


def test_junit_counts_match_checks(result: dict[str, Any], tmp_path: Path) -> None:
    result["checks"][0]["status"] = "cannot-certify"
    result["checks"][1]["status"] = "error"
    result["checks"][2]["status"] = "fail"
    root = ET.parse(JUnitReporter().write(result, [], tmp_path)).getroot()
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [p["name"] for p in result["policies"]]
    cases = suites[0].findall("testcase")
    assert len(cases) == len(result["checks"])
    gated = [c for c in result["checks"] if c["gated"]]
    expected = {
        "tests": len(result["checks"]),
        "failures": sum(c["status"] in ("fail", "cannot-certify") for c in gated),
        "errors": sum(c["status"] == "error" for c in gated),
        "skipped": sum(not c["gated"] for c in result["checks"]),
    }
    for key, value in expected.items():
        assert int(suites[0].get(key)) == value
        assert int(root.get(key)) == value
        tag = {"tests": "testcase", "failures": "testcase/failure",
               "errors": "testcase/error", "skipped": "testcase/skipped"}[key]
        assert len(suites[0].findall(tag)) == value
    first = cases[0]
    assert first.get("classname") == "privgate.dpsgd-vae"
    assert first.get("name") == "anonymeter-singling-out <= 0.09"
    assert first.find("failure").get("type") == "cannot-certify"
    assert first.find("failure").get("message") == result["checks"][0]["message"]
    skipped = [c.find("skipped") for c in cases if c.find("skipped") is not None]
    assert all(s.get("message") == "baseline, not gated" for s in skipped)


def test_junit_survives_control_characters(result: dict[str, Any], tmp_path: Path) -> None:
    result["checks"][0]["message"] = "bad\x00\x0b\x1f chars \ud800"
    root = ET.parse(JUnitReporter().write(result, [], tmp_path)).getroot()
    assert root.find("testsuite/testcase/system-out") is not None


# ---------------------------------------------------------------------------- contrast


def _luminance(hex_colour: str) -> float:
    """WCAG relative luminance of ``#rrggbb``."""
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    channels = [int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(fg: str, bg: str) -> float:
    """WCAG contrast ratio of two colours."""
    a, b = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def test_contrast_of_declared_text_colour_pairs() -> None:
    css = CSS.read_text(encoding="utf-8")
    root = re.search(r":root\s*\{([^}]*)\}", css)
    assert root is not None
    props = dict(re.findall(r"(--[\w-]+)\s*:\s*(#[0-9a-fA-F]{3,6})\s*;", root.group(1)))
    declared = re.search(r"contrast-pairs:(.*?)\*/", css, re.S)
    assert declared is not None
    pairs = re.findall(r"(--[\w-]+)/(--[\w-]+)", declared.group(1))
    assert len(pairs) >= 10
    for fg, bg in pairs:
        ratio = contrast(props[fg], props[bg])
        assert ratio >= 4.5, f"{fg} on {bg}: {ratio:.2f}"
    # chart text colours, on the white page and the striped rows of the forest plot
    for colour in [charts.INK, charts.MUTED, charts.ACCENT, *charts.STATUS_COLOURS.values()]:
        for bg in ("#ffffff", "#f6f8fa"):
            assert contrast(colour, bg) >= 4.5, (colour, bg)
    # the chart palette matches the stylesheet's status colours
    assert {"pass": props["--pass"], "fail": props["--fail"],
                                     "cannot-certify": props["--cannot"],
                                     "error": props["--error"]} == charts.STATUS_COLOURS


# ---------------------------------------------------------------------------- new content


LEDGER = {
    "path": "/data/ledger.jsonl", "fingerprint": "ab" * 32, "total_epsilon": 4.0,
    "spent_epsilon": 3.0,
    "entries": [
        {"time": "2025-10-01T09:00:00+00:00", "generator": "dpsgd-vae", "epsilon": 1.0,
         "delta": 1e-5, "accountant": "rdp", "config_sha256": "c1", "status": "spent"},
        {"time": "2025-10-20T09:00:00+00:00", "generator": "dpsgd-vae", "epsilon": None,
         "delta": 1e-5, "accountant": "rdp", "config_sha256": "c2", "status": "refused"},
        {"time": "2025-11-23T10:00:00+00:00", "generator": "dpsgd-vae", "epsilon": 2.0,
         "delta": 1e-5, "accountant": "rdp", "config_sha256": "c3", "status": "spent"},
    ]}


def test_ledger_spending_chart_and_first_screen(result: dict[str, Any]) -> None:
    assert 'id="ledger"' not in render(result, [])  # no ledger, no section
    result["ledger"] = LEDGER
    html = render(result, [])
    verdict_box = html[html.index('id="verdict"'):html.index("</section>")]
    assert "ε 3 of the total budget 4 is used" in verdict_box
    assert "ε 3 spent of a total of 4 (remaining 1)" in html  # the ledger appendix
    result["ledger"] = {**LEDGER, "total_epsilon": None}
    assert "ε 3 spent in all (no total budget is set)" in render(result, [])
    # this audit's fits apart from another user's on the same data set, on the first screen
    result["ledger"] = {**LEDGER, "this_audit_epsilon": 1.0, "others_epsilon": 2.0}
    first = render(result, [])
    first = first[first.index('id="verdict"'):first.index("</section>")]
    assert "this audit spent ε 1" in first
    assert "other fits on this data set (earlier audits, other people) spent ε 2" in first
    result["ledger"] = LEDGER
    html = render(result, [])
    chart = re.search(r'<svg class="chart ledger".*?</svg>', html, re.S)
    assert chart is not None
    svg = chart.group(0)
    assert "total budget ε = 4" in svg
    # the refused run adds nothing: cumulative 1 then 1 then 3
    desc = re.search(r"<desc[^>]*>(.*?)</desc>", svg, re.S)
    assert desc is not None
    assert "total 1" in desc.group(1) and "nothing spent" in desc.group(1)
    assert "total 3" in desc.group(1)
    assert svg.count("<circle") == 3


def test_membership_roc_log_axis_and_tpr_table(result: dict[str, Any]) -> None:
    html = render(result, [])
    roc = re.findall(r'<svg class="chart roc".*?</svg>', html, re.S)
    assert len(roc) == 4
    assert all("false-positive rate (log scale)" in r for r in roc)
    # decades on the x axis, down to the smallest non-zero FPR
    assert ">0.001<" in roc[0] and ">0.01<" in roc[0] and ">1<" in roc[0]
    assert "Members caught (TPR)" in html


def test_correlation_heat_map(result: dict[str, Any]) -> None:
    details = result["generators"][0]["metrics"][1]["details"]
    cols = details["columns"]
    html = render(result, [])
    maps = re.findall(r'<svg class="chart heatmap".*?</svg>', html, re.S)
    assert len(maps) == 2
    k = len(cols)
    assert maps[0].count("<rect") == k * (k - 1) // 2 + 6  # lower triangle + legend
    assert all(str(escape(c)) in maps[0] for c in cols)


def test_unknown_and_new_risk_kinds_get_their_own_family(result: dict[str, Any]) -> None:
    gen = result["generators"][0]
    extra = copy.deepcopy(gen["attacks"][0])
    extra.update(attack="reid-match", risk_kind="identity-disclosure")
    odd = copy.deepcopy(gen["attacks"][0])
    odd.update(attack="plugin-x", risk_kind="made-up-kind")
    gen["attacks"] += [extra, odd]
    text = " ".join(parse(render(result, [])).text)
    assert "Identity disclosure" in text and "Attack: reid-match" in text
    assert "made-up-kind" in text and "Attack: plugin-x" in text
    assert "A kind of risk reported by a plugin" in text


def test_cannot_certify_says_how_many_records_are_needed(result: dict[str, Any]) -> None:
    result["verdict"] = "cannot-certify"
    check = result["checks"][0]
    check.update(status="cannot-certify", ci_high=0.2, n_trials=40,
                 certification={"method": "Wilson", "level": 0.95, "trials_needed": 320,
                                "trials_available": 40, "can_certify": False})
    html = render(result, [])
    assert "with 40 trials no result could get below it; it needs about 320 records" in html
    first_screen = html[html.index('id="verdict"'):html.index("</section>")]
    assert "Certifying it needs about 320 trials; 40 ran." in first_screen


VULNERABILITY = {
    "file": "vulnerable_records.csv", "n_records_ranked": 10866, "n_high_risk": 4,
    "rule": "top 1% by DCR ratio",
    "standout_combinations": [
        {"columns": ["age", "gender"], "values": ["0", "female"], "n_records": 37},
        {"columns": ["age", "payor_group"], "values": ["97", "charity care"], "n_records": 3},
        {"columns": ["age", "payor_group"], "values": [19.0, None], "n_records": 84},
    ]}


def test_exposed_records_suppress_small_cells(result: dict[str, Any]) -> None:
    result["vulnerability"] = VULNERABILITY
    html = render(result, [])
    section = html[html.index('id="exposed"'):html.index('id="utility"')]
    text = re.sub(r"\s+", " ", " ".join(parse(section).text))
    assert "10,866" in text
    assert "fewer than 10" in text and ">4<" not in section  # 4 high-risk records hidden
    assert "female" in text and "37" in text
    assert "charity care" not in text  # a combination of 3 records is dropped
    assert "age = 19, payor_group = missing" in text
    # the minimum is configurable: [report] min_cell_size travels in the result
    result["min_cell_size"] = 40
    section = render(result, [])
    assert "female" not in section[section.index('id="exposed"'):section.index('id="utility"')]
    assert "fewer than 40" in section


def test_whole_quasi_identifier_tuples_are_never_listed(result: dict[str, Any]) -> None:
    qis = [c["name"] for c in result["schema"]["columns"] if c["role"] == "quasi-identifier"]
    vul = copy.deepcopy(VULNERABILITY)
    vul["standout_combinations"] = [{"columns": qis, "values": [f"v{i}" for i in qis],
                                     "n_records": 500}]
    result["vulnerability"] = vul
    html = render(result, [])
    assert not any(f"v{q}" in html for q in qis)


def test_privacy_of_report_no_rows_from_details(result: dict[str, Any]) -> None:
    """Hellinger and correlation figures are per column; no category value is made up."""
    html = render(result, sections_for(result))
    assert "Adams" not in html and "drive-through" not in html


def test_report_is_sealed_to_its_results(result: dict[str, Any]) -> None:
    html = render(result, [])
    assert f'<meta name="privgate-results-sha256" content="{result_sha256(result)}">' in html
    tag = re.search(r'<meta name="privgate-report-sha256" content="([0-9a-f]{64})">', html)
    assert tag is not None
    blank = html.replace(tag.group(1), "", 1)
    import hashlib
    assert hashlib.sha256(blank.encode()).hexdigest() == tag.group(1)


def test_small_record_counts_in_attack_details_are_suppressed(result: dict[str, Any]) -> None:
    details = result["generators"][0]["attacks"][0]["details"]
    details.update(n_success=3.0, n_attacks=500, n_cols=3)
    html = render(result, [])
    assert re.search(r'<th scope="row"><code>n_success</code></th><td>fewer than 10</td>',
                     html)
    assert re.search(r'<th scope="row"><code>n_attacks</code></th><td>500</td>', html)
    # a setting, not records
    assert re.search(r'<th scope="row"><code>n_cols</code></th><td>3</td>', html)


def test_a_missing_deciding_attack_reads_as_words_not_blanks(result: dict[str, Any]) -> None:
    """A policy threshold no configured attack measures decides as cannot-certify: the first
    screen says so in words, never "(none) ... upper n/a bound n/a"."""
    result["verdict"], result["exit_code"] = "cannot-certify", 1
    result["checks"].append({
        "policy": result["checks"][0]["policy"], "generator": "dpsgd-vae", "attack": "(none)",
        "risk_kind": "identity-disclosure", "threshold": 0.09, "status": "cannot-certify",
        "risk": None, "ci_low": None, "ci_high": None, "confidence_level": None,
        "n_trials": None, "trials_needed": None, "gated": True,
        "message": "no configured attack measures identity-disclosure risk; add one to "
                   "certify it"})
    html = render(result, [])
    first = html[html.index('id="verdict"'):html.index("</section>")]
    assert "no configured attack measures identity-disclosure risk" in first
    assert "n/a bound" not in html and "upper n/a" not in html
