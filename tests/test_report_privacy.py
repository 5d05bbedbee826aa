"""The report of a real (small) demo audit: no training row's quasi-identifier tuple appears in
it, it is small, it carries the [report] settings, and its seal verifies against results.json.

Uses the session's ``demo_run`` (2,500 rows, 3 epochs), shared with the other demo tests.
"""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from privgate.cli import main
from privgate.cli_config import demo_config
from privgate.cli_parser import build_parser
from privgate.reporting import Paragraph, ReportSection
from privgate.reports.html import render
from privgate.schema import Role
from privgate.sources import load

pytestmark = pytest.mark.slow

MAX_BYTES = 1_500_000
#: Elements whose text is one "record-like" unit in which a row could be spelled out. The
#: audit configuration (<pre>) is left out: it is the declared schema (public metadata), and
#: its category lists and bounds would match many tuples without revealing any row.
UNITS = {"tr", "li", "p", "dd", "desc", "title", "td", "figcaption", "caption", "text"}


class Units(HTMLParser):
    """The text of every record-like unit of an HTML page (nested units count on their own)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[list[str]] = []
        self.units: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in UNITS:
            self.open.append([])

    def handle_endtag(self, tag: str) -> None:
        if tag in UNITS and self.open:
            self.units.append(" ".join(self.open.pop()).lower())

    def handle_data(self, data: str) -> None:
        for unit in self.open:
            unit.append(data)


def _variants(value: Any) -> set[str] | None:
    """How a value could be written in the report (None: missing, matches anything)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        x = float(value)
        out = {repr(x), f"{x:g}", f"{x:.3g}", f"{x:.2f}"}
        if x.is_integer():
            out.add(str(int(x)))
        return out
    return {str(value).lower()}


def qi_hits(html: str, rows: pd.DataFrame) -> list[tuple[Any, ...]]:
    """Training rows whose every quasi-identifier value appears within one unit of ``html``.

    Numbers must appear as whole tokens, text values as substrings (case-insensitive). Each
    distinct value's units are a bit mask, so a row is a hit when the AND of its masks is not 0.
    """
    parser = Units()
    parser.feed(html)
    units = [(text, set(re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?|[\w-]+", text)))
             for text in parser.units]
    masks: dict[frozenset[str], int] = {}

    def mask(options: set[str]) -> int:
        key = frozenset(options)
        if key not in masks:
            bits = 0
            for i, (text, tokens) in enumerate(units):
                if any(o in tokens or (not re.fullmatch(r"[-\d.e]+", o) and o in text)
                       for o in options):
                    bits |= 1 << i
            masks[key] = bits
        return masks[key]

    everything = (1 << len(units)) - 1
    hits = []
    for row in rows.itertuples(index=False):
        bits = everything
        for value in row:
            options = _variants(value)
            if options is not None:
                bits &= mask(options)
                if not bits:
                    break
        if bits:
            hits.append(tuple(row))
    return hits


@pytest.fixture(scope="module")
def demo(demo_run: tuple[int, Path]) -> tuple[dict[str, Any], pd.DataFrame, Path]:
    """The demo's result document, its training rows' quasi-identifiers and output folder."""
    _, out = demo_run
    args = build_parser().parse_args(["demo", "--max-rows", "2500", "--epochs", "3",
                                      "--out", str(out)])
    config = demo_config(args)
    data = load(config, where="demo")
    qis = [c.name for c in data.schema.columns if c.role is Role.QUASI_IDENTIFIER]
    assert len(qis) >= 4
    result = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert result["dataset"]["n_train"] == len(data.train)  # the same split as the audit
    return result, data.train[qis].reset_index(drop=True), out


def test_no_training_row_quasi_identifier_tuple_in_the_report(
        demo: tuple[dict[str, Any], pd.DataFrame, Path]) -> None:
    result, qi_rows, out = demo
    for lang in ("en", "ko"):
        html = (out / "report.html").read_text("utf-8") if lang == "en" else render(
            {**result, "lang": "ko"}, [])
        assert qi_hits(html, qi_rows) == []


def test_the_scan_finds_a_planted_row(demo: tuple[dict[str, Any], pd.DataFrame, Path]) -> None:
    """The scanner is not vacuous: a section that spells out one training row is caught."""
    result, qi_rows, _ = demo
    row = qi_rows.dropna().iloc[0]
    leak = ReportSection(id="leak", title="Leak", blocks=(
        Paragraph(" ".join(f"{k}={v}" for k, v in row.items())),))
    html = render(result, [leak])
    assert tuple(row) in qi_hits(html, qi_rows.dropna().iloc[:5])


def test_demo_report_small_sealed_and_settings_carried(
        demo: tuple[dict[str, Any], pd.DataFrame, Path]) -> None:
    result, _, out = demo
    report = out / "report.html"
    assert report.stat().st_size < MAX_BYTES
    assert result["lang"] == "en" and result["min_cell_size"] == 10
    assert main(["verify", str(report), str(out / "results.json")]) == 0
