"""Tests of ``dpsgd-diffusion`` (TabDDPM-style diffusion trained with DP-SGD).

The fits use a tiny denoiser, a short chain and one or two epochs on a few hundred rows: they
check contracts (domain, privacy accounting, determinism, persistence), not utility; utility on
adult is measured by ``benchmarks/generators.py``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from privgate.errors import BudgetError, InputError
from privgate.generator import NOT_PRIVATE, PrivacyBudget
from privgate.plugins.generators.diffusion import generator as dpsgd_diffusion
from privgate.plugins.generators.diffusion.encoding import (
    DiffusionEncoding,
    NumericSlot,
    numeric_transform,
)
from privgate.plugins.generators.diffusion.generator import DPSGDDiffusion
from privgate.plugins.generators.diffusion.model import DiffusionLoss, TabDiffusion
from privgate.registry import build_registry
from privgate.schema import Column, Kind, Role, Schema

FAST: dict[str, Any] = {"epochs": 2, "batch_size": 128, "hidden": [32, 32], "steps": 10,
                        "multiplicity": 2}
BUDGET = PrivacyBudget(epsilon=1.0, delta=1e-5)


@pytest.fixture(scope="module")
def schema() -> Schema:
    return Schema((
        Column("id", Kind.IDENTIFIER, Role.DIRECT_IDENTIFIER),
        Column("colour", Kind.CATEGORICAL, Role.QUASI_IDENTIFIER,
               categories=("red", "green", "blue")),
        Column("grade", Kind.CATEGORICAL, categories=(1, 2, 3), nullable=True),
        Column("age", Kind.INTEGER, Role.QUASI_IDENTIFIER, bounds=(17.0, 90.0)),
        Column("gain", Kind.INTEGER, bounds=(0.0, 99_999.0)),
        Column("weight", Kind.CONTINUOUS, bounds=(10.0, 10_000.0), nullable=True),
        Column("when", Kind.DATETIME, bounds=(1.6e9, 1.7e9)),
        Column("label", Kind.CATEGORICAL, Role.TARGET, categories=("no", "yes")),
    ))


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 500
    grade = rng.choice([1, 2, 3], n).astype(object)
    grade[rng.random(n) < 0.2] = None
    weight = np.exp(rng.uniform(np.log(10), np.log(10_000), n))
    weight[rng.random(n) < 0.2] = np.nan
    return pd.DataFrame({
        "id": np.arange(n),
        "colour": rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2]),
        "grade": grade,
        "age": rng.integers(17, 91, n),
        "gain": np.where(rng.random(n) < 0.9, 0, rng.integers(1, 99_999, n)),
        "weight": weight,
        "when": pd.to_datetime(rng.uniform(1.62e9, 1.68e9, n), unit="s"),
        "label": rng.choice(["no", "yes"], n, p=[0.7, 0.3]),
    })


@pytest.fixture(scope="module")
def fitted(table: pd.DataFrame, schema: Schema) -> DPSGDDiffusion:
    return DPSGDDiffusion(**FAST).fit(table, schema, BUDGET, seed=0)


def _in_domain(out: pd.DataFrame, schema: Schema) -> None:
    from test_baseline_generators import assert_in_domain

    assert_in_domain(out, schema)


# -- encoding (no training) ------------------------------------------------------------------

def test_transforms_come_from_the_declared_bounds(schema: Schema) -> None:
    assert numeric_transform(schema["age"]) == "linear"
    assert numeric_transform(schema["gain"]) == "log1p"
    assert numeric_transform(schema["weight"]) == "log"
    assert numeric_transform(Column("pct", Kind.CONTINUOUS, bounds=(0.0, 100.0))) == "linear"


@settings(max_examples=40, deadline=None)
@given(low=st.floats(-1e6, 1e6), width=st.floats(1e-3, 1e7),
       transform=st.sampled_from(["linear", "log", "log1p"]), u=st.floats(0, 1))
def test_numeric_slot_round_trips_within_bounds(low: float, width: float, transform: str,
                                                u: float) -> None:
    if transform == "log":
        low = abs(low) + 1e-3
    if transform == "log1p":
        low = 0.0
    slot = NumericSlot("x", transform, low, low + width)
    x = np.array([low, low + u * width, low + width])
    y = slot.forward(x)
    assert np.all(y >= -1 - 1e-9) and np.all(y <= 1 + 1e-9)
    back = slot.inverse(y)
    assert np.allclose(back, x, rtol=1e-6, atol=1e-6 * max(1.0, width))
    assert np.all(slot.inverse(np.array([-3.0, 3.0])) == [low, low + width])


def test_encoding_round_trip_keeps_values_and_missingness(table: pd.DataFrame,
                                                          schema: Schema) -> None:
    enc = DiffusionEncoding(schema)
    num, cat = enc.transform(table)
    assert num.shape == (len(table), 4) and np.abs(num).max() <= 1
    back = enc.inverse(num, cat)
    for col in ("colour", "grade", "age", "gain", "label"):
        pd.testing.assert_series_equal(back[col].astype(object), table[col].astype(object),
                                       check_names=False)
    assert back["weight"].isna().equals(table["weight"].isna())
    ok = table["weight"].notna()
    assert np.allclose(back["weight"][ok], table["weight"][ok], rtol=1e-4)


@pytest.mark.parametrize("multiplicity", [1, 3])
def test_each_rows_loss_depends_on_that_row_only(multiplicity: int) -> None:
    """DP-SGD clips per-row gradients; the per-row loss must not mix rows (also when each
    record is noised at several timesteps)."""
    model = TabDiffusion(2, [3, 4], (16,), 10, seed=0, multiplicity=multiplicity)
    loss = DiffusionLoss(model, reduction="none", ce_weight=0.5)
    batch = torch.tensor([[0.1, -0.5, 0, 3], [0.9, 0.2, 2, 1], [-0.3, 0.0, 1, 0]])
    model.noise.manual_seed(5)
    first = loss(model(batch), batch)
    other = batch.clone()
    other[1] = torch.tensor([-1.0, 1.0, 0, 0])
    model.noise.manual_seed(5)
    second = loss(model(other), other)
    assert first.shape == (3,) and torch.isfinite(first).all()
    assert first[0] == second[0] and first[2] == second[2] and first[1] != second[1]


# -- fitted generator ------------------------------------------------------------------------

def test_registered_through_entry_points() -> None:
    assert build_registry().generators["dpsgd-diffusion"].obj is DPSGDDiffusion
    assert list(dpsgd_diffusion.privgate_generators()) == [DPSGDDiffusion]


@pytest.mark.slow
def test_spends_at_most_the_budget(fitted: DPSGDDiffusion) -> None:
    spent = fitted.privacy_spent
    assert spent.is_private
    assert 0.5 < spent.epsilon <= BUDGET.epsilon
    assert spent.delta <= BUDGET.delta
    d = spent.details
    assert d["noise_multiplier"] > 0 and d["steps"] == fitted.fit_stats_["steps"]
    assert d["domain_epsilon"] == 0.0  # every domain declared: nothing spent on them
    assert d["numeric_transforms"] == {"age": "linear", "gain": "log1p", "weight": "log",
                                       "when": "linear"}
    assert all(math.isfinite(v) for v in fitted.loss_history_)


@pytest.mark.slow
def test_samples_in_domain(fitted: DPSGDDiffusion, schema: Schema) -> None:
    out = fitted.sample(300, seed=1)
    assert len(out) == 300
    _in_domain(out, schema)
    assert out.empty is False and "id" not in out.columns


def test_sampling_in_chunks_bounds_memory(fitted: DPSGDDiffusion, schema: Schema,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from privgate.plugins.generators.diffusion import generator as diffusion

    monkeypatch.setattr(diffusion, "SAMPLE_CHUNK", 64)
    out = fitted.sample(150, seed=1)
    assert len(out) == 150 and out.index.tolist() == list(range(150))
    _in_domain(out, schema)


@pytest.mark.slow
def test_conditions_are_honoured(fitted: DPSGDDiffusion) -> None:
    out = fitted.sample(50, seed=2, conditions={"colour": "blue", "label": "yes"})
    assert len(out) == 50
    assert set(out["colour"]) == {"blue"} and set(out["label"]) == {"yes"}
    with pytest.raises(InputError, match="age"):
        fitted.sample(5, conditions={"age": 30})


@pytest.mark.slow
def test_fit_and_sample_are_reproducible(table: pd.DataFrame, schema: Schema,
                                         fitted: DPSGDDiffusion) -> None:
    again = DPSGDDiffusion(**FAST).fit(table, schema, BUDGET, seed=0)
    pd.testing.assert_frame_equal(again.sample(100, seed=3), fitted.sample(100, seed=3))
    assert not fitted.sample(100, seed=3).equals(fitted.sample(100, seed=4))
    other = DPSGDDiffusion(**FAST).fit(table, schema, BUDGET, seed=1)
    assert not other.sample(100, seed=3).equals(fitted.sample(100, seed=3))


@pytest.mark.slow
def test_save_load_gives_the_same_samples(fitted: DPSGDDiffusion, tmp_path: Path) -> None:
    fitted.save(tmp_path / "diff")
    loaded = DPSGDDiffusion.load(tmp_path / "diff")
    pd.testing.assert_frame_equal(loaded.sample(120, seed=5), fitted.sample(120, seed=5))
    assert loaded.privacy_spent.epsilon == fitted.privacy_spent.epsilon
    assert loaded.privacy_spent.details["steps"] == fitted.privacy_spent.details["steps"]


@pytest.mark.slow
def test_undeclared_domains_are_paid_for(table: pd.DataFrame, schema: Schema) -> None:
    """Undeclared domains are estimated under DP and composed with training."""
    open_schema = schema.replace_column(Column("colour", Kind.CATEGORICAL)).replace_column(
        Column("age", Kind.INTEGER, Role.QUASI_IDENTIFIER))
    budget = PrivacyBudget(epsilon=2.0, delta=1e-5)
    gen = DPSGDDiffusion(**FAST, domain_share=0.5).fit(table, open_schema, budget, seed=0)
    spent = gen.privacy_spent
    assert spent.details["domain_marginal_epsilon"] == pytest.approx(1.0, rel=0.15)
    assert sorted(spent.details["domain_columns"]) == ["age", "colour"]
    assert spent.epsilon <= budget.epsilon and spent.delta <= budget.delta
    assert spent.epsilon == pytest.approx(spent.details["train_epsilon"]
                                          + spent.details["prior_epsilon"])
    assert set(gen.schema_["colour"].categories or ()) <= {"red", "green", "blue"}
    out = gen.sample(100, seed=0)
    assert len(out) == 100 and set(out["colour"]) <= {"red", "green", "blue"}


@pytest.mark.slow
def test_target_conditioning_is_exact_and_paid_for(fitted: DPSGDDiffusion,
                                                   table: pd.DataFrame,
                                                   schema: Schema) -> None:
    d = fitted.privacy_spent.details
    assert d["condition_on"] == "label" and d["prior_epsilon"] > 0
    assert fitted.prior_ is not None and fitted.prior_.sum() == pytest.approx(1.0)
    out = fitted.sample(60, seed=3, conditions={"label": "yes"})
    assert set(out["label"]) == {"yes"}
    plain = DPSGDDiffusion(**FAST, condition_on=None).fit(table, schema, BUDGET, seed=0)
    assert plain.privacy_spent.details["condition_on"] is None
    assert "prior_epsilon" not in plain.privacy_spent.details
    assert set(plain.sample(30, seed=0, conditions={"label": "no"})["label"]) == {"no"}
    with pytest.raises(InputError, match="condition_on"):
        DPSGDDiffusion(**FAST, condition_on="age").fit(table, schema, BUDGET)


@pytest.mark.slow
def test_dp_false_is_labelled_not_private(table: pd.DataFrame, schema: Schema) -> None:
    gen = DPSGDDiffusion(**FAST, dp=False).fit(table, schema, None, seed=0)
    assert math.isinf(gen.privacy_spent.epsilon)
    assert gen.privacy_spent.accountant == NOT_PRIVATE
    assert "WITHOUT DP-SGD" in gen.privacy_spent.details["warning"]
    assert gen.fit_stats_["rows_per_second"] > 0


def test_refuses_missing_budget_and_bad_parameters(table: pd.DataFrame,
                                                   schema: Schema) -> None:
    with pytest.raises(BudgetError, match="budget"):
        DPSGDDiffusion(**FAST).fit(table, schema, None)
    with pytest.raises(BudgetError, match="delta"):
        DPSGDDiffusion(**FAST).fit(table, schema, PrivacyBudget(1.0, 0.0))
    with pytest.raises(InputError, match="steps"):
        DPSGDDiffusion(steps=1)
    with pytest.raises(InputError, match="hidden"):
        DPSGDDiffusion(hidden=[0])
    with pytest.raises(InputError, match="domain_share"):
        DPSGDDiffusion(domain_share=1.5)
    with pytest.raises(InputError, match="ce_weight"):
        DPSGDDiffusion(ce_weight=-1)
    with pytest.raises(InputError, match="multiplicity"):
        DPSGDDiffusion(multiplicity=0)
    with pytest.raises(InputError, match="lacks"):
        DPSGDDiffusion(**FAST).fit(table.drop(columns=["age"]), schema, BUDGET)
