"""privgate's plugin contract kit, also shipped as a pytest plugin.

A plugin author runs ``pytest --privgate-contract`` in their repository and gets one test per
generator, attack, metric, policy and reporter, and per report-section plugin, that their
distribution registers in the ``privgate`` entry-point group (``--privgate-contract-dist NAME``
picks other distributions). Without the flag the plugin adds nothing to a pytest run.

The checks are plain functions, usable from any test suite::

    from privgate.testing import check_attack, check_generator, check_policy

    def test_my_generator_honours_the_contract():
        check_generator(MyGenerator)

Each raises :class:`ContractViolation` (an ``AssertionError``) saying which rule was broken.
When plugin code raises inside a check, the violation names the file and line of the plugin's
code where it raised and is chained to the original exception (``raise ... from exc``), so
pytest shows the plugin's own frames. The reporter and report-section checks
(:func:`check_reporter`, :func:`check_report_sections`) live in :mod:`privgate.testing_reports`
and are re-exported here; :class:`ContractViolation` and the time limit in
:mod:`privgate.testing_runtime`.

Time limit: every check runs in a worker thread and fails with a :class:`ContractViolation`
naming the plugin, the check and the limit when it runs longer than ``timeout_s`` seconds
(default: ``--privgate-contract-timeout``, else ``PRIVGATE_CONTRACT_TIMEOUT``, else 600; 0 means
no limit). Python cannot kill a thread: the kit stops *waiting* and the abandoned call finishes
in the background (as :mod:`privgate.isolation` does for audits).

Fast parameters: a generator, attack or metric class may declare
``contract_params: ClassVar[dict[str, Any]]`` -- constructor parameters that keep it quick on the
kit's small tables (e.g. ``{"epochs": 1}`` for a DP-SGD model). The kit instantiates
``cls(**contract_params)``; an explicit ``params=`` argument overrides it.

Hypothesis budget: ``PRIVGATE_CONTRACT_EXAMPLES`` (default 8) examples per generator, with no
deadline; tables have 1 to 5,000 rows, mostly small.
"""

from __future__ import annotations

import functools
import json
import math
import os
import sys
import threading
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pluggy

from privgate.attack import RISK_KINDS, Attack, AttackContext, AttackResult
from privgate.errors import InputError, PrivgateError
from privgate.generator import NOT_PRIVATE, Generator, PrivacyBudget, PrivacySpent
from privgate.metric import Metric, MetricResult
from privgate.policy import SEVERITY, Policy, Status, check
from privgate.schema import Column, Kind, Role, Schema, epoch_seconds
from privgate.testing_reports import check_report_sections, check_reporter
from privgate.testing_runtime import (
    DEFAULT_TIMEOUT_S,
    KIT_DIR,
    TIMEOUT_ENV,
    ContractViolation,
    contract_timeout,
    label,
    plugin_call,
    under,
    where,
    within_limit,
)
from privgate.testing_runtime import instantiate as _instantiate
from privgate.testing_runtime import violation as _fail

__all__ = [
    "ContractViolation", "GeneratedCase", "IndependentMarginals", "VerbatimCopy",
    "check_attack", "check_generator", "check_generator_case", "check_metric", "check_policy",
    "check_report_sections", "check_reporter", "contract_items", "contract_timeout",
    "generated_cases", "independent_marginals", "make_case", "scenario",
]

#: Risk kinds for which a verbatim copy of the training rows must score higher than
#: independent marginals. ``distinguishability`` is excluded: a verbatim copy is, by design,
#: indistinguishable from the real rows (it scores lowest), while broken correlations score high.
LEAK_KINDS = tuple(k for k in RISK_KINDS if k != "distinguishability")
DEFAULT_EXAMPLES = 8
EPOCH = pd.Timestamp("2020-01-01")


# -- generated schemas and tables ----------------------------------------------------------


@dataclass(frozen=True)
class GeneratedCase:
    """One generated training table with its declared schema and the sampling request."""

    data: pd.DataFrame
    schema: Schema
    budget: PrivacyBudget
    n_sample: int
    seed: int


def _column(rng: np.random.Generator, name: str, kind: str, n: int, nullable: bool,
            constant: bool, singleton: bool) -> tuple[Column, pd.Series]:
    """One column of ``n`` values and its declaration (domains declared, never data-read)."""
    role = Role.QUASI_IDENTIFIER if rng.random() < 0.5 else Role.OTHER
    once = int(rng.integers(0, n))  # the row holding a singleton category (never missing)
    if kind in ("cat-str", "cat-int"):
        k = int(rng.integers(3, 7))
        cats: list[Any] = ([f"c{i}" for i in range(k)] if kind == "cat-str"
                           else list(range(10, 10 + k)))
        # With ``singleton`` the last category occurs exactly once (declared, but rare).
        common = k - 1 if singleton else k
        idx = np.zeros(n, dtype=int) if constant else rng.integers(0, common, n)
        if singleton and n >= 2 and not constant:
            idx[once] = k - 1
        values = pd.Series([cats[i] for i in idx], dtype=object)
        col = Column(name, Kind.CATEGORICAL, role, categories=tuple(cats), nullable=nullable)
    elif kind == "integer":
        raw = np.full(n, 7) if constant else rng.integers(0, 100, n)
        values = pd.Series(raw.astype(float) if nullable else raw.astype(np.int64))
        col = Column(name, Kind.INTEGER, role, bounds=(0.0, 120.0), nullable=nullable)
    elif kind == "continuous":
        raw = np.full(n, 2.5) if constant else rng.normal(50, 15, n).clip(0, 100)
        values = pd.Series(raw.astype(float))
        col = Column(name, Kind.CONTINUOUS, role, bounds=(0.0, 100.0), nullable=nullable)
    else:  # datetime
        days = np.full(n, 3) if constant else rng.integers(0, 365, n)
        values = pd.Series(EPOCH + pd.to_timedelta(days, unit="D"))
        low = float(epoch_seconds(pd.Series([EPOCH])).iloc[0])
        col = Column(name, Kind.DATETIME, role, bounds=(low, low + 400 * 86_400.0),
                     nullable=nullable)
    if nullable and n >= 2:
        mask = rng.random(n) < 0.2
        mask[(once + 1) % n] = True
        mask[once] = False
        values = values.mask(mask)
    return col, values


