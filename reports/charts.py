"""The report's own charts: the forest plot of every check, an attack's ROC curve, and the
privacy ledger's spending over time.

They are drawn from the result document's checks, typed attack evidence
(:class:`~privgate.evidence.RocCurve`) and ledger entries, never from a plugin's private
details; figures that plugins return are drawn by :mod:`privgate.reports.plots`. Every chart
escapes its text (:func:`privgate.reports.svg.esc`) and states its figures in its ``<desc>``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup

from privgate.evidence import Estimate, RocCurve
from privgate.figures import LineChart, Series
from privgate.reports.common import as_number
from privgate.reports.i18n import Lang
from privgate.reports.plots import line_chart
from privgate.reports.svg import (
    ACCENT,
    EN,
    INK,
    MUTED,
    STATUS_COLOURS,
    axis_titles,
    esc,
    grid,
    marker,
    nice_max,
    open_svg,
    shorten,
    status_label,
)


def forest_plot(checks: Sequence[Mapping[str, Any]], title: str, lang: Lang = EN) -> Markup:
    """Each check's risk estimate and confidence interval against its threshold.

    One row per check; the interval is a horizontal line with a marker at the estimate (shape
    and text give the status), and the threshold is a dashed vertical tick in the row. The
    x axis is linear from 0 to a round number above the largest bound or threshold.
    """
    rows = list(checks)
    label_w, status_w, plot_w, row_h, top, bottom = 250, 120, 420, 30, 10, 44
    width = label_w + plot_w + status_w + 20
    height = top + max(1, len(rows)) * row_h + bottom
    values = [0.0]
    for c in rows:
        values += [v for v in (as_number(c.get("ci_high")), as_number(c.get("risk")),
                               as_number(c.get("threshold"))) if v is not None]
    xmax = min(1.0, nice_max(max(values) * 1.05)) if max(values) > 0 else 1.0
    xmax = max(xmax, max(values))

    def sx(v: float) -> float:
        return label_w + plot_w * (min(max(v, 0.0), xmax) / xmax)

    words = []
    for c in rows:
        words.append(lang.gettext(
            "%(generator)s, %(attack)s: estimate %(risk)s, interval %(low)s to %(high)s, "
            "threshold %(threshold)s, %(status)s", generator=c.get("generator", "?"),
            attack=c.get("attack", "?"), risk=lang.num(c.get("risk")),
            low=lang.num(c.get("ci_low")), high=lang.num(c.get("ci_high")),
            threshold=lang.num(c.get("threshold")), status=status_label(c.get("status"), lang)))
    desc = "; ".join(words) if words else lang.gettext("No checks.")
    parts = [open_svg(width, height, title, desc, "forest")]
    axis_y = top + max(1, len(rows)) * row_h
    for i in range(0, len(rows), 2):
        parts.append(f'<rect x="0" y="{top + i * row_h}" width="{width}" height="{row_h}" '
                     f'fill="#f6f8fa"/>')
    parts += grid(((sx(xmax * i / 5), lang.num(xmax * i / 5, 2)) for i in range(6)), top,
                  axis_y, vertical=True)
    parts += axis_titles(lang.gettext("risk (0 = no risk); dashed line = threshold"), "",
                         centre_x=label_w + plot_w / 2, bottom=axis_y + 36, centre_y=0)
    for i, c in enumerate(rows):
        y = top + i * row_h + row_h / 2
        status = str(c.get("status", "error"))
        colour = STATUS_COLOURS.get(status, STATUS_COLOURS["error"])
        label = shorten(f"{c.get('generator', '?')} · {c.get('attack', '?')}", 40)
        parts.append(f'<text x="6" y="{y + 4:.1f}" fill="{INK}">{esc(label)}</text>')
        thr = as_number(c.get("threshold"))
        if thr is not None:
            tx = sx(thr)
            parts.append(f'<line x1="{tx:.1f}" y1="{y - 12:.1f}" x2="{tx:.1f}" '
                         f'y2="{y + 12:.1f}" stroke="{INK}" stroke-width="2" '
                         f'stroke-dasharray="4 3"/>')
        lo, hi, risk = (as_number(c.get(k)) for k in ("ci_low", "ci_high", "risk"))
        if lo is not None and hi is not None:
            parts.append(f'<line x1="{sx(lo):.1f}" y1="{y:.1f}" x2="{sx(hi):.1f}" '
                         f'y2="{y:.1f}" stroke="{colour}" stroke-width="3"/>')
            for v in (lo, hi):
                parts.append(f'<line x1="{sx(v):.1f}" y1="{y - 5:.1f}" x2="{sx(v):.1f}" '
                             f'y2="{y + 5:.1f}" stroke="{colour}" stroke-width="2"/>')
        if risk is not None:
            parts.append(marker(status, sx(risk), y, colour))
        label = status_label(status, lang)
        if not c.get("gated", True):
            label = lang.gettext("%(status)s (info)", status=label)
        parts.append(f'<text x="{label_w + plot_w + 14}" y="{y + 4:.1f}" fill="{colour}" '
                     f'font-weight="700">{esc(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def roc_chart(roc: RocCurve, title: str, auroc: Estimate | None = None,
              lang: Lang = EN) -> Markup | None:
    """An attack's ROC curve on a log-scale false-positive-rate axis (the low-FPR region is
    what matters for membership inference), with the diagonal of an attacker who guesses.

    The lowest FPR shown is the smallest non-zero FPR in the curve, rounded down to a power of
    ten, at most four decades down (below that, a few hundred trials say nothing).
    """
    tpr_at = ", ".join(f"{lang.num(10.0 ** e)}: {lang.num(roc.tpr_at(10.0 ** e))}"
                       for e in (-3, -2, -1))
    desc = lang.gettext("True-positive rate at false-positive rate %(points)s. The dashed "
                        "diagonal is an attacker who guesses.", points=tpr_at)
    if auroc is not None:
        desc = lang.gettext("AUROC %(auroc)s.", auroc=lang.num(auroc.value)) + " " + desc
    chart = LineChart(title, (Series("", roc.fpr, roc.tpr),),
                      x_label=lang.gettext("false-positive rate (log scale)"),
                      y_label=lang.gettext("true-positive rate"), x_log=True, diagonal=True)
    return line_chart(chart, lang, desc=desc, css_class="roc")


#: Ledger entry statuses that did not spend budget (anything else counts as spent).
UNSPENT = frozenset({"refused", "rejected", "failed", "error", "aborted", "planned",
                     "released"})
#: The ledger chart's y axis never goes beyond this (a finite, formattable maximum).
LEDGER_AXIS_CAP = 1e300


def _parse_time(value: Any) -> float | None:
    """An ISO timestamp as seconds since the epoch (None if it does not parse)."""
    import datetime as dt

    try:
        stamp = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.timestamp()


def ledger_chart(entries: Sequence[Mapping[str, Any]], total: Any, title: str,
                 lang: Lang = EN) -> Markup | None:
    """Cumulative ε spent over time as a step line, with the ledger's total budget dashed.

    Entries whose status says nothing was spent (refused, failed, ...) or whose ε is unknown
    are shown as hollow markers on the line and do not add to it.
    """
    pts: list[tuple[float, float | None, str, str]] = []
    for e in entries:
        t = _parse_time(e.get("time"))
        if t is None:
            continue
        eps = as_number(e.get("epsilon"))
        spent = eps if str(e.get("status", "")).lower() not in UNSPENT else None
        pts.append((t, spent, str(e.get("generator", "?")), str(e.get("time"))))
    if not pts:
        return None
    pts.sort(key=lambda p: p[0])
    cum, run = [], 0.0
    for _t0, spent, _g, _s in pts:
        run += spent or 0.0
        cum.append(run)
    total_v = as_number(total)
    top = max([run, total_v or 0.0, 1e-6]) * 1.05
    # an absurd ledger row (epsilon 1e300; sums that overflow) caps the axis instead of failing
    ymax = nice_max(top if math.isfinite(top) and top < LEDGER_AXIS_CAP else LEDGER_AXIS_CAP)
    width, height, left, right, top, bottom = 640, 260, 60, 20, 14, 56
    pw, ph = width - left - right, height - top - bottom
    t0, t1 = pts[0][0], pts[-1][0]

    def sx(i: int) -> float:
        if t1 <= t0:
            return left + pw * (i + 1) / (len(pts) + 1)
        return left + pw * (pts[i][0] - t0) / (t1 - t0)

    def sy(v: float) -> float:
        return top + ph * (1 - min(v, ymax) / ymax)

    words = [f"{p[3]} {p[2]}: " + (lang.gettext("ε %(eps)s, total %(cum)s",
                                                 eps=lang.num(p[1]), cum=lang.num(c))
                                   if p[1] is not None else lang.gettext("nothing spent"))
             for p, c in zip(pts, cum, strict=True)]
    desc = "; ".join(words)
    if total_v is not None:
        desc += ". " + lang.gettext("Total budget ε %(total)s.", total=lang.num(total_v))
    parts = [open_svg(width, height, title, desc, "ledger")]
    parts += grid(((sy(ymax * i / 5), lang.num(ymax * i / 5, 2)) for i in range(6)), left,
                  left + pw, vertical=False)
    if total_v is not None:
        y = sy(total_v)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" '
                     f'stroke="{STATUS_COLOURS["fail"]}" stroke-width="2" '
                     f'stroke-dasharray="6 4"/>')
        label = lang.gettext("total budget ε = %(total)s", total=lang.num(total_v))
        parts.append(f'<text x="{left + pw - 4}" y="{y - 6:.1f}" text-anchor="end" '
                     f'fill="{STATUS_COLOURS["fail"]}">{esc(label)}</text>')
    path = [f"M{left},{sy(0):.1f}"]
    for i, c in enumerate(cum):
        prev = cum[i - 1] if i else 0.0
        path.append(f"L{sx(i):.1f},{sy(prev):.1f}L{sx(i):.1f},{sy(c):.1f}")
    parts.append(f'<path d="{"".join(path)}" fill="none" stroke="{ACCENT}" '
                 f'stroke-width="2.5"/>')
    for i, (p, c) in enumerate(zip(pts, cum, strict=True)):
        fill = ACCENT if p[1] is not None else "#ffffff"
        parts.append(f'<circle cx="{sx(i):.1f}" cy="{sy(c):.1f}" r="4.5" fill="{fill}" '
                     f'stroke="{ACCENT}" stroke-width="2"/>')
    # dates on the axis; times too when the runs are less than two days apart
    cut = 16 if t1 - t0 < 2 * 86400 else 10
    first, last = (p[3][:cut].replace("T", " ") for p in (pts[0], pts[-1]))
    parts.append(f'<text x="{left}" y="{top + ph + 16}" fill="{MUTED}">{esc(first)}</text>')
    parts.append(f'<text x="{left + pw}" y="{top + ph + 16}" text-anchor="end" '
                 f'fill="{MUTED}">{esc(last)}</text>')
    parts += axis_titles(lang.gettext("time of each training run"),
                         lang.gettext("cumulative ε spent"), centre_x=left + pw / 2,
                         bottom=height - 12, centre_y=top + ph / 2)
    parts.append("</svg>")
    return Markup("".join(parts))
