"""privgate.dp.DPTrainer: order of the steps, the exact loop, verification, composition, the
record, the clipping modes and the noise source (seeded streams or ``secure_rng``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from privgate.dp import (
    SECURE_SOURCE,
    SEEDED_SOURCE,
    AccountingInputs,
    DPSettings,
    DPTrainer,
    spent_epsilon,
    spent_from_dict,
)
from privgate.errors import BudgetError, InputError, PluginError
from privgate.generator import NOT_PRIVATE, PrivacyBudget
from privgate.schema import Column, Kind, Schema

BUDGET = PrivacyBudget(1.0, 1e-5)
SCHEMA = Schema((Column("x", Kind.CONTINUOUS, bounds=(-5.0, 5.0)),
                 Column("y", Kind.CONTINUOUS, bounds=(-5.0, 5.0))))


def _table(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, n)
    return pd.DataFrame({"x": x, "y": 2 * x + rng.normal(0, 0.1, n)})


def _loss(module: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
    return (module(batch[:, :1])[:, 0] - batch[:, 1]).pow(2)


def _fit(settings: DPSettings, *, seed: int = 0, n: int = 200, budget: PrivacyBudget = BUDGET,
         schema: Schema = SCHEMA) -> tuple[DPTrainer, torch.nn.Module]:
    trainer = DPTrainer("toy", settings, budget, seed)
    prepared = trainer.prepare(_table(n), schema)
    rows = torch.tensor(prepared.data[["x", "y"]].to_numpy(), dtype=torch.float32)
    with trainer.streams.global_torch("init"):
        model = torch.nn.Linear(1, 1)
    trainer.plan(len(rows))
    trainer.train(model, torch.optim.SGD(model.parameters(), lr=0.1), rows, _loss)
    return trainer, model


def test_schedule_is_exact_and_matches_the_accountant() -> None:
    trainer, _ = _fit(DPSettings(epochs=3, batch_size=32))
    assert trainer.schedule is not None and trainer.run is not None
    assert trainer.schedule.sample_rate == pytest.approx(1 / 7)  # ceil(200 / 32) batches
    assert trainer.schedule.steps == 21 == trainer.run.steps
    spent = trainer.privacy_spent({"model": "toy"})
    d = spent.details
    assert d["accountant_history"] == [[trainer.schedule.noise_multiplier, 1 / 7, 21]]
    assert spent.epsilon == pytest.approx(spent_epsilon(d["noise_multiplier"], 1 / 7, 21, 1e-5,
                                                        "rdp"), rel=1e-12)
    assert spent.epsilon <= 1.0 and d["model"] == "toy" and d["noise_source"] == SEEDED_SOURCE
    assert AccountingInputs.from_spent(spent).epsilon() == pytest.approx(spent.epsilon)


def test_empty_poisson_batches_are_steps_too() -> None:
    trainer, model = _fit(DPSettings(epochs=10, batch_size=1), n=3)
    assert trainer.run is not None and trainer.run.steps == 30
    assert trainer.run.rows_seen < 60 and len(trainer.run.losses) < 30
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert trainer.privacy_spent().epsilon <= 1.0


@pytest.mark.parametrize("mode", ["bk", "ghost", "hooks"])
def test_every_clipping_mode_gives_the_same_accounting_and_weights(mode: str) -> None:
    reference, ref_model = _fit(DPSettings(epochs=2, batch_size=32, clipping="ghost"), seed=3)
    trainer, model = _fit(DPSettings(epochs=2, batch_size=32, clipping=mode), seed=3)
    assert trainer.privacy_spent().epsilon == reference.privacy_spent().epsilon
    for a, b in zip(model.parameters(), ref_model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_a_loss_that_is_not_per_row_is_refused() -> None:
    trainer = DPTrainer("toy", DPSettings(epochs=1, batch_size=64), BUDGET, 0)
    trainer.prepare(_table(), SCHEMA)
    trainer.plan(200)
    model = torch.nn.Linear(1, 1)
    rows = torch.zeros((200, 2))
    with pytest.raises(ValueError, match="one loss per row"):
        trainer.train(model, torch.optim.SGD(model.parameters(), lr=0.1), rows,
                      lambda m, b: _loss(m, b).mean())


def test_steps_run_in_order_only() -> None:
    trainer = DPTrainer("toy", DPSettings(epochs=1, batch_size=64), BUDGET, 0)
    with pytest.raises(PluginError, match="prepare"):
        trainer.plan(10)
    trainer.prepare(_table(), SCHEMA)
    with pytest.raises(PluginError, match="prepare.*once"):
        trainer.prepare(_table(), SCHEMA)
    with pytest.raises(PluginError, match="plan"):
        trainer.release_histograms([np.ones(2)], "counts")
    trainer.plan(200)
    with pytest.raises(PluginError, match="before"):
        trainer.release_counts(np.ones(2), 0.1, "counts")
    with pytest.raises(PluginError, match="reserve"):
        trainer.release_histograms([np.ones(2)], "counts")
    with pytest.raises(PluginError, match="train"):
        trainer.privacy_spent()
    with pytest.raises(PluginError, match="planned for 200"):
        trainer.train(torch.nn.Linear(1, 1), torch.optim.SGD([torch.zeros(1)], lr=0.1),
                      torch.zeros((5, 2)), _loss)


def test_an_accountant_history_other_than_planned_is_an_error() -> None:
    trainer, _ = _fit(DPSettings(epochs=1, batch_size=64))
    assert trainer._private is not None
    trainer._private.accountant.history.append((1.0, 0.5, 1))
    with pytest.raises(PluginError, match="accountant recorded"):
        trainer.privacy_spent()


def test_the_budget_check_fails_closed() -> None:
    trainer = DPTrainer("toy", DPSettings(epochs=1, batch_size=64), BUDGET, 0)
    prepared = trainer.prepare(_table(), SCHEMA)
    prepared.train_epsilon = 5.0  # a bug that would calibrate for more than the budget
    rows = torch.zeros((200, 2))
    model = torch.nn.Linear(1, 1)
    trainer.plan(200)
    trainer.train(model, torch.optim.SGD(model.parameters(), lr=0.1), rows, _loss)
    with pytest.raises(BudgetError, match="exceed the budget"):
        trainer.privacy_spent()


def test_releases_are_paid_and_composed() -> None:
    trainer = DPTrainer("toy", DPSettings(epochs=1, batch_size=64), PrivacyBudget(2.0, 1e-5), 0)
    trainer.prepare(_table(), SCHEMA)
    noisy = trainer.release_counts(np.array([100.0, 50.0]), 0.1, "class counts")
    assert noisy.shape == (2,) and not np.allclose(noisy, [100, 50])
    schedule = trainer.plan(200, release_share=0.2)
    assert schedule.release_noise_multiplier is not None
    hist = trainer.release_histograms([np.array([150.0, 50.0])], "frequencies")
    assert len(hist) == 1
    model = torch.nn.Linear(1, 1)
    trainer.train(model, torch.optim.SGD(model.parameters(), lr=0.1), torch.zeros((200, 2)),
                  _loss)
    spent = trainer.privacy_spent()
    d = spent.details
    assert d["release_epsilon"] == pytest.approx(0.2)
    assert d["accountant_history"][0] == [schedule.release_noise_multiplier, 1.0, 1]
    assert spent.epsilon == pytest.approx(0.2 + d["train_epsilon"]) and spent.epsilon <= 2.0
    assert "Laplace releases" in spent.accountant
    assert [r["what"] for r in d["releases"]] == ["class counts", "frequencies"]


def test_no_budget_or_zero_delta_is_refused() -> None:
    with pytest.raises(BudgetError, match="budget"):
        DPTrainer("toy", DPSettings(epochs=1, batch_size=8), None, 0).prepare(_table(), SCHEMA)
    with pytest.raises(BudgetError, match="delta"):
        DPTrainer("toy", DPSettings(epochs=1, batch_size=8), PrivacyBudget(1.0, 0.0),
                  0).prepare(_table(), SCHEMA)
    with pytest.raises(InputError, match="clipping"):
        DPSettings(epochs=1, clipping="fast")


def test_dp_false_runs_the_same_schedule_and_says_it_is_not_private() -> None:
    private, _ = _fit(DPSettings(epochs=2, batch_size=32), seed=1)
    plain = DPTrainer("toy", DPSettings(epochs=2, batch_size=32, dp=False), None, 1)
    plain.prepare(_table(), SCHEMA)
    plain.plan(200)
    model = torch.nn.Linear(1, 1)
    run = plain.train(model, torch.optim.SGD(model.parameters(), lr=0.1), torch.zeros((200, 2)),
                      _loss)
    spent = plain.privacy_spent()
    assert spent.epsilon == math.inf and spent.accountant == NOT_PRIVATE
    assert "NOT" in spent.details["warning"].upper()
    assert private.run is not None and run.rows_seen == private.run.rows_seen  # same batches


def _weights(settings: DPSettings, seed: int) -> list[float]:
    _, model = _fit(settings, seed=seed)
    return [float(v) for p in model.parameters() for v in p.detach().reshape(-1)]


def test_seeded_fits_reproduce_and_secure_fits_do_not() -> None:
    seeded = DPSettings(epochs=2, batch_size=32)
    assert _weights(seeded, 5) == _weights(seeded, 5)
    assert _weights(seeded, 5) != _weights(seeded, 6)
    secure = DPSettings(epochs=2, batch_size=32, secure_rng=True)
    assert _weights(secure, 5) != _weights(secure, 5)
    trainer, _ = _fit(secure)
    spent = trainer.privacy_spent()
    assert spent.details["secure_rng"] is True and spent.details["noise_source"] == SECURE_SOURCE
    assert "os.urandom" in SECURE_SOURCE and "not reproducible" in SECURE_SOURCE


def test_the_record_round_trips() -> None:
    trainer, _ = _fit(DPSettings(epochs=1, batch_size=64, accountant="prv"))
    spent = trainer.privacy_spent()
    again = spent_from_dict(spent.to_dict(), "toy")
    assert again == spent
    assert AccountingInputs.from_spent(again).epsilon() == pytest.approx(spent.epsilon)
    with pytest.raises(InputError, match="incomplete"):
        spent_from_dict({"epsilon": 1.0}, "toy")


def test_accounting_inputs_name_what_is_missing() -> None:
    from privgate.generator import PrivacySpent

    for details in ({}, {"accountant": "gdp"}, {"accountant": "rdp"},
                    {"accountant": "rdp", "accountant_history": [[1.0, 0.1, 2.5]]}):
        with pytest.raises(InputError, match="accountant"):
            AccountingInputs.from_spent(PrivacySpent(1.0, 1e-5, "x", details))
    legacy: dict[str, Any] = {"accountant": "rdp", "noise_multiplier": 1.0,
                              "sample_rate": 0.01, "steps": 100}
    inputs = AccountingInputs.from_spent(PrivacySpent(1.0, 1e-5, "x", legacy))
    assert inputs.history == ((1.0, 0.01, 100),) and inputs.train_delta == 1e-5
