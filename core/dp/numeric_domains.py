"""Numeric bounds from a noisy histogram over a public grid: a private quantile.

A numeric column (integer, continuous, datetime as epoch seconds) whose bounds must be released
is counted into a *public* grid of signed logarithmic bins (``BINS_PER_OCTAVE`` bins per power
of two, magnitudes from 2**MIN_EXP to 2**MAX_EXP, one bin around zero) plus one bin for missing
values. The grid is fixed before looking at the data; the noise is added by the joint domain
release (:mod:`privgate.dp.domains`), which counts each record once in every histogram.
Everything here is post-processing of those noisy counts:

1. bins whose noisy count stays below ``threshold`` (chosen so that noise alone lifts no empty
   bin of the ``m`` over it with probability above ``NUMERIC_BETA``) are set to zero -- the
   "approximate bounds" idea of Google's differential-privacy library (``ApproxBounds``); a
   passing bin with no other passing bin nearby must clear a stricter threshold (``ISOLATED_BETA``),
   so that a lone noise-lifted bin far from the data does not stretch the bounds;
2. the lower bound is the lower edge of the bin where the cumulative kept count reaches the
   ``TAIL`` quantile, the upper bound the upper edge of the bin where it reaches ``1 - TAIL``
   (a quantile over the public grid, read off the noisy histogram: values in thinner tails
   are clipped by the generators, as they would be with declared bounds);
3. when no bin passes, the bin with the largest noisy count gives the bounds.

Integers are rounded outwards to whole numbers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from privgate.errors import N_, InputError
from privgate.schema import Column, Kind, epoch_seconds

#: Bins per power of two of the public numeric grid (bin width ratio 2**(1/2) ~ 1.41).
BINS_PER_OCTAVE = 2
#: Magnitudes below 2**MIN_EXP (~0.001) fall into the bin around zero.
MIN_EXP = -10
#: Magnitudes above 2**MAX_EXP (~1.8e19) are clipped into the outermost bins.
MAX_EXP = 64
#: Probability that noise alone lifts some empty bin of a column over the threshold.
NUMERIC_BETA = 0.01
#: The same for a passing bin with no other passing bin within ``NEIGHBOUR_BINS`` bins
#: (see :func:`_occupied`).
ISOLATED_BETA = 1e-6
NEIGHBOUR_BINS = 2 * BINS_PER_OCTAVE
#: Share of the (noisy) values left outside the released bounds on each side, at most.
TAIL = 0.005
#: Bins beyond the outermost kept bin, on each side, that still count when their noisy
#: counts are positive (a factor 2 in magnitude at two bins per octave).
EDGE_BINS = 2


def grid() -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Lower and upper edges of the public numeric bins, in increasing order."""
    mags = 2.0 ** (np.arange(MIN_EXP * BINS_PER_OCTAVE, MAX_EXP * BINS_PER_OCTAVE + 1)
                   / BINS_PER_OCTAVE)
    pos_lo, pos_hi = mags[:-1], mags[1:]
    lo = np.concatenate([-pos_hi[::-1], [-mags[0]], pos_lo])
    hi = np.concatenate([-pos_lo[::-1], [mags[0]], pos_hi])
    return lo, hi


def n_cells() -> int:
    """Cells of a numeric histogram: the grid's bins and the missing-value bin."""
    return len(grid()[0]) + 1


def bin_index(x: NDArray[np.float64]) -> NDArray[np.int64]:
    """The public bin of each finite value (clipped into the outermost bins)."""
    n_side = (MAX_EXP - MIN_EXP) * BINS_PER_OCTAVE
    mag = np.abs(x)
    small = mag < 2.0 ** MIN_EXP
    with np.errstate(divide="ignore"):
        k = np.floor(np.log2(np.where(small, 1.0, mag)) * BINS_PER_OCTAVE) \
            - MIN_EXP * BINS_PER_OCTAVE
    k = np.clip(k, 0, n_side - 1).astype(int)
    idx = np.where(x > 0, n_side + 1 + k, n_side - 1 - k)
    return np.where(small, n_side, idx)


def numeric_values(values: pd.Series, col: Column) -> NDArray[np.float64]:
    """The column as floats (datetimes as epoch seconds; missing as NaN).

    Raises:
        InputError: a value that is not a number (or a date for a datetime column).
    """
    nums = epoch_seconds(values) if col.kind is Kind.DATETIME else pd.to_numeric(
        values, errors="coerce")
    bad = nums.isna() & values.notna()
    if bad.any():
        raise InputError(N_("column %(name)r is declared %(kind)s but %(count)s value(s) are "
                            "not; fix the data or declare the column categorical"),
                         name=col.name, kind=col.kind, count=int(bad.sum()))
    return nums.to_numpy(dtype=float)


def histogram(values: pd.Series, col: Column) -> NDArray[np.float64]:
    """Exact counts per public bin, the missing values last (one count per record)."""
    x = numeric_values(values, col)
    finite = x[np.isfinite(x)]
    counts = np.zeros(n_cells())
    np.add.at(counts, bin_index(finite), 1.0)
    counts[-1] = float(len(x) - len(finite))
    return counts


