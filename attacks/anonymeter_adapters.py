"""Thin adapters around anonymeter's singling-out, linkability and inference evaluators.

The attacks themselves are anonymeter's (Giomi et al. 2023); these adapters only

* select the schema's modelled columns and rename them to safe names ``c0, c1, ...`` before
  anonymeter sees them (anonymeter builds queries from column names and misbehaves on names with
  spaces, brackets or quotes -- statice/anonymeter issue #37), mapping names back in the details;
* give every column one type across the three tables (categorical values as strings, numeric
  values as floats, missing values filled, see :func:`_prepare`);
* make the run reproducible under ``context.seed`` (see :func:`_seeded`);
* pass anonymeter's risk and interval through, clamped to [0, 1] and ordered.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from anonymeter.evaluators import InferenceEvaluator, LinkabilityEvaluator, SinglingOutEvaluator

from privgate import Attack, AttackContext, AttackResult, Kind, Schema, hookimpl
from privgate.attacks._common import (
    check_choice,
    check_columns,
    check_int,
    jsonable,
    modelled_columns,
    resolve_params,
)
from privgate.encoding import category_key, is_missing, to_numeric
from privgate.errors import InputError
from privgate.stats import clamp01

MAX_NULL_UPPER = 1e6  # stands for "no feasible sample certifies this"

INTERVAL_METHOD = (
    "anonymeter: Wilson score interval on the attack and control success rates, combined "
    "into the residual risk (attack - control) / (1 - control) with first-order error "
    "propagation, as in Giomi et al. 2023")

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


def _prepare(context: AttackContext, names: Sequence[str], *,
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
                values = getattr(context, frame)[name].tolist()
                out[frame][safe[name]] = pd.Series(
                    [MISSING_CATEGORY if is_missing(v) else str(category_key(v))
                     for v in values], dtype=object)
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


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed the global random generators anonymeter draws from, restoring numpy's afterwards.

    Anonymeter samples targets with pandas ``.sample()`` (numpy's global generator) and, in the
    singling-out size correction, with polars ``.sample()`` (polars' global seed, which cannot be
    read back, so it is left set). Its warnings ("attack is as good or worse as baseline", ...)
    are silenced: the details carry the rates they are about.
    """
    import polars as pl  # anonymeter's own dependency

    state = np.random.get_state()
    np.random.seed(seed % 2**32)
    pl.set_random_seed(seed % 2**32)
    # anonymeter logs shortfalls ("could generate only N queries") as warnings; the details
    # record them, so the console stays readable.
    log = logging.getLogger("anonymeter")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        np.random.set_state(state)
        log.setLevel(level)


def _rate(rate: Any) -> dict[str, float] | None:
    """Anonymeter's ``SuccessRate`` (value, error) as a plain dict."""
    if rate is None:
        return None
    return {"value": float(rate.value), "error": float(rate.error)}


def _risk_triple(risk: Any) -> tuple[float, float, float]:
    """Anonymeter's ``PrivacyRisk`` as ``(low, value, high)`` clamped to [0, 1] and ordered."""
    value = clamp01(float(risk.value))
    low = min(clamp01(float(risk.ci[0])), value)
    high = max(clamp01(float(risk.ci[1])), value)
    return low, value, high


def _null_upper(results: Any) -> float | None:
    """The upper bound anonymeter would report if the attack did no better than on control.

    anonymeter's risk is ``(attack - control) / (1 - control)`` with the two rates' Wilson
    half-widths propagated; with equal rates that leaves ``sqrt(2) * e / (1 - control)``, where
    ``e`` is the control rate's half-width. A predictable secret (control rate near 1) makes it
    large: such a risk needs many targets to certify.
    """
    control = getattr(results, "control_rate", None)
    if control is None:
        return None
    headroom = 1.0 - float(control.value)
    if headroom <= 1e-9:
        return MAX_NULL_UPPER
    return min(MAX_NULL_UPPER, math.sqrt(2.0) * float(control.error) / headroom)


def _results_details(results: Any) -> dict[str, Any]:
    """The success counts and rates of anonymeter's ``EvaluationResults``."""
    return {
        "attack_rate": _rate(results.attack_rate),
        "control_rate": _rate(results.control_rate),
        "baseline_rate": _rate(results.baseline_rate),
        "n_success": float(results.n_success),
        "n_control": None if results.n_control is None else float(results.n_control),
        "n_baseline": float(results.n_baseline),
        "n_attacks": int(results.n_attacks_ori),
        "n_attacks_control": int(results.n_attacks_control),
        "n_attacks_baseline": int(results.n_attacks_baseline),
    }


