"""The ``augmentation`` metric: does synthetic data help a classifier find scarce positive cases?

The classic evaluation for rare-class augmentation in medical data: a classifier for the
schema's target is trained three ways and tested on the real control rows, scoring the
minority class:

(a) ``real``: the real training rows as they are;
(b) ``real+smote``: the real rows plus SMOTE-interpolated minority rows (imbalanced-learn's
    SMOTENC when there are categorical features, SMOTE otherwise) until the classes balance;
(c) ``real+generator``: the real rows plus minority rows drawn from the audited generator with
    ``sample(k, conditions={target: minority})`` until the classes balance.

For each arm it reports accuracy, recall, precision, F1 and AUROC of the minority class with
intervals at the audit's confidence level: Wilson score intervals for the three proportions
(accuracy over the test rows, recall over the minority test rows, precision over the rows
predicted minority) and percentile bootstrap intervals for F1 and AUROC. The headline value is
the F1 of arm (c) with its interval, or ``None`` when the generator cannot sample under
conditions. The report shows a table of the three arms and a bar chart of their F1.

Nothing here is released: SMOTE and the classifier see real rows only to evaluate; the
generator's samples are post-processing of its (private) model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from privgate import hookimpl
from privgate.errors import N_, InputError
from privgate.evidence import Interval
from privgate.figures import BarChart, Table
from privgate.metric import Metric, MetricContext, MetricResult
from privgate.plugins.metrics._common import (
    FeatureEncoder,
    binary_auroc,
    check_params,
    ci_text,
    finite,
    labels,
    positive_int,
    require_columns,
)
from privgate.randomness import child_seed
from privgate.schema import Schema
from privgate.stats import binomial_ci, bootstrap_ci

ARMS = ("real", "real+smote", "real+generator")
#: How the report names each arm.
ARM_LABELS = {"real": "Real rows only", "real+smote": "Real rows + SMOTE rows",
              "real+generator": "Real rows + generated minority rows"}
#: The measures of each arm, as the table shows them.
#: What the metric's ``baseline`` is (the report shows it as "before" beside the value).
REAL_ONLY_BASELINE = "real rows only"
MEASURES = (("recall", "Recall"), ("precision", "Precision"), ("f1", "F1"), ("auroc", "AUROC"),
            ("accuracy", "Accuracy"))


class AugmentationMetric(Metric):
    """Minority-class performance of a classifier trained on real rows, on real rows plus SMOTE
    rows, and on real rows plus conditionally generated minority rows.

    Parameters:
        target: the column to predict (default: the schema's target column).
        minority_class: the scarce class of interest (default: the rarest class of the target
            in the real training rows).
        max_iter: boosting iterations of the HistGradientBoostingClassifier (default 100).
        n_resamples: bootstrap resamples for the F1 and AUROC intervals (default 300).
        k_neighbors: SMOTE's neighbourhood size (default 5; reduced for tiny minorities).
        max_generated: cap on generated minority rows (default 200,000).
        n_threads: OpenMP threads for the classifier (default 1).
    """

    name = "augmentation"
    description = ("Rare-class augmentation: minority-class F1 on the real control rows of a "
                   "classifier trained on the real rows plus minority rows sampled from the "
                   "generator until the classes balance; details compare real-only and "
                   "real+SMOTE training, with accuracy, recall, precision, F1 and AUROC; "
                   "higher is better.")
    title = "Rare-class augmentation (minority-class F1)"
    assumptions = ("One classifier for one target column, scored on the minority class of the "
                   "real control rows; other models or tasks may gain more or less.")
    references = ("N. V. Chawla, K. W. Bowyer, L. O. Hall, W. P. Kegelmeyer, SMOTE: Synthetic "
                  "Minority Over-sampling Technique, JAIR 16 (2002).",)
    defaults: dict[str, Any] = {"target": None, "minority_class": None, "max_iter": 100,
                                "n_resamples": 300, "k_neighbors": 5, "max_generated": 200_000,
                                "n_threads": 1}

    def __init__(self, **params: Any) -> None:
        super().__init__(**check_params(self.name, params, self.defaults))
        for key in ("max_iter", "n_resamples", "k_neighbors", "max_generated", "n_threads"):
            positive_int(self.name, key, self.params[key])
        target = self.params["target"]
        if target is not None and not isinstance(target, str):
            raise InputError(N_("metric %(name)r: parameter 'target' must be a column name, got "
                                "%(target)r"), name=self.name, target=target)

    def _skip(self, target: str | None, reason: str) -> MetricResult:
        return MetricResult(self.name, None, self.description,
                            {"skipped": reason, "target": target})

    def compute(self, context: MetricContext) -> MetricResult:
        """Train the three arms and score each on the control rows."""
        schema: Schema = context.schema
        target = self.params["target"] or schema.target
        if target is None:
            return self._skip(None, "no target column declared (set schema.target)")
        if target not in schema or schema[target].is_dropped:
            raise InputError(N_("metric %(name)r: target %(target)r is not a modelled column of "
                                "the schema"), name=self.name, target=target)
        features = [c for c in schema.modelled if c.name != target]
        require_columns(self.name, {"training": context.train, "control": context.control},
                        [c.name for c in features] + [target])
        if not features:
            return self._skip(target, "no feature columns besides the target")

        y_train_all, y_test_all = labels(context.train[target]), labels(context.control[target])
        keep_train = np.array([v is not None for v in y_train_all], dtype=bool)
        keep_test = np.array([v is not None for v in y_test_all], dtype=bool)
        counts = pd.Series(y_train_all[keep_train]).value_counts()
        if len(counts) < 2:
            return self._skip(target, "the training rows show fewer than two target classes")
        if self.params["minority_class"] is not None:
            minority = str(self.params["minority_class"])
            if minority not in counts.index:
                raise InputError(N_("metric %(name)r: minority_class %(minority)r does not "
                                    "occur in the training rows' %(target)r (classes: "
                                    "%(classes)s)"),
                                 name=self.name, minority=minority, target=target,
                                 classes=sorted(counts.index))
        else:
            # Minority: the rarest class in the real training rows (ties: sorted order).
            minority = min(counts.index, key=lambda c: (int(counts[c]), c))
        # The classifier separates the minority from the rest; balanced = as many of each.
        rest_n = int(counts.sum()) - int(counts[minority])
        deficit = rest_n - int(counts[minority])
        y_test = y_test_all[keep_test] == minority
        if y_test.all() or not y_test.any():
            return self._skip(target, f"the control rows do not show both the minority class "
                              f"{minority!r} and another class")

        encoder = FeatureEncoder(features, context.train)
        raw_train = encoder.transform(context.train)[keep_train]
        fill = _fill_values(raw_train, encoder.mask)
        x_train = _impute(raw_train, fill)
        y_train = y_train_all[keep_train] == minority
        x_test = _impute(encoder.transform(context.control)[keep_test], fill)
        level = float(context.confidence_level)

        arms: dict[str, dict[str, Any]] = {}
        arms["real"] = self._evaluate(x_train, y_train, x_test, y_test, encoder, context, "real")
        smote = self._smote(x_train, y_train, encoder, context, deficit)
        arms["real+smote"] = (self._evaluate(*smote, x_test, y_test, encoder, context,
                                             "real+smote")
                              if isinstance(smote, tuple) else {"skipped": smote})
        generated = self._generated(context, target, minority, deficit, encoder)
        if not isinstance(generated, str):
            generated = _impute(generated, fill)
        if isinstance(generated, str):
            arms["real+generator"] = {"skipped": generated}
        else:
            x_aug = np.vstack([x_train, generated])
            y_aug = np.concatenate([y_train, np.ones(len(generated), dtype=bool)])
            arms["real+generator"] = self._evaluate(x_aug, y_aug, x_test, y_test, encoder,
                                                    context, "real+generator")
            arms["real+generator"]["n_generated"] = int(len(generated))
        details: dict[str, Any] = {
            "target": target, "minority_class": minority,
            "training_counts": {str(k): int(v) for k, v in counts.items()},
            "n_test": int(len(y_test)), "n_test_minority": int(y_test.sum()),
            "arms": arms, "confidence_level": level,
            "interval_methods": {
                "accuracy, recall, precision": "Wilson score",
                "f1, auroc": f"bootstrap percentile, {int(self.params['n_resamples'])} "
                             "resamples of the control rows"},
            "classifier": "HistGradientBoostingClassifier",
        }
        best = arms["real+generator"]
        value, ci = finite(best.get("f1")), best.get("f1_ci")
        interval = (None if value is None or ci is None else Interval(
            ci[0], ci[1], level, details["interval_methods"]["f1, auroc"]))
        return MetricResult(self.name, value, self.description, details, interval=interval,
                            figures=figures(target, minority, arms),
                            baseline=finite(arms["real"].get("f1")),
                            baseline_description=REAL_ONLY_BASELINE)

    def _smote(self, x: np.ndarray, y: np.ndarray, encoder: FeatureEncoder,
               context: MetricContext, deficit: int) -> tuple[np.ndarray, np.ndarray] | str:
        """Real rows plus SMOTE rows of the minority until balanced, or the reason it cannot."""
        from imblearn.over_sampling import SMOTE, SMOTENC

        n_min = int(y.sum())
        if deficit <= 0:
            return x, y
        if n_min < 2:
            return "SMOTE needs at least two minority rows to interpolate"
        filled = x
        k = min(int(self.params["k_neighbors"]), n_min - 1)
        if encoder.mask.any() and not encoder.mask.all():
            # imbalanced-learn wants a list here: an index array trips its "auto" check.
            cat_idx = [int(j) for j in np.nonzero(encoder.mask)[0]]
            sampler: Any = SMOTENC(categorical_features=cat_idx, k_neighbors=k,
                                   random_state=child_seed(context.seed, self.name, "smote"))
        elif encoder.mask.all():
            return "every feature is categorical; SMOTE interpolates numeric features"
        else:
            sampler = SMOTE(k_neighbors=k,
                            random_state=child_seed(context.seed, self.name, "smote"))
        x_res, y_res = sampler.fit_resample(filled, y.astype(int))
        return np.asarray(x_res, dtype=float), np.asarray(y_res).astype(bool)

    def _generated(self, context: MetricContext, target: str, minority: str, deficit: int,
                   encoder: FeatureEncoder) -> np.ndarray | str:
        """Feature rows of ``deficit`` generator samples conditioned on the minority class."""
        generator = context.generator
        if generator is None:
            return "no fitted generator (the synthetic table was supplied as a file)"
        if not getattr(generator, "supports_conditions", False):
            return f"generator {generator.name!r} cannot sample under conditions"
        if deficit <= 0:
            return np.empty((0, len(encoder.columns)))
        column = context.schema[target]
        value: Any = minority
        for cat in column.categories or ():
            if str(labels(pd.Series([cat]))[0]) == minority:
                value = cat
                break
        k = min(deficit, int(self.params["max_generated"]))
        rows = generator.sample(k, seed=child_seed(context.seed, self.name, "generated rows"),
                                conditions={target: value})
        return encoder.transform(rows)

    def _evaluate(self, x: np.ndarray, y: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                  encoder: FeatureEncoder, context: MetricContext, arm: str) -> dict[str, Any]:
        model = HistGradientBoostingClassifier(
            max_iter=int(self.params["max_iter"]), categorical_features=encoder.mask,
            random_state=child_seed(context.seed, self.name, "classifier", arm))
        with threadpool_limits(limits=int(self.params["n_threads"]), user_api="openmp"):
            model.fit(x, y)
            proba = model.predict_proba(x_test)
        classes = list(model.classes_)
        score = proba[:, classes.index(True)] if True in classes else np.zeros(len(x_test))
        pred = score >= 0.5
        level = float(context.confidence_level)
        n = len(y_test)
        tp = int((pred & y_test).sum())
        out: dict[str, Any] = {"n_train": int(len(y)), "n_train_minority": int(y.sum())}
        correct = int((pred == y_test).sum())
        out["accuracy"], out["accuracy_ci"] = correct / n, list(binomial_ci(correct, n, level))
        pos = int(y_test.sum())
        out["recall"], out["recall_ci"] = tp / pos, list(binomial_ci(tp, pos, level))
        npred = int(pred.sum())
        if npred:
            out["precision"] = tp / npred
            out["precision_ci"] = list(binomial_ci(tp, npred, level))
        else:
            out["precision"], out["precision_ci"] = None, None
        out["f1"] = _f1(y_test, pred)
        out["auroc"] = finite(binary_auroc(y_test, score))
        resamples = int(self.params["n_resamples"])
        seed = child_seed(context.seed, self.name, "bootstrap", arm)
        idx = np.arange(n)
        for key, fn in (("f1", lambda i: _f1(y_test[i.astype(int)], pred[i.astype(int)])),
                        ("auroc", lambda i: binary_auroc(y_test[i.astype(int)],
                                                         score[i.astype(int)]))):
            if out[key] is None:
                out[f"{key}_ci"] = None
                continue
            lo, hi = bootstrap_ci(fn, [idx], level=level, n_resamples=resamples, seed=seed)
            flo, fhi = finite(lo), finite(hi)
            out[f"{key}_ci"] = [flo, fhi] if flo is not None and fhi is not None else None
        return out


def figures(target: str, minority: str, arms: dict[str, dict[str, Any]]
            ) -> tuple[Table, BarChart]:
    """The table of the three arms (each measure with its interval) and a bar chart of F1."""
    order = [k for k in ARMS if k in arms] + [k for k in arms if k not in ARMS]
    rows = []
    for key in order:
        arm = arms[key]
        cells: list[str | None]
        if arm.get("skipped"):
            cells = [f"not computed: {arm['skipped']}", *[""] * (len(MEASURES) - 1)]
        else:
            cells = [None if arm.get(m) is None else
                     f"{arm[m]:.3g} {ci_text(arm.get(f'{m}_ci'))}".strip() for m, _ in MEASURES]
        rows.append((ARM_LABELS.get(key, key), *cells))
    table = Table(
        headers=("Training rows", *(label for _, label in MEASURES)), rows=tuple(rows),
        caption=(f"A model predicting {target} trained three ways and tested on real rows it "
                 f"never saw: on the real rows alone, with minority rows ({minority}) made by "
                 "SMOTE, and with minority rows sampled from the generator until both classes "
                 "were equally common; each figure with its interval."))
    chart = BarChart(
        title=f"Minority-class F1 ({minority}) by training rows",
        labels=tuple(ARM_LABELS.get(k, k) for k in order),
        values=tuple(None if arms[k].get("skipped") else arms[k].get("f1") for k in order),
        caption=("How well each model finds the rare class (F1, higher is better); a missing "
                 "bar was not computed."),
        axis_label="F1", max_value=1.0)
    return table, chart


def _f1(y: np.ndarray, pred: np.ndarray) -> float:
    tp = float((pred & y).sum())
    denom = float(pred.sum() + y.sum())
    return 2 * tp / denom if denom else 0.0


def _fill_values(x: np.ndarray, categorical: np.ndarray) -> np.ndarray:
    """Per-feature fill for missing values (SMOTE cannot take NaN): a categorical code of its
    own (one past the largest seen) or the numeric median of the real training rows."""
    fill = np.zeros(x.shape[1])
    for j in range(x.shape[1]):
        col = x[:, j]
        seen = col[~np.isnan(col)]
        if len(seen):
            fill[j] = seen.max() + 1 if categorical[j] else float(np.median(seen))
    return fill


def _impute(x: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """``x`` with NaN replaced by the per-feature ``fill`` (a copy)."""
    out = x.copy()
    rows, cols = np.nonzero(np.isnan(out))
    out[rows, cols] = fill[cols]
    return out


@hookimpl
def privgate_metrics() -> list[type[Metric]]:
    """Register the rare-class augmentation metric."""
    return [AugmentationMetric]
