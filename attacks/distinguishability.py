"""Distinguishability: can a classifier tell real training rows from synthetic rows?

A gradient-boosted tree classifier is cross-validated on a balanced mix of real training rows and
synthetic rows. Its out-of-fold AUROC measures how distinguishable the two tables are; the risk
is the distinguishability score ``2 * (AUROC - 0.5)``, clipped to [0, 1] (0: a coin flip, 1: the
classifier separates every row).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedGroupKFold

from privgate import Attack, AttackContext, AttackResult, Kind, Schema, hookimpl, randomness
from privgate.attacks._common import (
    auroc,
    bootstrap_interval,
    check_int,
    downsample_roc,
    jsonable,
    modelled_columns,
    resolve_params,
    roc_arrays,
    single_threaded,
    subsample,
)
from privgate.encoding import category_key, is_missing, to_numeric
from privgate.errors import N_, InputError
from privgate.evidence import Estimate, Interval
from privgate.stats import clamp01

#: HistGradientBoosting's native categorical support takes at most this many categories.
_MAX_NATIVE_CATEGORIES = 255


def encode_features(df: pd.DataFrame, schema: Schema, names: list[str]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Encode ``df[names]`` for HistGradientBoosting using only the schema's declared domain.

    Categorical columns become the index of the value in the declared category list (values
    outside it and missing values become NaN, which the trees route on their own); numeric
    columns their float value (datetimes as epoch seconds). Returns the matrix and the mask of
    columns handled as native categorical features (those with at most 255 categories; larger
    category lists are treated as ordinal codes).
    """
    matrix = np.empty((len(df), len(names)), dtype=float)
    categorical = np.zeros(len(names), dtype=bool)
    for j, name in enumerate(names):
        col = schema[name]
        if col.kind is Kind.CATEGORICAL and col.categories is not None:
            lookup = {category_key(c): float(i) for i, c in enumerate(col.categories)}
            matrix[:, j] = [np.nan if is_missing(v) else lookup.get(category_key(v), np.nan)
                            for v in df[name].tolist()]
            categorical[j] = len(col.categories) <= _MAX_NATIVE_CATEGORIES
        else:
            matrix[:, j] = to_numeric(df[name], col).to_numpy(dtype=float)
    return matrix, categorical


