"""Membership of a person, not of a row: the helpers the row-scoring attacks share.

When the schema declares a person-id column, ``AttackContext.persons`` gives each training and
control row its person (opaque codes; :mod:`privgate.persons`). An adversary asks "was this
patient in the data?", and it holds all of a patient's records: a person's score is the most
member-like score over their scored rows (:func:`membership_units`: the maximum of the
scores, so a single copied encounter exposes the patient), and each person is one trial.
Without a person column every row is its own person and these helpers return the rows as they
are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from privgate.attack import AttackContext
from privgate.attacks._membership_metrics import positions, rank_against
from privgate.persons import PER_PERSON, PER_ROW, Persons, aggregate, people_with

#: How a person's score is made from their rows' scores, in words (results' details).
AGGREGATION = "the most member-like score over the person's scored rows"


@dataclass(frozen=True)
class Units:
    """The scored units (rows, or people) of a membership attack.

    Attributes:
        scores: one score per unit (higher = member).
        labels: 1 for a member unit, 0 for a non-member.
        exposure: for each scored member *row*, its unit's exposure in [0, 1] (the share of
            non-member units scoring below it): the per-record ranking's input.
        details: what the results' ``details`` say about the units.
    """

    scores: np.ndarray
    labels: np.ndarray
    exposure: np.ndarray
    details: dict[str, Any]

    @property
    def n_members(self) -> int:
        return int(self.labels.sum())

    @property
    def n_trials(self) -> int:
        return int(len(self.labels))


def membership_units(context: AttackContext, member_pos: np.ndarray, nonmember_pos: np.ndarray,
                     scores: np.ndarray) -> Units:
    """Rows scored as ``scores`` (members ``train.iloc[member_pos]`` first, then non-members
    ``control.iloc[nonmember_pos]``) as per-person scores when ``context.persons`` is set."""
    scores = np.asarray(scores, dtype=float)
    n = len(member_pos)
    labels = np.r_[np.ones(n, dtype=int), np.zeros(len(nonmember_pos), dtype=int)]
    persons = context.persons
    if persons is None:
        return Units(scores, labels, rank_against(scores[:n], scores[n:]), {"unit": PER_ROW})
    codes = np.r_[persons.train[np.asarray(member_pos, dtype=np.intp)],
                  persons.control[np.asarray(nonmember_pos, dtype=np.intp)]]
    # codes are disjoint across the sides (split by person); keep the side in the key anyway
    keyed = codes.astype(np.int64) * 2 + labels
    per_person, of_row = aggregate(scores, keyed, np.maximum)
    unit_labels = (np.unique(keyed) % 2).astype(int)
    ref = per_person[unit_labels == 0]
    exposure = rank_against(per_person, ref)[of_row[:n]]
    return Units(per_person, unit_labels, exposure, {
        "unit": PER_PERSON, "person_score": AGGREGATION, "rows_scored": int(len(scores)),
        "member_people": int(unit_labels.sum()),
        "nonmember_people": int((unit_labels == 0).sum())})


def people_halves(perm: np.ndarray, codes: np.ndarray | None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Rows in two halves: the first and second half of the permutation ``perm`` of the rows,
    or, with person ``codes``, of the people in the order ``perm`` first meets them (a
    person's rows all in one half). Each half sorted."""
    perm = np.asarray(perm)
    if codes is None:
        half = len(perm) // 2
        return np.sort(perm[:half]), np.sort(perm[half:])
    order = pd.unique(np.asarray(codes)[perm])
    first = np.isin(np.asarray(codes), order[: len(order) // 2])
    return np.flatnonzero(first), np.flatnonzero(~first)


def first_rows(perm: np.ndarray, codes: np.ndarray | None, cap: int | None) -> np.ndarray:
    """The first ``cap`` rows of the permutation ``perm`` (all of it when ``cap`` is ``None``
    or not smaller), or, with person ``codes``, the rows of whole people in the order ``perm``
    first meets them, as many people as fit in ``cap`` rows (one at least): a uniform random
    subsample of the rows (people) when ``perm`` is a uniform random permutation."""
    perm = np.asarray(perm)
    if cap is None or cap >= len(perm):
        return perm
    if codes is None:
        return perm[:cap]
    met = np.asarray(codes)[perm]
    order, first = np.unique(met, return_index=True)
    order = order[np.argsort(first)]  # people in the order perm meets them
    sizes = pd.Series(met).value_counts().reindex(order).to_numpy()
    k = max(1, int(np.searchsorted(np.cumsum(sizes), cap, side="right")))
    return perm[np.isin(met, order[:k])]


def unit_sizes(context: AttackContext, train_rows: int, control_rows: int,
               control_pos: np.ndarray | None = None) -> tuple[int, int]:
    """How many member and non-member units ``train_rows`` training and ``control_rows``
    control rows hold: the rows themselves, or (with persons) the people of the whole
    training part and of ``control_pos`` (default: the whole control part), scaled down
    when the rows are capped."""
    persons = context.persons
    if persons is None:
        return train_rows, control_rows
    control = persons.control if control_pos is None else persons.control[control_pos]
    n_train, n_control = persons.n_train, int(len(np.unique(control)))
    return (max(1, round(n_train * min(1.0, train_rows / max(1, len(persons.train))))),
            max(1, round(n_control * min(1.0, control_rows / max(1, len(control))))))


def closest_per_person(context: AttackContext, member_pos: np.ndarray,
                       calibration: np.ndarray, held_out: np.ndarray,
                       distances: tuple[np.ndarray, np.ndarray, np.ndarray]
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Members', calibration and held-out distances per unit: each person's closest row (with
    ``context.persons``), else the rows. Returns the three arrays and, for each member row,
    the index of its unit in the first."""
    d_mem, d_cal, d_out = (np.asarray(d, dtype=float) for d in distances)
    persons = context.persons
    if persons is None:
        return d_mem, d_cal, d_out, np.arange(len(d_mem))
    per_member, of_row = aggregate(d_mem, persons.train[member_pos], np.minimum)
    return (per_member, aggregate(d_cal, persons.control[calibration], np.minimum)[0],
            aggregate(d_out, persons.control[held_out], np.minimum)[0], of_row)


def unit_counts(context: AttackContext, hits: np.ndarray, eligible: np.ndarray,
                control_hits: np.ndarray, control_eligible: np.ndarray
                ) -> tuple[int, int, int, int]:
    """Training successes and trials, control successes and trials, from per-row masks: rows,
    or (with ``context.persons``) people with at least one row in the mask."""
    persons = context.persons
    if persons is None:
        return (int(np.sum(hits)), int(np.sum(eligible)), int(np.sum(control_hits)),
                int(np.sum(control_eligible)))
    return (people_with(hits, persons.train), people_with(eligible, persons.train),
            people_with(control_hits, persons.control),
            people_with(control_eligible, persons.control))


def person_sums(persons: Persons, per_record: np.ndarray, control_record: np.ndarray,
                hits: np.ndarray, control_hits: np.ndarray
                ) -> tuple[int, int, tuple[float, float, int, int]]:
    """Identity disclosure per person: the training and control people, and the summed
    per-person probabilities (each person's most exposed record) and people hit on each
    side."""
    member, _ = aggregate(per_record, persons.train, np.maximum)
    outsider, _ = aggregate(control_record, persons.control, np.maximum)
    return len(member), len(outsider), (
        float(member.sum()), float(outsider.sum()), people_with(hits, persons.train),
        people_with(control_hits, persons.control))


def people_rows(persons: Persons, n_people: int, draws: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray]:
    """Rows of equal seeded samples of ``n_people`` training and ``n_people`` control people
    (all rows of each; people drawn like rows, :func:`positions`, training first), as sorted
    positions into ``AttackContext.train`` and ``.control``."""
    train_people, control_people = np.unique(persons.train), np.unique(persons.control)
    chosen_train = train_people[positions(len(train_people), n_people, draws)]
    chosen_control = control_people[positions(len(control_people), n_people, draws)]
    return (np.flatnonzero(np.isin(persons.train, chosen_train)),
            np.flatnonzero(np.isin(persons.control, chosen_control)))
