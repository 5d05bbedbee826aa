"""The contract kit's generator checks: :func:`check_generator` and
:func:`check_generator_case` (hypothesis-generated tables; see :mod:`privgate.testing`)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from privgate.errors import PrivgateError
from privgate.generator import Generator, PrivacyBudget, PrivacySpent
from privgate.schema import Kind, Schema, epoch_seconds
from privgate.testing_runtime import (
    ContractViolation,
    label,
    plugin_call,
    where,
    within_limit,
)
from privgate.testing_runtime import instantiate as _instantiate
from privgate.testing_runtime import violation as _fail
from privgate.testing_tables import (
    DEFAULT_EXAMPLES,
    GeneratedCase,
    generated_cases,
    scenario,
)

# -- generators --------------------------------------------------------------------------


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


