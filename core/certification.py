"""What a check's evidence says about its threshold: bounds, certifiability and power, by core.

A gate asks "is the risk at most T?". :func:`assess` answers from an attack's result, trusting
nothing the attack computed where it gave the raw counts. Three kinds of evidence, best first:

1. **Counts** (``AttackResult.counts``): for every comparison core computes the estimate and
   one-sided bounds (:mod:`privgate.bounds`: Clopper-Pearson for a rate; for an excess over
   control rows exact Bonferroni lower bounds, on which a check fails, and MOVER upper bounds,
   on which it passes, close to the stated level; the four-rate identity-disclosure bounds
   exact both ways), each comparison at ``1 - alpha / m`` for the ``m`` gated comparisons
   (Bonferroni: the largest upper bound then bounds the largest risk at ``1 - alpha``, and the
   largest lower bound is below it with the same probability). The leak-free result -- members
   hit as often as the control rows (the observed control rate), or zero successes for a plain
   rate -- gives the bound with the trials the table can supply (certifiable or not), the
   trials a leak-free result needs, and the power: the exact probability, over the binomial
   counts, that a leak-free table passes (assuming the comparisons independent). A comparison
   split into strata of matched targets (``Counts.strata``, the secret values of the inference
   attack) is bounded above stratum by stratum (variance reduction: the spread between strata
   is not paid for), its leak-free result is every stratum at its own control rate, and its
   power is simulated from a fixed seed.
2. **One-sided bounds stated by the attack** (``upper_bound``, ``lower_bound``: a bootstrap or
   distribution-free bound), with its leak-free bound ``null_upper`` (trials needed assume it
   narrows as one over the square root of the trials) and ``null_bounds`` for the power.
3. **A two-sided interval only** (older plugins): its ends serve as one-sided bounds (each
   holds at more than the stated level, so this is conservative) and certification is the
   former rule (exact inversion of a binomial interval, else the attack's ``null_upper``, else
   the exact zero-success bound).

"No underpowered pass" follows from using the trials actually run (a query that was never built
is not a failed attack) with bounds that are valid at every sample size: a check whose true risk
is at the threshold passes with probability at most alpha. The decision itself is
:func:`privgate.policy.check`'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from privgate import bounds, strata_bounds
from privgate.attack import AttackResult
from privgate.evidence import ESTIMATORS, Counts
from privgate.stats import BINOMIAL_METHODS, trials_to_certify, zero_success_upper

#: The most reasons a check lists for not being certifiable (one per comparison).
MAX_REASONS = 5


@dataclass(frozen=True)
class Assessment:
    """One attack result held against one threshold (see :func:`assess`)."""

    risk: float
    upper: float
    lower: float
    level: float
    method: str
    trials_run: int
    trials_planned: int | None
    trials_available: int
    trials_needed: int | None
    #: the upper bound a leak-free result shows with the trials available (None: unknown)
    null_upper: float | None
    #: the upper bound a leak-free result shows with the trials run
    null_upper_run: float | None
    power: float | None
    power_null: str | None
    certifiable: bool
    certifiable_run: bool
    source: str
    warnings: tuple[str, ...] = ()
    comparisons: tuple[dict[str, Any], ...] = ()
    #: why the table cannot certify it, in words (empty when it can)
    reasons: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


def estimate(c: Counts) -> float:
    """The risk a comparison's counts give (its estimator on the observed rates)."""
    p = c.successes / c.trials if c.trials else 0.0
    if c.estimator == "rate":
        return bounds.excess(p, 0.0)
    pc = _rate(c.control_successes, c.control_trials)
    if c.estimator == "difference":
        return bounds.difference(p, pc)
    if c.estimator == "excess":
        return bounds.excess(p, pc)
    return bounds.corrected(p, pc, _rate(c.hits, c.trials), _rate(c.control_hits,
                                                                  c.control_trials))


def _rate(k: float | None, n: int | None) -> float:
    return 0.0 if not n or k is None else float(k) / n


