"""Typed evidence of a membership attack at one fixed threshold: counts core can bound epsilon by.

A membership attack that scores real records (members: training rows; non-members: control
rows) can say how many of each its adversary flags at a threshold it fixed *before* counting
them: on held-out scores (half the scored records choose the threshold, the other half are
counted), or on records it does not count at all (``low-fpr-membership`` fixes its cut on
calibration control rows). An :class:`OperatingPoint` carries those four whole numbers and
nothing computed from them; core turns them into an empirical lower bound on epsilon
(:mod:`privgate.dp_claim`) with its own Clopper-Pearson bounds, trusting no rate or bound the
attack states.

A canary audit (``dp-audit``) reports :class:`CanaryGuesses` instead: how many canaries it
inserted (each with probability 1/2), how many it guessed on from the output and how many of
those guesses were right; core bounds epsilon from them with the one-run method of Steinke, Nasr
& Jagielski (:mod:`privgate.dp_audit_bounds`).

Like every evidence type (:mod:`privgate.evidence`) each checks itself on construction and
rebuilds itself from an untrusted object or a JSON mapping with :meth:`OperatingPoint.from_plain`,
raising :class:`~privgate.plain.PlainError` naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from privgate.plain import PlainError, integer, items_of, read, text

__all__ = ["MAX_OPERATING_POINTS", "CanaryGuesses", "OperatingPoint", "canary_guesses_from_plain",
           "operating_points_from_plain"]

#: The most operating points one attack result may carry (core corrects for their number).
MAX_OPERATING_POINTS = 20


@dataclass(frozen=True)
class OperatingPoint:
    """Members and non-members a membership adversary flags at one pre-fixed threshold.

    Attributes:
        label: how the threshold was fixed, e.g. ``"distance threshold chosen on half of the
            scored records, counted on the other half"``.
        members_flagged, members: training rows flagged as members, of those counted.
        nonmembers_flagged, nonmembers: control rows (never seen by the generator) flagged,
            of those counted.

    The threshold must not have been chosen on the counted records: the counts are then
    binomial draws at the attack's true-positive and false-positive rates, which core bounds.
    """

    label: str
    members_flagged: int
    members: int
    nonmembers_flagged: int
    nonmembers: int

    def __post_init__(self) -> None:
        text("operating_point.label", self.label)
        if not self.label.strip() or len(self.label) > 200:
            raise PlainError("operating_point.label must be 1 to 200 characters")
        for flagged, total in (("members_flagged", "members"),
                               ("nonmembers_flagged", "nonmembers")):
            n = integer(f"operating_point.{total}", getattr(self, total), 1)
            k = integer(f"operating_point.{flagged}", getattr(self, flagged))
            assert n is not None and k is not None
            if k > n:
                raise PlainError(f"operating_point.{flagged} ({k}) exceeds "
                                 f"operating_point.{total} ({n})")
            object.__setattr__(self, total, n)
            object.__setattr__(self, flagged, k)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "members_flagged": self.members_flagged,
                "members": self.members, "nonmembers_flagged": self.nonmembers_flagged,
                "nonmembers": self.nonmembers}

    @classmethod
    def from_plain(cls, value: Any, field: str = "operating_point") -> OperatingPoint:
        """A checked point from an :class:`OperatingPoint` (any subclass) or its mapping."""
        f = read(value, ("label", "members_flagged", "members", "nonmembers_flagged",
                         "nonmembers"), field)
        try:
            return cls(text(f"{field}.label", f["label"]) or "",
                       integer(f"{field}.members_flagged", f["members_flagged"]) or 0,
                       integer(f"{field}.members", f["members"]) or 0,
                       integer(f"{field}.nonmembers_flagged", f["nonmembers_flagged"]) or 0,
                       integer(f"{field}.nonmembers", f["nonmembers"]) or 0)
        except PlainError as exc:
            raise PlainError(str(exc).replace("operating_point.", f"{field}.", 1)) from None


def operating_points_from_plain(value: Any, field: str = "operating_points"
                                ) -> tuple[OperatingPoint, ...]:
    """A result's operating points (at most :data:`MAX_OPERATING_POINTS`), each rebuilt and
    checked."""
    if value is None:
        return ()
    return tuple(OperatingPoint.from_plain(v, f"{field}[{i}]")
                 for i, v in enumerate(items_of(field, value, MAX_OPERATING_POINTS)))


@dataclass(frozen=True)
class CanaryGuesses:
    """One canary audit's guesses: ``correct`` of ``guesses`` right, on ``canaries`` canaries
    each inserted independently with probability 1/2 before ONE training run.

    The guesses must depend on the output (and the canaries) only, never on which canaries
    were inserted; which canaries to guess on is chosen from the scores alone.
    """

    label: str
    canaries: int
    guesses: int
    correct: int

    def __post_init__(self) -> None:
        text("canary_guesses.label", self.label)
        if not self.label.strip() or len(self.label) > 200:
            raise PlainError("canary_guesses.label must be 1 to 200 characters")
        m = integer("canary_guesses.canaries", self.canaries, 1)
        r = integer("canary_guesses.guesses", self.guesses, 1)
        v = integer("canary_guesses.correct", self.correct)
        assert m is not None and r is not None and v is not None
        if not v <= r <= m:
            raise PlainError(f"canary_guesses: need correct ({v}) <= guesses ({r}) <= "
                             f"canaries ({m})")
        object.__setattr__(self, "canaries", m)
        object.__setattr__(self, "guesses", r)
        object.__setattr__(self, "correct", v)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "canaries": self.canaries, "guesses": self.guesses,
                "correct": self.correct}

    @classmethod
    def from_plain(cls, value: Any, field: str = "canary_guesses") -> CanaryGuesses:
        """Checked guesses from a :class:`CanaryGuesses` (any subclass) or its mapping."""
        f = read(value, ("label", "canaries", "guesses", "correct"), field)
        try:
            return cls(text(f"{field}.label", f["label"]) or "",
                       integer(f"{field}.canaries", f["canaries"]) or 0,
                       integer(f"{field}.guesses", f["guesses"]) or 0,
                       integer(f"{field}.correct", f["correct"]) or 0)
        except PlainError as exc:
            raise PlainError(str(exc).replace("canary_guesses", field, 1)) from None


def canary_guesses_from_plain(value: Any, field: str = "canary_guesses"
                              ) -> tuple[CanaryGuesses, ...]:
    """A result's canary guesses (at most :data:`MAX_OPERATING_POINTS`), each rebuilt."""
    if value is None:
        return ()
    return tuple(CanaryGuesses.from_plain(v, f"{field}[{i}]")
                 for i, v in enumerate(items_of(field, value, MAX_OPERATING_POINTS)))