def _split_in_two(names: Sequence[str]) -> tuple[list[str], list[str]]:
    half = (len(names) + 1) // 2
    return list(names[:half]), list(names[half:])


def _column_list(attack: str, schema: Schema, value: Any, param: str) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InputError(f"attack {attack!r}: parameter {param!r} must be a list of column "
                         f"names, got {value!r}")
    if not value:
        raise InputError(f"attack {attack!r}: parameter {param!r} must name at least one "
                         "column")
    return check_columns(attack, schema, value, param)


class _AnonymeterAttack(Attack):
    """Shared constructor: every parameter is checked up front (names, types, ranges)."""

    DEFAULTS: ClassVar[dict[str, Any]] = {}
    #: parameters that must be integers, with their minimum
    INTS: ClassVar[dict[str, int]] = {"n_attacks": 1}
    #: parameters that must be lists of column names (checked against the schema)
    COLUMN_LISTS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._settings()

    def _settings(self) -> dict[str, Any]:
        """The parameters merged over the defaults, each checked (an InputError names it)."""
        p = resolve_params(self.name, self.DEFAULTS, self.params)
        for key, minimum in self.INTS.items():
            if p[key] is not None:
                p[key] = check_int(self.name, p, key, minimum)
        for key in self.COLUMN_LISTS:
            if p[key] is not None and not (isinstance(p[key], list | tuple) and all(
                    isinstance(v, str) for v in p[key]) and p[key]):
                raise InputError(f"attack {self.name!r}: parameter {key!r} must be a non-empty "
                                 f"list of column names, got {p[key]!r}")
        return p

    def check_schema(self, schema: Schema) -> None:
        """Column-list parameters must name modelled columns."""
        p = self._settings()
        for key in self.COLUMN_LISTS:
            if p[key] is not None:
                _column_list(self.name, schema, p[key], key)


class AnonymeterSinglingOut(_AnonymeterAttack):
    """Anonymeter's singling-out attack (predicates learnt on the synthetic data)."""

    name: ClassVar[str] = "anonymeter-singling-out"
    risk_kind: ClassVar[str] = "singling-out"
    description: ClassVar[str] = (
        "Anonymeter singling-out: predicates that isolate one synthetic row, tested on the "
        "training rows against control rows.")
    explanation: ClassVar[str] = (
        "The simulated adversary has only the synthetic table. It writes conditions such as "
        "\"age at least 80, a widow, born in Peru\" that match exactly one synthetic row, and "
        "bets that exactly one real person in the training data matches them too -- which "
        "would let it single that person out, one of the three risks the EU's Article 29 "
        "Working Party names. The same conditions are also tried on real people the generator "
        "never saw (the control set): conditions that isolate people there as often as in the "
        "training data reflect general patterns of the population, not a leak. The risk is the "
        "share of the adversary's successes on the training data that goes beyond that "
        "control level (0: no excess, 1: every attempt singles someone out beyond chance).")
    references: ClassVar[tuple[str, ...]] = (
        ANONYMETER_REFERENCE, ARTICLE29_REFERENCE,
        "Cohen & Nissim (2020). Towards formalizing the GDPR's notion of singling out. PNAS "
        "117(15).",
    )
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "n_attacks": 500,
        "mode": "multivariate",
        "n_cols": None,  # 3, or every column of a table with fewer
        "max_attempts": 100_000,
    }
    INTS: ClassVar[dict[str, int]] = {"n_attacks": 1, "n_cols": 1, "max_attempts": 1}

    def _settings(self) -> dict[str, Any]:
        p = super()._settings()
        check_choice(self.name, p, "mode", ("multivariate", "univariate"))
        return p

    def run(self, context: AttackContext) -> AttackResult:
        """Run anonymeter's ``SinglingOutEvaluator`` and pass its risk through."""
        p = self._settings()
        n_attacks, mode, max_attempts = p["n_attacks"], p["mode"], p["max_attempts"]
        names = modelled_columns(self.name, context)
        n_cols = min(3, len(names)) if p["n_cols"] is None else p["n_cols"]
        if mode == "multivariate" and n_cols > len(names):
            raise InputError(f"attack {self.name!r}: parameter 'n_cols' is {n_cols} but the "
                             f"schema models only {len(names)} column(s)")
        data = _prepare(context, names, pandas_categorical=True)
        with _seeded(context.seed):
            evaluator = SinglingOutEvaluator(
                ori=data.train, syn=data.synthetic, control=data.control, n_attacks=n_attacks,
                n_cols=n_cols, max_attempts=max_attempts, seed=context.seed % 2**32)
            evaluator.evaluate(mode=mode)
            risk = evaluator.risk(confidence_level=context.confidence_level)
            results = evaluator.results(confidence_level=context.confidence_level)
        low, value, high = _risk_triple(risk)
        n_generated = len(evaluator.queries())
        details = {
            **_results_details(results),
            "mode": mode,
            "n_cols": n_cols if mode == "multivariate" else 1,
            "n_queries_generated": n_generated,
            "columns": list(names),
            "params": dict(p),
        }
        if n_generated < n_attacks:
            details["note"] = (
                f"only {n_generated} of {n_attacks} singling-out predicates could be found in "
                f"the synthetic data within {max_attempts} attempts; anonymeter counts the "
                "missing ones as failed attacks, which can underestimate the risk")
        return AttackResult(
            attack=self.name, risk_kind=self.risk_kind, risk=value, ci_low=low, ci_high=high,
            confidence_level=context.confidence_level, interval_method=INTERVAL_METHOD,
            baseline=clamp01(float(results.baseline_rate.value)),
            baseline_description=(
                "success rate of anonymeter's random-guess attacker: predicates built from "
                "random values and operators on random columns, tested on the training rows "
                "(a success rate, not an excess-over-control risk)"),
            n_trials=int(results.n_attacks_ori),
            details=jsonable(details),
            null_upper=_null_upper(results),
        )


