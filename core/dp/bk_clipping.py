"""Per-row gradient clipping in one backward pass ("book-keeping") for MLPs of ``nn.Linear``.

opacus' ghost clipping computes each row's gradient norm from the layers' activations and
output gradients without materialising per-row gradients, then runs a *second* backward pass on
the loss reweighted by the clipping coefficients. For a network whose only parameters are
``nn.Linear`` layers applied once per forward pass to 2-D inputs, the second pass is not needed
(the "book-keeping" trick of Bu et al., "Differentially private optimization on large model at
small cost", ICML 2023):

* row ``i``'s gradient of a layer's weight is ``g_i a_i^T`` (``a_i`` the layer's input row,
  ``g_i`` the gradient of row ``i``'s loss with respect to the layer's output row) and of its
  bias ``g_i``, so its squared norm is ``|g_i|^2 |a_i|^2 + |g_i|^2`` -- the formula opacus
  uses in ``compute_linear_norm_sample``;
* the sum of the clipped per-row gradients is ``G^T diag(c) A`` (and ``c^T G`` for the bias),
  with ``c_i = min(1, C / (|grad_i| + 1e-6))``, opacus' clipping factor.

One backward pass computes every ``G``, and the clipped sums cost one matrix product per layer.
Noise, averaging over the expected batch size and the optimizer step stay opacus' own
(``DPOptimizerFastGradientClipping`` adds ``N(0, (sigma C)^2)`` to the clipped sum it finds in
``p.grad``), and so does accounting. The result is the same DP-SGD step as opacus' ghost
clipping; the test suite checks that both train the same weights from the same seed. Measured
cost: ``benchmarks/results/generators.md`` and ``dpsgd_modes.md``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from privgate.errors import N_, PluginError


class BookKeepingClipper:
    """Records each ``nn.Linear``'s input and output during a forward pass, then writes the sum
    of the clipped per-row gradients into ``p.grad``.

    Args:
        model: a module whose trainable parameters all belong to ``nn.Linear`` layers, each
            applied at most once per forward pass to a 2-D input.
        max_grad_norm: the clipping norm ``C``.
        owner: how error messages name the caller.
    """

    def __init__(self, model: nn.Module, max_grad_norm: float, owner: str) -> None:
        self.max_grad_norm = float(max_grad_norm)
        self.owner = owner
        self.linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        covered = {id(p) for m in self.linears for p in m.parameters()}
        foreign = [n for n, p in model.named_parameters()
                   if p.requires_grad and id(p) not in covered]
        if foreign:
            raise PluginError(N_("%(owner)s: book-keeping clipping supports nn.Linear "
                                 "parameters only; %(foreign)s are not (use "
                                 "grad_sample_mode='ghost')"), owner=owner, foreign=foreign)
        self._records: list[tuple[nn.Linear, torch.Tensor, torch.Tensor]] = []
        #: False while the model runs outside a private step (nothing is recorded).
        self.recording = True
        self._handles = [m.register_forward_hook(self._hook) for m in self.linears]

    def _hook(self, module: nn.Module, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        if not self.recording:
            return
        assert isinstance(module, nn.Linear)
        if inputs[0].dim() != 2:
            raise PluginError(N_("%(owner)s: book-keeping clipping needs 2-D inputs to "
                                 "nn.Linear, got shape %(shape)s"),
                              owner=self.owner, shape=tuple(inputs[0].shape))
        self._records.append((module, inputs[0].detach(), output))

    def start(self) -> None:
        """Forget what earlier forward passes recorded (call before each private step)."""
        self._records = []

    def forward(self, model: nn.Module, batch: torch.Tensor) -> Any:
        """Run ``model(batch)`` recording what the clipping needs."""
        self.start()
        return model(batch)

    def clipped_grads(self, per_row_loss: torch.Tensor) -> torch.Tensor:
        """Set ``p.grad`` of every layer to the sum of the clipped per-row gradients of
        ``per_row_loss`` (shape ``(rows,)``); returns the per-row gradient norms."""
        layers = [m for m, _, _ in self._records]
        if len(set(map(id, layers))) != len(layers):
            raise PluginError(N_("%(owner)s: an nn.Linear ran twice in one forward pass; "
                                 "book-keeping clipping needs each layer once per pass"),
                              owner=self.owner)
        rows = per_row_loss.shape[0]
        if rows == 0:  # an empty Poisson batch: zero gradients, noise still comes
            for m in self.linears:
                for p in m.parameters():
                    p.grad = torch.zeros_like(p)
            return per_row_loss.new_zeros(0)
        outputs = [z for _, _, z in self._records]
        grads = torch.autograd.grad(per_row_loss.sum(), outputs, allow_unused=True)
        sq = per_row_loss.new_zeros(rows)
        for (m, a, _), g in zip(self._records, grads, strict=True):
            if g is None:
                continue
            g2 = g.pow(2).sum(dim=1)
            sq = sq + g2 * a.pow(2).sum(dim=1)
            if m.bias is not None:
                sq = sq + g2
        norms = sq.sqrt()
        coef = (self.max_grad_norm / (norms + 1e-6)).clamp(max=1.0)
        seen: set[int] = set()
        for (m, a, _), g in zip(self._records, grads, strict=True):
            seen.add(id(m))
            if g is None:
                m.weight.grad = torch.zeros_like(m.weight)
                if m.bias is not None:
                    m.bias.grad = torch.zeros_like(m.bias)
                continue
            gc = g * coef[:, None]
            m.weight.grad = gc.t() @ a
            if m.bias is not None:
                m.bias.grad = gc.sum(dim=0)
        for m in self.linears:  # layers the forward pass did not reach
            if id(m) not in seen:
                for p in m.parameters():
                    p.grad = torch.zeros_like(p)
        self._records = []
        return norms.detach()

    def remove(self) -> None:
        """Detach the forward hooks."""
        for h in self._handles:
            h.remove()
        self._handles = []
