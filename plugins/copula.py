"""``gaussian-copula``: a non-private baseline -- empirical marginals joined by a Gaussian copula.

Fit (on the raw training rows; nothing is noised, epsilon is infinite):

* every modelled column gets an empirical marginal: category frequencies for categorical columns
  (the declared categories, plus a "missing" slot when the column is nullable), quantiles of the
  observed values for numeric, integer and datetime columns (datetimes as epoch seconds), and a
  missing rate for nullable numeric columns;
* each cell becomes a normal score ``z = Phi^-1(u)``, with ``u`` drawn uniformly inside the
  cell's step of the empirical CDF (the randomised probability integral transform: it turns
  categories and point masses such as ``capital_gain = 0`` into a continuous uniform without
  inventing an order finer than the data's);
* the copula is the correlation matrix of the normal scores (projected onto the positive
  definite matrices).

Sampling draws ``z ~ N(0, R)`` and maps each ``Phi(z)`` back through the column's inverse
empirical CDF, so sampled values are values the column took (point masses and integers come
back exactly). A nullable numeric column's missingness is a binary variable of the copula
(correlated with the rest); its value's normal score is imputed with independent noise on
missing rows, which keeps the marginal N(0, 1) and only weakens that column's correlations.

Why not the ``copulas`` package (SDV): its GaussianMultivariate fits a parametric family per
column (beta, truncated normal, ...) by maximum likelihood, which is slow on 40k rows and cannot
reproduce the point masses and integer spikes of real tables; it handles neither categories nor
missing values (SDV wraps it with its own transformers) and would add plotly and its pins. The
empirical-marginal copula above is a few numpy/scipy lines and is the stronger baseline.

Conditions on categorical columns go through :func:`privgate.generator.sample_by_rejection`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from privgate import hookimpl, params
from privgate.encoding import category_indices, numeric_series, to_numeric
from privgate.errors import InputError
from privgate.generator import (
    NOT_PRIVATE,
    Generator,
    PrivacyBudget,
    PrivacySpent,
    check_conditions,
    sample_by_rejection,
)
from privgate.schema import Column, Kind, Schema

#: Constructor parameters and their defaults.
DEFAULTS: dict[str, Any] = {
    "n_quantiles": 2001,
}
OWNER = "generator 'gaussian-copula'"
#: Keeps uniforms off 0 and 1, where the normal quantile is infinite.
_EPS = 1e-6


def _check_params(given: Mapping[str, Any]) -> dict[str, Any]:
    """Validate constructor parameters; the message names the parameter and what is allowed."""
    p = params.resolve(OWNER, DEFAULTS, given)
    params.check_int(OWNER, p, "n_quantiles", 2)
    return p


def _randomised_pit(codes: np.ndarray, cum: np.ndarray, rng: np.random.Generator
                    ) -> np.ndarray:
    """A uniform inside each code's CDF step ``[cum[code - 1], cum[code])``."""
    lower = np.concatenate([[0.0], cum[:-1]])[codes]
    upper = cum[codes]
    return lower + rng.random(len(codes)) * (upper - lower)


