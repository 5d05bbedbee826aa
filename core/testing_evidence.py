"""The contract kit's check that an attack's or a metric's result is one core accepts, typed
evidence included (part of :mod:`privgate.testing`).

Core rebuilds every result from its fields before anything is written
(:mod:`privgate.validate`): trials run no more than planned, a ROC curve monotone from (0, 0) to
(1, 1), an AUROC and its interval in [0, 1], TPR at FPR ordered, figures with consistent lengths,
per-record exposure indexed by training rows. The checks here run that same rebuild on a
plugin's result in its own test suite, so a result the gate would refuse fails there first.
"""

from __future__ import annotations

from privgate import validate
from privgate.attack import Attack, AttackResult
from privgate.isolation import Origin, PluginFault
from privgate.metric import Metric, MetricResult
from privgate.testing_runtime import violation as _fail

__all__ = ["check_attack_evidence", "check_metric_evidence"]


def check_attack_evidence(owner: str, cls: type[Attack], result: AttackResult, *,
                          n_train: int, level: float) -> AttackResult:
    """``result`` as core rebuilds it; a contract violation naming the field core refuses."""
    __tracebackhide__ = True
    try:
        return validate.attack_result(result, name=cls.name, risk_kind=cls.risk_kind,
                                      n_train=n_train, confidence_level=level,
                                      origin=Origin(f"attack {cls.name!r}"))
    except PluginFault as fault:
        raise _fail(owner, f"core refuses its result: {fault.message}") from None


def check_metric_evidence(owner: str, cls: type[Metric], result: MetricResult) -> MetricResult:
    """``result`` as core rebuilds it; a contract violation naming the field core refuses."""
    __tracebackhide__ = True
    try:
        return validate.metric_result(result, name=cls.name,
                                      origin=Origin(f"metric {cls.name!r}"))
    except PluginFault as fault:
        raise _fail(owner, f"core refuses its result: {fault.message}") from None
