"""Inline SVG charts for the HTML report.

Every chart is built here as a string and returned as :class:`markupsafe.Markup`, because the
template inserts it unescaped. That makes this module the only place where escaping is manual:
every piece of text that goes into the SVG (labels, titles, values) passes through :func:`_t`
(``markupsafe.escape``). Numbers are formatted by Python, never taken as strings from the input.

Charts carry ``role="img"``, an ``aria-labelledby`` pointing at their ``<title>`` and a
``<desc>`` that states the figures in words, so that screen readers and printouts without
colour still convey them. Colour is never the only signal: statuses are also marker shapes and
text labels.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from markupsafe import Markup, escape

from privgate.reports.i18n import Lang

_EN = Lang()

#: Colours used in charts; all reach 4.5:1 against white (see report.css for the text pairs).
INK = "#1f2328"
MUTED = "#57606a"
GRID = "#d0d7de"
ACCENT = "#0b5cad"
STATUS_COLOURS = {"pass": "#1a7f37", "fail": "#b42318", "cannot-certify": "#8a5a00",
                  "error": "#6e40c9"}
STATUS_LABELS = {"pass": "PASS", "fail": "FAIL", "cannot-certify": "CANNOT CERTIFY",
                 "error": "ERROR"}


def status_label(status: Any, lang: Lang = _EN) -> str:
    """The status in capital words, translated (unknown statuses are errors)."""
    labels = {"pass": lang.gettext("PASS"), "fail": lang.gettext("FAIL"),
              "cannot-certify": lang.gettext("CANNOT CERTIFY"), "error": lang.gettext("ERROR")}
    return labels.get(str(status), labels["error"])
FONT = ("font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, 'Apple SD Gothic Neo', "
        "'Malgun Gothic', 'Noto Sans KR', 'Noto Sans CJK KR', sans-serif\"")

#: Chart ids count from 1 within each rendering (:func:`restart_ids`), so that the same result
#: document always renders to the same bytes.
_ids: ContextVar[Iterator[int]] = ContextVar("privgate_chart_ids")


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


def _t(value: Any) -> str:
    """Escape any value for use as SVG text or attribute content."""
    return str(escape(str(value)))


def _num(value: Any) -> float | None:
    """A finite float, or None for anything else (missing, NaN, strings, booleans)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def fmt(value: Any, digits: int = 3) -> str:
    """Format a number for display: ``digits`` significant figures, '-' when missing."""
    x = _num(value)
    if x is None:
        return "n/a" if value is None else str(value)
    if x == 0:
        return "0"
    if 1000 <= abs(x) < 1e15 and float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:.{digits}g}"


def _open(width: int, height: int, title: str, desc: str, css_class: str) -> tuple[str, str]:
    """The opening of an accessible SVG element plus its unique id prefix."""
    uid = f"chart{_next_id()}"
    head = (f'<svg class="chart {css_class}" '
            f'viewBox="0 0 {width} {height}" role="img" '
            f'aria-labelledby="{uid}-t {uid}-d" {FONT} font-size="12">'
            f'<title id="{uid}-t">{_t(title)}</title><desc id="{uid}-d">{_t(desc)}</desc>')
    return head, uid


def _marker(shape: str, x: float, y: float, colour: str) -> str:
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


