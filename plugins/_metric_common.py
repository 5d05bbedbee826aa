"""Helpers shared by the built-in utility metrics: parameter checking, JSON-safe numbers and
schema-driven column codes. Nothing here is part of privgate's public API."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from privgate import params
from privgate.encoding import category_key, is_missing, to_numeric
from privgate.errors import InputError
from privgate.schema import Column, Kind


def check_params(metric: str, given: Mapping[str, Any],
                 defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``given`` over ``defaults``; an unknown name is an :class:`InputError`."""
    return params.resolve(f"metric {metric!r}", defaults, given)


def positive_int(metric: str, name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int of at least ``minimum``, else an :class:`InputError`."""
    return params.check_int(f"metric {metric!r}", {name: value}, name, minimum)


def finite(x: Any) -> float | None:
    """A plain Python float, or ``None`` for missing, NaN or infinite values."""
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def require_columns(metric: str, frames: Mapping[str, pd.DataFrame], names: list[str]) -> None:
    """Raise :class:`InputError` when a table lacks one of the schema's modelled columns."""
    for label, df in frames.items():
        missing = [n for n in names if n not in df.columns]
        if missing:
            raise InputError(f"metric {metric!r}: the {label} table lacks column(s) {missing} "
                             "that the schema declares")


def categorical_codes(series: pd.Series, categories: list[Any]) -> np.ndarray:
    """Codes of a categorical column over a category list.

    Returns an int array: ``0..k-1`` for the ``k`` categories, ``k`` for a missing value and
    ``k + 1`` for a value outside the list.
    """
    k = len(categories)
    lookup = {category_key(c): i for i, c in enumerate(categories)}
    return np.array([k if is_missing(v) else lookup.get(category_key(v), k + 1)
                     for v in series.tolist()], dtype=np.int64)


def category_list(column: Column, *frames: pd.DataFrame) -> tuple[list[Any], bool]:
    """The declared categories of ``column``, or (when none are declared) the values seen in
    ``frames``. The flag says whether the list was read off the data."""
    if column.categories is not None:
        return list(column.categories), False
    seen: dict[object, Any] = {}
    for df in frames:
        for v in df[column.name].tolist():
            if not is_missing(v):
                seen.setdefault(category_key(v), v)
    return [seen[k] for k in sorted(seen, key=str)], True


def numeric_values(series: pd.Series, column: Column) -> np.ndarray:
    """The column as a float array (NaN where missing or unparsable)."""
    return to_numeric(series, column).to_numpy(dtype=float)


def numeric_bounds(column: Column, *arrays: np.ndarray) -> tuple[float, float, bool]:
    """The declared bounds of a numeric column, or the range seen in ``arrays``. The flag says
    whether the range was read off the data."""
    if column.bounds is not None:
        return float(column.bounds[0]), float(column.bounds[1]), False
    values = np.concatenate([a[np.isfinite(a)] for a in arrays]) if arrays else np.array([])
    if values.size == 0:
        return 0.0, 0.0, True
    return float(values.min()), float(values.max()), True


def is_categorical(column: Column) -> bool:
    """Whether the metrics treat ``column`` as categorical (everything non-numeric)."""
    return column.kind is Kind.CATEGORICAL
