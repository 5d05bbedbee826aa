"""The attack contract: simulate an adversary on (train, control, synthetic) and report a risk.

Every attack result carries the estimate, a confidence interval with its stated level and
method, the baseline the estimate is measured against, and the number of attack trials planned,
run and available. Where it can, an attack also reports the raw counts behind its risk
(:class:`~privgate.evidence.Counts`): core then computes the estimate, its one-sided exact
bounds, the trials a leak-free result needs and the power itself
(:mod:`privgate.certification`); otherwise the attack states one-sided bounds and what a
leak-free table of this size would show. Typed evidence (ROC curve, AUROC with its interval,
TPR at fixed false-positive rates, figures) is what reports draw, for all attacks; ``details``
is free and never read by a report. :class:`AttackPlan`: what this table allows, said first.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd

from privgate.evidence import (
    Counts,
    Estimate,
    PlainError,
    RocCurve,
    counts_from_plain,
    probability_estimate,
    tpr_at_fpr_from_plain,
    tpr_at_fpr_to_plain,
)
from privgate.figures import Figure, figures_from_plain, to_plain
from privgate.operating_points import (
    CanaryGuesses,
    OperatingPoint,
    canary_guesses_from_plain,
    operating_points_from_plain,
)
from privgate.plain import number, numbers_of, texts
from privgate.schema import Schema

if TYPE_CHECKING:
    from privgate.executor import Executor
    from privgate.generator import Generator, PrivacyBudget
    from privgate.persons import Persons

#: Risk kinds that policies know how to threshold.
RISK_KINDS = ("singling-out", "linkability", "inference", "membership", "distinguishability",
              "identity-disclosure", "verbatim-copy", "membership-low-fpr",
              "canary-membership")
#: The most warnings one result may carry, and the longest one (characters).
MAX_WARNINGS, MAX_WARNING_CHARS = 50, 2_000
#: The most leak-free bounds an attack may give for the power of a check.
MAX_NULL_BOUNDS = 2_000


@dataclass(frozen=True)
class AttackContext:
    """Everything an attack may look at.

    Attributes:
        train: the real rows the generator was fitted on (identifiers removed).
        control: real rows from the same population the generator never saw.
        synthetic: the generator's output, same columns as ``train``.
        schema: the schema of those columns (roles tell quasi-identifiers and secrets).
        seed: makes the attack reproducible.
        confidence_level: the level of every interval the attack reports (e.g. 0.95).
        generator: the fitted generator that produced ``synthetic`` (``None`` when the
            synthetic table was supplied as a file). Shadow-model attacks build fresh, unfitted
            copies with ``type(generator)(**generator.get_params())``; metrics may sample from
            it (e.g. conditionally).
        budget: the privacy budget the generator was fitted with (``None`` if non-private).
        executor: runs independent work (shadow fits, per-target jobs) on local processes or
            Ray; ``None`` means run inline. With Ray (``executor.distributed``) the attack's
            ``run`` itself may be on a worker, its context pickled there (:mod:`privgate.spread`).
        persons: each training and control row's person as opaque codes, read-only
            (:class:`privgate.persons.Persons`), when the schema declares a person-id column;
            ``None`` when every row is its own person. Attacks that can should count people.

    An attack's parameters are its constructor arguments (the config's ``params`` table), not
    part of the context.
    """

    train: pd.DataFrame
    control: pd.DataFrame
    synthetic: pd.DataFrame
    schema: Schema
    seed: int = 0
    confidence_level: float = 0.95
    generator: Generator | None = None
    budget: PrivacyBudget | None = None
    executor: Executor | None = None
    persons: Persons | None = None


@dataclass(frozen=True)
class AttackResult:
    """One attack's verdict on one synthetic table.

    Attributes:
        attack: the attack's registered name.
        risk_kind: one of :data:`RISK_KINDS`; policies threshold by kind.
        risk: the point estimate of the risk, in [0, 1].
        ci_low, ci_high: the confidence interval of ``risk``.
        confidence_level: the interval's level, e.g. 0.95.
        interval_method: how the interval was computed (e.g. "Wilson score", "bootstrap
            percentile, 1000 resamples").
        baseline: the risk a naive adversary achieves (same scale as ``risk``), and
            ``baseline_description`` what that naive adversary does.
        n_trials: the number of attack trials actually run (targets, queries, or records
            scored): the sample size the interval is computed over.
        details: free attack-specific figures (rates, settings, ...); JSON-serialisable. Shown
            folded away as a key-value list; no report reads a key of it.
        null_upper: the upper confidence bound this attack would report, at this sample size,
            on a synthetic table that leaks nothing (true risk zero). A threshold below it
            cannot be certified by any result of this size; the policy then says
            ``cannot-certify`` and how many trials would do, assuming the interval narrows as
            one over the square root of the trials. ``None`` when the attack does not say; the
            policy then uses the exact binomial bound of a zero-success result instead.
        record_risk: optional per-training-record exposure scores (higher = more exposed),
            indexed by the row position in ``context.train`` (0..len-1). Never written to
            ``results.json`` or reports: the pipeline ranks records across attacks and writes
            the ranking, by row index only, to ``vulnerable_records.csv`` (personal data).
        binomial_method: ``"exact"`` (Clopper-Pearson) or ``"wilson"`` when the interval is a
            binomial interval over ``n_trials`` trials; the policy then computes exactly how many
            trials a perfect (zero-success) result needs to certify a threshold. ``None`` for
            other intervals (bootstrap, permutation, error propagation).
        binomial_level: the level of that binomial interval when it differs from
            ``confidence_level`` (an interval combined from several binomial intervals, each at
            a Bonferroni-adjusted level); ``None`` means ``confidence_level``.
        trials_planned: the number of trials the attack's parameters asked for, when the data
            allowed fewer (``n_trials`` is what ran; never more than planned). ``None`` when
            the attack plans no fixed number.
        roc: the ROC curve of a score-based attack (:class:`~privgate.evidence.RocCurve`);
            reports draw it on a log false-positive axis.
        auroc: the area under that curve with its interval
            (:class:`~privgate.evidence.Estimate`, value and interval in [0, 1]).
        tpr_at_fpr: ``{false-positive rate: true-positive rate}`` at fixed low rates (e.g.
            0.001 and 0.01); reports show them as a table.
        figures: tables and charts (:mod:`privgate.figures`) the report shows with the attack.
        counts: the raw counts behind the risk, one :class:`~privgate.evidence.Counts` per
            comparison (per secret column, say). When given, core gates on them alone: it
            computes the risk (the largest over the gated comparisons), one-sided exact bounds
            at the audit's level (Bonferroni over the comparisons), the trials a leak-free
            result needs and the power, and reads none of ``risk``, ``ci_low``, ``ci_high``,
            ``upper_bound`` or ``lower_bound`` for the decision.
        warnings: plain sentences the console and the report must show with the check (a
            library's own warnings, shortfalls such as "only 22 of 500 queries could be
            built"). At most :data:`MAX_WARNINGS`.
        upper_bound, lower_bound: one-sided bounds of ``risk`` at ``confidence_level`` each
            (e.g. a bootstrap percentile at the full alpha, or a distribution-free bound), for
            evidence that has no counts; ``bound_method`` says how they were computed.
        null_bounds: upper bounds this attack would report on leak-free tables of this size
            (e.g. one per label permutation); core takes the share at or below a threshold as
            the power of the check.
        trials_available: the most trials this table could supply to this attack (``n_trials``
            at most that); ``None`` means ``n_trials``.
        operating_points: a membership attack's members and non-members flagged at thresholds
            fixed on records it did not count (:class:`~privgate.operating_points.
            OperatingPoint`); core bounds the generator's epsilon from them (``dp-claim``,
            :mod:`privgate.dp_claim`).
        canary_guesses: a canary audit's right guesses of which canaries were inserted
            (:class:`~privgate.operating_points.CanaryGuesses`); core bounds epsilon from
            them (Steinke, Nasr & Jagielski 2023, :mod:`privgate.dp_audit_bounds`).
    """

    attack: str
    risk_kind: str
    risk: float
    ci_low: float
    ci_high: float
    confidence_level: float
    interval_method: str
    baseline: float
    baseline_description: str
    n_trials: int
    details: dict[str, Any] = field(default_factory=dict)
    null_upper: float | None = None
    record_risk: pd.Series | None = field(default=None, repr=False, compare=False)
    binomial_method: str | None = None
    binomial_level: float | None = None
    trials_planned: int | None = None
    roc: RocCurve | None = None
    auroc: Estimate | None = None
    tpr_at_fpr: Mapping[float, float] = field(default_factory=dict)
    figures: tuple[Figure, ...] = ()
    counts: tuple[Counts, ...] = ()
    warnings: tuple[str, ...] = ()
    upper_bound: float | None = None
    lower_bound: float | None = None
    bound_method: str | None = None
    null_bounds: tuple[float, ...] = ()
    trials_available: int | None = None
    operating_points: tuple[OperatingPoint, ...] = ()
    canary_guesses: tuple[CanaryGuesses, ...] = ()

    def __post_init__(self) -> None:
        if self.risk_kind not in RISK_KINDS:
            raise ValueError(f"attack {self.attack!r}: risk_kind {self.risk_kind!r} is not one "
                             f"of {RISK_KINDS}")
        for name in ("risk", "ci_low", "ci_high", "baseline"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value)):
                raise ValueError(f"attack {self.attack!r}: {name} must be a finite number, "
                                 f"got {value!r}")
        if not (0.0 <= self.ci_low <= self.risk <= self.ci_high <= 1.0):
            raise ValueError(f"attack {self.attack!r}: need 0 <= ci_low <= risk <= ci_high <= 1,"
                             f" got {self.ci_low}, {self.risk}, {self.ci_high}")
        if self.null_upper is not None and not (
                isinstance(self.null_upper, int | float) and math.isfinite(self.null_upper)
                and self.null_upper >= 0):
            raise ValueError(f"attack {self.attack!r}: null_upper must be a finite number >= 0,"
                             f" got {self.null_upper!r}")
        if self.binomial_method not in (None, "exact", "wilson"):
            raise ValueError(f"attack {self.attack!r}: binomial_method must be 'exact', "
                             f"'wilson' or None, got {self.binomial_method!r}")
        if self.binomial_level is not None and not 0.0 < self.binomial_level < 1.0:
            raise ValueError(f"attack {self.attack!r}: binomial_level must be in (0, 1)")
        if not (0.0 < self.confidence_level < 1.0):
            raise ValueError(f"attack {self.attack!r}: confidence_level must be in (0, 1)")
        self._check_evidence()

    def _check_evidence(self) -> None:
        """Trials run within trials planned; ROC, AUROC, TPR and figures well formed."""
        try:
            if self.trials_planned is not None and not (
                    isinstance(self.trials_planned, int) and not isinstance(
                        self.trials_planned, bool) and self.trials_planned >= self.n_trials):
                raise PlainError(f"trials_planned ({self.trials_planned!r}) must be an "
                                 f"integer no smaller than n_trials ({self.n_trials})")
            if self.roc is not None and not isinstance(self.roc, RocCurve):
                raise PlainError(f"roc must be a RocCurve, got {type(self.roc).__name__}")
            probability_estimate(self.auroc, "auroc")
            tpr_at_fpr_from_plain(self.tpr_at_fpr)
            figures_from_plain(self.figures)
            if not all(isinstance(c, Counts) for c in self.counts):
                raise PlainError("counts must be privgate.evidence.Counts")
            counts_from_plain(self.counts)
            if not all(isinstance(p, OperatingPoint) for p in self.operating_points):
                raise PlainError("operating_points must be privgate.operating_points."
                                 "OperatingPoint")
            operating_points_from_plain(self.operating_points)
            if not all(isinstance(g, CanaryGuesses) for g in self.canary_guesses):
                raise PlainError("canary_guesses must be privgate.operating_points."
                                 "CanaryGuesses")
            canary_guesses_from_plain(self.canary_guesses)
            self._check_bounds()
        except PlainError as exc:
            raise ValueError(f"attack {self.attack!r}: {exc}") from None

    def _check_bounds(self) -> None:
        """Warnings are short text; one-sided bounds enclose the risk, with their method;
        leak-free bounds lie in [0, 1]; trials available are at least the trials run."""
        warnings = texts("warnings", self.warnings, MAX_WARNINGS)
        if any(len(w) > MAX_WARNING_CHARS for w in warnings):
            raise PlainError(f"a warning is longer than {MAX_WARNING_CHARS} characters")
        low = number("lower_bound", self.lower_bound, allow_none=True)
        high = number("upper_bound", self.upper_bound, allow_none=True)
        if low is not None and not 0.0 <= low <= self.risk:
            raise PlainError(f"lower_bound {low} must lie in [0, risk {self.risk}]")
        if high is not None and not self.risk <= high <= 1.0:
            raise PlainError(f"upper_bound {high} must lie in [risk {self.risk}, 1]")
        if (low is not None or high is not None) and not (self.bound_method or "").strip():
            raise PlainError("one-sided bounds need their bound_method")
        nulls = numbers_of("null_bounds", self.null_bounds, MAX_NULL_BOUNDS)
        if any(x is None or not 0.0 <= x <= 1.0 for x in nulls):
            raise PlainError("null_bounds must lie in [0, 1]")
        if self.trials_available is not None and not (
                isinstance(self.trials_available, int) and not isinstance(
                    self.trials_available, bool) and self.trials_available >= self.n_trials):
            raise PlainError(f"trials_available ({self.trials_available!r}) must be an integer "
                             f"no smaller than n_trials ({self.n_trials})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "attack": self.attack,
            "risk_kind": self.risk_kind,
            "risk": self.risk,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "confidence_level": self.confidence_level,
            "interval_method": self.interval_method,
            "baseline": self.baseline,
            "baseline_description": self.baseline_description,
            "n_trials": self.n_trials,
            "null_upper": self.null_upper,
            "binomial_method": self.binomial_method,
            "binomial_level": self.binomial_level,
            "trials_planned": self.trials_planned,
            "roc": None if self.roc is None else self.roc.to_dict(),
            "auroc": None if self.auroc is None else self.auroc.to_dict(),
            "tpr_at_fpr": tpr_at_fpr_to_plain(self.tpr_at_fpr),
            "figures": [to_plain(f) for f in self.figures],
            "counts": [c.to_dict() for c in self.counts],
            "warnings": list(self.warnings),
            "upper_bound": self.upper_bound,
            "lower_bound": self.lower_bound,
            "bound_method": self.bound_method,
            "null_bounds": list(self.null_bounds),
            "trials_available": self.trials_available,
            "operating_points": [p.to_dict() for p in self.operating_points],
            "canary_guesses": [g.to_dict() for g in self.canary_guesses],
            "details": self.details,
        }


@dataclass(frozen=True)
class AttackPlan:
    """What an attack can certify on this table, said before any generator is fitted.

    Returned by :meth:`Attack.plan` (``privgate plan`` and the first step of ``audit``).

    Attributes:
        counts: the counts a leak-free result would give on this table: one
            :class:`~privgate.evidence.Counts` per comparison, with the trials the attack
            would run and successes at the rate a leak-free generator gives (for an
            excess-over-control risk: the control rate, measured without a generator where
            possible, e.g. with the training rows standing in for the synthetic table).
        trials_available: the most trials this table can supply to the attack.
        null_upper: for evidence without counts: the upper bound a leak-free table of this
            size would show (core assumes it narrows as one over the square root of the
            trials), and ``null_bounds`` a sample of such bounds (for the power).
        trials_run: without counts, the trials a cap leaves (fewer than ``trials_available``;
            ``null_upper`` and ``null_bounds`` are at these); ``None``: all of them.
        notes: plain sentences: how the baselines were measured, what limits the trials.
    """

    counts: tuple[Counts, ...] = ()
    trials_available: int = 0
    null_upper: float | None = None
    null_bounds: tuple[float, ...] = ()
    notes: tuple[str, ...] = ()
    trials_run: int | None = None


class Attack(ABC):
    """Base class of every attack. Subclasses set ``name``, ``risk_kind`` and ``description``."""

    name: ClassVar[str]
    risk_kind: ClassVar[str]
    description: ClassVar[str] = ""
    #: A plain-language paragraph for the report: what the attacker does and knows.
    explanation: ClassVar[str] = ""
    references: ClassVar[tuple[str, ...]] = ()
    #: Whether the attack runs when the config lists no attacks. Expensive attacks (e.g.
    #: shadow-model training) set this to ``False`` and run only when named explicitly.
    default: ClassVar[bool] = True
    #: Whether the attack needs the fitted generator (``context.generator``), e.g. to train
    #: shadow copies of it. Such an attack cannot audit a synthetic table made elsewhere
    #: (``--synthetic``): naming it there is refused before any work (exit code 2).
    requires_generator: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        """Store and check the parameters: a bad type or range raises
        :class:`~privgate.errors.InputError` here, before any slow work."""
        self.params = params

    def check_schema(self, schema: Schema) -> None:  # noqa: B027 -- optional, default accepts
        """Check the parameters against the table's schema before any slow work.

        Called once per audit, after the data is loaded and before any generator is fitted,
        with the schema of the modelled columns. Raise :class:`~privgate.errors.InputError`
        when a parameter names a column that is not there or cannot run on its kind, so the
        user hears about it at once (exit code 2). The default accepts every schema.
        """

    def refits(self) -> int:
        """How many fits of the audited generator on the training rows :meth:`run` makes (e.g.
        canary-audit fits): core books each in the privacy ledger at the generator's budget,
        reserved before the audit trains anything. :meth:`run` raises
        :class:`~privgate.errors.InputError` only before its first refit. Default: none."""
        return 0

    @abstractmethod
    def run(self, context: AttackContext) -> AttackResult:
        """Run the attack and return its result (must not modify the context's tables)."""

    def plan(self, context: AttackContext) -> AttackPlan | None:
        """What this attack could certify on this table, before any generator is fitted.

        ``context.synthetic`` holds the training rows as a stand-in (no generator is fitted;
        an attack may use them to measure a baseline, e.g. how often a control row's secret
        is guessed from its quasi-identifiers, but must not read them as synthetic output) and
        ``context.generator`` is ``None``. Keep it quick: a plan runs before every audit. The
        default says nothing (``None``): ``privgate plan`` reports the attack as unplanned.
        """
        return None

    def params_without(self, labels: Sequence[str], schema: Schema) -> dict[str, Any] | None:
        """Parameters that run this attack without the comparisons ``labels`` (say, the
        secret columns a table cannot certify), or ``None`` when it cannot drop them. The
        planner suggests them as a config line and re-checks the result."""
        return None

    def params_for_trials(self, trials: int) -> dict[str, Any] | None:
        """Parameters that run at least ``trials`` trials where the table has them (a larger
        cap), or ``None``; the planner suggests and re-checks them like ``params_without``."""
        return None
