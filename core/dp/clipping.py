"""The clipping modes of DP-SGD behind one interface, :class:`PrivateModel`.

A model under training is driven by *per-row losses*: the caller's loss function returns one
loss per row of the batch (shape ``(rows,)``), and :meth:`PrivateModel.step` turns them into
one DP-SGD step in the chosen mode:

* ``"bk"`` -- one-backward book-keeping clipping (:mod:`privgate.dp.bk_clipping`), for models
  made only of ``nn.Linear`` layers, each used once per pass on 2-D inputs;
* ``"ghost"`` -- opacus' ghost clipping (norms from activations, a second backward pass);
* ``"hooks"`` -- opacus' per-sample gradients.

All three clip each row's gradient to ``max_grad_norm``; the noise, averaging over the expected
Poisson batch size, the optimizer step and the accountant's step hook are opacus' own
(``DPOptimizer`` / ``DPOptimizerFastGradientClipping``), so the guarantee is the same.
:func:`plain_model` gives the same interface without clipping or noise (``dp = false``, the
overhead benchmark only).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from privgate.dp.bk_clipping import BookKeepingClipper

#: The clipping modes (``grad_sample_mode``) the DP layer offers.
CLIPPING_MODES: tuple[str, ...] = ("bk", "ghost", "hooks")

#: ``loss(module, batch)`` -> one loss per row of ``batch``.
RowLoss = Callable[[nn.Module, torch.Tensor], torch.Tensor]


def mean_of_rows(per_row: torch.Tensor) -> torch.Tensor:
    """The mean of the per-row losses; 0 for an empty Poisson batch (not NaN)."""
    return per_row.sum() / max(len(per_row), 1)


def _backward_mean(per_row: torch.Tensor) -> None:
    """Back-propagate the mean of the per-row losses (opacus' hooks and plain steps)."""
    mean_of_rows(per_row).backward()  # type: ignore[no-untyped-call]


class PrivateModel:
    """A model being trained with DP-SGD in one clipping mode.

    Attributes:
        module: what the loss function calls (opacus' wrapper, or the model itself).
        accountant: the opacus accountant charged by every optimizer step (``None`` without
            DP-SGD).
    """

    def __init__(self, module: nn.Module, optimizer: torch.optim.Optimizer,
                 backward: Callable[[torch.Tensor], None], accountant: Any, *,
                 hooks: Callable[[bool], None] = lambda on: None,
                 close: Callable[[], None] = lambda: None,
                 start: Callable[[], None] = lambda: None) -> None:
        self.module = module
        self.optimizer = optimizer
        self.accountant = accountant
        self._backward = backward
        self._hooks = hooks
        self._close = close
        self._start = start

    def step(self, batch: torch.Tensor, loss: RowLoss) -> torch.Tensor:
        """One step on ``batch``; returns the (detached) per-row losses.

        An empty Poisson batch is a step too: the accountant charges it and the optimizer adds
        pure noise to zero gradients, so it must not be skipped (skipping would reveal that the
        batch was empty).
        """
        self.optimizer.zero_grad()
        self._start()
        per_row = loss(self.module, batch)
        if per_row.dim() != 1:
            raise ValueError(f"the loss function must return one loss per row (a 1-D tensor), "
                             f"got shape {tuple(per_row.shape)}")
        self._backward(per_row)
        self.optimizer.step()
        return per_row.detach()

    @contextmanager
    def paused(self) -> Iterator[nn.Module]:
        """Use the model outside a private step (e.g. a GAN's generator step through the
        private discriminator): no per-row bookkeeping, parameters frozen so no gradient is
        left behind. Yields the module to call."""
        params = [p for p in self.module.parameters() if p.requires_grad]
        self._hooks(False)
        for p in params:
            p.requires_grad_(False)
        try:
            yield self.module
        finally:
            for p in params:
                p.requires_grad_(True)
            self._hooks(True)

    def history(self) -> list[tuple[float, float, int]]:
        """The accountant's record: ``(noise multiplier, sample rate, steps)`` entries."""
        if self.accountant is None:
            return []
        return [(float(s), float(q), int(k)) for s, q, k in self.accountant.history]

    def close(self) -> None:
        """Detach every hook: the trained model is plain torch again."""
        self._close()


class _RowMean(nn.Module):
    """A placeholder criterion for ``make_private`` (the losses come from the caller)."""

    reduction = "mean"

    def forward(self, per_row: torch.Tensor, target: Any = None) -> torch.Tensor:
        return mean_of_rows(per_row)


def private_model(model: nn.Module, optimizer: torch.optim.Optimizer,
                  loader: DataLoader[Any], *, mode: str, noise_multiplier: float,
                  max_grad_norm: float, accountant: str, noise: torch.Generator, owner: str
                  ) -> tuple[PrivateModel, DataLoader[Any]]:
    """DP-SGD with Poisson sampling over ``loader``'s dataset (its generator draws the
    batches; ``noise`` draws the Gaussian noise). Returns the private model and the Poisson
    loader."""
    if mode == "bk":
        return _book_keeping(model, optimizer, loader, noise_multiplier=noise_multiplier,
                             max_grad_norm=max_grad_norm, accountant=accountant, noise=noise,
                             owner=owner)
    if mode not in CLIPPING_MODES:
        raise ValueError(f"{owner}: clipping mode {mode!r} is not one of {CLIPPING_MODES}")
    # opacus imports are local: importing opacus is slow and only fitting needs it.
    from opacus import PrivacyEngine

    with warnings.catch_warnings():
        # The noise source is recorded in every PrivacySpent; not news at every fit.
        warnings.filterwarnings("ignore", message=".*[Ss]ecure RNG.*")
        warnings.filterwarnings("ignore", message=".*[Oo]ptimal order.*")
        engine = PrivacyEngine(accountant=accountant)
        made = engine.make_private(
            module=model, optimizer=optimizer, criterion=_RowMean(), data_loader=loader,
            noise_multiplier=noise_multiplier, max_grad_norm=max_grad_norm,
            grad_sample_mode=mode, poisson_sampling=True, noise_generator=noise)
    dp_model, dp_optimizer, dp_loader = made[0], made[1], made[-1]
    if mode == "ghost":
        from opacus.utils.fast_gradient_clipping_utils import DPTensorFastGradientClipping

        def backward(per_row: torch.Tensor) -> None:
            loss = DPTensorFastGradientClipping(dp_model, dp_optimizer, per_row, "mean")
            loss.backward()
    else:
        backward = _backward_mean

    def hooks(on: bool) -> None:
        (dp_model.enable_hooks if on else dp_model.disable_hooks)()

    return (PrivateModel(dp_model, dp_optimizer, backward, engine.accountant, hooks=hooks,
                         close=dp_model.cleanup), dp_loader)


def _book_keeping(model: nn.Module, optimizer: torch.optim.Optimizer,
                  loader: DataLoader[Any], *,
                  noise_multiplier: float, max_grad_norm: float, accountant: str,
                  noise: torch.Generator, owner: str) -> tuple[PrivateModel, DataLoader[Any]]:
    """One-backward clipping; Poisson sampling, noise, averaging and accounting set up exactly
    as ``PrivacyEngine.make_private`` does for ghost clipping."""
    from opacus.accountants import create_accountant
    from opacus.data_loader import DPDataLoader
    from opacus.optimizers import DPOptimizerFastGradientClipping

    dp_loader = DPDataLoader.from_data_loader(loader)
    sample_rate = 1 / len(dp_loader)
    acc = create_accountant(accountant)
    dp_optimizer = DPOptimizerFastGradientClipping(
        optimizer, noise_multiplier=noise_multiplier, max_grad_norm=max_grad_norm,
        expected_batch_size=int(len(loader.dataset) * sample_rate),  # type: ignore[arg-type]
        loss_reduction="mean", generator=noise)
    dp_optimizer.attach_step_hook(acc.get_optimizer_hook_fn(sample_rate=sample_rate))
    clipper = BookKeepingClipper(model, max_grad_norm, owner)

    def backward(per_row: torch.Tensor) -> None:
        clipper.clipped_grads(per_row)

    def hooks(on: bool) -> None:
        clipper.recording = on

    return (PrivateModel(model, dp_optimizer, backward, acc, hooks=hooks, close=clipper.remove,
                         start=clipper.start), dp_loader)


def plain_model(model: nn.Module, optimizer: torch.optim.Optimizer, loader: DataLoader[Any]
                ) -> tuple[PrivateModel, DataLoader[Any]]:
    """The same schedule (Poisson batches from ``loader``'s generator) with ordinary steps: no
    clipping, no noise, NOT differentially private."""
    from opacus.data_loader import DPDataLoader

    return (PrivateModel(model, optimizer, _backward_mean, None),
            DPDataLoader.from_data_loader(loader))
