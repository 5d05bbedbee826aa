"""Tests of the built-in generators ``dpsgd-vae`` (DP-SGD VAE) and ``gmm`` (baseline).

DP-SGD fits here use one or two epochs on a few hundred rows so the file stays fast; they
check contracts (domain, determinism, accounting), not utility.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from privgate.dp.bk_clipping import BookKeepingClipper
from privgate.encoding import TableEncoder, bin_edges
from privgate.errors import BudgetError, InputError, PluginError
from privgate.generator import NOT_PRIVATE, Generator, PrivacyBudget
from privgate.plugins.generators.gmm import generator as gmm
from privgate.plugins.generators.gmm.generator import GaussianMixtureGenerator
from privgate.plugins.generators.vae import generator as dpsgd_vae
from privgate.plugins.generators.vae.encoding import VAEEncoding
from privgate.plugins.generators.vae.generator import DPSGDVAE
from privgate.schema import Column, Kind, Role, Schema, infer_schema

FAST_VAE: dict[str, Any] = {"epochs": 2, "batch_size": 64, "hidden": [32], "latent_dim": 4}
BUDGET = PrivacyBudget(epsilon=2.0, delta=1e-5)


def _make(kind: str) -> Generator:
    return DPSGDVAE(**FAST_VAE) if kind == "vae" else GaussianMixtureGenerator(n_components=3)


def _budget(kind: str) -> PrivacyBudget | None:
    return BUDGET if kind == "vae" else None


@pytest.fixture(scope="module")
def mixed_schema() -> Schema:
    """Every column kind, nullable columns included, and a direct identifier to be dropped."""
    return Schema((
        Column("id", Kind.IDENTIFIER, Role.DIRECT_IDENTIFIER),
        Column("colour", Kind.CATEGORICAL, Role.QUASI_IDENTIFIER,
               categories=("red", "green", "blue", "never-seen")),
        Column("grade", Kind.CATEGORICAL, Role.SENSITIVE, categories=(1, 2, 3), nullable=True),
        Column("age", Kind.INTEGER, Role.QUASI_IDENTIFIER, bounds=(0.0, 100.0)),
        Column("score", Kind.CONTINUOUS, Role.TARGET, bounds=(-5.0, 5.0), nullable=True),
        Column("when", Kind.DATETIME, bounds=(1.6e9, 1.7e9)),
    ))


@pytest.fixture(scope="module")
def mixed_table() -> pd.DataFrame:
    """400 rows; ``age`` only spans [40, 60] although its declared bounds are [0, 100]."""
    rng = np.random.default_rng(7)
    n = 400
    grade = rng.choice([1, 2, 3], n).astype(object)
    grade[rng.random(n) < 0.3] = None
    score = rng.normal(1.0, 1.0, n)
    score[rng.random(n) < 0.3] = np.nan
    return pd.DataFrame({
        "colour": rng.choice(["red", "green", "blue"], n, p=[0.6, 0.3, 0.1]),
        "grade": grade,
        "age": rng.integers(40, 61, n),
        "score": score,
        "when": pd.to_datetime(rng.uniform(1.62e9, 1.68e9, n), unit="s"),
    })


@pytest.fixture(scope="module")
def fitted(mixed_table: pd.DataFrame, mixed_schema: Schema) -> dict[str, Generator]:
    """One fit of each generator on the mixed table (shared by the read-only tests)."""
    return {k: _make(k).fit(mixed_table, mixed_schema, _budget(k), seed=1)
            for k in ("vae", "gmm")}


def _assert_in_domain(out: pd.DataFrame, schema: Schema) -> None:
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
        if col.kind is Kind.DATETIME:
            assert pd.api.types.is_datetime64_any_dtype(s)
            secs = values.astype("int64") / 1e9
            assert secs.min() >= low - 1e-3 and secs.max() <= high + 1e-3
            continue
        assert pd.api.types.is_numeric_dtype(s), col.name
        assert values.min() >= low and values.max() <= high, col.name
        if col.kind is Kind.INTEGER:
            assert np.all(np.mod(values.to_numpy(dtype=float), 1) == 0), col.name


# -- both generators ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["vae", "gmm"])
def test_output_columns_kinds_and_domain(fitted: dict[str, Generator], mixed_schema: Schema,
                                         kind: str) -> None:
    out = fitted[kind].sample(500, seed=0)
    assert len(out) == 500
    _assert_in_domain(out, mixed_schema)


@pytest.mark.parametrize("kind", ["vae", "gmm"])
@pytest.mark.parametrize("n", [0, 1, 37])
def test_sample_returns_n_rows(fitted: dict[str, Generator], kind: str, n: int) -> None:
    assert len(fitted[kind].sample(n, seed=3)) == n


@pytest.mark.parametrize("kind", ["vae", "gmm"])
def test_missing_values_are_produced(fitted: dict[str, Generator], kind: str) -> None:
    out = fitted[kind].sample(2000, seed=0)
    # 30% of both nullable columns are missing in training; the model must emit some.
    assert out["grade"].isna().any()
    assert out["score"].isna().any()


@pytest.mark.parametrize("kind", ["vae", "gmm"])
def test_input_frame_not_mutated(mixed_table: pd.DataFrame, mixed_schema: Schema,
                                 kind: str) -> None:
    data = mixed_table.copy()
    _make(kind).fit(data, mixed_schema, _budget(kind), seed=0)
    pd.testing.assert_frame_equal(data, mixed_table)


@pytest.mark.parametrize("kind", ["vae", "gmm"])
def test_same_seed_reproduces_fit_and_sample(mixed_table: pd.DataFrame, mixed_schema: Schema,
                                             fitted: dict[str, Generator], kind: str) -> None:
    again = _make(kind).fit(mixed_table, mixed_schema, _budget(kind), seed=1)
    pd.testing.assert_frame_equal(again.sample(300, seed=5), fitted[kind].sample(300, seed=5))
    assert again.privacy_spent == fitted[kind].privacy_spent
    # a different sampling seed gives different rows
    assert not again.sample(300, seed=6).equals(again.sample(300, seed=5))


def test_declared_bounds_not_data_range(fitted: dict[str, Generator],
                                        mixed_table: pd.DataFrame) -> None:
    """``age`` is declared on [0, 100] but the data spans [40, 60]: encoding uses [0, 100]."""
    encoder: TableEncoder = fitted["gmm"].encoder_  # type: ignore[attr-defined]
    span = next(s for s in encoder.spans if s.column == "age")
    scaled = encoder.transform(mixed_table)[:, span.start]
    assert scaled.min() >= 0.4 - 1e-6 and scaled.max() <= 0.6 + 1e-6
    probe = pd.DataFrame({c: mixed_table[c].iloc[:2] for c in mixed_table.columns})
    probe["age"] = [0, 100]
    assert encoder.transform(probe)[:, span.start].tolist() == [0.0, 1.0]
    # The category that never occurs keeps its slot (declared list, not observed values).
    colour = next(s for s in encoder.spans if s.column == "colour")
    assert colour.end - colour.start == 4


def test_vae_bins_come_from_declared_bounds(fitted: dict[str, Generator],
                                           mixed_table: pd.DataFrame) -> None:
    """The VAE's bins are laid out over the declared domain, whatever the data spans."""
    encoding: VAEEncoding = fitted["vae"].encoder_  # type: ignore[attr-defined]
    blocks = {b.column: b for b in encoding.blocks}
    age = blocks["age"]  # integer on [0, 100]: one bin per integer, 101 slots
    assert age.kind == "bins" and age.end - age.start == 101
    probe = pd.DataFrame({c: mixed_table[c].iloc[:3] for c in mixed_table.columns})
    probe["age"] = [0, 100, 57]
    onehot = encoding.transform(probe)[:, age.start:age.end]
    assert onehot.argmax(axis=1).tolist() == [0, 100, 57] and onehot.sum(axis=1).tolist() == [1] * 3
    # nullable continuous: 64 bins plus a "missing" slot; the unseen category keeps its slot
    assert blocks["score"].end - blocks["score"].start == 65
    assert blocks["colour"].end - blocks["colour"].start == 4


