"""Tests of the built-in utility metrics: hellinger, correlation and tstr (values, figures and
intervals, as core accepts them)."""

from __future__ import annotations

import json
from importlib.metadata import entry_points
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privgate.errors import InputError
from privgate.figures import BarChart, HeatMap, Table
from privgate.metric import Metric, MetricContext, MetricResult
from privgate.plugins.metrics import augmentation, correlation, hellinger, tstr
from privgate.plugins.metrics.correlation import CorrelationMetric
from privgate.plugins.metrics.hellinger import HellingerMetric
from privgate.plugins.metrics.tstr import TSTRMetric
from privgate.schema import Column, Kind, Role, Schema
from privgate.testing_evidence import check_metric_evidence

COLORS = ("red", "green", "blue")


def _schema(target: bool = True) -> Schema:
    return Schema((
        Column("x", Kind.CONTINUOUS, bounds=(-4.0, 4.0)),
        Column("y", Kind.CONTINUOUS, bounds=(-8.0, 8.0)),
        Column("n", Kind.INTEGER, bounds=(0.0, 10.0), nullable=True),
        Column("color", Kind.CATEGORICAL, categories=COLORS),
        Column("label", Kind.CATEGORICAL, Role.TARGET if target else Role.OTHER,
               categories=("no", "yes")),
        Column("id", Kind.IDENTIFIER, Role.DIRECT_IDENTIFIER),
    ))


def _table(n: int, seed: int) -> pd.DataFrame:
    """Correlated toy data: y follows x, color depends on x, label on x + color."""
    rng = np.random.default_rng(seed)
    x = np.clip(rng.normal(size=n), -4, 4)
    y = np.clip(2 * x + rng.normal(scale=0.5, size=n), -8, 8)
    color = np.where(x > 0.5, "red", np.where(x < -0.5, "blue", "green"))
    noisy = rng.random(n) < 0.2
    color[noisy] = rng.choice(COLORS, size=int(noisy.sum()))
    label = np.where(x + (color == "red") + rng.normal(scale=0.7, size=n) > 0.8, "yes", "no")
    count = pd.Series(rng.integers(0, 11, size=n), dtype="Int64")
    count[rng.random(n) < 0.1] = pd.NA
    return pd.DataFrame({"x": x, "y": y, "n": count, "color": color, "label": label,
                         "id": [f"p{seed}-{i}" for i in range(n)]})


def _context(train: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema | None = None,
             control: pd.DataFrame | None = None) -> MetricContext:
    return MetricContext(train=train, control=train if control is None else control,
                         synthetic=synthetic, schema=schema or _schema(), seed=0)


def _json(result: MetricResult) -> dict[str, Any]:
    """Round-trip through strict JSON (NaN or numpy scalars would fail), after checking that
    core accepts the result as it is (its interval and figures rebuilt)."""
    cls = {c.name: c for c in (HellingerMetric, CorrelationMetric, TSTRMetric)}[result.metric]
    assert check_metric_evidence(result.metric, cls, result).to_dict() == result.to_dict()
    return json.loads(json.dumps(result.to_dict(), allow_nan=False))


# -- registration and parameters ----------------------------------------------------------


def test_registration_names_and_entry_points() -> None:
    """One metric per module, each module its own entry point (named after the metric)."""
    eps = {ep.name: ep for ep in entry_points(group="privgate")}
    for module in (hellinger, correlation, tstr, augmentation):
        classes: list[type[Metric]] = module.privgate_metrics()
        (cls,) = classes
        assert cls.description and cls.title and cls.assumptions and cls.references
        assert eps[cls.name].load() is module


@pytest.mark.parametrize("cls", [HellingerMetric, CorrelationMetric, TSTRMetric])
def test_unknown_parameter_is_named(cls: type) -> None:
    with pytest.raises(InputError, match=r"frobnicate.*allowed"):
        cls(frobnicate=1)


