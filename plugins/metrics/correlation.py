"""The ``correlation`` metric: how well the synthetic table keeps pairwise associations, shown as
a heat map of the differences and a table of the pairs that differ most."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from scipy.stats.contingency import association

from privgate import hookimpl
from privgate.errors import N_, InputError
from privgate.figures import HeatMap, Table
from privgate.metric import Metric, MetricContext, MetricResult
from privgate.plugins.metrics._common import (
    categorical_codes,
    category_list,
    check_params,
    finite,
    is_categorical,
    numeric_values,
    positive_int,
    require_columns,
)
from privgate.schema import Column

METHODS = ("pearson", "spearman")
#: Column pairs listed in the table of the largest differences.
TOP_PAIRS = 5


def pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson correlation of the rows where both are finite; ``None`` if a side is constant."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 2:
        return None
    xc, yc = x - x.mean(), y - y.mean()
    denom = float(np.sqrt((xc * xc).sum() * (yc * yc).sum()))
    if denom <= 0:
        return None
    return finite(np.clip((xc * yc).sum() / denom, -1.0, 1.0))


def spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    """Spearman rank correlation (Pearson on average ranks) of the rows where both are finite."""
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2:
        return None
    return pearson(rankdata(x[ok]), rankdata(y[ok]))


def cramers_v(a: np.ndarray, b: np.ndarray) -> float | None:
    """Cramér's V of two code arrays (scipy's ``association``, no continuity correction).

    Missing and out-of-list values count as categories of their own. ``None`` when either
    side shows fewer than two distinct values.
    """
    if a.size < 2:
        return None
    ka, kb = int(a.max()) + 1, int(b.max()) + 1
    table = np.bincount(a * kb + b, minlength=ka * kb).reshape(ka, kb)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if min(table.shape) < 2:
        return None
    return finite(association(table, method="cramer"))


def correlation_ratio(codes: np.ndarray, x: np.ndarray) -> float | None:
    """Correlation ratio (eta) of a numeric array given category codes.

    ``eta = sqrt(between-group sum of squares / total sum of squares)``, in [0, 1]; rows with a
    missing number are left out, a missing category is a group of its own. ``None`` when the
    numbers are constant or all rows share one category.
    """
    ok = np.isfinite(x)
    codes, x = codes[ok], x[ok]
    if x.size < 2:
        return None
    total = float(((x - x.mean()) ** 2).sum())
    if total <= 0:
        return None
    n = np.bincount(codes)
    sums = np.bincount(codes, weights=x)
    seen = n > 0
    if seen.sum() < 2:  # a constant category explains nothing and is undefined
        return None
    means = sums[seen] / n[seen]
    between = float((n[seen] * (means - x.mean()) ** 2).sum())
    return finite(np.sqrt(min(1.0, max(0.0, between / total))))


def association_matrix(columns: list[Column], df: pd.DataFrame,
                       categories: dict[str, list[Any]], method: str
                       ) -> list[list[float | None]]:
    """The symmetric matrix of pairwise associations of ``columns`` in ``df``.

    Numeric pairs: Pearson or Spearman correlation (signed). Categorical pairs: Cramér's V.
    Mixed pairs: correlation ratio of the number given the category. The diagonal is 1 for
    columns that vary and ``None`` for constant ones.
    """
    encoded: dict[str, np.ndarray] = {}
    for col in columns:
        if is_categorical(col):
            encoded[col.name] = categorical_codes(df[col.name], categories[col.name])
        else:
            encoded[col.name] = numeric_values(df[col.name], col)
    corr = spearman if method == "spearman" else pearson
    k = len(columns)
    matrix: list[list[float | None]] = [[None] * k for _ in range(k)]
    for i, col in enumerate(columns):
        x = encoded[col.name]
        if is_categorical(col):
            varies = np.unique(x).size > 1
        else:
            finite_x = x[np.isfinite(x)]
            varies = finite_x.size > 1 and bool(finite_x.min() < finite_x.max())
        matrix[i][i] = 1.0 if varies else None
    for i, j in combinations(range(k), 2):
        ci, cj = columns[i], columns[j]
        xi, xj = encoded[ci.name], encoded[cj.name]
        cat_i, cat_j = is_categorical(ci), is_categorical(cj)
        if cat_i and cat_j:
            value = cramers_v(xi, xj)
        elif cat_i:
            value = correlation_ratio(xi, xj)
        elif cat_j:
            value = correlation_ratio(xj, xi)
        else:
            value = corr(xi, xj)
        matrix[i][j] = matrix[j][i] = value
    return matrix


class CorrelationMetric(Metric):
    """Mean absolute difference between the real and synthetic pairwise-association matrices.

    Parameters:
        method: ``"pearson"`` (default) or ``"spearman"`` for numeric-numeric pairs.
        max_columns: the first this many modelled columns (schema order) are used (default 30).
    """

    name = "correlation"
    description = ("Mean absolute difference between the real training and synthetic pairwise "
                   "association matrices over the modelled columns (numeric pairs: Pearson "
                   "correlation, or Spearman if configured; categorical pairs: Cramér's V; "
                   "mixed pairs: correlation ratio eta); 0 = associations preserved, lower is "
                   "better.")
    title = "Relationships between columns (correlation difference)"
    assumptions = ("Pairwise associations only (Pearson or Spearman, Cramér's V, correlation "
                   "ratio); relations among three or more columns are not compared.")
    references = ("H. Cramér, Mathematical Methods of Statistics, Princeton (1946).",)
    defaults: dict[str, Any] = {"method": "pearson", "max_columns": 30}

    def __init__(self, **params: Any) -> None:
        super().__init__(**check_params(self.name, params, self.defaults))
        if self.params["method"] not in METHODS:
            raise InputError(N_("metric %(name)r: parameter 'method' must be one of "
                                "%(methods)s, got %(method)r"),
                             name=self.name, methods=list(METHODS), method=self.params['method'])
        positive_int(self.name, "max_columns", self.params["max_columns"], minimum=2)

    def compute(self, context: MetricContext) -> MetricResult:
        """Compute both association matrices and their mean absolute difference."""
        method = str(self.params["method"])
        modelled = context.schema.modelled
        columns = modelled[: int(self.params["max_columns"])]
        names = [c.name for c in columns]
        require_columns(self.name, {"training": context.train,
                                    "synthetic": context.synthetic}, names)
        categories = {c.name: category_list(c, context.train, context.synthetic)[0]
                      for c in columns if is_categorical(c)}
        real = association_matrix(columns, context.train, categories, method)
        synth = association_matrix(columns, context.synthetic, categories, method)
        k = len(columns)
        diff: list[list[float | None]] = [[None] * k for _ in range(k)]
        pairs: list[float] = []
        for i in range(k):
            for j in range(k):
                r, s = real[i][j], synth[i][j]
                if r is not None and s is not None:
                    diff[i][j] = abs(r - s)
                    if i < j:
                        pairs.append(abs(r - s))
        details: dict[str, Any] = {
            "columns": names, "real": real, "synthetic": synth, "abs_diff": diff,
            "numeric_method": method, "n_pairs": len(pairs),
            "n_pairs_undefined": k * (k - 1) // 2 - len(pairs),
        }
        if len(modelled) > k:
            details["columns_left_out"] = [c.name for c in modelled[k:]]
        value = finite(np.mean(pairs)) if pairs else None
        return MetricResult(self.name, value, self.description, details,
                            figures=figures(names, diff))


def figures(names: list[str], diff: list[list[float | None]]) -> tuple[HeatMap, Table]:
    """The heat map of the absolute differences and the table of the largest ones."""
    pairs = sorted(((v, names[i], names[j]) for i, row in enumerate(diff)
                    for j, v in enumerate(row) if i < j and v is not None),
                   key=lambda p: (-p[0], p[1], p[2]))
    values = [p[0] for p in pairs]
    summary = (f"of {len(pairs)} column pairs; largest difference {max(values):.3g}, mean "
               f"{float(np.mean(values)):.3g}" if values else "no pair could be compared")
    heat = HeatMap(
        title="Difference between real and synthetic correlations (darker = larger)",
        row_labels=tuple(names), column_labels=tuple(names), values=tuple(map(tuple, diff)),
        caption=("Each cell is a pair of columns; the darker it is, the more their relationship "
                 "differs between real and synthetic data (0 = identical)."),
        lower_triangle=True)
    table = Table(headers=("Column", "Column", "Absolute difference"),
                  rows=tuple((a, b, v) for v, a, b in pairs[:TOP_PAIRS]),
                  caption=f"Column pairs whose relationship differs most ({summary})")
    return heat, table


@hookimpl
def privgate_metrics() -> list[type[Metric]]:
    """Register the correlation-difference metric."""
    return [CorrelationMetric]
