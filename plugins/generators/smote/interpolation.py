"""SMOTE-NC interpolation within one class, for a generator that draws ``k`` rows at a time.

The rule is SMOTE-NC's (Chawla et al. 2002): a random base row of the class, a random one of
its ``k_neighbors`` nearest same-class rows, continuous features at a uniform point of the
segment between them, each categorical feature the most frequent value among the base row's
neighbours (ties: the smallest code). Distances use z-scored continuous features and one-hot
categories scaled so that a category mismatch counts like one standard deviation
(imbalanced-learn scales by the median standard deviation instead, without z-scoring, which
lets one wide column decide every neighbour).

Written here rather than calling imbalanced-learn's ``SMOTENC.fit_resample``: that computes the
whole k-nearest-neighbour graph of the class (quadratic in its size, at every ``sample`` call),
while drawing ``k`` rows needs the neighbours of at most ``k`` base rows.
"""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors


def interpolate(rows: np.ndarray, categorical: list[bool], k: int, k_neighbors: int,
                draws: np.random.Generator) -> np.ndarray:
    """``k`` SMOTE-NC rows between the rows of one class (``rows``: its feature matrix;
    ``categorical``: which matrix columns are category codes)."""
    base = draws.integers(len(rows), size=k)
    if len(rows) == 1:  # nothing to interpolate with: the lone row is all SMOTE could give
        return rows[base].copy()
    neighbours = min(k_neighbors, len(rows) - 1)
    space = neighbour_space(rows, categorical)
    search = NearestNeighbors(n_neighbors=neighbours + 1).fit(space)
    _, idx = search.kneighbors(space[base])
    # Drop the base row itself (first unless exact duplicates tie with it).
    own = idx == base[:, None]
    drop = np.where(own.any(axis=1), own.argmax(axis=1), neighbours)
    keep = np.ones_like(idx, dtype=bool)
    keep[np.arange(k), drop] = False
    idx = idx[keep].reshape(k, neighbours)
    partner = idx[np.arange(k), draws.integers(neighbours, size=k)]
    gap = draws.random((k, 1))
    out = rows[base] + gap * (rows[partner] - rows[base])
    for j in np.nonzero(categorical)[0]:
        votes = rows[idx, j].astype(np.int64) + 1  # codes start at -1 (out of domain)
        counts = np.zeros((k, int(votes.max()) + 1), dtype=np.int64)
        np.add.at(counts, (np.repeat(np.arange(k), neighbours), votes.ravel()), 1)
        out[:, j] = counts.argmax(axis=1) - 1
    return out


def neighbour_space(rows: np.ndarray, categorical: list[bool]) -> np.ndarray:
    """The rows as SMOTE-NC distance coordinates (see the module docstring)."""
    parts: list[np.ndarray] = []
    for j, is_code in enumerate(categorical):
        x = rows[:, j]
        if is_code:
            codes = x.astype(np.int64) + 1
            onehot = np.zeros((len(x), int(codes.max()) + 1))
            onehot[np.arange(len(x)), codes] = np.sqrt(0.5)
            parts.append(onehot)
        else:
            sd = float(x.std())
            parts.append(((x - x.mean()) / (sd if sd > 0 else 1.0))[:, None])
    return np.hstack(parts)
