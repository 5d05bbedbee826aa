"""Figures and section blocks as the template renders them, whoever contributed them.

A metric's or an attack's ``figures`` (read back from the result document) and a report
section's ``blocks`` become the same small dicts: ``{"type": "chart", "svg", "caption"}``,
``{"type": "table", ...}``, ``{"type": "p", "text"}`` or ``{"type": "kv", "pairs"}``. The
template draws them with one macro, by type alone, so a third-party plugin's bar chart looks
like a built-in's. Numbers are formatted for the report's language; whole numbers in a column
or on an axis whose name says it counts records are suppressed below the minimum cell size.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar, cast

from privgate.figures import (
    BarChart,
    Block,
    HeatMap,
    KeyValues,
    LineChart,
    Paragraph,
    Table,
    from_plain,
    map_block,
)
from privgate.plain import PlainError
from privgate.reporting import ReportSection
from privgate.reports.common import (
    DEFAULT_MIN_CELL_SIZE,
    as_list,
    as_text,
    fmt_detail,
    is_count,
    small_count,
    suppressed_count,
)
from privgate.reports.i18n import Lang
from privgate.reports.plots import bar_chart, heatmap, line_chart

#: Longest summary of a contributed section (its first paragraph, cut at a word).
SUMMARY_CHARS = 400


def _cell(header: str, value: Any, lang: Lang, minimum: int) -> str:
    if small_count(header, value, minimum):
        return suppressed_count(value, minimum, lang)
    return fmt_detail(value, lang)


def _chart(svg: Any, caption: str, title: str) -> dict[str, Any]:
    if svg is None:  # nothing drawable (no value, one point): say so instead of a blank box
        return {"type": "p", "text": title}
    return {"type": "chart", "svg": svg, "title": title.rstrip(". "), "caption": caption}


B = TypeVar("B", bound=Block)


def _translated(block: B, lang: Lang) -> B:
    """``block`` with every plugin text in it translated through the plugin catalogs (text
    cells too; numbers stay as they are)."""
    return cast(B, map_block(block, lang.plugin,
                             lambda v: lang.plugin(v) if isinstance(v, str) else v))


def block_view(block: Block | Any, lang: Lang, minimum: int = DEFAULT_MIN_CELL_SIZE
               ) -> dict[str, Any]:
    """One figure or section block as the template's dict (unknown objects become text).

    Small counts are suppressed by the names the plugin gave (before translation), then the
    texts are translated (:meth:`Lang.plugin`)."""
    if isinstance(block, Table):
        original = [as_text(h) for h in block.headers]
        block = _translated(Table(block.headers, [[
            _cell(original[j] if j < len(original) else "", c, lang, minimum)
            for j, c in enumerate(row)] for row in block.rows], block.caption), lang)
        return {"type": "table", "caption": as_text(block.caption),
                "headers": [as_text(h) for h in block.headers],
                "rows": [[as_text(c) for c in row] for row in block.rows]}
    if isinstance(block, KeyValues):
        pairs = [(lang.plugin(as_text(k)), lang.plugin(_cell(as_text(k), v, lang, minimum)))
                 for k, v in block.items]
        return {"type": "kv", "pairs": pairs}
    if isinstance(block, BarChart):
        counts = block.axis_label.strip().replace(" ", "_")
        if is_count(counts):  # bars of record counts: a small count is left blank
            block = BarChart(block.title, block.labels,
                             tuple(None if small_count(counts, v, minimum) else v
                                   for v in block.values),
                             block.caption, block.axis_label, block.max_value)
        block = _translated(block, lang)
        return _chart(bar_chart(block, lang), block.caption, block.title)
    if isinstance(block, Paragraph | LineChart | HeatMap):
        block = _translated(block, lang)
    if isinstance(block, Paragraph):
        return {"type": "p", "text": as_text(block.text)}
    if isinstance(block, LineChart):
        return _chart(line_chart(block, lang), block.caption, block.title)
    if isinstance(block, HeatMap):
        return _chart(heatmap(block, lang), block.caption, block.title)
    return {"type": "p", "text": as_text(block)}


def figures_view(raw: Any, lang: Lang, minimum: int = DEFAULT_MIN_CELL_SIZE
                 ) -> list[dict[str, Any]]:
    """A result's ``figures`` (plain JSON, as ``results.json`` holds them) for the template.

    Each is rebuilt and checked (:func:`privgate.figures.from_plain`); one that does not fit
    (a document edited by hand, or written by a newer privgate) is named instead of drawn.
    """
    out = []
    for i, item in enumerate(as_list(raw)):
        try:
            out.append(block_view(from_plain(item, f"figure {i + 1}"), lang, minimum))
        except PlainError as exc:
            out.append({"type": "p", "text": lang.gettext(
                "A figure could not be shown: %(reason)s", reason=str(exc))})
    return out


def section_view(section: ReportSection, index: int, lang: Lang,
                 minimum: int = DEFAULT_MIN_CELL_SIZE) -> dict[str, Any]:
    """A contributed section as a list of typed blocks."""
    blocks: Sequence[Any] = section.blocks if isinstance(section.blocks, list | tuple) else ()
    views = [block_view(b, lang, minimum) for b in blocks]
    summary = next((v["text"] for v in views if v["type"] == "p"), "")
    return {"anchor": f"section-{index}", "title": lang.plugin(as_text(section.title)),
            "plugin": as_text(section.plugin), "blocks": views,
            "summary": summary if len(summary) <= SUMMARY_CHARS else
            summary[:SUMMARY_CHARS].rsplit(" ", 1)[0] + " …"}