@pytest.mark.parametrize("module, cls", [(dpsgd_vae, DPSGDVAE), (gmm, GaussianMixtureGenerator)])
def test_registers_through_hook(module: Any, cls: type[Generator]) -> None:
    assert list(module.privgate_generators()) == [cls]
    assert issubclass(cls, Generator)


@pytest.mark.parametrize("cls", [DPSGDVAE, GaussianMixtureGenerator])
def test_unknown_parameter_is_named(cls: type[Generator]) -> None:
    with pytest.raises(InputError, match="bogus") as info:
        cls(bogus=1)  # type: ignore[call-arg]
    assert "allowed" in str(info.value)


def test_bad_parameter_values() -> None:
    with pytest.raises(InputError, match="epochs"):
        DPSGDVAE(epochs=0)
    with pytest.raises(InputError, match="accountant"):
        DPSGDVAE(accountant="gdp")
    with pytest.raises(InputError, match="n_bins"):
        DPSGDVAE(n_bins=2)
    with pytest.raises(InputError, match="numeric_encoding"):
        DPSGDVAE(numeric_encoding="splines")
    with pytest.raises(InputError, match="beta"):
        DPSGDVAE(beta=0)
    with pytest.raises(InputError, match="covariance_type"):
        GaussianMixtureGenerator(covariance_type="weird")


