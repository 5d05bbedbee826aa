"""What privgate's non-private baseline generators share (``gmm``, ``gaussian-copula``,
``smote``, ``leaky``): no privacy claim, and the checks every ``sample`` call makes.

A baseline is fitted on the raw training rows without any noise, so its epsilon is infinite;
audits run it as the reference for what an unprotected model leaks. A subclass declares its
parameters (:class:`privgate.params.Parameterised`), sets :attr:`NonPrivateGenerator.fitted_by`
to the attribute its ``fit`` sets, and implements ``_draw(n, seed)``; conditions on categorical
columns are met by rejection sampling unless it overrides :meth:`~NonPrivateGenerator.draw`.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import pandas as pd

from privgate.generator import (
    NOT_PRIVATE,
    Generator,
    PrivacySpent,
    check_conditions,
    sample_by_rejection,
)
from privgate.params import Parameterised, check_count
from privgate.schema import Schema


class NonPrivateGenerator(Parameterised, Generator):
    """A generator fitted on the raw rows: infinite epsilon, conditions by rejection."""

    is_private: ClassVar[bool] = False
    supports_conditions: ClassVar[bool] = True
    #: The attribute ``fit`` sets; ``sample`` and ``save`` before ``fit`` are refused.
    fitted_by: ClassVar[str]
    #: Why it is not private, for :attr:`privacy_spent`'s details.
    not_private_because: ClassVar[str] = "non-private baseline; no noise is added"
    #: The schema of the last fit (or of the loaded state).
    schema_: Schema

    def sample(self, n: int, *, seed: int = 0,
               conditions: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """``n`` rows (see the subclass), every one meeting ``conditions``."""
        self.fitted(self.fitted_by, "sample()")
        n = check_count(self.owner(), n)
        wanted = check_conditions(conditions, self.schema_, self.name,
                                  supported=self.supports_conditions)
        return self.draw(n, seed, wanted)

    def draw(self, n: int, seed: int, wanted: dict[str, Any]) -> pd.DataFrame:
        """``n`` rows meeting the checked conditions ``wanted``: by rejection sampling on
        :meth:`_draw` (a subclass that can do better overrides this)."""
        if wanted:
            return sample_by_rejection(self._draw, n, wanted, seed=seed)
        return self._draw(n, seed)

    @abstractmethod
    def _draw(self, n: int, seed: int) -> pd.DataFrame:
        """``n`` unconditional rows; the same fitted state and seed give the same rows."""

    @property
    def privacy_spent(self) -> PrivacySpent:
        """Infinite epsilon: the model is read off the raw rows without any noise."""
        return PrivacySpent(epsilon=math.inf, delta=1.0, accountant=NOT_PRIVATE,
                            details={"reason": self.not_private_because})
