"""Differentially private release of the column domains a schema did not declare.

A generator may encode a column only from its domain (category list, numeric bounds). Declared
domains are public and free. A domain that is missing, or that :func:`privgate.schema.infer_schema`
read off the data (``data_dependent=True``), leaks the data unless it is paid for; here all of
them are released together by one Gaussian mechanism, which :class:`privgate.dp.DPTrainer`
composes with training in opacus' accountant.

The mechanism. Every column that needs a domain gets one histogram: a categorical column the
counts of the values that occur plus a "missing" cell; a numeric column the counts over a public
grid plus a "missing" cell (:mod:`privgate.dp.numeric_domains`). One record adds one to one cell
of each of the ``k`` histograms, so the vector of all counts has L2 sensitivity ``sqrt(k)``
under adding or removing a record; Gaussian noise of standard deviation ``sigma * sqrt(k)`` on
every cell is the Gaussian mechanism with noise multiplier ``sigma``: one step of DP-SGD at
sample rate 1, the accountant entry ``(sigma, 1.0, 1)``. Its cost therefore grows like
``sqrt(k)`` in the noise (zCDP / Renyi composition of the columns), not like ``k`` as with a
per-column split of epsilon.

Categories (stability-based selection; Korolova et al. 2009, Wilson et al. 2020 "Differentially
private SQL with bounded user contribution" for the Gaussian version): a value is released when
its noisy count reaches ``t = 1 + sigma * sqrt(k) * z(delta_c)``, ``z`` the standard normal
upper quantile. A value held by one record only is released with probability at most
``delta_c`` (**the delta per category**). A record can hold a value nobody else holds in each of
the ``k_cat`` categorical columns, so the event "some such value is released" has probability at
most ``k_cat * delta_c``; outside it the output is the Gaussian mechanism on the cells both
neighbouring tables hold, composed with training by the accountant. A total-variation argument
then gives ``(epsilon, delta_train + e**epsilon * k_cat * delta_c)``. The domain delta is
``DOMAIN_DELTA_SHARE`` of the budget's delta, and ``delta_c = domain delta / (k_cat *
e**epsilon)``; both are reported.

Missing values: for a column whose domain was read off the data, whether it is nullable is data
too: its public "missing" cell must pass the column's threshold. A declared ``nullable`` is kept.

After the release, :func:`conform_to_domains` maps each row into the released domain by a rule
that looks at that row only (plus the released counts and public randomness): a categorical
value outside the released list is replaced by a released category drawn from the released
counts, a missing value in a column released as not nullable likewise (numbers: the row is
dropped). Neighbouring tables stay neighbours, so training's guarantee holds on the result.

Why hand-written: opacus has no DP histograms or quantiles; the libraries that do (OpenDP,
Tumult, PyDP) would add a heavy runtime dependency for one Gaussian histogram.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from privgate.dp import numeric_domains as numeric
from privgate.dp.mechanisms import gaussian_histograms
from privgate.encoding import category_key
from privgate.errors import N_, BudgetError, InputError
from privgate.schema import NUMERIC_KINDS, Column, Kind, Schema

#: Share of the budget's delta given to the category thresholds.
DOMAIN_DELTA_SHARE = 0.01


@dataclass(frozen=True)
class DomainSpend:
    """What the DP domain release spent.

    Attributes:
        noise_multiplier: sigma of the joint Gaussian release (``None``: nothing released).
        columns: the columns whose domain was released under DP.
        details: the rule, the noise, thresholds and per column what was released.
        delta: the delta of the category thresholds (0.0 without categorical columns).
        weights: per categorical column the noisy counts of its released categories (DP
            output: used to map values outside the released list).
    """

    noise_multiplier: float | None
    columns: tuple[str, ...]
    details: dict[str, Any] = field(default_factory=dict)
    delta: float = 0.0
    weights: dict[str, tuple[float, ...]] = field(default_factory=dict, compare=False,
                                                  repr=False)

    @property
    def history(self) -> tuple[tuple[float, float, int], ...]:
        """The release as opacus' accountants keep it: ``((sigma, 1.0, 1),)`` or ``()``."""
        return () if self.noise_multiplier is None else ((self.noise_multiplier, 1.0, 1),)


class NotReleasable(BudgetError):
    """No category of a column passed the threshold: the release ran, so its cost stands
    (:func:`privgate.dp.budget.prepare` sets ``spent_epsilon``)."""


NOTHING_RELEASED = DomainSpend(None, (), {"rule": "every domain is declared; nothing spent"})


def needs_domain(column: Column) -> bool:
    """Whether ``column`` must have its domain released under DP before training."""
    return not column.is_dropped and (column.data_dependent or not column.has_public_domain)


def category_threshold(noise_std: float, n_categorical: int, delta: float, epsilon: float
                       ) -> tuple[float, float]:
    """``(threshold, delta per category)`` for ``n_categorical`` columns sharing ``delta`` at
    a total ``epsilon`` (see the module docstring)."""
    from scipy.stats import norm

    per_category = float(delta) / (max(n_categorical, 1) * math.exp(epsilon))
    return 1.0 + noise_std * float(norm.isf(per_category)), per_category