# -- dpsgd-vae privacy accounting --------------------------------------------------------------

def test_vae_epsilon_within_budget(fitted: dict[str, Generator]) -> None:
    spent = fitted["vae"].privacy_spent
    assert math.isfinite(spent.epsilon) and spent.epsilon > 0
    assert spent.epsilon <= BUDGET.epsilon * (1 + 1e-6)
    assert spent.delta == BUDGET.delta
    assert spent.is_private
    d = spent.details
    for key in ("noise_multiplier", "sample_rate", "steps", "epochs", "batch_size",
                "max_grad_norm", "accountant", "grad_sample_mode"):
        assert key in d
    assert d["grad_sample_mode"] == "bk" and d["accountant"] == "rdp"
    assert d["domain_epsilon"] == 0.0 and d["train_epsilon"] == spent.epsilon
    assert d["domain_entries"] == 0  # every domain declared: nothing released
    # 400 rows, batch 64 -> 7 batches per epoch, 2 epochs
    assert d["sample_rate"] == pytest.approx(1 / 7)
    assert d["steps"] == int(2 / d["sample_rate"])


def test_vae_epsilon_recomputed_independently(fitted: dict[str, Generator]) -> None:
    from opacus.accountants import RDPAccountant

    spent = fitted["vae"].privacy_spent
    acc = RDPAccountant()
    acc.history = [(spent.details["noise_multiplier"], spent.details["sample_rate"],
                    spent.details["steps"])]
    assert acc.get_epsilon(spent.delta) == pytest.approx(spent.epsilon, rel=1e-9)


def test_vae_prv_accountant(mixed_table: pd.DataFrame, mixed_schema: Schema) -> None:
    g = DPSGDVAE(**{**FAST_VAE, "epochs": 1, "accountant": "prv"})
    spent = g.fit(mixed_table, mixed_schema, PrivacyBudget(1.0, 1e-5), seed=0).privacy_spent
    assert 0 < spent.epsilon <= 1.0 * (1 + 1e-6)
    assert spent.details["accountant"] == "prv"


