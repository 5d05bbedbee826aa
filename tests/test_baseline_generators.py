"""Tests of the non-private baselines ``gaussian-copula`` and ``smote`` (and, for what all
baselines share -- parameter checks, ``sample`` checks -- ``gmm`` and ``leaky`` too).

They must produce tables in the declared domain, honour conditions, be reproducible from a seed,
survive save/load, and (smote) refuse a schema without a target. Fits take well under a second.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privgate.errors import InputError
from privgate.generator import NOT_PRIVATE, Generator
from privgate.plugins.generators.copula import generator as copula
from privgate.plugins.generators.copula.generator import GaussianCopulaGenerator
from privgate.plugins.generators.gmm.generator import GaussianMixtureGenerator
from privgate.plugins.generators.leaky.generator import LeakyGenerator
from privgate.plugins.generators.smote import generator as smote
from privgate.plugins.generators.smote.generator import SMOTEGenerator
from privgate.registry import build_registry
from privgate.schema import Column, Kind, Role, Schema, epoch_seconds

GENERATORS = {"gaussian-copula": GaussianCopulaGenerator, "smote": SMOTEGenerator}


@pytest.fixture(scope="module")
def mixed_schema() -> Schema:
    """Every column kind, nullable columns, a categorical target and a dropped identifier."""
    return Schema((
        Column("id", Kind.IDENTIFIER, Role.DIRECT_IDENTIFIER),
        Column("colour", Kind.CATEGORICAL, Role.QUASI_IDENTIFIER,
               categories=("red", "green", "blue", "never-seen")),
        Column("grade", Kind.CATEGORICAL, categories=(1, 2, 3), nullable=True),
        Column("age", Kind.INTEGER, Role.QUASI_IDENTIFIER, bounds=(0.0, 100.0)),
        Column("score", Kind.CONTINUOUS, bounds=(-5.0, 5.0), nullable=True),
        Column("when", Kind.DATETIME, bounds=(1.6e9, 1.7e9)),
        Column("label", Kind.CATEGORICAL, Role.TARGET, categories=("no", "yes")),
    ))


@pytest.fixture(scope="module")
def mixed_table() -> pd.DataFrame:
    """600 rows; ``label`` is 'yes' for 20% and depends on ``age``."""
    rng = np.random.default_rng(7)
    n = 600
    grade = rng.choice([1, 2, 3], n).astype(object)
    grade[rng.random(n) < 0.3] = None
    score = rng.normal(1.0, 1.0, n)
    score[rng.random(n) < 0.25] = np.nan
    age = rng.integers(20, 71, n)
    label = np.where(rng.random(n) < 0.2, "yes", "no")
    age = np.where(label == "yes", np.clip(age + 15, 20, 90), age)
    return pd.DataFrame({
        "id": np.arange(n),
        "colour": rng.choice(["red", "green", "blue"], n, p=[0.6, 0.3, 0.1]),
        "grade": grade,
        "age": age,
        "score": score,
        "when": pd.to_datetime(rng.uniform(1.62e9, 1.68e9, n), unit="s"),
        "label": label,
    })


@pytest.fixture(scope="module")
def fitted(mixed_table: pd.DataFrame, mixed_schema: Schema) -> dict[str, Generator]:
    return {name: cls().fit(mixed_table, mixed_schema, None, seed=3)
            for name, cls in GENERATORS.items()}


def assert_in_domain(out: pd.DataFrame, schema: Schema) -> None:
    """Columns as modelled; categories from the list; numbers within bounds; integers whole;
    missing values only where declared nullable."""
    assert list(out.columns) == [c.name for c in schema.modelled]
    for col in schema.modelled:
        s = out[col.name]
        if not col.nullable:
            assert s.notna().all(), col.name
        values = s.dropna()
        if col.kind is Kind.CATEGORICAL:
            assert col.categories is not None
            assert set(values) <= set(col.categories), col.name
            continue
        assert col.bounds is not None
        low, high = col.bounds
        if values.empty:  # every sampled value missing (the column is nullable): nothing to bound
            continue
        if col.kind is Kind.DATETIME:
            assert pd.api.types.is_datetime64_any_dtype(s), col.name
            secs = epoch_seconds(values)
            assert secs.min() >= low - 1 and secs.max() <= high + 1, col.name
            continue
        assert pd.api.types.is_numeric_dtype(s), col.name
        assert values.min() >= low and values.max() <= high, col.name
        if col.kind is Kind.INTEGER:
            assert np.all(values.to_numpy(dtype=float) % 1 == 0), col.name


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_registered_through_entry_points(name: str) -> None:
    registry = build_registry()
    assert registry.generators[name].obj is GENERATORS[name]
    module = {"gaussian-copula": copula, "smote": smote}[name]
    assert list(module.privgate_generators()) == [GENERATORS[name]]


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_samples_in_domain_and_not_private(name: str, fitted: dict[str, Generator],
                                           mixed_schema: Schema) -> None:
    gen = fitted[name]
    out = gen.sample(500, seed=1)
    assert len(out) == 500
    assert_in_domain(out, mixed_schema)
    assert "id" not in out.columns
    assert not gen.is_private
    spent = gen.privacy_spent
    assert math.isinf(spent.epsilon) and spent.accountant == NOT_PRIVATE


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_marginals_follow_the_training_rows(name: str, fitted: dict[str, Generator],
                                            mixed_table: pd.DataFrame) -> None:
    out = fitted[name].sample(3000, seed=2)
    real_yes = (mixed_table["label"] == "yes").mean()
    assert abs((out["label"] == "yes").mean() - real_yes) < 0.05
    assert abs(out["score"].isna().mean() - mixed_table["score"].isna().mean()) < 0.06
    assert abs(out["grade"].isna().mean() - mixed_table["grade"].isna().mean()) < 0.06
    assert abs(out["age"].mean() - mixed_table["age"].mean()) < 3
    # The dependence of age on the label survives (a copula and SMOTE both keep it). The
    # copula keeps about half of this gap (a binary label's normal scores are coarse: over 30
    # fit and sample seeds 0.49 +- 0.07 of it), so the bound is a clear share, not a coin flip.
    gap = out.groupby("label")["age"].mean()
    real_gap = mixed_table.groupby("label")["age"].mean()
    assert gap["yes"] - gap["no"] > 0.3 * (real_gap["yes"] - real_gap["no"])


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_conditions_are_honoured(name: str, fitted: dict[str, Generator]) -> None:
    out = fitted[name].sample(120, seed=4, conditions={"colour": "blue", "label": "yes"})
    assert len(out) == 120
    assert set(out["colour"]) == {"blue"} and set(out["label"]) == {"yes"}
    with pytest.raises(InputError, match="age"):
        fitted[name].sample(5, conditions={"age": 30})
    with pytest.raises(InputError, match="purple"):
        fitted[name].sample(5, conditions={"colour": "purple"})


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_seeded_fit_and_sample_are_reproducible(name: str, mixed_table: pd.DataFrame,
                                                mixed_schema: Schema) -> None:
    cls = GENERATORS[name]
    a = cls().fit(mixed_table, mixed_schema, None, seed=5).sample(200, seed=9)
    b = cls().fit(mixed_table, mixed_schema, None, seed=5).sample(200, seed=9)
    pd.testing.assert_frame_equal(a, b)
    c = cls().fit(mixed_table, mixed_schema, None, seed=5).sample(200, seed=10)
    assert not a.equals(c)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_save_load_gives_the_same_samples(name: str, fitted: dict[str, Generator],
                                          tmp_path: Path) -> None:
    gen = fitted[name]
    gen.save(tmp_path / name)
    loaded = GENERATORS[name].load(tmp_path / name)
    pd.testing.assert_frame_equal(loaded.sample(300, seed=6), gen.sample(300, seed=6))
    pd.testing.assert_frame_equal(loaded.sample(50, seed=1, conditions={"colour": "red"}),
                                  gen.sample(50, seed=1, conditions={"colour": "red"}))


def test_smote_needs_a_target(mixed_table: pd.DataFrame, mixed_schema: Schema) -> None:
    no_target = Schema(tuple(Column(c.name, c.kind, Role.OTHER, c.categories, c.bounds,
                                    c.nullable) for c in mixed_schema.columns))
    with pytest.raises(InputError, match=r"schema\.target"):
        SMOTEGenerator().fit(mixed_table, no_target, None)


def test_smote_interpolates_within_each_class(fitted: dict[str, Generator],
                                              mixed_table: pd.DataFrame) -> None:
    out = fitted["smote"].sample(2000, seed=7)
    for label, rows in out.groupby("label"):
        real = mixed_table[mixed_table["label"] == label]
        # Interpolated between two rows of the class: inside the class's range.
        assert rows["age"].between(real["age"].min(), real["age"].max()).all()
        assert rows["score"].dropna().between(real["score"].min(), real["score"].max()).all()
    # New rows, not copies: few synthetic continuous values equal a training row's.
    copied = out["when"].isin(set(mixed_table["when"]))
    assert copied.mean() < 0.1


def test_smote_condition_on_target_uses_only_that_class(fitted: dict[str, Generator]) -> None:
    out = fitted["smote"].sample(300, seed=8, conditions={"label": "yes"})
    assert set(out["label"]) == {"yes"}


def test_smote_single_row_class_is_copied(mixed_schema: Schema,
                                          mixed_table: pd.DataFrame) -> None:
    table = mixed_table.copy()
    table["label"] = "no"
    table.loc[0, "label"] = "yes"
    gen = SMOTEGenerator().fit(table, mixed_schema, None)
    out = gen.sample(10, seed=0, conditions={"label": "yes"})
    assert (out["age"] == table.loc[0, "age"]).all()


def test_copula_keeps_point_masses_and_correlation() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    x = rng.normal(size=n)
    amount = np.where(rng.random(n) < 0.8, 0, np.round(np.exp(8 + x)))
    df = pd.DataFrame({"x": np.clip(x, -4, 4), "amount": np.clip(amount, 0, 1e6),
                       "y": np.clip(2 * x + rng.normal(scale=0.3, size=n), -10, 10)})
    schema = Schema((Column("x", Kind.CONTINUOUS, bounds=(-4.0, 4.0)),
                     Column("amount", Kind.INTEGER, bounds=(0.0, 1e6)),
                     Column("y", Kind.CONTINUOUS, bounds=(-10.0, 10.0))))
    out = GaussianCopulaGenerator().fit(df, schema, None, seed=0).sample(4000, seed=1)
    assert abs((out["amount"] == 0).mean() - 0.8) < 0.03
    assert np.corrcoef(out["x"], out["y"])[0, 1] > 0.9


def test_bad_parameters_name_the_parameter() -> None:
    with pytest.raises(InputError, match="k_neighbors"):
        SMOTEGenerator(k_neighbors=0)
    with pytest.raises(InputError, match="n_quantiles"):
        GaussianCopulaGenerator(n_quantiles=1)
    with pytest.raises(InputError, match="unknown"):
        GaussianCopulaGenerator(bogus=1)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(8, 60), p_missing=st.floats(0.0, 0.6), seed=st.integers(0, 2**16),
       k=st.integers(1, 6), name=st.sampled_from(sorted(GENERATORS)))
def test_any_small_table_samples_in_domain(n: int, p_missing: float, seed: int, k: int,
                                           name: str) -> None:
    """Tiny tables, rare classes (a class may hold a single row) and heavy missingness."""
    rng = np.random.default_rng(seed)
    label = np.where(rng.random(n) < 0.3, "b", "a").astype(object)
    label[0], label[1] = "a", "b"  # both classes occur
    value = rng.uniform(-1, 1, n)
    value[rng.random(n) < p_missing] = np.nan
    df = pd.DataFrame({"cat": rng.choice(["x", "y", "z"], n), "value": value,
                       "count": rng.integers(0, 10, n), "label": label})
    schema = Schema((Column("cat", Kind.CATEGORICAL, categories=("x", "y", "z")),
                     Column("value", Kind.CONTINUOUS, bounds=(-1.0, 1.0), nullable=True),
                     Column("count", Kind.INTEGER, bounds=(0.0, 9.0)),
                     Column("label", Kind.CATEGORICAL, Role.TARGET, categories=("a", "b"))))
    params = {"k_neighbors": k} if name == "smote" else {}
    out = GENERATORS[name](**params).fit(df, schema, None, seed=seed).sample(40, seed=seed)
    assert len(out) == 40
    assert_in_domain(out, schema)


def test_gmm_save_load_gives_the_same_rows(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(50, 10, 400).clip(0, 100),
                       "b": rng.choice(["x", "y", "z"], 400)})
    schema = Schema((Column("a", Kind.CONTINUOUS, bounds=(0.0, 100.0)),
                     Column("b", Kind.CATEGORICAL, categories=("x", "y", "z"))))
    gen = GaussianMixtureGenerator(n_components=3).fit(df, schema, None, seed=0)
    loaded = GaussianMixtureGenerator.load(gen.save(tmp_path / "gmm"))
    pd.testing.assert_frame_equal(gen.sample(200, seed=5), loaded.sample(200, seed=5))
    pd.testing.assert_frame_equal(gen.sample(50, seed=5, conditions={"b": "z"}),
                                  loaded.sample(50, seed=5, conditions={"b": "z"}))


def test_gmm_goes_diagonal_and_subsamples_on_wide_tables(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A wide one-hot encoding (diabetes130's ICD-9 codes) gets diagonal covariances and a
    bounded fit; sampling decodes in chunks."""
    from privgate.plugins.generators.gmm import generator as gmm

    rng = np.random.default_rng(0)
    n = 3000
    df = pd.DataFrame({"code": rng.choice([f"c{i}" for i in range(150)], n),
                       "x": rng.normal(50, 10, n).clip(0, 100)})
    schema = Schema((Column("code", Kind.CATEGORICAL,
                            categories=tuple(f"c{i}" for i in range(150))),
                     Column("x", Kind.CONTINUOUS, bounds=(0.0, 100.0))))
    gen = GaussianMixtureGenerator(n_components=3, max_fit_rows=1000).fit(df, schema, None)
    assert gen.model_.covariance_type == "diag" and gen.fit_rows_ == 1000
    monkeypatch.setattr(gmm, "SAMPLE_CHUNK", 64)
    out = gen.sample(200, seed=1)
    assert len(out) == 200 and out.index.tolist() == list(range(200))
    assert_in_domain(out, schema)
    pd.testing.assert_frame_equal(out, GaussianMixtureGenerator.load(
        gen.save(tmp_path / "wide")).sample(200, seed=1))
    narrow = GaussianMixtureGenerator(n_components=2).fit(df[["x"]], schema.select(["x"]), None)
    assert narrow.model_.covariance_type == "full" and narrow.fit_rows_ == n


