"""Privacy accounting with opacus' accountants: noise calibration and the epsilon of a history.

Every figure comes from opacus (RDP, or PRV, the numerical privacy-random-variable accountant
of Gopi et al. 2021). A *history* is what opacus' accountants keep: a list of
``(noise multiplier, sample rate, steps)`` entries, each a Poisson-subsampled Gaussian
mechanism run ``steps`` times. DP-SGD is one entry; a Gaussian histogram released once over the
whole table is ``(sigma, 1.0, 1)``; the accountant composes the entries tightly.
"""

from __future__ import annotations

import math
import operator
import warnings
from collections.abc import Sequence

import numpy as np

from privgate.errors import N_, BudgetError

#: The accountants a DP generator may choose (opacus' names).
ACCOUNTANTS: tuple[str, ...] = ("rdp", "prv")

#: ``(noise multiplier, sample rate, steps)`` entries, as opacus' accountants keep them.
History = Sequence[tuple[float, float, int]]


def check_accountant(accountant: str) -> str:
    """``accountant`` if opacus knows it, else a :class:`BudgetError`."""
    if accountant not in ACCOUNTANTS:
        raise BudgetError(N_("accountant %(accountant)r is not one of %(accountants)s"),
                          accountant=accountant, accountants=list(ACCOUNTANTS))
    return accountant


def _check(sample_rate: float, steps: int, delta: float, accountant: str) -> None:
    check_accountant(accountant)
    if not (0 < sample_rate <= 1):
        raise BudgetError(N_("sample rate must be in (0, 1], got %(sample_rate)r"),
                          sample_rate=sample_rate)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise BudgetError(N_("steps must be a positive integer, got %(steps)r"), steps=steps)
    if not (0 < delta < 1):
        raise BudgetError(N_("DP-SGD needs (epsilon, delta)-DP with 0 < delta < 1, got "
                             "delta=%(delta)r"), delta=delta)


def noise_multiplier_for(epsilon: float, delta: float, sample_rate: float, steps: int,
                         accountant: str, *, prior: History = ()) -> float:
    """The noise multiplier sigma at which ``steps`` Poisson-subsampled Gaussian steps spend
    at most ``epsilon`` (at ``delta``) according to ``accountant``, composed with the
    mechanisms of ``prior`` (e.g. the Gaussian domain release) when given.

    Opacus' binary search returns the upper end of its bracket, so the accountant's epsilon at
    the returned sigma is never above ``epsilon``; its tolerance is narrowed to 0.5% of
    epsilon (opacus' default is an absolute 0.01, too coarse for small budgets). With a
    ``prior`` (opacus calibrates one mechanism only) a geometric bisection from opacus' sigma
    continues to 0.1% of sigma, again keeping the end that fits.

    Raises:
        BudgetError: bad arguments, or the budget is too small for any sigma below 1e6.
    """
    _check(sample_rate, steps, delta, accountant)
    if not (epsilon > 0 and math.isfinite(epsilon)):
        raise BudgetError(N_("epsilon must be a positive finite number, got %(epsilon)r"),
                          epsilon=epsilon)
    from opacus.accountants.utils import get_noise_multiplier

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Oo]ptimal order.*")
            sigma = get_noise_multiplier(target_epsilon=epsilon, target_delta=delta,
                                         sample_rate=sample_rate, steps=steps,
                                         accountant=accountant,
                                         epsilon_tolerance=min(0.01, 0.005 * epsilon))
    except ValueError as exc:
        raise BudgetError(N_("opacus cannot calibrate noise for epsilon=%(epsilon)s, "
                             "delta=%(delta)s, sample rate=%(sample_rate)s, steps=%(steps)s "
                             "(%(accountant)s): %(exc)s; raise epsilon or train fewer steps"),
                          epsilon=epsilon, delta=delta, sample_rate=sample_rate, steps=steps,
                          accountant=accountant, exc=exc) from None
    if not prior:
        return float(sigma)
    return _with_prior(float(sigma), epsilon, delta, sample_rate, steps, accountant, prior)


