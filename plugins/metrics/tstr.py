"""The ``tstr`` metric: train a classifier on synthetic rows, test it on real held-out rows, and
compare it with the same classifier trained on real rows (a table of both)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from privgate import hookimpl
from privgate.errors import N_, InputError
from privgate.evidence import Interval
from privgate.figures import Table
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


def auroc(y: np.ndarray, scores: np.ndarray, classes: list[str]) -> float:
    """AUROC of ``scores`` (one column per class in ``classes``) against labels ``y``.

    Two classes: the first column scores the positive class. More: the macro average of the
    one-vs-rest AUROC over the classes present with both outcomes. NaN if none is defined.
    """
    if len(classes) == 2:
        return binary_auroc(y == classes[0], scores[:, 0])
    values = [binary_auroc(y == cls, scores[:, k]) for k, cls in enumerate(classes)]
    defined = [v for v in values if not np.isnan(v)]
    return float(np.mean(defined)) if defined else float("nan")


#: What the metric's ``baseline`` is (the report shows it as "before" beside the value).
TRTR_BASELINE = "trained on real rows"

class TSTRMetric(Metric):
    """Train-synthetic-test-real: a classifier fitted on the synthetic rows, scored on the real
    control rows, compared with the same classifier fitted on the real training rows (TRTR).

    Parameters:
        target: the column to predict (default: the schema's target column).
        max_iter: boosting iterations of the HistGradientBoostingClassifier (default 100).
        n_resamples: bootstrap resamples for the AUROC interval (default 500).
        max_classes: skip (value None) when the target shows more classes than this (default 20).
        n_threads: OpenMP threads for the classifier (default 1; ``None`` = every core). One
            thread is the default because OpenMP slows down badly on a busy shared machine.
    """

    name = "tstr"
    description = ("AUROC on the real control rows of a gradient-boosted classifier trained on "
                   "the synthetic rows to predict the target column (binary: positive class = "
                   "the rarer class in the real training rows; multiclass: macro one-vs-rest); "
                   "details compare it with the same model trained on real rows (TRTR); "
                   "higher is better, 0.5 = no signal.")
    title = "Usefulness for machine learning (TSTR AUROC)"
    assumptions = ("One prediction task on one target column with one model type; other "
                   "analyses may fare better or worse.")
    references = ("C. Esteban, S. L. Hyland, G. Rätsch, Real-valued (Medical) Time Series "
                  "Generation with Recurrent Conditional GANs, arXiv:1706.02633 (2017).",)
    defaults: dict[str, Any] = {"target": None, "max_iter": 100, "n_resamples": 500,
                                "max_classes": 20, "n_threads": 1}

    def __init__(self, **params: Any) -> None:
        super().__init__(**check_params(self.name, params, self.defaults))
        positive_int(self.name, "max_iter", self.params["max_iter"])
        positive_int(self.name, "n_resamples", self.params["n_resamples"])
        positive_int(self.name, "max_classes", self.params["max_classes"], minimum=2)
        if self.params["n_threads"] is not None:
            positive_int(self.name, "n_threads", self.params["n_threads"])
        target = self.params["target"]
        if target is not None and not isinstance(target, str):
            raise InputError(N_("metric %(name)r: parameter 'target' must be a column name, got "
                                "%(target)r"), name=self.name, target=target)

    def _skip(self, target: str | None, reason: str) -> MetricResult:
        details: dict[str, Any] = {"skipped": reason}
        if target is not None:
            details["target"] = target
        return MetricResult(self.name, None, self.description, details)

    def compute(self, context: MetricContext) -> MetricResult:
        """Fit both classifiers and score them on the control rows."""
        schema: Schema = context.schema
        target = self.params["target"] or schema.target
        if target is None:
            return self._skip(None, "no target column declared")
        if target not in schema or schema[target].is_dropped:
            modelled = [c.name for c in schema.modelled]
            raise InputError(N_("metric %(name)r: target %(target)r is not a modelled column of "
                                "the schema (modelled: %(modelled)s)"),
                             name=self.name, target=target, modelled=modelled)
        features = [c for c in schema.modelled if c.name != target]
        names = [c.name for c in features] + [target]
        require_columns(self.name, {"training": context.train, "control": context.control,
                                    "synthetic": context.synthetic}, names)
        if not features:
            return self._skip(target, "no feature columns besides the target")

        y_train, y_test, y_syn = (labels(df[target]) for df in
                                  (context.train, context.control, context.synthetic))
        keep = {k: np.array([v is not None for v in y], dtype=bool) for k, y in
                (("train", y_train), ("test", y_test), ("syn", y_syn))}
        if not keep["test"].any():
            return self._skip(target, "the control table has no rows with a target value")
        if not keep["train"].any():
            return self._skip(target, "the training table has no rows with a target value")
        train_counts = pd.Series(y_train[keep["train"]]).value_counts()
        test_classes = sorted(set(y_test[keep["test"]]))
        if len(set(train_counts.index) | set(test_classes)) > int(self.params["max_classes"]):
            return self._skip(target, f"the target shows more than {self.params['max_classes']}"
                              " classes; tstr evaluates classifiers")
        if len(test_classes) < 2:
            return self._skip(target, "the control rows show a single target class; AUROC is "
                              "undefined")
        if len(test_classes) == 2:
            # Positive class: the rarer one in the real training rows (ties: sorted order).
            rank = {c: (int(train_counts.get(c, 0)), c) for c in test_classes}
            positive = min(test_classes, key=lambda c: rank[c])
            classes = [positive] + [c for c in test_classes if c != positive]
            auroc_method = f"binary, positive class {positive!r}"
        else:
            classes = test_classes
            auroc_method = "macro one-vs-rest"

        encoder = FeatureEncoder(features, context.train, context.synthetic)
        x_test = encoder.transform(context.control)[keep["test"]]
        y_test = y_test[keep["test"]]
        results = {}
        for label, df, y, rows in (("tstr", context.synthetic, y_syn, keep["syn"]),
                                   ("trtr", context.train, y_train, keep["train"])):
            results[label] = self._evaluate(encoder.transform(df)[rows], y[rows], x_test, y_test,
                                            classes, encoder.mask, context, label)
        tstr_auc, trtr_auc = results["tstr"]["auroc"], results["trtr"]["auroc"]
        ratio = finite(tstr_auc / trtr_auc) if tstr_auc is not None and trtr_auc else None
        auroc_interval = f"bootstrap percentile, {int(self.params['n_resamples'])} resamples"
        details: dict[str, Any] = {
            "target": target, "classes": classes, "auroc_method": auroc_method,
            "tstr": results["tstr"], "trtr": results["trtr"], "ratio": ratio,
            "n_test": int(len(y_test)), "confidence_level": float(context.confidence_level),
            "interval_methods": {"accuracy": "Wilson score", "auroc": auroc_interval},
        }
        ci = results["tstr"]["auroc_ci"]
        interval = (None if tstr_auc is None or ci is None else
                    Interval(ci[0], ci[1], float(context.confidence_level), auroc_interval))
        return MetricResult(self.name, tstr_auc, self.description, details, interval=interval,
                            figures=(comparison_table(target, results),),
                            baseline=finite(trtr_auc),
                            baseline_description=TRTR_BASELINE)

    def _evaluate(self, x: np.ndarray, y: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                  classes: list[str], mask: np.ndarray, context: MetricContext, label: str
                  ) -> dict[str, Any]:
        """Fit on ``(x, y)``, score on the test rows; accuracy and AUROC with intervals."""
        out: dict[str, Any] = {"n_train": int(len(y))}
        seen = sorted(set(y))
        scores = np.zeros((len(y_test), len(classes)))
        if len(seen) == 0:
            out["note"] = "no training rows with a target value; no model was fitted"
            return {**out, "accuracy": None, "accuracy_ci": None, "auroc": None,
                    "auroc_ci": None}
        if len(seen) == 1:
            # A single class cannot train a classifier: predict it for every row.
            out["note"] = (f"the training rows hold a single target class ({seen[0]!r}); "
                           "the model predicts it everywhere (AUROC 0.5)")
            predicted = np.full(len(y_test), seen[0], dtype=object)
            if seen[0] in classes:
                scores[:, classes.index(seen[0])] = 1.0
        else:
            model = HistGradientBoostingClassifier(
                max_iter=int(self.params["max_iter"]), categorical_features=mask,
                random_state=child_seed(context.seed, self.name, "classifier", label))
            threads = self.params["n_threads"]
            with threadpool_limits(limits=None if threads is None else int(threads),
                                   user_api="openmp"):
                model.fit(x, y)
                proba = model.predict_proba(x_test)
            model_classes = [str(c) for c in model.classes_]
            for k, cls in enumerate(model_classes):
                if cls in classes:
                    scores[:, classes.index(cls)] = proba[:, k]
            predicted = np.array(model_classes, dtype=object)[proba.argmax(axis=1)]
        correct = int((predicted == y_test).sum())
        n = len(y_test)
        level = float(context.confidence_level)
        out["accuracy"] = correct / n
        out["accuracy_ci"] = list(binomial_ci(correct, n, level, "wilson"))
        value = auroc(y_test, scores, classes)
        out["auroc"] = finite(value)
        if out["auroc"] is None:
            out["auroc_ci"] = None
        elif np.ptp(scores, axis=0).max() == 0:  # constant scores: every resample gives 0.5
            out["auroc_ci"] = [out["auroc"], out["auroc"]]
        else:
            low, high = bootstrap_ci(
                lambda idx: auroc(y_test[idx.astype(int)], scores[idx.astype(int)], classes),
                [np.arange(n)], level=level, n_resamples=int(self.params["n_resamples"]),
                seed=child_seed(context.seed, self.name, "bootstrap", label))
            lo, hi = finite(low), finite(high)
            out["auroc_ci"] = [lo, hi] if lo is not None and hi is not None else None
        return out


def comparison_table(target: str, results: dict[str, dict[str, Any]]) -> Table:
    """Accuracy and AUROC of the model trained on synthetic rows (TSTR) beside the one trained
    on real rows (TRTR), both tested on the real control rows."""
    rows = []
    for key, label in (("accuracy", "Accuracy"), ("auroc", "AUROC")):
        s, r = results["tstr"], results["trtr"]
        gap = (s[key] - r[key]) if s[key] is not None and r[key] is not None else None
        rows.append((label, s[key], ci_text(s[f"{key}_ci"]), r[key], ci_text(r[f"{key}_ci"]),
                     gap))
    return Table(
        headers=("Measure", "Trained on synthetic (TSTR)", "Interval", "Trained on real (TRTR)",
                 "Interval", "Gap"),
        rows=tuple(rows),
        caption=(f"A model predicting {target} trained on synthetic data and tested on real "
                 "data (TSTR), beside one trained on real data (TRTR); a small gap means the "
                 "synthetic data is nearly as useful for this task."))


@hookimpl
def privgate_metrics() -> list[type[Metric]]:
    """Register the train-synthetic-test-real metric."""
    return [TSTRMetric]
