"""Nearest synthetic rows under anonymeter's Gower distance, fast enough for every target.

anonymeter's inference and linkability attacks find, for each target, the synthetic row(s)
closest on the attacker's known columns: numbers scaled by their range and compared by absolute
difference, categories by equality, two missing values counted as different
(``anonymeter.neighbors.mixed_types_kneighbors.gower_distance``; the same terms are summed here
in the same order, so every distance is the same float). anonymeter
searches one target at a time through a thread pool and fully sorts the distances of each,
which costs seconds per thousand targets; running an attack on every row a table allows needs
more. :func:`nearest_rows` computes the same neighbours

* for each *distinct* target once (targets with the same known values have the same
  neighbours), in one compiled pass (numba, as anonymeter itself uses) that runs column by
  column over all candidates in contiguous memory (several times faster than pair by pair);
* keeping the ``k`` smallest distances in a running list instead of sorting them all; among
  equal distances the lowest synthetic row wins (anonymeter's sort breaks such ties in an
  unspecified order, so any tied row is "a nearest neighbour" there too);
* with the numeric ranges taken over the synthetic rows and every row that may be a target
  (anonymeter scales by the synthetic rows and the targets of one call: the same whenever the
  targets span the real range, as they do when every row is attacked).
"""

from __future__ import annotations

from collections.abc import Sequence
from math import fabs

import anonymeter.evaluators  # noqa: F401 -- imports anonymeter's modules in their order
import numpy as np
import pandas as pd
from anonymeter.preprocessing.transformations import mixed_types_transform
from anonymeter.preprocessing.type_detection import detect_consistent_col_types
from numba import njit


@njit(nogil=True, cache=False)
def _k_nearest(queries: np.ndarray, candidates_t: np.ndarray, cat_index: int, k: int
               ) -> np.ndarray:  # pragma: no cover -- compiled
    """anonymeter's ``gower_distance`` from each query to every candidate, one column at a
    time over all candidates (``candidates_t`` is column-major: one contiguous row per
    column), so the inner loops run over contiguous memory; each distance adds the same terms
    in the same order as ``gower_distance`` does, so it is the same float."""
    n_cols, m = candidates_t.shape
    out = np.zeros((queries.shape[0], k), dtype=np.int64)
    d = np.empty(m)
    for i in range(queries.shape[0]):
        d[:] = 0.0
        for c in range(n_cols):
            q = queries[i, c]
            col = candidates_t[c]
            if np.isnan(q):
                if c < cat_index:  # both missing: 1; else fabs(nan - v) is nan, as there
                    for j in range(m):
                        d[j] += 1.0 if np.isnan(col[j]) else np.nan
                else:  # both missing: 1; one missing: they differ: 1
                    for j in range(m):
                        d[j] += 1.0
            elif c < cat_index:
                for j in range(m):
                    d[j] += fabs(q - col[j])
            else:
                for j in range(m):
                    if q != col[j]:
                        d[j] += 1.0
        best_d = np.full(k, np.inf)
        best_i = np.zeros(k, dtype=np.int64)
        for j in range(m):
            dj = d[j]
            if dj < best_d[k - 1]:
                pos = k - 1
                while pos > 0 and best_d[pos - 1] > dj:
                    best_d[pos] = best_d[pos - 1]
                    best_i[pos] = best_i[pos - 1]
                    pos -= 1
                best_d[pos] = dj
                best_i[pos] = j
        out[i] = best_i
    return out


class Neighbours:
    """The ``k`` nearest rows of ``candidates`` on ``columns`` for any row of ``population``.

    ``population`` holds every row that may be a target (e.g. training and control rows): the
    numeric ranges are taken over it and the candidates. ``wanted`` (rows of ``population``),
    when given, are the rows that will be asked about: the search runs for them only, with the
    same ranges, so each of them gets the neighbours it would get without ``wanted`` (a wide
    table whose every column is a secret in turn attacks a few thousand targets per secret,
    out of a population of every real row). :meth:`of` looks a frame of such rows up by value.
    The search runs once, at construction.
    """

    def __init__(self, candidates: pd.DataFrame, population: pd.DataFrame,
                 columns: Sequence[str], k: int = 1,
                 wanted: pd.DataFrame | None = None) -> None:
        cols = list(columns)
        self.columns = cols
        self.k = max(1, min(int(k), len(candidates)))
        distinct = population[cols].drop_duplicates(ignore_index=True)
        types = detect_consistent_col_types(df1=candidates[cols], df2=distinct)
        cand, query = mixed_types_transform(df1=candidates[cols], df2=distinct,
                                            num_cols=types["num"], cat_cols=types["cat"])
        if wanted is not None:
            asked = distinct.merge(wanted[cols].drop_duplicates().assign(_asked=True),
                                   how="left", on=cols, sort=False)["_asked"].notna()
            keep = asked.to_numpy(dtype=bool)
            distinct = distinct[keep].reset_index(drop=True)
            query = query[keep]
        order = types["num"] + types["cat"]
        found = _k_nearest(np.ascontiguousarray(query[order].to_numpy(dtype=np.float64)),
                           np.ascontiguousarray(cand[order].to_numpy(dtype=np.float64).T),
                           len(types["num"]), self.k)
        self._table = distinct.assign(**{f"_nn{i}": found[:, i] for i in range(self.k)})

    def of(self, rows: pd.DataFrame) -> np.ndarray:
        """The candidate positions nearest to each of ``rows`` (shape ``(len(rows), k)``)."""
        merged = rows[self.columns].merge(self._table, how="left", on=self.columns,
                                          sort=False)
        if len(merged) != len(rows) or merged["_nn0"].isna().any():
            raise ValueError("Neighbours.of: a row that is not in the population")
        return merged[[f"_nn{i}" for i in range(self.k)]].to_numpy(dtype=np.int64)


class NeighbourPredictor:
    """anonymeter's ``InferencePredictor`` protocol: guess a target's secret as that of its
    nearest synthetic row (what anonymeter's ``KNNInferencePredictor`` does), read from a
    precomputed :class:`Neighbours`."""

    def __init__(self, neighbours: Neighbours, synthetic: pd.DataFrame, secret: str) -> None:
        self._neighbours = neighbours
        self._secret = synthetic[secret].reset_index(drop=True)

    def predict(self, x: pd.DataFrame) -> pd.Series:
        guesses = self._secret.iloc[self._neighbours.of(x)[:, 0]]
        return pd.Series(guesses.to_numpy(), index=x.index, name=self._secret.name)


def population(*frames: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``frames`` stacked (the rows a :class:`Neighbours` may be asked about)."""
    return pd.concat(frames, ignore_index=True)


__all__ = ["NeighbourPredictor", "Neighbours", "population"]