def _with_prior(sigma: float, epsilon: float, delta: float, sample_rate: float, steps: int,
                accountant: str, prior: History) -> float:
    """The smallest sigma (to 0.1%) at which ``prior`` and the DP-SGD steps fit ``epsilon``;
    ``sigma`` (what fits ``epsilon`` alone) is a lower bound."""
    def fits(s: float) -> bool:
        return history_epsilon([*prior, (s, sample_rate, steps)], delta, accountant) <= epsilon

    low, high = sigma, sigma
    while not fits(high):
        low, high = high, high * 1.25
        if high > 1e6:
            raise BudgetError(N_("the releases before training (%(prior)s) leave no room in "
                                 "epsilon=%(epsilon)s for DP-SGD; raise epsilon or lower the "
                                 "share spent on them"), prior=list(prior), epsilon=epsilon)
    while high / low > 1.001:
        mid = math.sqrt(low * high)
        if fits(mid):
            high = mid
        else:
            low = mid
    return high


def history_epsilon(history: History, delta: float, accountant: str) -> float:
    """The epsilon (at ``delta``) opacus' ``accountant`` charges for the mechanisms of
    ``history`` composed; for PRV its guaranteed upper bound (estimate + error bar).

    Raises:
        BudgetError: an empty history, an entry out of range, or an unknown accountant.
    """
    if not history:
        raise BudgetError(N_("an empty accountant history spends nothing and proves nothing"))
    entries = []
    for sigma, q, raw_steps in history:
        try:
            steps = operator.index(raw_steps)
        except TypeError:
            raise BudgetError(N_("steps must be a positive integer, got %(raw_steps)r"),
                              raw_steps=raw_steps) from None
        _check(float(q), steps, delta, accountant)
        if not (float(sigma) > 0 and math.isfinite(float(sigma))):
            raise BudgetError(N_("noise multiplier must be a positive finite number, got "
                                 "%(sigma)r"), sigma=sigma)
        entries.append((float(sigma), float(q), int(steps)))
    from opacus.accountants import PRVAccountant, RDPAccountant

    acc = RDPAccountant() if accountant == "rdp" else PRVAccountant()
    acc.history = entries
    with warnings.catch_warnings(), np.errstate(divide="ignore"):
        # PRV takes log(1 - q), -inf for a release over the whole table (q = 1): harmless
        warnings.filterwarnings("ignore", message=".*[Oo]ptimal order.*")
        return float(acc.get_epsilon(delta=delta))


def spent_epsilon(noise_multiplier: float, sample_rate: float, steps: int, delta: float,
                  accountant: str) -> float:
    """The epsilon (at ``delta``) that ``accountant`` charges for ``steps`` DP-SGD steps."""
    return history_epsilon([(noise_multiplier, sample_rate, steps)], delta, accountant)


def calibrate_with_release(epsilon: float, delta: float, sample_rate: float, steps: int,
                           accountant: str, *, share: float, prior: History = ()
                           ) -> tuple[float, float]:
    """``(sigma for DP-SGD, sigma_r for one Gaussian release)`` that fit ``epsilon`` together
    (with the mechanisms of ``prior``, when given).

    DP-SGD's sigma is the one opacus gives for ``(1 - share) * epsilon`` (with ``prior``);
    ``sigma_r`` (an entry ``(sigma_r, 1.0, 1)`` in the history) is then the smallest noise,
    found by geometric bisection to ~1%, at which the composition still fits ``epsilon``. So
    training runs as if it had ``(1 - share) * epsilon`` and the release uses the accountant's
    headroom. Hand-written because opacus' ``get_noise_multiplier`` calibrates a single
    mechanism only.

    Raises:
        BudgetError: ``share`` outside (0, 1), or the budget is too small for DP-SGD at
            ``(1 - share) * epsilon``.
    """
    if not 0 < share < 1:
        raise BudgetError(N_("a release's share of epsilon must be in (0, 1), got %(share)r"),
                          share=share)
    sigma = noise_multiplier_for((1.0 - share) * epsilon, delta, sample_rate, steps,
                                 accountant, prior=prior)

    def fits(sigma_r: float) -> bool:
        return history_epsilon([*prior, (sigma_r, 1.0, 1), (sigma, sample_rate, steps)],
                               delta, accountant) <= epsilon

    low, high = 0.05, 1.0
    while not fits(high):
        high *= 4.0
        if high > 1e6:  # cannot happen: sigma alone fits (1 - share) * epsilon < epsilon
            raise BudgetError(N_("cannot fit a Gaussian release into epsilon=%(epsilon)s"),
                              epsilon=epsilon)
    if fits(low):
        return sigma, low
    for _ in range(30):
        if high / low < 1.01:
            break
        mid = math.sqrt(low * high)
        if fits(mid):
            high = mid
        else:
            low = mid
    return sigma, high  # the upper end always fits
