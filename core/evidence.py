"""Typed evidence of an attack: raw counts, ROC curve, AUROC with its interval, TPR at fixed FPRs.

These are the figures a report draws for *any* attack, built-in or third-party: an attack fills
the fields of :class:`privgate.attack.AttackResult` with them (``counts``, ``roc``, ``auroc``,
``tpr_at_fpr``), core checks them, writes them to ``results.json`` as plain JSON and reports
rebuild them from there (:meth:`from_plain`). No report reads an attack's private ``details``.

:class:`Counts` are what the gate decides on where an attack can give them: the successes and
trials behind a risk (and those of the same attack on control rows), from which core computes
the estimate, its one-sided exact bounds, the trials a leak-free result needs and the power
(:mod:`privgate.certification`), trusting no bound the attack states itself.

Every type checks itself on construction (finite, in range, ordered, lengths consistent; a ROC
curve monotone from (0, 0) to (1, 1)) and rebuilds itself from an untrusted object or a JSON
mapping with :meth:`from_plain`, raising :class:`~privgate.plain.PlainError` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from privgate.plain import PlainError, integer, items_of, number, numbers_of, read, text

__all__ = ["ESTIMATORS", "MAX_COMPARISONS", "MAX_ROC_POINTS", "MAX_STRATA", "Counts",
           "Estimate", "Interval", "PlainError", "RocCurve", "counts_from_plain",
           "probability_estimate", "tpr_at_fpr_from_plain", "tpr_at_fpr_to_plain"]

#: The most points a ROC curve may carry (attacks thin theirs; reports draw about 150).
MAX_ROC_POINTS = 5_000
#: The most false-positive rates an attack may report TPR at.
MAX_TPR_POINTS = 20
#: The most comparisons (count sets) one attack result may carry (one per secret column, say).
MAX_COMPARISONS = 500
#: The most strata one comparison may be split into (e.g. the values of a secret column).
MAX_STRATA = 1_000
#: How a risk is computed from its counts, in words (the keys are :attr:`Counts.estimator`).
ESTIMATORS = {
    "rate": "successes / trials",
    "difference": "attack success rate - control success rate",
    "excess": "(attack rate - control rate) / (1 - control rate) (anonymeter's risk)",
    "corrected": ("rate - (1 - q) * control rate, q = (hit share - control hit share) / "
                  "(1 - control hit share) (identity disclosure, El Emam et al. 2020)"),
}


@dataclass(frozen=True)
class Interval:
    """A confidence interval ``[low, high]`` at ``level`` (e.g. 0.95), computed by ``method``
    (e.g. "Wilson score", "bootstrap percentile, 1000 resamples")."""

    low: float
    high: float
    level: float
    method: str = ""

    def __post_init__(self) -> None:
        for name in ("low", "high", "level"):
            object.__setattr__(self, name, number(f"interval.{name}", getattr(self, name)))
        if not self.low <= self.high:
            raise PlainError(f"interval: need low <= high, got [{self.low}, {self.high}]")
        if not 0.0 < self.level < 1.0:
            raise PlainError(f"interval.level must be in (0, 1), got {self.level}")
        text("interval.method", self.method)

    def to_dict(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "level": self.level, "method": self.method}

    @classmethod
    def from_plain(cls, value: Any, field: str = "interval") -> Interval:
        """A checked interval from an :class:`Interval` (any subclass) or its JSON mapping."""
        f = read(value, ("low", "high", "level", "method"), field)
        return cls(f["low"], f["high"], f["level"],
                   text(f"{field}.method", f["method"], allow_none=True) or "")


@dataclass(frozen=True)
class Estimate:
    """A point estimate with an optional confidence interval that contains it."""

    value: float
    interval: Interval | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", number("estimate.value", self.value))
        if self.interval is not None and not (
                self.interval.low <= self.value <= self.interval.high):
            raise PlainError(f"estimate {self.value} lies outside its interval "
                             f"[{self.interval.low}, {self.interval.high}]")

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value,
                "interval": None if self.interval is None else self.interval.to_dict()}

    @classmethod
    def from_plain(cls, value: Any, field: str = "estimate") -> Estimate:
        """A checked estimate from an :class:`Estimate` (any subclass) or its JSON mapping."""
        f = read(value, ("value", "interval"), field)
        interval = (None if f["interval"] is None
                    else Interval.from_plain(f["interval"], f"{field}.interval"))
        return cls(f["value"], interval)


def probability_estimate(value: Any, field: str) -> Estimate | None:
    """``value`` rebuilt as an :class:`Estimate` whose value and interval lie in [0, 1] (an
    AUROC), or ``None`` for ``None``."""
    if value is None:
        return None
    est = Estimate.from_plain(value, field)
    ends = [est.value] + ([] if est.interval is None else [est.interval.low,
                                                           est.interval.high])
    if not all(0.0 <= x <= 1.0 for x in ends):
        raise PlainError(f"{field} must lie in [0, 1] with its interval, got {ends}")
    return est


@dataclass(frozen=True)
class RocCurve:
    """A receiver operating characteristic: true- against false-positive rate at every
    threshold, both non-decreasing, from (0, 0) to (1, 1); at most :data:`MAX_ROC_POINTS`."""

    fpr: tuple[float, ...]
    tpr: tuple[float, ...]

    def __post_init__(self) -> None:
        fpr = tuple(float(x) for x in numbers_of("roc.fpr", self.fpr, MAX_ROC_POINTS)
                    if x is not None)
        tpr = tuple(float(x) for x in numbers_of("roc.tpr", self.tpr, MAX_ROC_POINTS)
                    if x is not None)
        if len(fpr) != len(tpr):
            raise PlainError(f"roc: fpr has {len(fpr)} points but tpr {len(tpr)}")
        if len(fpr) < 2:
            raise PlainError(f"roc: needs at least 2 points, got {len(fpr)}")
        for name, values in (("fpr", fpr), ("tpr", tpr)):
            for i, x in enumerate(values):
                if not 0.0 <= x <= 1.0:
                    raise PlainError(f"roc.{name}[{i}] must be in [0, 1], got {x}")
                if i and x < values[i - 1]:
                    raise PlainError(f"roc.{name} must not decrease (point {i}: {x} after "
                                     f"{values[i - 1]})")
        if (fpr[0], tpr[0]) != (0.0, 0.0) or (fpr[-1], tpr[-1]) != (1.0, 1.0):
            raise PlainError(f"roc must run from (0, 0) to (1, 1), got ({fpr[0]}, {tpr[0]}) "
                             f"to ({fpr[-1]}, {tpr[-1]})")
        object.__setattr__(self, "fpr", fpr)
        object.__setattr__(self, "tpr", tpr)

    def tpr_at(self, fpr: float) -> float:
        """The best true-positive rate among thresholds whose false-positive rate is at most
        ``fpr`` (no interpolation)."""
        return max((t for f, t in zip(self.fpr, self.tpr, strict=True) if f <= fpr + 1e-12),
                   default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {"fpr": list(self.fpr), "tpr": list(self.tpr)}

    @classmethod
    def from_plain(cls, value: Any, field: str = "roc") -> RocCurve:
        """A checked curve from a :class:`RocCurve` (any subclass) or its JSON mapping."""
        f = read(value, ("fpr", "tpr"), field)
        return cls(f["fpr"], f["tpr"])


def tpr_at_fpr_from_plain(value: Any, field: str = "tpr_at_fpr") -> dict[float, float]:
    """``{fpr: tpr}`` checked: at most :data:`MAX_TPR_POINTS` false-positive rates in (0, 1],
    true-positive rates in [0, 1] that do not fall as the false-positive rate rises.

    Accepts a mapping (keys numbers or numeric text, as plugins write it) or the list of
    ``{"fpr", "tpr"}`` pairs that ``results.json`` holds.
    """
    if value is None:
        return {}
    pairs: list[tuple[Any, Any]]
    if isinstance(value, Mapping):
        if len(value) > MAX_TPR_POINTS:
            raise PlainError(f"{field} holds {len(value)} rates; at most {MAX_TPR_POINTS}")
        pairs = [(_rate_key(field, k), v) for k, v in value.items()]
    else:
        items = items_of(field, value, MAX_TPR_POINTS)
        pairs = [(p["fpr"], p["tpr"]) for p in (read(x, ("fpr", "tpr"), f"{field}[{i}]")
                                                for i, x in enumerate(items))]
    out: dict[float, float] = {}
    for fpr_raw, tpr_raw in pairs:
        fpr = number(f"{field} false-positive rate", fpr_raw)
        tpr = number(f"{field}[{fpr_raw}]", tpr_raw)
        assert fpr is not None and tpr is not None
        if not 0.0 < fpr <= 1.0 or not 0.0 <= tpr <= 1.0:
            raise PlainError(f"{field}: need 0 < fpr <= 1 and 0 <= tpr <= 1, got {fpr} -> {tpr}")
        out[fpr] = tpr
    ordered = sorted(out.items())
    for (f0, t0), (f1, t1) in zip(ordered, ordered[1:], strict=False):
        if t1 < t0:
            raise PlainError(f"{field}: the true-positive rate falls from {t0} at false-positive "
                             f"rate {f0} to {t1} at {f1}")
    return dict(ordered)


def _rate_key(field: str, key: Any) -> float:
    if isinstance(key, str):
        try:
            return float(key)
        except ValueError:
            raise PlainError(f"{field} has the key {key!r}; keys are false-positive "
                             "rates") from None
    out = number(f"{field} key", key)
    assert out is not None
    return out


def tpr_at_fpr_to_plain(values: Mapping[float, float]) -> list[dict[str, float]]:
    """``{fpr: tpr}`` as the JSON list ``[{"fpr": ..., "tpr": ...}, ...]``, by rate."""
    return [{"fpr": float(f), "tpr": float(t)} for f, t in sorted(values.items())]


@dataclass(frozen=True)
class Counts:
    """The raw counts behind one comparison of an attack; core computes the risk from them.

    Attributes:
        label: what was counted, e.g. ``"secret income"`` or ``"records unique on all columns"``.
        estimator: how the risk follows from the counts, one of :data:`ESTIMATORS`: ``"rate"``
            (``successes / trials``), ``"difference"`` (attack rate minus control rate),
            ``"excess"`` (anonymeter's ``(p_a - p_c) / (1 - p_c)``) or ``"corrected"`` (the
            chance-corrected identity-disclosure rate, which also needs ``hits`` and
            ``control_hits``).
        successes, trials: the attack's successes on members (training rows) and its trials.
            ``successes`` may be fractional where each trial's outcome is a probability (a sum
            of probabilities is bounded conservatively as a binomial count).
        control_successes, control_trials: the same attack on control rows (non-members);
            required by every estimator but ``"rate"``.
        hits, control_hits: ``"corrected"`` only -- members and control rows that were
            matched and taught something (whole counts).
        supplementary: a comparison that refines another one of the same result (e.g. the same
            count over a subset of its records). Core gates it only where this table's trials
            can certify it, and otherwise reports it with a warning; every other comparison
            is always gated.
        strata: optional, ``"excess"`` and ``"difference"`` only -- the same counts split into
            strata of matched targets, one row ``(successes, trials, control successes,
            control trials)`` per stratum (the inference attack: one per value of the secret).
            The rows must add up to the totals, and every stratum must hold the same share of
            the trials on both sides (matched sampling: ``trials_h / trials == control_trials_h
            / control_trials``), so the pooled counts are the stratified ones. Core then bounds
            the risk from the strata (:func:`privgate.strata_bounds.upper_mover_strata`), which is
            narrower where the outcome depends on the stratum.
    """

    label: str
    estimator: str
    successes: float
    trials: int
    control_successes: float | None = None
    control_trials: int | None = None
    hits: int | None = None
    control_hits: int | None = None
    supplementary: bool = False
    #: (left out of ``repr``: up to :data:`MAX_STRATA` rows)
    strata: tuple[tuple[float, int, float, int], ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        text("counts.label", self.label)
        if len(self.label) > 200:
            raise PlainError("counts.label is longer than 200 characters")
        if self.estimator not in ESTIMATORS:
            raise PlainError(f"counts.estimator must be one of {sorted(ESTIMATORS)}, got "
                             f"{self.estimator!r}")
        trials = integer("counts.trials", self.trials)
        object.__setattr__(self, "trials", trials)
        object.__setattr__(self, "successes", _count("counts.successes", self.successes, trials))
        controlled = self.estimator != "rate"
        for name in ("control_successes", "control_trials"):
            if (getattr(self, name) is None) == controlled:
                need = "is required" if controlled else "must be None"
                raise PlainError(f"counts.{name} {need} for the estimator {self.estimator!r}")
        if controlled:
            m = integer("counts.control_trials", self.control_trials)
            object.__setattr__(self, "control_trials", m)
            object.__setattr__(self, "control_successes",
                               _count("counts.control_successes", self.control_successes, m))
        corrected = self.estimator == "corrected"
        for name, n in (("hits", self.trials), ("control_hits", self.control_trials)):
            value = getattr(self, name)
            if (value is None) == corrected:
                raise PlainError(f"counts.{name} is {'required' if corrected else 'only'} for "
                                 f"the estimator 'corrected'")
            if corrected:
                hits = integer(f"counts.{name}", value)
                assert hits is not None and n is not None
                if hits > n:
                    raise PlainError(f"counts.{name} ({hits}) exceeds its trials ({n})")
                object.__setattr__(self, name, hits)
        if corrected and (self.successes > float(self.hits or 0) + 1e-9 or float(
                self.control_successes or 0) > float(self.control_hits or 0) + 1e-9):
            raise PlainError("counts: a re-identification count exceeds its hit count")
        if not isinstance(self.supplementary, bool):
            raise PlainError("counts.supplementary must be true or false")
        object.__setattr__(self, "strata", _strata(self))

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "estimator": self.estimator, "successes": self.successes,
                "trials": self.trials, "control_successes": self.control_successes,
                "control_trials": self.control_trials, "hits": self.hits,
                "control_hits": self.control_hits, "supplementary": self.supplementary,
                **({"strata": [list(row) for row in self.strata]} if self.strata else {})}

    @classmethod
    def from_plain(cls, value: Any, field: str = "counts") -> Counts:
        """Checked counts from a :class:`Counts` (any subclass) or its JSON mapping."""
        names = ("label", "estimator", "successes", "trials", "control_successes",
                 "control_trials", "hits", "control_hits", "supplementary", "strata")
        f = read(value, names, field)
        try:
            return cls(
                text(f"{field}.label", f["label"]) or "",
                text(f"{field}.estimator", f["estimator"]) or "",
                number(f"{field}.successes", f["successes"]) or 0.0,
                integer(f"{field}.trials", f["trials"]) or 0,
                number(f"{field}.control_successes", f["control_successes"], allow_none=True),
                integer(f"{field}.control_trials", f["control_trials"], allow_none=True),
                integer(f"{field}.hits", f["hits"], allow_none=True),
                integer(f"{field}.control_hits", f["control_hits"], allow_none=True),
                _flag(f"{field}.supplementary", f["supplementary"]),
                tuple(tuple(items_of(f"{field}.strata[{i}]", row, 4)) for i, row in enumerate(
                    items_of(f"{field}.strata", f["strata"] or (), MAX_STRATA))))
        except PlainError as exc:
            raise PlainError(str(exc).replace("counts.", f"{field}.", 1)) from None


def _strata(c: Counts) -> tuple[tuple[float, int, float, int], ...]:
    """``c.strata`` checked: rows of four counts in range, adding up to the totals, with the
    same composition on both sides (see :class:`Counts`)."""
    rows = items_of("counts.strata", c.strata, MAX_STRATA)
    if not rows:
        return ()
    if c.estimator not in ("excess", "difference"):
        raise PlainError(f"counts.strata are only for the estimators 'excess' and "
                         f"'difference', not {c.estimator!r}")
    out = []
    for i, row in enumerate(rows):
        f = f"counts.strata[{i}]"
        cells = items_of(f, row, 4)
        if len(cells) != 4:
            raise PlainError(f"{f} must hold 4 counts (successes, trials, control successes, "
                             f"control trials), got {len(cells)}")
        n = integer(f"{f} trials", cells[1], 1) or 0
        m = integer(f"{f} control trials", cells[3], 1) or 0
        out.append((_count(f"{f} successes", cells[0], n), n,
                    _count(f"{f} control successes", cells[2], m), m))
    n_total, m_total = int(c.trials), int(c.control_trials or 0)
    sums = [sum(r[k] for r in out) for k in range(4)]
    for k, (what, total) in enumerate((("successes", c.successes), ("trials", n_total),
                                       ("control successes", c.control_successes or 0.0),
                                       ("control trials", m_total))):
        if abs(sums[k] - float(total)) > 1e-6 * max(1.0, float(total)):
            raise PlainError(f"counts.strata: the strata's {what} add up to {sums[k]:g}, not "
                             f"the comparison's {float(total):g}")
    for i, (_, n, _, m) in enumerate(out):
        if n * m_total != m * n_total:
            raise PlainError(f"counts.strata[{i}]: {n} of {n_total} trials but {m} of "
                             f"{m_total} control trials; every stratum must hold the same "
                             "share of both (matched sampling)")
    return tuple(out)


def _flag(field: str, value: Any) -> bool:
    """A boolean flag (absent: ``False``)."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise PlainError(f"{field} must be true or false, got {type(value).__name__}")
    return bool(value)


def _count(field: str, value: Any, trials: int | None) -> float:
    """A success count: finite, in ``[0, trials]`` (fractional allowed)."""
    out = number(field, value)
    assert out is not None and trials is not None
    if not 0.0 <= out <= trials + 1e-9:
        raise PlainError(f"{field} must be in [0, {trials}], got {out}")
    return min(out, float(trials))


def counts_from_plain(value: Any, field: str = "counts") -> tuple[Counts, ...]:
    """A result's comparisons (at most :data:`MAX_COMPARISONS`), each rebuilt and checked;
    labels must differ (a report names each comparison by its label)."""
    if value is None:
        return ()
    out = tuple(Counts.from_plain(v, f"{field}[{i}]")
                for i, v in enumerate(items_of(field, value, MAX_COMPARISONS)))
    labels = [c.label for c in out]
    if len(set(labels)) != len(labels):
        raise PlainError(f"{field}: two comparisons share a label")
    if out and all(c.supplementary for c in out):
        raise PlainError(f"{field}: every comparison is supplementary; at least one must be "
                         "gated")
    return out