def one_sided(c: Counts, level: float) -> tuple[float, float]:
    """The comparison's ``(lower, upper)`` one-sided bounds, each at ``level``."""
    s, n = c.successes, c.trials
    if c.estimator == "rate":
        return bounds.lower_rate(s, n, level), bounds.upper_rate(s, n, level)
    cs, m = float(c.control_successes or 0.0), float(c.control_trials or 0)
    if c.estimator == "difference":  # exact below (fail), MOVER above (pass): privgate.bounds
        return (bounds.lower_difference(s, n, cs, m, level),
                max(bounds.upper_difference_mover(s, n, cs, m, level), estimate(c)))
    if c.strata:  # matched strata: the pooled rates are the stratified ones (see Counts)
        low = (bounds.lower_difference if c.estimator == "difference" else
               bounds.lower_excess)(s, n, cs, m, level)
        ka, nh, kc, mh = strata_bounds.strata_arrays(c.strata)
        high = float(strata_bounds.upper_mover_strata(c.estimator, ka, nh, kc, mh, level))
        return low, max(high, estimate(c))
    if c.estimator == "excess":
        return (bounds.lower_excess(s, n, cs, m, level),
                max(bounds.upper_excess_mover(s, n, cs, m, level), estimate(c)))
    h, hc = float(c.hits or 0), float(c.control_hits or 0)
    return (bounds.lower_corrected(s, n, cs, m, h, hc, level),
            bounds.upper_corrected(s, n, cs, m, h, hc, level))


def _null(c: Counts) -> dict[str, float]:
    """The leak-free rates of a comparison: members hit as often as the control rows."""
    if c.estimator == "rate":
        return {"control_rate": 0.0, "hit_rate": 0.0}
    return {"control_rate": _rate(c.control_successes, c.control_trials),
            "hit_rate": _rate(c.control_hits, c.control_trials)}


def _strata_null(c: Counts) -> tuple[Any, Any, Any]:
    """A stratified comparison's trials, control trials and leak-free rates per stratum (each
    stratum's members hit as often as its control rows)."""
    _, n, kc, m = strata_bounds.strata_arrays(c.strata)
    return n, m, kc / m


def null_upper(c: Counts, level: float, scale: float = 1.0) -> float:
    """The upper bound a leak-free result shows with ``scale`` times the comparison's trials."""
    n = max(c.trials * scale, 0.0)
    if n <= 0:
        return 1.0
    if c.strata:
        nh, mh, rates = _strata_null(c)
        return strata_bounds.null_upper_strata(c.estimator, nh * scale, mh * scale, rates, level)
    m = max((c.control_trials or 0) * scale, 1e-9) if c.estimator != "rate" else None
    return bounds.null_upper(c.estimator, n, level, control_trials=m, **_null(c))


def trials_needed(c: Counts, threshold: float, level: float) -> int | None:
    """The fewest attack trials (control trials scaled in proportion) whose leak-free bound is
    at or below ``threshold``; ``None`` when no number of trials does."""
    if c.strata:
        nh, mh, rates = _strata_null(c)
        return strata_bounds.trials_to_certify_strata(threshold, c.estimator, nh, mh, rates, level)
    ratio = (c.control_trials or 0) / c.trials if c.trials else 1.0
    return bounds.trials_to_certify(threshold, level, estimator=c.estimator,
                                    control_ratio=ratio if c.estimator != "rate" else 1.0,
                                    **_null(c))


def pass_probability(c: Counts, threshold: float, level: float) -> float:
    """The probability that a leak-free table of this size passes this comparison."""
    if c.strata:
        nh, mh, rates = _strata_null(c)
        return strata_bounds.certify_probability_strata(threshold, c.estimator, nh, mh, rates,
                                                        level)
    return bounds.certify_probability(threshold, c.trials, level, estimator=c.estimator,
                                      control_trials=c.control_trials, **_null(c))


def _describe_null(c: Counts) -> str:
    if c.estimator == "rate":
        return f"{c.label}: no successes"
    rate = _null(c)["control_rate"]
    if c.strata:
        return (f"{c.label}: in each of its {len(c.strata)} strata members hit as often as "
                f"that stratum's control rows ({rate:.3g} overall)")
    return f"{c.label}: members hit as often as control rows ({rate:.3g})"


def assess(result: AttackResult, threshold: float) -> Assessment:
    """What ``result`` says about ``threshold``: bounds, certifiability, trials, power."""
    if result.counts:
        out = _from_counts(result, threshold)
    elif result.upper_bound is not None or result.lower_bound is not None:
        out = _from_bounds(result, threshold)
    else:
        out = _from_interval(result, threshold)
    return replace(out, warnings=_warnings(result, out) + out.warnings)


