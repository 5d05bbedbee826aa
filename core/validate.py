"""Core re-validates everything a plugin hands back, whatever class it is.

A plugin's result object is never trusted as constructed: a subclass can skip its
``__post_init__``, a property can change between two reads, a number can be a ``str`` or a
``bool``. Each function here reads the plugin's object *once*, converts every field to a plain
Python value, checks it, and builds a fresh object of core's own class (whose constructor
validates again). Anything that does not fit is a :class:`~privgate.isolation.PluginFault` of
kind ``"malformed"``; the pipeline records it as ``error`` and the gate fails closed.

* :func:`attack_result` -- numbers finite and in range, the interval containing the estimate,
  the level no lower than the audit's, a known risk kind equal to the attack's declared one,
  trials run no more than planned or available, per-record exposure indexed by training rows,
  and the typed evidence rebuilt (:mod:`privgate.evidence`: counts with successes within their
  trials and a known estimator, a ROC curve monotone from (0, 0) to (1, 1), an AUROC and its
  interval in [0, 1], TPR at FPR ordered; operating points and canary guesses with counts
  within their totals (:mod:`privgate.operating_points`); one-sided bounds around the risk with
  their method;
  warnings as short text; :mod:`privgate.figures`: lengths consistent, sizes bounded);
* :func:`metric_result` -- a finite value or ``None`` with an interval containing it, figures
  rebuilt, JSON-ready details;
* :func:`privacy_spent` -- a private fit's epsilon finite, non-negative and within its budget
  (plus :data:`EPSILON_TOLERANCE`), its delta within the budget's delta;
* :func:`synthetic_output` -- the generator's table against the declared schema: columns, row
  count, kinds, missing values, categories and bounds.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from privgate import evidence, figures, plain
from privgate.attack import MAX_NULL_BOUNDS, MAX_WARNINGS, RISK_KINDS, AttackResult
from privgate.encoding import to_numeric
from privgate.errors import InputError
from privgate.generator import PrivacyBudget, PrivacySpent
from privgate.isolation import Origin, PluginFault, malformed
from privgate.metric import MetricResult
from privgate.operating_points import canary_guesses_from_plain, operating_points_from_plain
from privgate.plain import PlainError
from privgate.schema import Kind, Schema
from privgate.stats import zero_success_upper
from privgate.tables import conform

#: How far a private fit's reported epsilon may exceed its budget: opacus' own
#: ``get_noise_multiplier`` stops its search within ``epsilon_tolerance`` = 0.01 of the target.
EPSILON_TOLERANCE = 0.01
#: Relative slack on a reported delta (floating-point round-off only).
DELTA_RELATIVE_TOLERANCE = 1e-9
#: The largest ``details`` a plugin may return, as JSON text (bytes).
MAX_DETAILS_BYTES = 5_000_000

T = TypeVar("T")


def _plain(origin: Origin, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` with a :class:`~privgate.plain.PlainError` made a malformed
    fault of ``origin``."""
    try:
        return fn(*args, **kwargs)
    except PlainError as exc:
        raise malformed(origin, str(exc)) from None


def _number(origin: Origin, field: str, value: Any, *, allow_none: bool = False
            ) -> float | None:
    """A real number as a Python float, refusing bools, strings and non-finite values."""
    return _plain(origin, plain.number, field, value, allow_none=allow_none)


def _integer(origin: Origin, field: str, value: Any, minimum: int = 0) -> int:
    out = _plain(origin, plain.integer, field, value, minimum)
    assert out is not None
    return out


def _text(origin: Origin, field: str, value: Any, *, allow_none: bool = False) -> str | None:
    return _plain(origin, plain.text, field, value, allow_none=allow_none)


def plain_data(origin: Origin, field: str, value: Any) -> Any:
    """A deep copy of ``value`` as plain JSON data (:func:`privgate.plain.json_data`), at most
    :data:`MAX_DETAILS_BYTES` of JSON."""
    out = _plain(origin, plain.json_data, field, value)
    size = len(json.dumps(out, allow_nan=False, default=str))
    if size > MAX_DETAILS_BYTES:
        raise malformed(origin, f"{field} is {size:,} bytes of JSON; at most "
                                f"{MAX_DETAILS_BYTES:,} are accepted")
    return out


