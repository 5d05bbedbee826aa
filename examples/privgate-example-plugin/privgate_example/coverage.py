"""``example-category-coverage``: how many of the real data's categories the synthetic data has.

For each categorical column, the share of the categories that occur in the real training rows
that also occur in the synthetic rows (SDMetrics calls this CategoryCoverage). A generator that
drops rare categories scores below 1 there. The value is the mean over the columns; the report
draws one bar per column from the metric's figure, a :class:`privgate.figures.BarChart` -- the
same chart a built-in metric gets, without any change to privgate's reports.

Only column names and shares are reported, never a category value: the categories seen in the
real rows may be rare real values.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from privgate import Metric, MetricResult, hookimpl
from privgate.attack import AttackContext
from privgate.figures import BarChart, Table
from privgate.schema import Kind

PRIVGATE_PLUGIN_API = "1"


class CategoryCoverage(Metric):
    """Share of the real categories of each categorical column found in the synthetic data."""

    name: ClassVar[str] = "example-category-coverage"
    description: ClassVar[str] = (
        "Mean over the categorical columns of the share of categories seen in the real "
        "training rows that also occur in the synthetic rows; 1 = every category kept, higher "
        "is better.")
    title: ClassVar[str] = "Category coverage (share of real categories kept)"
    assumptions: ClassVar[str] = (
        "Counts a category as kept when it occurs at least once; says nothing about how often.")
    references: ClassVar[tuple[str, ...]] = (
        "DataCebo, SDMetrics: CategoryCoverage (2023).",)

    def compute(self, context: AttackContext) -> MetricResult:
        """One share per categorical column, their mean, and the chart of them."""
        shares: dict[str, float] = {}
        kept: dict[str, tuple[int, int]] = {}
        for column in context.schema.modelled:
            if column.kind is not Kind.CATEGORICAL:
                continue
            real = set(context.train[column.name].dropna().astype(str))
            synthetic = set(context.synthetic[column.name].dropna().astype(str))
            if real:
                kept[column.name] = (len(real & synthetic), len(real))
                shares[column.name] = len(real & synthetic) / len(real)
        value = float(np.mean(list(shares.values()))) if shares else None
        figures: tuple[Any, ...] = ()
        if shares:
            figures = (
                BarChart("Category coverage per column", tuple(shares), tuple(shares.values()),
                         caption=("The share of each column's real categories that the "
                                  "synthetic data also has (longer bars are better)."),
                         axis_label="share of categories kept", max_value=1.0),
                Table(("Column", "Categories kept", "Categories in the real rows"),
                      tuple((c, k, n) for c, (k, n) in kept.items()),
                      caption="Categories kept per column"))
        return MetricResult(self.name, value, self.description,
                            {"per_column": shares}, figures=figures)


@hookimpl
def privgate_metrics() -> list[type[Metric]]:
    """The example metric."""
    return [CategoryCoverage]