def threshold(noise_std: float) -> float:
    """The noisy count a bin must reach to count as occupied (see the module docstring)."""
    from scipy.stats import norm

    return float(noise_std * norm.isf(NUMERIC_BETA / n_cells()))


def bounds(noisy: NDArray[np.float64], col: Column, cut: float
           ) -> tuple[tuple[float, float], dict[str, Any]]:
    """The released ``(low, high)`` of ``col`` from its noisy histogram (post-processing)."""
    lo_edges, hi_edges = grid()
    m = len(lo_edges)
    kept = _with_edges(noisy[:m], _occupied(noisy[:m], cut))
    fallback = not kept.any()
    if fallback:
        first = last = int(np.argmax(noisy[:m]))
    else:
        cum = np.cumsum(kept)
        total = float(cum[-1])
        first = int(np.searchsorted(cum, TAIL * total, side="right"))
        last = int(np.searchsorted(cum, (1.0 - TAIL) * total, side="left"))
        first, last = min(first, m - 1), min(max(last, first), m - 1)
    low, high = float(lo_edges[first]), float(hi_edges[last])
    if col.kind is Kind.INTEGER:
        low, high = _integer_range(first, last, lo_edges, hi_edges)
    info = {"mechanism": "Gaussian histogram over public log-scale bins, bounds at the "
                         f"{TAIL:g} and {1 - TAIL:g} quantiles of the occupied bins",
            "threshold": cut, "bins": m + 1, "bins_per_octave": BINS_PER_OCTAVE,
            "fallback_to_largest_bin": fallback}
    return (low, high), info


def _occupied(noisy: NDArray[np.float64], cut: float) -> NDArray[np.float64]:
    """The noisy counts of the bins taken as occupied, the others zero.

    A bin passes at ``cut``; one with no passing neighbour must pass ``cut`` scaled to
    ``ISOLATED_BETA`` as well. Noise alone lifts some empty bin over ``cut`` with probability
    ``NUMERIC_BETA``, and such a bin lies anywhere on the grid: far from the data it would
    move a bound by orders of magnitude (a lower bound of -3.8e8 for N(0, 1) data). Two
    empty bins passing together is far rarer, so a bin with another passing bin at most
    ``NEIGHBOUR_BINS`` bins away (a factor 4 in magnitude) keeps the plain threshold: the thin
    edges of the bulk stay in, a noise-lifted bin there widens a bound at most that factor.
    So does a bin whose neighbours, though each under the threshold, together hold more than
    noise alone would give them (values spread thinly over many bins, as for data around
    zero on the log grid), and a lone cluster of real values well above the noise.
    """
    from scipy.stats import norm

    passing = noisy >= cut
    neighbour = np.zeros_like(passing)
    for d in range(1, NEIGHBOUR_BINS + 1):
        neighbour[d:] |= passing[:-d]
        neighbour[:-d] |= passing[d:]
    z = float(norm.isf(NUMERIC_BETA / len(noisy)))
    sigma = cut / z
    strict = sigma * float(norm.isf(ISOLATED_BETA / len(noisy)))
    window = np.ones(2 * NEIGHBOUR_BINS + 1)
    around = np.convolve(noisy, window, mode="same") - noisy  # noise alone: N(0, 2K sigma^2)
    spread = around >= sigma * math.sqrt(2 * NEIGHBOUR_BINS) * z
    keep = passing & (neighbour | spread | (noisy >= strict))
    return np.where(keep, noisy, 0.0)


def _with_edges(noisy: NDArray[np.float64], kept: NDArray[np.float64]) -> NDArray[np.float64]:
    """``kept`` with up to :data:`EDGE_BINS` further bins on each side, each taken while its
    noisy count is positive and the bins between it and the kept ones were taken."""
    inside = np.nonzero(kept)[0]
    if not len(inside):
        return kept
    out = kept.copy()
    for start, step in ((int(inside[0]), -1), (int(inside[-1]), 1)):
        for d in range(1, EDGE_BINS + 1):
            j = start + step * d
            if not 0 <= j < len(noisy) or noisy[j] <= 0 or kept[j]:
                break
            out[j] = noisy[j]
    return out


def _integer_range(first: int, last: int, lo_edges: NDArray[np.float64],
                   hi_edges: NDArray[np.float64]) -> tuple[float, float]:
    """The smallest integer of bin ``first`` and the largest of bin ``last``.

    Positive bins are ``[lo, hi)``, negative ones ``(lo, hi]``, the zero bin holds only 0 among
    the integers. Bins too narrow to hold an integer (only reachable through noise) fall back to
    rounding the edges outwards.
    """
    zero = (len(lo_edges) - 1) // 2

    def ints(j: int) -> tuple[int, int]:
        if j == zero:
            return 0, 0
        if j > zero:
            return math.ceil(lo_edges[j]), math.ceil(hi_edges[j]) - 1
        return math.floor(lo_edges[j]) + 1, math.floor(hi_edges[j])

    low, high = ints(first)[0], ints(last)[1]
    if low > high:
        low, high = math.floor(lo_edges[first]), math.ceil(hi_edges[last])
    return float(low), float(high)
