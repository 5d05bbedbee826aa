"""The ``augmentation`` metric: rare-class augmentation evaluated on the real control rows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from privgate.attack import AttackContext
from privgate.errors import InputError
from privgate.figures import BarChart, Table
from privgate.plugins.generators.gmm.generator import GaussianMixtureGenerator
from privgate.plugins.metrics.augmentation import ARM_LABELS, ARMS, AugmentationMetric
from privgate.schema import Column, Kind, Role, Schema
from privgate.testing_evidence import check_metric_evidence


@pytest.fixture(scope="module")
def rare_adult(adult_full: pd.DataFrame, adult_schema: Schema) -> tuple[pd.DataFrame,
                                                                         pd.DataFrame, Schema]:
    """adult with the >50K class thinned to about 5% of the training rows (a scarce class)."""
    cols = ["age", "education_num", "hours_per_week", "capital_gain", "sex", "marital_status",
            "relationship", "income"]
    df = adult_full[cols].dropna().sample(9_000, random_state=1).reset_index(drop=True)
    schema = adult_schema.select(cols)
    train, control = df.iloc[:6_000], df.iloc[6_000:].reset_index(drop=True)
    rich = train[train["income"] == ">50K"]
    keep = pd.concat([train[train["income"] != ">50K"], rich.sample(300, random_state=0)])
    return keep.sample(frac=1, random_state=0).reset_index(drop=True), control, schema


def _context(train: pd.DataFrame, control: pd.DataFrame, schema: Schema,
             generator: object | None) -> AttackContext:
    return AttackContext(train, control, train.iloc[:0], schema, seed=0, confidence_level=0.95,
                         generator=generator)  # type: ignore[arg-type]


@pytest.mark.slow
def test_three_arms_with_intervals_on_real_rare_class(rare_adult: tuple) -> None:
    train, control, schema = rare_adult
    gen = GaussianMixtureGenerator(n_components=8).fit(train, schema, None, seed=0)
    result = AugmentationMetric(n_resamples=100).compute(_context(train, control, schema, gen))
    d = result.details
    assert d["minority_class"] == ">50K"
    assert d["training_counts"][">50K"] == 300
    assert set(d["arms"]) == set(ARMS)
    for arm in ARMS:
        a = d["arms"][arm]
        for key in ("accuracy", "recall", "f1", "auroc"):
            lo, hi = a[f"{key}_ci"]
            assert 0 <= lo <= a[key] <= hi <= 1, (arm, key, a)
    # Balancing the classes moves the decision threshold: recall of the scarce class goes up.
    assert d["arms"]["real+smote"]["recall"] > d["arms"]["real"]["recall"]
    assert d["arms"]["real+generator"]["n_generated"] == d["training_counts"]["<=50K"] - 300
    assert d["arms"]["real+generator"]["n_train_minority"] == d["training_counts"]["<=50K"]
    assert result.value == d["arms"]["real+generator"]["f1"]
    assert result.interval is not None
    assert result.interval.low <= result.value <= result.interval.high
    # Same seed, same figures.
    again = AugmentationMetric(n_resamples=100).compute(_context(train, control, schema, gen))
    assert again.details == d


def test_generator_that_cannot_condition_is_reported_not_hidden(rare_adult: tuple) -> None:
    train, control, schema = rare_adult

    class NoConditions:
        name = "plain"
        supports_conditions = False

    result = AugmentationMetric(n_resamples=50, max_iter=20).compute(
        _context(train.iloc[:2_000], control.iloc[:1_000], schema, NoConditions()))
    assert "cannot sample under conditions" in result.details["arms"]["real+generator"]["skipped"]
    assert result.value is None
    assert result.details["arms"]["real"]["recall"] is not None


def test_without_target_it_says_so() -> None:
    schema = Schema((Column("a", Kind.CONTINUOUS, bounds=(0.0, 1.0)),
                     Column("b", Kind.CATEGORICAL, categories=("x", "y"))))
    df = pd.DataFrame({"a": np.linspace(0, 1, 20), "b": ["x", "y"] * 10})
    result = AugmentationMetric().compute(_context(df, df, schema, None))
    assert result.value is None and "no target" in result.details["skipped"]


def test_bad_parameters_name_the_field() -> None:
    with pytest.raises(InputError, match="max_iter"):
        AugmentationMetric(max_iter=0)
    with pytest.raises(InputError, match="nope"):
        AugmentationMetric(nope=1)


def test_tiny_minority_skips_smote_with_reason() -> None:
    schema = Schema((Column("a", Kind.CONTINUOUS, bounds=(0.0, 1.0)),
                     Column("y", Kind.CATEGORICAL, Role.TARGET, categories=("no", "yes"))))
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"a": rng.random(200), "y": ["no"] * 199 + ["yes"]})
    control = pd.DataFrame({"a": rng.random(100), "y": ["no"] * 90 + ["yes"] * 10})
    result = AugmentationMetric(n_resamples=50).compute(_context(train, control, schema, None))
    assert "two minority rows" in result.details["arms"]["real+smote"]["skipped"]
    assert not math.isnan(result.details["arms"]["real"]["accuracy"])
    # the report's table says why an arm is missing, and its bar chart leaves the bar out
    table, chart = result.figures
    assert isinstance(table, Table) and isinstance(chart, BarChart)
    assert [r[0] for r in table.rows] == [ARM_LABELS[a] for a in ARMS]
    assert "not computed: SMOTE needs" in table.rows[1][1]
    assert chart.values[1] is None and chart.values[0] == result.details["arms"]["real"]["f1"]
    assert check_metric_evidence("augmentation", AugmentationMetric, result) == result


def test_minority_class_can_be_named_and_must_exist() -> None:
    schema = Schema((Column("a", Kind.CONTINUOUS, bounds=(0.0, 1.0)),
                     Column("y", Kind.CATEGORICAL, Role.TARGET,
                            categories=("neg", "pos", "bad"))))
    rng = np.random.default_rng(0)
    a = rng.random(600)
    y = np.where(a > 0.8, "pos", np.where(a < 0.03, "bad", "neg"))
    train = pd.DataFrame({"a": a[:400], "y": y[:400]})
    control = pd.DataFrame({"a": a[400:], "y": y[400:]})
    metric = AugmentationMetric(n_resamples=50, minority_class="pos")
    details = metric.compute(_context(train, control, schema, None)).details
    assert details["minority_class"] == "pos"
    n_pos = details["training_counts"]["pos"]
    # one-vs-rest balance: SMOTE adds minority rows until they match all the other rows
    assert details["arms"]["real+smote"]["n_train_minority"] == 400 - n_pos
    with pytest.raises(InputError, match="minority_class 'maybe'"):
        AugmentationMetric(minority_class="maybe").compute(
            _context(train, control, schema, None))
