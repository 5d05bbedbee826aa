"""``example-marginals``: a differentially private generator that is not DP-SGD.

Each modelled column gets a histogram over its *declared* domain (the schema's categories, or
``bins`` equal-width bins between the declared bounds, plus a "missing" cell for nullable
columns). Noise is added to every count, negative counts are clipped, and each column is then
sampled independently from its noisy histogram (numeric values uniformly within their bin).

Privacy accounting (add/remove-one-row neighbours):

* one row adds 1 to exactly one cell of each of the ``d`` column histograms, so the
  concatenated count vector has L1 sensitivity ``d`` and L2 sensitivity ``sqrt(d)``;
* ``mechanism = "laplace"``: Laplace noise of scale ``d / epsilon`` on every count gives
  ``(epsilon, 0)``-DP (sequential composition of ``d`` histograms at ``epsilon / d`` each;
  each histogram is a parallel composition over its disjoint cells);
* ``mechanism = "gaussian"``: Gaussian noise with standard deviation ``sigma * sqrt(d)``, where
  ``sigma`` is the smallest noise multiplier opacus' RDP accountant finds for
  ``(epsilon, delta)`` with one full-batch step; the spent epsilon is recomputed by the same
  accountant.

Everything after the noisy counts (clipping, normalising, sampling, conditions) is
post-processing and costs nothing. The domain must be public: a domain that privgate read off
the data (``data_dependent``) is not covered by this accounting, so the generator refuses it
(declare the domain). The spend is recorded as privgate's DP layer records it
(:class:`privgate.dp.AccountingInputs`: an empty accountant history plus the Laplace release
epsilon, or the Gaussian release in the history), so privgate's contract kit recomputes it.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from privgate import Generator, PrivacyBudget, PrivacySpent, hookimpl, params
from privgate.dp import AccountingInputs
from privgate.errors import InputError
from privgate.generator import check_conditions
from privgate.schema import Column, Kind, Schema, epoch_seconds

PRIVGATE_PLUGIN_API = "1"

OWNER = "generator 'example-marginals'"
DEFAULTS: dict[str, Any] = {"mechanism": "laplace", "bins": 20}
MECHANISMS = ("laplace", "gaussian")


def _check_params(given: Mapping[str, Any]) -> dict[str, Any]:
    p = params.resolve(OWNER, DEFAULTS, given)
    params.check_choice(OWNER, p, "mechanism", MECHANISMS)
    params.check_int(OWNER, p, "bins", 2)
    return p


@functools.lru_cache(maxsize=128)  # a pure function of (epsilon, delta); the search is slow
def gaussian_multiplier(epsilon: float, delta: float) -> float:
    """The smallest Gaussian noise multiplier (std / L2 sensitivity) for (epsilon, delta),
    found by opacus' RDP accountant for one step at sampling rate 1."""
    from opacus.accountants.utils import get_noise_multiplier

    if delta <= 0:
        raise InputError(f"{OWNER}: the Gaussian mechanism needs delta > 0; use mechanism = "
                         "'laplace' for pure epsilon-DP")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "optimal order is the largest alpha"
        return float(get_noise_multiplier(target_epsilon=epsilon, target_delta=delta,
                                          sample_rate=1.0, steps=1, accountant="rdp",
                                          epsilon_tolerance=0.001))


def _cells(column: Column, bins: int) -> int:
    width = len(column.categories or ()) if column.kind is Kind.CATEGORICAL else bins
    return width + (1 if column.nullable else 0)


def _cell_index(series: pd.Series, column: Column, bins: int) -> np.ndarray:
    """Each row's histogram cell; the last cell is "missing" for nullable columns."""
    missing = series.isna().to_numpy()
    idx = np.zeros(len(series), dtype=np.int64)
    if column.kind is Kind.CATEGORICAL:
        assert column.categories is not None
        lookup = {c: i for i, c in enumerate(column.categories)}
        values = series.to_numpy(dtype=object)
        known = np.array([m or v in lookup for v, m in zip(values, missing)], dtype=bool)
        if not known.all():
            bad = sorted({str(v) for v, k in zip(values, known) if not k})[:5]
            raise InputError(f"{OWNER}: column {column.name!r} holds values {bad} outside its "
                             "declared categories")
        idx[~missing] = [lookup[v] for v in values[~missing]]
    else:
        assert column.bounds is not None
        low, high = column.bounds
        numbers = (epoch_seconds(series) if column.kind is Kind.DATETIME
                   else pd.to_numeric(series, errors="coerce")).to_numpy(dtype=float)
        span = max(high - low, 1e-12)
        pos = np.floor((np.clip(numbers, low, high) - low) / span * bins)
        idx[~missing] = np.clip(pos[~missing], 0, bins - 1).astype(np.int64)
    if missing.any():
        if not column.nullable:
            raise InputError(f"{OWNER}: column {column.name!r} has missing values but the "
                             "schema does not declare it nullable")
        idx[missing] = _cells(column, bins) - 1
    return idx


