"""Who the rows belong to: the person-id column, splits by person, and per-person counting.

Hospital tables hold encounters, claims or visits, not people: one patient may have forty rows.
A column declared ``role = "person-id"`` (``--person-id COL``) names the person each row belongs
to. It is a direct identifier (never modelled, never shown), but it groups rows:

* the training / control split puts every row of a person on one side (:func:`split_people`),
  and the control fraction is a share of people;
* attacks see the grouping as :class:`Persons` (``AttackContext.persons``): one opaque integer
  code per row, the same code for the same person, never the real id; they aggregate a person's
  rows (:func:`aggregate`, :func:`people_with`) and count people, not rows;
* the ledger, the plan and the report say which unit the privacy budget protects
  (:func:`unit_of`).

Without a person column every row is its own person and nothing here changes a result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from privgate.errors import N_, InputError
from privgate.randomness import rng
from privgate.schema import Role, Schema

#: What the privacy budget and the attacks count, in words (results.json, ledger, report).
PER_PERSON, PER_ROW = "per person", "per row"


def _frozen(values: Any) -> NDArray[np.int64]:
    out = np.array(values, dtype=np.int64, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class Persons:
    """Each training and control row's person, as opaque codes (0..people-1; equal codes, one
    person). Read-only: attacks receive the same object and cannot alter it.

    Attributes:
        column: the person-id column's name.
        train: one code per row of ``AttackContext.train``.
        control: one code per row of ``AttackContext.control`` (no code appears in both: the
            split is by person).
    """

    column: str
    train: NDArray[np.int64]
    control: NDArray[np.int64]

    def __post_init__(self) -> None:
        object.__setattr__(self, "train", _frozen(self.train))
        object.__setattr__(self, "control", _frozen(self.control))

    @property
    def n_train(self) -> int:
        """People with a row in the training part."""
        return int(len(np.unique(self.train)))

    @property
    def n_control(self) -> int:
        """People with a row in the control part."""
        return int(len(np.unique(self.control)))

    def rows_per_person(self) -> dict[str, float | int]:
        """How many rows the training part's people have (counts only, no id)."""
        counts = np.bincount(self.train)[np.unique(self.train)] if len(self.train) else (
            np.zeros(1, dtype=np.int64))
        return {"people": int(len(counts)), "rows": int(len(self.train)),
                "max_rows_per_person": int(counts.max()),
                "mean_rows_per_person": float(counts.mean())}


def person_column(schema: Schema, where: str = "schema") -> str | None:
    """The schema's person-id column (at most one), or ``None``."""
    names = [c.name for c in schema.columns if c.role is Role.PERSON_ID]
    if len(names) > 1:
        raise InputError(N_("%(where)s: column(s) %(names)s are all declared role = "
                            '"person-id"; declare one column that names the person'),
                         where=where, names=names)
    return names[0] if names else None


def checked_ids(df: pd.DataFrame, column: str, where: str) -> pd.Series:
    """The person ids of ``df`` as text keys; refuses missing ones, naming the column."""
    if column not in df.columns:
        raise InputError(N_("%(where)s: the person-id column %(column)r is not in the table"),
                         where=where, column=column)
    ids = df[column]
    missing = ids.isna()
    if missing.any():
        raise InputError(N_("%(where)s: person-id column %(column)r has %(count)s missing "
                            "value(s) (first at row %(row)s); every row must name its "
                            "person: fill them in, or drop those rows"),
                         where=where, column=column, count=int(missing.sum()),
                         row=int(np.flatnonzero(missing)[0]) + 1)
    return ids.map(_key).reset_index(drop=True)


def _key(value: Any) -> str:
    """One person's key: ``12``, ``12.0`` and ``"12"`` are the same person."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, np.generic):
        return _key(value.item())
    return str(value)


def split_people(ids: pd.Series, control_fraction: float, seed: int
                 ) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Row positions of the training and control parts, whole people on each side.

    The people (sorted, so the order of rows does not matter) are shuffled with the seed's
    ``"split-people"`` stream and ``round(people * control_fraction)`` of them (at least one,
    at most all but one) go to control; each part lists its people's rows person by person.
    """
    people, inverse = np.unique(ids.to_numpy(dtype=object).astype(str), return_inverse=True)
    if len(people) < 2:
        raise InputError(N_("the table has %(n_people)s person(s) in its person-id column; an "
                            "audit needs at least 2 so that training and control hold different "
                            "people"), n_people=len(people))
    order = rng(seed, "split-people").permutation(len(people))
    n_control = min(len(people) - 1, max(1, int(round(len(people) * control_fraction))))
    rank = np.empty(len(people), dtype=np.intp)
    rank[order] = np.arange(len(people))
    row_rank = rank[inverse]
    rows = np.lexsort((np.arange(len(ids)), row_rank))  # person by person, rows in order
    in_control = row_rank[rows] < n_control
    return rows[~in_control], rows[in_control]


