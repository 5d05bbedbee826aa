"""``shadow-membership``: the black-box shadow-model membership attack on synthetic data.

Following Stadler, Oprisanu & Troncoso (2022, "Synthetic data -- anonymisation groundhog day")
and the TAPAS toolbox (Houssiau et al. 2022): the attacker knows the generator's algorithm and
parameters and holds auxiliary real data from the same population (here: the control rows). For
each target record it trains shadow copies of the generator on auxiliary data *with* and
*without* the target, samples each, summarises every synthetic table relative to the target
(:mod:`privgate.attacks._shadow_features`), and trains a meta-classifier (scikit-learn random
forest) to tell "with" from "without". Applied to the audited synthetic table, the classifier
says for each target whether it was in the real training data.

Targets: half are training members, half are control rows the generator never saw, so the
attack's AUROC over targets is estimable. On each side, ``outlier_share`` of the targets are the
most outlying records by the stated rule (largest mean Euclidean distance, on the schema
encoding, to their ``n_neighbors`` nearest other records among a sample of train and control
rows) -- the records Stadler et al. found most exposed -- and the rest are drawn at random.

Designs: ``"shared"`` (default, as in LiRA, Carlini et al. 2022) fits ``n_shadows`` shadow
generators, each containing a balanced random half of the targets, so one fit serves every
target and each target still gets ``n_shadows / 2`` worlds with and without it; ``"per-target"``
(TAPAS) fits ``n_shadows`` generators per target (``n_targets * n_shadows`` fits). Every fit runs
through the audit's executor (local processes, or Ray).

Limits, stated in the result: shadow training sets hold ``shadow_rows`` rows (default 1,000,
to keep audits fast) while the audited generator saw the whole training table; one record
weighs more in a small training set, so shadow-trained classifiers are calibrated for a
stronger signal than the audited fit leaves. Precision is set by the number of targets: with
the default 100 (50 non-members) the interval is wide and TPR at FPR 0.1% cannot be resolved
(FPR steps of 0.02); the result adds the classifier's ROC curve over all ``n_targets *
n_shadows`` shadow worlds as a figure, and its AUROC in ``details["shadow"]``.

Random streams (:mod:`privgate.randomness`): ``(seed, "shadow-membership", "targets")`` picks
targets, shadow data and designs; shadow fit ``j`` uses ``(seed, "shadow-membership", "fit",
j)``; the meta-classifier ``(seed, "shadow-membership", "meta-classifier")``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import GroupKFold
from sklearn.neighbors import NearestNeighbors

from privgate import Attack, AttackContext, AttackResult, hookimpl, randomness
from privgate.attacks._common import (
    RefitJob,
    auroc,
    check_choice,
    check_int,
    modelled_columns,
    resolve_params,
    single_threaded,
)
from privgate.attacks._membership_metrics import (
    MembershipSummary,
    positions,
    record_risk_series,
    summarise,
)
from privgate.attacks._shadow_features import FEATURE_NAMES, featurise
from privgate.encoding import TableEncoder
from privgate.errors import N_, InputError
from privgate.executor import InlineExecutor
from privgate.figures import LineChart, Series
from privgate.randomness import child_seed

if TYPE_CHECKING:
    pass

DESIGNS = ("shared", "per-target")
#: Trees of the meta-classifier (small training sets: n_targets * n_shadows rows).
N_TREES = 100
#: Folds (grouped by target) of the cross-fitted shadow-world scores.
N_FOLDS = 5
#: Rows per side the outlier rule ranks (a seeded sample when the tables are larger).
MAX_CANDIDATES = 5000


@dataclass(frozen=True)
class ShadowJob(RefitJob):
    """One shadow fit, and the ``targets`` featurised on its sample."""

    targets: pd.DataFrame
    n_neighbors: int


def run_shadow_job(job: ShadowJob) -> np.ndarray:
    """Fit one shadow generator and return the target-relative features of its sample."""
    return featurise(job.targets, job.fit_and_sample(), job.schema, job.n_neighbors)


def outlier_scores(candidates: np.ndarray, n_neighbors: int) -> np.ndarray:
    """Mean distance of each row to its ``n_neighbors`` nearest *other* rows (higher = outlier)."""
    k = min(n_neighbors + 1, len(candidates))
    nn = NearestNeighbors(n_neighbors=k, algorithm="brute", n_jobs=1).fit(candidates)
    with single_threaded():
        dist, _ = nn.kneighbors(candidates)
    return dist[:, 1:].mean(axis=1) if k > 1 else np.zeros(len(candidates))


class ShadowMembership(Attack):
    """Shadow-model membership inference (Stadler et al. / TAPAS); risk = membership advantage."""

    name: ClassVar[str] = "shadow-membership"
    risk_kind: ClassVar[str] = "membership"
    default: ClassVar[bool] = False  # trains many generators: runs only when named
    requires_generator: ClassVar[bool] = True  # shadows are copies of the fitted generator
    description: ClassVar[str] = (
        "Black-box shadow-model membership inference: shadow copies of the generator trained "
        "with and without each target teach a classifier what a target's presence looks like "
        "in synthetic data (risk = max TPR - FPR over targets).")
    explanation: ClassVar[str] = (
        "The simulated adversary knows which generator and settings were used and has real "
        "data from the same population. For each person it wants to test, it trains copies of "
        "the generator on its own data, some with that person's record added and some without, "
        "and learns what the person's presence changes in the synthetic output (how close and "
        "how many synthetic records look like them). It then looks at the released synthetic "
        "table and guesses whether the person was in the real training data. We test it on "
        "people who were in the training data and people who were not, favouring unusual "
        "records, who are the most exposed. The risk is the membership advantage (TPR - FPR at "
        "the best threshold); 0 means the synthetic table gives no clue, 1 means every tested "
        "member can be told apart.")
    references: ClassVar[tuple[str, ...]] = (
        "Stadler, Oprisanu & Troncoso (2022). Synthetic data -- anonymisation groundhog day. "
        "USENIX Security.",
        "Houssiau, Jordon, Cohen, Daniel, Elliott, Geddes, Mouton, Rosen, Shafi & Wood (2022). "
        "TAPAS: a toolbox for adversarial privacy auditing of synthetic data. NeurIPS "
        "SyntheticData4ML workshop.",
        "Shokri, Stronati, Song & Shmatikov (2017). Membership inference attacks against "
        "machine learning models. IEEE S&P.",
        "Carlini et al. (2022). Membership inference attacks from first principles. IEEE S&P "
        "(TPR at low FPR, shared shadow models).",
    )

    DEFAULTS: ClassVar[dict[str, Any]] = {
        "n_targets": 100,
        "n_shadows": 8,
        "shadow_rows": 1000,
        "outlier_share": 0.5,
        "design": "shared",
        "max_synthetic_rows": 50000,
        "n_neighbors": 5,
        "n_resamples": 500,
    }

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._check(resolve_params(self.name, self.DEFAULTS, params))

    def _check(self, p: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "n_targets": check_int(self.name, p, "n_targets", 4),
            "n_shadows": check_int(self.name, p, "n_shadows", 2),
            "shadow_rows": check_int(self.name, p, "shadow_rows", 10),
            "design": check_choice(self.name, p, "design", DESIGNS),
            "max_synthetic_rows": check_int(self.name, p, "max_synthetic_rows", 10),
            "n_neighbors": check_int(self.name, p, "n_neighbors", 1),
            "n_resamples": check_int(self.name, p, "n_resamples", 50),
        }
        if out["design"] == "shared" and out["shadow_rows"] < out["n_targets"]:
            raise InputError(N_("attack %(name)r: with design 'shared' every shadow training "
                                "set may hold up to all %(n_targets)s targets; raise "
                                "'shadow_rows' (now %(shadow_rows)s) to at least 'n_targets'"),
                             name=self.name, n_targets=out['n_targets'],
                             shadow_rows=out['shadow_rows'])
        if out["n_shadows"] % 2:
            raise InputError(N_("attack %(name)r: parameter 'n_shadows' must be even (half the "
                                "shadow worlds hold the target, half do not), got %(n_shadows)s"),
                             name=self.name, n_shadows=out['n_shadows'])
        share = p["outlier_share"]
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
            raise InputError(N_("attack %(name)r: parameter 'outlier_share' must be a number in "
                                "[0, 1], got %(share)r"), name=self.name, share=share)
        out["outlier_share"] = float(share)
        return out

    # -- targets ------------------------------------------------------------------------------

    def _pick_targets(self, context: AttackContext, q: dict[str, Any],
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Positions of member targets (in train) and non-member targets (in control)."""
        per_side = q["n_targets"] // 2
        if len(context.train) < per_side or len(context.control) < per_side + q["shadow_rows"]:
            raise InputError(N_("attack %(name)r: needs at least %(per_side)s training rows and "
                                "%(per_side2)s control rows (%(per_side)s non-member targets "
                                "plus shadow_rows=%(shadow_rows)s rows of auxiliary data); "
                                "lower 'n_targets' or 'shadow_rows'"),
                             name=self.name, per_side=per_side,
                             per_side2=per_side + q['shadow_rows'], shadow_rows=q['shadow_rows'])
        encoder = TableEncoder(context.schema)
        cand_m = positions(len(context.train), MAX_CANDIDATES, rng)
        cand_n = positions(len(context.control), MAX_CANDIDATES, rng)
        x = np.vstack([encoder.transform(context.train.iloc[cand_m]),
                       encoder.transform(context.control.iloc[cand_n])]).astype(np.float64)
        score = outlier_scores(x, q["n_neighbors"])
        n_out = int(round(q["outlier_share"] * per_side))
        chosen: list[np.ndarray] = []
        kinds: list[str] = []
        for cand, s in ((cand_m, score[:len(cand_m)]), (cand_n, score[len(cand_m):])):
            order = np.argsort(-s, kind="mergesort")
            outliers = order[:n_out]
            rest = order[n_out:]
            randoms = rng.choice(rest, size=per_side - n_out, replace=False)
            chosen.append(cand[np.r_[outliers, randoms].astype(int)])
            kinds += ["outlier"] * n_out + ["random"] * (per_side - n_out)
        return chosen[0], chosen[1], kinds

    # -- shadow worlds -----------------------------------------------------------------------

    def _jobs(self, context: AttackContext, q: dict[str, Any], targets: pd.DataFrame,
              pool: pd.DataFrame, n_synthetic: int, rng: np.random.Generator
              ) -> tuple[list[ShadowJob], list[tuple[int, np.ndarray]], np.ndarray]:
        """The shadow fits, which job rows belong to which target, and the in/out labels."""
        gen = context.generator
        assert gen is not None
        n_t, k = len(targets), q["n_shadows"]
        rows = min(q["shadow_rows"], len(pool) + 1)
        # each target: a balanced random half of its k worlds hold it
        design = np.array([rng.permutation(np.r_[np.ones(k // 2), np.zeros(k // 2)])
                           for _ in range(n_t)], dtype=int)
        jobs: list[ShadowJob] = []
        index: list[tuple[int, np.ndarray]] = []  # (job, target positions) per job

        def job(inserted: np.ndarray, featurised: np.ndarray) -> ShadowJob:
            aux = pool.iloc[rng.choice(len(pool), size=rows - len(inserted), replace=False)]
            data = pd.concat([aux, targets.iloc[inserted]], ignore_index=True)
            data = data.iloc[rng.permutation(len(data))].reset_index(drop=True)
            return ShadowJob(type(gen), gen.get_params(), context.schema, context.budget, data,
                             n_synthetic, child_seed(context.seed, self.name, "fit", len(jobs)),
                             targets.iloc[featurised].reset_index(drop=True), q["n_neighbors"])

        if q["design"] == "shared":
            for j in range(k):
                jobs.append(job(np.nonzero(design[:, j])[0], np.arange(n_t)))
                index.append((j, np.arange(n_t)))
        else:
            for t in range(n_t):
                for j in range(k):
                    inserted = np.array([t]) if design[t, j] else np.array([], dtype=int)
                    jobs.append(job(inserted, np.array([t])))
                    index.append((len(jobs) - 1, np.array([t])))
        return jobs, index, design

    # -- the attack --------------------------------------------------------------------------

    def run(self, context: AttackContext) -> AttackResult:
        """Train shadows, fit the meta-classifier, score the targets on the audited table."""
        p = resolve_params(self.name, self.DEFAULTS, self.params)
        q = self._check(p)
        modelled_columns(self.name, context)
        if context.generator is None:
            raise InputError(N_("attack %(name)r needs the generator that made the synthetic "
                                "table (to train shadow copies of it); a synthetic table "
                                "supplied as a file has none. Audit with --generator NAME, or "
                                "remove this attack from the config"), name=self.name)
        rng = randomness.rng(context.seed, self.name, "targets")
        member_pos, non_pos, kinds = self._pick_targets(context, q, rng)
        targets = pd.concat([context.train.iloc[member_pos], context.control.iloc[non_pos]],
                            ignore_index=True)
        labels = np.r_[np.ones(len(member_pos), dtype=int), np.zeros(len(non_pos), dtype=int)]
        keep = np.ones(len(context.control), dtype=bool)
        keep[non_pos] = False
        pool = context.control.iloc[np.nonzero(keep)[0]]  # auxiliary data: control - targets
        n_synthetic = min(len(context.synthetic), q["max_synthetic_rows"])
        released = context.synthetic.iloc[positions(len(context.synthetic), n_synthetic, rng)]

        jobs, index, design = self._jobs(context, q, targets, pool, n_synthetic, rng)
        executor = context.executor or InlineExecutor()
        outputs = executor.map(run_shadow_job, jobs)

        n_t, k = design.shape
        x_shadow, y_shadow, owner = _worlds(index, outputs, design, q["design"] == "shared")
        meta_seed = child_seed(context.seed, self.name, "meta-classifier")
        shadow_scores = self._cross_fitted(x_shadow, y_shadow, owner, meta_seed)
        per_target_auc = [auroc(shadow_scores[owner == t], y_shadow[owner == t])
                          for t in range(n_t)]

        meta = self._meta(x_shadow, y_shadow, meta_seed)
        x_real = featurise(targets, released, context.schema, q["n_neighbors"])
        scores = meta.predict_proba(x_real)[:, 1]

        level = context.confidence_level
        summary = summarise(scores, labels, level=level, n_resamples=q["n_resamples"],
                            seed=context.seed, stream=self.name)
        shadow_summary = summarise(shadow_scores, y_shadow, level=level,
                                   n_resamples=q["n_resamples"], seed=context.seed,
                                   stream=f"{self.name} shadow worlds")
        n_out = int(round(q["outlier_share"] * (q["n_targets"] // 2)))
        details = {
            **summary.details(),
            "per_target": [
                {"role": "member" if labels[t] else "non-member", "selection": kinds[t],
                 "score": float(scores[t]), "shadow_auroc": per_target_auc[t]}
                for t in range(n_t)],
            "shadow": {
                "auroc": shadow_summary.auroc, "auroc_ci": list(shadow_summary.auroc_ci),
                "advantage": shadow_summary.advantage,
                "worlds": int(n_t * k),
                "note": ("the meta-classifier's accuracy across the shadow worlds, each "
                         "target scored by a classifier trained on the other targets' worlds "
                         "(5-fold cross-fitting grouped by target); measured at "
                         "shadow_rows training rows"),
            },
            "shadow_fits": len(jobs),
            "design": q["design"],
            "shadow_rows": min(q["shadow_rows"], len(pool) + 1),
            "n_train": int(len(context.train)),
            "n_synthetic_featurised": int(n_synthetic),
            "features": list(FEATURE_NAMES),
            "meta_classifier": f"scikit-learn RandomForestClassifier ({N_TREES} trees)",
            "target_rule": (
                f"{q['n_targets'] // 2} training members and {q['n_targets'] // 2} unseen "
                f"control rows; on each side {n_out} are the most outlying (largest mean "
                f"Euclidean distance on the schema encoding to their {q['n_neighbors']} "
                f"nearest other rows among up to "
                f"{MAX_CANDIDATES} train and {MAX_CANDIDATES} control rows), the rest random"),
            "executor": executor.describe(),
            "params": dict(p),
        }
        exposure = record_risk_series(member_pos, scores[:len(member_pos)])  # not in results
        return summary.result(
            self.name, self.risk_kind, unit="meta-classifier score of a target", n_trials=n_t,
            trials_planned=q["n_targets"], details=details, record_risk=exposure,
            figures=(_shadow_roc(shadow_summary, n_t * k),))

    def _cross_fitted(self, x: np.ndarray, y: np.ndarray, owner: np.ndarray, seed: int
                      ) -> np.ndarray:
        """Per-target vulnerability in the shadow worlds: each target's worlds scored by a
        meta-classifier trained on the other targets' worlds (folds grouped by target)."""
        scores = np.zeros(len(y))
        folds = GroupKFold(n_splits=min(N_FOLDS, len(np.unique(owner))))
        for fit_rows, held_rows in folds.split(x, y, groups=owner):
            scores[held_rows] = self._meta(x[fit_rows], y[fit_rows], seed).predict_proba(
                x[held_rows])[:, 1]
        return scores

    @staticmethod
    def _meta(x: np.ndarray, y: np.ndarray, seed: int) -> RandomForestClassifier:
        model = RandomForestClassifier(n_estimators=N_TREES, min_samples_leaf=1,
                                       random_state=seed, n_jobs=1)
        with single_threaded():
            return model.fit(x, y)


def _worlds(index: list[tuple[int, np.ndarray]], outputs: list[np.ndarray], design: np.ndarray,
            shared: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shadow jobs' features as one row per (target, world), whether the world held the
    target, and which target each row is about."""
    n_t, k = design.shape
    feats = np.zeros((n_t, k, len(FEATURE_NAMES)))
    seen = np.zeros(n_t, dtype=int)
    for (job_i, target_idx), out in zip(index, outputs, strict=True):
        for row, t in enumerate(target_idx):
            world = job_i if shared else seen[t]
            feats[t, world] = out[row]
            seen[t] += not shared
    return (feats.reshape(n_t * k, len(FEATURE_NAMES)), design.reshape(n_t * k),
            np.repeat(np.arange(n_t), k))


def _shadow_roc(summary: MembershipSummary, worlds: int) -> LineChart:
    """The meta-classifier's ROC curve across the shadow worlds, as a chart for the report."""
    return LineChart(
        title=f"ROC of the meta-classifier across {worlds} shadow worlds",
        series=(Series("meta-classifier", summary.roc.fpr, summary.roc.tpr),),
        caption=("How well the attacker's classifier told, in its own shadow worlds, whether a "
                 f"target was in the training data (AUROC {summary.auroc:.3g}; the dashed "
                 "line is guessing). The attack on the released table is the ROC curve above."),
        x_label="false-positive rate (log scale)", y_label="true-positive rate",
        x_log=True, diagonal=True)


@hookimpl
def privgate_attacks() -> list[type[Attack]]:
    """Register the shadow-model membership attack."""
    return [ShadowMembership]