def _check(data: pd.DataFrame, todo: list[Column], noise_multiplier: float, delta: float,
           epsilon: float) -> None:
    if not (noise_multiplier > 0 and math.isfinite(noise_multiplier)):
        raise BudgetError(N_("the domain release needs a positive finite noise multiplier, got "
                             "%(noise_multiplier)r"), noise_multiplier=noise_multiplier)
    if any(c.kind is Kind.CATEGORICAL for c in todo) and not (0 < delta < 1):
        raise BudgetError(N_("the category thresholds need a delta in (0, 1), got %(delta)r"),
                          delta=delta)
    if not (epsilon > 0 and math.isfinite(epsilon)):
        raise BudgetError(N_("the fit's epsilon must be positive and finite, got %(epsilon)r"),
                          epsilon=epsilon)
    missing = [c.name for c in todo if c.name not in data.columns]
    if missing:
        raise InputError(N_("DP domain estimation: column(s) %(missing)s are not in the data"),
                         missing=missing)
    if len(data) == 0:
        raise InputError(N_("DP domain estimation: the data has no rows"))


def privatize_domains(data: pd.DataFrame, schema: Schema, *, noise_multiplier: float,
                      delta: float, epsilon: float, rng: np.random.Generator
                      ) -> tuple[Schema, DomainSpend]:
    """A schema in which every modelled column has a domain that is public or DP-protected.

    Declared (not data-dependent) domains are kept unchanged and cost nothing. The others are
    released together (module docstring) with noise multiplier ``noise_multiplier``; the
    result is marked ``data_dependent=False`` (it is DP-protected). ``delta`` is for all
    category lists together, ``epsilon`` the fit's total (for the threshold); ``rng`` is the
    noise source.

    Raises:
        BudgetError: the table is too small for any category to pass the threshold (decided
            from the row count, before any noise is drawn), or no category of a column
            passed (:class:`NotReleasable`: the release did run).
        InputError: a needed column is absent from ``data`` or holds non-numeric values where
            a number is declared.
    """
    todo = [c for c in schema.modelled if needs_domain(c)]
    if not todo:
        return schema, NOTHING_RELEASED
    _check(data, todo, noise_multiplier, delta, epsilon)
    cats = [c.name for c in todo if c.kind is Kind.CATEGORICAL]
    std = float(noise_multiplier) * math.sqrt(len(todo))
    cut_cat, delta_c = category_threshold(std, len(cats), delta, epsilon)
    if cats and len(data) < cut_cat:
        # Decided from the row count alone (public, as in DP-SGD's sample rate), before any
        # mechanism touches the data, so a refusal here spends nothing.
        raise BudgetError(N_("column(s) %(cats)s: to be released with the noise the domain "
                             "share allows (noise standard deviation %(std)s rows) a category "
                             "must be held by about %(cut_cat)s rows, and the table has only "
                             "%(n_data)s; declare their categories in the schema (free; "
                             "privgate schema draft writes one), raise epsilon or the "
                             "generator's domain_share"),
                          cats=cats, std=f"{std:.3g}", cut_cat=f"{cut_cat:.0f}",
                          n_data=f"{len(data):,}")
    cut_num = numeric.threshold(std)
    keys, counts = zip(*(_histogram(data[c.name], c) for c in todo), strict=True)
    noisy = gaussian_histograms(list(counts), float(noise_multiplier), rng)
    per_column: dict[str, Any] = {}
    weights: dict[str, tuple[float, ...]] = {}
    out = schema
    for col, values, cells in zip(todo, keys, noisy, strict=True):
        if col.kind is Kind.CATEGORICAL:
            new, info, kept_counts = _categories(col, values, cells, cut_cat)
            weights[col.name] = kept_counts
        else:
            (low, high), info = numeric.bounds(cells, col, cut_num)
            new = replace(col, bounds=(low, high),
                          nullable=_nullable(col, float(cells[-1]), cut_num),
                          data_dependent=False)
        info["was_data_dependent"] = col.data_dependent
        per_column[col.name] = info
        out = out.replace_column(new)
    spend = DomainSpend(
        noise_multiplier=float(noise_multiplier), columns=tuple(c.name for c in todo),
        delta=float(delta) if cats else 0.0, weights=weights,
        details={
            "rule": "one Gaussian mechanism for every released domain (L2 sensitivity "
                    "sqrt(columns)), composed with training by the accountant; categories "
                    "by a stability threshold, numeric bounds by quantiles of a noisy "
                    "histogram over a public grid; released domains are marked "
                    "data_dependent=False (DP-protected)",
            "noise_multiplier": float(noise_multiplier), "noise_std": std,
            "category_threshold": cut_cat if cats else None,
            "delta_per_category": delta_c if cats else None,
            "columns": per_column,
        })
    return out, spend