def sample_people(ids: pd.Series, max_rows: int, seed: int) -> NDArray[np.intp]:
    """Row positions of a seeded sample of whole people holding at most ``max_rows`` rows
    (``data.max_rows`` / ``--max-rows`` with a person column), sorted.

    The people (sorted, so the order of rows does not matter) are shuffled with the seed's
    ``"max-rows-people"`` stream and kept in that order while their rows fit in ``max_rows``:
    a uniformly random set of people, every row of each (a sample of rows would keep some of a
    person's encounters and drop others). When even the first person has more than
    ``max_rows`` rows, that one person is kept.
    """
    people, inverse = np.unique(ids.to_numpy(dtype=object).astype(str), return_inverse=True)
    order = rng(seed, "max-rows-people").permutation(len(people))
    sizes = np.bincount(inverse, minlength=len(people))[order]
    kept = order[:max(1, int(np.searchsorted(np.cumsum(sizes), max_rows, side="right")))]
    return np.flatnonzero(np.isin(inverse, kept)).astype(np.intp)


def persons_of(column: str, train_ids: pd.Series, control_ids: pd.Series,
               where: str) -> Persons:
    """Opaque codes for two parts' ids; refuses a person found on both sides."""
    both = pd.concat([train_ids, control_ids], ignore_index=True).astype(str)
    codes, uniques = pd.factorize(both, sort=True)
    train, control = codes[:len(train_ids)], codes[len(train_ids):]
    shared = np.intersect1d(train, control)
    if len(shared):
        raise InputError(N_("%(where)s: %(n_shared)s person(s) of column %(column)r have rows "
                            "in both the training and the control table; control must hold "
                            "people the generator never saw (split by person)"),
                         where=where, n_shared=len(shared), column=column)
    return Persons(column, train, control)


def aggregate(values: NDArray[Any], codes: NDArray[np.int64], how: np.ufunc = np.maximum
              ) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """One value per person: ``how`` (a ufunc such as ``np.maximum`` or ``np.minimum``)
    reduced over each person's rows. Returns the per-person values (people in code order) and,
    for each row, the index of its person in them."""
    people, inverse = np.unique(np.asarray(codes), return_inverse=True)
    start = -np.inf if how is np.maximum else np.inf
    out = np.full(len(people), start, dtype=float)
    how.at(out, inverse, np.asarray(values, dtype=float))
    return out, inverse.astype(np.intp)


def people_with(mask: NDArray[np.bool_], codes: NDArray[np.int64]) -> int:
    """How many people have at least one row where ``mask`` is true."""
    return int(len(np.unique(np.asarray(codes)[np.asarray(mask, dtype=bool)])))


def unit_of(persons: Persons | str | None) -> str:
    """What the budget protects and the attacks count: :data:`PER_PERSON` or
    :data:`PER_ROW`."""
    return PER_ROW if persons is None else PER_PERSON


def with_person_id(raw: dict[str, Any], column: str | None) -> dict[str, Any]:
    """The raw config ``raw`` with ``schema.person_id = column`` (unchanged for ``None``)."""
    if column is None:
        return raw
    if not column.strip():
        raise InputError(N_("--person-id: give a column name"))
    schema = raw.get("schema")
    return {**raw, "schema": {**(schema if isinstance(schema, dict) else {}),
                              "person_id": column.strip()}}


def privacy_unit(persons: Persons | None, dp_unit: str = PER_ROW) -> dict[str, Any]:
    """``results.json["privacy_unit"]``: what the epsilon of the DP generators protects
    (``dp_unit``), what the attacks count, and (with a person column) the counts behind the
    group-privacy caveat: a person with ``k`` rows under a per-row epsilon is protected only at
    about ``k`` times epsilon."""
    out: dict[str, Any] = {"epsilon_protects": dp_unit, "attacks_count": unit_of(persons),
                           "person_column": None if persons is None else persons.column}
    if persons is not None:
        out.update(persons.rows_per_person())
        out["n_control_people"] = persons.n_control
    if persons is not None and dp_unit == PER_PERSON:
        out["contribution_bound"] = ("each private generator was fitted on one row per person "
                                     "(drawn at random, seeded): privgate.dp.contribution")
    if persons is not None and dp_unit == PER_ROW:
        k = out["max_rows_per_person"]
        out["note"] = (f"the DP generators' epsilon protects each row; a person with k rows is "
                       f"protected at about k times epsilon (here up to {k} rows per person)")
    return out
