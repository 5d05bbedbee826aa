"""``density-membership``: DOMIAS-style membership inference from a density ratio.

van Breugel et al. (2023) observed that a generator which overfits places *more* synthetic
probability mass around its training rows than the population has there. The attacker scores
each real record ``x`` by ``log p_synthetic(x) - log p_reference(x)``: the synthetic density
(fitted on the synthetic table) over a reference density of the population (fitted on real rows
the generator never saw). Records where the synthetic data is unusually dense, compared with the
population, are called members.

Design here: the control rows are split in two halves, one for the reference density and one as
the non-members the attack is tested on; as many training rows are the members. Two density
estimators are offered:

- ``estimator = "knn"`` (default): k-nearest-neighbour density estimates on the schema encoding
  (one-hot blocks, numerics in [0, 1]). With ``k = 1`` an exact copy in the synthetic table has
  infinite synthetic density, so copying is caught as surely as by ``dcr-membership``, but a
  record is only called a member when the synthetic data sits closer to it than the population
  does -- DOMIAS's correction for records that are merely typical. Searches are chunked by
  scikit-learn (bounded memory).
- ``estimator = "kde"``: Gaussian kernel density estimates (scikit-learn ``KernelDensity``,
  tree-based) in a low-dimensional projection of the encoding (PCA fitted on the reference half
  only, unit-variance components; kernel densities do not work in the ~100 one-hot dimensions of
  a typical table), bandwidths by Scott's rule. Smooth, so it finds overfitting to regions
  rather than to single rows, and it is weak against verbatim copies.

The synthetic density uses at most ``max_density_rows`` synthetic rows (a seeded sample).
At most ``max_rows`` members and as many non-members are scored (default
:data:`~privgate.attacks._common.MAX_TARGETS`, 20,000: a uniform random subsample beyond,
stated in the result; the interval is over the rows scored).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.decomposition import PCA
from sklearn.neighbors import KernelDensity, NearestNeighbors

from privgate import Attack, AttackContext, AttackResult, hookimpl, params, randomness
from privgate.attack import AttackPlan
from privgate.attacks._common import (
    MAX_TARGETS,
    check_choice,
    check_int,
    modelled_columns,
    raised,
    resolve_params,
    single_threaded,
    targets_statement,
    trials_asked,
)
from privgate.attacks._membership_metrics import (
    nearest_distances,
    null_plan,
    positions,
    record_risk_series,
    summarise,
)
from privgate.attacks._persons import membership_units, people_halves, unit_sizes
from privgate.encoding import TableEncoder
from privgate.errors import N_, InputError, plugin_named

ESTIMATORS = ("knn", "kde")


def _capped(n: int, m: int, cap: int | None) -> tuple[int, int]:
    return (n, m) if cap is None else (min(n, cap), min(m, cap))


def knn_radius(fitted: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    """Distance from each query row to its ``k``-th nearest row of ``fitted`` (exact).

    scikit-learn's brute-force search works through the queries in chunks of its
    ``working_memory``, so memory stays bounded on large tables.
    """
    k = max(1, min(k, len(fitted)))
    if k == 1:  # the exact search DCR uses: one-hot blocks compared by code, same distance
        return nearest_distances(fitted, query)
    nn = NearestNeighbors(n_neighbors=k, algorithm="brute", n_jobs=1).fit(fitted)
    idx = nn.kneighbors(query, return_distance=False)[:, k - 1]
    # recomputed directly: the fast Euclidean search leaves float noise, copies must read 0
    diff = query - fitted[idx]
    return np.sqrt((diff * diff).sum(axis=1))


def scott_bandwidth(n: int, d: int) -> float:
    """Scott's rule for a Gaussian kernel on unit-variance data: ``n ** (-1 / (d + 4))``."""
    return float(max(n, 1) ** (-1.0 / (d + 4)))


class _Projection:
    """PCA of the reference rows, each kept component scaled to unit variance.

    Hand-written scaling instead of ``PCA(whiten=True)``: components with (near) zero variance
    on the reference rows (one-hot slots that never occur) are dropped rather than blown up.
    """

    def __init__(self, reference: np.ndarray, n_components: int, seed: int) -> None:
        k = max(1, min(n_components, reference.shape[1], reference.shape[0] - 1))
        self.pca = PCA(n_components=k, svd_solver="full", random_state=seed).fit(reference)
        z = self.pca.transform(reference)
        std = z.std(axis=0)
        self.keep = std > 1e-6 * max(float(std.max()), 1e-12)
        self.std = std[self.keep]

    @property
    def dims(self) -> int:
        return int(self.keep.sum())

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.pca.transform(x)[:, self.keep] / self.std


