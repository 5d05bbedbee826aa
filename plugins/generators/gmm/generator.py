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
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from privgate import hookimpl
from privgate.encoding import TableEncoder
from privgate.generator import Generator, PrivacyBudget
from privgate.params import Integer, OneOf, Positive
from privgate.plugins.generators.baseline import NonPrivateGenerator
from privgate.randomness import child_seed, rng
from privgate.schema import Schema

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


class GaussianMixtureGenerator(NonPrivateGenerator):
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
    fitted_by = "model_"
    PARAMS = {"n_components": Integer(12), "covariance_type": OneOf("full", COVARIANCE_TYPES),
              "max_iter": Integer(200), "reg_covar": Positive(1e-4)}

    def fit(self, data: pd.DataFrame, schema: Schema, budget: PrivacyBudget | None,
            *, seed: int = 0) -> GaussianMixtureGenerator:
        """Fit the mixture on ``data``; ``budget`` is ignored (this generator is not private)."""
        p = self.checked_params()
        encoder = TableEncoder(schema)
        schema.require_columns(data, self.owner(), min_rows=2)
        matrix = encoder.transform(data).astype(np.float64)
        model = GaussianMixture(
            n_components=min(p["n_components"], len(matrix)),
            covariance_type=p["covariance_type"], max_iter=p["max_iter"],
            reg_covar=p["reg_covar"], random_state=child_seed(seed, self.name, "fit"))
        with warnings.catch_warnings():
            # A mixture that has not fully converged is still a usable baseline.
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(matrix)
        self.model_ = model
        self.encoder_ = encoder
        self.schema_ = schema
        self.budget_ = budget
        return self

    def _draw(self, n: int, seed: int) -> pd.DataFrame:
        """``n`` rows: a component per row, then its Gaussian, decoded. The draws come from the
        stream ``(seed, "gmm", "sample")``, not the estimator's fit-time ``random_state``."""
        draws = rng(seed, self.name, "sample")
        m = self.model_
        weights = np.asarray(m.weights_, dtype=float)
        comp = draws.choice(len(weights), size=n, p=weights / weights.sum())
        d = m.means_.shape[1]
        out = np.empty((n, d), dtype=np.float64)
        for k in range(len(weights)):
            idx = np.nonzero(comp == k)[0]
            if len(idx) == 0:
                continue
            chol = _cholesky(m, k, d)
            out[idx] = m.means_[k] + draws.standard_normal((len(idx), d)) @ chol.T
        return self.encoder_.inverse_transform(out, rng=draws)

    def get_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The schema as JSON; the mixture's weights, means and covariances as arrays."""
        self.fitted("model_", "save()")
        m = self.model_
        meta = {"schema": self.schema_.to_dict(), "covariance_type": m.covariance_type}
        arrays = {"weights": np.asarray(m.weights_, dtype=np.float64),
                  "means": np.asarray(m.means_, dtype=np.float64),
                  "covariances": np.asarray(m.covariances_, dtype=np.float64)}
        return meta, arrays

    def set_state(self, metadata: dict[str, Any], arrays: dict[str, Any]) -> None:
        """Rebuild a sampling-ready mixture from :meth:`get_state`'s output (no pickle)."""
        schema = Schema.from_dict(metadata["schema"], where="saved generator metadata")
        model = GaussianMixture(n_components=int(arrays["weights"].shape[0]),
                                covariance_type=str(metadata["covariance_type"]))
        model.weights_ = arrays["weights"].numpy()
        model.means_ = arrays["means"].numpy()
        model.covariances_ = arrays["covariances"].numpy()
        self.model_ = model
        self.schema_ = schema
        self.encoder_ = TableEncoder(schema)
        self.budget_ = None


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