def test_vae_needs_budget(mixed_table: pd.DataFrame, mixed_schema: Schema) -> None:
    with pytest.raises(BudgetError, match="budget"):
        DPSGDVAE(**FAST_VAE).fit(mixed_table, mixed_schema, None)
    assert issubclass(BudgetError, InputError)


def test_vae_zero_delta_is_a_budget_error(mixed_table: pd.DataFrame,
                                          mixed_schema: Schema) -> None:
    with pytest.raises(BudgetError, match="delta"):
        DPSGDVAE(**FAST_VAE).fit(mixed_table, mixed_schema, PrivacyBudget(1.0, 0.0))


def test_vae_survives_empty_poisson_batches(mixed_table: pd.DataFrame,
                                            mixed_schema: Schema) -> None:
    """Six rows with two per batch: about 1 in 9 Poisson batches is empty."""
    g = DPSGDVAE(epochs=10, batch_size=2, hidden=[8], latent_dim=2)
    g.fit(mixed_table.head(6), mixed_schema, BUDGET, seed=0)
    assert g.privacy_spent.details["steps"] == 30
    assert len(g.loss_history_) < 30  # some steps had empty batches (losses kept non-empty)
    assert all(np.isfinite(p.detach().numpy()).all() for p in g.model_.parameters())
    _assert_in_domain(g.sample(50, seed=0), mixed_schema)


def test_vae_hooks_mode_matches_ghost_accounting(mixed_table: pd.DataFrame,
                                                 mixed_schema: Schema) -> None:
    """Per-sample-gradient mode is accepted and spends exactly what ghost clipping does."""
    ghost = DPSGDVAE(**FAST_VAE).fit(mixed_table, mixed_schema, BUDGET, seed=0)
    hooks = DPSGDVAE(**FAST_VAE, grad_sample_mode="hooks").fit(mixed_table, mixed_schema,
                                                               BUDGET, seed=0)
    assert hooks.privacy_spent.epsilon == ghost.privacy_spent.epsilon
    assert hooks.privacy_spent.details["grad_sample_mode"] == "hooks"


# -- dpsgd-vae numeric encoding ------------------------------------------------------------------

def _col(kind: Kind, low: float, high: float) -> Column:
    return Column("x", kind, bounds=(low, high))


def test_bin_grid_from_bounds() -> None:
    # a short integer range: one bin per integer
    edges, point = bin_edges(_col(Kind.INTEGER, 17, 90), 64)
    assert edges.tolist() == list(range(17, 92)) and point.all()
    # a wide non-negative integer range: point bins at both bounds, log-spaced interior
    edges, point = bin_edges(_col(Kind.INTEGER, 0, 99_999), 64)
    assert edges[:2].tolist() == [0, 1] and edges[-2:].tolist() == [99_999, 100_000]
    assert point[0] and point[-1] and len(point) <= 64
    assert np.all(np.diff(edges) >= 1) and np.all(edges == np.round(edges))
    widths = np.diff(edges)[1:-1]
    assert widths[-1] > 100 * widths[0]  # geometric, not equal-width
    # a continuous range straddling 0: equal-width interior between two point bins
    edges, point = bin_edges(_col(Kind.CONTINUOUS, -5, 5), 12)
    assert len(point) == 12 and point.tolist() == [True] + [False] * 10 + [True]
    assert np.allclose(np.diff(edges)[1:-1], 1.0)


