"""The chunked nearest-row search (privgate.attacks._nearest) gives the distances the former
dense float64 search gave (scikit-learn brute force, distance recomputed in float64), on every
chunk size, for exact copies, missing values and values outside the declared domain, and the
distance attacks built on it (dcr-membership, low-fpr-membership, density-membership's k = 1
radius) report the same results for a fixed seed; the Gower search of the anonymeter attacks
and the batched bootstrap give what they gave before."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.neighbors import NearestNeighbors

from privgate import AttackContext
from privgate.attacks import _membership_metrics, _nearest
from privgate.attacks._nearest import encode_rows, from_dense, nearest
from privgate.attacks.dcr_membership import DCRMembership
from privgate.attacks.density_membership import DensityMembership
from privgate.attacks.low_fpr_membership import LowFPRMembership
from privgate.encoding import TableEncoder
from privgate.plugins.generators.leaky.generator import LeakyGenerator
from privgate.schema import Column, Kind, Role, Schema

CITIES = tuple(f"c{i}" for i in range(40))
SCHEMA = Schema((
    Column("age", Kind.INTEGER, Role.QUASI_IDENTIFIER, bounds=(18.0, 90.0)),
    Column("income", Kind.CONTINUOUS, Role.SENSITIVE, bounds=(0.0, 1e6), nullable=True),
    Column("city", Kind.CATEGORICAL, Role.QUASI_IDENTIFIER, categories=CITIES,
           nullable=True),
    Column("sex", Kind.CATEGORICAL, Role.QUASI_IDENTIFIER, categories=("f", "m")),
))


def people(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "age": rng.integers(18, 90, n),
        "income": np.round(rng.lognormal(10, 1, n)).clip(0, 1e6),
        "city": rng.choice(list(CITIES), n).astype(object),
        "sex": rng.choice(["f", "m"], n)})
    df.loc[rng.random(n) < 0.1, "income"] = np.nan
    df.loc[rng.random(n) < 0.1, "city"] = None
    return df


def legacy(x_syn: np.ndarray, x_real: np.ndarray, metric: str) -> np.ndarray:
    """The former dense float64 search, kept here as the reference."""
    nn = NearestNeighbors(n_neighbors=1, metric=metric, algorithm="brute", n_jobs=1)
    nn.fit(x_syn)
    near = nn.kneighbors(x_real, return_distance=False)[:, 0]
    diff = x_real - x_syn[near]
    return (np.abs(diff).sum(axis=1) if metric == "manhattan"
            else np.sqrt((diff * diff).sum(axis=1)))


@pytest.fixture(params=[(1024, 4096), (7, 5)], ids=["default-chunks", "tiny-chunks"])
def chunks(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    real, syn = request.param
    monkeypatch.setattr(_nearest, "REAL_CHUNK", real)
    monkeypatch.setattr(_nearest, "SYN_BLOCK", syn)
    monkeypatch.setattr(_nearest, "ENCODE_ROWS", max(real, 3))


@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
def test_chunked_distances_equal_the_dense_float64_ones(chunks: None, metric: str) -> None:
    enc = TableEncoder(SCHEMA)
    syn, real = people(300, 1), people(500, 2)
    real.iloc[:40] = syn.iloc[:40].to_numpy()  # exact copies are at distance 0
    real.loc[40, "city"] = "not-a-city"  # outside the domain: an all-zero block
    dense_syn = enc.transform(syn).astype(np.float64)
    dense_real = enc.transform(real).astype(np.float64)
    want = legacy(dense_syn, dense_real, metric)
    idx, got = nearest(encode_rows(enc, syn), encode_rows(enc, real), metric)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert (got[:40] == 0).all()
    # the row it names is at that distance, and no synthetic row is closer
    again = legacy(dense_syn[idx], dense_real, metric)  # each row's own neighbour only
    assert np.all(again <= got + 1e-12)
    # the dense entry point (any 0/1 and numeric matrix) gives the same
    np.testing.assert_allclose(_membership_metrics.nearest_distances(dense_syn, dense_real,
                                                                     metric), want, atol=1e-12)


def test_encoded_rows_are_the_encoder_matrix_without_building_it(chunks: None) -> None:
    enc = TableEncoder(SCHEMA)
    df = people(50, 3)
    rows = encode_rows(enc, df.iloc[:20], df.iloc[20:])
    assert rows.binary.dtype == np.float32 and rows.binary.format == "csr"
    assert rows.binary.shape[1] == enc.width - len(rows.numeric_cols)
    np.testing.assert_array_equal(rows.dense(np.arange(50)), enc.transform(df))
    [copy] = from_dense(enc.transform(df).astype(np.float64))
    np.testing.assert_array_equal(copy.dense(np.arange(50)), enc.transform(df))


def _context(seed: int) -> AttackContext:
    train, control = people(600, seed), people(300, seed + 100)
    synthetic = LeakyGenerator(fraction=0.3).fit(train, SCHEMA, None, seed=seed).sample(
        600, seed=seed)
    return AttackContext(train, control, synthetic, SCHEMA, seed=seed)


@pytest.mark.parametrize("attack", [DCRMembership, LowFPRMembership, DensityMembership])
@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
def test_distance_attacks_report_what_the_dense_search_reported(
        attack: Any, metric: str, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = _context(5)
    if attack is DensityMembership and metric == "manhattan":
        pytest.skip("density-membership measures Euclidean distances only")
    params = ({"n_resamples": 60} if attack is DensityMembership else
              {"metric": metric, **({"n_resamples": 60} if attack is DCRMembership else {})})
    new = attack(**params).run(ctx)

    def dense(x_syn: Any, x_real: Any, metric: str = "euclidean") -> np.ndarray:
        def full(x: Any) -> np.ndarray:
            return x if isinstance(x, np.ndarray) else x.dense(np.arange(len(x)))
        return legacy(full(x_syn), full(x_real), metric)

    module = __import__(attack.__module__, fromlist=["nearest_distances"])
    monkeypatch.setattr(module, "nearest_distances", dense)
    old = attack(**params).run(ctx)
    assert (new.risk, new.ci_low, new.ci_high, new.n_trials) == \
        (old.risk, old.ci_low, old.ci_high, old.n_trials)
    assert new.details == old.details and new.counts == old.counts
    if attack is not LowFPRMembership:
        assert new.risk > 0.05  # the leak is found at all


def test_column_major_gower_search_finds_what_the_pairwise_one_found() -> None:
    """privgate.attacks._neighbours runs anonymeter's Gower distance column by column over all
    candidates; the k nearest (ties: the lowest row) are those of a pair-by-pair search with
    anonymeter's own ``gower_distance``, missing values included."""
    import anonymeter.evaluators  # noqa: F401 -- anonymeter's modules in their order
    from anonymeter.neighbors.mixed_types_kneighbors import gower_distance

    from privgate.attacks._neighbours import _k_nearest

    rng = np.random.default_rng(0)

    def table(n: int) -> np.ndarray:
        x = np.hstack([np.round(rng.random((n, 3)), 1), rng.integers(0, 4, (n, 4))])
        x[rng.random(x.shape) < 0.05] = np.nan
        return x.astype(np.float64)

    queries, candidates = table(60), table(400)
    for k in (1, 3):
        got = _k_nearest(queries, np.ascontiguousarray(candidates.T), 3, k)
        for i, q in enumerate(queries):
            d = np.array([gower_distance(q, c, 3) for c in candidates])
            d = np.where(np.isnan(d), np.inf, d)  # a NaN distance is never a neighbour
            want = np.argsort(d, kind="stable")[:k]
            assert list(got[i]) == list(want), i


