"""Differentially private estimation of the column domains a schema did not declare.

A generator may encode a column only from its domain (category list, numeric bounds). Declared
domains are public and free. A domain that is missing, or that :func:`privgate.schema.infer_schema`
read off the data (``data_dependent=True``), leaks the data unless it is paid for; here it is
re-estimated under differential privacy, and :class:`privgate.dp.DPTrainer` composes the spend
with training.

Mechanisms (the epsilon given is split evenly over the columns that need a domain; each record
counts once in every column's histogram, so each column's histogram has L1 sensitivity 1 under
adding or removing a record, and the columns compose sequentially):

* Numbers (integer, continuous, datetime as epoch seconds): a Laplace histogram over a *public*
  grid of signed logarithmic bins (``BINS_PER_OCTAVE`` bins per power of two, magnitudes from
  2**MIN_EXP to 2**MAX_EXP, one bin around zero, one bin for missing values). The lower bound is
  the lower edge of the lowest bin whose noisy count exceeds ``ln(m / beta) / eps`` (no empty bin
  of the ``m`` passes with probability above ``beta``), the upper bound the upper edge of the
  highest one: the "approximate bounds" construction of Google's differential-privacy library
  (``ApproxBounds``). Pure epsilon-DP: the bin set is fixed before looking at the data; picking
  bins from noisy counts is post-processing. When no bin passes, the bin with the largest noisy
  count gives the bounds (still post-processing). Integers are rounded outwards. Values outside
  the bounds are clipped by generators, as for declared bounds.
* Categories: Laplace noisy counts of the values that occur, kept when the noisy count reaches
  ``t = 1 + ln(1 / (2 delta_c)) / eps``: the stability-based histogram (Korolova et al. 2009,
  "Releasing search queries and clicks privately"; Vadhan 2017, "The complexity of differential
  privacy", Prop. 3.5; Bun, Nissim & Stemmer 2016). A value held by one record survives with
  probability ``P(1 + Lap(1/eps) >= t) = delta_c``, so the release is (eps, delta_c)-DP; the
  delta is reported in :attr:`DomainSpend.delta` and composed too. If no value survives, the
  column cannot be released (an argmax over data-dependent values would not be private):
  :class:`~privgate.errors.BudgetError`.
* Missing values: for a column whose domain was read off the data, whether it is nullable is
  also data; it is decided by the same histogram (a public "missing" bin, threshold as above).
  A declared ``nullable`` is kept.

Why hand-written: opacus has no DP quantiles or histograms; the libraries that do (OpenDP,
Tumult, PyDP) would add a heavy runtime dependency for two small Laplace mechanisms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from privgate.dp.mechanisms import laplace_counts
from privgate.encoding import category_key
from privgate.errors import BudgetError, InputError
from privgate.schema import NUMERIC_KINDS, Column, Kind, Schema, epoch_seconds

#: Bins per power of two of the public numeric grid (bin width ratio 2**(1/2) ~ 1.41).
BINS_PER_OCTAVE = 2
#: Magnitudes below 2**MIN_EXP (~0.001) fall into the bin around zero.
MIN_EXP = -10
#: Magnitudes above 2**MAX_EXP (~1.8e19) are clipped into the outermost bins.
MAX_EXP = 64
#: Probability that noise alone lifts some empty numeric bin over the threshold.
NUMERIC_BETA = 0.01
#: Default total delta for released category lists (split over the categorical columns).
DEFAULT_DOMAIN_DELTA = 1e-9


@dataclass(frozen=True)
class DomainSpend:
    """What DP domain estimation spent.

    Attributes:
        epsilon: 0.0 when nothing was estimated.
        columns: the columns whose domain was estimated under DP.
        details: per column the mechanism, its epsilon, threshold and outcome; plus the rule.
        delta: the delta of the stability-based category histograms (0.0 without them).
    """

    epsilon: float
    columns: tuple[str, ...]
    details: dict[str, Any] = field(default_factory=dict)
    delta: float = 0.0


def needs_domain(column: Column) -> bool:
    """Whether ``column`` must have its domain estimated under DP before training."""
    return not column.is_dropped and (column.data_dependent or not column.has_public_domain)


def privatize_domains(data: pd.DataFrame, schema: Schema, *, epsilon: float,
                      rng: np.random.Generator, delta: float = DEFAULT_DOMAIN_DELTA
                      ) -> tuple[Schema, DomainSpend]:
    """A schema in which every modelled column has a domain that is public or DP-protected.

    Declared (not data-dependent) domains are kept unchanged and cost nothing. Each other
    modelled column gets its domain estimated with ``epsilon / k`` (``k`` such columns), see
    the module docstring; the result is marked ``data_dependent=False`` (it is DP-protected).

    ``epsilon`` is for all estimated domains together, ``delta`` for all category lists
    (split over the categorical columns); ``rng`` is the noise source.

    Raises:
        BudgetError: a domain is needed but ``epsilon`` is 0 (or not finite / negative), or no
            category of a column is frequent enough to be released.
        InputError: a needed column is absent from ``data`` or holds non-numeric values where
            a number is declared.
    """
    if not (epsilon >= 0 and math.isfinite(epsilon)):
        raise BudgetError(f"domain epsilon must be finite and >= 0, got {epsilon!r}")
    if not (0 < delta < 1):
        raise BudgetError(f"domain delta must be in (0, 1), got {delta!r}")
    todo = [c for c in schema.modelled if needs_domain(c)]
    if not todo:
        return schema, DomainSpend(0.0, (), {"rule": "every domain is declared; nothing spent"})
    names = [c.name for c in todo]
    if epsilon == 0:
        raise BudgetError(f"column(s) {names} have no declared domain (or one read off the "
                          "data) and the domain share of epsilon is 0; declare their "
                          "categories/bounds in the schema or set a domain share > 0")
    missing = [n for n in names if n not in data.columns]
    if missing:
        raise InputError(f"DP domain estimation: column(s) {missing} are not in the data")
    if len(data) == 0:
        raise InputError("DP domain estimation: the data has no rows")
    eps_col = float(epsilon) / len(todo)
    n_cat = sum(1 for c in todo if c.kind is Kind.CATEGORICAL)
    delta_col = float(delta) / n_cat if n_cat else 0.0
    if n_cat:
        # Decided from the row count alone (public, as in DP-SGD's sample rate), before any
        # mechanism touches the data, so a refusal here spends nothing.
        threshold = 1.0 + math.log(1.0 / (2.0 * delta_col)) / eps_col
        if len(data) < threshold:
            cats = [c.name for c in todo if c.kind is Kind.CATEGORICAL]
            raise BudgetError(
                f"column(s) {cats}: to be released under epsilon={eps_col:.3g} per column a "
                f"category must be held by about {threshold:.0f} rows, and the table has only "
                f"{len(data):,}; declare their categories in the schema (free), raise epsilon "
                "or the generator's domain_share")
    per_column: dict[str, Any] = {}
    out = schema
    for i, col in enumerate(todo):
        if col.kind is Kind.CATEGORICAL:
            try:
                new, info = _categories(data[col.name], col, eps_col, delta_col, rng)
            except BudgetError as exc:
                # the histograms of this and the earlier columns already ran on the data:
                # the privacy ledger keeps what they spent (nothing else trained)
                exc.spent_epsilon = eps_col * (i + 1)
                raise
        elif col.kind in NUMERIC_KINDS:
            new, info = _bounds(data[col.name], col, eps_col, rng)
        else:  # pragma: no cover - identifiers are dropped, every other kind is handled above
            raise InputError(f"column {col.name!r}: kind {col.kind} has no domain to estimate")
        info["was_data_dependent"] = col.data_dependent
        per_column[col.name] = info
        out = out.replace_column(new)
    spend = DomainSpend(
        epsilon=float(epsilon), columns=tuple(names), delta=float(delta) if n_cat else 0.0,
        details={
            "rule": "epsilon split evenly over the columns; basic composition; estimated "
                    "domains are marked data_dependent=False (DP-protected)",
            "epsilon_per_column": eps_col,
            "delta_per_categorical_column": delta_col,
            "columns": per_column,
        })
    return out, spend


def _nullable(col: Column, noisy_missing: float, threshold: float) -> bool:
    """Declared nullability is public; a data-dependent one is re-decided from the noisy bin."""
    if not col.data_dependent:
        return col.nullable
    return bool(noisy_missing >= threshold)


def _categories(values: pd.Series, col: Column, eps: float, delta: float,
                rng: np.random.Generator) -> tuple[Column, dict[str, Any]]:
    threshold = 1.0 + math.log(1.0 / (2.0 * delta)) / eps
    present = values.dropna()
    if pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
        present = present.astype(str)  # infer_schema keeps text categories as str
    counts = present.value_counts(sort=False)
    # Sort before adding noise so that the noise a value gets does not depend on row order.
    keys = sorted(counts.index.tolist(), key=str)
    raw = np.array([counts[k] for k in keys] + [int(values.isna().sum())], dtype=float)
    noisy = laplace_counts(raw, eps, rng)
    kept = tuple(k.item() if isinstance(k, np.generic) else k
                 for k, v in zip(keys, noisy[:-1], strict=True) if v >= threshold)
    if not kept:
        raise BudgetError(f"column {col.name!r}: no category is frequent enough to be released "
                          f"under epsilon={eps:.3g} (threshold {threshold:.0f} rows); declare "
                          f"schema.columns.{col.name}.categories or raise the domain share")
    nullable = _nullable(col, float(noisy[-1]), threshold)
    info = {"mechanism": "stability-based Laplace histogram", "epsilon": eps, "delta": delta,
            "threshold": threshold, "released": len(kept)}
    return replace(col, categories=kept, nullable=nullable, data_dependent=False), info


def _grid() -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Lower and upper edges of the public numeric bins, in increasing order."""
    mags = 2.0 ** (np.arange(MIN_EXP * BINS_PER_OCTAVE, MAX_EXP * BINS_PER_OCTAVE + 1)
                   / BINS_PER_OCTAVE)
    pos_lo, pos_hi = mags[:-1], mags[1:]
    lo = np.concatenate([-pos_hi[::-1], [-mags[0]], pos_lo])
    hi = np.concatenate([-pos_lo[::-1], [mags[0]], pos_hi])
    return lo, hi


