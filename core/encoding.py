"""Turn a table into numbers using only the schema's declared domain, and back.

Generators and distance-based attacks share this encoding: categorical columns become one-hot
blocks (with an extra "missing" slot when the column is nullable), numeric columns are clipped to
their bounds and scaled to [0, 1] (with a missing-indicator slot when nullable). Nothing here
looks at the data to decide the encoding, so it spends no privacy budget -- provided the schema's
domains are public (see :attr:`privgate.schema.Column.data_dependent`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from privgate.schema import Column, Kind, Schema, epoch_seconds


@dataclass(frozen=True)
class Span:
    """Where one column lives in the encoded matrix.

    ``kind`` is ``"onehot"`` (a block of ``end - start`` slots summing to one) or ``"numeric"``
    (one scaled value, followed by a missing indicator slot when ``has_missing``).
    """

    column: str
    kind: str
    start: int
    end: int
    has_missing: bool = False


def to_numeric(series: pd.Series, column: Column) -> pd.Series:
    """The column as floats (datetimes as seconds since the epoch)."""
    if column.kind is Kind.DATETIME:
        return epoch_seconds(series)
    return pd.to_numeric(series, errors="coerce").astype(float)


class TableEncoder:
    """Encode the modelled columns of a schema (identifiers excluded) into a float matrix."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        schema.require_domains()
        self.columns: list[Column] = schema.modelled
        spans: list[Span] = []
        pos = 0
        for col in self.columns:
            if col.kind is Kind.CATEGORICAL:
                assert col.categories is not None
                width = len(col.categories) + (1 if col.nullable else 0)
                spans.append(Span(col.name, "onehot", pos, pos + width, col.nullable))
            else:
                width = 2 if col.nullable else 1
                spans.append(Span(col.name, "numeric", pos, pos + width, col.nullable))
            pos += width
        self.spans = spans
        self.width = pos

    def transform(self, df: pd.DataFrame) -> NDArray[np.float32]:
        """Encode ``df`` (must hold every modelled column) as a ``float32`` matrix."""
        out = np.zeros((len(df), self.width), dtype=np.float32)
        for col, span in zip(self.columns, self.spans, strict=True):
            s = df[col.name]
            if span.kind == "onehot":
                idx = category_indices(s, col)
                # Values outside the declared domain (and missing values in a column not
                # declared nullable) encode as all-zero blocks: the model never sees them.
                ok = idx >= 0
                out[np.nonzero(ok)[0], span.start + idx[ok]] = 1.0
            else:
                assert col.bounds is not None
                low, high = col.bounds
                values = to_numeric(s, col).to_numpy(dtype=float)
                isna = np.isnan(values)
                scale = (high - low) or 1.0
                scaled = (np.clip(values, low, high) - low) / scale
                out[:, span.start] = np.where(isna, 0.5, scaled)
                if col.nullable:
                    out[:, span.start + 1] = isna
        return out

    def inverse_transform(self, matrix: NDArray[np.floating[Any]], *,
                          rng: np.random.Generator | None = None) -> pd.DataFrame:
        """Decode a matrix back into a table in the schema's domain.

        One-hot blocks are read as probabilities: with ``rng`` a category is sampled from them,
        without it the most likely one is taken. Numeric values are clipped to [0, 1], rescaled
        to their bounds and rounded for integer columns.
        """
        data: dict[str, object] = {}
        for col, span in zip(self.columns, self.spans, strict=True):
            block = np.asarray(matrix[:, span.start:span.end], dtype=float)
            if span.kind == "onehot":
                assert col.categories is not None
                probs = np.clip(block, 0, None)
                sums = probs.sum(axis=1, keepdims=True)
                probs = np.where(sums > 0, probs / np.where(sums > 0, sums, 1), 1 / block.shape[1])
                if rng is None:
                    idx = probs.argmax(axis=1)
                else:
                    cum = probs.cumsum(axis=1)
                    u = rng.random(len(probs))[:, None]
                    idx = np.minimum((u > cum).sum(axis=1), block.shape[1] - 1)
                cats = list(col.categories) + ([None] if col.nullable else [])
                values = pd.Series([cats[i] for i in idx], dtype=object)
                data[col.name] = values
            else:
                assert col.bounds is not None
                low, high = col.bounds
                x = np.clip(block[:, 0], 0.0, 1.0) * (high - low) + low
                if col.kind in (Kind.INTEGER,):
                    x = np.round(x)
                missing = None
                if col.nullable:
                    missing = block[:, 1] > 0.5 if rng is None else (
                        rng.random(len(block)) < np.clip(block[:, 1], 0, 1))
                data[col.name] = numeric_series(x, missing, col)
        return pd.DataFrame(data)


def numeric_series(values: NDArray[Any], missing: NDArray[np.bool_] | None,
                   column: Column) -> pd.Series:
    """Decoded numbers as the column's type: missing cells masked, datetimes from epoch
    seconds, integers as ``int64`` when nothing is missing."""
    series = pd.Series(values)
    if missing is not None:
        series = series.mask(missing)
    if column.kind is Kind.DATETIME:
        return pd.to_datetime(series, unit="s")
    if column.kind is Kind.INTEGER and not column.nullable:
        return series.astype("int64")
    return series