def _warnings(result: AttackResult, a: Assessment) -> tuple[str, ...]:
    """Core's own warnings (trials asked for against what the table holds) and the attack's."""
    out = []
    planned, available = result.trials_planned, a.trials_available
    if planned is not None and planned > available:
        out.append(f"asked for {planned:,} trials; the table allows {available:,}")
    elif a.trials_run < available and not a.certifiable_run and a.certifiable:
        out.append(f"ran {a.trials_run:,} of the {available:,} trials this table allows; a "
                   f"leak-free result needs {a.trials_needed or 0:,} to certify the threshold")
    return tuple(out) + tuple(result.warnings)


def _gated(counts: tuple[Counts, ...], threshold: float, level: float, scale: float
           ) -> tuple[list[Counts], float]:
    """The comparisons to gate on, and the level each is bounded at.

    Every comparison that is not supplementary; a supplementary one only where the trials
    this table supplies let a leak-free result certify it at the Bonferroni level that
    gating it implies (decided from the trials and the control counts, never from the
    members' successes, so the choice does not peek at the leak it tests for).
    """
    main = [c for c in counts if not c.supplementary]
    extra = [c for c in counts if c.supplementary]
    alpha = 1.0 - level
    while True:
        m = len(main) + len(extra)
        each = 1.0 - alpha / m
        keep = [c for c in extra if null_upper(c, each, scale) <= threshold]
        if len(keep) == len(extra):
            return main + extra, each
        extra = keep


def _row(c: Counts, is_gated: bool, each: float, scale: float, threshold: float
         ) -> dict[str, Any]:
    """One comparison's figures: estimate, bounds, leak-free bound (with the trials the table
    allows), and for a gated one its power and the trials a leak-free result needs."""
    low, high = one_sided(c, each)
    row: dict[str, Any] = {
        "label": c.label, "estimator": c.estimator, "gated": is_gated, "risk": estimate(c),
        "lower_bound": low, "upper_bound": high, "level": each, "trials": c.trials,
        "control_trials": c.control_trials, "strata": len(c.strata), **_null(c),
        "null_upper": null_upper(c, each, scale)}
    if is_gated:
        row.update(power=pass_probability(c, threshold, each),
                   trials_needed=trials_needed(c, threshold, each))
    return row


def _from_counts(result: AttackResult, threshold: float) -> Assessment:
    level = result.confidence_level
    n_run = result.n_trials
    available = result.trials_available or n_run
    scale = available / n_run if n_run else 1.0
    gated, each = _gated(result.counts, threshold, level, scale)
    rows = [_row(c, c in gated, each, scale, threshold) for c in result.counts]
    in_gate = [r for r in rows if r["gated"]]
    needed: int | None = 0
    for r in in_gate:  # in the result's trials, every comparison scaled in proportion
        need = r["trials_needed"]
        needed = (None if need is None or needed is None else
                  max(needed, math.ceil(need * n_run / r["trials"]) if r["trials"] else need))
    reasons = [_reason(c, r["null_upper"], threshold)
               for c, r in zip(result.counts, rows, strict=True)
               if r["gated"] and r["null_upper"] > threshold]
    if len(reasons) > MAX_REASONS:
        reasons[MAX_REASONS:] = [f"and {len(reasons) - MAX_REASONS} more comparisons"]
    warnings = [f"{r['label']}: reported, not gated: with the {r['trials']:,} trials this "
                f"table gives it, even a leak-free result would show {r['null_upper']:.3g} "
                f"(> {threshold:.4g})" for r in rows if not r["gated"]]
    run_null = max(null_upper(c, each) for c in gated)
    return Assessment(
        risk=max(r["risk"] for r in in_gate), upper=max(r["upper_bound"] for r in in_gate),
        lower=max(r["lower_bound"] for r in in_gate), level=level,
        method=_counts_method(gated, len(gated), each), trials_run=n_run,
        trials_planned=result.trials_planned, trials_available=available,
        trials_needed=needed, null_upper=max(r["null_upper"] for r in in_gate),
        null_upper_run=run_null, power=math.prod(r["power"] for r in in_gate),
        power_null="leak-free: " + "; ".join(_describe_null(c) for c in gated) + (
            " (comparisons taken as independent)" if len(gated) > 1 else ""),
        certifiable=not reasons, certifiable_run=run_null <= threshold, source="counts",
        warnings=tuple(warnings), comparisons=tuple(rows), reasons=tuple(reasons))


def _counts_method(gated: list[Counts], m: int, each: float) -> str:
    kinds = sorted({bounds.ESTIMATOR_METHODS[c.estimator] + ("-stratified" if c.strata else "")
                    for c in gated})
    text = "; ".join({**bounds.METHODS, **strata_bounds.METHODS}[k] for k in kinds)
    if m > 1:
        text += (f"; {m} comparisons, each bounded at {each:.4g} (Bonferroni), the largest "
                 "bound taken")
    return text + "; computed by privgate from the attack's counts"