def _nice_max(value: float) -> float:
    """Round an axis maximum up to 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1.0
    exp = math.floor(math.log10(value))
    for m in (1, 2, 2.5, 5, 10):
        if m * 10 ** exp >= value:
            return m * 10 ** exp
    return 10 ** (exp + 1)


def forest_plot(checks: Sequence[Mapping[str, Any]], title: str, lang: Lang = _EN) -> Markup:
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
        values += [v for v in (_num(c.get("ci_high")), _num(c.get("risk")),
                               _num(c.get("threshold"))) if v is not None]
    xmax = min(1.0, _nice_max(max(values) * 1.05)) if max(values) > 0 else 1.0
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
    head, _ = _open(width, height, title, desc, "forest")
    parts = [head]
    axis_y = top + max(1, len(rows)) * row_h
    for i in range(0, len(rows), 2):
        parts.append(f'<rect x="0" y="{top + i * row_h}" width="{width}" height="{row_h}" '
                     f'fill="#f6f8fa"/>')
    for i in range(6):
        v = xmax * i / 5
        x = sx(v)
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{axis_y}" '
                     f'stroke="{GRID}" stroke-width="1"/>')
        parts.append(f'<text x="{x:.1f}" y="{axis_y + 16}" text-anchor="middle" '
                     f'fill="{MUTED}">{_t(lang.num(v, 2))}</text>')
    axis_label = lang.gettext("risk (0 = no risk); dashed line = threshold")
    parts.append(f'<text x="{label_w + plot_w / 2:.1f}" y="{axis_y + 36}" text-anchor="middle" '
                 f'fill="{INK}">{_t(axis_label)}</text>')
    for i, c in enumerate(rows):
        y = top + i * row_h + row_h / 2
        status = str(c.get("status", "error"))
        colour = STATUS_COLOURS.get(status, STATUS_COLOURS["error"])
        label = f"{c.get('generator', '?')} · {c.get('attack', '?')}"
        if len(label) > 40:
            label = label[:39] + "…"
        parts.append(f'<text x="6" y="{y + 4:.1f}" fill="{INK}">{_t(label)}</text>')
        thr = _num(c.get("threshold"))
        if thr is not None:
            tx = sx(thr)
            parts.append(f'<line x1="{tx:.1f}" y1="{y - 12:.1f}" x2="{tx:.1f}" '
                         f'y2="{y + 12:.1f}" stroke="{INK}" stroke-width="2" '
                         f'stroke-dasharray="4 3"/>')
        lo, hi, risk = (_num(c.get(k)) for k in ("ci_low", "ci_high", "risk"))
        if lo is not None and hi is not None:
            parts.append(f'<line x1="{sx(lo):.1f}" y1="{y:.1f}" x2="{sx(hi):.1f}" '
                         f'y2="{y:.1f}" stroke="{colour}" stroke-width="3"/>')
            for v in (lo, hi):
                parts.append(f'<line x1="{sx(v):.1f}" y1="{y - 5:.1f}" x2="{sx(v):.1f}" '
                             f'y2="{y + 5:.1f}" stroke="{colour}" stroke-width="2"/>')
        if risk is not None:
            parts.append(_marker(status, sx(risk), y, colour))
        label = status_label(status, lang)
        if not c.get("gated", True):
            label = lang.gettext("%(status)s (info)", status=label)
        parts.append(f'<text x="{label_w + plot_w + 14}" y="{y + 4:.1f}" fill="{colour}" '
                     f'font-weight="700">{_t(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _downsample(fpr: Sequence[Any], tpr: Sequence[Any], max_points: int) -> list[
        tuple[float, float]]:
    """Finite (fpr, tpr) pairs sorted by fpr, thinned to about ``max_points``.

    Thinning is done on a log grid of FPR so that the low-FPR region (what matters for
    membership inference) keeps its detail.
    """
    pts = sorted((f, t) for f, t in zip(fpr, tpr, strict=False)
                 if _num(f) is not None and _num(t) is not None)
    if len(pts) <= max_points:
        return [(float(f), float(t)) for f, t in pts]
    kept: dict[int, tuple[float, float]] = {}
    for f, t in pts:
        key = -1 if f <= 0 else int(round(math.log10(max(f, 1e-12)) * max_points / 6))
        kept[key] = (float(f), max(float(t), kept.get(key, (0.0, 0.0))[1]))
    out = sorted(kept.values())
    if out[-1] != (float(pts[-1][0]), float(pts[-1][1])):
        out.append((float(pts[-1][0]), float(pts[-1][1])))
    return out


def roc_curve(roc: Mapping[str, Any], title: str, auroc: Any = None,
              max_points: int = 150, lang: Lang = _EN) -> Markup | None:
    """The ROC curve of an attack on a log-scale false-positive-rate axis, or None if unusable.

    The diagonal (an attacker who guesses) is drawn for reference; the lowest FPR shown is the
    smallest non-zero FPR in the data, rounded down to a power of ten, clipped at 1e-4
    (below that, a few hundred trials say nothing).
    """
    fpr, tpr = roc.get("fpr"), roc.get("tpr")
    if not isinstance(fpr, list | tuple) or not isinstance(tpr, list | tuple):
        return None
    pts = _downsample(fpr, tpr, max_points)
    if len(pts) < 2:
        return None
    positive = [f for f, _ in pts if f > 0]
    lo_exp = max(-4, math.floor(math.log10(min(positive)))) if positive else -3
    lo_exp = min(lo_exp, -1)
    width, height, left, right, top, bottom = 360, 300, 56, 14, 12, 50
    pw, ph = width - left - right, height - top - bottom

    def sx(f: float) -> float:
        f = max(f, 10 ** lo_exp)
        return left + pw * (math.log10(f) - lo_exp) / (-lo_exp)

    def sy(t: float) -> float:
        return top + ph * (1 - min(max(t, 0.0), 1.0))

    tpr_at = {f"{10 ** e:g}": max((t for f, t in pts if f <= 10 ** e), default=0.0)
              for e in (-3, -2, -1)}
    desc = lang.gettext(
        "True-positive rate at false-positive rate %(points)s. The dashed diagonal is an "
        "attacker who guesses.", points=", ".join(f"{lang.num(float(k))}: {lang.num(v)}"
                                                 for k, v in tpr_at.items()))
    if _num(auroc) is not None:
        desc = lang.gettext("AUROC %(auroc)s.", auroc=lang.num(auroc)) + " " + desc
    head, _ = _open(width, height, title, desc, "roc")
    parts = [head]
    for e in range(lo_exp, 1):
        x = sx(10 ** e)
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" '
                     f'stroke="{GRID}"/>')
        parts.append(f'<text x="{x:.1f}" y="{top + ph + 15}" text-anchor="middle" '
                     f'fill="{MUTED}">{_t(lang.num(10.0 ** e))}</text>')
    for i in range(6):
        t = i / 5
        y = sy(t)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" '
                     f'stroke="{GRID}"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" '
                     f'fill="{MUTED}">{_t(lang.num(t))}</text>')
    diag = " ".join(f"{sx(10 ** (lo_exp * (1 - k / 40))):.1f},"
                    f"{sy(10 ** (lo_exp * (1 - k / 40))):.1f}" for k in range(41))
    parts.append(f'<polyline points="{diag}" fill="none" stroke="{MUTED}" '
                 f'stroke-dasharray="5 4" stroke-width="1.5"/>')
    curve = " ".join(f"{sx(f):.1f},{sy(t):.1f}" for f, t in pts if f >= 10 ** lo_exp)
    parts.append(f'<polyline points="{curve}" fill="none" stroke="{ACCENT}" '
                 f'stroke-width="2.5"/>')
    parts.append(f'<text x="{left + pw / 2:.1f}" y="{height - 12}" text-anchor="middle" '
                 f'fill="{INK}">{_t(lang.gettext("false-positive rate (log scale)"))}</text>')
    parts.append(f'<text transform="translate(14 {top + ph / 2:.1f}) rotate(-90)" '
                 f'text-anchor="middle" fill="{INK}">'
                 f'{_t(lang.gettext("true-positive rate"))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(values: Mapping[str, Any], title: str, unit: str = "",
              xmax: float | None = None, lang: Lang = _EN) -> Markup | None:
    """Horizontal bars, one per key (for example per-column Hellinger distance)."""
    items: list[tuple[str, float]] = []
    for key, raw in values.items():
        num = _num(raw)
        if num is not None:
            items.append((str(key), num))
    if not items:
        return None
    label_w, plot_w, value_w, row_h, top, bottom = 170, 330, 60, 24, 6, 34
    width = label_w + plot_w + value_w
    height = top + len(items) * row_h + bottom
    top_value = xmax if xmax is not None else _nice_max(max(v for _, v in items))
    top_value = max(top_value, max(v for _, v in items), 1e-12)
    desc = "; ".join(f"{k}: {lang.num(v)}{unit}" for k, v in items)
    head, _ = _open(width, height, title, desc, "bars")
    parts = [head]
    axis_y = top + len(items) * row_h
    for i in range(6):
        v = top_value * i / 5
        x = label_w + plot_w * i / 5
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{axis_y}" '
                     f'stroke="{GRID}"/>')
        parts.append(f'<text x="{x:.1f}" y="{axis_y + 15}" text-anchor="middle" '
                     f'fill="{MUTED}">{_t(lang.num(v, 2))}</text>')
    for i, (k, v) in enumerate(items):
        y = top + i * row_h
        label = k if len(k) <= 24 else k[:23] + "…"
        parts.append(f'<text x="{label_w - 8}" y="{y + row_h / 2 + 4:.1f}" text-anchor="end" '
                     f'fill="{INK}">{_t(label)}</text>')
        w = plot_w * min(max(v, 0.0), top_value) / top_value
        parts.append(f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" '
                     f'fill="{ACCENT}"/>')
        parts.append(f'<text x="{label_w + plot_w + 6}" y="{y + row_h / 2 + 4:.1f}" '
                     f'fill="{INK}">{_t(lang.num(v))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _blend(t: float) -> str:
    """White to dark blue for t in [0, 1] (the heat map's single-hue scale)."""
    t = min(max(t, 0.0), 1.0)
    lo, hi = (255, 255, 255), (11, 61, 145)
    return "#" + "".join(f"{round(a + (b - a) * t):02x}" for a, b in zip(lo, hi, strict=True))


def heatmap(columns: Sequence[Any], matrix: Sequence[Sequence[Any]], title: str,
            lang: Lang = _EN, max_columns: int = 24) -> Markup | None:
    """A lower-triangle heat map of a symmetric matrix (real-vs-synthetic correlation gaps).

    Darker cells are larger differences; empty cells are pairs that could not be computed.
    Cells carry no numbers (no text colour reads well on both ends of the scale): the legend
    gives the scale, each cell's ``<title>`` its value, and the ``<desc>`` the largest gaps.
    """
    names = [str(c) for c in columns][:max_columns]
    k = len(names)
    rows = [list(r)[:k] if isinstance(r, list | tuple) else [] for r in list(matrix)[:k]]
    if k < 2 or len(rows) < k:
        return None
    values = [_num(rows[i][j]) for i in range(k) for j in range(i) if j < len(rows[i])]
    finite = [v for v in values if v is not None]
    if not finite:
        return None
    vmax = min(1.0, _nice_max(max(max(finite), 1e-6)))
    cell, label_w, top = 22, 150, 12
    legend_h = 48
    # room on the right for the slanted column names and for the six-step legend
    width = max(label_w + k * cell + 120, label_w + 6 * 40 + 40)
    height = top + k * cell + 80 + legend_h
    pairs = sorted(((v, names[i], names[j]) for i in range(k) for j in range(i)
                    if j < len(rows[i]) and (v := _num(rows[i][j])) is not None),
                   key=lambda p: -p[0])
    desc = lang.gettext("Largest differences: %(pairs)s.", pairs="; ".join(
        f"{a} / {b}: {lang.num(v, 2)}" for v, a, b in pairs[:8]))
    head, _ = _open(width, height, title, desc, "heatmap")
    parts = [head]
    for i, name in enumerate(names):
        short = name if len(name) <= 20 else name[:19] + "…"
        y = top + i * cell + cell / 2 + 4
        parts.append(f'<text x="{label_w - 6}" y="{y:.1f}" text-anchor="end" '
                     f'fill="{INK}">{_t(short)}</text>')
        x = label_w + i * cell + cell / 2
        yb = top + k * cell + 8
        parts.append(f'<text transform="translate({x:.1f} {yb}) rotate(45)" '
                     f'fill="{INK}">{_t(short)}</text>')
        for j in range(i):
            v = _num(rows[i][j]) if j < len(rows[i]) else None
            fill = "#ffffff" if v is None else _blend(v / vmax)
            tip = f"{names[i]} / {names[j]}: " + (lang.num(v, 2) if v is not None
                                                   else lang.gettext("n/a"))
            parts.append(f'<rect x="{label_w + j * cell}" y="{top + i * cell}" width="{cell}" '
                         f'height="{cell}" fill="{fill}" stroke="{GRID}">'
                         f'<title>{_t(tip)}</title></rect>')
    ly = height - legend_h + 6
    steps = 5
    for s in range(steps + 1):
        v = vmax * s / steps
        x = label_w + s * 40
        parts.append(f'<rect x="{x}" y="{ly}" width="40" height="12" fill="{_blend(s / steps)}" '
                     f'stroke="{GRID}"/>')
        parts.append(f'<text x="{x}" y="{ly + 26}" fill="{MUTED}">{_t(lang.num(v, 2))}</text>')
    parts.append(f'<text x="6" y="{ly + 10}" fill="{INK}">'
                 f'{_t(lang.gettext("difference:"))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


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
                 lang: Lang = _EN) -> Markup | None:
    """Cumulative ε spent over time as a step line, with the ledger's total budget dashed.

    Entries whose status says nothing was spent (refused, failed, ...) or whose ε is unknown
    are shown as hollow markers on the line and do not add to it.
    """
    pts: list[tuple[float, float | None, str, str]] = []
    for e in entries:
        t = _parse_time(e.get("time"))
        if t is None:
            continue
        eps = _num(e.get("epsilon"))
        spent = eps if str(e.get("status", "")).lower() not in UNSPENT else None
        pts.append((t, spent, str(e.get("generator", "?")), str(e.get("time"))))
    if not pts:
        return None
    pts.sort(key=lambda p: p[0])
    cum, run = [], 0.0
    for _t0, spent, _g, _s in pts:
        run += spent or 0.0
        cum.append(run)
    total_v = _num(total)
    top = max([run, total_v or 0.0, 1e-6]) * 1.05
    # an absurd ledger row (epsilon 1e300; sums that overflow) caps the axis instead of failing
    ymax = _nice_max(top if math.isfinite(top) and top < LEDGER_AXIS_CAP else LEDGER_AXIS_CAP)
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
    head, _ = _open(width, height, title, desc, "ledger")
    parts = [head]
    for i in range(6):
        v = ymax * i / 5
        y = sy(v)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" '
                     f'stroke="{GRID}"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" '
                     f'fill="{MUTED}">{_t(lang.num(v, 2))}</text>')
    if total_v is not None:
        y = sy(total_v)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" '
                     f'stroke="{STATUS_COLOURS["fail"]}" stroke-width="2" '
                     f'stroke-dasharray="6 4"/>')
        label = lang.gettext("total budget ε = %(total)s", total=lang.num(total_v))
        parts.append(f'<text x="{left + pw - 4}" y="{y - 6:.1f}" text-anchor="end" '
                     f'fill="{STATUS_COLOURS["fail"]}">{_t(label)}</text>')
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
    parts.append(f'<text x="{left}" y="{top + ph + 16}" fill="{MUTED}">{_t(first)}</text>')
    parts.append(f'<text x="{left + pw}" y="{top + ph + 16}" text-anchor="end" '
                 f'fill="{MUTED}">{_t(last)}</text>')
    parts.append(f'<text x="{left + pw / 2:.1f}" y="{height - 12}" text-anchor="middle" '
                 f'fill="{INK}">{_t(lang.gettext("time of each training run"))}</text>')
    parts.append(f'<text transform="translate(14 {top + ph / 2:.1f}) rotate(-90)" '
                 f'text-anchor="middle" fill="{INK}">'
                 f'{_t(lang.gettext("cumulative ε spent"))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
