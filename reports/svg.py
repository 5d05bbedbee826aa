"""The drawing kit of the report's inline SVG charts: colours, escaping, chart ids, grids.

Every chart (:mod:`privgate.reports.charts`, :mod:`privgate.reports.plots`) is built as a
string and inserted unescaped, so escaping is manual: every piece of text that goes into an SVG
passes through :func:`esc` (``markupsafe.escape``), and numbers are formatted by Python, never
taken as strings from the input.

Charts carry ``role="img"``, an ``aria-labelledby`` pointing at their ``<title>`` and a
``<desc>`` that states the figures in words (:func:`open_svg`), so that screen readers and
printouts without colour still convey them. Colour is never the only signal.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from markupsafe import escape

from privgate.reports.i18n import Lang

EN = Lang()

#: Colours used in charts; all reach 4.5:1 against white (see report.css for the text pairs).
INK = "#1f2328"
MUTED = "#57606a"
GRID = "#d0d7de"
ACCENT = "#0b5cad"
#: Further line colours, for a chart with several series (each also labelled in words).
SERIES = (ACCENT, "#b35900", "#1a7f37", "#6e40c9", "#b42318", "#57606a")
STATUS_COLOURS = {"pass": "#1a7f37", "fail": "#b42318", "cannot-certify": "#8a5a00",
                  "error": "#6e40c9"}
STATUS_LABELS = {"pass": "PASS", "fail": "FAIL", "cannot-certify": "CANNOT CERTIFY",
                 "error": "ERROR"}
FONT = ("font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, 'Apple SD Gothic Neo', "
        "'Malgun Gothic', 'Noto Sans KR', 'Noto Sans CJK KR', sans-serif\"")

#: Chart ids count from 1 within each rendering (:func:`restart_ids`), so that the same result
#: document always renders to the same bytes.
_ids: ContextVar[Iterator[int]] = ContextVar("privgate_chart_ids")


def status_label(status: Any, lang: Lang = EN) -> str:
    """The status in capital words, translated (unknown statuses are errors)."""
    labels = {"pass": lang.gettext("PASS"), "fail": lang.gettext("FAIL"),
              "cannot-certify": lang.gettext("CANNOT CERTIFY"), "error": lang.gettext("ERROR")}
    return labels.get(str(status), labels["error"])


def restart_ids() -> None:
    """Number the charts of the next rendering from 1 again."""
    _ids.set(itertools.count(1))


def _next_id() -> int:
    try:
        counter = _ids.get()
    except LookupError:
        counter = itertools.count(1)
        _ids.set(counter)
    return next(counter)


def esc(value: Any) -> str:
    """Escape any value for use as SVG text or attribute content."""
    return str(escape(str(value)))


def open_svg(width: int, height: int, title: str, desc: str, css_class: str) -> str:
    """The opening of an accessible SVG element with its title and description."""
    uid = f"chart{_next_id()}"
    return (f'<svg class="chart {css_class}" '
            f'viewBox="0 0 {width} {height}" role="img" '
            f'aria-labelledby="{uid}-t {uid}-d" {FONT} font-size="12">'
            f'<title id="{uid}-t">{esc(title)}</title><desc id="{uid}-d">{esc(desc)}</desc>')


def marker(shape: str, x: float, y: float, colour: str) -> str:
    """A status marker: circle (pass), cross (fail), diamond (cannot certify), square (error)."""
    if shape == "pass":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{colour}"/>'
    if shape == "fail":
        return (f'<path d="M{x - 5:.1f},{y - 5:.1f}L{x + 5:.1f},{y + 5:.1f}'
                f'M{x - 5:.1f},{y + 5:.1f}L{x + 5:.1f},{y - 5:.1f}" stroke="{colour}" '
                f'stroke-width="3"/>')
    if shape == "cannot-certify":
        return (f'<path d="M{x:.1f},{y - 6:.1f}L{x + 6:.1f},{y:.1f}L{x:.1f},{y + 6:.1f}'
                f'L{x - 6:.1f},{y:.1f}Z" fill="{colour}"/>')
    return f'<rect x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10" fill="{colour}"/>'


def nice_max(value: float) -> float:
    """Round an axis maximum up to 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1.0
    exp = math.floor(math.log10(value))
    for m in (1, 2, 2.5, 5, 10):
        if m * 10 ** exp >= value:
            return m * 10 ** exp
    return 10 ** (exp + 1)


def grid(ticks: Iterable[tuple[float, str]], start: float, end: float, *,
         vertical: bool) -> list[str]:
    """Grid lines at pixel positions from ``start`` to ``end``, each labelled: vertical lines
    (an x axis) labelled below ``end``, horizontal ones (a y axis) left of ``start``."""
    out = []
    for pos, label in ticks:
        if vertical:
            line = f'x1="{pos:.1f}" y1="{start}" x2="{pos:.1f}" y2="{end}"'
            at = f'x="{pos:.1f}" y="{end + 15}" text-anchor="middle"'
        else:
            line = f'x1="{start}" y1="{pos:.1f}" x2="{end}" y2="{pos:.1f}"'
            at = f'x="{start - 6}" y="{pos + 4:.1f}" text-anchor="end"'
        out.append(f'<line {line} stroke="{GRID}" stroke-width="1"/>')
        out.append(f'<text {at} fill="{MUTED}">{esc(label)}</text>')
    return out


def axis_titles(x_title: str, y_title: str, *, centre_x: float, bottom: float,
                centre_y: float) -> list[str]:
    """An x-axis title centred below the plot and a y-axis title turned along the left edge
    (either may be empty)."""
    out = []
    if x_title:
        out.append(f'<text x="{centre_x:.1f}" y="{bottom}" text-anchor="middle" '
                   f'fill="{INK}">{esc(x_title)}</text>')
    if y_title:
        out.append(f'<text transform="translate(14 {centre_y:.1f}) rotate(-90)" '
                   f'text-anchor="middle" fill="{INK}">{esc(y_title)}</text>')
    return out


def blend(t: float) -> str:
    """White to dark blue for t in [0, 1] (the heat map's single-hue scale)."""
    t = min(max(t, 0.0), 1.0)
    lo, hi = (255, 255, 255), (11, 61, 145)
    return "#" + "".join(f"{round(a + (b - a) * t):02x}" for a, b in zip(lo, hi, strict=True))


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis."""
    return text if len(text) <= limit else text[:limit - 1] + "…"