@pytest.mark.parametrize("cls, params", [
    (HellingerMetric, {"bins": 0}),
    (CorrelationMetric, {"method": "kendall"}),
    (CorrelationMetric, {"max_columns": 1}),
    (TSTRMetric, {"max_iter": "many"}),
    (TSTRMetric, {"target": 3}),
    (TSTRMetric, {"n_threads": 0}),
])
def test_bad_parameter_values(cls: type, params: dict[str, Any]) -> None:
    with pytest.raises(InputError, match=next(iter(params))):
        cls(**params)


def test_params_are_stored_with_defaults() -> None:
    assert HellingerMetric(bins=10).params == {"bins": 10}
    assert CorrelationMetric().params == {"method": "pearson", "max_columns": 30}


def test_missing_synthetic_column_is_an_input_error() -> None:
    real = _table(100, 0)
    with pytest.raises(InputError, match="synthetic.*'y'"):
        HellingerMetric().compute(_context(real, real.drop(columns=["y"])))


# -- hellinger ------------------------------------------------------------------------------


def test_hellinger_identical_tables_is_zero() -> None:
    real = _table(500, 0)
    result = HellingerMetric().compute(_context(real, real.copy()))
    assert result.value == pytest.approx(0.0, abs=1e-7)
    details = _json(result)["details"]
    assert details["bins"] == 20
    assert set(details["per_column"]) == {"x", "y", "n", "color", "label"}  # no identifier
    (chart,) = result.figures  # the report's bar chart, one bar per column
    assert isinstance(chart, BarChart) and chart.labels == ("x", "y", "n", "color", "label")
    assert chart.values == tuple(details["per_column"].values()) and chart.caption


def test_hellinger_disjoint_categories_is_one() -> None:
    schema = Schema((Column("c", Kind.CATEGORICAL, categories=("a", "b", "c", "d")),))
    real = pd.DataFrame({"c": ["a", "b"] * 50})
    synth = pd.DataFrame({"c": ["c", "d"] * 50})
    result = HellingerMetric().compute(_context(real, synth, schema))
    assert result.value == pytest.approx(1.0)


def test_hellinger_numeric_bins_and_missing() -> None:
    schema = Schema((Column("v", Kind.CONTINUOUS, bounds=(0.0, 1.0), nullable=True),))
    real = pd.DataFrame({"v": [0.05] * 50 + [0.95] * 50})
    shifted = pd.DataFrame({"v": [0.5] * 100})
    missing = pd.DataFrame({"v": [np.nan] * 100})
    assert HellingerMetric().compute(_context(real, shifted, schema)).value == pytest.approx(1)
    assert HellingerMetric().compute(_context(real, missing, schema)).value == pytest.approx(1)
    # With a single bin every non-missing value looks alike.
    coarse = HellingerMetric(bins=1).compute(_context(real, shifted, schema))
    assert coarse.value == pytest.approx(0.0, abs=1e-7)


def test_hellinger_partial_shift_is_between() -> None:
    real = _table(1000, 0)
    synth = _table(1000, 1)
    synth["x"] = synth["x"] + 1.5
    result = HellingerMetric().compute(_context(real, synth))
    per = result.details["per_column"]
    assert per["x"] > 0.3 > per["y"]
    assert 0 < result.value < 1


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    real_c=st.lists(st.sampled_from(["a", "b", "c", "zz", None]), min_size=1, max_size=30),
    synth_c=st.lists(st.sampled_from(["a", "b", "c", "zz", None]), min_size=1, max_size=30),
    real_v=st.lists(st.one_of(st.floats(-1e6, 1e6), st.none()), min_size=1, max_size=30),
    synth_v=st.lists(st.one_of(st.floats(-1e6, 1e6), st.none()), min_size=1, max_size=30),
    bins=st.integers(1, 30),
)
def test_hellinger_in_unit_interval(real_c: list[Any], synth_c: list[Any], real_v: list[Any],
                                    synth_v: list[Any], bins: int) -> None:
    schema = Schema((Column("c", Kind.CATEGORICAL, categories=("a", "b", "c"), nullable=True),
                     Column("v", Kind.CONTINUOUS, bounds=(-10.0, 10.0), nullable=True)))

    def frame(c: list[Any], v: list[Any]) -> pd.DataFrame:
        n = min(len(c), len(v))
        return pd.DataFrame({"c": pd.Series(c[:n], dtype=object),
                             "v": pd.Series(v[:n], dtype=float)})

    result = HellingerMetric(bins=bins).compute(
        _context(frame(real_c, real_v), frame(synth_c, synth_v), schema))
    assert result.value is not None and 0.0 <= result.value <= 1.0
    for value in result.details["per_column"].values():
        assert 0.0 <= value <= 1.0
    _json(result)


