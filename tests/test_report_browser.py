"""Open the HTML report in headless Chromium: no console errors, no network, screenshots, PDF.

Needs Chromium at /usr/bin/chromium (``apt-get install chromium``) and the ``playwright``
Python package; skipped with a reason otherwise. Screenshots and the PDF go to
``tests/artifacts/`` (git-ignored) for a human to look at.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from privgate.reports import sections as builtin_sections
from privgate.reports.html import HtmlReporter

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
FIXTURE = Path(__file__).parent / "fixtures" / "example_results.json"
ARTIFACTS = Path(__file__).parent / "artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


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


@pytest.fixture(scope="module", params=["fixture", "demo"])
def report(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hand-made fixture's report.html, and the report of a real (small) demo run."""
    if request.param == "demo":
        _, out = request.getfixturevalue("demo_run")
        return Path(out) / "report.html"
    result = json.loads(FIXTURE.read_text(encoding="utf-8"))
    sections = builtin_sections.privgate_report_sections(result) or []
    return HtmlReporter().write(result, sections, tmp_path_factory.mktemp("browser"))


def _open(browser: Any, report: Path, width: int, height: int
          ) -> tuple[Any, Any, list[str], list[str]]:
    """A page at the given viewport with the report loaded, plus its requests and errors."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(report.as_uri(), wait_until="load")
    return context, page, requests, errors


@pytest.mark.parametrize(("name", "width", "height"),
                         [("desktop", 1280, 800), ("phone", 390, 844)])
def test_renders_without_errors_or_requests(browser: Any, report: Path, name: str, width: int,
                                            height: int) -> None:
    context, page, requests, errors = _open(browser, report, width, height)
    try:
        assert errors == []
        assert requests == [report.as_uri()], f"unexpected requests: {requests}"
        verdict = page.locator("#verdict-title")
        assert re.search(r"Verdict: (PASS|FAIL|CANNOT CERTIFY|ERROR)", verdict.inner_text(),
                         re.IGNORECASE)
        box = verdict.bounding_box()
        assert box is not None and box["y"] < height, "the verdict must be visible at once"
        # nothing wider than the viewport except inside scrollable table wrappers
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width + 1, f"page scrolls sideways at {width}px ({overflow}px)"
        ARTIFACTS.mkdir(exist_ok=True)
        tag = report.parent.name
        page.screenshot(path=str(ARTIFACTS / f"report-{tag}-{name}.png"))
        page.screenshot(path=str(ARTIFACTS / f"report-{tag}-{name}-full.png"), full_page=True)
    finally:
        context.close()


def test_prints_to_pdf_with_verdict_on_page_one(browser: Any, report: Path) -> None:
    context, page, requests, errors = _open(browser, report, 1280, 800)
    try:
        page.emulate_media(media="print")
        # A4 at 96 dpi is 1123 px tall; with 14 mm margins about 1017 px are printable.
        box = page.locator("#verdict").bounding_box()
        assert box is not None and box["y"] + box["height"] < 1017
        ARTIFACTS.mkdir(exist_ok=True)
        pdf = page.pdf(path=str(ARTIFACTS / f"report-{report.parent.name}.pdf"), format="A4",
                       print_background=True, prefer_css_page_size=True)
        assert pdf.startswith(b"%PDF")
        pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
        assert pages >= 2, "the full report spans several A4 pages"
        assert errors == []
        assert requests == [report.as_uri()]
    finally:
        context.close()