def make_case(*, seed: int, n_rows: int, kinds: Sequence[str], nullable: Sequence[bool],
              constant: Sequence[bool], singleton: Sequence[bool], epsilon: float,
              n_sample: int) -> GeneratedCase:
    """Build a :class:`GeneratedCase` deterministically from its description."""
    rng = np.random.default_rng(seed)
    cols, series = [], {}
    for i, kind in enumerate(kinds):
        col, values = _column(rng, f"{kind.replace('-', '_')}_{i}", kind, n_rows, nullable[i],
                              constant[i], singleton[i])
        cols.append(col)
        series[col.name] = values.reset_index(drop=True)
    categorical = [i for i, c in enumerate(cols) if c.kind is Kind.CATEGORICAL]
    if categorical and seed % 2 == 0:  # half of the tables have a prediction target
        cols[categorical[0]] = replace(cols[categorical[0]], role=Role.TARGET)
    return GeneratedCase(pd.DataFrame(series), Schema(tuple(cols)),
                         PrivacyBudget(epsilon, 1e-5), n_sample, seed % 1000)


def generated_cases() -> Any:
    """A hypothesis strategy of :class:`GeneratedCase`: mixed kinds, missing values, a category
    seen once, constant columns, 1 to 5,000 rows (mostly small)."""
    from hypothesis import strategies as st

    kinds = st.sampled_from(("cat-str", "cat-int", "integer", "continuous", "datetime"))
    # Mostly small tables; about one example in ten has 5,000 rows.
    sizes = ("small",) * 6 + ("medium",) * 3 + ("large",)
    rows = st.sampled_from(sizes).flatmap(
        lambda k: st.integers(1, 40) if k == "small" else st.integers(41, 400)
        if k == "medium" else st.just(5000))

    @st.composite
    def cases(draw: Callable[[Any], Any]) -> GeneratedCase:
        n_cols = draw(st.integers(1, 5))
        return make_case(
            seed=draw(st.integers(0, 2**31 - 1)), n_rows=draw(rows),
            kinds=[draw(kinds) for _ in range(n_cols)],
            nullable=[draw(st.booleans()) for _ in range(n_cols)],
            constant=[draw(st.integers(0, 4)) == 0 for _ in range(n_cols)],
            singleton=[draw(st.booleans()) for _ in range(n_cols)],
            epsilon=draw(st.sampled_from((0.5, 1.0, 3.0, 10.0))),
            n_sample=draw(st.integers(1, 60)))

    return cases()


# -- generators --------------------------------------------------------------------------


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _check_domain(owner: str, out: pd.DataFrame, schema: Schema) -> None:
    for col in schema.modelled:
        s = out[col.name]
        missing = s.isna()
        if missing.any() and not col.nullable:
            raise _fail(owner, f"column {col.name!r} is not nullable but sample() returned "
                               f"{int(missing.sum())} missing value(s)")
        present = s[~missing]
        if present.empty:
            continue
        if col.kind is Kind.CATEGORICAL:
            assert col.categories is not None
            allowed = set(col.categories)
            bad = [v for v in present.unique() if v not in allowed]
            if bad:
                raise _fail(owner, f"column {col.name!r} has values {bad[:5]} outside the "
                                   f"declared categories {list(col.categories)}")
            continue
        if col.kind is Kind.DATETIME:
            if not pd.api.types.is_datetime64_any_dtype(s):
                raise _fail(owner, f"datetime column {col.name!r} came back as {s.dtype}")
            numbers = epoch_seconds(present).to_numpy(dtype=float)
        else:
            if not pd.api.types.is_numeric_dtype(s):
                raise _fail(owner, f"{col.kind} column {col.name!r} came back as {s.dtype}")
            numbers = present.to_numpy(dtype=float)
        assert col.bounds is not None
        low, high = col.bounds
        slack = 1e-6 * max(1.0, abs(low), abs(high))
        if (numbers < low - slack).any() or (numbers > high + slack).any():
            raise _fail(owner, f"column {col.name!r} has values in [{numbers.min()}, "
                               f"{numbers.max()}], outside the declared bounds {[low, high]}")
        if col.kind is Kind.INTEGER and not np.all(np.equal(np.mod(numbers, 1), 0)):
            raise _fail(owner, f"integer column {col.name!r} has fractional values")


