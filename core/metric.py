"""The metric contract: utility figures that describe, but do not gate, a synthetic table."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from privgate.attack import AttackContext

#: Metrics receive the same context as attacks.
MetricContext = AttackContext


@dataclass(frozen=True)
class MetricResult:
    """One utility metric on one synthetic table.

    Attributes:
        metric: the metric's registered name.
        value: the headline figure (its meaning is in ``description``).
        description: one sentence: what the value measures and which direction is better.
        details: per-column figures, matrices, comparisons; JSON-serialisable.
    """

    metric: str
    value: float | None
    description: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "value": self.value, "description": self.description,
                "details": self.details}


class Metric(ABC):
    """Base class of every utility metric. Subclasses set ``name`` and ``description``."""

    name: ClassVar[str]
    description: ClassVar[str] = ""

    def __init__(self, **params: Any) -> None:
        self.params = params

    @abstractmethod
    def compute(self, context: MetricContext) -> MetricResult:
        """Compute the metric from the context's real and synthetic tables."""
