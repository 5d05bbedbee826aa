"""Every column a secret in turn: one leave-one-out nearest-row search for all secrets.

With no sensitive column declared, ``anonymeter-inference`` attacks each column with all the
others as known columns. :class:`privgate.attacks._neighbours.NeighboursLeavingOneOut` finds
every column's nearest rows in one pass; these tests hold it to the search on the other
columns (missing values, ties and duplicate rows included), check which secrets share it
(:func:`privgate.attacks._inference_secrets.searches`), and that the targets of all secrets
come from one pool of rows whose matched pairs keep their strata.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privgate import AttackContext, Column, Kind, Role, Schema
from privgate.attacks import _inference_secrets
from privgate.attacks._inference_secrets import searches
from privgate.attacks._inference_targets import matched_targets, secret_strata, target_pool
from privgate.attacks._neighbours import Neighbours, NeighboursLeavingOneOut, population
from privgate.attacks.anonymeter_inference import AnonymeterInference


def _frame(n: int, draw: np.random.Generator, spread: int, missing: float) -> pd.DataFrame:
    x = pd.DataFrame({
        "n1": draw.integers(0, spread, n).astype(float),  # many ties
        "n2": draw.normal(size=n).round(1),
        "k1": draw.choice(list("abc"), n).astype(object),
        "k2": draw.choice(list("xy"), n).astype(object),
        "n3": draw.integers(0, 2, n).astype(float),
    })
    for column in ("n2", "k1"):
        x.loc[draw.random(n) < missing, column] = np.nan
    return x


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), spread=st.integers(1, 6),
       missing=st.sampled_from([0.0, 0.1, 0.5]), n_candidates=st.integers(1, 120))
def test_leaving_each_column_out_finds_what_a_search_on_the_others_finds(
        seed: int, spread: int, missing: float, n_candidates: int) -> None:
    draw = np.random.default_rng(seed)
    candidates = _frame(n_candidates, draw, spread, missing)
    rows = population(_frame(60, draw, spread, missing), _frame(40, draw, spread, missing))
    wanted = rows.sample(30, random_state=seed % 1000)
    columns = list(candidates.columns)
    loo = NeighboursLeavingOneOut(candidates, rows, columns, wanted=wanted)
    for left_out in columns:
        others = [c for c in columns if c != left_out]
        want = Neighbours(candidates, rows, others, wanted=wanted).of(wanted)
        assert (loo.leaving_out(left_out).of(wanted) == want).all(), left_out


def test_leaving_each_column_out_across_tiles_of_candidates() -> None:
    """More candidates than one tile of the compiled search: the best row found in an earlier
    tile is kept against equals in later ones, and beaten only by a nearer one."""
    from privgate.attacks._neighbours import _LEAVE_ONE_OUT_TILE

    draw = np.random.default_rng(11)
    candidates = _frame(2 * _LEAVE_ONE_OUT_TILE + 77, draw, 3, 0.05)
    rows = population(_frame(50, draw, 3, 0.05), _frame(50, draw, 3, 0.05))
    columns = list(candidates.columns)
    loo = NeighboursLeavingOneOut(candidates, rows, columns)
    for left_out in columns:
        others = [c for c in columns if c != left_out]
        want = Neighbours(candidates, rows, others).of(rows)
        assert (loo.leaving_out(left_out).of(rows) == want).all(), left_out


def test_the_search_crosses_tiles_and_keeps_the_lowest_row_among_equals() -> None:
    """More candidates and queries than one tile of the compiled search hold: every
    neighbour is the one anonymeter's own ``gower_distance`` puts first (ties: lowest row)."""
    import anonymeter.evaluators  # noqa: F401 -- anonymeter's modules in their order
    from anonymeter.neighbors.mixed_types_kneighbors import gower_distance

    from privgate.attacks._neighbours import _CANDIDATE_TILE, _QUERY_TILE, _k_nearest

    draw = np.random.default_rng(5)

    def table(n: int) -> np.ndarray:
        x = np.hstack([draw.integers(0, 3, (n, 2)) / 2, draw.integers(0, 3, (n, 3))])
        x[draw.random(x.shape) < 0.03] = np.nan
        return x.astype(np.float64)

    queries, candidates = table(_QUERY_TILE + 9), table(_CANDIDATE_TILE + 300)
    got = _k_nearest(queries, np.ascontiguousarray(candidates.T), 2, 2)
    for i, q in enumerate(queries):
        d = np.array([gower_distance(q, c, 2) for c in candidates])
        want = np.argsort(np.where(np.isnan(d), np.inf, d), kind="stable")[:2]
        assert list(got[i]) == list(want), i


