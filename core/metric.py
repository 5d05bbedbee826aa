"""The metric contract: utility figures that describe, but do not gate, a synthetic table.

A metric says what it measured the way an attack does: a headline value, optionally with a
confidence interval (:class:`~privgate.evidence.Interval`), and the tables and charts the report
shows with it (:mod:`privgate.figures`). Reports draw those by type, never by the metric's name,
so a third-party metric gets the same charts as a built-in one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from privgate.attack import AttackContext
from privgate.evidence import Interval
from privgate.figures import Figure, to_plain

#: Metrics receive the same context as attacks.
MetricContext = AttackContext


@dataclass(frozen=True)
class MetricResult:
    """One utility metric on one synthetic table.

    Attributes:
        metric: the metric's registered name.
        value: the headline figure (its meaning is in ``description``).
        description: one sentence: what the value measures and which direction is better.
        details: free per-column figures, matrices, comparisons; JSON-serialisable. Shown
            folded away as a key-value list; no report reads a key of it.
        interval: the confidence interval of ``value``, when the metric computes one.
        figures: tables and charts (:mod:`privgate.figures`) the report shows with the value.
        baseline: the same measure without the synthetic data (e.g. a classifier trained on
            the real rows only), for "before and after" on the report's first page; ``None``
            when the metric has no such reference. ``baseline_description`` says what it is.
    """

    metric: str
    value: float | None
    description: str
    details: dict[str, Any] = field(default_factory=dict)
    interval: Interval | None = None
    figures: tuple[Figure, ...] = ()
    baseline: float | None = None
    baseline_description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "value": self.value, "description": self.description,
                "interval": None if self.interval is None else self.interval.to_dict(),
                "figures": [to_plain(f) for f in self.figures], "details": self.details,
                "baseline": self.baseline, "baseline_description": self.baseline_description}


class Metric(ABC):
    """Base class of every utility metric. Subclasses set ``name`` and ``description``.

    ``title`` (a plain-language heading), ``assumptions`` (what the metric does not cover) and
    ``references`` are shown in the report's utility and methodology sections.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    title: ClassVar[str] = ""
    assumptions: ClassVar[str] = ""
    references: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **params: Any) -> None:
        self.params = params

    @abstractmethod
    def compute(self, context: MetricContext) -> MetricResult:
        """Compute the metric from the context's real and synthetic tables."""
