"""The ``smote`` generator's feature matrix: category codes, numbers and missing indicators.

Categorical columns (missing values as their own category when nullable) are SMOTE-NC
categorical features, held as codes; numeric, integer and datetime columns (epoch seconds) are
continuous features, rounded back to integers and clipped to the declared bounds on the way
out; a nullable numeric column's missingness is a categorical feature of its own and its value
is imputed with the column median before interpolation (masked again on output).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from privgate.encoding import category_indices, numeric_series, to_numeric
from privgate.schema import Column, Kind


def feature_kinds(columns: list[Column]) -> list[bool]:
    """Per matrix column: whether it is categorical (codes) rather than continuous."""
    out: list[bool] = []
    for col in columns:
        out.append(col.kind is Kind.CATEGORICAL)
        if col.kind is not Kind.CATEGORICAL and col.nullable:
            out.append(True)  # the missing indicator
    return out


def encode(data: pd.DataFrame, columns: list[Column], target: str
           ) -> tuple[np.ndarray, np.ndarray]:
    """The feature matrix (category codes, numbers, missing indicators) and the target codes.

    The target is a matrix column too (its code), so decoding needs nothing else; its code is
    constant within a class and so survives interpolation. Codes of values outside the declared
    categories are -1 (those rows are dropped for the target; for features they become their
    own code, like a category).
    """
    cols: list[np.ndarray] = []
    labels = np.full(len(data), -1, dtype=np.int64)
    for col in columns:
        if col.kind is Kind.CATEGORICAL:
            idx = category_indices(data[col.name], col)
            if col.name == target:
                labels = idx.copy()
            cols.append(np.where(idx < 0, -1, idx).astype(float))
            continue
        values = to_numeric(data[col.name], col).to_numpy(dtype=float)
        isna = np.isnan(values)
        fill = float(np.median(values[~isna])) if (~isna).any() else 0.0
        if col.bounds is not None:
            fill = float(np.clip(fill, *col.bounds))
        cols.append(np.where(isna, fill, values))
        if col.nullable:
            cols.append(isna.astype(float))
    return np.column_stack(cols), labels


def decode(rows: np.ndarray, columns: list[Column]) -> pd.DataFrame:
    """Rows of :func:`encode`'s matrix back to a table in the schema's domain."""
    data: dict[str, Any] = {}
    j = 0
    for col in columns:
        x = rows[:, j]
        j += 1
        if col.kind is Kind.CATEGORICAL:
            assert col.categories is not None
            cats = list(col.categories) + ([None] if col.nullable else [])
            codes = np.round(x).astype(np.int64)
            data[col.name] = pd.Series([cats[c] if 0 <= c < len(cats) else None
                                        for c in codes], dtype=object)
            continue
        missing = None
        if col.nullable:
            missing = rows[:, j] > 0.5
            j += 1
        if col.kind is Kind.INTEGER:
            x = np.round(x)
        if col.bounds is not None:
            x = np.clip(x, *col.bounds)
        data[col.name] = numeric_series(x, missing, col)
    return pd.DataFrame(data)