def test_bins_round_trip_keeps_point_masses_and_bounds() -> None:
    """Encoding then decoding the one-hot rows returns each value's bin; bounds come back exact."""
    schema = Schema((Column("gain", Kind.INTEGER, bounds=(0.0, 99_999.0)),
                     Column("w", Kind.CONTINUOUS, bounds=(-1.0, 1.0), nullable=True),
                     Column("n", Kind.INTEGER, bounds=(1.0, 99.0))))
    df = pd.DataFrame({"gain": [0, 0, 3, 15_024, 99_999, 250_000],
                       "w": [-1.0, 0.3, np.nan, 1.0, 5.0, -0.99],
                       "n": [40, 1, 99, 40, 50, 0]})
    enc = VAEEncoding(schema)
    x = enc.transform(df)
    # one slot per column (missing included) plus the decimals slot of a present "w"
    assert x.sum(axis=1).tolist() == [4, 4, 3, 4, 4, 4]
    assert list(enc.decimals) == ["w"]  # only binned continuous columns model their precision
    heads = {b.column: x[:, b.start:b.end].astype(float) for b in enc.blocks}
    out = enc.decode(heads, np.random.default_rng(0))
    assert out["gain"].tolist()[:3] == [0, 0, 3] and out["gain"].iloc[4] == 99_999
    assert out["gain"].iloc[5] == 99_999  # clipped to the declared bound
    gain = next(b for b in enc.blocks if b.column == "gain")
    assert gain.edges is not None
    j = np.searchsorted(gain.edges, 15_024, side="right") - 1
    assert gain.edges[j] <= out["gain"].iloc[3] < gain.edges[j + 1]
    assert out["n"].tolist() == [40, 1, 99, 40, 50, 1]
    w = out["w"]
    assert w.iloc[0] == -1.0 and w.iloc[3] == 1.0 and w.iloc[4] == 1.0 and np.isnan(w.iloc[2])
    assert w.iloc[1] == 0.3  # drawn inside its bin, then rounded to the value's one decimal
    assert abs(w.iloc[5] + 0.99) < 2 / 62 and round(w.iloc[5], 2) == w.iloc[5]
    assert out["gain"].dtype == np.int64 and out["n"].dtype == np.int64


@pytest.mark.parametrize("encoding", ["bins", "gaussian"])
def test_vae_numeric_encodings(mixed_table: pd.DataFrame, mixed_schema: Schema,
                               encoding: str) -> None:
    g = DPSGDVAE(**FAST_VAE, numeric_encoding=encoding).fit(mixed_table, mixed_schema, BUDGET,
                                                            seed=0)
    assert g.privacy_spent.details["numeric_encoding"] == encoding
    out = g.sample(500, seed=0)
    _assert_in_domain(out, mixed_schema)
    assert out["score"].isna().any()


def test_gmm_is_not_private(fitted: dict[str, Generator]) -> None:
    spent = fitted["gmm"].privacy_spent
    assert spent.epsilon == math.inf and not spent.is_private
    assert spent.accountant == NOT_PRIVATE
    assert GaussianMixtureGenerator.is_private is False and DPSGDVAE.is_private is True


# -- real data ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["vae", "gmm"])
def test_on_adult(adult_small: pd.DataFrame, adult_schema: Schema, kind: str) -> None:
    gen = (DPSGDVAE(epochs=1, batch_size=256) if kind == "vae"
           else GaussianMixtureGenerator(n_components=4))
    gen.fit(adult_small, adult_schema, PrivacyBudget(1.0, 1e-5) if kind == "vae" else None,
            seed=0)
    out = gen.sample(1000, seed=0)
    _assert_in_domain(out, adult_schema)
    if kind == "vae":
        assert 0 < gen.privacy_spent.epsilon <= 1.0 * (1 + 1e-6)
        # the VAE learns something: the majority income class stays the majority
        assert (out["income"] == "<=50K").mean() > 0.5


# -- dpsgd-vae: one-backward (book-keeping) clipping -------------------------------------------

@settings(max_examples=25, deadline=None)
@given(rows=st.integers(0, 9), widths=st.lists(st.integers(1, 5), min_size=2, max_size=4),
       clip=st.floats(0.01, 10.0), seed=st.integers(0, 10_000))