def _check_frame(owner: str, out: object, schema: Schema, n: int) -> pd.DataFrame:
    if not isinstance(out, pd.DataFrame):
        raise _fail(owner, f"sample({n}) returned {type(out).__name__}, not a DataFrame")
    expected = [c.name for c in schema.modelled]
    if sorted(map(str, out.columns)) != sorted(expected):
        raise _fail(owner, f"sample({n}) returned columns {list(out.columns)}; the schema's "
                           f"modelled columns are {expected}")
    if len(out) != n:
        raise _fail(owner, f"sample({n}) returned {len(out)} rows")
    _check_domain(owner, out, schema)
    return out


def _check_spent(owner: str, cls: type[Generator], spent: object,
                 budget: PrivacyBudget) -> None:
    if not isinstance(spent, PrivacySpent):
        raise _fail(owner, f"privacy_spent is {type(spent).__name__}, not PrivacySpent")
    if not cls.is_private:
        return
    if not (math.isfinite(spent.epsilon) and spent.epsilon > 0):
        raise _fail(owner, f"claims differential privacy but reports epsilon {spent.epsilon}")
    if spent.epsilon > budget.epsilon * (1 + 1e-9):
        raise _fail(owner, f"spent epsilon {spent.epsilon} exceeds the budget "
                           f"{budget.epsilon}")
    if not (0 <= spent.delta <= budget.delta * (1 + 1e-9)):
        raise _fail(owner, f"spent delta {spent.delta} is outside [0, {budget.delta}]")
    if not spent.accountant:
        raise _fail(owner, "privacy_spent names no accountant")


def _expect_privgate_error(owner: str, what: str, fn: Callable[[], object]) -> bool:
    """Run ``fn``; True if it raised a PrivgateError with a message, False if it returned."""
    try:
        fn()
    except PrivgateError as exc:
        if not str(exc).strip():
            raise _fail(owner, f"{what} raised {type(exc).__name__} without a message") from exc
        return True
    except Exception as exc:
        raise _fail(owner, f"{what} raised {type(exc).__name__}: {exc}{where(exc)}; "
                           "unsupported input must raise privgate.errors.InputError (or another "
                           "PrivgateError) with a message") from exc
    return False


def check_generator_case(cls: type[Generator], case: GeneratedCase,
                         params: Mapping[str, Any] | None = None, *,
                         must_fit: bool = False, timeout_s: float | None = None) -> None:
    """Check one generator on one generated table (see :func:`check_generator`).

    With ``must_fit``, declining the table (a :class:`PrivgateError` from ``fit``) is a
    violation too: every generator must work on a plain table with declared domains.
    """
    __tracebackhide__ = True
    within_limit(label("generator", cls), "check_generator_case", cls, timeout_s,
                 lambda: _check_generator_case(cls, case, params, must_fit=must_fit))


def _check_generator_case(cls: type[Generator], case: GeneratedCase,
                          params: Mapping[str, Any] | None = None, *,
                          must_fit: bool = False) -> None:
    owner = label("generator", cls)
    data, schema = case.data, case.schema
    before = data.copy(deep=True)
    budget = case.budget if cls.is_private else None
    gen = plugin_call(owner, "the constructor", lambda: _instantiate(cls, params))
    fitted = _expect_privgate_error(owner, f"fit() on {len(data)} rows",
                                    lambda: gen.fit(data, schema, budget, seed=case.seed))
    try:
        pd.testing.assert_frame_equal(data, before)
    except AssertionError as exc:
        raise _fail(owner, f"fit() modified the input frame: {exc}") from None
    if fitted and must_fit:
        raise _fail(owner, f"declined a plain {len(data)}-row table with declared domains, "
                           "quasi-identifiers and a target; it must be able to fit one")
    if fitted:  # declined the input with a PrivgateError and a message: allowed
        return
    _check_spent(owner, cls, plugin_call(owner, "privacy_spent", lambda: gen.privacy_spent),
                 case.budget)
    n = case.n_sample
    first = _check_frame(owner, plugin_call(owner, f"sample({n})",
                                            lambda: gen.sample(n, seed=case.seed)), schema, n)
    again = plugin_call(owner, f"sample({n}) (again)", lambda: gen.sample(n, seed=case.seed))
    try:
        pd.testing.assert_frame_equal(first.reset_index(drop=True), again.reset_index(drop=True))
    except AssertionError as exc:
        raise _fail(owner, f"sample({n}, seed={case.seed}) is not reproducible: {exc}") from None
    twin = plugin_call(owner, "the constructor", lambda: _instantiate(cls, params))
    plugin_call(owner, "fit() on a second instance",
                lambda: twin.fit(data.copy(deep=True), schema, budget, seed=case.seed))
    repeat = plugin_call(owner, f"sample({n}) on a second instance",
                         lambda: twin.sample(n, seed=case.seed))
    try:
        pd.testing.assert_frame_equal(first.reset_index(drop=True),
                                      repeat.reset_index(drop=True))
    except AssertionError as exc:
        raise _fail(owner, f"not reproducible across instances: fit(seed={case.seed}) then "
                           f"sample(seed={case.seed}) gives different rows on a second "
                           f"instance: {exc}") from None
    _check_conditions(owner, cls, gen, case)
    if not _expect_privgate_error(owner, "sample(-1)", lambda: gen.sample(-1, seed=0)):
        raise _fail(owner, "sample(-1) returned instead of raising InputError")
    if _expect_privgate_error(owner, "sample(conditions={'no such column': 1})",
                              lambda: gen.sample(1, conditions={"no such column": 1})) is False:
        raise _fail(owner, "sample() accepted a condition on a column that does not exist")


