"""Presentation primitives every plugin may hand to a report: tables, bar charts, line charts,
heat maps, paragraphs and key-value lists.

A metric returns them in :attr:`privgate.metric.MetricResult.figures`, an attack in
:attr:`privgate.attack.AttackResult.figures`, a report section in its ``blocks``. Reports draw
them by type alone (never by the plugin's name), so a third-party metric's bar chart looks like
a built-in's. Each chart carries a ``title`` (the chart's accessible name) and a ``caption``: a
plain-language sentence saying what the reader sees.

Every primitive is plain data: :func:`to_plain` writes it as JSON (a mapping with a ``"type"``)
and :func:`from_plain` rebuilds and checks it from that JSON or from a plugin's object (any
subclass; fields read once): texts are text, numbers finite, lengths consistent, sizes bounded.
A failure is a :class:`~privgate.plain.PlainError` naming the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, overload

from privgate.plain import (
    PlainError,
    items_of,
    json_data,
    number,
    numbers_of,
    read,
    text,
    texts,
)

__all__ = ["BarChart", "Block", "Figure", "HeatMap", "KeyValues", "LineChart", "MAX_FIGURES",
           "Paragraph", "Series", "Table", "figures_from_plain", "from_plain", "map_block",
           "to_plain"]

#: The most figures one attack or metric result may carry.
MAX_FIGURES = 20
#: The most bars, table rows, heat-map rows or columns, and key-value items of one figure.
MAX_ITEMS = 1_000
#: The most columns of a table and series of a line chart.
MAX_COLUMNS = 50
#: The most points of one line-chart series.
MAX_POINTS = 5_000


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of text (report sections only)."""

    text: str


@dataclass(frozen=True)
class Table:
    """A table with header cells; cells are text, numbers (formatted for the report's locale),
    booleans, ``None`` or, in report sections, small JSON data shown as compact text."""

    headers: Sequence[str]
    rows: Sequence[Sequence[Any]]
    caption: str = ""