def _histogram(values: pd.Series, col: Column) -> tuple[list[Any], NDArray[np.float64]]:
    """The cells of ``col`` (sorted values, so the noise a cell gets does not depend on row
    order; numbers: the public grid) and their exact counts, the missing cell last."""
    if col.kind in NUMERIC_KINDS:
        return [], numeric.histogram(values, col)
    if col.kind is not Kind.CATEGORICAL:  # pragma: no cover - identifiers are dropped
        raise InputError(N_("column %(name)r: kind %(kind)s has no domain to estimate"),
                         name=col.name, kind=col.kind)
    present = values.dropna()
    if pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
        present = present.astype(str)  # infer_schema keeps text categories as str
    counts = present.value_counts(sort=False)
    keys = sorted(counts.index.tolist(), key=str)
    raw = np.array([counts[k] for k in keys] + [int(values.isna().sum())], dtype=float)
    return keys, raw


def _nullable(col: Column, noisy_missing: float, cut: float) -> bool:
    """Declared nullability is public; a data-dependent one is re-decided from the noisy cell."""
    if not col.data_dependent:
        return col.nullable
    return bool(noisy_missing >= cut)


def _categories(col: Column, keys: list[Any], noisy: NDArray[np.float64], cut: float
                ) -> tuple[Column, dict[str, Any], tuple[float, ...]]:
    """The released category list (values whose noisy count reaches ``cut``)."""
    passing = [(k.item() if isinstance(k, np.generic) else k, float(v))
               for k, v in zip(keys, noisy[:-1], strict=True) if v >= cut]
    if not passing:
        raise NotReleasable(N_("column %(name)r: no category is frequent enough to be released "
                               "(a category needs about %(cut)s rows at this noise); declare "
                               "schema.columns.%(name)s.categories (privgate schema draft "
                               "writes them) or raise the domain share"),
                            name=col.name, cut=f"{cut:.0f}")
    info = {"mechanism": "stability-based Gaussian histogram", "threshold": cut,
            "released": len(passing)}
    new = replace(col, categories=tuple(k for k, _ in passing),
                  nullable=_nullable(col, float(noisy[-1]), cut), data_dependent=False)
    return new, info, tuple(v for _, v in passing)


def conform_to_domains(data: pd.DataFrame, schema: Schema, weights: dict[str, tuple[float, ...]],
                       rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, int]]:
    """``data`` mapped into ``schema``'s domains, and per column how many cells were mapped.

    In a column with released ``weights``, a value outside its category list (or missing
    where the column is not nullable) is replaced by a released category drawn with
    probability proportional to its noisy count; in other columns such a row is dropped, as is
    a missing number in a column that is not nullable. The draw is a hash of the row's own
    values and a salt from ``rng`` (data-independent), so each row's fate depends on that row
    and the released domains only, whatever the other rows and their order: adding a record
    adds one row to the result (a stable transformation, training on the result stays within
    the training budget). Numbers outside bounds are left for the generator to clip, as with
    declared bounds. The index is reset.
    """
    out = data.copy()
    keep = np.ones(len(data), dtype=bool)
    mapped: dict[str, int] = {}
    names = [c.name for c in schema.modelled if c.name in data.columns]
    for col in schema.modelled:
        if col.name not in data.columns:
            raise InputError(N_("column %(name)r of the schema is not in the data"), name=col.name)
        s = data[col.name]
        missing = s.isna().to_numpy()
        if col.kind is Kind.CATEGORICAL and col.categories is not None:
            allowed = {category_key(c) for c in col.categories}
            ok = s.map(lambda v, a=allowed: not pd.isna(v) and category_key(v) in a
                       ).to_numpy(dtype=bool) | (missing & col.nullable)
            if col.name in weights and not ok.all():
                draws = _row_draws(data.loc[~ok, names], int(rng.integers(2**62)),
                                   weights[col.name])
                values = out[col.name].to_numpy(dtype=object, copy=True)
                values[~ok] = np.array(col.categories, dtype=object)[draws]
                out[col.name] = pd.Series(values, index=out.index).infer_objects()
                mapped[col.name] = int((~ok).sum())
            elif col.name not in weights:
                keep &= ok
        elif not col.nullable:
            keep &= ~missing
    return out.loc[keep].reset_index(drop=True), mapped


def _row_draws(rows: pd.DataFrame, salt: int, weights: tuple[float, ...]) -> NDArray[np.int64]:
    """For each row an index into ``weights``, drawn with probability proportional to them
    from a uniform number that hashes the row's values with ``salt`` (deterministic per row)."""
    salted = rows.astype(object).assign(**{"\x00salt": salt})
    h = pd.util.hash_pandas_object(salted, index=False).to_numpy(dtype=np.uint64)
    u = (h >> np.uint64(11)).astype(np.float64) / float(2**53)
    p = np.clip(np.asarray(weights, dtype=float), 1e-12, None)
    cum = np.cumsum(p / p.sum())
    return np.minimum(np.searchsorted(cum, u, side="right"), len(p) - 1).astype(np.int64)
