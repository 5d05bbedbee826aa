"""``dpsgd-ctgan``: shapes and domains, conditions, accounting, persistence, reproducibility.

Fits use a small adult sample, two epochs and narrow networks: they check behaviour, not
fidelity (the fidelity figures come from benchmarks/).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privgate.dp import calibrate_with_release, history_epsilon
from privgate.dp.mechanisms import gaussian_histograms
from privgate.errors import BudgetError, InputError
from privgate.generator import PrivacyBudget
from privgate.plugins.generators.ctgan.encoding import CTGANEncoding, frequencies
from privgate.plugins.generators.ctgan.generator import DPSGDCTGAN
from privgate.registry import build_registry
from privgate.schema import Column, Kind, Schema, infer_schema

SMALL = {"epochs": 2, "batch_size": 256, "z_dim": 16, "generator_dims": (64,),
         "discriminator_dims": (64,)}
BUDGET = PrivacyBudget(1.0, 1e-5)


@pytest.fixture(scope="module")
def rows(adult_small: pd.DataFrame) -> pd.DataFrame:
    return adult_small.iloc[:1500].reset_index(drop=True)


@pytest.fixture(scope="module")
def fitted(rows: pd.DataFrame, adult_schema: Schema) -> DPSGDCTGAN:
    return DPSGDCTGAN(**SMALL).fit(rows, adult_schema, BUDGET, seed=0)


def test_registered_under_its_name() -> None:
    assert build_registry().generator("dpsgd-ctgan") is DPSGDCTGAN


@pytest.mark.slow
def test_samples_have_the_schema_columns_and_stay_in_the_declared_domain(
        fitted: DPSGDCTGAN, adult_schema: Schema) -> None:
    out = fitted.sample(400, seed=3)
    assert list(out.columns) == [c.name for c in adult_schema.modelled]
    assert len(out) == 400
    for col in adult_schema.modelled:
        values = out[col.name].dropna()
        if col.kind is Kind.CATEGORICAL:
            assert set(values) <= set(col.categories or ())
        else:
            assert col.bounds is not None
            assert values.between(*col.bounds).all()
            assert (values == values.round()).all()  # integer columns stay integral
        if not col.nullable:
            assert out[col.name].notna().all()
    assert len(fitted.sample(0)) == 0


@pytest.mark.slow
def test_conditions_are_honoured_on_one_and_on_several_columns(fitted: DPSGDCTGAN) -> None:
    one = fitted.sample(60, seed=1, conditions={"income": ">50K"})
    assert len(one) == 60 and (one["income"] == ">50K").all()
    two = fitted.sample(40, seed=2, conditions={"sex": "Female", "race": "White"})
    assert len(two) == 40
    assert (two["sex"] == "Female").all() and (two["race"] == "White").all()


@pytest.mark.slow
def test_bad_conditions_name_the_column(fitted: DPSGDCTGAN) -> None:
    with pytest.raises(InputError, match="nope"):
        fitted.sample(5, conditions={"nope": 1})
    with pytest.raises(InputError, match="age"):
        fitted.sample(5, conditions={"age": 30})
    with pytest.raises(InputError, match="Martian"):
        fitted.sample(5, conditions={"race": "Martian"})


@pytest.mark.slow
def test_spent_epsilon_is_within_budget_and_recomputable(fitted: DPSGDCTGAN) -> None:
    spent = fitted.privacy_spent
    d = spent.details
    assert 0 < spent.epsilon <= BUDGET.epsilon
    assert spent.delta == pytest.approx(BUDGET.delta)
    assert d["domain_epsilon"] == 0.0  # every domain of adult_schema is declared
    # an auditor recomputes the training epsilon from the recorded figures
    again = history_epsilon([(d["marginal_noise_multiplier"], 1.0, 1),
                              (d["noise_multiplier"], d["sample_rate"], d["steps"])],
                             d["train_delta"], d["accountant"])
    assert again == pytest.approx(d["train_epsilon"], rel=1e-9)
    # the marginals are not free: without them the same DP-SGD would spend less
    alone = history_epsilon([(d["noise_multiplier"], d["sample_rate"], d["steps"])],
                             d["train_delta"], d["accountant"])
    assert alone < d["train_epsilon"]


@pytest.mark.slow
def test_more_epochs_need_more_noise_for_the_same_budget(rows: pd.DataFrame,
                                                         adult_schema: Schema) -> None:
    few = DPSGDCTGAN(**{**SMALL, "epochs": 1}).fit(rows, adult_schema, BUDGET, seed=0)
    many = DPSGDCTGAN(**{**SMALL, "epochs": 4}).fit(rows, adult_schema, BUDGET, seed=0)
    assert many.privacy_spent.details["steps"] > few.privacy_spent.details["steps"]
    assert (many.privacy_spent.details["noise_multiplier"]
            > few.privacy_spent.details["noise_multiplier"])
    for g in (few, many):
        assert 0 < g.privacy_spent.epsilon <= BUDGET.epsilon
    # at fixed noise, more steps cost more
    d = few.privacy_spent.details
    costs = [history_epsilon([(d["noise_multiplier"], d["sample_rate"], k)], 1e-5, "rdp")
             for k in (d["steps"], 4 * d["steps"])]
    assert costs[1] > costs[0]


@settings(max_examples=5, deadline=None)
@given(epsilon=st.floats(0.3, 8.0), q=st.floats(0.005, 0.2), steps=st.integers(20, 3000),
       share=st.floats(0.05, 0.5))
def test_calibrated_noise_composes_within_the_budget(epsilon: float, q: float, steps: int,
                                                     share: float) -> None:
    sigma, sigma_m = calibrate_with_release(epsilon, 1e-5, q, steps, "rdp", share=share)
    total = history_epsilon([(sigma_m, 1.0, 1), (sigma, q, steps)], 1e-5, "rdp")
    assert total <= epsilon * (1 + 1e-9)
    assert total > (1 - share) * epsilon * 0.97  # the marginals use the headroom, not nothing


@pytest.mark.slow
def test_save_and_load_give_the_same_rows(fitted: DPSGDCTGAN, tmp_path: Path) -> None:
    path = fitted.save(tmp_path / "ctgan")
    loaded = DPSGDCTGAN.load(path)
    pd.testing.assert_frame_equal(loaded.sample(300, seed=5), fitted.sample(300, seed=5))
    pd.testing.assert_frame_equal(loaded.sample(30, seed=6, conditions={"sex": "Male"}),
                                  fitted.sample(30, seed=6, conditions={"sex": "Male"}))
    assert loaded.privacy_spent.epsilon == fitted.privacy_spent.epsilon
    assert loaded.privacy_spent.details["steps"] == fitted.privacy_spent.details["steps"]


@pytest.mark.slow
def test_loading_with_other_architecture_parameters_is_an_input_error(
        fitted: DPSGDCTGAN, tmp_path: Path) -> None:
    path = fitted.save(tmp_path / "ctgan")
    meta = path / "metadata.json"
    meta.write_text(meta.read_text().replace('"z_dim": 16', '"z_dim": 17'))
    with pytest.raises(InputError, match="does not match"):
        DPSGDCTGAN.load(path)


@pytest.mark.slow
def test_same_seed_same_fit_other_seed_other_fit(rows: pd.DataFrame, adult_schema: Schema,
                                                 fitted: DPSGDCTGAN) -> None:
    again = DPSGDCTGAN(**SMALL).fit(rows, adult_schema, BUDGET, seed=0)
    pd.testing.assert_frame_equal(again.sample(200, seed=1), fitted.sample(200, seed=1))
    assert again.loss_history_ == fitted.loss_history_
    other = DPSGDCTGAN(**SMALL).fit(rows, adult_schema, BUDGET, seed=1)
    assert not other.sample(200, seed=1).equals(fitted.sample(200, seed=1))
    assert not fitted.sample(200, seed=2).equals(fitted.sample(200, seed=1))


@pytest.mark.slow
def test_ghost_clipping_and_per_sample_hooks_train_the_same_model(
        rows: pd.DataFrame, adult_schema: Schema, fitted: DPSGDCTGAN) -> None:
    """Both opacus modes clip the same per-row gradients: same losses up to float rounding,
    same accounting."""
    hooks = DPSGDCTGAN(**SMALL, grad_sample_mode="hooks").fit(rows, adult_schema, BUDGET,
                                                              seed=0)
    assert np.allclose(hooks.loss_history_, fitted.loss_history_, rtol=1e-3, atol=1e-4)
    assert hooks.privacy_spent.epsilon == fitted.privacy_spent.epsilon


@pytest.mark.slow
def test_undeclared_domains_are_paid_for(adult_small: pd.DataFrame,
                                         adult_schema: Schema) -> None:
    """Columns without a declared domain get one under DP, composed into the reported epsilon."""
    schema = adult_schema.replace_column(Column("sex", Kind.CATEGORICAL)).replace_column(
        Column("age", Kind.INTEGER))
    gen = DPSGDCTGAN(**{**SMALL, "epochs": 1, "domain_share": 0.2}).fit(
        adult_small, schema, BUDGET, seed=0)
    spent = gen.privacy_spent
    assert spent.details["domain_columns"] == ["age", "sex"]
    assert spent.details["domain_entries"] == 1  # the release is in the accountant's history
    assert spent.details["domain_marginal_epsilon"] == pytest.approx(0.2, rel=0.15)
    assert spent.epsilon == pytest.approx(spent.details["train_epsilon"])
    assert 0.9 < spent.epsilon <= 1.0
    assert gen.schema_["sex"].categories is not None and gen.schema_["age"].bounds is not None
    assert len(gen.sample(50)) == 50


@pytest.mark.slow
def test_inferred_schema_marks_every_domain_for_dp_estimation(rows: pd.DataFrame) -> None:
    """An inferred schema's domains were read off the data: none may be used for free."""
    schema = infer_schema(rows[["sex", "income", "hours_per_week"]])
    gen = DPSGDCTGAN(**{**SMALL, "epochs": 1}).fit(rows, schema, BUDGET, seed=0)
    assert sorted(gen.privacy_spent.details["domain_columns"]) == [
        "hours_per_week", "income", "sex"]
    assert gen.privacy_spent.details["domain_marginal_epsilon"] == pytest.approx(0.1, rel=0.15)


