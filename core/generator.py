"""The generator contract: fit on a table within a privacy budget, sample rows, say what it spent.

Generators follow scikit-learn's estimator shape: constructor arguments are stored as given,
all work happens in :meth:`Generator.fit`, which returns ``self``; learned state ends in an
underscore.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import pandas as pd

from privgate.errors import BudgetError
from privgate.schema import Schema


@dataclass(frozen=True)
class PrivacyBudget:
    """The (epsilon, delta) a generator may spend on one fit."""

    epsilon: float
    delta: float = 1e-5

    def __post_init__(self) -> None:
        if not (self.epsilon > 0 and math.isfinite(self.epsilon)):
            raise BudgetError(f"epsilon must be a positive finite number, got {self.epsilon!r}")
        if not (0 <= self.delta < 1):
            raise BudgetError(f"delta must be in [0, 1), got {self.delta!r}")


@dataclass(frozen=True)
class PrivacySpent:
    """What a fit actually spent, as reported by its accountant.

    ``epsilon`` is ``math.inf`` for non-private generators. ``details`` holds the figures an
    auditor needs to recompute it (noise multiplier, sample rate, steps, ...).
    """

    epsilon: float
    delta: float
    accountant: str
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_private(self) -> bool:
        return math.isfinite(self.epsilon)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["epsilon"] = self.epsilon if math.isfinite(self.epsilon) else None
        out["details"] = dict(self.details)
        out["is_private"] = self.is_private
        return out


NOT_PRIVATE = "none (not differentially private)"


class Generator(ABC):
    """Base class of every synthetic-data generator.

    Subclasses set ``name`` (the identifier used in configs), ``is_private`` and
    ``description``, store their keyword parameters in ``__init__`` and implement
    :meth:`fit`, :meth:`sample` and :attr:`privacy_spent`.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    is_private: ClassVar[bool] = True

    @abstractmethod
    def fit(self, data: pd.DataFrame, schema: Schema, budget: PrivacyBudget | None,
            *, seed: int = 0) -> Generator:
        """Learn from ``data`` (the training part only, identifiers already removed).

        Args:
            data: the training rows, columns as in ``schema.modelled``.
            schema: declared kinds, roles and public domains. Only the declared domain may be
                used for preprocessing; anything read off ``data`` must be paid for.
            budget: the (epsilon, delta) this fit may spend; ``None`` only for non-private
                generators.
            seed: makes the fit reproducible.

        Returns:
            ``self``.
        """

    @abstractmethod
    def sample(self, n: int, *, seed: int = 0) -> pd.DataFrame:
        """Draw ``n`` synthetic rows with the modelled columns of the schema."""

    @property
    @abstractmethod
    def privacy_spent(self) -> PrivacySpent:
        """The (epsilon, delta) actually spent by the last fit."""

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters (for provenance). Subclasses store them in ``params``."""
        return dict(getattr(self, "params", {}))