class DensityMembership(Attack):
    """DOMIAS density-ratio membership inference; risk = membership advantage."""

    name: ClassVar[str] = "density-membership"
    risk_kind: ClassVar[str] = "membership"
    description: ClassVar[str] = (
        "DOMIAS membership inference: scores each real row by the ratio of the synthetic "
        "density to a population density fitted on unseen rows (risk = max TPR - FPR).")
    explanation: ClassVar[str] = (
        "The simulated adversary holds the synthetic table and a sample of real people who "
        "were not used for training. It estimates how densely the synthetic data covers each "
        "point, and how densely the real population does, and guesses \"was in the training "
        "data\" where the synthetic data is unusually dense compared with the population: a "
        "generator that memorises its training rows leaves such bumps around them. We test it "
        "on equal numbers of training members and of people the generator never saw. The risk "
        "is the membership advantage (TPR - FPR at the best threshold); 0 means no trace, 1 "
        "means every member can be told apart.")
    references: ClassVar[tuple[str, ...]] = (
        "van Breugel, Sun, Qian & van der Schaar (2023). Membership inference attacks against "
        "synthetic data through overfitting detection (DOMIAS). AISTATS.",
        "Carlini et al. (2022). Membership inference attacks from first principles. IEEE S&P "
        "(TPR at low FPR).",
        "Scott (1992). Multivariate density estimation. Wiley (bandwidth rule).",
    )

    DEFAULTS: ClassVar[dict[str, Any]] = {
        "estimator": "knn",        # "knn" (k-nearest-neighbour) or "kde" (kernel density)
        "n_neighbors": 1,          # k of the k-NN density estimate
        "max_rows": MAX_TARGETS,   # cap on members and on non-members scored (None: all)
        "max_density_rows": 50000,  # synthetic rows the synthetic density is fitted on
        "n_components": 10,        # kde: PCA dimensions the densities live in
        "bandwidth": "scott",      # kde: or a positive number (in unit-variance PCA units)
        "n_resamples": 500,
    }

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._check(resolve_params(self.name, self.DEFAULTS, params))

    def params_for_trials(self, trials: int) -> dict[str, Any] | None:
        """A larger ``max_rows`` (the default caps the targets at
        :data:`~privgate.attacks._common.MAX_TARGETS` a side)."""
        return raised(self.params, "max_rows", trials, 2)

    def _check(self, p: dict[str, Any]) -> tuple[int | None, int, int, float | None, int]:
        check_choice(self.name, p, "estimator", ESTIMATORS)
        check_int(self.name, p, "n_neighbors", 1)
        max_rows = None if p["max_rows"] is None else check_int(self.name, p, "max_rows", 10)
        max_density = check_int(self.name, p, "max_density_rows", 100)
        n_components = check_int(self.name, p, "n_components", 1)
        n_resamples = check_int(self.name, p, "n_resamples", 50)
        bw = p["bandwidth"]
        if bw == "scott":
            bandwidth = None
        else:
            bandwidth = params.check_positive(plugin_named("attack", self.name), p, "bandwidth")
        return max_rows, max_density, n_components, bandwidth, n_resamples

    def run(self, context: AttackContext) -> AttackResult:
        """Fit the two densities, score members and held-out non-members by their log ratio."""
        p = resolve_params(self.name, self.DEFAULTS, self.params)
        max_rows, max_density, n_components, bandwidth, n_resamples = self._check(p)
        modelled_columns(self.name, context)
        if len(context.control) < 4:
            raise InputError(N_("attack %(name)r: needs at least 4 control rows (half fit the "
                                "reference density, half are non-members), got %(n_control)s"),
                             name=self.name, n_control=len(context.control))

        rng = randomness.rng(context.seed, self.name, "targets")
        control_perm = rng.permutation(len(context.control))
        ref_pos, non_pos = people_halves(control_perm, None if context.persons is None
                                         else context.persons.control)
        non_pos_all = non_pos
        n, m = _capped(len(context.train), len(non_pos), max_rows)
        member_pos = positions(len(context.train), n, rng)
        non_pos = non_pos[positions(len(non_pos), m, rng)]
        syn_pos = positions(len(context.synthetic), max_density, rng)
        targets = (targets_statement("training rows", n, len(context.train), context.seed,
                                     self.name),
                   targets_statement("non-member half of the control rows", m,
                                     len(non_pos_all), context.seed, self.name))

        encoder = TableEncoder(context.schema)

        def enc(df: Any) -> np.ndarray:
            return encoder.transform(df).astype(np.float64)

        x_ref = enc(context.control.iloc[ref_pos])
        x_syn = enc(context.synthetic.iloc[syn_pos])
        x_query = np.vstack([enc(context.train.iloc[member_pos]),
                             enc(context.control.iloc[non_pos])])
        with single_threaded():
            if p["estimator"] == "knn":
                scores, info = _knn_scores(x_syn, x_ref, x_query, int(p["n_neighbors"]))
            else:
                scores, info = _kde_scores(x_syn, x_ref, x_query, n_components, bandwidth,
                                           randomness.child_seed(context.seed, self.name,
                                                                 "projection"))
        # a point far from every kernel can underflow both densities to -inf
        scores = np.nan_to_num(scores, nan=0.0, posinf=1e300, neginf=-1e300)
        details_density = {
            **info,
            "n_reference": int(len(x_ref)),
            "n_synthetic_density": int(len(x_syn)),
            "n_synthetic": int(len(context.synthetic)),
            "targets": list(targets),
            "median_log_ratio_members": float(np.median(scores[:n])),
            "median_log_ratio_nonmembers": float(np.median(scores[n:])),
            "params": dict(p),
        }

        units = membership_units(context, member_pos, non_pos, scores)  # rows, or people
        summary = summarise(units.scores, units.labels, level=context.confidence_level,
                            n_resamples=n_resamples, seed=context.seed, stream=self.name)
        details = {**summary.details(), **units.details, **details_density}
        # exposure of each scored training row (never written to results.json)
        exposure = record_risk_series(member_pos, units.exposure)
        return summary.result(self.name, self.risk_kind, unit="log density ratio",
                              n_trials=units.n_trials, details=details, targets=targets,
                              trials_planned=trials_asked(self.params, max_rows, 2),
                              trials_available=sum(unit_sizes(
                                  context, len(context.train), len(non_pos_all), non_pos_all)),
                              record_risk=exposure)

    def plan(self, context: AttackContext) -> AttackPlan:
        """The leak-free bound of the advantage at this table's sizes (half the control rows
        are the non-members, the other half fit the reference density)."""
        max_rows = self._check(resolve_params(self.name, self.DEFAULTS, self.params))[0]
        sizes = (len(context.train), len(context.control) - len(context.control) // 2)
        n, m = _capped(*sizes, max_rows)
        every = _capped(*sizes, None)  # what the table has without the cap
        if context.persons is not None:  # one trial per person; half the people fit the density
            people = context.persons.n_control
            half = max(1, people - people // 2)
            n, m = unit_sizes(context, n, m)[0], min(m, half)
            return null_plan(n, m, context.confidence_level,
                             f"{n:,} training people against {m:,} control people (the other "
                             "half of the control people fits the reference density)",
                             unit_sizes(context, *every)[0] + min(every[1], half))
        return null_plan(n, m, context.confidence_level,
                         f"{n:,} training rows against {m:,} control rows (the other half of "
                         "the control rows fits the reference density)", sum(every))


#: Added to k-NN radii before the log, so exact copies (radius 0) score finitely.
KNN_EPS = 1e-6


def _knn_scores(x_syn: np.ndarray, x_ref: np.ndarray, x_query: np.ndarray, k: int
                ) -> tuple[np.ndarray, dict[str, Any]]:
    """Log density ratio under k-NN density estimates (Loftsgaarden & Quesenberry 1965).

    ``p(x) ~ k / (n * r_k(x) ** d)``; in the log ratio of two such estimates the sample sizes
    and the dimension ``d`` enter as a constant offset and a positive factor, which change no
    ranking, so the score is ``log r_k,reference(x) - log r_k,synthetic(x)``.
    """
    r_syn = knn_radius(x_syn, x_query, k)
    r_ref = knn_radius(x_ref, x_query, k)
    scores = np.log(r_ref + KNN_EPS) - np.log(r_syn + KNN_EPS)
    return scores, {"density": (
        f"k-nearest-neighbour density estimates (k = {k}) on the schema encoding (one-hot "
        "blocks, numerics scaled to [0, 1]); score = log of the k-th neighbour distance among "
        "the reference rows minus log of that among the synthetic rows")}


def _kde_scores(x_syn: np.ndarray, x_ref: np.ndarray, x_query: np.ndarray, n_components: int,
                bandwidth: float | None, seed: int) -> tuple[np.ndarray, dict[str, Any]]:
    """Log density ratio under Gaussian kernel density estimates in a PCA projection."""
    project = _Projection(x_ref, n_components, seed)
    z_ref, z_syn, z_query = project(x_ref), project(x_syn), project(x_query)
    d = project.dims
    bw_syn = bandwidth or scott_bandwidth(len(z_syn), d)
    bw_ref = bandwidth or scott_bandwidth(len(z_ref), d)
    # rtol: the tree stops refining a sum once it is known to 1e-6 relative error -- far below
    # the differences that decide membership, and much faster.
    log_syn = KernelDensity(bandwidth=bw_syn, rtol=1e-6).fit(z_syn).score_samples(z_query)
    log_ref = KernelDensity(bandwidth=bw_ref, rtol=1e-6).fit(z_ref).score_samples(z_query)
    return log_syn - log_ref, {
        "density": (f"Gaussian kernel density estimates (scikit-learn KernelDensity) in {d} "
                    "PCA dimensions of the schema encoding (PCA fitted on the reference half "
                    "of the control rows, unit-variance components)"),
        "bandwidth": {"synthetic": bw_syn, "reference": bw_ref,
                      "rule": "given" if bandwidth else "Scott"}}


@hookimpl
def privgate_attacks() -> list[type[Attack]]:
    """Register the DOMIAS density-ratio membership attack."""
    return [DensityMembership]