def test_secrets_that_know_every_other_column_share_one_search() -> None:
    every = [(c, tuple(x for x in "abcd" if x != c)) for c in "abcd"]
    assert searches(every) == [(tuple("abcd"), True)] * 4
    # declared quasi-identifiers: secrets that know the same columns share that search
    declared = [("s", ("a", "b")), ("t", ("a", "b"))]
    assert searches(declared) == [(("a", "b"), False)] * 2
    # two secrets know each other's column: a leave-one-out search is not worth it
    two = [("a", ("b", "c")), ("b", ("a", "c"))]
    assert searches(two) == [(("b", "c"), False), (("a", "c"), False)]
    # a secret that is also known (fixed aux_cols) is searched on its known columns
    mixed = every[:3] + [("d", ("a", "b", "c", "d"))]
    assert searches(mixed)[:3] == [(tuple("abcd"), True)] * 3
    assert searches(mixed)[3] == (tuple("abcd"), False)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from("abcde"), min_size=1, max_size=120),
       st.lists(st.sampled_from("abcdf"), min_size=1, max_size=120),
       st.integers(1, 60), st.integers(0, 2**31))
def test_pooled_targets_are_matched_pairs_from_the_pool(train: list[str], control: list[str],
                                                        size: int, seed: int) -> None:
    a, b = pd.Series(train), pd.Series(control)
    keys = secret_strata(a, b, numeric=False)
    pool = target_pool(len(a), len(b), size, np.random.default_rng(seed))
    m = matched_targets(keys, len(a), size, np.random.default_rng(seed + 1), pool)
    assert set(m.train) <= set(pool[0]) and set(m.control) <= set(pool[1])
    assert len(m.train) == len(m.control) == len(m.stratum) <= size
    assert len(set(m.train)) == len(m.train) and len(set(m.control)) == len(m.control)
    whole = matched_targets(keys, len(a), size, np.random.default_rng(seed + 1))
    assert m.available == whole.available  # what the whole tables allow
    if set(a.to_numpy()[pool[0]]) & set(b.to_numpy()[pool[1]]) and set(train) & set(control):
        assert (a.to_numpy()[m.train] == b.to_numpy()[m.control]).all()
    if size >= max(len(a), len(b)):  # the pool is every row: the draw without a pool
        assert (m.train == whole.train).all() and (m.control == whole.control).all()


def _table(n: int, seed: int) -> pd.DataFrame:
    draw = np.random.default_rng(seed)
    age = draw.integers(20, 70, n)
    return pd.DataFrame({
        "age": age, "sex": draw.choice(["F", "M"], n),
        "zip": draw.choice([f"z{i}" for i in range(8)], n),
        "dx": np.where(age > 50, "chronic", draw.choice(["flu", "none"], n)),
        "cost": (age * 10 + draw.normal(0, 50, n)).round(),
    })


SCHEMA = Schema([
    Column("age", Kind.INTEGER, Role.OTHER, bounds=(0, 120)),
    Column("sex", Kind.CATEGORICAL, Role.OTHER, categories=("F", "M")),
    Column("zip", Kind.CATEGORICAL, Role.OTHER, categories=tuple(f"z{i}" for i in range(8))),
    Column("dx", Kind.CATEGORICAL, Role.OTHER, categories=("chronic", "flu", "none")),
    Column("cost", Kind.CONTINUOUS, Role.OTHER, bounds=(0.0, 1000.0)),
])


@pytest.mark.parametrize("n_attacks", [None, 150])
def test_every_column_attack_gives_the_figures_of_one_search_per_secret(
        monkeypatch: pytest.MonkeyPatch, n_attacks: int | None) -> None:
    """The attack with the shared leave-one-out search reports exactly what it reports with a
    search per secret; with ``n_attacks`` below the rows, the targets of every secret come
    from one pool of that many rows a side (and are still matched pairs)."""
    rows = _table(900, 1)
    context = AttackContext(rows.iloc[:500].reset_index(drop=True),
                            rows.iloc[500:].reset_index(drop=True),
                            _table(500, 2), SCHEMA, seed=3)
    attack = AnonymeterInference(n_attacks=n_attacks)
    shared = attack.run(context)
    assert shared.details["secrets_from"].startswith("every column")
    monkeypatch.setattr(_inference_secrets, "LEAVE_ONE_OUT_FROM", 10**6)
    alone = attack.run(context)
    fields = ("risk", "ci_low", "ci_high", "counts", "details", "n_trials")
    assert [getattr(shared, f) for f in fields] == [getattr(alone, f) for f in fields]
    if n_attacks is not None:
        assert all(s["n_attacks"] <= n_attacks for s in shared.details["per_secret"].values())
        assert "pool" in shared.details["targets_drawn"][0]