class Distinguishability(Attack):
    """Cross-validated real-vs-synthetic classifier; risk = ``clamp01(2 * (AUROC - 0.5))``."""

    name: ClassVar[str] = "distinguishability"
    risk_kind: ClassVar[str] = "distinguishability"
    description: ClassVar[str] = (
        "How well a gradient-boosted classifier tells real training rows from synthetic rows "
        "(cross-validated AUROC, rescaled to [0, 1]).")
    explanation: ClassVar[str] = (
        "The simulated adversary holds both the real training rows and the synthetic rows, "
        "labelled, and trains a machine-learning classifier to tell them apart. It is tested "
        "on rows it did not train on. If the classifier cannot do better than flipping a coin "
        "(score 0), the synthetic rows look statistically like the real ones; a score near 1 "
        "means the synthetic table is easy to tell from real data. This is a measure of "
        "fidelity rather than of harm to any one person: a high score says the generator did "
        "not reproduce the real distribution, a low score says nothing about whether "
        "individual records were copied (the membership and singling-out attacks test that).")
    references: ClassVar[tuple[str, ...]] = (
        "Lopez-Paz & Oquab (2017). Revisiting classifier two-sample tests. ICLR.",
        "Hanley & McNeil (1982). The meaning and use of the area under a receiver operating "
        "characteristic (ROC) curve. Radiology 143(1).",
        "Ke et al. (2017). LightGBM: a highly efficient gradient boosting decision tree. "
        "NeurIPS (the histogram algorithm behind scikit-learn's HistGradientBoostingClassifier).",
    )

    DEFAULTS: ClassVar[dict[str, Any]] = {
        "max_rows": 5000,
        "folds": 5,
        "max_iter": 100,
        "n_resamples": 500,
    }

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._settings()  # a bad type or range is refused here, before any slow work

    def _settings(self) -> tuple[dict[str, Any], int, int, int, int]:
        p = resolve_params(self.name, self.DEFAULTS, self.params)
        return (p, check_int(self.name, p, "max_rows", 10), check_int(self.name, p, "folds", 2),
                check_int(self.name, p, "max_iter", 1), check_int(self.name, p, "n_resamples", 50))

    def run(self, context: AttackContext) -> AttackResult:
        """Cross-validate the classifier and report the distinguishability score."""
        p, max_rows, folds, max_iter, n_resamples = self._settings()
        names = modelled_columns(self.name, context, frames=("train", "synthetic"))

        rng = randomness.rng(context.seed, self.name, "rows")
        n = min(len(context.train), len(context.synthetic), max_rows)
        if n < folds:
            raise InputError(N_("attack %(name)r: need at least %(folds)s rows in both the "
                                "training and synthetic tables (got %(n)s)"),
                             name=self.name, folds=folds, n=n)
        real = subsample(context.train[names], n, rng)
        synth = subsample(context.synthetic[names], n, rng)
        x_real, categorical = encode_features(real, context.schema, names)
        x_synth, _ = encode_features(synth, context.schema, names)
        x = np.vstack([x_real, x_synth])
        y = np.r_[np.ones(n, dtype=int), np.zeros(n, dtype=int)]

        scores, folds = self._out_of_fold(x, y, categorical, folds, max_iter, context.seed)
        auc = auroc(scores, y)
        auc_low, auc_high = bootstrap_interval(
            auroc, scores, y, estimate=auc, level=context.confidence_level,
            n_resamples=n_resamples,
            seed=randomness.child_seed(context.seed, self.name, "bootstrap"))
        risk = _score(auc)
        ci_low, ci_high = min(_score(auc_low), risk), max(_score(auc_high), risk)
        # one-sided bounds: the percentiles at the full alpha (5% and 95% at level 0.95)
        one_low, one_high = bootstrap_interval(
            auroc, scores, y, estimate=auc, level=2 * context.confidence_level - 1,
            n_resamples=n_resamples,
            seed=randomness.child_seed(context.seed, self.name, "bootstrap"))
        fpr, tpr = roc_arrays(scores, y)
        details = {
            "n_real": n,
            "n_synthetic": n,
            "folds": folds,
            "cross_validation": "StratifiedGroupKFold, identical rows kept in one fold",
            "classifier": f"HistGradientBoostingClassifier(max_iter={max_iter}, "
                          "native categorical features)",
            "categorical_features": [nm for nm, c in zip(names, categorical, strict=True) if c],
            "params": dict(p),
        }
        interval_method = (f"paired percentile bootstrap ({n_resamples} resamples of the "
                           "scored rows, scipy.stats.bootstrap)")
        return AttackResult(
            attack=self.name,
            risk_kind=self.risk_kind,
            risk=risk,
            ci_low=ci_low,
            ci_high=ci_high,
            confidence_level=context.confidence_level,
            interval_method=(
                f"{interval_method} of the out-of-fold AUROC, mapped through "
                "clamp01(2*(AUROC-0.5)); the classifiers are not refitted per resample"),
            baseline=0.0,
            baseline_description=(
                "a classifier that cannot tell real from synthetic rows (AUROC 0.5, a coin "
                "flip) scores 0"),
            n_trials=int(len(y)),
            details=jsonable(details),
            null_upper=_null_upper(y, context.confidence_level),
            trials_planned=max(2 * max_rows, int(len(y))),
            trials_available=2 * min(len(context.train), len(context.synthetic)),
            upper_bound=max(_score(one_high), risk), lower_bound=min(_score(one_low), risk),
            bound_method=(f"{interval_method} of the out-of-fold AUROC at the full alpha "
                          "(one-sided percentiles), mapped through clamp01(2*(AUROC-0.5)); the "
                          "classifiers are not refitted per resample"),
            roc=downsample_roc(fpr, tpr),
            auroc=Estimate(auc, Interval(auc_low, auc_high, context.confidence_level,
                                         interval_method)),
        )


    def _out_of_fold(self, x: np.ndarray, y: np.ndarray, categorical: np.ndarray, folds: int,
                     max_iter: int, seed: int) -> tuple[np.ndarray, int]:
        """Each row's score from a classifier that did not see it, and the folds used."""
        scores = np.full(len(y), 0.5)  # uninformative until a fold scores the row
        # Identical rows (a real row and its synthetic copy, or repeated rows) share a group and
        # so a fold: otherwise the classifier memorises a copy's opposite label in training and
        # scores it "wrong" in testing, pushing the AUROC of a verbatim copy far below 0.5.
        _, groups = np.unique(np.nan_to_num(x, nan=-1e300), axis=0, return_inverse=True)
        groups = groups.ravel()
        # Few distinct rows (e.g. two binary columns) leave fewer groups than folds: use as
        # many folds as there are groups; with a single distinct row nothing can tell the two
        # tables apart, and every row keeps the uninformative score 0.
        folds = min(folds, len(np.unique(groups)))
        splitter = StratifiedGroupKFold(
            n_splits=max(folds, 2), shuffle=True,
            random_state=randomness.child_seed(seed, self.name, "folds"))
        splits = splitter.split(x, y, groups) if folds >= 2 else ()
        for fold, (fit_idx, test_idx) in enumerate(splits):
            if len(np.unique(y[fit_idx])) < 2:  # a fold with one class cannot be fitted
                continue
            model = HistGradientBoostingClassifier(
                max_iter=max_iter, categorical_features=categorical if categorical.any()
                else None, early_stopping=False,
                random_state=randomness.child_seed(seed, self.name, "classifier", fold))
            with single_threaded():
                model.fit(x[fit_idx], y[fit_idx])
                scores[test_idx] = model.predict_proba(x[test_idx])[:, 1]
        return scores, folds


def _null_upper(y: np.ndarray, level: float) -> float:
    """One-sided upper bound of the score on indistinguishable tables of this size.

    At AUROC 0.5 the AUROC's standard error is ``sqrt((n1 + n2 + 1) / (12 n1 n2))`` (the
    Mann-Whitney null variance); the score is ``2 * (AUROC - 0.5)``.
    """
    n1, n2 = int(np.sum(y == 1)), int(np.sum(y == 0))
    if n1 == 0 or n2 == 0:
        return 1.0
    z = float(stats.norm.ppf(level))
    return 2.0 * z * math.sqrt((n1 + n2 + 1) / (12.0 * n1 * n2))


def _score(auc: float) -> float:
    """Distinguishability score ``clamp01(2 * (AUROC - 0.5))`` (0 for an undefined AUROC)."""
    if math.isnan(auc):
        return 0.0
    return clamp01(2.0 * (auc - 0.5))


@hookimpl
def privgate_attacks() -> list[type[Attack]]:
    """Register the distinguishability attack."""
    return [Distinguishability]
