"""Which rows ``anonymeter-inference`` attacks: matched training and control targets.

A secret's rows are split into strata by its value alone (:func:`strata_of`,
:func:`secret_strata`), and each training target is paired with a control target of the same
stratum (:func:`matched_targets`), so both sides have the same composition and the counts can
be bounded stratum by stratum (:class:`privgate.evidence.Counts`). When every column is a secret
in turn, the pairs of all secrets are drawn from one pool of rows (:func:`target_pool`), so that
one leave-one-out search finds every secret's nearest rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: A secret with at most this many values is stratified value by value.
MAX_STRATA_VALUES = 50
#: Beyond that, a value held by at least this share of the rows is a stratum of its own ...
FREQUENT_SHARE = 0.02
#: ... and the other values fall in this many quantile bins (numbers) or one stratum.
OTHER_BINS = 10


@dataclass(frozen=True)
class Matched:
    """Matched targets of one secret: positions of training and control rows (pair ``i`` of
    the two lists in the same stratum ``stratum[i]``); ``available``: the pairs the tables
    hold."""

    train: np.ndarray
    control: np.ndarray
    stratum: np.ndarray
    available: int


def strata_of(values: pd.Series, numeric: bool) -> np.ndarray:
    """A stratum number for every value of a secret, from the values alone (never from any
    attack's outcome): each value its own stratum when there are at most
    :data:`MAX_STRATA_VALUES`; otherwise every value held by at least :data:`FREQUENT_SHARE`
    of the rows alone (a spike such as a "not detected" code) and the rest in
    :data:`OTHER_BINS` quantile bins (numbers) or one stratum (categories)."""
    codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=False)
    if len(uniques) <= MAX_STRATA_VALUES:
        return np.asarray(codes, dtype=np.int64)
    shares = np.bincount(codes, minlength=len(uniques)) / max(len(values), 1)
    frequent = shares >= FREQUENT_SHARE
    out = np.where(frequent[codes], codes, -1).astype(np.int64)
    rest = out < 0
    if rest.any():
        if numeric:
            x = values.to_numpy(dtype=float)[rest]
            edges = np.unique(np.nanquantile(x, np.linspace(0, 1, OTHER_BINS + 1)[1:-1]))
            bins = np.searchsorted(edges, x, side="right")
        else:
            bins = np.zeros(int(rest.sum()), dtype=np.int64)
        out[rest] = len(uniques) + bins
    return out


def secret_strata(train: pd.Series, control: pd.Series, numeric: bool) -> np.ndarray:
    """The stratum of every training row, then of every control row (:func:`strata_of` over
    both); one stratum for all rows when no stratum has rows on both sides."""
    keys = strata_of(pd.concat([train, control], ignore_index=True), numeric)
    if not len(np.intersect1d(keys[:len(train)], keys[len(train):])):
        return np.zeros(len(keys), np.int64)
    return keys


def target_pool(n_train: int, n_control: int, size: int, generator: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray]:
    """At most ``size`` training and ``size`` control rows (sorted positions), uniformly at
    random: the rows every secret's matched targets are drawn from when every column is a
    secret in turn."""
    return (np.sort(generator.permutation(n_train)[:size]),
            np.sort(generator.permutation(n_control)[:size]))


def matched_targets(keys: np.ndarray, n_train: int, limit: int,
                    generator: np.random.Generator,
                    pool: tuple[np.ndarray, np.ndarray] | None = None) -> Matched:
    """Pairs of training and control rows in the same stratum (``keys``: the
    :func:`secret_strata` of the ``n_train`` training rows, then of the control rows), at
    random: for every stratum ``min(train, control)`` pairs, then (beyond ``limit`` pairs) a
    random subset of the pairs, so both sides keep the same composition. With ``pool``
    (training positions, control positions; :func:`target_pool`) the pairs are drawn among
    those rows only -- one stratum for all when no stratum has pool rows on both sides --
    while ``available`` still counts the pairs the whole tables hold."""
    if pool is not None:
        a_rows, b_rows = pool
        sub = np.concatenate([keys[:n_train][a_rows], keys[n_train:][b_rows]])
        if not len(np.intersect1d(sub[:len(a_rows)], sub[len(a_rows):])):
            sub = np.zeros(len(sub), np.int64)
        inner = matched_targets(sub, len(a_rows), limit, generator)
        return Matched(a_rows[inner.train], b_rows[inner.control], inner.stratum,
                       _pairs(keys[:n_train], keys[n_train:]))
    key_a, key_b = keys[:n_train], keys[n_train:]
    pairs_a, pairs_b, labels = [], [], []
    for value in np.intersect1d(key_a, key_b):
        a = generator.permutation(np.flatnonzero(key_a == value))
        b = generator.permutation(np.flatnonzero(key_b == value))
        k = min(len(a), len(b))
        pairs_a.append(a[:k])
        pairs_b.append(b[:k])
        labels.append(np.full(k, value))
    a, b = np.concatenate(pairs_a), np.concatenate(pairs_b)
    keep = np.sort(generator.permutation(len(a))[:limit])
    return Matched(a[keep], b[keep], np.concatenate(labels)[keep], len(a))


def _pairs(key_a: np.ndarray, key_b: np.ndarray) -> int:
    """The matched pairs two sides' strata allow: ``min(train, control)`` per stratum."""
    values_a, count_a = np.unique(key_a, return_counts=True)
    values_b, count_b = np.unique(key_b, return_counts=True)
    _, in_a, in_b = np.intersect1d(values_a, values_b, return_indices=True)
    return int(np.minimum(count_a[in_a], count_b[in_b]).sum())


__all__ = ["FREQUENT_SHARE", "MAX_STRATA_VALUES", "OTHER_BINS", "Matched", "matched_targets",
           "secret_strata", "strata_of", "target_pool"]