def category_indices(series: pd.Series, column: Column) -> NDArray[np.int64]:
    """Each cell's position in the column's declared category list.

    Missing cells map to ``len(categories)`` when the column is nullable (the "missing" slot);
    anything else outside the list maps to a negative number.
    """
    assert column.categories is not None
    lookup = {category_key(c): i for i, c in enumerate(column.categories)}
    codes, keys = key_codes(series)
    by_key = np.array([lookup.get(k, -1) for k in keys] + [-2], dtype=np.int64)
    idx = by_key[codes]  # code -1 (missing) reads the last slot: -2
    if column.nullable:
        idx[idx == -2] = len(column.categories)
    return idx


def key_codes(series: pd.Series) -> tuple[NDArray[np.int64], list[object]]:
    """Each cell's :func:`category_key` as a code into the list of distinct keys (-1 for a
    missing cell), computing the key once per distinct value instead of once per cell.

    pandas' ``factorize`` groups the cells; its grouping is used only where it cannot merge
    values whose keys differ: Python's ``True == 1`` (so bools beside numbers) and strings
    holding NUL (which ``factorize`` reads up to the NUL) take the cell-by-cell path.
    """
    values = series.to_numpy(dtype=object)
    if not _factorize_keeps_keys(values):
        seen: dict[object, int] = {}
        out = np.array([-1 if is_missing(v) else seen.setdefault(category_key(v), len(seen))
                        for v in values], dtype=np.int64)
        return out, list(seen)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    keys: dict[object, int] = {}
    remap = np.array([keys.setdefault(category_key(u), len(keys)) for u in uniques] + [-1],
                     dtype=np.int64)
    return remap[codes], list(keys)  # code -1 (missing) reads the last slot: -1


def _factorize_keeps_keys(values: NDArray[Any]) -> bool:
    """Whether pandas' ``factorize`` groups ``values`` only where their category keys agree:
    not for bools beside other values (``True == 1``) nor strings holding NUL."""
    inferred = pd.api.types.infer_dtype(values, skipna=True)
    if inferred in ("empty", "integer", "floating", "mixed-integer-float", "boolean"):
        return True
    if inferred == "string":
        return not bool(pd.Series(values, dtype=object).str.contains("\x00", regex=False)
                        .eq(True).any())
    return not any(isinstance(v, bool | np.bool_) or (isinstance(v, str) and "\x00" in v)
                   for v in values)


def is_missing(value: Any) -> bool:
    """Whether a cell is missing (None, NaN, NaT, pd.NA)."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def category_key(value: object) -> object:
    """Compare categories by value across int/float/str spellings read from CSV or TOML
    (``1`` == ``1.0`` == ``"1"``)."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | float | np.integer | np.floating):
        f = float(value)
        return str(int(f)) if f.is_integer() else str(f)
    return str(value)


# -- a public grid of bins over declared bounds (dpsgd-vae's bins, dpsgd-ctgan's modes) -----

#: A non-negative range gets log-spaced interior bins when ``high / start`` is at least this
#: (two orders of magnitude).
GEOMETRIC_RATIO = 100.0


def bin_edges(column: Column, n_bins: int
              ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Bin boundaries and point-bin flags for a numeric column, from its declared bounds only.

    Returns ``(edges, point)`` with ``len(edges) == len(point) + 1``; bin ``j`` is
    ``[edges[j], edges[j + 1])`` (integers ``edges[j]`` to ``edges[j + 1] - 1`` for integer
    columns); ``point`` marks bins that hold exactly one value. The grid:

    * integer columns whose declared range holds at most ``2 * n_bins`` values get one bin per
      integer;
    * other columns get a point bin at each declared bound (values clipped to the bounds pile
      up there) and ``n_bins - 2`` interior bins between them: log-spaced when the interior
      range is positive and spans :data:`GEOMETRIC_RATIO` (for an integer column declared from
      0 the interior starts at 1), equal-width otherwise; integer interior bins are whole
      numbers.

    Nothing here reads data, so the grid costs no privacy budget.
    """
    assert column.bounds is not None
    low, high = (float(b) for b in column.bounds)
    if column.kind is Kind.INTEGER:
        low, high = float(np.ceil(low)), float(np.floor(high))
        if high <= low:  # a single admissible value
            return np.array([low, low + 1.0]), np.array([True])
        if high - low + 1 <= 2 * n_bins:  # one bin per integer
            edges = np.arange(low, high + 2.0)
            return edges, np.ones(len(edges) - 1, dtype=bool)
        inner = _bin_grid(low + 1.0, high, n_bins - 2, integer=True)
        edges = np.concatenate([[low], inner, [high + 1.0]])
        return edges, np.diff(edges) == 1.0
    if high <= low:
        return np.array([low, low]), np.array([True])
    inner = _bin_grid(low, high, n_bins - 2, integer=False)
    # Point bins at both bounds: [low, low] and [high, high]; the interior bins cover (low, high).
    edges = np.concatenate([[low], inner, [high]])
    point = np.zeros(len(edges) - 1, dtype=bool)
    point[0] = point[-1] = True
    return edges, point


def _bin_grid(start: float, stop: float, n: int, *, integer: bool) -> np.ndarray[Any, Any]:
    """``n + 1`` boundaries from ``start`` to ``stop``: log-spaced for wide non-negative ranges
    (a continuous range starting at 0 has no natural smallest scale and stays equal-width).

    For integer columns the boundaries are whole numbers (duplicates dropped, so a narrow
    log-spaced region gets fewer, one-integer-wide bins).
    """
    n = max(n, 1)
    if start > 0 and stop / start >= GEOMETRIC_RATIO:
        grid = np.geomspace(start, stop, n + 1)
    else:
        grid = np.linspace(start, stop, n + 1)
    if integer:
        grid = np.unique(np.round(grid))
        grid[-1] = stop  # the caller appends high (+1) as the final edge
    return grid