def test_bootstrap_in_batches_draws_the_same_resamples(monkeypatch: pytest.MonkeyPatch) -> None:
    """privgate.stats.bootstrap_ci holds at most BOOTSTRAP_CELLS resampled values at once
    (500 resamples of 100k scores all at once took 2 GiB); the interval is the same."""
    from privgate import stats
    from privgate.attacks._common import auroc

    rng = np.random.default_rng(4)
    scores, labels = rng.random(3001), (rng.random(3001) < 0.7).astype(int)
    got = stats.bootstrap_ci(auroc, (scores, labels), n_resamples=120, seed=9)
    monkeypatch.setattr(stats, "BOOTSTRAP_CELLS", 10**12)  # every resample at once
    assert stats.bootstrap_ci(auroc, (scores, labels), n_resamples=120, seed=9) == got
    monkeypatch.setattr(stats, "BOOTSTRAP_CELLS", 7000)  # two resamples a batch
    assert stats.bootstrap_ci(auroc, (scores, labels), n_resamples=120, seed=9) == got


def test_searching_only_the_wanted_rows_gives_them_the_same_neighbours() -> None:
    """anonymeter-inference asks about a few thousand targets per secret: the search runs
    for those rows only, with the numeric ranges of the whole population, so each gets the
    neighbours the search over every row gave it; any other row is refused, not guessed."""
    from privgate.attacks._neighbours import Neighbours

    rng = np.random.default_rng(3)

    def frame(n: int) -> pd.DataFrame:
        return pd.DataFrame({"a": rng.normal(size=n).round(2), "b": rng.integers(0, 50, n) * 1.0,
                             "c": rng.choice(list("xyz"), n)})

    synthetic, population = frame(300), frame(500)
    population.loc[400:, "a"] *= 40  # rows outside `wanted` stretch the range of "a"
    wanted = population.iloc[rng.choice(400, 60, replace=False)]
    for k in (1, 2):
        every = Neighbours(synthetic, population, ["a", "b", "c"], k=k)
        few = Neighbours(synthetic, population, ["a", "b", "c"], k=k, wanted=wanted)
        assert (few.of(wanted) == every.of(wanted)).all()
    outside = population.drop(index=wanted.index).iloc[:1]
    with pytest.raises(ValueError, match="not in the population"):
        few.of(outside)
