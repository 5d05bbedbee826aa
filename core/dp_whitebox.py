"""A white-box audit of privgate's own DP-SGD (:mod:`privgate.dp`) with gradient canaries.

It audits the DP layer itself -- clipping, noise scale, Poisson sampling and the accounting
that promises epsilon -- not a generator: a bug there (noise switched off, a sample rate the
accountant does not see) shows here, whatever model trains on top. ``m`` Dirac canaries, one
per coordinate of a linear model (canary ``i`` is a row ``1000 * e_i``, so its clipped gradient
is ``C * e_i``; every other row is zero and contributes nothing), are each inserted with
probability 1/2 into a table trained through :func:`privgate.dp.clipping.private_model` and
:func:`privgate.dp.loop.run_steps` -- the code every DP-SGD generator uses -- with the noise
the accountant calibrates for ``epsilon``. The auditor sees every intermediate model (white
box): in coordinate ``i`` a step moves by ``(C * [canary i sampled] + N(0, sigma^2 C^2)) / B``,
so each canary is scored by the log-likelihood ratio of its coordinate's moves under "in"
(a Poisson mixture of a shifted and a centred Gaussian per step) against "out". Guessing "in"
for the highest scores gives counts that core bounds in one run (Steinke, Nasr & Jagielski 2023,
:mod:`privgate.dp_audit_bounds`).

The table size is chosen so that the Poisson sample rate ``1 / batches`` is the same whichever
canaries are in (``(batches - 1) * B + 1`` zero rows, ``B = m + 1``).

:func:`generator_whitebox_audit` runs the same canaries through a DP-SGD generator's OWN
trainer (:meth:`privgate.dp.DPSGDGenerator.trainer`: its accountant, calibration, sampling,
clipping and noise, subclass overrides included), calibrated for the epsilon the generator
claims: a generator whose trainer mis-calibrates (a sample rate the accountant does not see,
noise off) shows it, whatever its model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray
from torch.utils.data import DataLoader, TensorDataset

from privgate.dp.accounting import noise_multiplier_for, spent_epsilon
from privgate.dp.clipping import PrivateModel, private_model
from privgate.dp.generator import DPSGDGenerator
from privgate.dp.loop import run_steps
from privgate.dp_audit_bounds import one_run_epsilon
from privgate.generator import PrivacyBudget
from privgate.operating_points import CanaryGuesses
from privgate.randomness import child_seed, rng
from privgate.schema import Column, Kind, Schema

__all__ = ["WhiteBoxAudit", "generator_whitebox_audit", "whitebox_audit"]

#: Shares of the canaries guessed "in" (highest scores first); fixed in advance.
GUESS_SHARES = (0.05, 0.1, 0.25)


@dataclass(frozen=True)
class WhiteBoxAudit:
    """What one white-box run shows: the epsilon the accountant promised for the schedule,
    the canary guesses and the largest epsilon they refute at ``level`` (Bonferroni over the
    guess sets)."""

    claimed_epsilon: float
    delta: float
    noise_multiplier: float
    sample_rate: float
    steps: int
    guesses: tuple[CanaryGuesses, ...]
    epsilon_lower_bound: float
    level: float

    @property
    def refuted(self) -> bool:
        return self.epsilon_lower_bound > self.claimed_epsilon


def _scores(moves: NDArray[np.float64], sigma: float, q: float) -> NDArray[np.float64]:
    """Per canary: the log-likelihood ratio of its coordinate's normalised moves (one row per
    step; +1 when sampled, plus N(0, sigma^2)) under "in" against "out"."""
    if sigma <= 0.0:  # no noise: a sampled canary moves its coordinate, nothing else does
        counted: NDArray[np.float64] = (moves > 0.5).sum(axis=0).astype(np.float64)
        return counted
    shifted = (moves - 0.5) / sigma**2  # log N(z; 1, s) - log N(z; 0, s)
    ratio: NDArray[np.float64] = np.logaddexp(math.log1p(-q), math.log(q) + shifted).sum(axis=0)
    return ratio


def _canary_rows(m: int, n_batches: int, seed: int) -> tuple[NDArray[np.float32],
                                                               NDArray[np.int64]]:
    """The training rows (each canary ``1000 * e_i`` on its coin, zero rows elsewhere) and the
    coins."""
    draws = rng(seed, "dp-whitebox", "canaries")
    inserted = draws.integers(0, 2, m)
    rows = np.zeros(((n_batches - 1) * (m + 1) + 1 + int(inserted.sum()), m), dtype=np.float32)
    rows[np.arange(int(inserted.sum())), np.nonzero(inserted)[0]] = 1000.0
    return rows[draws.permutation(len(rows))], inserted


def _watch(m: int) -> tuple[list[NDArray[np.float64]], list[float], Any]:
    """The models seen after each step, the expected batch size, and the hook that records."""
    seen, scale = [np.zeros(m)], [float(m + 1)]

    def watch(p: PrivateModel) -> None:
        seen.append(next(p.module.parameters()).detach().numpy().ravel().astype(float).copy())
        scale[0] = float(getattr(p.optimizer, "expected_batch_size", m + 1) or m + 1)

    return seen, scale, watch


def _audit(seen: list[NDArray[np.float64]], scale: float, max_grad_norm: float, sigma: float,
           q: float, inserted: NDArray[np.int64], delta: float, level: float
           ) -> tuple[tuple[CanaryGuesses, ...], float]:
    """The guesses (highest likelihood ratios "in") and the largest epsilon they refute."""
    m = len(inserted)
    moves = np.diff(np.stack(seen), axis=0) * scale / max_grad_norm
    order = np.argsort(-_scores(moves, sigma, q), kind="mergesort")
    found = tuple(CanaryGuesses(f"'in' for the {k} highest likelihood ratios", m, k,
                                int(inserted[order[:k]].sum()))
                  for k in sorted({max(1, int(round(s * m))) for s in GUESS_SHARES}))
    alpha = (1.0 - level) / len(found)
    return found, max(one_run_epsilon(g.canaries, g.guesses, g.correct, delta, alpha)
                      for g in found)


def _check(canaries: int, batches: int, epochs: int) -> None:
    if canaries < 10 or batches < 2 or epochs < 1:
        raise ValueError("need canaries >= 10, batches >= 2 and epochs >= 1")


def _loss(module: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
    out: torch.Tensor = -module(batch).squeeze(-1)
    return out


def _linear(m: int, seed: int) -> torch.nn.Linear:
    torch.manual_seed(child_seed(seed, "dp-whitebox", "init"))
    model = torch.nn.Linear(m, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    return model


def whitebox_audit(epsilon: float, delta: float = 1e-5, *, canaries: int = 500,
                   batches: int = 10, epochs: int = 2, max_grad_norm: float = 1.0,
                   mode: str = "hooks", accountant: str = "rdp", seed: int = 0,
                   level: float = 0.95, noise_multiplier: float | None = None
                   ) -> WhiteBoxAudit:
    """One white-box run at the noise calibrated for ``epsilon`` (or at ``noise_multiplier``,
    to audit a broken setting against the ``epsilon`` still claimed)."""
    _check(canaries, batches, epochs)
    m, n_batches = int(canaries), int(batches)
    q, steps = 1.0 / n_batches, int(epochs) * n_batches
    sigma = (noise_multiplier_for(epsilon, delta, q, steps, accountant)
             if noise_multiplier is None else float(noise_multiplier))
    rows, inserted = _canary_rows(m, n_batches, seed)
    model = _linear(m, seed)
    loader = DataLoader(TensorDataset(torch.from_numpy(rows)), batch_size=m + 1,
                        generator=torch.Generator().manual_seed(child_seed(seed, "dp-whitebox",
                                                                           "batches")))
    private, batched = private_model(
        model, torch.optim.SGD(model.parameters(), lr=1.0), loader, mode=mode,
        noise_multiplier=sigma, max_grad_norm=max_grad_norm, accountant=accountant,
        noise=torch.Generator().manual_seed(child_seed(seed, "dp-whitebox", "noise")),
        owner="white-box audit")
    seen, scale, watch = _watch(m)
    run_steps(private, batched, steps, _loss, after_step=watch)
    found, bound = _audit(seen, scale[0], max_grad_norm, sigma, q, inserted, delta, level)
    return WhiteBoxAudit(spent_epsilon(sigma, q, steps, delta, accountant)
                         if noise_multiplier is None else float(epsilon),
                         delta, sigma, q, steps, found, bound, level)


def generator_whitebox_audit(generator: DPSGDGenerator, epsilon: float, delta: float, *,
                             canaries: int = 1000, batches: int = 10, epochs: int = 20,
                             seed: int = 0, level: float = 0.95) -> WhiteBoxAudit:
    """Dirac canaries through ``generator``'s own trainer, its noise calibrated for the
    (``epsilon``, ``delta``) it claims, ``epochs`` passes of ``batches`` expected batches (the
    generator's other DP-SGD parameters as set); the claim audited is the epsilon the trainer
    then reports."""
    _check(canaries, batches, epochs)
    m, n_batches = int(canaries), int(batches)
    params = {**generator.checked_params(), "epochs": int(epochs)}
    trainer = generator.trainer(params, PrivacyBudget(epsilon, delta), seed, batch_size=m + 1)
    rows, inserted = _canary_rows(m, n_batches, seed)
    trainer.prepare(pd.DataFrame({"x": np.zeros(len(rows))}),
                    Schema((Column("x", Kind.CONTINUOUS, bounds=(0.0, 1.0)),)))
    schedule = trainer.plan(len(rows), batch_size=m + 1)
    seen, scale, watch = _watch(m)
    model = _linear(m, seed)
    trainer.train(model, torch.optim.SGD(model.parameters(), lr=1.0),
                  torch.from_numpy(rows), _loss, after_step=watch,
                  on_step=lambda done, total: None)
    spent = trainer.privacy_spent()
    found, bound = _audit(seen, scale[0], trainer.settings.max_grad_norm,
                          schedule.noise_multiplier, schedule.sample_rate, inserted,
                          float(spent.delta), level)
    return WhiteBoxAudit(float(spent.epsilon), float(spent.delta), schedule.noise_multiplier,
                         schedule.sample_rate, schedule.steps, found, bound, level)
