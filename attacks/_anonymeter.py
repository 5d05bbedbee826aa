"""What the three anonymeter adapters share (singling out, linkability, inference; one module
each: ``anonymeter_singling_out``, ``anonymeter_linkability``, ``anonymeter_inference``).

The attacks themselves are anonymeter's (Giomi et al. 2023); the adapters only

* select the schema's modelled columns and rename them to safe names ``c0, c1, ...`` before
  anonymeter sees them (anonymeter builds queries from column names and misbehaves on names with
  spaces, brackets or quotes -- statice/anonymeter issue #37), mapping names back in the details;
* give every column one type across the three tables (categorical values as strings, numeric
  values as floats, missing values filled, see :func:`prepare`);
* make the run reproducible under a named random stream of ``context.seed`` and collect
  anonymeter's own warnings and log messages instead of printing or silencing them (see
  :func:`seeded`): they go into the result's ``warnings``, which the console and the report
  show;
* attack every row the tables allow by default (``n_attacks`` unset: ``min(train, control)``
  targets, at most :data:`~privgate.attacks._common.MAX_TARGETS` -- a uniform random
  subsample of each side beyond, stated in the details; see :func:`wanted`), and report the
  raw counts of successes on training and on control rows (:class:`privgate.evidence.Counts`,
  estimator ``"excess"``), from which core computes the risk
  ``(attack - control) / (1 - control)`` and its exact one-sided bounds; the result's own
  interval is the two-sided one from the same exact bounds (anonymeter's is a normal
  approximation), with a chart of the success rates on training rows, control rows and by a
  random guesser (:meth:`AnonymeterAttack.result`).

With a person column declared (``AttackContext.persons``) singling out and linkability attack
equal samples of training and control *people* and count people
(:func:`privgate.attacks._persons.people_rows`; see their modules); inference still counts
rows (anonymeter's ``InferenceEvaluator`` draws and scores its targets itself).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from privgate import Attack, AttackContext, AttackResult, Kind, Schema
from privgate.attacks._common import (
    MAX_TARGETS,
    check_columns,
    check_int,
    interval_from_counts,
    jsonable,
    raised,
    resolve_params,
    subsampled,
)
from privgate.encoding import category_key, is_missing, to_numeric
from privgate.errors import N_, InputError
from privgate.evidence import Counts
from privgate.figures import BarChart

#: The most distinct warnings one attack keeps (anonymeter repeats itself per secret).
MAX_KEPT_WARNINGS = 20

ANONYMETER_REFERENCE = (
    "Giomi, Boenisch, Wehmeyer & Tasnadi (2023). A unified framework for quantifying privacy "
    "risk in synthetic data. Proceedings on Privacy Enhancing Technologies 2023(2) "
    "(anonymeter).")
ARTICLE29_REFERENCE = (
    "Article 29 Data Protection Working Party (2014). Opinion 05/2014 on anonymisation "
    "techniques (WP216): singling out, linkability and inference.")

#: Stands in for a missing categorical value (anonymeter's encoders need one type per column).
MISSING_CATEGORY = "<missing>"


@dataclass(frozen=True)
class Prepared:
    """The three tables as anonymeter gets them, plus the name mapping."""

    train: pd.DataFrame
    control: pd.DataFrame
    synthetic: pd.DataFrame
    safe: dict[str, str]  # original name -> safe name

    @property
    def original(self) -> dict[str, str]:
        """Safe name -> original name."""
        return {v: k for k, v in self.safe.items()}


def prepare(context: AttackContext, names: Sequence[str], *,
             pandas_categorical: bool = False) -> Prepared:
    """Copy ``names`` out of the three tables under safe names ``c0, c1, ...``.

    Categorical columns become strings (values compared as the schema encoder compares them, so
    ``1``, ``1.0`` and ``"1"`` agree), missing ones ``"<missing>"``. With ``pandas_categorical``
    they are pandas ``category`` columns over the sorted union of values instead: polars (which
    the singling-out evaluator converts to) lists the distinct values of a string column in a
    random, hash-dependent order, which would make anonymeter's seeded baseline irreproducible,
    while it lists those of a categorical column in order of appearance. Numeric columns become
    floats (datetimes as epoch seconds); missing numeric values are filled with the synthetic
    column's median, which the attacker can compute (0 when the synthetic column is empty).
    Anonymeter's neighbour search gives NaN distances for a missing numeric value, hence the
    fill.
    """
    safe = {name: f"c{i}" for i, name in enumerate(names)}
    schema = context.schema
    out: dict[str, dict[str, pd.Series]] = {"train": {}, "control": {}, "synthetic": {}}
    for name in names:
        col = schema[name]
        if col.kind is Kind.CATEGORICAL:
            for frame in out:
                out[frame][safe[name]] = pd.Series(
                    category_strings(getattr(context, frame)[name].tolist()), dtype=object)
        else:
            numeric = {frame: to_numeric(getattr(context, frame)[name], col)
                       .reset_index(drop=True) for frame in out}
            fill = numeric["synthetic"].median()
            fill = 0.0 if fill is None or math.isnan(fill) else float(fill)
            for frame in out:
                out[frame][safe[name]] = numeric[frame].fillna(fill).astype(float)
    if pandas_categorical:
        for name in names:
            if schema[name].kind is Kind.CATEGORICAL:
                key = safe[name]
                levels = sorted(set().union(*(set(out[f][key]) for f in out)))
                for frame in out:
                    out[frame][key] = pd.Series(pd.Categorical(out[frame][key],
                                                               categories=levels))
    frames = {frame: pd.DataFrame(cols) for frame, cols in out.items()}
    return Prepared(frames["train"], frames["control"], frames["synthetic"], safe)


def wanted(p: dict[str, Any], available: int) -> int:
    """Targets per side: ``n_attacks`` when given, else every row the tables allow up to
    :data:`~privgate.attacks._common.MAX_TARGETS` (a uniform random subsample of each side
    beyond: the counts are over the targets attacked, so the exact bounds stay valid)."""
    return min(available, MAX_TARGETS if p["n_attacks"] is None else p["n_attacks"])


def category_strings(values: Sequence[Any]) -> list[str]:
    """Each categorical cell as anonymeter gets it (``"<missing>"`` or its
    :func:`~privgate.encoding.category_key`), worked out once per distinct value and type (a
    million-row column holds a few dozen; ``1`` and ``1.0`` stay apart, as their keys may)."""
    memo: dict[tuple[type, Any], str] = {}
    out = []
    for v in values:
        try:
            text = memo.get((type(v), v))
        except TypeError:  # unhashable: worked out every time
            text = None
        if text is None:
            text = MISSING_CATEGORY if is_missing(v) else str(category_key(v))
            with suppress(TypeError):
                memo[(type(v), v)] = text
        out.append(text)
    return out


class _Collect(logging.Handler):
    """A logging handler that keeps anonymeter's messages (warnings and worse)."""

    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.getMessage())


