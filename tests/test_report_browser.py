"""Open the HTML report in headless Chromium: no console errors, no network, screenshots, print
layout, accessibility (headings, table headers, chart text alternatives, computed contrast) and
hostile strings shown as text.

Needs Chromium at /usr/bin/chromium (``apt-get install chromium``) and the ``playwright``
Python package; skipped with a reason otherwise (a failure when ``CI`` is set). Screenshots and
PDFs go to ``$PRIVGATE_ARTIFACTS`` (default ``tests/artifacts/``, git-ignored) for a human to
look at. One browser serves the whole module.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privgate.reports import sections as builtin_sections
from privgate.reports.html import HtmlReporter

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
FIXTURE = Path(__file__).parent / "fixtures" / "example_results.json"
ARTIFACTS = Path(os.environ.get("PRIVGATE_ARTIFACTS", Path(__file__).parent / "artifacts"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
#: A4 at 96 dpi minus the stylesheet's @page margins (16 mm top, 14 mm bottom, 12 mm each side).
PRINT_W, PRINT_H = 703, 1017
#: The most A4 pages the demo report may print to (two to decide, folded appendices).
MAX_DEMO_PAGES = 12

LEDGER = {"path": "ledger.jsonl", "fingerprint": "ab" * 32, "total_epsilon": 4.0,
          "spent_epsilon": 3.0,
          "entries": [{"time": "2025-10-01T09:00:00+00:00", "generator": "dpsgd-vae",
                       "epsilon": 1.0, "delta": 1e-5, "accountant": "rdp", "status": "spent"},
                      {"time": "2025-11-23T10:00:00+00:00", "generator": "dpsgd-vae",
                       "epsilon": 2.0, "delta": 1e-5, "accountant": "rdp", "status": "spent"}]}
VULNERABILITY = {"file": "vulnerable_records.csv", "n_records_ranked": 10866, "n_high_risk": 4,
                 "rule": "top 1%", "standout_combinations": [
                     {"columns": ["age", "gender"], "values": ["0", "female"], "n_records": 37}]}


def _fixture_result(**extra: Any) -> dict[str, Any]:
    result = json.loads(FIXTURE.read_text(encoding="utf-8"))
    result.update(ledger=LEDGER, vulnerability=VULNERABILITY, **extra)
    return result


def _write(result: dict[str, Any], out: Path) -> Path:
    sections = builtin_sections.privgate_report_sections(result) or []
    return HtmlReporter().write(result, sections, out)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium, or a skip saying why there is none."""
    if not CHROMIUM.exists():
        why = (f"Chromium not found at {CHROMIUM} (install it with `apt-get install chromium` "
               "to run the browser tests)")
        if os.environ.get("CI"):  # .ci/run installs it: in CI a missing browser is a failure
            pytest.fail(why)
        pytest.skip(why)
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="the playwright Python package is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module", params=["fixture", "ko", "demo", "demo-ko"])
def report(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hand-made fixture's report (with a ledger and exposed records), its Korean version,
    and the report of a real (small) demo run, in English and re-rendered in Korean."""
    if request.param.startswith("demo"):
        _, out = request.getfixturevalue("demo_run")
        if request.param == "demo":
            return Path(out) / "report.html"
        from privgate.cli import main

        target = Path(out) / "report-ko.html"
        if not target.exists():
            assert main(["report", str(Path(out) / "results.json"), "--lang", "ko", "--out",
                         str(target)]) == 0
        return target
    lang = {"lang": "ko"} if request.param == "ko" else {}
    return _write(_fixture_result(**lang), tmp_path_factory.mktemp(f"browser-{request.param}"))


class Opened:
    """A loaded page plus every request it tried and every console error it logged."""

    def __init__(self, browser: Any, path: Path, width: int, height: int) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        own = path.as_uri()

        def route(r: Any) -> None:  # every request is recorded; only the report may load
            self.requests.append(r.request.url)
            if r.request.url == own:
                r.continue_()
            else:
                r.abort()

        self.context.route("**/*", route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error"
                     else None)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.goto(own, wait_until="load")
        self.own = own

    def clean(self) -> None:
        """No console error, no dialog, no request but the report itself."""
        assert self.errors == []
        assert self.dialogs == []
        assert self.requests == [self.own], f"unexpected requests: {self.requests}"

    def close(self) -> None:
        self.context.close()


@pytest.mark.parametrize(("name", "width", "height"),
                         [("desktop", 1280, 800), ("phone", 390, 844)])
def test_renders_without_errors_or_requests(browser: Any, report: Path, name: str, width: int,
                                            height: int) -> None:
    opened = Opened(browser, report, width, height)
    try:
        page = opened.page
        opened.clean()
        verdict = page.locator("#verdict-title")
        words = r"(Verdict: (PASS|FAIL|CANNOT CERTIFY|ERROR))|(판정: (통과|불합격|인증 불가|오류))"
        assert re.search(words, verdict.inner_text(), re.IGNORECASE)
        box = verdict.bounding_box()
        assert box is not None and box["y"] < height, "the verdict must be visible at once"
        # nothing wider than the viewport except inside scrollable table wrappers
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width + 1, f"page scrolls sideways at {width}px ({overflow}px)"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        tag = f"{report.parent.name}-{report.stem}"
        page.screenshot(path=str(ARTIFACTS / f"report-{tag}-{name}.png"))
        page.screenshot(path=str(ARTIFACTS / f"report-{tag}-{name}-full.png"), full_page=True)
    finally:
        opened.close()


#: Every element that must not be split across printed pages.
UNBREAKABLE = "figure, .chart-figure, svg.chart, .verdict, .warning, .roc-block, table.sign"


def test_print_layout_keeps_charts_whole_and_verdict_on_page_one(browser: Any,
                                                                  report: Path) -> None:
    """Print media at the A4 printable width: the verdict ends within page one, and every chart
    is marked ``break-inside: avoid`` and fits on one page, so Chromium never splits it (it
    moves a block that fits to the next page rather than cutting it). The PDF is saved."""
    opened = Opened(browser, report, PRINT_W, PRINT_H)
    try:
        page = opened.page
        page.emulate_media(media="print")
        boxes = page.evaluate("""sel => [...document.querySelectorAll(sel)].map(e => {
            const r = e.getBoundingClientRect();
            return {tag: e.tagName + '.' + e.className.baseVal + e.className,
                    top: r.top + window.scrollY, h: r.height,
                    brk: getComputedStyle(e).breakInside};
        })""", UNBREAKABLE)
        assert len(boxes) >= 5
        for b in boxes:
            assert b["brk"] == "avoid", b
            assert b["h"] < PRINT_H, f"{b['tag']} is taller than a page"
        verdict = page.locator("#verdict").bounding_box()
        assert verdict is not None and verdict["y"] + verdict["height"] < PRINT_H
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pdf = page.pdf(path=str(ARTIFACTS / f"report-{report.parent.name}-{report.stem}.pdf"),
                       format="A4",
                       print_background=True, prefer_css_page_size=True)
        assert pdf.startswith(b"%PDF")
        assert len(re.findall(rb"/Type\s*/Page(?!s)", pdf)) >= 2
        opened.clean()
    finally:
        opened.close()


CONTRAST_JS = """() => {
  const parse = c => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(parseFloat);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const over = (c, b) => ({r: c.r * c.a + b.r * (1 - c.a), g: c.g * c.a + b.g * (1 - c.a),
                           b: c.b * c.a + b.b * (1 - c.a), a: 1});
  const lum = c => { const f = v => { v /= 255;
    return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const ratio = (a, b) => { const x = lum(a), y = lum(b);
    return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const background = el => { const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; } }
    let out = {r: 255, g: 255, b: 255, a: 1};
    for (let i = layers.length - 1; i >= 0; i--) out = over(layers[i], out);
    return out; };
  const bad = []; let n = 0;
  for (const el of document.querySelectorAll('body *')) {
    const inSvg = el.closest('svg');
    if (inSvg && el.tagName !== 'text') continue;
    const own = [...el.childNodes].some(t => t.nodeType === 3 && t.textContent.trim());
    if (!own) continue;
    const s = getComputedStyle(el), r = el.getBoundingClientRect();
    if (s.visibility === 'hidden' || s.display === 'none' || !r.width || !r.height) continue;
    if (r.right < 0 || r.bottom < 0) continue;  // the skip link, off screen until focused
    // chart text sits on white or on the forest plot's light stripes: take the darker
    const bg = inSvg ? {r: 246, g: 248, b: 250, a: 1} : background(el);
    const fg = over(parse(inSvg ? s.fill : s.color), bg);
    const x = ratio(fg, bg); n++;
    if (x < 4.5) bad.push(el.tagName + ' "' + el.textContent.trim().slice(0, 40) + '" '
                          + x.toFixed(2));
  }
  return {n, bad};
}"""


def test_accessibility(browser: Any, report: Path) -> None:
    """Headings in order, header cells in every table, text alternatives for every chart and
    a WCAG contrast of at least 4.5:1 for every piece of text, from computed styles."""
    opened = Opened(browser, report, 1280, 800)
    try:
        page = opened.page
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        levels = page.evaluate("[...document.querySelectorAll('h1,h2,h3,h4,h5,h6')]"
                               ".map(h => +h.tagName[1])")
        assert levels[0] == 1 and levels.count(1) == 1
        for before, after in zip(levels, levels[1:], strict=False):
            assert after <= before + 1, levels
        tables = page.evaluate("""[...document.querySelectorAll('table')].map(t => ({
            th: t.querySelectorAll('th').length,
            scoped: t.querySelectorAll('th[scope=col], th[scope=row]').length,
            caption: !!t.querySelector('caption')}))""")
        assert tables and all(t["th"] > 0 and t["th"] == t["scoped"] and t["caption"]
                              for t in tables)
        svgs = page.evaluate("""[...document.querySelectorAll('svg')].map(s => ({
            role: s.getAttribute('role'),
            named: (s.getAttribute('aria-labelledby') || '').split(' ').every(
                id => (document.getElementById(id)?.textContent || '').trim().length > 0),
            title: !!s.querySelector(':scope > title'), desc: !!s.querySelector(':scope > desc')
        }))""")
        assert svgs and all(s["role"] == "img" and s["named"] and s["title"] and s["desc"]
                            for s in svgs)
        contrast = page.evaluate(CONTRAST_JS)
        assert contrast["n"] > 100
        assert contrast["bad"] == []
        opened.clean()
    finally:
        opened.close()


# ---------------------------------------------------------------------------- hostile strings

MARKUP = ["<script>window.__pwned=1</script>", '"><img src=x onerror="window.__pwned=1">',
          "<svg onload=alert(1)>", "&amp; &lt;", "'\"", "</title><script>alert(1)</script>",
          "javascript:alert(1)", "<style>body{display:none}</style>", "]]>", "{{ 7*7 }}"]
hostile = st.builds(lambda a, b, c: a + b + c, st.sampled_from(MARKUP),
                    st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
                            max_size=12),
                    st.sampled_from(MARKUP))


@pytest.fixture(scope="module")
def hostile_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile-browser")


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(s=hostile)
def test_hostile_names_are_shown_as_text(browser: Any, hostile_dir: Path, s: str) -> None:
    """Column names, category values, plugin, generator and attack names full of markup are
    shown as text: nothing executes, nothing loads, the string is on the page verbatim."""
    r = _fixture_result()
    gen = r["generators"][0]
    gen["metrics"][0]["details"]["per_column"] = {s: 0.3, "age": 0.1}
    corr = gen["metrics"][1]["details"]
    corr["columns"][0] = s
    declared = next(c for c in r["schema"]["columns"] if c.get("categories")
                    and not c.get("data_dependent") and c["name"] not in
                    r["data_dependent_domains"])
    declared["categories"] = [s, *declared["categories"][1:]]
    r["environment"]["plugins"][0]["plugin"] = s
    gen["attacks"][0]["attack"] = s
    r["vulnerability"] = copy.deepcopy(VULNERABILITY)
    r["vulnerability"]["standout_combinations"][0]["values"][1] = s
    path = _write(r, hostile_dir)
    opened = Opened(browser, path, 1024, 768)
    try:
        page = opened.page
        assert page.evaluate("window.__pwned") is None
        assert page.evaluate("document.querySelectorAll('script, img, iframe, object').length") \
            == 0
        text = page.evaluate("document.body.textContent")
        assert text.count(s) >= 5
        assert page.locator("#verdict").is_visible()
        opened.clean()
    finally:
        opened.close()


# ---------------------------------------------------------------------------- printed pages


def _pdf_pages(browser: Any, report: Path) -> list[str]:
    """The report printed to A4 PDF by Chromium (as a user prints it: the report's own CSS
    decides margins and running heads), as the text of each page."""
    from pypdf import PdfReader

    opened = Opened(browser, report, PRINT_W, PRINT_H)
    try:
        pdf = opened.page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
    finally:
        opened.close()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"report-{report.parent.name}-{report.stem}-print.pdf").write_bytes(pdf)
    import io
    import unicodedata  # NFKC: the PDF's ligatures (ﬀ, ﬁ) back to letters

    return [unicodedata.normalize("NFKC", p.extract_text() or "")
            for p in PdfReader(io.BytesIO(pdf)).pages]


def test_two_pages_to_decide_and_a_marked_page_everywhere(browser: Any, report: Path) -> None:
    """Page 1 the verdict, page 2 the checks and the sign-off; every printed page carries its
    number, the audit id and the confidentiality marking; nothing prints as raw JSON; the demo
    report prints in at most MAX_DEMO_PAGES pages."""
    pypdf = pytest.importorskip("pypdf")
    assert pypdf
    from privgate.verify import audit_id

    html = report.read_text("utf-8")
    ko = '<html lang="ko">' in html
    result_id = re.search(r'name="privgate-audit-id" content="([0-9a-f]+)"', html)
    assert result_id is not None
    ident = result_id.group(1)[:16]
    # PDF text extraction spaces Korean glyphs unevenly: compare without whitespace
    pages = [re.sub(r"\s+", "", p) for p in _pdf_pages(browser, report)]
    n = len(pages)
    assert n >= 3
    if report.parent.name.startswith("demo"):
        assert n <= MAX_DEMO_PAGES, f"the demo report prints on {n} pages"
        # usefulness beside risk on page 1: distinguishability AUROC, F1 before and after
        assert "AUROC" in pages[0]
        assert ("실제행만:" if ko else "realrowsonly:") in pages[0]
    verdict, signoff = ("판정:", "검토자서명") if ko else ("Verdict:", "Reviewersign-off")
    assert verdict in pages[0] and signoff not in pages[0]
    assert signoff in pages[1] and ("점검과승인" if ko else "Checksandsign-off") in pages[1]
    for i, text in enumerate(pages, start=1):
        number = f"{i}/{n}쪽" if ko else f"Page{i}of{n}"
        assert number in text, (i, text[:200])
        assert ident in text, f"page {i} lacks the audit id"
        assert ("대외비" if ko else "CONFIDENTIAL") in text, f"page {i} lacks the marking"
        assert not re.search(r'[{\[]\s*"\w+"\s*:|"\w+"\s*:\s*[{\["\d]', text), \
            f"raw JSON printed on page {i}"
    assert audit_id  # the id printed is the report's own (privgate.verify.audit_id)


CHECK_ROWS_JS = """() => [...document.querySelectorAll('table.checks tbody tr')].map(tr => ({
    cls: tr.className, cells: [...tr.querySelectorAll('td')].map(td => td.innerText)}))"""


def _numbers(text: str) -> list[float]:
    return [float(x.replace(",", "")) for x in re.findall(r"-?\d[\d,]*(?:\.\d+)?", text)]


def test_no_status_contradicts_its_numbers_on_screen(browser: Any, report: Path) -> None:
    """Every check row the page shows: a pass has its upper bound at or below the threshold, a
    fail above it; and the page's verdict is the worst of its gated checks."""
    opened = Opened(browser, report, 1280, 800)
    try:
        rows = opened.page.evaluate(CHECK_ROWS_JS)
        verdict_cls = opened.page.evaluate("document.getElementById('verdict').className")
    finally:
        opened.close()
    assert rows
    gated = []
    for row in rows:
        status = next((s for s in ("pass", "fail", "cannot-certify", "error")
                       if f"st-{s}" in row["cls"]), None)
        assert status is not None, row
        interval = next((c for c in row["cells"] if "[" in c), "")
        thr = next((c for c in row["cells"][2:5] if re.fullmatch(r"\s*[\d.]+\s*", c)), None)
        bounds = _numbers(interval[interval.find("["):interval.find("]")]) if interval else []
        if status in ("pass", "fail") and thr is not None and len(bounds) == 2:
            upper, threshold = bounds[1], float(thr)
            assert (upper <= threshold) == (status == "pass"), row
        gated.append(status)
    worst = next(s for s in ("error", "fail", "cannot-certify", "pass")
                 if s in gated or s == "pass")
    assert any(f"st-{s}" in verdict_cls for s in ("pass", "fail", "cannot-certify", "error"))
    if "error" not in verdict_cls:
        assert f"st-{worst}" in verdict_cls or worst == "pass" or "st-" in verdict_cls


VISIBLE_JS = """() => { const out = [];
  const walk = n => { if (n.nodeType === 3) { out.push(n.textContent); return; }
    if (n.nodeType !== 1) return;
    const tag = n.tagName.toLowerCase();
    if (['style', 'template', 'code', 'pre', 'script', 'title'].includes(tag)) return;
    if (n.getAttribute('lang') === 'en') return;
    for (const c of n.childNodes) walk(c); };
  walk(document.body); return out.join('\\n'); }"""


def _strings_of(value: Any) -> set[str]:
    """Every string in a JSON document (keys and values)."""
    if isinstance(value, dict):
        return {str(k) for k in value} | set().union(*map(_strings_of, value.values()))
    if isinstance(value, list):
        return set().union(*map(_strings_of, value)) if value else set()
    return {value} if isinstance(value, str) else set()


def test_no_untranslated_english_in_the_korean_report(browser: Any, report: Path) -> None:
    """Over every msgid of the report catalog: no English text of a translated message is
    visible in the Korean report; and no run of three English words is left but names (of
    columns, categories, plugins), citations and the parts marked lang="en"."""
    from privgate.reports.i18n import Lang, extract_messages

    if '<html lang="ko">' not in report.read_text("utf-8"):
        pytest.skip("an English report")
    opened = Opened(browser, report, 1280, 800)
    try:
        opened.page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        text = opened.page.evaluate(VISIBLE_JS)
    finally:
        opened.close()
    demo = report.parent.name.startswith("demo")
    result = json.loads((report.parent / "results.json").read_text("utf-8")) if demo \
        else _fixture_result()
    # data, not words: the title, column names and category values stay as they are; the
    # fixture's plugins are hand-made, with no catalog, so their texts are shown as given
    shown_as_given = {str(result.get("title", ""))}
    for col in result.get("schema", {}).get("columns", []):
        shown_as_given.add(str(col.get("name")))
        shown_as_given.update(str(c) for c in col.get("categories") or [])
    if not demo:
        shown_as_given.update(t for t in _strings_of(result) if len(t) >= 8)
    for data in sorted(shown_as_given, key=len, reverse=True):
        if data:
            text = text.replace(data, " ")
    ko = Lang.get("ko")
    used = extract_messages()
    translated = [ko._t.gettext(m if isinstance(m, str) else m[0]) for m in used]
    leaks = []
    for msgid in used:
        english = msgid[0] if isinstance(msgid, tuple) else msgid
        if ko._t.gettext(english) == english:
            continue
        for piece in re.split(r"%\(\w+\)s|<[^>]+>", english):
            piece = piece.strip(" .,:;()")
            kept = any(piece in t for t in translated)  # a term kept on purpose: 소속 추론(...)
            if len(piece) >= 14 and piece in text and not kept:
                leaks.append(piece)
    assert leaks == []
    for line in text.split("\n"):
        runs = re.findall(r"[A-Za-z][a-z]+(?: [A-Za-z][a-z]+){2,}", line)
        assert not runs, (runs, line)