class GaussianCopulaGenerator(Generator):
    """Gaussian copula over empirical marginals (non-private baseline).

    Parameters (keyword arguments, stored in :attr:`params`):
        n_quantiles: how many quantiles of each numeric column are kept to invert its
            empirical CDF (default 2001; the saved state holds these, not the rows).
    """

    name: ClassVar[str] = "gaussian-copula"
    description: ClassVar[str] = ("Gaussian copula over empirical marginals (categories, "
                                  "point masses, missing values); non-private baseline")
    is_private: ClassVar[bool] = False
    supports_conditions: ClassVar[bool] = True

    def __init__(self, **params: Any) -> None:
        _check_params(params)
        self.params: dict[str, Any] = dict(params)

    # -- fit ---------------------------------------------------------------------------------
    def fit(self, data: pd.DataFrame, schema: Schema, budget: PrivacyBudget | None,
            *, seed: int = 0) -> GaussianCopulaGenerator:
        """Fit marginals and the correlation matrix; ``budget`` is ignored (not private)."""
        p = _check_params(self.params)
        schema.require_domains()
        columns = schema.modelled
        missing = [c.name for c in columns if c.name not in data.columns]
        if missing:
            raise InputError(f"{OWNER}: training table lacks column(s) {missing}")
        if len(data) < 2:
            raise InputError(f"{OWNER}: needs at least 2 training rows, got {len(data)}")
        rng = np.random.default_rng(seed)
        levels = np.linspace(0.0, 1.0, int(p["n_quantiles"]))
        marginals: list[dict[str, Any]] = []
        scores: list[np.ndarray] = []
        for col in columns:
            if col.kind is Kind.CATEGORICAL:
                assert col.categories is not None
                idx = category_indices(data[col.name], col)
                width = len(col.categories) + (1 if col.nullable else 0)
                known = idx >= 0
                counts = np.bincount(idx[known], minlength=width).astype(float)
                if counts.sum() == 0:
                    raise InputError(f"{OWNER}: column {col.name!r} holds no value of its "
                                     "declared categories")
                cum = np.cumsum(counts) / counts.sum()
                u = np.empty(len(idx))
                u[known] = _randomised_pit(idx[known], cum, rng)
                u[~known] = rng.random(int((~known).sum()))  # outside the domain: no signal
                marginals.append({"column": col.name, "kind": "categorical", "cum": cum})
                scores.append(u)
                continue
            values = to_numeric(data[col.name], col).to_numpy(dtype=float)
            isna = np.isnan(values)
            observed = np.sort(values[~isna])
            if len(observed) == 0:
                raise InputError(f"{OWNER}: column {col.name!r} has no non-missing value")
            quantiles = np.quantile(observed, levels, method="inverted_cdf")
            # The empirical CDF at each row's value, left and right limits (ties form a step).
            left = np.searchsorted(observed, values[~isna], side="left") / len(observed)
            right = np.searchsorted(observed, values[~isna], side="right") / len(observed)
            u = rng.random(len(values))  # missing rows: independent noise (see module doc)
            u[~isna] = left + u[~isna] * (right - left)
            marginals.append({"column": col.name, "kind": "numeric", "quantiles": quantiles,
                              "missing_rate": float(isna.mean()) if col.nullable else 0.0})
            scores.append(u)
            if col.nullable:
                rate = float(isna.mean())
                cum = np.array([1.0 - rate, 1.0])
                scores.append(_randomised_pit(isna.astype(np.int64), cum, rng))
                marginals.append({"column": col.name, "kind": "missing", "cum": cum})
        z = ndtri(np.clip(np.column_stack(scores), _EPS, 1 - _EPS))
        self.correlation_ = _nearest_correlation(np.corrcoef(z, rowvar=False)
                                                 if z.shape[1] > 1 else np.ones((1, 1)))
        self.marginals_ = marginals
        self.schema_ = schema
        return self

    # -- sample ------------------------------------------------------------------------------
    def sample(self, n: int, *, seed: int = 0,
               conditions: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Draw ``n`` rows: correlated normal scores mapped through the inverse marginals."""
        if not hasattr(self, "correlation_"):
            raise InputError(f"{OWNER}: call fit() before sample()")
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise InputError(f"{OWNER}: n must be a non-negative integer, got {n!r}")
        wanted = check_conditions(conditions, self.schema_, self.name, supported=True)
        if wanted:
            return sample_by_rejection(self._draw, int(n), wanted, seed=seed)
        return self._draw(int(n), seed)

    def _draw(self, n: int, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        chol = np.linalg.cholesky(self.correlation_)
        u = ndtr(rng.standard_normal((n, len(chol))) @ chol.T)
        by_name: dict[str, Column] = {c.name: c for c in self.schema_.modelled}
        data: dict[str, Any] = {}
        missing: dict[str, np.ndarray] = {}
        values: dict[str, np.ndarray] = {}
        for j, m in enumerate(self.marginals_):
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
        return pd.DataFrame({c.name: data[c.name] for c in self.schema_.modelled})

    @property
    def privacy_spent(self) -> PrivacySpent:
        """Infinite epsilon: marginals and correlations are read off the raw rows."""
        return PrivacySpent(epsilon=math.inf, delta=1.0, accountant=NOT_PRIVATE,
                            details={"reason": "non-private baseline; no noise is added"})

    # -- persistence -------------------------------------------------------------------------
    def get_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Schema and marginal layout as JSON; CDFs, quantiles and correlations as arrays."""
        if not hasattr(self, "correlation_"):
            raise InputError(f"{OWNER}: call fit() before save()")
        meta = {"schema": self.schema_.to_dict(),
                "marginals": [{"column": m["column"], "kind": m["kind"],
                               "missing_rate": m.get("missing_rate", 0.0)}
                              for m in self.marginals_]}
        arrays: dict[str, Any] = {"correlation": self.correlation_}
        for j, m in enumerate(self.marginals_):
            arrays[f"m{j}"] = m["quantiles"] if m["kind"] == "numeric" else m["cum"]
        return meta, arrays

    def set_state(self, metadata: dict[str, Any], arrays: dict[str, Any]) -> None:
        """Restore what :meth:`get_state` returned."""
        from privgate.plugins._generator_state import schema_from_dict

        self.schema_ = schema_from_dict(metadata["schema"])
        self.correlation_ = arrays["correlation"].numpy()
        self.marginals_ = []
        for j, m in enumerate(metadata["marginals"]):
            key = "quantiles" if m["kind"] == "numeric" else "cum"
            self.marginals_.append({**m, key: arrays[f"m{j}"].numpy()})


def _nearest_correlation(corr: np.ndarray) -> np.ndarray:
    """``corr`` with eigenvalues floored (constant columns give NaN rows: made independent),
    rescaled to a unit diagonal, so that its Cholesky factor exists."""
    corr = np.nan_to_num(np.asarray(corr, dtype=float), nan=0.0)
    np.fill_diagonal(corr, 1.0)
    vals, vecs = np.linalg.eigh((corr + corr.T) / 2)
    fixed = (vecs * np.maximum(vals, 1e-6)) @ vecs.T
    d = np.sqrt(np.diag(fixed))
    return fixed / np.outer(d, d)


@hookimpl
def privgate_generators() -> list[type[Generator]]:
    """Register :class:`GaussianCopulaGenerator`."""
    return [GaussianCopulaGenerator]