@dataclass(frozen=True)
class KeyValues:
    """A two-column definition list (report sections only)."""

    items: Sequence[tuple[str, Any]]


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars, one per label (``None`` is a value that could not be computed).

    ``axis_label`` says what the bars measure; ``max_value`` fixes the axis end (default: a
    round number above the largest value).
    """

    title: str
    labels: Sequence[str]
    values: Sequence[float | None]
    caption: str = ""
    axis_label: str = ""
    max_value: float | None = None


@dataclass(frozen=True)
class Series:
    """One line of a :class:`LineChart`: points ``(x[i], y[i])`` in drawing order."""

    label: str
    x: Sequence[float]
    y: Sequence[float]


@dataclass(frozen=True)
class LineChart:
    """Lines on shared axes. ``x_log`` puts x on a log scale (non-positive x are left out);
    ``diagonal`` draws the dashed line y = x for reference (a ROC curve's chance line)."""

    title: str
    series: Sequence[Series]
    caption: str = ""
    x_label: str = ""
    y_label: str = ""
    x_log: bool = False
    diagonal: bool = False


@dataclass(frozen=True)
class HeatMap:
    """A matrix of values shaded from light (small) to dark (large); ``None`` cells are blank.

    ``lower_triangle`` shows only the cells below the diagonal of a square, symmetric matrix
    (e.g. pairwise differences between columns).
    """

    title: str
    row_labels: Sequence[str]
    column_labels: Sequence[str]
    values: Sequence[Sequence[float | None]]
    caption: str = ""
    lower_triangle: bool = False


#: What an attack or metric result may carry.
Figure = Table | BarChart | LineChart | HeatMap
#: What a report section may hold.
Block = Paragraph | Table | KeyValues | BarChart | LineChart | HeatMap

#: JSON ``"type"`` of each primitive.
TYPES: dict[type, str] = {Paragraph: "paragraph", Table: "table", KeyValues: "key_values",
                          BarChart: "bar_chart", LineChart: "line_chart", HeatMap: "heat_map"}
_CLASSES = {name: cls for cls, name in TYPES.items()}


def to_plain(block: Block) -> dict[str, Any]:
    """``block`` as JSON data with its ``"type"`` (rebuild it with :func:`from_plain`)."""
    out: dict[str, Any] = {"type": TYPES[type(block)]}
    for f in fields(block):
        value = getattr(block, f.name)
        if f.name == "series":
            value = [{"label": s.label, "x": list(s.x), "y": list(s.y)} for s in value]
        elif isinstance(value, tuple | list):
            value = [list(v) if isinstance(v, tuple | list) else v for v in value]
        out[f.name] = value
    return out


def _kind(value: Any, field: str) -> type:
    for cls in TYPES:
        if isinstance(value, cls):
            return cls
    if isinstance(value, Mapping) and value.get("type") in _CLASSES:
        return _CLASSES[value["type"]]
    names = [c.__name__ for c in TYPES]
    raise PlainError(f"{field} is a {type(value).__name__}; blocks are "
                     f"{', '.join(names[:-1])} or {names[-1]} (privgate.figures)")


def _bool(field: str, value: Any) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise PlainError(f"{field} must be true or false, got {type(value).__name__}")
    return bool(value)


def _table(f: dict[str, Any], field: str) -> Table:
    headers = texts(f"{field}.headers", f["headers"], MAX_COLUMNS)
    rows = []
    for i, row in enumerate(items_of(f"{field}.rows", f["rows"], MAX_ITEMS)):
        cells = items_of(f"{field}.rows[{i}]", row, MAX_COLUMNS)
        if len(cells) != len(headers):
            raise PlainError(f"{field}.rows[{i}] has {len(cells)} cells for {len(headers)} "
                             "headers")
        rows.append(tuple(json_data(f"{field}.rows[{i}][{j}]", c) for j, c in enumerate(cells)))
    return Table(headers, tuple(rows), _caption(field, f))


def _caption(field: str, f: dict[str, Any], key: str = "caption") -> str:
    return text(f"{field}.{key}", f[key], allow_none=True) or ""


def _key_values(f: dict[str, Any], field: str) -> KeyValues:
    items = []
    for i, item in enumerate(items_of(f"{field}.items", f["items"], MAX_ITEMS)):
        pair = items_of(f"{field}.items[{i}]", item, 2)
        if len(pair) != 2:
            raise PlainError(f"{field}.items[{i}] must be a (key, value) pair")
        key = text(f"{field}.items[{i}] key", pair[0])
        assert key is not None
        items.append((key, json_data(f"{field}.items[{i}] value", pair[1])))
    return KeyValues(tuple(items))


def _bar_chart(f: dict[str, Any], field: str) -> BarChart:
    labels = texts(f"{field}.labels", f["labels"], MAX_ITEMS)
    values = numbers_of(f"{field}.values", f["values"], MAX_ITEMS, allow_none=True)
    if len(labels) != len(values):
        raise PlainError(f"{field} has {len(labels)} labels for {len(values)} values")
    top = number(f"{field}.max_value", f["max_value"], allow_none=True)
    if top is not None and top <= 0:
        raise PlainError(f"{field}.max_value must be positive, got {top}")
    return BarChart(_title(f, field), labels, values, _caption(field, f),
                    _caption(field, f, "axis_label"), top)


def _title(f: dict[str, Any], field: str) -> str:
    title = text(f"{field}.title", f["title"])
    assert title is not None
    return title


def _line_chart(f: dict[str, Any], field: str) -> LineChart:
    series = []
    for i, s in enumerate(items_of(f"{field}.series", f["series"], MAX_COLUMNS)):
        where = f"{field}.series[{i}]"
        g = read(s, ("label", "x", "y"), where)
        x = numbers_of(f"{where}.x", g["x"], MAX_POINTS)
        y = numbers_of(f"{where}.y", g["y"], MAX_POINTS)
        if len(x) != len(y):
            raise PlainError(f"{where} has {len(x)} x values for {len(y)} y values")
        series.append(Series(text(f"{where}.label", g["label"], allow_none=True) or "",
                             tuple(float(v) for v in x if v is not None),
                             tuple(float(v) for v in y if v is not None)))
    return LineChart(_title(f, field), tuple(series), _caption(field, f),
                     _caption(field, f, "x_label"), _caption(field, f, "y_label"),
                     _bool(f"{field}.x_log", f["x_log"]), _bool(f"{field}.diagonal",
                                                              f["diagonal"]))


def _heat_map(f: dict[str, Any], field: str) -> HeatMap:
    rows = texts(f"{field}.row_labels", f["row_labels"], MAX_ITEMS)
    cols = texts(f"{field}.column_labels", f["column_labels"], MAX_ITEMS)
    matrix = items_of(f"{field}.values", f["values"], MAX_ITEMS)
    if len(matrix) != len(rows):
        raise PlainError(f"{field} has {len(rows)} row labels for {len(matrix)} rows")
    values = []
    for i, row in enumerate(matrix):
        cells = numbers_of(f"{field}.values[{i}]", row, MAX_ITEMS, allow_none=True)
        if len(cells) != len(cols):
            raise PlainError(f"{field}.values[{i}] has {len(cells)} cells for {len(cols)} "
                             "column labels")
        values.append(cells)
    lower = _bool(f"{field}.lower_triangle", f["lower_triangle"])
    if lower and len(rows) != len(cols):
        raise PlainError(f"{field}: lower_triangle needs a square matrix")
    return HeatMap(_title(f, field), rows, cols, tuple(values), _caption(field, f), lower)


_BUILDERS: dict[type, Callable[[dict[str, Any], str], Any]] = {
    Table: _table, KeyValues: _key_values, BarChart: _bar_chart, LineChart: _line_chart,
    HeatMap: _heat_map,
    Paragraph: lambda f, field: Paragraph(text(f"{field}.text", f["text"]) or ""),
}


def from_plain(value: Any, field: str = "figure") -> Block:
    """A checked primitive from a plugin's object (any subclass of the classes here) or its
    JSON mapping (:func:`to_plain`)."""
    cls = _kind(value, field)
    names = [f.name for f in fields(cls)]
    block: Block = _BUILDERS[cls](read(value, names, field), field)
    return block


def figures_from_plain(value: Any, field: str = "figures") -> tuple[Figure, ...]:
    """A result's ``figures``: a sequence of at most :data:`MAX_FIGURES` tables and charts."""
    if value is None:
        return ()
    out = []
    for i, item in enumerate(items_of(field, value, MAX_FIGURES)):
        block = from_plain(item, f"{field}[{i}]")
        if isinstance(block, Paragraph | KeyValues):
            raise PlainError(f"{field}[{i}] is a {type(block).__name__}; a result's figures "
                             "are tables and charts")
        out.append(block)
    return tuple(out)


@overload
def map_block(block: Figure, text_fn: Callable[[str], Any], data_fn: Callable[[Any], Any]
              ) -> Figure: ...


@overload
def map_block(block: Block, text_fn: Callable[[str], Any], data_fn: Callable[[Any], Any]
              ) -> Block: ...


def map_block(block: Block, text_fn: Callable[[str], Any], data_fn: Callable[[Any], Any]
              ) -> Block:
    """``block`` with every string passed through ``text_fn`` and every cell, value and point
    through ``data_fn`` (which may return ``None`` for a number it withholds: a bar or cell
    becomes blank, a line point is left out). Core applies :class:`privgate.redact.DataGuard`
    this way before anything is written."""
    def t(value: Any) -> str:
        return str(text_fn(str(value)))

    if isinstance(block, Paragraph):
        return Paragraph(t(block.text))
    if isinstance(block, Table):
        return Table(tuple(t(h) for h in block.headers),
                     tuple(tuple(data_fn(c) for c in row) for row in block.rows), t(block.caption))
    if isinstance(block, KeyValues):
        return KeyValues(tuple((t(k), data_fn(v)) for k, v in block.items))
    if isinstance(block, BarChart):
        return BarChart(t(block.title), tuple(t(x) for x in block.labels),
                        tuple(_number_or_none(data_fn(v)) for v in block.values),
                        t(block.caption), t(block.axis_label), block.max_value)
    if isinstance(block, LineChart):
        series = []
        for s in block.series:
            kept = [(_number_or_none(data_fn(x)), _number_or_none(data_fn(y)))
                    for x, y in zip(s.x, s.y, strict=True)]
            points = [(x, y) for x, y in kept if x is not None and y is not None]
            series.append(Series(t(s.label), tuple(p[0] for p in points),
                                 tuple(p[1] for p in points)))
        return LineChart(t(block.title), tuple(series), t(block.caption), t(block.x_label),
                         t(block.y_label), block.x_log, block.diagonal)
    if isinstance(block, HeatMap):
        return HeatMap(t(block.title), tuple(t(x) for x in block.row_labels),
                       tuple(t(x) for x in block.column_labels),
                       tuple(tuple(_number_or_none(data_fn(v)) for v in row)
                             for row in block.values), t(block.caption), block.lower_triangle)
    return Paragraph(t(block))


def _number_or_none(value: Any) -> float | None:
    try:
        return number("value", value, allow_none=True)
    except PlainError:
        return None

