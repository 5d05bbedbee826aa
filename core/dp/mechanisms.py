"""The two noise mechanisms a DP generator may apply to counts outside DP-SGD.

* :func:`laplace_counts` -- pure epsilon-DP for a histogram in which one record changes one
  cell by one (L1 sensitivity 1). Its epsilon composes with the rest by basic composition.
* :func:`gaussian_histograms` -- the Gaussian mechanism on several histograms at once, each
  record adding one to one cell of *every* histogram (L2 sensitivity ``sqrt(m)`` for ``m``
  histograms). With noise multiplier ``sigma`` it is exactly one step of DP-SGD at sample rate
  1, so opacus' accountants charge it as the history entry ``(sigma, 1.0, 1)`` and compose it
  tightly with training (see :func:`privgate.dp.accounting.calibrate_with_release`).

The caller vouches for the sensitivity: each record must contribute as described.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from privgate.errors import N_, BudgetError


def laplace_counts(counts: NDArray[np.float64], epsilon: float, rng: np.random.Generator
                   ) -> NDArray[np.float64]:
    """``counts`` plus Laplace noise of scale ``1 / epsilon`` in every cell."""
    if not (epsilon > 0 and math.isfinite(epsilon)):
        raise BudgetError(N_("the Laplace mechanism needs a positive finite epsilon, got "
                             "%(epsilon)r"), epsilon=epsilon)
    counts = np.asarray(counts, dtype=float)
    return counts + rng.laplace(0.0, 1.0 / epsilon, size=counts.shape)


def gaussian_histograms(counts: Sequence[NDArray[np.float64]], sigma: float,
                        rng: np.random.Generator) -> list[NDArray[np.float64]]:
    """Every histogram plus Gaussian noise of standard deviation ``sigma * sqrt(len(counts))``
    (the noise multiplier times the L2 sensitivity)."""
    if not (sigma > 0 and math.isfinite(sigma)):
        raise BudgetError(N_("the Gaussian mechanism needs a positive finite noise multiplier, "
                             "got %(sigma)r"), sigma=sigma)
    scale = float(sigma) * math.sqrt(len(counts))
    return [np.asarray(c, dtype=float) + rng.normal(0.0, scale, size=len(c)) for c in counts]
