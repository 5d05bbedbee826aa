"""Helpers shared by the built-in utility metrics: parameter checking, JSON-safe numbers,
schema-driven column codes, and the feature encoding and AUROC of the classifier metrics
(``tstr``, ``augmentation``). Nothing here is part of privgate's public API."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from privgate import params
from privgate.encoding import category_key, is_missing, key_codes, to_numeric
from privgate.errors import N_, InputError, plugin_named
from privgate.input_files import file_word
from privgate.schema import Column, Kind


def check_params(metric: str, given: Mapping[str, Any],
                 defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``given`` over ``defaults``; an unknown name is an :class:`InputError`."""
    return params.resolve(plugin_named("metric", metric), defaults, given)


def positive_int(metric: str, name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int of at least ``minimum``, else an :class:`InputError`."""
    return params.check_int(plugin_named("metric", metric), {name: value}, name, minimum)


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
            raise InputError(N_("metric %(metric)r: the %(label)s table lacks column(s) "
                                "%(missing)s that the schema declares"),
                             metric=metric, label=file_word(label), missing=missing)


def categorical_codes(series: pd.Series, categories: list[Any]) -> np.ndarray:
    """Codes of a categorical column over a category list.

    Returns an int array: ``0..k-1`` for the ``k`` categories, ``k`` for a missing value and
    ``k + 1`` for a value outside the list.
    """
    k = len(categories)
    lookup = {category_key(c): i for i, c in enumerate(categories)}
    codes, keys = key_codes(series)
    by_key = np.array([lookup.get(key, k + 1) for key in keys] + [k], dtype=np.int64)
    return by_key[codes]  # code -1 (missing) reads the last slot: k


def category_list(column: Column, *frames: pd.DataFrame) -> tuple[list[Any], bool]:
    """The declared categories of ``column``, or (when none are declared) the values seen in
    ``frames``. The flag says whether the list was read off the data."""
    if column.categories is not None:
        return list(column.categories), False
    seen: dict[object, Any] = {}
    for df in frames:
        codes, keys = key_codes(df[column.name])
        present = codes >= 0
        _, first = np.unique(codes[present], return_index=True)  # a cell per key, in key order
        values = df[column.name].to_numpy(dtype=object)[present]
        for key, row in zip(keys, first, strict=True):
            seen.setdefault(key, values[row])
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


def ci_text(interval: Any) -> str:
    """An interval ``[low, high]`` from ``details`` as short text for a table cell ("" when
    there is none)."""
    if not isinstance(interval, list | tuple) or len(interval) != 2 or None in interval:
        return ""
    return f"[{float(interval[0]):.3g}, {float(interval[1]):.3g}]"


#: HistGradientBoosting treats a feature as categorical only up to this many categories.
MAX_CATEGORICAL = 255


class FeatureEncoder:
    """Encode feature columns for HistGradientBoosting from the schema alone.

    Categorical columns become ordinal codes of the declared categories (missing and
    out-of-list values become NaN, which the model routes on its own) and are flagged
    categorical; numeric columns become floats.
    """

    def __init__(self, columns: list[Column], *frames: pd.DataFrame) -> None:
        self.columns = columns
        self.categories = {c.name: category_list(c, *frames)[0]
                           for c in columns if is_categorical(c)}
        self.mask = np.array([is_categorical(c) and
                              0 < len(self.categories[c.name]) <= MAX_CATEGORICAL
                              for c in columns], dtype=bool)

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        """The feature matrix of ``df`` (float64, NaN where missing)."""
        out = np.empty((len(df), len(self.columns)), dtype=float)
        for j, col in enumerate(self.columns):
            if is_categorical(col):
                cats = self.categories[col.name]
                codes = categorical_codes(df[col.name], cats).astype(float)
                codes[codes >= len(cats)] = np.nan
                out[:, j] = codes
            else:
                out[:, j] = numeric_values(df[col.name], col)
        return out


def labels(series: pd.Series) -> np.ndarray:
    """Target values as comparable strings (``None`` where missing)."""
    return np.array([None if is_missing(v) else str(category_key(v)) for v in series.tolist()],
                    dtype=object)


def binary_auroc(positive: np.ndarray, scores: np.ndarray) -> float:
    """AUROC of ``scores`` for a boolean ``positive`` array (Mann-Whitney U over average ranks,
    so ties count one half, as in ``sklearn.metrics.roc_auc_score``); NaN with one outcome."""
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
