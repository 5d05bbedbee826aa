"""anonymeter's multivariate singling-out predicates, built as anonymeter builds them, with the
"does it isolate one synthetic row?" check made cheap on large synthetic tables.

anonymeter's ``multivariate_singling_out_queries`` draws candidate predicates from random
synthetic rows in batches of 1,000 and keeps those that match exactly one synthetic row,
counting every candidate's matches over the whole synthetic table: on 800,000 synthetic rows
and 100,000 attempts that is most of an hour. Most candidates match many rows. A candidate's
count on a subset of the synthetic rows is never above its count on all of them, so one that
matches two rows or more of a subset cannot single out a row of the table: the check here counts
every candidate on a fixed slice of the synthetic rows first (every :data:`PROBE_STEP`-th row,
then every ``PROBE_STEP ** 0.5``-th), drops those matching two or more, and counts only the rest
on the whole table. The predicates kept, their order and the random draws are exactly
anonymeter's (same generator calls in the same order, same de-duplication by the predicate's
text, same stop at ``n_queries`` or ``max_attempts``): only the work to find them is less --
which includes building and counting each distinct candidate once, however often the draws
repeat it.
"""

from __future__ import annotations

from typing import Any

import anonymeter.evaluators  # noqa: F401 -- imports anonymeter's modules in their order
import numpy as np
import polars as pl
from anonymeter.evaluators.singling_out_evaluator import (
    _evaluate_queries,
    _query_from_record,
    logger,
)

#: anonymeter's batch of candidate predicates (``multivariate_singling_out_queries``).
BATCH = 1000
#: The coarsest probe takes every this-many-th synthetic row (a finer one its square root).
PROBE_STEP = 100
#: Below this many synthetic rows the candidates are counted on the whole table at once.
MIN_PROBED_ROWS = 200_000


def _probes(df: pl.DataFrame) -> list[pl.DataFrame]:
    """Fixed slices of ``df``, smallest first (none for a small table)."""
    if df.height < MIN_PROBED_ROWS:
        return []
    steps = (PROBE_STEP, int(round(PROBE_STEP ** 0.5)))
    return [df.gather_every(step) for step in steps]


def singles_on(df: pl.DataFrame, queries: list[Any], probes: list[pl.DataFrame]
               ) -> np.ndarray:
    """Whether each of ``queries`` matches exactly one row of ``df``: counted on each of the
    ``probes`` (subsets of ``df``) first, and on ``df`` only while fewer than two rows of the
    probes match (a count on a subset never exceeds the count on the whole)."""
    alive = np.arange(len(queries))
    for frame in probes:
        if not len(alive):
            break
        counts = _evaluate_queries(df=frame, queries=[queries[i] for i in alive])
        keep = np.array([c is None or c < 2 for c in counts], dtype=bool)  # None: failed
        alive = alive[keep]
    out = np.zeros(len(queries), dtype=bool)
    if len(alive):
        counts = _evaluate_queries(df=df, queries=[queries[i] for i in alive])
        out[alive] = [c == 1 for c in counts]
    return out


def multivariate_queries(df: pl.DataFrame, n_queries: int, n_cols: int,
                         max_attempts: int | None, rng: np.random.Generator) -> list[Any]:
    """The predicates anonymeter's ``multivariate_singling_out_queries(df, n_queries, n_cols,
    max_attempts, rng)`` returns (same draws, same order, same warning), found with
    :func:`singles_on`."""
    medians = df.median().to_dicts()[0]
    dtypes = {col: df[col].dtype for col in df.columns}
    probes = _probes(df)
    kept: list[Any] = []
    seen: set[str] = set()
    # A candidate is fixed by its columns and the record's values on them (with medians
    # given, anonymeter's _query_from_record draws nothing from rng): each distinct one is
    # built and counted once, and only one that singles out a row is kept (None: it does
    # not). On a small table the same candidates come back batch after batch until
    # max_attempts.
    known: dict[tuple[Any, ...], Any] = {}
    batch = BATCH if max_attempts is None else min(BATCH, max_attempts)
    attempts = 0
    while len(kept) < n_queries:
        if max_attempts is not None and attempts >= max_attempts:
            logger.warning(
                f"Reached maximum number of attempts {max_attempts} when generating singling "
                f"out queries. Returning {len(kept)} instead of the requested {n_queries}.")
            return kept
        records = df[rng.integers(low=0, high=df.shape[0], size=batch)].to_dicts()
        columns = [rng.choice(df.columns, size=n_cols, replace=False).tolist()
                   for _ in range(batch)]
        keys = [_key(r, c) for r, c in zip(records, columns, strict=True)]
        new = {k: (r, c) for k, r, c in zip(keys, records, columns, strict=True)
               if k not in known}
        built = [_query_from_record(record=r, dtypes=dtypes, columns=c, medians=medians,
                                    rng=rng) for r, c in new.values()]
        known.update((key, query if single else None) for key, query, single
                     in zip(new, built, singles_on(df, built, probes), strict=True))
        for key in keys:
            query = known[key]
            if query is not None and (text := str(query)) not in seen:
                seen.add(text)
                kept.append(query)
                if len(kept) >= n_queries:
                    break
        attempts += batch
    return kept


def _key(record: dict[str, Any], columns: list[str]) -> tuple[Any, ...]:
    """What fixes the predicate built from ``record`` on ``columns``: the columns, sorted as
    anonymeter sorts them, and the record's values there."""
    names = tuple(sorted(columns))
    return (names, tuple(record[c] for c in names))


__all__ = ["multivariate_queries", "singles_on"]