@pytest.mark.slow
def test_non_private_mode_reports_infinite_epsilon(rows: pd.DataFrame,
                                                   adult_schema: Schema) -> None:
    gen = DPSGDCTGAN(**{**SMALL, "epochs": 1, "dp": False}).fit(rows, adult_schema, None,
                                                                  seed=0)
    assert not gen.privacy_spent.is_private and math.isinf(gen.privacy_spent.epsilon)
    assert len(gen.sample(20)) == 20


@pytest.mark.slow
def test_bad_input_is_rejected_with_a_message(rows: pd.DataFrame, adult_schema: Schema) -> None:
    with pytest.raises(InputError, match="marginal_share"):
        DPSGDCTGAN(marginal_share=0)
    with pytest.raises(InputError, match="generator_dims"):
        DPSGDCTGAN(generator_dims=[])
    with pytest.raises(InputError, match="unknown parameter"):
        DPSGDCTGAN(pac=10)
    with pytest.raises(BudgetError, match="budget"):
        DPSGDCTGAN(**SMALL).fit(rows, adult_schema, None)
    with pytest.raises(InputError, match="income"):
        DPSGDCTGAN(**SMALL).fit(rows.drop(columns=["income"]), adult_schema, BUDGET)
    with pytest.raises(InputError, match="fit"):
        DPSGDCTGAN().sample(3)


