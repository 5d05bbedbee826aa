"""Inline SVG for the presentation primitives of :mod:`privgate.figures`: bar charts, line
charts (log or linear x axis, with an optional chance diagonal) and heat maps.

Whatever plugin returned a figure, built-in or third-party, it is drawn here by its type alone.
Labels come from the plugin and are escaped (:func:`privgate.reports.svg.esc`); numbers are
formatted for the report's language. Each chart's ``<desc>`` states its figures in words.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup

from privgate.figures import BarChart, HeatMap, LineChart
from privgate.reports.i18n import Lang
from privgate.reports.svg import (
    ACCENT,
    EN,
    GRID,
    INK,
    MUTED,
    SERIES,
    axis_titles,
    blend,
    esc,
    grid,
    nice_max,
    open_svg,
    shorten,
)

#: Points of one line drawn at most (a longer series is thinned, keeping its shape).
MAX_POINTS = 150
#: Rows and columns of a heat map drawn at most.
MAX_CELLS = 24
#: Dash patterns that tell the series of a line chart apart without colour.
DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 2", "10 4")


def bar_chart(chart: BarChart, lang: Lang = EN) -> Markup | None:
    """Horizontal bars, one per label; a missing value is a label with 'n/a' and no bar."""
    items = list(zip(chart.labels, chart.values, strict=False))
    if not items:
        return None
    shown = [v for _, v in items if v is not None and math.isfinite(v)]
    label_w, plot_w, value_w, row_h, top, bottom = 200, 320, 60, 24, 6, 48
    width = label_w + plot_w + value_w
    height = top + len(items) * row_h + bottom
    largest = max([max(shown, default=0.0), 1e-12])
    top_value = max(chart.max_value or nice_max(largest), largest)
    desc = "; ".join(f"{k}: {lang.num(v)}" for k, v in items)
    parts = [open_svg(width, height, chart.title, desc, "bars")]
    axis_y = top + len(items) * row_h
    parts += grid(((label_w + plot_w * i / 5, lang.num(top_value * i / 5, 2))
                   for i in range(6)), top, axis_y, vertical=True)
    for i, (k, v) in enumerate(items):
        y = top + i * row_h
        parts.append(f'<text x="{label_w - 8}" y="{y + row_h / 2 + 4:.1f}" text-anchor="end" '
                     f'fill="{INK}">{esc(shorten(str(k), 30))}</text>')
        if v is not None:
            w = plot_w * min(max(v, 0.0), top_value) / top_value
            parts.append(f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" '
                         f'height="{row_h - 8}" fill="{ACCENT}"/>')
        parts.append(f'<text x="{label_w + plot_w + 6}" y="{y + row_h / 2 + 4:.1f}" '
                     f'fill="{INK}">{esc(lang.num(v))}</text>')
    parts += axis_titles(chart.axis_label, "", centre_x=label_w + plot_w / 2,
                         bottom=height - 8, centre_y=0)
    parts.append("</svg>")
    return Markup("".join(parts))


def thin(points: Sequence[tuple[float, float]], log_x: bool, max_points: int = MAX_POINTS
         ) -> list[tuple[float, float]]:
    """About ``max_points`` of ``points`` (sorted by x), the last kept. On a log x axis the
    grid is logarithmic, so the low-x region (what matters for a ROC curve) keeps its detail;
    of the points in one grid cell the highest is kept."""
    pts = sorted(points)
    if len(pts) <= max_points:
        return pts
    lo, hi = pts[0][0], pts[-1][0]
    kept: dict[int, tuple[float, float]] = {}
    for x, y in pts:
        if log_x:
            key = -1 if x <= 0 else int(round(math.log10(max(x, 1e-12)) * max_points / 6))
        else:
            key = int((x - lo) / ((hi - lo) or 1.0) * max_points)
        kept[key] = (x, max(y, kept.get(key, (x, -math.inf))[1]))
    out = sorted(kept.values())
    if out[-1] != pts[-1]:
        out.append(pts[-1])
    return out


def _log_range(xs: Sequence[float]) -> tuple[int, int]:
    """Decades of a log x axis: from the smallest positive x (rounded down, at most 4 decades
    below the top, at least one) to the largest x (rounded up)."""
    positive = [x for x in xs if x > 0]
    hi = math.ceil(math.log10(max(positive))) if positive else 0
    lo = max(hi - 4, math.floor(math.log10(min(positive)))) if positive else hi - 3
    return min(lo, hi - 1), hi


def line_chart(chart: LineChart, lang: Lang = EN, desc: str | None = None,
               css_class: str = "line") -> Markup | None:
    """The series of ``chart`` on shared axes, or None when no series has two points.

    A log x axis shows decades; y runs from 0 (or the lowest value) to a round number above
    the highest, or exactly [0, 1] when every value lies there. ``desc`` replaces the generic
    description (each series' values at the x-axis ticks).
    """
    series = [(s.label, thin([(x, y) for x, y in zip(s.x, s.y, strict=False)
                              if not chart.x_log or x > 0], chart.x_log)) for s in chart.series]
    series = [(label, pts) for label, pts in series if len(pts) >= 2]
    if not series:
        return None
    xs = [x for _, pts in series for x, _ in pts]
    ys = [y for _, pts in series for _, y in pts]
    width, height, left, right, top, bottom = 360, 300, 56, 14, 12, 50
    if len(series) > 1:
        height += 18 * len(series)
    pw, ph = width - left - right, 300 - top - bottom
    if chart.x_log:
        lo_exp, hi_exp = _log_range(xs)
        x0, x1 = float(lo_exp), float(hi_exp)
        x_ticks = [(10.0 ** e, lang.num(10.0 ** e)) for e in range(lo_exp, hi_exp + 1)]
    else:
        x0, x1 = min(0.0, min(xs)), max(xs) if max(xs) > min(0.0, min(xs)) else 1.0
        x_ticks = [(x0 + (x1 - x0) * i / 5, lang.num(x0 + (x1 - x0) * i / 5, 2))
                   for i in range(6)]
    y0 = min(0.0, min(ys))
    y1 = 1.0 if y0 == 0.0 and max(ys) <= 1.0 else nice_max(max(ys) - y0) + y0

    def sx(x: float) -> float:
        v = math.log10(max(x, 10.0 ** x0)) if chart.x_log else x
        return left + pw * (min(max(v, x0), x1) - x0) / ((x1 - x0) or 1.0)

    def sy(y: float) -> float:
        return top + ph * (1 - (min(max(y, y0), y1) - y0) / ((y1 - y0) or 1.0))

    if desc is None:
        desc = "; ".join(f"{label or chart.title}: " + ", ".join(
            f"{lang.num(x)} → {lang.num(max((py for px, py in pts if px <= x), default=None))}"
            for x, _ in x_ticks) for label, pts in series)
    parts = [open_svg(width, height, chart.title, desc, css_class)]
    parts += grid(((sx(x), label) for x, label in x_ticks), top, top + ph, vertical=True)
    parts += grid(((sy(y0 + (y1 - y0) * i / 5), lang.num(y0 + (y1 - y0) * i / 5))
                   for i in range(6)), left, left + pw, vertical=False)
    if chart.diagonal:
        along = [10.0 ** (x0 + (x1 - x0) * k / 40) if chart.x_log else x0 + (x1 - x0) * k / 40
                 for k in range(41)]
        diag = " ".join(f"{sx(x):.1f},{sy(x):.1f}" for x in along)
        parts.append(f'<polyline points="{diag}" fill="none" stroke="{MUTED}" '
                     f'stroke-dasharray="5 4" stroke-width="1.5"/>')
    for i, (label, pts) in enumerate(series):
        colour, dash = SERIES[i % len(SERIES)], DASHES[i % len(DASHES)]
        line = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<polyline points="{line}" fill="none" stroke="{colour}" '
                     f'stroke-width="2.5"{dashed}/>')
        if len(series) > 1:
            ly = 300 + 18 * i + 4
            parts.append(f'<line x1="{left}" y1="{ly}" x2="{left + 30}" y2="{ly}" '
                         f'stroke="{colour}" stroke-width="2.5"{dashed}/>')
            parts.append(f'<text x="{left + 36}" y="{ly + 4}" fill="{INK}">'
                         f'{esc(shorten(label, 40))}</text>')
    parts += axis_titles(chart.x_label, chart.y_label, centre_x=left + pw / 2,
                         bottom=300 - 12, centre_y=top + ph / 2)
    parts.append("</svg>")
    return Markup("".join(parts))


def heatmap(chart: HeatMap, lang: Lang = EN) -> Markup | None:
    """A matrix shaded from white (small) to dark blue (large); blank cells are missing.

    With ``lower_triangle`` only the cells below the diagonal are drawn. Cells carry no numbers
    (no text colour reads well on both ends of the scale): the legend gives the scale, each
    cell's ``<title>`` its value, and the ``<desc>`` the largest values.
    """
    rows = [str(r) for r in chart.row_labels][:MAX_CELLS]
    cols = [str(c) for c in chart.column_labels][:MAX_CELLS]
    matrix = [list(r)[:len(cols)] for r in list(chart.values)[:len(rows)]]
    cells = [(i, j) for i in range(len(rows)) for j in range(len(cols))
             if (not chart.lower_triangle or j < i) and j < len(matrix[i])]
    finite = [(v, i, j) for i, j in cells
              if (v := matrix[i][j]) is not None and math.isfinite(v)]
    if not finite:
        return None
    vmax = nice_max(max(max(v for v, _, _ in finite), 1e-6))
    if chart.lower_triangle or max(v for v, _, _ in finite) <= 1.0:
        vmax = min(vmax, 1.0)
    cell, label_w, top, legend_h = 22, 150, 12, 48
    # room on the right for the slanted column names and for the six-step legend
    width = max(label_w + len(cols) * cell + 120, label_w + 6 * 40 + 40)
    height = top + len(rows) * cell + 80 + legend_h
    largest = sorted(finite, key=lambda p: (-p[0], p[1], p[2]))[:8]
    desc = lang.gettext("Largest values: %(pairs)s.", pairs="; ".join(
        f"{rows[i]} / {cols[j]}: {lang.num(v, 2)}" for v, i, j in largest))
    parts = [open_svg(width, height, chart.title, desc, "heatmap")]
    for i, name in enumerate(rows):
        parts.append(f'<text x="{label_w - 6}" y="{top + i * cell + cell / 2 + 4:.1f}" '
                     f'text-anchor="end" fill="{INK}">{esc(shorten(name, 20))}</text>')
    for j, name in enumerate(cols):
        x, yb = label_w + j * cell + cell / 2, top + len(rows) * cell + 8
        parts.append(f'<text transform="translate({x:.1f} {yb}) rotate(45)" '
                     f'fill="{INK}">{esc(shorten(name, 20))}</text>')
    for i, j in cells:
        v = matrix[i][j]
        fill = "#ffffff" if v is None else blend(v / vmax)
        tip = f"{rows[i]} / {cols[j]}: " + lang.num(v, 2)
        parts.append(f'<rect x="{label_w + j * cell}" y="{top + i * cell}" width="{cell}" '
                     f'height="{cell}" fill="{fill}" stroke="{GRID}">'
                     f'<title>{esc(tip)}</title></rect>')
    ly = height - legend_h + 6
    for s in range(6):
        x = label_w + s * 40
        parts.append(f'<rect x="{x}" y="{ly}" width="40" height="12" fill="{blend(s / 5)}" '
                     f'stroke="{GRID}"/>')
        parts.append(f'<text x="{x}" y="{ly + 26}" fill="{MUTED}">'
                     f'{esc(lang.num(vmax * s / 5, 2))}</text>')
    scale = lang.gettext("scale:")
    parts.append(f'<text x="6" y="{ly + 10}" fill="{INK}">{esc(scale)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