# -- correlation ----------------------------------------------------------------------------


def test_correlation_identical_tables_is_zero() -> None:
    real = _table(500, 0)
    result = CorrelationMetric().compute(_context(real, real.copy()))
    assert result.value == pytest.approx(0.0, abs=1e-12)
    details = _json(result)["details"]
    assert details["columns"] == ["x", "y", "n", "color", "label"]
    real_m = np.array(details["real"], dtype=float)
    assert real_m.shape == (5, 5)
    np.testing.assert_allclose(real_m, real_m.T)
    np.testing.assert_allclose(np.diag(real_m), 1.0)
    assert real_m[0, 1] > 0.9  # x ~ y (Pearson)
    assert real_m[0, 3] > 0.5  # color depends on x (correlation ratio)
    assert real_m[3, 4] > 0.2  # label depends on color (Cramér's V)


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_correlation_shuffled_column_increases_difference(method: str) -> None:
    real = _table(1000, 0)
    same = _table(1000, 1)
    shuffled = same.copy()
    shuffled["x"] = shuffled["x"].sample(frac=1, random_state=3).to_numpy()
    base = CorrelationMetric(method=method).compute(_context(real, same)).value
    broken = CorrelationMetric(method=method).compute(_context(real, shuffled))
    assert base is not None and broken.value is not None
    assert broken.value > base + 0.1
    diff = np.array(broken.details["abs_diff"], dtype=float)
    assert diff[0, 1] > 0.8  # the x-y correlation is gone


def test_correlation_constant_column_is_none() -> None:
    real = _table(300, 0)
    synth = _table(300, 1)
    synth["color"] = "red"
    result = CorrelationMetric().compute(_context(real, synth))
    details = _json(result)["details"]
    i = details["columns"].index("color")
    assert details["synthetic"][i][i] is None
    assert all(details["synthetic"][i][j] is None for j in range(5))
    assert all(details["abs_diff"][i][j] is None for j in range(5))
    assert details["n_pairs"] == 6 and details["n_pairs_undefined"] == 4
    assert result.value is not None


def test_correlation_caps_columns() -> None:
    real = _table(200, 0)
    result = CorrelationMetric(max_columns=2).compute(_context(real, real))
    assert result.details["columns"] == ["x", "y"]
    assert result.details["columns_left_out"] == ["n", "color", "label"]


# -- tstr -----------------------------------------------------------------------------------


def test_tstr_toy_binary_and_json() -> None:
    real, control, synth = _table(600, 0), _table(400, 1), _table(600, 2)
    result = TSTRMetric(n_resamples=100).compute(_context(real, synth, control=control))
    details = _json(result)["details"]
    assert details["target"] == "label"
    assert details["classes"][0] == "yes"  # the rarer class is the positive one
    for side in ("tstr", "trtr"):
        part = details[side]
        assert part["auroc"] > 0.75
        assert part["auroc_ci"][0] <= part["auroc"] <= part["auroc_ci"][1]
        assert part["accuracy_ci"][0] <= part["accuracy"] <= part["accuracy_ci"][1]
    assert result.value == details["tstr"]["auroc"]
    assert details["ratio"] == pytest.approx(details["tstr"]["auroc"] / details["trtr"]["auroc"])


def test_tstr_without_target_skips() -> None:
    real = _table(100, 0)
    result = TSTRMetric().compute(_context(real, real, _schema(target=False)))
    assert result.value is None
    assert result.details == {"skipped": "no target column declared"}
    _json(result)


