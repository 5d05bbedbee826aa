"""Empirical marginals of the ``gaussian-copula`` generator: columns to uniforms and back.

Every modelled column gets an empirical marginal: category frequencies for categorical columns
(the declared categories, plus a "missing" slot when the column is nullable), quantiles of the
observed values for numeric, integer and datetime columns (datetimes as epoch seconds), and a
missing rate for nullable numeric columns. Each cell becomes a uniform ``u`` drawn inside the
cell's step of the empirical CDF (the randomised probability integral transform: it turns
categories and point masses such as ``capital_gain = 0`` into a continuous uniform without
inventing an order finer than the data's). Going back maps a uniform through the column's
inverse empirical CDF, so sampled values are values the column took.

A nullable numeric column's missingness is a binary variable of its own (a ``missing``
marginal); its value's uniform is independent noise on missing rows, which keeps the marginal
uniform and only weakens that column's correlations.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from privgate.encoding import category_indices, numeric_series, to_numeric
from privgate.errors import N_, InputError
from privgate.schema import Column, Kind

#: One marginal: ``column``, ``kind`` (``categorical``, ``numeric`` or ``missing``) and its
#: arrays (``cum``: cumulative frequencies; ``quantiles``; ``missing_rate``).
Marginal = dict[str, Any]


def randomised_pit(codes: np.ndarray, cum: np.ndarray, draws: np.random.Generator
                   ) -> np.ndarray:
    """A uniform inside each code's CDF step ``[cum[code - 1], cum[code])``."""
    lower = np.concatenate([[0.0], cum[:-1]])[codes]
    upper = cum[codes]
    return lower + draws.random(len(codes)) * (upper - lower)


def fit_marginals(data: pd.DataFrame, columns: list[Column], n_quantiles: int,
                  draws: np.random.Generator, owner: str
                  ) -> tuple[list[Marginal], list[np.ndarray]]:
    """Each column's marginal(s) and the uniforms of its cells, in the same order."""
    levels = np.linspace(0.0, 1.0, n_quantiles)
    marginals: list[Marginal] = []
    uniforms: list[np.ndarray] = []
    for col in columns:
        if col.kind is Kind.CATEGORICAL:
            marginal, u = _categorical(data[col.name], col, draws, owner)
            marginals.append(marginal)
            uniforms.append(u)
            continue
        values = to_numeric(data[col.name], col).to_numpy(dtype=float)
        isna = np.isnan(values)
        observed = np.sort(values[~isna])
        if len(observed) == 0:
            raise InputError(N_("%(owner)s: column %(name)r has no non-missing value"),
                             owner=owner, name=col.name)
        # The empirical CDF at each row's value, left and right limits (ties form a step).
        left = np.searchsorted(observed, values[~isna], side="left") / len(observed)
        right = np.searchsorted(observed, values[~isna], side="right") / len(observed)
        u = draws.random(len(values))  # missing rows: independent noise (see module doc)
        u[~isna] = left + u[~isna] * (right - left)
        rate = float(isna.mean()) if col.nullable else 0.0
        marginals.append({"column": col.name, "kind": "numeric", "missing_rate": rate,
                          "quantiles": np.quantile(observed, levels, method="inverted_cdf")})
        uniforms.append(u)
        if col.nullable:
            cum = np.array([1.0 - rate, 1.0])
            uniforms.append(randomised_pit(isna.astype(np.int64), cum, draws))
            marginals.append({"column": col.name, "kind": "missing", "cum": cum})
    return marginals, uniforms


def _categorical(values: pd.Series, col: Column, draws: np.random.Generator, owner: str
                 ) -> tuple[Marginal, np.ndarray]:
    """A categorical column's frequencies (missing as its own slot when nullable) and the
    uniforms of its cells; a value outside the domain gets noise (it carries no signal)."""
    assert col.categories is not None
    idx = category_indices(values, col)
    width = len(col.categories) + (1 if col.nullable else 0)
    known = idx >= 0
    counts = np.bincount(idx[known], minlength=width).astype(float)
    if counts.sum() == 0:
        raise InputError(N_("%(owner)s: column %(name)r holds no value of its declared "
                            "categories"), owner=owner, name=col.name)
    cum = np.cumsum(counts) / counts.sum()
    u = np.empty(len(idx))
    u[known] = randomised_pit(idx[known], cum, draws)
    u[~known] = draws.random(int((~known).sum()))
    return {"column": col.name, "kind": "categorical", "cum": cum}, u


def invert_marginals(u: np.ndarray, marginals: list[Marginal], columns: list[Column]
                     ) -> pd.DataFrame:
    """Uniforms (one matrix column per marginal) back to a table in the schema's domain."""
    by_name = {c.name: c for c in columns}
    data: dict[str, Any] = {}
    missing: dict[str, np.ndarray] = {}
    values: dict[str, np.ndarray] = {}
    for j, m in enumerate(marginals):
        col = by_name[m["column"]]
        if m["kind"] == "categorical":
            assert col.categories is not None
            idx = np.minimum(np.searchsorted(m["cum"], u[:, j], side="right"),
                             len(m["cum"]) - 1)
            cats = list(col.categories) + ([None] if col.nullable else [])
            data[col.name] = pd.Series([cats[i] for i in idx], dtype=object)
        elif m["kind"] == "missing":
            missing[col.name] = u[:, j] >= m["cum"][0]
        else:
            q = m["quantiles"]
            pos = np.clip(np.ceil(u[:, j] * (len(q) - 1)).astype(np.int64), 0, len(q) - 1)
            values[col.name] = q[pos]
    for name, x in values.items():
        col = by_name[name]
        if col.bounds is not None:
            x = np.clip(x, *col.bounds)
        data[name] = numeric_series(x, missing.get(name) if col.nullable else None, col)
    return pd.DataFrame({c.name: data[c.name] for c in columns})