def _check_conditions(owner: str, cls: type[Generator], gen: Generator,
                      case: GeneratedCase) -> None:
    col = next((c for c in case.schema.modelled if c.kind is Kind.CATEGORICAL), None)
    if col is None:
        return
    assert col.categories is not None
    seen = case.data[col.name].dropna()
    value = seen.iloc[0] if len(seen) else col.categories[0]
    n = min(case.n_sample, 20)
    if not cls.supports_conditions:
        if not _expect_privgate_error(owner, "sample(conditions=...)",
                                      lambda: gen.sample(n, conditions={col.name: value})):
            raise _fail(owner, "supports_conditions is False but sample() accepted conditions "
                               "without raising InputError")
        return
    try:
        out = gen.sample(n, seed=case.seed, conditions={col.name: value})
    except PrivgateError as exc:  # e.g. a condition too rare for the model: stated, allowed
        if not str(exc).strip():
            raise _fail(owner, "conditional sample() raised without a message") from exc
        return
    except Exception as exc:
        raise _fail(owner, f"conditional sample() raised {type(exc).__name__}: "
                           f"{exc}{where(exc)}") from exc
    _check_frame(owner, out, case.schema, n)
    if not (out[col.name] == value).all():
        raise _fail(owner, f"sample(conditions={{{col.name!r}: {value!r}}}) returned rows with "
                           f"other values: {sorted(map(str, out[col.name].unique()))[:5]}")


def _examples(max_examples: int | None) -> int:
    if max_examples is not None:
        return max_examples
    return int(os.environ.get("PRIVGATE_CONTRACT_EXAMPLES", DEFAULT_EXAMPLES))


def check_generator(cls: type[Generator], params: Mapping[str, Any] | None = None, *,
                    max_examples: int | None = None, timeout_s: float | None = None) -> None:
    """Run the generator contract on hypothesis-generated schemas and tables.

    Rules: ``fit`` either works or raises a :class:`~privgate.errors.PrivgateError` with a
    message (never another exception) and never modifies its input; ``sample(n)`` returns ``n``
    rows with exactly the schema's modelled columns, kinds and declared domains (no missing
    values in non-nullable columns); the same seed reproduces the same rows, on the same and
    on a freshly fitted instance; a private generator reports a finite (epsilon, delta) within
    its budget; conditions are honoured when ``supports_conditions`` is set and refused with
    ``InputError`` when not; ``sample(-1)`` and unknown condition columns raise ``InputError``.
    A generator may decline a generated table with a PrivgateError, but not the plain
    200-row table (declared domains, quasi-identifiers, a target) checked first.
    """
    __tracebackhide__ = True
    _check_generator_class(cls)
    within_limit(label("generator", cls), "check_generator", cls, timeout_s,
                 lambda: _check_generator(cls, params, max_examples))


def _check_generator(cls: type[Generator], params: Mapping[str, Any] | None,
                     max_examples: int | None) -> None:
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=_examples(max_examples), deadline=None, database=None,
              derandomize=True, print_blob=True, report_multiple_bugs=False,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(generated_cases())
    def run(case: GeneratedCase) -> None:
        _check_generator_case(cls, case, params)

    # First a plain table every generator must handle (so declining everything cannot pass),
    # then the generated ones.
    train, _, schema = scenario(200, seed=1)
    plain = GeneratedCase(train, schema, PrivacyBudget(1.0, 1e-5), 50, 1)
    _check_generator_case(cls, plain, params, must_fit=True)
    _run_hypothesis(run)


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


def _run_hypothesis(run: Callable[[], None]) -> None:
    """Run a hypothesis test; a contract violation surfaces as :class:`ContractViolation` even
    when hypothesis wraps it (a failure that does not repeat is reported as "flaky")."""
    try:
        run()
    except ContractViolation:
        raise
    except BaseExceptionGroup as group:
        found = [e for e in _leaves(group) if isinstance(e, ContractViolation)]
        if not found:
            raise
        note = (" (flaky: the same input did not fail every time -- typical of randomness "
                "that ignores the seed)" if "Flaky" in type(group).__name__ else "")
        notes = "".join(f"\n{n}" for n in getattr(found[0], "__notes__", ()))
        # chained to the plugin's exception, if one caused it (hypothesis's internals hidden)
        raise ContractViolation(f"{found[0]}{note}{notes}") from found[0].__cause__


def _check_generator_class(cls: object) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Generator)):
        raise ContractViolation(f"{cls!r} is not a privgate.Generator subclass")
    if not isinstance(getattr(cls, "name", None), str) or not cls.name:
        raise ContractViolation(f"generator class {cls.__name__} has no name")


# -- attacks -------------------------------------------------------------------------------


