"""``gaussian-copula``: a non-private baseline -- empirical marginals joined by a Gaussian copula.

Fit (on the raw training rows; nothing is noised, epsilon is infinite): every modelled column's
cells become uniforms through its empirical marginal (:mod:`.marginals`), the uniforms become
normal scores ``z = Phi^-1(u)``, and the copula is the correlation matrix of the normal scores
(projected onto the positive definite matrices). Sampling draws ``z ~ N(0, R)`` and maps each
``Phi(z)`` back through the column's inverse empirical CDF, so sampled values are values the
column took (point masses and integers come back exactly). A nullable numeric column's
missingness is a binary variable of the copula, correlated with the rest.

Why not the ``copulas`` package (SDV): its GaussianMultivariate fits a parametric family per
column (beta, truncated normal, ...) by maximum likelihood, which is slow on large tables and
cannot reproduce the point masses and integer spikes of real tables; it handles neither
categories nor missing values (SDV wraps it with its own transformers) and would add plotly and
its pins. The empirical-marginal copula is a few numpy/scipy lines and the stronger baseline.

Conditions on categorical columns go through :func:`privgate.generator.sample_by_rejection`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from privgate import hookimpl
from privgate.generator import Generator, PrivacyBudget
from privgate.params import Integer
from privgate.plugins.generators.baseline import NonPrivateGenerator
from privgate.plugins.generators.copula.marginals import fit_marginals, invert_marginals
from privgate.randomness import rng
from privgate.schema import Schema

#: Keeps uniforms off 0 and 1, where the normal quantile is infinite.
_EPS = 1e-6


class GaussianCopulaGenerator(NonPrivateGenerator):
    """Gaussian copula over empirical marginals (non-private baseline).

    Parameters (keyword arguments, stored in :attr:`params`):
        n_quantiles: how many quantiles of each numeric column are kept to invert its
            empirical CDF (default 2001; the saved state holds these, not the rows).
    """

    name: ClassVar[str] = "gaussian-copula"
    description: ClassVar[str] = ("Gaussian copula over empirical marginals (categories, "
                                  "point masses, missing values); non-private baseline")
    fitted_by = "correlation_"
    PARAMS = {"n_quantiles": Integer(2001, minimum=2)}

    def fit(self, data: pd.DataFrame, schema: Schema, budget: PrivacyBudget | None,
            *, seed: int = 0) -> GaussianCopulaGenerator:
        """Fit marginals and the correlation matrix; ``budget`` is ignored (not private)."""
        p = self.checked_params()
        schema.require_domains()
        schema.require_columns(data, self.owner(), min_rows=2)
        marginals, uniforms = fit_marginals(data, schema.modelled, p["n_quantiles"],
                                            rng(seed, self.name, "fit"), self.owner())
        z = ndtri(np.clip(np.column_stack(uniforms), _EPS, 1 - _EPS))
        self.correlation_ = _nearest_correlation(np.corrcoef(z, rowvar=False)
                                                 if z.shape[1] > 1 else np.ones((1, 1)))
        self.marginals_ = marginals
        self.schema_ = schema
        return self

    def _draw(self, n: int, seed: int) -> pd.DataFrame:
        """``n`` rows: correlated normal scores mapped through the inverse marginals."""
        chol = np.linalg.cholesky(self.correlation_)
        z = rng(seed, self.name, "sample").standard_normal((n, len(chol)))
        return invert_marginals(ndtr(z @ chol.T), self.marginals_, self.schema_.modelled)

    # -- persistence -------------------------------------------------------------------------
    def get_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Schema and marginal layout as JSON; CDFs, quantiles and correlations as arrays."""
        self.fitted("correlation_", "save()")
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
        self.schema_ = Schema.from_dict(metadata["schema"], where="saved generator metadata")
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
    return np.asarray(fixed / np.outer(d, d))


@hookimpl
def privgate_generators() -> list[type[Generator]]:
    """Register :class:`GaussianCopulaGenerator`."""
    return [GaussianCopulaGenerator]