def _bin_index(x: NDArray[np.float64]) -> NDArray[np.int64]:
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


def _integer_range(first: int, last: int, lo_edges: NDArray[np.float64],
                   hi_edges: NDArray[np.float64]
                   ) -> tuple[float, float]:
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


def _bounds(values: pd.Series, col: Column, eps: float,
            rng: np.random.Generator) -> tuple[Column, dict[str, Any]]:
    if col.kind is Kind.DATETIME:
        nums = epoch_seconds(values)
        bad = nums.isna() & values.notna()
    else:
        nums = pd.to_numeric(values, errors="coerce")
        bad = nums.isna() & values.notna()
    if bad.any():
        raise InputError(f"column {col.name!r} is declared {col.kind} but {int(bad.sum())} "
                         "value(s) are not; fix the data or declare the column categorical")
    x = nums.to_numpy(dtype=float)
    finite = x[np.isfinite(x)]
    lo_edges, hi_edges = _grid()
    m = len(lo_edges)
    raw = np.zeros(m + 1)
    np.add.at(raw, _bin_index(finite), 1.0)
    raw[m] = float(len(x) - len(finite))  # missing values: one more public bin
    noisy = laplace_counts(raw, eps, rng)
    threshold = math.log((m + 1) / NUMERIC_BETA) / eps
    passing = np.flatnonzero(noisy[:m] >= threshold)
    fallback = len(passing) == 0
    if fallback:
        passing = np.array([int(np.argmax(noisy[:m]))])
    low, high = float(lo_edges[passing[0]]), float(hi_edges[passing[-1]])
    if col.kind is Kind.INTEGER:
        low, high = _integer_range(int(passing[0]), int(passing[-1]), lo_edges, hi_edges)
    nullable = _nullable(col, float(noisy[m]), threshold)
    info = {"mechanism": "Laplace histogram over public log-scale bins (approximate bounds)",
            "epsilon": eps, "threshold": threshold, "bins": m + 1,
            "bins_per_octave": BINS_PER_OCTAVE, "fallback_to_largest_bin": fallback}
    return (replace(col, bounds=(low, high), nullable=nullable, data_dependent=False), info)


def restrict_to_domains(data: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Drop the rows whose category is outside a column's (DP-released) list, or missing in a
    column that is not nullable, so that the rows conform to ``schema``.

    Whether a row is kept depends only on that row and on the already released domain, so
    training on the remaining rows stays within the training budget (a per-record filter is a
    stable transformation). Numbers outside bounds are left for the generator to clip, as with
    declared bounds. The index is reset.
    """
    keep = np.ones(len(data), dtype=bool)
    for col in schema.modelled:
        if col.name not in data.columns:
            raise InputError(f"column {col.name!r} of the schema is not in the data")
        s = data[col.name]
        missing = s.isna().to_numpy()
        if col.kind is Kind.CATEGORICAL and col.categories is not None:
            allowed = {category_key(c) for c in col.categories}
            ok = s.map(lambda v, a=allowed: not pd.isna(v) and category_key(v) in a
                       ).to_numpy(dtype=bool)
            keep &= ok | (missing & col.nullable)
        elif not col.nullable:
            keep &= ~missing
    return data.loc[keep].reset_index(drop=True)