def scenario(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, Schema]:
    """A small population with correlated quasi-identifiers and a secret: (train, control,
    schema). Rows are nearly unique, so a verbatim copy of ``train`` leaks them."""
    rng = np.random.default_rng(seed)
    total = 2 * n
    age = rng.integers(18, 90, total)
    sex = rng.choice(["f", "m"], total)
    region = rng.choice([f"r{i}" for i in range(6)], total)
    income = (age * 900 + rng.normal(0, 4000, total)).clip(0, 200_000).round()
    disease = np.where((age > 60) ^ (rng.random(total) < 0.15), "yes", "no")
    frame = pd.DataFrame({"age": age, "sex": sex, "region": region,
                          "income": income.astype(np.int64), "disease": disease})
    schema = Schema((
        Column("age", Kind.INTEGER, Role.QUASI_IDENTIFIER, bounds=(18.0, 90.0)),
        Column("sex", Kind.CATEGORICAL, Role.QUASI_IDENTIFIER, categories=("f", "m")),
        Column("region", Kind.CATEGORICAL, Role.QUASI_IDENTIFIER,
               categories=tuple(f"r{i}" for i in range(6))),
        Column("income", Kind.INTEGER, Role.OTHER, bounds=(0.0, 200_000.0)),
        Column("disease", Kind.CATEGORICAL, Role.TARGET, categories=("no", "yes")),
    ))
    return frame.iloc[:n].reset_index(drop=True), frame.iloc[n:].reset_index(drop=True), schema