def test_bk_clipping_equals_clipped_per_row_gradients(rows: int, widths: list[int], clip: float,
                                                      seed: int) -> None:
    """The one-pass clipped sum equals clipping each row's own gradient and adding them up."""
    torch.manual_seed(seed)
    model = torch.nn.Sequential(*[m for a, b in zip(widths[:-1], widths[1:], strict=True)
                                  for m in (torch.nn.Linear(a, b), torch.nn.Tanh())])
    x = torch.randn(rows, widths[0])

    def loss_of(out: torch.Tensor) -> torch.Tensor:
        return (out ** 2).sum(dim=1) + out.sum(dim=1)

    clipper = BookKeepingClipper(model, clip, "test")
    clipper.clipped_grads(loss_of(clipper.forward(model, x)))
    got = {n: p.grad.clone() for n, p in model.named_parameters()}
    clipper.remove()
    expected = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    for i in range(rows):
        model.zero_grad()
        loss_of(model(x[i:i + 1])).sum().backward()
        norm = torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters()))
        factor = min(1.0, clip / (float(norm) + 1e-6))
        for n, p in model.named_parameters():
            expected[n] += factor * p.grad
    for n in got:
        torch.testing.assert_close(got[n], expected[n], rtol=1e-4, atol=1e-6)


