"""The opacus wiring the DP-SGD generators share: one training step, and ``make_private``.

Ghost clipping and per-sample-gradient hooks are opacus' own modes; both go through
:func:`opacus_dp_sgd` so that every generator gets the same Poisson sampling, the same seeded
noise and the same warning policy.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch.utils.data import DataLoader


def plain_step(model: torch.nn.Module, optimizer: Any, criterion: Any
               ) -> Callable[[torch.Tensor], float]:
    """One ordinary step (opacus' wrappers make it a DP-SGD step); returns the batch loss,
    0.0 for an empty Poisson batch."""
    def step(batch: torch.Tensor) -> float:
        optimizer.zero_grad()
        loss = criterion(model(batch), batch)
        loss.backward()
        optimizer.step()
        return float(loss.item()) if len(batch) else 0.0
    return step


def opacus_dp_sgd(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                  criterion: torch.nn.Module, loader: DataLoader, noise_multiplier: float,
                  p: Mapping[str, Any], seed: int
                  ) -> tuple[Any, Callable[[torch.Tensor], float], Any, Callable[[], None]]:
    """opacus' DP-SGD with Poisson sampling; ``p`` holds ``accountant``, ``max_grad_norm`` and
    ``grad_sample_mode`` (``"ghost"`` or ``"hooks"``). Returns (engine, step, loader,
    cleanup)."""
    # opacus imports are local: importing opacus is slow and only fitting needs it.
    from opacus import PrivacyEngine

    with warnings.catch_warnings():
        # secure_rng is recorded as False in each generator's privacy details; not news at
        # every fit.
        warnings.filterwarnings("ignore", message=".*[Ss]ecure RNG.*")
        warnings.filterwarnings("ignore", message=".*[Oo]ptimal order.*")
        engine = PrivacyEngine(accountant=p["accountant"])
        made = engine.make_private(
            module=model, optimizer=optimizer, criterion=criterion, data_loader=loader,
            noise_multiplier=noise_multiplier, max_grad_norm=p["max_grad_norm"],
            grad_sample_mode=p["grad_sample_mode"], poisson_sampling=True,
            noise_generator=torch.Generator().manual_seed(seed + 3))
    if p["grad_sample_mode"] == "ghost":
        dp_model, dp_optimizer, dp_criterion, dp_loader = made
    else:
        dp_model, dp_optimizer, dp_loader = made
        dp_criterion = criterion
    return engine, plain_step(dp_model, dp_optimizer, dp_criterion), dp_loader, \
        dp_model.cleanup
