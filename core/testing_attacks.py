"""The contract kit's attack, metric and policy checks: :func:`check_attack`,
:func:`check_metric` and :func:`check_policy` (see :mod:`privgate.testing`)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from privgate.attack import RISK_KINDS, Attack, AttackContext, AttackResult
from privgate.generator import Generator
from privgate.metric import Metric, MetricResult
from privgate.policy import SEVERITY, Policy, Status, check
from privgate.testing_evidence import check_attack_evidence, check_metric_evidence
from privgate.testing_generators import _examples, _expect_privgate_error, _run_hypothesis
from privgate.testing_runtime import (
    ContractViolation,
    label,
    plugin_call,
    within_limit,
)
from privgate.testing_runtime import instantiate as _instantiate
from privgate.testing_runtime import violation as _fail
from privgate.testing_tables import (
    LEAK_KINDS,
    IndependentMarginals,
    VerbatimCopy,
    independent_marginals,
    scenario,
)


def _check_result(owner: str, cls: type[Attack], result: object,
                  level: float, n_train: int) -> AttackResult:
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
    # the typed evidence (ROC, AUROC, TPR at FPR, trials, figures) as core rebuilds it
    return check_attack_evidence(owner, cls, result, n_train=n_train, level=level)


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
        return _check_result(owner, cls, raw, level, len(train))

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
        check_metric_evidence(owner, cls, result)  # figures and interval as core rebuilds them
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