def test_bk_rejects_models_it_cannot_clip() -> None:
    class WithBare(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(2, 2)
            self.scale = torch.nn.Parameter(torch.ones(2))

    with pytest.raises(PluginError, match="scale"):
        BookKeepingClipper(WithBare(), 1.0, "test")
    lin = torch.nn.Linear(2, 2)
    twice = torch.nn.Sequential(lin, lin)
    clipper = BookKeepingClipper(twice, 1.0, "test")
    with pytest.raises(PluginError, match="twice"):
        clipper.clipped_grads(clipper.forward(twice, torch.ones(3, 2)).sum(dim=1))


def test_bk_trains_the_same_model_as_opacus_ghost_clipping(mixed_table: pd.DataFrame,
                                                            mixed_schema: Schema) -> None:
    """Same seed, same Poisson batches, same noise: the default one-backward clipping and
    opacus' ghost clipping end with the same weights and the same epsilon."""
    bk = DPSGDVAE(**FAST_VAE).fit(mixed_table, mixed_schema, BUDGET, seed=4)
    ghost = DPSGDVAE(**FAST_VAE, grad_sample_mode="ghost").fit(mixed_table, mixed_schema,
                                                               BUDGET, seed=4)
    assert bk.privacy_spent.epsilon == ghost.privacy_spent.epsilon
    ghost_weights = ghost.model_.state_dict()  # type: ignore[attr-defined]
    for name, value in bk.model_.state_dict().items():  # type: ignore[attr-defined]
        torch.testing.assert_close(value, ghost_weights[name], rtol=1e-4, atol=1e-6)


# -- dpsgd-vae: conditional decoding and conditional sampling ----------------------------------

@pytest.fixture(scope="module")
def conditional(mixed_table: pd.DataFrame, mixed_schema: Schema) -> DPSGDVAE:
    """A VAE whose decoder is conditioned on ``colour``."""
    return DPSGDVAE(**FAST_VAE, condition_on="colour").fit(mixed_table, mixed_schema, BUDGET,
                                                           seed=2)


def test_condition_column_defaults_to_a_categorical_target(fitted: dict[str, Generator],
                                                           adult_small: pd.DataFrame,
                                                           adult_schema: Schema) -> None:
    # mixed_schema's target is continuous: the model stays unconditional
    assert fitted["vae"].privacy_spent.details["condition_on"] is None
    g = DPSGDVAE(epochs=1, batch_size=512, hidden=[32], latent_dim=4)
    g.fit(adult_small, adult_schema, PrivacyBudget(1.0, 1e-5), seed=0)
    assert g.privacy_spent.details["condition_on"] == "income"
    assert (g.sample(300, seed=1, conditions={"income": ">50K"})["income"] == ">50K").all()


@pytest.mark.parametrize("conditions", [{"colour": "green"}, {"colour": "never-seen"},
                                        {"colour": "blue", "grade": 2}, {"grade": 1}])
def test_conditional_sampling_honours_conditions(conditional: DPSGDVAE,
                                                 fitted: dict[str, Generator],
                                                 mixed_schema: Schema,
                                                 conditions: dict[str, Any]) -> None:
    for gen in (conditional, fitted["vae"]):
        out = gen.sample(150, seed=3, conditions=conditions)
        assert len(out) == 150
        _assert_in_domain(out, mixed_schema)
        for col, value in conditions.items():
            assert (out[col] == value).all(), (col, value)


def test_native_condition_needs_no_rejection(conditional: DPSGDVAE) -> None:
    """A value the model never saw in training is still produced exactly: it is an input."""
    calls: list[int] = []
    draw = conditional._draw
    conditional._draw = lambda n, s, fixed=None: calls.append(n) or draw(n, s, fixed)  # type: ignore[method-assign]
    try:
        out = conditional.sample(40, seed=0, conditions={"colour": "never-seen"})
    finally:
        del conditional._draw
    assert calls == [40] and (out["colour"] == "never-seen").all()


def test_unconditional_draws_follow_the_learnt_condition_prior(conditional: DPSGDVAE) -> None:
    prior = conditional.model_.prior_probs()
    assert prior.shape == (4,) and prior.sum() == pytest.approx(1.0)
    out = conditional.sample(4000, seed=0)
    share = out["colour"].value_counts(normalize=True).reindex(
        ["red", "green", "blue", "never-seen"], fill_value=0.0).to_numpy()
    assert np.abs(share - prior).max() < 0.03


@pytest.mark.parametrize("conditions, message", [({"age": 50}, "categorical"),
                                                 ({"colour": "purple"}, "purple"),
                                                 ({"nope": 1}, "nope")])
def test_bad_conditions_are_input_errors(conditional: DPSGDVAE, conditions: dict[str, Any],
                                         message: str) -> None:
    with pytest.raises(InputError, match=message):
        conditional.sample(5, conditions=conditions)


def test_condition_on_must_be_a_categorical_column(mixed_table: pd.DataFrame,
                                                   mixed_schema: Schema) -> None:
    for column, message in (("age", "categorical"), ("missing", "not a modelled")):
        with pytest.raises(InputError, match=message):
            DPSGDVAE(**FAST_VAE, condition_on=column).fit(mixed_table, mixed_schema, BUDGET)


# -- dpsgd-vae: save / load ----------------------------------------------------------------------

@pytest.mark.parametrize("which", ["plain", "conditional"])
def test_save_load_round_trip(fitted: dict[str, Generator], conditional: DPSGDVAE,
                              tmp_path: Path, which: str) -> None:
    gen = fitted["vae"] if which == "plain" else conditional
    path = gen.save(tmp_path / which)
    meta = json.loads((path / "metadata.json").read_text())
    assert meta["generator"] == "dpsgd-vae" and meta["state"]["schema"]["columns"]
    # the weights file holds tensors only: torch's safe loader reads it
    assert all(isinstance(v, torch.Tensor)
               for v in torch.load(path / "weights.pt", weights_only=True).values())
    loaded = DPSGDVAE.load(path)
    assert loaded.privacy_spent == gen.privacy_spent
    pd.testing.assert_frame_equal(loaded.sample(200, seed=9), gen.sample(200, seed=9))
    cond = {"colour": "blue"}
    pd.testing.assert_frame_equal(loaded.sample(50, seed=1, conditions=cond),
                                  gen.sample(50, seed=1, conditions=cond))


def test_load_rejects_mismatched_weights(fitted: dict[str, Generator], tmp_path: Path) -> None:
    path = fitted["vae"].save(tmp_path / "g")
    meta = json.loads((path / "metadata.json").read_text())
    meta["params"] = {**meta["params"], "latent_dim": 7}
    (path / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="weights"):
        DPSGDVAE.load(path)


# -- dpsgd-vae: DP domains and the non-private overhead mode --------------------------------------

def test_data_dependent_schema_pays_for_domains() -> None:
    """An inferred schema's domains are re-estimated under DP and charged to the budget."""
    rng = np.random.default_rng(3)
    n = 2000
    table = pd.DataFrame({"colour": rng.choice(["red", "green", "blue"], n, p=[0.6, 0.3, 0.1]),
                          "age": rng.integers(20, 70, n),
                          "label": rng.choice(["yes", "no"], n)})
    inferred = infer_schema(table, roles={"label": Role.TARGET})
    assert inferred.data_dependent_columns == ["colour", "age", "label"]
    budget = PrivacyBudget(4.0, 1e-5)
    g = DPSGDVAE(**FAST_VAE, domain_share=0.5).fit(table, inferred, budget, seed=0)
    spent = g.privacy_spent
    d = spent.details
    # one Gaussian release, first in the accountant's history, worth about half the budget
    assert d["domain_entries"] == 1 and d["domain_epsilon"] == 0.0
    assert d["domain_marginal_epsilon"] == pytest.approx(2.0, rel=0.1)
    assert d["domain_columns"] == ["colour", "age", "label"]
    assert spent.epsilon == pytest.approx(d["train_epsilon"]) and spent.epsilon <= 4.0 * (1 + 1e-6)
    assert spent.delta <= budget.delta
    assert "DP domains" in spent.accountant
    schema = g.schema_  # type: ignore[attr-defined]
    assert not schema.data_dependent_columns and d["condition_on"] == "label"
    out = g.sample(300, seed=0)
    assert set(out["colour"]) <= set(schema["colour"].categories)
    low, high = schema["age"].bounds
    assert out["age"].between(low, high).all()
    # the same fit on the declared schema spends nothing on domains
    declared = DPSGDVAE(**FAST_VAE).fit(table, schema, budget, seed=0).privacy_spent
    assert declared.details["domain_entries"] == 0 == declared.details["domain_marginal_epsilon"]


def test_dp_false_is_reported_as_not_private(mixed_table: pd.DataFrame,
                                             mixed_schema: Schema,
                                             fitted: dict[str, Generator]) -> None:
    plain = DPSGDVAE(**FAST_VAE, dp=False).fit(mixed_table, mixed_schema, None, seed=1)
    spent = plain.privacy_spent
    assert spent.epsilon == math.inf and not spent.is_private
    assert spent.accountant == NOT_PRIVATE and "NOT" in spent.details["warning"].upper()
    assert spent.to_dict()["epsilon"] is None
    # same schedule as the private fit: steps and rows seen
    private = fitted["vae"]
    assert spent.details["steps"] == private.privacy_spent.details["steps"]
    assert plain.fit_stats_["rows_seen"] == private.fit_stats_["rows_seen"]  # type: ignore
    _assert_in_domain(plain.sample(100, seed=0), mixed_schema)


def test_a_dp_false_fit_cannot_pass_for_private(mixed_table: pd.DataFrame,
                                               mixed_schema: Schema) -> None:
    """A configured ``dp = false`` given a budget reports no finite epsilon: core refuses the
    fit as malformed (its checks become errors, the ledger books the planned budget)."""
    from privgate.isolation import Origin, PluginFault
    from privgate.validate import privacy_spent

    plain = DPSGDVAE(**FAST_VAE, dp=False).fit(mixed_table, mixed_schema, BUDGET, seed=0)
    with pytest.raises(PluginFault, match="must be finite"):
        privacy_spent(plain, BUDGET, Origin("dpsgd-vae"))


def test_new_parameters_are_checked() -> None:
    for bad in ({"condition_on": 3}, {"domain_share": 1.0}, {"dp": "yes"},
                {"column_weighting": "magic"}, {"grad_sample_mode": "fast"}):
        with pytest.raises(InputError, match=next(iter(bad))):
            DPSGDVAE(**bad)
