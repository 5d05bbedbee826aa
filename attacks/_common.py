"""Helpers shared by the built-in attacks: parameter checking, ROC arithmetic, JSON hygiene.

Nothing here is an attack; the modules next to it import these small functions so that every
attack validates its parameters, computes ROC curves and reports intervals the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from privgate import AttackContext, Generator, Schema, params
from privgate.certification import estimate, one_sided
from privgate.errors import N_, InputError, plugin_named
from privgate.evidence import Counts, RocCurve
from privgate.generator import PrivacyBudget
from privgate.input_files import file_word
from privgate.stats import bootstrap_ci, clamp01

#: The most ROC points an attack puts in its result (reports plot them).
MAX_ROC_POINTS = 200

#: The most targets (trials) an attack scores on each side -- training rows, control rows --
#: by default. A larger table gives a uniformly drawn random subsample of that many (seeded,
#: without replacement, stated in the result's details and interval method). The targets of
#: every row of a table are an i.i.d. draw from the population of members (non-members); a
#: uniform subsample of them is a sample of the same population, so the exact bounds, computed
#: over the trials actually run, stay valid (drawing without replacement from a finite set only
#: narrows the spread, Hoeffding 1963, section 6). What a subsample costs is width, never
#: validity; 20,000 a side keeps a leak-free membership advantage's upper bound near 0.02, far
#: below the 0.09 thresholds, while the search per target stays over the FULL synthetic table.
MAX_TARGETS = 20_000
#: How a subsample of targets is described (and recognised).
DRAWN = "drawn uniformly at random"


def targets_statement(side: str, scored: int, total: int, seed: int, stream: str) -> str:
    """How the ``scored`` targets of the ``total`` rows of ``side`` were chosen, for a result's
    details and interval method: all of them, or a stated uniform random subsample."""
    if scored >= total:
        return f"{side}: all {total:,}"
    return (f"{side}: {scored:,} of {total:,}, {DRAWN} without replacement (seed {seed}, "
            f"stream {stream!r}); the interval is over these {scored:,} and holds for the "
            "population they are drawn from")


def trials_asked(params: Mapping[str, Any], cap: int | None, sides: int = 1) -> int | None:
    """The trials an attack was asked for (its result's ``trials_planned``): ``sides`` times
    a ``max_rows`` the user set; the default cap (:data:`MAX_TARGETS`) asks for nothing, so a
    small table is not reported short of it."""
    return None if cap is None or "max_rows" not in params else sides * cap


def raised(params: Mapping[str, Any], key: str, trials: int, sides: int = 1) -> dict[str, Any]:
    """``params`` with the cap ``key`` raised so that ``sides`` times it is at least ``trials``
    (an attack's :meth:`~privgate.attack.Attack.params_for_trials`)."""
    return {**params, key: max(1, -(-int(trials) // sides))}


def subsampled(targets: Sequence[str]) -> str:
    """The statements of ``targets`` that name a subsample, for an interval method ("" when
    every row was a target)."""
    sampled = [t for t in targets if DRAWN in t]
    return f"; over a uniform random subsample: {'; '.join(sampled)}" if sampled else ""


def resolve_params(attack: str, defaults: Mapping[str, Any], given: Mapping[str, Any]
                   ) -> dict[str, Any]:
    """Merge the constructor params over ``defaults``; unknown keys are errors."""
    return params.resolve(plugin_named("attack", attack), defaults, given)


def check_int(attack: str, p: Mapping[str, Any], name: str, minimum: int) -> int:
    """``p[name]`` as an int ``>= minimum`` or an :class:`InputError`."""
    return params.check_int(plugin_named("attack", attack), p, name, minimum)


def check_choice(attack: str, p: Mapping[str, Any], name: str, choices: Sequence[str]) -> str:
    """``p[name]`` if it is one of ``choices`` or an :class:`InputError`."""
    return params.check_choice(plugin_named("attack", attack), p, name, choices)


def modelled_columns(attack: str, context: AttackContext,
                     frames: Sequence[str] = ("train", "control", "synthetic")) -> list[str]:
    """The schema's modelled columns, checked to be present in every named frame."""
    names = [c.name for c in context.schema.modelled]
    for frame in frames:
        df: pd.DataFrame = getattr(context, frame)
        missing = [n for n in names if n not in df.columns]
        if missing:
            raise InputError(N_("attack %(attack)r: the %(frame)s table lacks the schema "
                                "column(s) %(missing)s"),
                             attack=attack, frame=file_word(frame), missing=missing)
        if len(df) == 0:
            raise InputError(N_("attack %(attack)r: the %(frame)s table has no rows"),
                             attack=attack, frame=file_word(frame))
    return names


def check_columns(attack: str, schema: Schema, names: Sequence[str], param: str) -> list[str]:
    """Check that every name in ``names`` is a modelled schema column."""
    modelled = {c.name for c in schema.modelled}
    bad = [n for n in names if n not in modelled]
    if bad:
        raise InputError(N_("attack %(attack)r: parameter %(param)r names column(s) %(bad)s "
                            "that are not modelled columns of the schema"),
                         attack=attack, param=param, bad=bad)
    return list(names)


def subsample(df: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` rows of ``df`` without replacement (all rows, in order, when ``n >= len(df)``)."""
    if n >= len(df):
        return df
    idx = np.sort(rng.choice(len(df), size=n, replace=False))
    return df.iloc[idx]


def roc_arrays(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ROC curve of ``scores`` (higher = more likely positive) against binary ``labels``.

    Returns ``(fpr, tpr)`` at every distinct threshold, starting at (0, 0) and ending at (1, 1).
    Tied scores form one step, so the trapezoid area equals the Mann-Whitney AUROC with ties
    counted as one half.
    """
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels).astype(bool)
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    tps = np.cumsum(y)
    fps = np.cumsum(~y)
    last_of_run = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1] if len(s) else np.array([], int)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    tpr = np.r_[0.0, tps[last_of_run] / n_pos] if n_pos else np.zeros(len(last_of_run) + 1)
    fpr = np.r_[0.0, fps[last_of_run] / n_neg] if n_neg else np.zeros(len(last_of_run) + 1)
    return fpr, tpr


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (NaN when one class is absent)."""
    labels = np.asarray(labels).astype(bool)
    if labels.all() or not labels.any():
        return float("nan")
    fpr, tpr = roc_arrays(scores, labels)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def advantage(scores: np.ndarray, labels: np.ndarray) -> float:
    """Membership advantage: the largest ``TPR - FPR`` over all thresholds (NaN if one class)."""
    labels = np.asarray(labels).astype(bool)
    if labels.all() or not labels.any():
        return float("nan")
    fpr, tpr = roc_arrays(scores, labels)
    return float(np.max(tpr - fpr))


def tpr_at_fpr(fpr: np.ndarray, tpr: np.ndarray, target: float) -> float:
    """The best TPR among thresholds whose FPR is at most ``target`` (no interpolation)."""
    ok = fpr <= target + 1e-12
    return float(tpr[ok].max()) if ok.any() else 0.0


def downsample_roc(fpr: np.ndarray, tpr: np.ndarray,
                   max_points: int = MAX_ROC_POINTS) -> RocCurve:
    """The ROC curve ``(fpr, tpr)`` (from :func:`roc_arrays`, both classes present) as a
    :class:`~privgate.evidence.RocCurve` of at most ``max_points`` points, first and last kept
    (reports thin it again, on a log grid, for drawing)."""
    n = len(fpr)
    if n > max_points:
        idx = np.unique(np.round(np.linspace(0, n - 1, max_points)).astype(int))
        fpr, tpr = fpr[idx], tpr[idx]
    return RocCurve(tuple(round(float(v), 6) for v in fpr),
                    tuple(round(float(v), 6) for v in tpr))


def bootstrap_interval(statistic: Callable[[np.ndarray, np.ndarray], float],
                       scores: np.ndarray, labels: np.ndarray, *, estimate: float,
                       level: float, n_resamples: int, seed: int) -> tuple[float, float]:
    """Paired percentile bootstrap of ``statistic(scores, labels)``, clipped to [0, 1].

    A degenerate bootstrap (resamples with one class only) gives [0, 1]. The interval is widened
    to include ``estimate`` if the percentile interval happens to exclude it.
    """
    def stat(s: np.ndarray, y: np.ndarray) -> float:
        value = statistic(s, y)
        return 0.5 if math.isnan(value) else value

    low, high = bootstrap_ci(stat, (scores, labels), level=level, n_resamples=n_resamples,
                             seed=seed)
    low, high = clamp01(low), clamp01(high)
    return min(low, estimate), max(high, estimate)


def interval_from_counts(counts: Sequence[Counts], level: float
                         ) -> tuple[float, float, float, str]:
    """``(risk, low, high, method)`` of an attack that reports counts: the largest estimate
    over its comparisons (supplementary ones left out) and the two-sided interval at ``level``
    from the exact bounds core gates on, each comparison at ``1 - (1 - level) / (2m)``
    (Bonferroni over the ``m`` comparisons and the two sides).

    Core recomputes the gate's one-sided bounds from the counts themselves
    (:mod:`privgate.certification`); this is the attack's own figure for its entry.
    """
    main = [c for c in counts if not c.supplementary]
    each = 1.0 - (1.0 - level) / (2.0 * len(main))
    risk = max(estimate(c) for c in main)
    ends = [one_sided(c, each) for c in main]
    low = min(max(lo for lo, _ in ends), risk)
    high = max(max(hi for _, hi in ends), risk)
    kinds = sorted({c.estimator for c in main})
    method = (f"exact ({', '.join(kinds)}) bounds from the counts, each comparison at "
              f"{each:.4g} per side; the largest estimate and bounds over {len(main)} "
              f"comparison(s)")
    return risk, low, high, method


def jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays (recursively) into plain Python numbers and lists."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, np.generic):
        return value.item()
    return value


@contextmanager
def single_threaded() -> Iterator[None]:
    """Run scikit-learn's OpenMP and BLAS code on one thread.

    On small shared machines OpenMP's spinning threads slow HistGradientBoosting down by an
    order of magnitude when another process holds a core; one thread is fast and reproducible.
    """
    with threadpool_limits(limits=1):
        yield


@dataclass(frozen=True)
class RefitJob:
    """A fresh copy of the audited generator fitted on ``data`` and sampled, as plain,
    picklable data that joblib and Ray ship to a worker (shadow fits, canary-audit fits)."""

    generator_cls: type[Generator]
    params: dict[str, Any]
    schema: Schema
    budget: PrivacyBudget | None
    data: pd.DataFrame
    n_synthetic: int
    seed: int

    def fit_and_sample(self) -> pd.DataFrame:
        """The sample of a generator built from ``params`` and fitted on ``data`` (seeded)."""
        gen = self.generator_cls(**self.params)
        gen.fit(self.data.reset_index(drop=True), self.schema, self.budget, seed=self.seed)
        return gen.sample(self.n_synthetic, seed=self.seed)