def test_tstr_target_parameter_overrides_schema() -> None:
    real, control = _table(400, 0), _table(300, 1)
    result = TSTRMetric(target="color", n_resamples=50).compute(
        _context(real, real, _schema(target=False), control=control))
    assert result.details["target"] == "color"
    assert result.details["auroc_method"] == "macro one-vs-rest"
    assert result.value is not None and result.value > 0.7
    _json(result)
    with pytest.raises(InputError, match="nope"):
        TSTRMetric(target="nope").compute(_context(real, real))


def test_tstr_single_class_synthetic_does_not_crash() -> None:
    real, control = _table(400, 0), _table(300, 1)
    synth = real.copy()
    synth["label"] = "no"
    result = TSTRMetric(n_resamples=50).compute(_context(real, synth, control=control))
    details = _json(result)["details"]
    assert result.value == pytest.approx(0.5)
    assert details["tstr"]["auroc_ci"] == [0.5, 0.5]
    assert "single target class" in details["tstr"]["note"]
    assert details["trtr"]["auroc"] > 0.75


def test_empty_synthetic_table_gives_none_not_crash() -> None:
    real, control = _table(200, 0), _table(100, 1)
    empty = real.iloc[:0]
    ctx = _context(real, empty, control=control)
    for cls in (HellingerMetric, CorrelationMetric, TSTRMetric):
        result = cls().compute(ctx)
        assert result.value is None
        _json(result)


@pytest.fixture(scope="module")
def adult_context(adult_small: pd.DataFrame, adult_schema: Schema) -> MetricContext:
    train, control = adult_small.iloc[:2000], adult_small.iloc[2000:]
    return MetricContext(train=train, control=control, synthetic=train.copy(),
                         schema=adult_schema, seed=0)


def test_tstr_adult_verbatim_copy_matches_trtr(adult_context: MetricContext) -> None:
    result = TSTRMetric(n_resamples=200).compute(adult_context)
    details = _json(result)["details"]
    assert details["target"] == "income"
    assert details["classes"][0] == ">50K"
    assert details["trtr"]["auroc"] > 0.8
    assert result.value == pytest.approx(details["trtr"]["auroc"], abs=0.02)
    assert details["ratio"] == pytest.approx(1.0, abs=0.03)
    lo, hi = details["tstr"]["auroc_ci"]
    assert lo < result.value < hi and hi - lo < 0.1


def test_correlation_figures_are_a_heat_map_and_the_largest_pairs() -> None:
    real, synth = _table(400, 0), _table(400, 1)
    synth["y"] = synth["y"].sample(frac=1, random_state=0).to_numpy()  # break y ~ x
    result = CorrelationMetric().compute(_context(real, synth))
    heat, table = result.figures
    assert isinstance(heat, HeatMap) and heat.lower_triangle
    assert heat.row_labels == heat.column_labels == ("x", "y", "n", "color", "label")
    assert isinstance(table, Table) and table.headers[-1] == "Absolute difference"
    assert {table.rows[0][0], table.rows[0][1]} == {"x", "y"}  # the broken pair first
    assert [r[2] for r in table.rows] == sorted((r[2] for r in table.rows), reverse=True)
    assert "of 10 column pairs" in table.caption
    _json(result)


def test_tstr_interval_and_comparison_table() -> None:
    real, synth, control = _table(600, 0), _table(600, 1), _table(300, 2)
    result = TSTRMetric(n_resamples=100).compute(_context(real, synth, control=control))
    assert result.interval is not None and result.value is not None
    assert result.interval.low <= result.value <= result.interval.high
    assert result.interval.level == 0.95 and "bootstrap" in result.interval.method
    (table,) = result.figures
    assert isinstance(table, Table) and [r[0] for r in table.rows] == ["Accuracy", "AUROC"]
    assert table.rows[1][1] == result.value and table.rows[1][2].startswith("[")
    _json(result)


def test_hellinger_and_correlation_on_adult(adult_context: MetricContext) -> None:
    h = HellingerMetric().compute(adult_context)
    c = CorrelationMetric().compute(adult_context)
    assert h.value == pytest.approx(0.0, abs=1e-7)
    assert c.value == pytest.approx(0.0, abs=1e-12)
    assert len(_json(c)["details"]["columns"]) == 15
    assert "domain_from_data" not in _json(h)["details"]
