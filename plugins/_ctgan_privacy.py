"""Privacy accounting of ``dpsgd-ctgan``'s training: DP category marginals composed with DP-SGD.

CTGAN draws the conditional vector of its *fake* rows from the categories' frequencies. Those
frequencies are data, so here they are released with the Gaussian mechanism and paid for:

* Each categorical column's histogram over its declared categories (plus "missing" when
  nullable) is one block; a record adds 1 to one cell of every block, so under adding or
  removing a record the concatenated histogram has L2 sensitivity ``sqrt(m)`` for ``m``
  categorical columns. Adding ``N(0, (sigma_m * sqrt(m))^2)`` to every cell is the Gaussian
  mechanism with noise multiplier ``sigma_m``, which opacus' accountants charge exactly as one
  DP-SGD step with sample rate 1. Clipping at 0 and normalising is post-processing.
* Composition with DP-SGD is done by the accountant itself (RDP or PRV, both compose
  heterogeneous mechanisms tightly): the history ``[(sigma_m, 1, 1), (sigma, q, steps)]`` is
  replayed through a fresh opacus accountant.
* Calibration (``marginal_share`` = s): DP-SGD's noise multiplier is the one opacus gives for
  ``(1 - s) * epsilon`` alone; ``sigma_m`` is then the smallest noise (bisection) at which the
  composition still fits ``epsilon``. So the generator trains as if it had ``(1 - s) * epsilon``
  and the marginals use the rest of the accountant's headroom. Hand-written because opacus'
  ``get_noise_multiplier`` calibrates a single mechanism only.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np

from privgate.errors import BudgetError
from privgate.plugins._dp_accounting import noise_multiplier_for

#: (noise multiplier, sample rate, steps) entries as opacus' accountants keep them.
History = Sequence[tuple[float, float, int]]


def composed_epsilon(history: History, delta: float, accountant: str) -> float:
    """The epsilon (at ``delta``) opacus' ``accountant`` charges for the mechanisms in
    ``history`` composed (for PRV its guaranteed upper bound)."""
    from opacus.accountants import PRVAccountant, RDPAccountant

    acc = RDPAccountant() if accountant == "rdp" else PRVAccountant()
    acc.history = [(float(s), float(q), int(k)) for s, q, k in history]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Oo]ptimal order.*")
        return float(acc.get_epsilon(delta=delta))


def calibrate(epsilon: float, delta: float, sample_rate: float, steps: int, accountant: str,
              *, marginal_share: float, with_marginals: bool) -> tuple[float, float | None]:
    """``(sigma for DP-SGD, sigma_m for the marginals or None)`` fitting ``epsilon`` together.

    Raises:
        BudgetError: the budget is too small for DP-SGD at ``(1 - marginal_share) * epsilon``.
    """
    if not with_marginals:
        return noise_multiplier_for(epsilon, delta, sample_rate, steps, accountant), None
    sigma = noise_multiplier_for((1.0 - marginal_share) * epsilon, delta, sample_rate, steps,
                                 accountant)

    def fits(sigma_m: float) -> bool:
        return composed_epsilon([(sigma_m, 1.0, 1), (sigma, sample_rate, steps)], delta,
                                accountant) <= epsilon

    low, high = 0.05, 1.0
    while not fits(high):
        high *= 4.0
        if high > 1e6:  # cannot happen: sigma alone fits (1 - s) * epsilon < epsilon
            raise BudgetError(f"cannot fit the category marginals into epsilon={epsilon}")
    if fits(low):
        return sigma, low
    for _ in range(30):  # geometric bisection to ~1% relative precision
        if high / low < 1.01:
            break
        mid = math.sqrt(low * high)
        if fits(mid):
            high = mid
        else:
            low = mid
    return sigma, high  # the upper end always fits


def noisy_marginals(counts: Sequence[np.ndarray], sigma_m: float | None,
                    rng: np.random.Generator) -> list[np.ndarray]:
    """Per categorical column, category probabilities from its counts.

    With ``sigma_m`` the counts get Gaussian noise of standard deviation
    ``sigma_m * sqrt(len(counts))`` (see the module docstring), are clipped at 0 and
    normalised; a column whose noisy counts are all 0 gets the uniform distribution over its
    declared categories. ``sigma_m=None`` (only for the non-private benchmark mode) uses the
    exact counts.
    """
    scale = 0.0 if sigma_m is None else float(sigma_m) * math.sqrt(len(counts))
    out = []
    for c in counts:
        noisy = np.asarray(c, dtype=float)
        if scale > 0:
            noisy = noisy + rng.normal(0.0, scale, size=len(noisy))
        noisy = np.clip(noisy, 0.0, None)
        total = noisy.sum()
        out.append(noisy / total if total > 0 else np.full(len(noisy), 1.0 / len(noisy)))
    return out
