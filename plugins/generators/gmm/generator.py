"""``gmm``: a non-private baseline -- a Gaussian mixture on the declared-domain encoding.

The table is encoded with :class:`privgate.encoding.TableEncoder` (one-hot blocks, numerics
scaled to [0, 1] from the declared bounds) and scikit-learn's ``GaussianMixture`` is fitted to
that matrix. Sampling draws from the mixture and decodes: one-hot blocks are read as
probabilities, numerics are clipped back into their bounds. It makes no privacy claim (epsilon is
infinite); audits use it as the "what an unprotected model leaks" reference point.

Size: the matrix stays ``float32``. A full covariance costs ``width**2`` per component in memory
and per row in every EM step, so ``covariance_type = "auto"`` (the default) takes full
covariances up to :data:`FULL_MAX_WIDTH` encoded columns and diagonal ones beyond (a table with
hundreds of category codes, such as diabetes130's ICD-9 diagnoses). The fit uses at most
``max_fit_rows`` rows and :data:`MAX_FIT_CELLS` matrix cells (a seeded subsample beyond), so
memory is bounded whatever the table's size; sampling decodes in chunks.
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

COVARIANCE_TYPES = ("auto", "full", "tied", "diag", "spherical")
#: ``covariance_type = "auto"``: full covariances up to this many encoded columns, else diagonal.
FULL_MAX_WIDTH = 128
#: The most matrix cells the fit holds (1 GB of float32): fewer rows for a wider encoding.
MAX_FIT_CELLS = 250_000_000
#: Rows drawn and decoded at once when sampling.
SAMPLE_CHUNK = 20_000


class GaussianMixtureGenerator(NonPrivateGenerator):
    """Gaussian mixture on the TableEncoder matrix (non-private baseline).

    Parameters (keyword arguments, stored in :attr:`params`):
        n_components: mixture components (default 12; capped at the number of rows).
        covariance_type: ``"auto"`` (default: ``"full"`` up to :data:`FULL_MAX_WIDTH` encoded
            columns, ``"diag"`` beyond), ``"full"``, ``"tied"``, ``"diag"`` or ``"spherical"``.
        max_iter: EM iterations (default 200).
        reg_covar: ridge added to covariance diagonals (default 1e-4); keeps one-hot slots that
            never occur from producing singular covariances.
        max_fit_rows: the most rows the mixture is fitted on (default 100,000; a seeded
            subsample beyond, also capped at :data:`MAX_FIT_CELLS` cells).
    """

    name: ClassVar[str] = "gmm"
    description: ClassVar[str] = ("Gaussian mixture model on the declared-domain encoding "
                                  "(scikit-learn, float32; full covariances up to 128 encoded "
                                  "columns, diagonal beyond; fitted on at most 100,000 rows, a "
                                  "seeded subsample beyond); non-private baseline")
    fitted_by = "model_"
    PARAMS = {"n_components": Integer(12), "covariance_type": OneOf("auto", COVARIANCE_TYPES),
              "max_iter": Integer(200), "reg_covar": Positive(1e-4),
              "max_fit_rows": Integer(100_000, 2)}

    def fit(self, data: pd.DataFrame, schema: Schema, budget: PrivacyBudget | None,
            *, seed: int = 0) -> GaussianMixtureGenerator:
        """Fit the mixture on ``data``; ``budget`` is ignored (this generator is not private)."""
        p = self.checked_params()
        encoder = TableEncoder(schema)
        schema.require_columns(data, self.owner(), min_rows=2)
        rows = min(p["max_fit_rows"], max(2, MAX_FIT_CELLS // max(encoder.width, 1)))
        if len(data) > rows:
            data = data.sample(n=rows, random_state=child_seed(seed, self.name, "subsample"))
        matrix = encoder.transform(data)  # float32
        ctype = p["covariance_type"]
        if ctype == "auto":
            ctype = "full" if encoder.width <= FULL_MAX_WIDTH else "diag"
        if ctype in ("full", "tied"):  # Cholesky factors want float64 (narrow: cheap)
            matrix = matrix.astype(np.float64)
        model = GaussianMixture(
            n_components=min(p["n_components"], len(matrix)), covariance_type=ctype,
            max_iter=p["max_iter"], reg_covar=p["reg_covar"],
            random_state=child_seed(seed, self.name, "fit"))
        with warnings.catch_warnings():
            # A mixture that has not fully converged is still a usable baseline.
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(matrix)
        self.model_ = model
        self.encoder_ = encoder
        self.schema_ = schema
        self.budget_ = budget
        self.fit_rows_ = len(matrix)
        return self

    def _draw(self, n: int, seed: int) -> pd.DataFrame:
        """``n`` rows: a component per row, then its Gaussian, decoded (in chunks of
        :data:`SAMPLE_CHUNK` rows). The draws come from the stream ``(seed, "gmm", "sample")``,
        not the estimator's fit-time ``random_state``."""
        draws = rng(seed, self.name, "sample")
        m = self.model_
        weights = np.asarray(m.weights_, dtype=float)
        comp = draws.choice(len(weights), size=n, p=weights / weights.sum())
        d = m.means_.shape[1]
        factors = [_factor(m, k, d) for k in range(len(weights))]
        parts = []
        for start in range(0, n, SAMPLE_CHUNK):
            chunk = comp[start:start + SAMPLE_CHUNK]
            out = np.empty((len(chunk), d), dtype=np.float32)
            for k, factor in enumerate(factors):
                idx = np.nonzero(chunk == k)[0]
                if len(idx) == 0:
                    continue
                z = draws.standard_normal((len(idx), d))
                out[idx] = m.means_[k] + (z * factor if factor.ndim == 1 else z @ factor.T)
            parts.append(self.encoder_.inverse_transform(out, rng=draws))
        if not parts:
            return self.encoder_.inverse_transform(np.empty((0, d)), rng=draws)
        return pd.concat(parts, ignore_index=True)

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


def _factor(model: GaussianMixture, k: int, d: int) -> np.ndarray:
    """Component ``k``'s covariance factor: the lower Cholesky factor (a matrix) for full and
    tied covariances, the standard deviations (a vector, applied element-wise) for diagonal
    and spherical ones."""
    ctype = model.covariance_type
    cov = np.asarray(model.covariances_, dtype=np.float64)
    if ctype == "diag":
        return np.sqrt(cov[k])
    if ctype == "spherical":
        return np.full(d, math.sqrt(float(cov[k])))
    return np.linalg.cholesky(cov[k] if ctype == "full" else cov)


@hookimpl
def privgate_generators() -> list[type[Generator]]:
    """Register :class:`GaussianMixtureGenerator`."""
    return [GaussianMixtureGenerator]
