"""The ``hellinger`` metric: per-column distance between real and synthetic marginals, shown as
a bar chart per column."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from privgate import hookimpl
from privgate.figures import BarChart
from privgate.metric import Metric, MetricContext, MetricResult
from privgate.plugins.metrics._common import (
    categorical_codes,
    category_list,
    check_params,
    finite,
    is_categorical,
    numeric_bounds,
    numeric_values,
    positive_int,
    require_columns,
)
from privgate.schema import Column


def hellinger_distance(p: np.ndarray, q: np.ndarray) -> float | None:
    """Hellinger distance ``sqrt(1 - sum(sqrt(p_i q_i)))`` between two count vectors.

    The counts are normalised first; ``None`` when either vector sums to zero.
    """
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    sp, sq = p.sum(), q.sum()
    if sp <= 0 or sq <= 0:
        return None
    bc = float(np.sqrt((p / sp) * (q / sq)).sum())
    return float(np.sqrt(max(0.0, 1.0 - min(1.0, bc))))


def column_histograms(column: Column, real: pd.DataFrame, synthetic: pd.DataFrame,
                      bins: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """Counts of ``column`` in both tables over the same bins.

    Categorical columns count each declared category, plus one bin for missing values and one
    for values outside the list. Numeric columns are clipped to their bounds and cut into
    ``bins`` equal-width bins, plus one bin for missing values. The flag is True when the
    domain had to be read off the data (no declared categories or bounds).
    """
    name = column.name
    if is_categorical(column):
        cats, from_data = category_list(column, real, synthetic)
        width = len(cats) + 2
        counts = [np.bincount(categorical_codes(df[name], cats), minlength=width)
                  for df in (real, synthetic)]
        return counts[0], counts[1], from_data
    a = numeric_values(real[name], column)
    b = numeric_values(synthetic[name], column)
    low, high, from_data = numeric_bounds(column, a, b)
    out = []
    for x in (a, b):
        isna = ~np.isfinite(x)
        if high > low:
            idx = np.floor((np.clip(x[~isna], low, high) - low) / (high - low) * bins)
            idx = np.minimum(idx.astype(np.int64), bins - 1)
        else:
            idx = np.zeros(int((~isna).sum()), dtype=np.int64)
        hist = np.bincount(idx, minlength=bins)
        out.append(np.append(hist, int(isna.sum())))
    return out[0], out[1], from_data


class HellingerMetric(Metric):
    """Per-column Hellinger distance between the real training rows and the synthetic rows.

    Parameters:
        bins: equal-width bins across a numeric column's declared bounds (default 20).
    """

    name = "hellinger"
    description = ("Mean over the modelled columns of the Hellinger distance between the real "
                   "training and synthetic marginal distributions (categorical: declared "
                   "categories + missing + out-of-list; numeric: equal-width bins over the "
                   "declared bounds + missing); 0 = identical, 1 = disjoint, lower is better.")
    title = "Column distributions (Hellinger distance, average)"
    assumptions = ("Compares each column on its own; says nothing about how columns relate. "
                   "Numbers are binned, so fine detail is not compared.")
    references = ("E. Hellinger, Neue Begründung der Theorie quadratischer Formen von "
                  "unendlichvielen Veränderlichen, J. reine angew. Math. 136 (1909).",)
    defaults: dict[str, Any] = {"bins": 20}

    def __init__(self, **params: Any) -> None:
        super().__init__(**check_params(self.name, params, self.defaults))
        positive_int(self.name, "bins", self.params["bins"])

    def compute(self, context: MetricContext) -> MetricResult:
        """Compute the per-column distances and their mean."""
        bins = int(self.params["bins"])
        columns = context.schema.modelled
        names = [c.name for c in columns]
        require_columns(self.name, {"training": context.train,
                                    "synthetic": context.synthetic}, names)
        per_column: dict[str, float | None] = {}
        data_domain: list[str] = []
        for column in columns:
            p, q, from_data = column_histograms(column, context.train, context.synthetic, bins)
            per_column[column.name] = finite(hellinger_distance(p, q))
            if from_data:
                data_domain.append(column.name)
        defined = [v for v in per_column.values() if v is not None]
        details: dict[str, Any] = {"per_column": per_column, "bins": bins}
        if data_domain:
            details["domain_from_data"] = data_domain
        value = finite(np.mean(defined)) if defined else None
        return MetricResult(self.name, value, self.description, details,
                            figures=(figure(per_column),))


def figure(per_column: dict[str, float | None]) -> BarChart:
    """The report's bar chart: one bar per column (none where the distance is undefined)."""
    return BarChart(
        title="Hellinger distance per column (0 = identical distributions)",
        labels=tuple(per_column), values=tuple(per_column.values()),
        caption=("Distance between the real and synthetic distribution of each column "
                 "(shorter bars are better)."),
        axis_label="Hellinger distance")


@hookimpl
def privgate_metrics() -> list[type[Metric]]:
    """Register the Hellinger-distance metric."""
    return [HellingerMetric]