def _fields(obj: Any, cls: type, origin: Origin) -> dict[str, Any]:
    """Every dataclass field of ``cls`` read once from ``obj``; an optional field the object
    lacks (one built without its class's constructor) takes its default."""
    out = {}
    for f in dataclasses.fields(cls):
        try:
            out[f.name] = getattr(obj, f.name)
        except AttributeError as exc:
            if f.default is not dataclasses.MISSING:
                out[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                out[f.name] = f.default_factory()
            else:
                raise malformed(origin, f"reading {f.name!r} raised AttributeError: "
                                        f"{exc}") from None
        except Exception as exc:  # noqa: BLE001 -- a plugin's property may raise anything
            raise malformed(origin, f"reading {f.name!r} raised {type(exc).__name__}: "
                                    f"{exc}") from None
    return out


def attack_result(obj: Any, *, name: str, risk_kind: str, n_train: int,
                  confidence_level: float, origin: Origin) -> AttackResult:
    """A fresh, checked :class:`AttackResult` built from what an attack's ``run()`` returned.

    Beyond the constructor's own checks: the risk kind is known and equals the attack's declared
    one, the level is no lower than the audit's (a 50% interval must not pass a 95% gate), a
    binomial interval's upper bound is no tighter than that of a zero-success result over the
    stated trials, and ``record_risk`` is a finite score per training row.
    """
    if not isinstance(obj, AttackResult):
        raise malformed(origin, f"run() returned {type(obj).__name__}, not AttackResult")
    f = _fields(obj, AttackResult, origin)
    kind = _text(origin, "risk_kind", f["risk_kind"])
    if kind not in RISK_KINDS:
        raise malformed(origin, f"risk_kind {kind!r} is not one of {RISK_KINDS}")
    if kind != risk_kind:
        raise malformed(origin, f"result risk_kind {kind!r} differs from the attack's declared "
                                f"{risk_kind!r}")
    values: dict[str, Any] = {"attack": name, "risk_kind": kind}
    for key in ("risk", "ci_low", "ci_high", "baseline", "confidence_level"):
        values[key] = _number(origin, key, f[key])
    values["null_upper"] = _number(origin, "null_upper", f["null_upper"], allow_none=True)
    values["binomial_level"] = _number(origin, "binomial_level", f["binomial_level"],
                                       allow_none=True)
    values["n_trials"] = _integer(origin, "n_trials", f["n_trials"])
    values["interval_method"] = _text(origin, "interval_method", f["interval_method"])
    values["baseline_description"] = _text(origin, "baseline_description",
                                           f["baseline_description"])
    values["binomial_method"] = _text(origin, "binomial_method", f["binomial_method"],
                                      allow_none=True)
    values["details"] = _details(origin, f["details"])
    values["record_risk"] = _record_risk(origin, f["record_risk"], n_train)
    values.update(_attack_evidence(origin, f))
    if values["confidence_level"] < confidence_level - 1e-9:
        raise malformed(origin, f"its interval is at {values['confidence_level']:.4g} "
                                f"confidence, below the audit's {confidence_level:.4g}")
    try:
        result = AttackResult(**values)
    except (ValueError, TypeError) as exc:
        raise malformed(origin, str(exc)) from None
    if result.binomial_method is not None:
        level = result.binomial_level or result.confidence_level
        floor = zero_success_upper(result.n_trials, level, result.binomial_method)
        if result.ci_high < floor - 1e-9:
            raise malformed(origin, f"its upper bound {result.ci_high:.4g} is below what a "
                                    f"{result.binomial_method} binomial interval over "
                                    f"{result.n_trials:,} trials can give even with zero "
                                    f"successes ({floor:.4g})")
    return result


def _details(origin: Origin, details: Any) -> Any:
    if not isinstance(details, Mapping):
        raise malformed(origin, f"details must be a table (dict), got {type(details).__name__}")
    return plain_data(origin, "details", details)


def _attack_evidence(origin: Origin, f: Mapping[str, Any]) -> dict[str, Any]:
    """The typed evidence of an attack result, rebuilt from plain values and checked (the
    result's constructor checks how the fields fit together)."""
    planned = f["trials_planned"]
    available = f["trials_available"]
    return {
        "counts": _plain(origin, evidence.counts_from_plain, f["counts"]),
        "warnings": _plain(origin, plain.texts, "warnings", f["warnings"], MAX_WARNINGS),
        "upper_bound": _number(origin, "upper_bound", f["upper_bound"], allow_none=True),
        "lower_bound": _number(origin, "lower_bound", f["lower_bound"], allow_none=True),
        "bound_method": _text(origin, "bound_method", f["bound_method"], allow_none=True),
        "null_bounds": tuple(x for x in _plain(origin, plain.numbers_of, "null_bounds",
                                               f["null_bounds"], MAX_NULL_BOUNDS)
                             if x is not None),
        "trials_available": None if available is None else _integer(
            origin, "trials_available", available, 1),
        "trials_planned": None if planned is None else _integer(origin, "trials_planned",
                                                                planned, 1),
        "roc": None if f["roc"] is None else _plain(origin, evidence.RocCurve.from_plain,
                                                    f["roc"]),
        "auroc": _plain(origin, evidence.probability_estimate, f["auroc"], "auroc"),
        "tpr_at_fpr": _plain(origin, evidence.tpr_at_fpr_from_plain, f["tpr_at_fpr"]),
        "figures": _figures(origin, f["figures"]),
        "operating_points": _plain(origin, operating_points_from_plain,
                                   f["operating_points"]),
        "canary_guesses": _plain(origin, canary_guesses_from_plain, f["canary_guesses"]),
    }


def _figures(origin: Origin, value: Any) -> tuple[figures.Figure, ...]:
    out = _plain(origin, figures.figures_from_plain, value)
    size = len(json.dumps([figures.to_plain(x) for x in out], allow_nan=False, default=str))
    if size > MAX_DETAILS_BYTES:
        raise malformed(origin, f"figures are {size:,} bytes of JSON; at most "
                                f"{MAX_DETAILS_BYTES:,} are accepted")
    return out


def _record_risk(origin: Origin, value: Any, n_train: int) -> pd.Series | None:
    if value is None:
        return None
    if not isinstance(value, pd.Series):
        raise malformed(origin, f"record_risk must be a pandas Series or None, got "
                                f"{type(value).__name__}")
    try:
        scores = pd.to_numeric(pd.Series(value.to_numpy(copy=True)), errors="raise")
        index = np.asarray(value.index.to_numpy(copy=True))
    except (ValueError, TypeError) as exc:
        raise malformed(origin, f"record_risk must hold numbers: {exc}") from None
    arr = scores.to_numpy(dtype=float)
    if not np.isfinite(arr).all():
        raise malformed(origin, "record_risk holds missing or infinite scores")
    if len(arr) and (not np.issubdtype(index.dtype, np.integer) or index.min() < 0
                     or index.max() >= n_train or len(np.unique(index)) != len(index)):
        raise malformed(origin, f"record_risk must be indexed by distinct training row "
                                f"positions 0..{n_train - 1}")
    return pd.Series(arr, index=pd.Index(index.astype(np.int64)), name=str(value.name))


def metric_result(obj: Any, *, name: str, origin: Origin) -> MetricResult:
    """A fresh, checked :class:`MetricResult` from what a metric's ``compute()`` returned."""
    if not isinstance(obj, MetricResult):
        raise malformed(origin, f"compute() returned {type(obj).__name__}, not MetricResult")
    f = _fields(obj, MetricResult, origin)
    value = _number(origin, "value", f["value"], allow_none=True)
    interval = (None if f["interval"] is None
                else _plain(origin, evidence.Interval.from_plain, f["interval"]))
    if interval is not None and (value is None or not interval.low <= value <= interval.high):
        raise malformed(origin, f"its value {value!r} lies outside its interval "
                                f"[{interval.low}, {interval.high}]")
    return MetricResult(metric=name, value=value,
                        description=_text(origin, "description", f["description"]) or "",
                        details=_details(origin, f["details"]), interval=interval,
                        figures=_figures(origin, f["figures"]),
                        baseline=_number(origin, "baseline", f["baseline"], allow_none=True),
                        baseline_description=_text(origin, "baseline_description",
                                                   f["baseline_description"]) or "")


def privacy_spent(generator: Any, budget: PrivacyBudget | None, origin: Origin
                  ) -> PrivacySpent:
    """The fit's spend, read once and checked against its budget.

    A private fit (``budget`` given) must report a finite epsilon in ``[0, budget.epsilon +
    EPSILON_TOLERANCE]`` and a delta in ``[0, budget.delta]``; a non-private fit must report an
    infinite epsilon (it must not claim a guarantee nobody paid for). Anything else is
    malformed: the pipeline then books at least the planned budget in the ledger.
    """
    try:
        spent = generator.privacy_spent
    except Exception as exc:  # noqa: BLE001 -- a plugin's property may raise anything
        raise malformed(origin, f"privacy_spent raised {type(exc).__name__}: {exc}") from None
    if not isinstance(spent, PrivacySpent):
        raise malformed(origin, f"privacy_spent is {type(spent).__name__}, not PrivacySpent")
    f = _fields(spent, PrivacySpent, origin)
    eps = f["epsilon"]
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or math.isnan(float(eps)):
        raise malformed(origin, f"privacy_spent.epsilon must be a number, got {plain.short(eps)}")
    epsilon = float(eps)
    delta = _number(origin, "privacy_spent.delta", f["delta"])
    assert delta is not None
    accountant = _text(origin, "privacy_spent.accountant", f["accountant"]) or ""
    details = f["details"]
    if not isinstance(details, Mapping):
        raise malformed(origin, "privacy_spent.details must be a table (dict)")
    if budget is None:
        if math.isfinite(epsilon):
            raise malformed(origin, f"a non-private generator reported epsilon {epsilon:g}; "
                                    "only a fit given a budget can claim one")
    else:
        if not math.isfinite(epsilon) or epsilon < 0:
            raise malformed(origin, f"reported epsilon {epsilon!r} for a private fit; it must "
                                    "be finite and >= 0")
        if epsilon > budget.epsilon + EPSILON_TOLERANCE:
            raise malformed(origin, f"reported epsilon {epsilon:.6g}, above its budget "
                                    f"{budget.epsilon:g} (tolerance {EPSILON_TOLERANCE:g})")
        if not 0 <= delta <= budget.delta * (1 + DELTA_RELATIVE_TOLERANCE):
            raise malformed(origin, f"reported delta {delta:g}, outside its budget "
                                    f"[0, {budget.delta:g}]")
    return PrivacySpent(epsilon, delta, accountant,
                        plain_data(origin, "privacy_spent.details", details))


def synthetic_output(synthetic: Any, schema: Schema, n: int, origin: Origin) -> pd.DataFrame:
    """The generator's table, checked against the declared schema and conformed to it.

    Columns and row count as asked; every value of the column's kind (numbers finite, integers
    whole, dates dates), missing only where the column is nullable, categories in the domain,
    numbers within the bounds (:func:`privgate.tables.domain_violation`: a declared bound is
    strict; a bound read off the data refuses a disguise such as every number times 1000).
    """
    if not isinstance(synthetic, pd.DataFrame):
        raise malformed(origin, f"sample() returned {type(synthetic).__name__}, not a DataFrame")
    names = [c.name for c in schema.modelled]
    absent = [c for c in names if c not in synthetic.columns]
    if absent:
        raise malformed(origin, f"sample() output lacks column(s) {absent}")
    if len(synthetic) != n:
        raise malformed(origin, f"sample({n}) returned {len(synthetic)} rows")
    frame = pd.DataFrame({c: synthetic[c].to_numpy(copy=True) for c in names})
    try:
        out = conform(frame, schema.select(names), where="generator output", synthetic=True)
    except InputError as exc:
        raise malformed(origin, f"its output does not fit the schema: {exc}") from None
    for col in schema.modelled:
        if col.kind is Kind.INTEGER:
            values = to_numeric(out[col.name], col).to_numpy(dtype=float)
            values = values[~np.isnan(values)]
            if not np.all(np.mod(values, 1) == 0):
                raise malformed(origin, f"column {col.name!r} is integer but the output holds "
                                        "fractions")
    return out.reset_index(drop=True)


__all__ = ["EPSILON_TOLERANCE", "attack_result", "metric_result", "plain_data",
           "privacy_spent", "synthetic_output", "PluginFault"]
