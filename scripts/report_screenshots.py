"""Screenshots of a report for docs/: the first screen, and the two printed pages to decide on.

    python scripts/report_screenshots.py privgate-demo/report.html en
    python scripts/report_screenshots.py privgate-demo/report-ko.html ko

writes ``docs/report-first-screen-LANG.png`` (1280 x 800, screen), and
``docs/report-print-page1-LANG.png`` / ``-page2-LANG.png``: the report in print media at the
printable width of A4 (96 dpi), cut where the pages break (page 2 starts at the checks and
ends after the sign-off). Needs Chromium at /usr/bin/chromium and the playwright package.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

DOCS = Path(__file__).resolve().parents[1] / "docs"
CHROMIUM = "/usr/bin/chromium"
#: A4 minus the report's page margins, at 96 dpi.
PRINT_W, PRINT_H = 703, 1009

BOX_JS = """sel => { const e = document.querySelector(sel); const r = e.getBoundingClientRect();
  return {top: r.top + scrollY, bottom: r.bottom + scrollY}; }"""


def shoot(report: Path, lang: str) -> list[Path]:
    """Take the three screenshots of ``report``; returns their paths."""
    out = [DOCS / f"report-first-screen-{lang}.png", DOCS / f"report-print-page1-{lang}.png",
           DOCS / f"report-print-page2-{lang}.png"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(report.resolve().as_uri())
        page.screenshot(path=str(out[0]))
        page.set_viewport_size({"width": PRINT_W, "height": PRINT_H})
        page.emulate_media(media="print")
        two = page.evaluate(BOX_JS, "#checks")
        sign = page.evaluate(BOX_JS, ".digital-signature")
        page.screenshot(path=str(out[1]), full_page=True,
                        clip={"x": 0, "y": 0, "width": PRINT_W,
                              "height": min(two["top"], PRINT_H)})
        page.screenshot(path=str(out[2]), full_page=True,
                        clip={"x": 0, "y": two["top"], "width": PRINT_W,
                              "height": min(sign["bottom"] - two["top"] + 8, PRINT_H)})
        browser.close()
    return out


if __name__ == "__main__":
    for path in shoot(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "en"):
        print(path)