def independent_marginals(df: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Each column shuffled on its own: the marginals survive, every row link is broken."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: df[c].to_numpy()[rng.permutation(len(df))] for c in df.columns})


class VerbatimCopy(Generator):
    """The kit's leakiest generator: ``sample(n)`` repeats the training rows in order.

    Attacks that need a fitted generator (shadow models) get this one in the context of the
    verbatim-copy scenario and build fresh copies with ``type(g)(**g.get_params())``.
    """

    name = "privgate-contract-verbatim"
    is_private = False

    def __init__(self, **params: Any) -> None:
        self.params = dict(params)

    def fit(self, data: pd.DataFrame, schema: Schema, budget: PrivacyBudget | None,
            *, seed: int = 0) -> VerbatimCopy:
        if len(data) == 0:
            raise InputError(f"generator {self.name!r}: needs at least one training row")
        self.data_ = data.reset_index(drop=True).copy()
        return self

    def sample(self, n: int, *, seed: int = 0,
               conditions: Mapping[str, Any] | None = None) -> pd.DataFrame:
        if n < 0:
            raise InputError(f"generator {self.name!r}: n must be >= 0, got {n}")
        if conditions:
            raise InputError(f"generator {self.name!r} cannot sample under conditions")
        return self.data_.iloc[np.arange(n) % len(self.data_)].reset_index(drop=True)

    @property
    def privacy_spent(self) -> PrivacySpent:
        return PrivacySpent(math.inf, 1.0, NOT_PRIVATE)


class IndependentMarginals(VerbatimCopy):
    """The kit's no-link generator: each column resampled on its own (seeded)."""

    name = "privgate-contract-marginals"

    def sample(self, n: int, *, seed: int = 0,
               conditions: Mapping[str, Any] | None = None) -> pd.DataFrame:
        if n < 0:
            raise InputError(f"generator {self.name!r}: n must be >= 0, got {n}")
        rng = np.random.default_rng(seed)
        m = len(self.data_)
        return pd.DataFrame({c: self.data_[c].to_numpy()[rng.integers(0, m, n)]
                             for c in self.data_.columns})


def _check_result(owner: str, cls: type[Attack], result: object,
                  level: float) -> AttackResult:
    if not isinstance(result, AttackResult):
        raise _fail(owner, f"run() returned {type(result).__name__}, not AttackResult")
    if result.attack != cls.name:
        raise _fail(owner, f"result names attack {result.attack!r}, not {cls.name!r}")
    if result.risk_kind != cls.risk_kind or result.risk_kind not in RISK_KINDS:
        raise _fail(owner, f"result risk_kind {result.risk_kind!r}; the class declares "
                           f"{cls.risk_kind!r} (one of {RISK_KINDS})")
    values = (result.ci_low, result.risk, result.ci_high)
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
        raise _fail(owner, f"risk and interval must be finite numbers, got {values}")
    if not 0 <= result.ci_low <= result.risk <= result.ci_high <= 1:
        raise _fail(owner, f"need 0 <= ci_low <= risk <= ci_high <= 1, got {values}")
    if not (math.isfinite(result.baseline) and 0 <= result.baseline <= 1):
        raise _fail(owner, f"baseline must be in [0, 1], got {result.baseline}")
    if not result.baseline_description.strip():
        raise _fail(owner, "the baseline has no description (what the naive adversary does)")
    if not result.interval_method.strip():
        raise _fail(owner, "the interval does not state its method")
    if abs(result.confidence_level - level) > 1e-12:
        raise _fail(owner, f"interval level {result.confidence_level} differs from the "
                           f"context's confidence_level {level}")
    if not (isinstance(result.n_trials, int | np.integer) and result.n_trials > 0):
        raise _fail(owner, f"n_trials must be a positive integer, got {result.n_trials!r}")
    try:
        json.dumps(result.to_dict(), allow_nan=True, default=_no_default)
    except TypeError as exc:
        raise _fail(owner, f"result details are not JSON-serialisable: {exc}") from None
    return result


def _no_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _frozen(ctx: AttackContext) -> list[pd.DataFrame]:
    return [ctx.train.copy(deep=True), ctx.control.copy(deep=True),
            ctx.synthetic.copy(deep=True)]


def _unchanged(owner: str, ctx: AttackContext, before: list[pd.DataFrame], what: str) -> None:
    for name, frame, old in zip(("train", "control", "synthetic"),
                                (ctx.train, ctx.control, ctx.synthetic), before):
        try:
            pd.testing.assert_frame_equal(frame, old)
        except AssertionError:
            raise _fail(owner, f"{what} modified the context's {name} table") from None


def check_attack(cls: type[Attack], params: Mapping[str, Any] | None = None, *,
                 n: int = 300, seed: int = 0, level: float = 0.95,
                 timeout_s: float | None = None) -> None:
    """Run the attack contract on a small population.

    Rules: ``run`` returns an :class:`AttackResult` for the attack's name and risk kind with a
    risk in [0, 1], an ordered interval containing it (level and method stated), a baseline in
    [0, 1] with its description and a positive trial count; it leaves the context's tables as
    they were; the same seed gives the same result; and for re-identification kinds an attack
    on a verbatim copy of the training rows scores higher than on independent marginals.
    """
    __tracebackhide__ = True
    if not (isinstance(cls, type) and issubclass(cls, Attack)):
        raise ContractViolation(f"{cls!r} is not a privgate.Attack subclass")
    within_limit(label("attack", cls), "check_attack", cls, timeout_s,
                 lambda: _check_attack(cls, params, n, seed, level))


def _check_attack(cls: type[Attack], params: Mapping[str, Any] | None, n: int, seed: int,
                  level: float) -> None:
    owner = label("attack", cls)
    train, control, schema = scenario(n, seed)

    def run(generator: Generator, what: str) -> AttackResult:
        synthetic = generator.sample(len(train), seed=seed)
        ctx = AttackContext(train, control, synthetic, schema, seed=seed,
                            confidence_level=level, generator=generator)
        before = _frozen(ctx)
        raw = plugin_call(owner, f"run() on {what}", lambda: _instantiate(cls, params).run(ctx))
        _unchanged(owner, ctx, before, f"run() on {what}")
        return _check_result(owner, cls, raw, level)

    verbatim = VerbatimCopy().fit(train, schema, None, seed=seed)
    copy_result = run(verbatim, "a verbatim copy of the training rows")
    repeat = run(verbatim, "a verbatim copy (again, same seed)")
    if _comparable(copy_result) != _comparable(repeat):
        raise _fail(owner, f"two runs with seed {seed} differ: {_comparable(copy_result)} vs "
                           f"{_comparable(repeat)}")
    if cls.risk_kind in LEAK_KINDS:
        marginal = run(IndependentMarginals().fit(train, schema, None, seed=seed),
                       "independent marginals")
        if not copy_result.risk > marginal.risk:
            raise _fail(owner, f"risk on a verbatim copy of the training rows "
                               f"({copy_result.risk:.4f}) is not higher than on independent "
                               f"marginals ({marginal.risk:.4f}): the attack does not detect a "
                               "verbatim leak")


def _comparable(result: AttackResult) -> str:
    return json.dumps(result.to_dict(), sort_keys=True, default=_no_default)


# -- metrics and policies ------------------------------------------------------------------


def check_metric(cls: type[Metric], params: Mapping[str, Any] | None = None, *,
                 n: int = 200, seed: int = 0, timeout_s: float | None = None) -> None:
    """The metric contract: a :class:`MetricResult` named after the metric, a finite value or
    ``None``, a description, JSON-serialisable details, unchanged inputs, same seed = same
    result. A metric may decline an input with a :class:`PrivgateError` and a message."""
    __tracebackhide__ = True
    if not (isinstance(cls, type) and issubclass(cls, Metric)):
        raise ContractViolation(f"{cls!r} is not a privgate.Metric subclass")
    within_limit(label("metric", cls), "check_metric", cls, timeout_s,
                 lambda: _check_metric(cls, params, n, seed))


def _check_metric(cls: type[Metric], params: Mapping[str, Any] | None, n: int,
                  seed: int) -> None:
    owner = label("metric", cls)
    train, control, schema = scenario(n, seed)
    results = []
    for _ in range(2):
        ctx = AttackContext(train, control, independent_marginals(train, seed), schema,
                            seed=seed)
        before = _frozen(ctx)
        box: list[object] = []

        def compute(ctx: AttackContext = ctx, box: list[object] = box) -> None:
            box.append(_instantiate(cls, params).compute(ctx))

        if _expect_privgate_error(owner, "compute()", compute):
            return
        _unchanged(owner, ctx, before, "compute()")
        result = box[0]
        if not isinstance(result, MetricResult):
            raise _fail(owner, f"compute() returned {type(result).__name__}, not MetricResult")
        if result.metric != cls.name:
            raise _fail(owner, f"result names metric {result.metric!r}, not {cls.name!r}")
        if result.value is not None and not math.isfinite(result.value):
            raise _fail(owner, f"value must be finite or None, got {result.value}")
        if not result.description.strip():
            raise _fail(owner, "the result has no description")
        try:
            results.append(json.dumps(result.to_dict(), sort_keys=True, default=_no_default))
        except TypeError as exc:
            raise _fail(owner, f"details are not JSON-serialisable: {exc}") from None
    if results[0] != results[1]:
        raise _fail(owner, f"two runs with seed {seed} differ")


def check_policy(policy: object, *, max_examples: int | None = None,
                 timeout_s: float | None = None) -> None:
    """The policy contract: a named :class:`Policy` with known risk kinds and thresholds in
    [0, 1], whose decisions are monotone in the estimate (a higher risk, same interval width
    and trials, never gets a better status)."""
    __tracebackhide__ = True
    within_limit(label("policy", policy), "check_policy", policy, timeout_s,
                 lambda: _check_policy(policy, max_examples))


def _check_policy(policy: object, max_examples: int | None) -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    if not isinstance(policy, Policy):
        raise ContractViolation(f"{policy!r} is not a privgate.Policy")
    owner = f"policy {policy.name!r}"
    if not isinstance(policy.name, str) or not policy.name.strip():
        raise ContractViolation(f"policy {policy!r} has no name")
    if not policy.thresholds:
        raise _fail(owner, "has no thresholds, so it can never fail a release")
    for kind, value in policy.thresholds.items():
        if kind not in RISK_KINDS:
            raise _fail(owner, f"unknown risk kind {kind!r} (known: {RISK_KINDS})")
        if not (isinstance(value, int | float) and 0 <= value <= 1):
            raise _fail(owner, f"threshold for {kind} must be in [0, 1], got {value!r}")
    rank = {status: i for i, status in enumerate(reversed(SEVERITY))}  # pass=0 ... error=3

    @settings(max_examples=_examples(max_examples) * 4, deadline=None, database=None,
              derandomize=True, report_multiple_bugs=False)
    @given(st.sampled_from(sorted(policy.thresholds)),
           st.lists(st.floats(0, 1), min_size=2, max_size=6),
           st.floats(0, 0.2), st.integers(1, 100_000))
    def run(kind: str, risks: list[float], half: float, trials: int) -> None:
        statuses: list[Status] = []
        for risk in sorted(risks):
            result = AttackResult("contract", kind, risk, max(0.0, risk - half),
                                  min(1.0, risk + half), 0.95, "contract", 0.0, "contract",
                                  trials)
            statuses.append(check(policy, "g", "a", kind, result).status)
        ranks = [rank[s] for s in statuses]
        if ranks != sorted(ranks):
            raise _fail(owner, f"decisions are not monotone in the estimate for {kind}: risks "
                               f"{sorted(risks)} gave {[str(s) for s in statuses]}")

    _run_hypothesis(run)


# -- the pytest plugin -----------------------------------------------------------------------


@dataclass(frozen=True)
class ContractCase:
    """One contract test: a kind, a registered name, its distribution and the check to run."""

    kind: str
    name: str
    distribution: str | None
    run: Callable[[], None]


def _norm(name: str | None) -> str:
    return (name or "").lower().replace("_", "-").replace(".", "-")


def contract_items(distributions: Sequence[str] | None, *,
                   timeout_s: float | None = None) -> Iterator[ContractCase]:
    """Contract cases for everything the given distributions register (``None``: every
    distribution but privgate itself): generators, attacks, metrics, policies, reporters and
    report-section plugins. A plugin of theirs that failed to load is a failing case; no plugin
    at all is a failing case too (so a misconfigured run cannot pass)."""
    from privgate.errors import PluginClashError
    from privgate.registry import BUILTIN_DISTRIBUTION, _distributions, build_registry

    wanted = None if distributions is None else {_norm(d) for d in distributions}

    def selected(dist: str | None) -> bool:
        if wanted is None:
            return _norm(dist) != BUILTIN_DISTRIBUTION
        return _norm(dist) in wanted

    try:
        registry = build_registry()
    except PluginClashError as exc:
        message = str(exc)

        def clash() -> None:
            raise ContractViolation(message)

        yield ContractCase("registry", "name-clash", None, clash)
        return
    found = False
    for problem in registry.problems:
        if selected(problem.distribution) and problem.state == "broken":
            found = True

            def broken(p: Any = problem) -> None:
                raise ContractViolation(f"{p.origin} did not load: {p.reason}")

            yield ContractCase("plugin", problem.plugin, problem.distribution, broken)
    checks: dict[str, Callable[..., None]] = {
        "generators": check_generator, "attacks": check_attack, "metrics": check_metric,
        "policies": check_policy, "reporters": check_reporter}
    for kind, fn in checks.items():
        for name, item in sorted(getattr(registry, kind).items()):
            if selected(item.distribution):
                found = True
                yield ContractCase(kind[:-1] if kind != "policies" else "policy", name,
                                   item.distribution,
                                   functools.partial(fn, item.obj, timeout_s=timeout_s))
    if registry.pm is not None:
        dists = _distributions(registry.pm)
        impls = registry.pm.hook.privgate_report_sections.get_hookimpls()
        for impl in sorted(impls, key=lambda i: i.plugin_name):
            dist = dists.get(id(impl.plugin), (None, None))[0]
            if selected(dist):
                found = True
                yield ContractCase("report-sections", impl.plugin_name, dist, functools.partial(
                    check_report_sections, impl.function, timeout_s=timeout_s))
    if not found:
        which = "any non-privgate distribution" if wanted is None else sorted(wanted)

        def nothing() -> None:
            raise ContractViolation(
                f"no privgate plugin registered by {which}: install the distribution "
                "(pip install -e .) and declare its [project.entry-points.privgate]")

        yield ContractCase("plugin", "none-found", None, nothing)


def _default_distributions(rootdir: Path) -> list[str] | None:
    """The project in ``rootdir/pyproject.toml`` when it declares privgate entry points."""
    pyproject = rootdir / "pyproject.toml"
    if not pyproject.is_file():
        return None
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    name = project.get("name")
    if name and "privgate" in project.get("entry-points", {}) and _norm(name) != "privgate":
        return [str(name)]
    return None


def _distributions_of(config: Any) -> list[str] | None:
    return (config.getoption("privgate_contract_dist")
            or _default_distributions(Path(str(config.rootpath))))


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("privgate", "privgate plugin contract")
    group.addoption("--privgate-contract", action="store_true", default=False,
                    help="check every generator, attack, metric, policy, reporter and report "
                    "section the plugin distribution registers against privgate's contract")
    group.addoption("--privgate-contract-dist", action="append", default=None, metavar="NAME",
                    help="distribution(s) to check (default: the project in the rootdir's "
                    "pyproject.toml, else every non-privgate distribution)")
    group.addoption("--privgate-contract-timeout", type=float, default=None, metavar="SECONDS",
                    help=f"time limit of one contract check (default: {TIMEOUT_ENV}, else "
                    f"{DEFAULT_TIMEOUT_S:g}; 0: no limit)")


# Before pytest's own -k/-m deselection, which then applies to the contract items too.
@pluggy.HookimplMarker("pytest")(tryfirst=True)
def pytest_collection_modifyitems(session: Any, config: Any, items: list[Any]) -> None:
    if not config.getoption("privgate_contract"):
        return  # off by default: a normal pytest run gets nothing from privgate
    contract_timeout(config.getoption("privgate_contract_timeout"))  # a malformed env stops here
    # Collected through pytest's own machinery (collect report included), so that pytest's
    # "collected N items" line counts the contract tests.
    _item_class()  # defines the collector too
    collector = _COLLECTOR.from_parent(session, name="privgate-contract",
                                       nodeid="privgate-contract")
    items.extend(session.genitems(collector))


def pytest_report_collectionfinish(config: Any, start_path: Path, items: Sequence[Any]
                                   ) -> str | None:
    """The kit's header line, after collection: the contract tests that will actually run
    (after ``-k``/``-m``/``--deselect``), the distributions and the time limit."""
    if not config.getoption("privgate_contract"):
        return None
    n = sum(isinstance(item, _item_class()) for item in items)
    dists = _distributions_of(config)
    which = ", ".join(dists) if dists else "every non-privgate distribution"
    limit = contract_timeout(config.getoption("privgate_contract_timeout"))
    per_check = "no time limit" if limit is None else f"time limit {limit:g} s per check"
    return (f"privgate contract: {n} contract test{'s' if n != 1 else ''} for {which} "
            f"({per_check})")


_ITEM: Any = None
_COLLECTOR: Any = None


def _item_class() -> Any:
    """The pytest item type, built lazily so importing this module never needs pytest."""
    global _ITEM, _COLLECTOR
    if _ITEM is None:
        import pytest

        class ContractCollector(pytest.Collector):
            def collect(self) -> list[Any]:
                timeout_s = self.config.getoption("privgate_contract_timeout")
                return [ContractItem.from_parent(
                    self, name=f"privgate-contract[{case.kind}:{case.name}]", case=case)
                    for case in contract_items(_distributions_of(self.config),
                                               timeout_s=timeout_s)]

        kit = {str(Path(f).resolve()) for f in (
            __file__, KIT_DIR / "testing_reports.py", KIT_DIR / "testing_runtime.py",
            threading.__file__)}
        runner = [Path(m.__file__).resolve().parent for m in (pluggy, sys.modules["_pytest"])
                  if m.__file__]

        class ContractItem(pytest.Item):
            def __init__(self, *, case: ContractCase, **kwargs: Any) -> None:
                super().__init__(**kwargs)
                self.case = case

            def runtest(self) -> None:
                __tracebackhide__ = True
                self.case.run()

            def repr_failure(self, excinfo: Any, style: Any = None) -> Any:
                exc = excinfo.value
                if isinstance(exc, ContractViolation) and exc.__cause__ is None:
                    # a rule broken: the message (and hypothesis's falsifying example) says all
                    return "\n".join([f"contract violation: {exc}",
                                      *getattr(exc, "__notes__", ())])
                # plugin code raised: its own frames (the kit's are hidden), then the violation
                return super().repr_failure(excinfo, style)

            def _traceback_filter(self, excinfo: Any) -> Any:
                tb = excinfo.traceback.filter(excinfo)  # honours __tracebackhide__
                return tb.filter(lambda e: str(Path(e.path).resolve()) not in kit
                                 and not under(Path(e.path).resolve(), runner))

            def reportinfo(self) -> tuple[str, int | None, str]:
                dist = self.case.distribution or "?"
                return "privgate-contract", None, f"{self.case.kind} {self.case.name} ({dist})"

        _ITEM, _COLLECTOR = ContractItem, ContractCollector
    return _ITEM