class NoisyMarginals(Generator):
    """Independent per-column histograms with Laplace or Gaussian noise (see module doc).

    Parameters:
        mechanism: ``"laplace"`` (default; pure epsilon-DP) or ``"gaussian"``.
        bins: equal-width bins per numeric column (default 20).
    """

    name: ClassVar[str] = "example-marginals"
    description: ClassVar[str] = ("Noisy per-column histograms over the declared domain "
                                  "(Laplace or Gaussian mechanism); columns independent")
    is_private: ClassVar[bool] = True
    supports_conditions: ClassVar[bool] = True
    #: Parameters for privgate's contract kit (already fast; stated for the tutorial).
    contract_params: ClassVar[dict[str, Any]] = {"bins": 8}

    def __init__(self, **params: Any) -> None:
        _check_params(params)
        self.params: dict[str, Any] = dict(params)

    def fit(self, data: pd.DataFrame, schema: Schema, budget: PrivacyBudget | None,
            *, seed: int = 0) -> NoisyMarginals:
        """Release one noisy histogram per column, spending exactly ``budget``."""
        p = _check_params(self.params)
        if budget is None:
            raise InputError(f"{OWNER}: a privacy budget (epsilon) is required")
        schema.require_domains()
        columns = schema.modelled
        absent = [c.name for c in columns if c.name not in data.columns]
        if absent:
            raise InputError(f"{OWNER}: the training table lacks column(s) {absent}")
        if schema.data_dependent_columns:
            # a domain read off the data would leak it: this example does not pay for domains
            raise InputError(f"{OWNER}: the domains of {schema.data_dependent_columns} were read "
                             "off the data; declare them in the schema (categories, bounds)")
        d = len(columns)
        rng = np.random.default_rng(seed)
        # The accounting is recorded the way privgate's DP layer records it
        # (privgate.dp.AccountingInputs), so the contract kit can recompute it.
        if p["mechanism"] == "laplace":
            scale = d / budget.epsilon
            inputs = AccountingInputs("rdp", (), 0.0, release_epsilon=budget.epsilon)
            extra: dict[str, Any] = {"l1_sensitivity": d, "laplace_scale": scale}
            label = "Laplace mechanism, sequential composition over columns"
        else:
            multiplier = gaussian_multiplier(budget.epsilon, budget.delta)
            scale = multiplier * math.sqrt(d)
            inputs = AccountingInputs("rdp", ((multiplier, 1.0, 1),), budget.delta)
            extra = {"l2_sensitivity": math.sqrt(d), "noise_multiplier": multiplier,
                     "noise_std": scale}
            label = "Gaussian mechanism, opacus RDP accountant"
        spent = PrivacySpent(inputs.epsilon(), inputs.delta(), label,
                             {**extra, **inputs.details()})
        probs: dict[str, np.ndarray] = {}
        for column in columns:
            counts = np.bincount(_cell_index(data[column.name], column, p["bins"]),
                                 minlength=_cells(column, p["bins"])).astype(float)
            noise = (rng.laplace(0.0, scale, counts.shape) if p["mechanism"] == "laplace"
                     else rng.normal(0.0, scale, counts.shape))
            noisy = np.clip(counts + noise, 0.0, None)  # post-processing from here on
            total = noisy.sum()
            probs[column.name] = (noisy / total if total > 0
                                  else np.full(len(noisy), 1.0 / len(noisy)))
        self.spent_ = spent
        self.probs_ = probs
        self.schema_ = schema
        self.bins_ = int(p["bins"])
        return self

    def sample(self, n: int, *, seed: int = 0,
               conditions: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Draw ``n`` rows column by column; a condition fixes its (independent) column."""
        if not hasattr(self, "probs_"):
            raise InputError(f"{OWNER}: call fit() before sample()")
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise InputError(f"{OWNER}: n must be a non-negative integer, got {n!r}")
        wanted = check_conditions(conditions, self.schema_, self.name, supported=True)
        rng = np.random.default_rng(seed)
        out = {}
        for column in self.schema_.modelled:
            cells = rng.choice(len(self.probs_[column.name]), size=int(n),
                               p=self.probs_[column.name])
            out[column.name] = self._decode(column, cells, rng)
            if column.name in wanted:
                out[column.name] = pd.Series([wanted[column.name]] * int(n), dtype=object)
        return pd.DataFrame(out)

    def _decode(self, column: Column, cells: np.ndarray, rng: np.random.Generator) -> pd.Series:
        missing = cells == _cells(column, self.bins_) - 1 if column.nullable else None
        if column.kind is Kind.CATEGORICAL:
            assert column.categories is not None
            cats = list(column.categories)
            values = [None if missing is not None and m else cats[c]
                      for c, m in zip(cells, missing if missing is not None
                                      else np.zeros(len(cells), bool))]
            return pd.Series(values, dtype=object)
        assert column.bounds is not None
        low, high = column.bounds
        width = (high - low) / self.bins_
        numbers = low + (np.minimum(cells, self.bins_ - 1) + rng.random(len(cells))) * width
        numbers = np.clip(numbers, low, high)
        if column.kind in (Kind.INTEGER, Kind.DATETIME):
            numbers = np.clip(np.round(numbers), math.ceil(low), math.floor(high))
        if missing is not None:
            numbers = np.where(missing, np.nan, numbers)
        if column.kind is Kind.DATETIME:
            return pd.Series(pd.to_datetime(numbers, unit="s"))
        if column.kind is Kind.INTEGER and missing is None:
            return pd.Series(numbers.astype(np.int64))
        return pd.Series(numbers.astype(float))

    @property
    def privacy_spent(self) -> PrivacySpent:
        """The (epsilon, delta) of the released histograms."""
        if not hasattr(self, "spent_"):
            raise InputError(f"{OWNER}: call fit() before asking what it spent")
        return self.spent_


@hookimpl
def privgate_generators() -> list[type[Generator]]:
    """The example DP generator."""
    return [NoisyMarginals]