@contextmanager
def seeded(seed: int) -> Iterator[list[str]]:
    """Seed the global random generators anonymeter draws from with ``seed`` (a 32-bit seed of
    a named stream, :func:`privgate.randomness.child_seed`), restoring numpy's afterwards, and
    collect anonymeter's warnings.

    Anonymeter samples targets with pandas ``.sample()`` (numpy's global generator) and, in the
    singling-out size correction, with polars ``.sample()`` (polars' global seed, which cannot be
    read back, so it is left set). Its warnings ("attack is as good or worse as baseline", "could
    generate only N queries", ...) are not silenced: the list this yields receives them (Python
    warnings and anonymeter's log messages alike), and the attack puts them in its result's
    ``warnings`` for the console and the report.
    """
    import polars as pl  # anonymeter's own dependency

    state = np.random.get_state()
    np.random.seed(seed)
    pl.set_random_seed(seed)
    caught: list[str] = []
    log = logging.getLogger("anonymeter")
    handler, propagate = _Collect(caught), log.propagate
    log.addHandler(handler)
    log.propagate = False  # shown once, with the check, rather than also as a stray log line
    try:
        with warnings.catch_warnings(record=True) as recorded:
            warnings.simplefilter("always")
            yield caught
        caught.extend(str(w.message) for w in recorded)
    finally:
        np.random.set_state(state)
        log.removeHandler(handler)
        log.propagate = propagate


def kept(messages: Sequence[str], prefix: str = "") -> tuple[str, ...]:
    """Distinct messages in order of appearance, each prefixed (at most
    :data:`MAX_KEPT_WARNINGS`)."""
    out: list[str] = []
    for m in messages:
        text = f"{prefix}anonymeter: {m.strip()}"
        if text not in out:
            out.append(text)
    return tuple(out[:MAX_KEPT_WARNINGS])


def rate(rate: Any) -> dict[str, float] | None:
    """Anonymeter's ``SuccessRate`` (value, error) as a plain dict."""
    if rate is None:
        return None
    return {"value": float(rate.value), "error": float(rate.error)}


def results_details(results: Any) -> dict[str, Any]:
    """The success counts and rates of anonymeter's ``EvaluationResults``."""
    return {
        "attack_rate": rate(results.attack_rate),
        "control_rate": rate(results.control_rate),
        "baseline_rate": rate(results.baseline_rate),
        "n_success": float(results.n_success),
        "n_control": None if results.n_control is None else float(results.n_control),
        "n_baseline": float(results.n_baseline),
        "n_attacks": int(results.n_attacks_ori),
        "n_attacks_control": int(results.n_attacks_control),
        "n_attacks_baseline": int(results.n_attacks_baseline),
    }