def _random_link_probability(n_synthetic: int, k: int) -> float:
    """Chance that two independent uniform ``k``-subsets of ``n_synthetic`` rows intersect.

    ``1 - C(n - k, k) / C(n, k)``, computed as a product to stay in floating point.
    """
    k = min(k, n_synthetic)
    if 2 * k > n_synthetic:
        return 1.0
    disjoint = 1.0
    for i in range(k):
        disjoint *= (n_synthetic - k - i) / (n_synthetic - i)
    return clamp01(1.0 - disjoint)


class AnonymeterLinkability(_AnonymeterAttack):
    """Anonymeter's linkability attack (re-joining two halves of a record via synthetic rows)."""

    name: ClassVar[str] = "anonymeter-linkability"
    risk_kind: ClassVar[str] = "linkability"
    description: ClassVar[str] = (
        "Anonymeter linkability: can two separately held sets of attributes of the same person "
        "be joined through their nearest synthetic records?")
    explanation: ClassVar[str] = (
        "The simulated adversary holds two separate databases about the same people -- say, "
        "one with age, sex and race, another with marital status, country and education -- but "
        "no key to join them. It uses the synthetic table as a bridge: for each record in each "
        "database it finds the most similar synthetic rows, and links two records when they "
        "point to the same synthetic row. The test is repeated on real people the generator "
        "never saw (the control set), since some links succeed simply because the population "
        "is predictable. The risk is the share of successful links on the training data beyond "
        "that control level (0: the synthetic data does not help link records, 1: it links "
        "everyone).")
    references: ClassVar[tuple[str, ...]] = (ANONYMETER_REFERENCE, ARTICLE29_REFERENCE)
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "n_attacks": 500,
        "n_neighbors": 1,
        "aux_cols": None,
    }
    INTS: ClassVar[dict[str, int]] = {"n_attacks": 1, "n_neighbors": 1}

    def _settings(self) -> dict[str, Any]:
        p = super()._settings()
        aux = p["aux_cols"]
        if aux is not None and (not isinstance(aux, list | tuple) or len(aux) != 2 or not all(
                isinstance(half, list | tuple) and half and all(isinstance(c, str) for c in half)
                for half in aux)):
            raise InputError(f"attack {self.name!r}: parameter 'aux_cols' must be two lists of "
                             f"column names, got {aux!r}")
        return p

    def check_schema(self, schema: Schema) -> None:
        """``aux_cols`` must name modelled columns; linking needs two columns at least."""
        p = self._settings()
        if p["aux_cols"] is not None:
            self._aux_cols(schema, [c.name for c in schema.modelled], p["aux_cols"])

    def _aux_cols(self, schema: Schema, names: list[str], value: Any
                  ) -> tuple[list[str], list[str]]:
        if value is None:
            # Every modelled column, split in two halves (anonymeter's own usage): with only the
            # quasi-identifiers, tables with few distinct QI combinations tie everywhere and
            # a verbatim copy scored ~0 on adult.
            return _split_in_two(names)
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise InputError(f"attack {self.name!r}: parameter 'aux_cols' must be two lists of "
                             f"column names, got {value!r}")
        first = _column_list(self.name, schema, value[0], "aux_cols")
        second = _column_list(self.name, schema, value[1], "aux_cols")
        return first, second

    def run(self, context: AttackContext) -> AttackResult:
        """Run anonymeter's ``LinkabilityEvaluator`` and pass its risk through."""
        p = self._settings()
        n_attacks, n_neighbors = p["n_attacks"], p["n_neighbors"]
        names = modelled_columns(self.name, context)
        if len(names) < 2:
            raise InputError(f"attack {self.name!r}: needs at least two modelled columns")
        aux = self._aux_cols(context.schema, names, p["aux_cols"])
        data = _prepare(context, names)
        n_attacks = min(n_attacks, len(data.train), len(data.control))
        n_syn = len(data.synthetic)
        with _seeded(context.seed):
            evaluator = LinkabilityEvaluator(
                ori=data.train, syn=data.synthetic, control=data.control, n_attacks=n_attacks,
                n_neighbors=n_neighbors,
                aux_cols=([data.safe[c] for c in aux[0]], [data.safe[c] for c in aux[1]]))
            evaluator.evaluate(n_jobs=1)
            risk = evaluator.risk(confidence_level=context.confidence_level)
            results = evaluator.results(confidence_level=context.confidence_level)
        low, value, high = _risk_triple(risk)
        # Anonymeter's own baseline draws random neighbour sets from an unseeded generator, so
        # its count would break reproducibility. The random-guess success probability has a
        # closed form: two independent uniform k-subsets of the n synthetic rows intersect with
        # probability 1 - C(n-k, k) / C(n, k). The risk itself does not use the baseline (it is
        # measured against the control attack), so only the reported baseline is replaced.
        baseline = _random_link_probability(n_syn, n_neighbors)
        details = _results_details(results)
        details["baseline_rate"] = {"value": baseline, "error": 0.0}
        details["n_baseline"] = None
        details.update({
            "baseline_method": "closed form 1 - C(n-k,k)/C(n,k) (anonymeter's random "
                               "baseline is unseeded)",
            "aux_cols": [aux[0], aux[1]],
            "n_neighbors": n_neighbors,
            "n_synthetic": n_syn,
            "params": dict(p),
        })
        return AttackResult(
            attack=self.name, risk_kind=self.risk_kind, risk=value, ci_low=low, ci_high=high,
            confidence_level=context.confidence_level, interval_method=INTERVAL_METHOD,
            baseline=baseline,
            baseline_description=(
                f"chance that an adversary who picks {n_neighbors} synthetic row(s) at random "
                "for each half of a record links the two halves (a success rate, not an "
                "excess-over-control risk)"),
            n_trials=int(results.n_attacks_ori),
            details=jsonable(details),
            null_upper=_null_upper(results),
        )