def _reason(c: Counts, null: float, threshold: float) -> str:
    rate = _null(c)["control_rate"]
    if c.estimator == "rate" or rate <= 0.0:
        return (f"{c.label}: with {c.trials:,} trials even a result with no successes has "
                f"an upper bound of {null:.3g} (> {threshold:.4g})")
    return (f"{c.label}: {rate:.0%} of control attempts already succeed, so even a "
            f"leak-free result would show {null:.3g} (> {threshold:.4g}) with "
            f"{c.trials:,} trials")


def _from_bounds(result: AttackResult, threshold: float) -> Assessment:
    """The attack's own one-sided bounds; certification from its leak-free bound."""
    upper = result.ci_high if result.upper_bound is None else result.upper_bound
    lower = result.ci_low if result.lower_bound is None else result.lower_bound
    n = result.n_trials
    available = result.trials_available or n
    null = result.null_upper
    power = (sum(x <= threshold for x in result.null_bounds) / len(result.null_bounds)
             if result.null_bounds else None)
    if null is None:
        return replace(_from_interval(result, threshold), upper=upper, lower=lower,
                       method=str(result.bound_method), power=power, source="bounds")
    null_avail = null * math.sqrt(n / available)
    needed = None if threshold <= 0 else max(1, math.ceil(n * (null / threshold) ** 2))
    reasons = () if null_avail <= threshold else (
        f"even a leak-free table would show an upper bound of about {null_avail:.3g} "
        f"(> {threshold:.4g}) with the {available:,} trials this table allows",)
    return Assessment(
        risk=result.risk, upper=upper, lower=lower, level=result.confidence_level,
        method=str(result.bound_method) + "; certification: the attack's leak-free bound, "
        "taken to narrow as one over the square root of the trials",
        trials_run=n, trials_planned=result.trials_planned, trials_available=available,
        trials_needed=needed, null_upper=null_avail, null_upper_run=null, power=power,
        power_null=None if power is None else "leak-free: the attack's own null bounds",
        certifiable=not reasons, certifiable_run=null <= threshold, source="bounds",
        reasons=reasons)


def _from_interval(result: AttackResult, threshold: float) -> Assessment:
    """A two-sided interval only: its ends as one-sided bounds; the former certification."""
    level = result.confidence_level
    n = result.n_trials
    available = result.trials_available or n
    if result.binomial_method is not None or result.null_upper is None:
        method = result.binomial_method or "exact"
        blevel = result.binomial_level or level
        needed = trials_to_certify(threshold, blevel, method)
        null_run = zero_success_upper(n, blevel, method)
        null_avail = zero_success_upper(available, blevel, method)
        how = (f"zero-success {BINOMIAL_METHODS[method]} upper bound at {blevel:.4g} "
               "confidence, inverted exactly")
        if result.binomial_method is None:
            how += " (the attack's interval is not binomial; the exact bound is assumed)"
    else:
        null_run = float(result.null_upper)
        null_avail = null_run * math.sqrt(n / available)
        needed = (None if threshold <= 0 else
                  max(n, math.ceil(n * (null_run / threshold) ** 2)))
        how = (f"the attack's own upper bound on a leak-free table of this size "
               f"({null_run:.4g}), scaled as one over the square root of the trials")
    certifiable = needed is not None and available >= needed
    reasons = () if certifiable else (
        f"with the {available:,} trials this table allows, even a leak-free result would "
        f"show about {null_avail:.3g} (> {threshold:.4g})",)
    return Assessment(
        risk=result.risk, upper=result.ci_high, lower=result.ci_low, level=level,
        method=f"{result.interval_method} (a two-sided {level:.0%} interval; its ends serve as "
        f"one-sided bounds, conservatively); certification: {how}",
        trials_run=n, trials_planned=result.trials_planned, trials_available=available,
        trials_needed=needed, null_upper=null_avail, null_upper_run=null_run, power=None,
        power_null=None, certifiable=certifiable,
        certifiable_run=needed is not None and n >= needed, source="interval", reasons=reasons,
        extra={"certification_method": how})


__all__ = ["ESTIMATORS", "Assessment", "assess", "estimate", "null_upper", "one_sided",
           "pass_probability", "trials_needed"]