def excess_counts(label: str, results: Any) -> Counts:
    """Anonymeter's ``EvaluationResults`` as the counts core bounds (estimator ``"excess"``)."""
    return Counts(label, "excess", float(results.n_success), int(results.n_attacks_ori),
                  float(results.n_control or 0.0), int(results.n_attacks_control))


def split_in_two(names: Sequence[str]) -> tuple[list[str], list[str]]:
    half = (len(names) + 1) // 2
    return list(names[:half]), list(names[half:])


def column_list(attack: str, schema: Schema, value: Any, param: str) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InputError(N_("attack %(attack)r: parameter %(param)r must be a list of column "
                            "names, got %(value)r"), attack=attack, param=param, value=value)
    if not value:
        raise InputError(N_("attack %(attack)r: parameter %(param)r must name at least one "
                            "column"), attack=attack, param=param)
    return check_columns(attack, schema, value, param)


class AnonymeterAttack(Attack):
    """Shared constructor: every parameter is checked up front (names, types, ranges)."""

    DEFAULTS: ClassVar[dict[str, Any]] = {}
    #: parameters that must be integers, with their minimum (``None`` allowed where the default
    #: is ``None``: ``n_attacks`` unset attacks every row the tables allow)
    INTS: ClassVar[dict[str, int]] = {"n_attacks": 1}
    #: parameters that must be lists of column names (checked against the schema)
    COLUMN_LISTS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._settings()

    def params_for_trials(self, trials: int) -> dict[str, Any] | None:
        """A larger ``n_attacks`` (by default every row the tables allow, at most
        :data:`~privgate.attacks._common.MAX_TARGETS`)."""
        return raised(self.params, "n_attacks", trials)

    def _settings(self) -> dict[str, Any]:
        """The parameters merged over the defaults, each checked (an InputError names it)."""
        p = resolve_params(self.name, self.DEFAULTS, self.params)
        for key, minimum in self.INTS.items():
            if p[key] is not None:
                p[key] = check_int(self.name, p, key, minimum)
        for key in self.COLUMN_LISTS:
            if p[key] is not None and not (isinstance(p[key], list | tuple) and all(
                    isinstance(v, str) for v in p[key]) and p[key]):
                raise InputError(N_("attack %(name)r: parameter %(key)r must be a non-empty "
                                    "list of column names, got %(value)r"),
                                 name=self.name, key=key, value=p[key])
        return p

    def check_schema(self, schema: Schema) -> None:
        """Column-list parameters must name modelled columns."""
        p = self._settings()
        for key in self.COLUMN_LISTS:
            if p[key] is not None:
                column_list(self.name, schema, p[key], key)

    def result(self, context: AttackContext, counts: tuple[Counts, ...], *, baseline: float,
               baseline_description: str, details: dict[str, Any], trials_planned: int | None,
               trials_available: int, warnings: Sequence[str] = (),
               targets: Sequence[str] = ()) -> AttackResult:
        """The attack's result from its counts (one per comparison): the risk and the two-sided
        interval from the exact bounds core gates on, trials run (the largest comparison),
        planned and available, anonymeter's warnings, and a chart of the success rates in
        ``details``; ``targets`` (:func:`~privgate.attacks._common.targets_statement`) say
        which rows were attacked, and a subsample is named in the interval method."""
        risk, low, high, method = interval_from_counts(counts, context.confidence_level)
        method += subsampled(targets)
        n_trials = max(c.trials for c in counts if not c.supplementary)
        return AttackResult(
            attack=self.name, risk_kind=self.risk_kind, risk=risk, ci_low=low, ci_high=high,
            confidence_level=context.confidence_level, interval_method=method,
            baseline=baseline, baseline_description=baseline_description,
            n_trials=max(1, n_trials), details=jsonable(details),
            trials_planned=None if trials_planned is None else max(int(trials_planned),
                                                                   n_trials, 1),
            trials_available=max(int(trials_available), n_trials, 1), counts=counts,
            warnings=tuple(warnings), figures=(rates_chart(details, baseline),))


def rates_chart(details: dict[str, Any], baseline: float) -> BarChart:
    """The success rates behind an anonymeter risk: on training rows, on control rows and of
    the random guesser (the risk is the excess of the first over the second)."""
    def value(key: str) -> float | None:
        entry = details.get(key)
        return None if not isinstance(entry, dict) else entry.get("value")

    return BarChart(
        title="Success rate of the attack on training rows, on control rows and by guessing",
        labels=("attack on training rows", "attack on control rows", "random guess"),
        values=(value("attack_rate"), value("control_rate"), baseline),
        caption=("The share of attempts that succeeded. Success on control rows (people the "
                 "generator never saw) is what the population's patterns give away; only the "
                 "excess on training rows counts as risk."),
        axis_label="success rate")
