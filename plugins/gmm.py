"""``gmm``: a non-private baseline -- a Gaussian mixture on the declared-domain encoding.

The table is encoded with :class:`privgate.encoding.TableEncoder` (one-hot blocks, numerics
scaled to [0, 1] from the declared bounds) and scikit-learn's ``GaussianMixture`` is fitted to
that matrix. Sampling draws from the mixture and decodes: one-hot blocks are read as
probabilities, numerics are clipped back into their bounds. It makes no privacy claim (epsilon is
infinite); audits use it as the "what an unprotected model leaks" reference point.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from privgate import hookimpl, params
from privgate.encoding import TableEncoder
from privgate.errors import InputError
from privgate.generator import (
    NOT_PRIVATE,
    Generator,
    PrivacyBudget,
    PrivacySpent,
    check_conditions,
    sample_by_rejection,
)
from privgate.schema import Schema

#: Constructor parameters and their defaults.
DEFAULTS: dict[str, Any] = {
    "n_components": 12,
    "covariance_type": "full",
    "max_iter": 200,
    "reg_covar": 1e-4,
}
COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


OWNER = "generator 'gmm'"


def _check_params(given: Mapping[str, Any]) -> dict[str, Any]:
    """Validate constructor parameters; the message names the parameter and what is allowed."""
    p = params.resolve(OWNER, DEFAULTS, given)
    for key in ("n_components", "max_iter"):
        params.check_int(OWNER, p, key)
    params.check_choice(OWNER, p, "covariance_type", COVARIANCE_TYPES)
    params.check_positive(OWNER, p, "reg_covar")
    return p


class GaussianMixtureGenerator(Generator):
    """Gaussian mixture on the TableEncoder matrix (non-private baseline).

    Parameters (keyword arguments, stored in :attr:`params`):
        n_components: mixture components (default 12; capped at the number of rows).
        covariance_type: ``"full"`` (default), ``"tied"``, ``"diag"`` or ``"spherical"``.
        max_iter: EM iterations (default 200).
        reg_covar: ridge added to covariance diagonals (default 1e-4); keeps one-hot slots that
            never occur from producing singular covariances.
    """

    name: ClassVar[str] = "gmm"
    description: ClassVar[str] = ("Gaussian mixture model on the declared-domain encoding "
                                  "(scikit-learn); non-private baseline")
    is_private: ClassVar[bool] = False
    supports_conditions: ClassVar[bool] = True

    def __init__(self, **params: Any) -> None:
        _check_params(params)
        self.params: dict[str, Any] = dict(params)

    def fit(self, data: pd.DataFrame, schema: Schema, budget: PrivacyBudget | None,
            *, seed: int = 0) -> GaussianMixtureGenerator:
        """Fit the mixture on ``data``; ``budget`` is ignored (this generator is not private)."""
        p = _check_params(self.params)
        encoder = TableEncoder(schema)
        missing = [c.name for c in encoder.columns if c.name not in data.columns]
        if missing:
            raise InputError(f"generator 'gmm': training table lacks column(s) {missing}")
        if len(data) < 2:
            raise InputError(f"generator 'gmm': needs at least 2 training rows, got {len(data)}")
        matrix = encoder.transform(data).astype(np.float64)
        model = GaussianMixture(
            n_components=min(int(p["n_components"]), len(matrix)),
            covariance_type=p["covariance_type"], max_iter=int(p["max_iter"]),
            reg_covar=float(p["reg_covar"]), random_state=seed)
        with warnings.catch_warnings():
            # A mixture that has not fully converged is still a usable baseline.
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(matrix)
        self.model_ = model
        self.encoder_ = encoder
        self.schema_ = schema
        self.budget_ = budget
        return self

    def sample(self, n: int, *, seed: int = 0,
               conditions: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Draw ``n`` rows from the mixture and decode them into the schema's domain.

        Component choice and Gaussian draws come from ``numpy.random.default_rng(seed)`` (not
        from the estimator's fit-time ``random_state``), so different seeds give different rows
        and rows come out in random component order.
        """
        if not hasattr(self, "model_"):
            raise InputError("generator 'gmm': call fit() before sample()")
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise InputError(f"generator 'gmm': n must be a non-negative integer, got {n!r}")
        wanted = check_conditions(conditions, self.schema_, "gmm", supported=True)
        if wanted:
            return sample_by_rejection(lambda k, s: self._draw(k, s), int(n), wanted, seed=seed)
        return self._draw(int(n), seed)

    def _draw(self, n: int, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        m = self.model_
        weights = np.asarray(m.weights_, dtype=float)
        comp = rng.choice(len(weights), size=int(n), p=weights / weights.sum())
        d = m.means_.shape[1]
        out = np.empty((int(n), d), dtype=np.float64)
        for k in range(len(weights)):
            idx = np.nonzero(comp == k)[0]
            if len(idx) == 0:
                continue
            chol = _cholesky(m, k, d)
            out[idx] = m.means_[k] + rng.standard_normal((len(idx), d)) @ chol.T
        return self.encoder_.inverse_transform(out, rng=rng)

    def get_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The schema as JSON; the mixture's weights, means and covariances as arrays."""
        if not hasattr(self, "model_"):
            raise InputError("generator 'gmm': call fit() before save()")
        m = self.model_
        meta = {"schema": self.schema_.to_dict(), "covariance_type": m.covariance_type}
        arrays = {"weights": np.asarray(m.weights_, dtype=np.float64),
                  "means": np.asarray(m.means_, dtype=np.float64),
                  "covariances": np.asarray(m.covariances_, dtype=np.float64)}
        return meta, arrays

    def set_state(self, metadata: dict[str, Any], arrays: dict[str, Any]) -> None:
        """Rebuild a sampling-ready mixture from :meth:`get_state`'s output (no pickle)."""
        from privgate.plugins._generator_state import schema_from_dict

        schema = schema_from_dict(metadata["schema"])
        model = GaussianMixture(n_components=int(arrays["weights"].shape[0]),
                                covariance_type=str(metadata["covariance_type"]))
        model.weights_ = arrays["weights"].numpy()
        model.means_ = arrays["means"].numpy()
        model.covariances_ = arrays["covariances"].numpy()
        self.model_ = model
        self.schema_ = schema
        self.encoder_ = TableEncoder(schema)
        self.budget_ = None

    @property
    def privacy_spent(self) -> PrivacySpent:
        """Infinite epsilon: the mixture is fitted on the raw rows without any noise."""
        return PrivacySpent(epsilon=math.inf, delta=1.0, accountant=NOT_PRIVATE,
                            details={"reason": "non-private baseline; no noise is added"})


def _cholesky(model: GaussianMixture, k: int, d: int) -> np.ndarray:
    """Lower Cholesky factor of component ``k``'s covariance for every covariance type."""
    ctype = model.covariance_type
    cov = model.covariances_
    if ctype == "full":
        mat = cov[k]
    elif ctype == "tied":
        mat = cov
    elif ctype == "diag":
        return np.diag(np.sqrt(cov[k]))
    else:  # spherical
        return np.eye(d) * math.sqrt(float(cov[k]))
    return np.linalg.cholesky(mat)


@hookimpl
def privgate_generators() -> list[type[Generator]]:
    """Register :class:`GaussianMixtureGenerator`."""
    return [GaussianMixtureGenerator]