# -- the shared parameter checker (privgate.params.Parameterised) and sample() checks ---------

ALL_BASELINES: dict[str, type[Generator]] = {**GENERATORS, "gmm": GaussianMixtureGenerator,
                                             "leaky": LeakyGenerator}


@pytest.mark.parametrize("name", sorted(ALL_BASELINES))
def test_parameters_are_checked_at_construction(name: str) -> None:
    cls = ALL_BASELINES[name]
    with pytest.raises(InputError, match=rf"generator '{name}': unknown parameter\(s\) \['nope'\]"):
        cls(nope=1)
    first = sorted(cls.PARAMS)[0]  # type: ignore[attr-defined]
    with pytest.raises(InputError, match=rf"generator '{name}': parameter '{first}' must be"):
        cls(**{first: "not a value"})
    gen = cls()
    assert gen.get_params() == {}  # stored as given; the defaults come from checked_params()
    assert gen.checked_params() == {k: p.default for k, p in cls.PARAMS.items()}  # type: ignore


@pytest.mark.parametrize("fraction", [-0.1, 1.5, math.nan, math.inf, True, "0.5"])
def test_leaky_fraction_is_a_share(fraction: object) -> None:
    with pytest.raises(InputError, match=r"'fraction' must be a finite number in \[0, 1\]"):
        LeakyGenerator(fraction=fraction)
    assert LeakyGenerator(fraction=1).checked_params()["fraction"] == 1.0


@pytest.mark.parametrize("name", sorted(ALL_BASELINES))
def test_sample_before_fit_and_bad_counts_are_refused(name: str, fitted: dict[str, Generator],
                                                      mixed_table: pd.DataFrame,
                                                      mixed_schema: Schema) -> None:
    with pytest.raises(InputError, match=r"call fit\(\) before sample\(\)"):
        ALL_BASELINES[name]().sample(5)
    gen = fitted.get(name) or ALL_BASELINES[name]().fit(mixed_table, mixed_schema, None)
    for n in (-1, 2.5, True, "3"):
        with pytest.raises(InputError, match="n must be a non-negative integer"):
            gen.sample(n)  # type: ignore[arg-type]
    assert len(gen.sample(np.int64(3), seed=1)) == 3
    assert not gen.privacy_spent.is_private
