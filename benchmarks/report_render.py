"""Size and render time of the HTML report, in English and Korean, and of the comparison page.

Run on demand::

    .venv/bin/python benchmarks/report_render.py                          # the test fixture
    .venv/bin/python benchmarks/report_render.py /tmp/demo/results.json   # plus a real audit

For each results.json: the median wall time of ``render`` over 5 runs (after one warm-up run
that compiles the templates), the report's size in bytes (budget: 1.5 MB), and the time of
``privgate verify``'s check. Writes ``benchmarks/results/report_render.json`` and ``.md``.
Timings depend on what else the machine runs: say so when quoting them.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from privgate.reports import sections as builtin_sections
from privgate.reports.compare import comparison_document, render_comparison
from privgate.reports.html import HtmlReporter, render
from privgate.results import dumps
from privgate.verify import verify

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "example_results.json"
OUT = ROOT / "benchmarks" / "results"
MAX_BYTES = 1_500_000


def _median_time(fn: Any, runs: int = 5) -> float:
    fn()  # warm-up: template compilation, catalog loading
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def measure(path: Path) -> dict[str, Any]:
    """Render the report of ``path`` in both languages, and its comparison with itself."""
    result = json.loads(path.read_text(encoding="utf-8"))
    sections = builtin_sections.privgate_report_sections(result) or []
    row: dict[str, Any] = {"results": str(path), "results_bytes": path.stat().st_size}
    for lang in ("en", "ko"):
        html = render(result, sections, lang=lang)
        row[f"{lang}_bytes"] = len(html.encode("utf-8"))
        row[f"{lang}_render_s"] = round(_median_time(lambda lg=lang: render(
            result, sections, lang=lg)), 4)
    doc = comparison_document(result, result, "old", "new")
    row["compare_render_s"] = round(_median_time(lambda: render_comparison(doc)), 4)
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results.json"
        results.write_text(dumps(result), encoding="utf-8")
        report = HtmlReporter().write(result, sections, Path(tmp))
        row["verify_s"] = round(_median_time(lambda: verify(report, results)), 4)
    row["under_budget"] = max(row["en_bytes"], row["ko_bytes"]) < MAX_BYTES
    return row


def main(argv: list[str]) -> None:
    paths = [FIXTURE] + [Path(a) for a in argv]
    rows = [measure(p) for p in paths]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "report_render.json").write_text(json.dumps(rows, indent=2) + "\n", "utf-8")
    lines = ["# HTML report: size and render time", "",
             "Median of 5 runs after a warm-up; machine shared with other work, so timings "
             "are indicative only.", "",
             "| results | en bytes | ko bytes | en render s | ko render s | compare s | "
             "verify s |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {Path(r['results']).name} ({r['results_bytes']:,} B) | "
                     f"{r['en_bytes']:,} | {r['ko_bytes']:,} | {r['en_render_s']} | "
                     f"{r['ko_render_s']} | {r['compare_render_s']} | {r['verify_s']} |")
    (OUT / "report_render.md").write_text("\n".join(lines) + "\n", "utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:])
