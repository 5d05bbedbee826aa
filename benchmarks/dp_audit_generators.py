"""The generators ``benchmarks/dp_audit.py`` audits: broken DP claims and honest controls.

* :class:`Copier` -- outputs its training rows (with replacement), claims epsilon 1;
* :class:`NoiseOffVAE` -- dpsgd-vae with the DP-SGD noise off, claiming epsilon 1;
* :class:`MisreportedRateVAE` -- dpsgd-vae whose noise is calibrated, and whose epsilon is
  reported, for a sample rate ``MISREPORT`` times smaller than the one it trains with;
* :class:`DomainCopiedVAE` -- dpsgd-vae that takes a domain read off the data from the rows it
  is given (rare categories copied exactly) as if declared, paying nothing;
* :class:`Marginals` -- honest epsilon-1 Laplace marginals (cheap: the multi-run control).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from privgate import Generator, Kind, Schema
from privgate.dp.accounting import noise_multiplier_for, spent_epsilon
from privgate.dp.trainer import DPTrainer, Schedule
from privgate.generator import PrivacyBudget, PrivacySpent
from privgate.plugins.generators.vae.generator import DPSGDVAE

EPSILON, DELTA = 1.0, 1e-5
#: How much smaller the misreported sample rate is than the true one.
MISREPORT = 10.0


class Copier(Generator):
    """BROKEN: samples its training rows (with replacement) and claims epsilon 1."""

    name = "copier"
    is_private = True

    def __init__(self, **params: Any) -> None:
        self.params = params

    def fit(self, data: pd.DataFrame, schema: Any, budget: Any, *, seed: int = 0) -> Copier:
        self.data_ = data.reset_index(drop=True)
        return self

    def sample(self, n: int, *, seed: int = 0, conditions: Any = None) -> pd.DataFrame:
        idx = np.random.default_rng(seed).integers(0, len(self.data_), n)
        return self.data_.iloc[idx].reset_index(drop=True)

    @property
    def privacy_spent(self) -> PrivacySpent:
        return PrivacySpent(EPSILON, DELTA, "made up")


class NoiseOffVAE(DPSGDVAE):
    """BROKEN: dpsgd-vae with the DP-SGD noise off (``dp = false``) reporting epsilon 1."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**{**params, "dp": False})

    @property
    def privacy_spent(self) -> PrivacySpent:
        return PrivacySpent(EPSILON, DELTA, "rdp (claimed; the noise was off)")


class MisreportedRateTrainer(DPTrainer):
    """Calibrates the noise, and reports epsilon, for a sample rate ``MISREPORT`` x smaller
    than the Poisson rate it trains with."""

    def plan(self, n_rows: int, *, batch_size: int | None = None,
             release_share: float = 0.0) -> Schedule:
        sch = super().plan(n_rows, batch_size=batch_size, release_share=release_share)
        prep = self._need()
        sigma = noise_multiplier_for(prep.train_epsilon, prep.train_delta,
                                     sch.sample_rate / MISREPORT, sch.steps,
                                     self.settings.accountant, prior=prep.domains.history)
        self.schedule = replace(sch, noise_multiplier=sigma)
        return self.schedule

    def privacy_spent(self, details: Any = None) -> PrivacySpent:
        sch = self.schedule
        assert sch is not None and self.budget is not None
        return PrivacySpent(self.budget.epsilon, self.budget.delta, "rdp", {
            **(details or {}), "noise_multiplier": sch.noise_multiplier,
            "sample_rate": sch.sample_rate / MISREPORT, "steps": sch.steps,
            "true_sample_rate": sch.sample_rate, "true_epsilon": spent_epsilon(
                sch.noise_multiplier, sch.sample_rate, sch.steps, self.budget.delta, "rdp")})


class MisreportedRateVAE(DPSGDVAE):
    """BROKEN: dpsgd-vae whose accountant is told a sample rate 10x smaller than used."""

    def trainer(self, params: dict[str, Any], budget: PrivacyBudget | None, seed: int,
                *, batch_size: int | None = None) -> DPTrainer:
        t = super().trainer(params, budget, seed, batch_size=batch_size)
        return MisreportedRateTrainer(self.name, t.settings, budget, seed)


class DomainCopiedVAE(DPSGDVAE):
    """BROKEN: a domain read off the data is replaced by the categories of the rows it is given
    (rare values exactly), declared public, so no budget pays for it."""

    def fit(self, data: pd.DataFrame, schema: Schema, budget: PrivacyBudget | None,
            *, seed: int = 0) -> DomainCopiedVAE:
        own = Schema(tuple(
            replace(c, categories=tuple(sorted(data[c.name].dropna().unique(), key=str)),
                    data_dependent=False) if c.data_dependent and c.kind is Kind.CATEGORICAL
            else c for c in schema.columns))
        super().fit(data, own, budget, seed=seed)
        return self


class Marginals(Copier):
    """Honest epsilon-1 DP: each column drawn from its Laplace-noised histogram over the
    declared domain (numbers on 20 bins of their bounds; epsilon 1/5 per column)."""

    name = "dp-marginals"

    def fit(self, data: pd.DataFrame, schema: Any, budget: Any, *, seed: int = 0
            ) -> Marginals:
        noise, self.cols_ = np.random.default_rng(seed), {}
        for col in schema.columns:
            if col.categories is not None:
                values, cells = np.array(col.categories, dtype=object), data[col.name]
            else:
                values = np.linspace(col.bounds[0], col.bounds[1], 20)
                cells = pd.Series(np.abs(data[col.name].to_numpy(float)[:, None]
                                         - values).argmin(axis=1)).map(dict(enumerate(values)))
            counts = cells.value_counts().reindex(values, fill_value=0).to_numpy(float)
            noisy = np.maximum(counts + noise.laplace(0.0, len(schema.columns), len(values)),
                               0.0) + 1e-9
            self.cols_[col.name] = (values, noisy / noisy.sum())
        return self

    def sample(self, n: int, *, seed: int = 0, conditions: Any = None) -> pd.DataFrame:
        draws = np.random.default_rng(seed)
        return pd.DataFrame({c: v[draws.choice(len(v), n, p=w)]
                             for c, (v, w) in self.cols_.items()})
