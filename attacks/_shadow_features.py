"""Features of one synthetic table *relative to one target record*, for shadow-model attacks.

A shadow-model attack (Stadler et al. 2022, TAPAS) trains a meta-classifier to tell synthetic
tables made with a target record from tables made without it. The classifier never sees the
whole table, only these target-relative summaries, which are comparable across tables of the
same size:

- distances from the target to its closest synthetic records (closest, mean of ``k`` closest);
- the share of synthetic records within fixed radii of it (an exact copy, a numeric-only
  difference, about one category changed), i.e. neighbourhood counts;
- marginal queries around it: the share of synthetic records that share its values on every
  categorical quasi-identifier, and the average frequency of its category in each categorical
  column.

Distances are Euclidean on :class:`privgate.encoding.TableEncoder`'s matrix (one-hot blocks,
numerics scaled to [0, 1]); they are computed in row chunks
(``sklearn.metrics.pairwise_distances_chunked``) so memory stays bounded on large tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import pairwise_distances_chunked

from privgate.encoding import TableEncoder
from privgate.schema import Kind, Schema

#: Radii of the neighbourhood counts, on the encoding: an exact copy; a record differing only in
#: numeric values (each contributes at most 1); records differing in about one category (a
#: one-hot mismatch adds sqrt(2)).
RADII: tuple[float, ...] = (1e-9, 0.25, 1.5)

FEATURE_NAMES: tuple[str, ...] = (
    "distance to the closest synthetic record",
    "mean distance to the k closest synthetic records",
    *(f"share of synthetic records within {r:g}" for r in RADII),
    "share matching the target on every categorical quasi-identifier",
    "mean frequency of the target's category per categorical column",
)

#: Bytes of distance matrix held at once (per chunk of target rows).
WORKING_MEMORY_MB = 256


def featurise(targets: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema,
              n_neighbors: int = 5) -> np.ndarray:
    """One row of :data:`FEATURE_NAMES` per target row, measured on ``synthetic``."""
    encoder = TableEncoder(schema)
    x_t = encoder.transform(targets).astype(np.float64)
    x_s = encoder.transform(synthetic).astype(np.float64)
    n_syn = max(len(x_s), 1)
    k = max(1, min(n_neighbors, len(x_s)))

    def reduce(chunk: np.ndarray, start: int) -> np.ndarray:
        part = np.partition(chunk, k - 1, axis=1)[:, :k] if chunk.shape[1] > k else chunk
        part = np.sort(part, axis=1)
        counts = [(chunk <= r).sum(axis=1) / n_syn for r in RADII]
        return np.column_stack([part[:, 0], part.mean(axis=1), *counts])

    blocks = list(pairwise_distances_chunked(x_t, x_s, reduce_func=reduce, metric="euclidean",
                                             working_memory=WORKING_MEMORY_MB))
    dist_features = np.vstack(blocks)
    # scikit-learn's Euclidean shortcut leaves float noise: an exact copy must read 0
    dist_features[:, 0] = np.where(dist_features[:, 0] < 1e-6, 0.0, dist_features[:, 0])

    spans = [s for s, c in zip(encoder.spans, encoder.columns, strict=True)
             if c.kind is Kind.CATEGORICAL]
    qi = set(schema.quasi_identifiers)
    qi_spans = [s for s in spans if s.column in qi] or spans
    match = np.zeros(len(x_t))
    freq = np.zeros(len(x_t))
    for i, row in enumerate(x_t):
        if spans:
            same = np.ones(len(x_s), dtype=bool)
            for s in qi_spans:
                same &= (x_s[:, s.start:s.end] @ row[s.start:s.end]) > 0.5
            match[i] = same.mean() if len(x_s) else 0.0
            freq[i] = np.mean([(x_s[:, s.start:s.end] @ row[s.start:s.end]).mean()
                               for s in spans]) if len(x_s) else 0.0
    return np.column_stack([dist_features, match, freq])