@settings(max_examples=15, deadline=None)
@given(values=st.lists(st.floats(-50.0, 1e6, allow_nan=False), min_size=1, max_size=30),
       ints=st.lists(st.integers(0, 100_000), min_size=1, max_size=30),
       n_modes=st.integers(3, 40))
def test_mode_encoding_round_trips_values(values: list[float], ints: list[int],
                                          n_modes: int) -> None:
    """A confident generator output (its mode and offset) decodes back to the value."""
    n = min(len(values), len(ints))
    schema = Schema((Column("x", Kind.CONTINUOUS, bounds=(-50.0, 1e6)),
                     Column("k", Kind.INTEGER, bounds=(0.0, 100_000.0))))
    enc = CTGANEncoding(schema, n_modes=n_modes)
    df = pd.DataFrame({"x": values[:n], "k": ints[:n]})
    m = enc.transform(df).astype(float)
    raw = np.where(m > 0, 50.0, -50.0)
    for span in enc.spans:
        raw[:, span.offset] = np.arctanh(m[:, span.offset])
    out = enc.decode(raw, np.random.default_rng(0))
    # offsets are clipped to [-0.999, 0.999]: at most 0.1% of a mode's width is lost
    for name, span in (("x", enc.spans[0]), ("k", enc.spans[1])):
        assert span.edges is not None
        mode = m[:, span.onehot_start:span.onehot_end].argmax(axis=1)
        width = span.edges[mode + 1] - span.edges[mode]
        err = np.abs(out[name].to_numpy(dtype=float) - df[name].to_numpy(dtype=float))
        assert np.all(err <= 1e-3 * width + 1e-6)
    exact = np.diff(enc.spans[1].edges)[m[:, enc.spans[1].onehot_start:].argmax(axis=1)] <= 500
    assert (out["k"].to_numpy()[exact] == df["k"].to_numpy()[exact]).all()  # integers exact


def test_noisy_marginals_are_distributions_even_when_noise_wipes_them_out() -> None:
    counts = [np.array([5.0, 0.0, 95.0]), np.array([0.0, 0.0])]
    exact = frequencies(counts)
    assert np.allclose(exact[0], [0.05, 0.0, 0.95])
    assert np.allclose(exact[1], [0.5, 0.5])  # nothing counted: uniform
    noisy = frequencies(gaussian_histograms(counts, 3.0, np.random.default_rng(0)))
    for p in noisy:
        assert np.all(p >= 0) and p.sum() == pytest.approx(1.0)
    assert not np.allclose(noisy[0], exact[0])