class AnonymeterInference(_AnonymeterAttack):
    """Anonymeter's attribute-inference attack, run once per secret; the worst one is reported."""

    name: ClassVar[str] = "anonymeter-inference"
    risk_kind: ClassVar[str] = "inference"
    description: ClassVar[str] = (
        "Anonymeter inference: guessing each sensitive column of a real person from their "
        "quasi-identifiers via the nearest synthetic record (worst column reported).")
    explanation: ClassVar[str] = (
        "The simulated adversary knows some harmless-looking facts about a real person (the "
        "quasi-identifiers, such as age, sex and education) and wants to learn a sensitive "
        "one (such as occupation or income). It looks up the synthetic row most similar to "
        "what it knows and reads the sensitive value off that row. Because some guesses "
        "succeed simply because the population is predictable, the same attack is run on real "
        "people the generator never saw (the control set). The risk is the share of correct "
        "guesses about training-data members beyond that control level, reported for the "
        "sensitive column where it is highest (0: the synthetic data reveals nothing beyond "
        "general patterns, 1: every secret is revealed).")
    references: ClassVar[tuple[str, ...]] = (ANONYMETER_REFERENCE, ARTICLE29_REFERENCE)
    # 2,000 targets (fewer when the tables are smaller): the risk divides by the share of
    # secrets the control attack gets wrong, so a predictable secret (87% right from the
    # quasi-identifiers on the demo table) needs many targets for a usefully narrow interval.
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "n_attacks": 2000,
        "secrets": None,
        "aux_cols": None,
    }
    COLUMN_LISTS: ClassVar[tuple[str, ...]] = ("secrets", "aux_cols")

    def run(self, context: AttackContext) -> AttackResult:
        """Run anonymeter's ``InferenceEvaluator`` once per secret column."""
        p = self._settings()
        n_attacks = p["n_attacks"]
        schema = context.schema
        names = modelled_columns(self.name, context)
        secrets = (schema.sensitive if p["secrets"] is None
                   else _column_list(self.name, schema, p["secrets"], "secrets"))
        every_column = not secrets
        if every_column:
            # Nothing declared sensitive: the worst case is that any column is the secret, so
            # each one is attacked in turn (from all the others) and the highest risk counts.
            secrets = list(names)
        fixed_aux = (None if p["aux_cols"] is None
                     else _column_list(self.name, schema, p["aux_cols"], "aux_cols"))
        data = _prepare(context, names)
        n_attacks = min(n_attacks, len(data.train), len(data.control))

        per_secret: dict[str, dict[str, Any]] = {}
        null_uppers: list[float] = []
        triples: dict[str, tuple[float, float, float]] = {}
        for i, secret in enumerate(secrets):
            aux = [c for c in (fixed_aux or schema.quasi_identifiers) if c != secret]
            if not aux:  # no quasi-identifiers declared: the attacker knows everything else
                aux = [c for c in names if c != secret]
            if not aux:
                raise InputError(f"attack {self.name!r}: no auxiliary column left for secret "
                                 f"{secret!r}")
            regression = schema[secret].kind is not Kind.CATEGORICAL
            with _seeded(context.seed + i):
                evaluator = InferenceEvaluator(
                    ori=data.train, syn=data.synthetic, control=data.control,
                    aux_cols=[data.safe[c] for c in aux], secret=data.safe[secret],
                    regression=regression, n_attacks=n_attacks)
                evaluator.evaluate(n_jobs=1)
                risk = evaluator.risk(confidence_level=context.confidence_level)
                results = evaluator.results(confidence_level=context.confidence_level)
            triples[secret] = _risk_triple(risk)
            nu = _null_upper(results)
            if nu is not None:
                null_uppers.append(nu)
            low, value, high = triples[secret]
            per_secret[secret] = {
                "risk": value, "ci": [low, high], "aux_cols": aux, "regression": regression,
                **_results_details(results),
            }

        worst = max(secrets, key=lambda s: (triples[s][1], triples[s][2]))
        value = triples[worst][1]
        # The interval of the maximum: per-secret lower and upper bounds, maximised (so the
        # gate's upper bound is the largest over secrets); no multiplicity adjustment.
        low = min(max(t[0] for t in triples.values()), value)
        high = max(max(t[2] for t in triples.values()), value)
        worst_details = per_secret[worst]
        details = {
            "secret": worst,
            **{k: worst_details[k] for k in (
                "attack_rate", "control_rate", "baseline_rate", "n_success", "n_control",
                "n_baseline", "n_attacks", "n_attacks_control", "n_attacks_baseline",
                "aux_cols", "regression")},
            "per_secret": per_secret,
            "regression_tolerance": 0.05,
            "secrets_from": ("every column (no sensitive column declared)" if every_column
                             else "declared sensitive and target columns"),
            "params": dict(p),
        }
        return AttackResult(
            attack=self.name, risk_kind=self.risk_kind, risk=value, ci_low=low, ci_high=high,
            confidence_level=context.confidence_level,
            interval_method=INTERVAL_METHOD + "; for several secrets the highest risk is "
            "reported with the interval [max of lower bounds, max of upper bounds] (no "
            "multiplicity adjustment)",
            baseline=clamp01(float(worst_details["baseline_rate"]["value"])),
            baseline_description=(
                f"success rate of anonymeter's random-guess attacker on {worst!r}: it copies "
                "the secret of a random synthetic row (a success rate, not an "
                "excess-over-control risk)"),
            n_trials=int(worst_details["n_attacks"]),
            details=jsonable(details),
            null_upper=max(null_uppers) if null_uppers else None,
        )


@hookimpl
def privgate_attacks() -> list[type[Attack]]:
    """Register the three anonymeter adapters."""
    return [AnonymeterSinglingOut, AnonymeterLinkability, AnonymeterInference]
