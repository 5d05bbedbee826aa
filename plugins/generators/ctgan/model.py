"""The ``dpsgd-ctgan`` networks, output activations and losses.

* :class:`CTGANGenerator`: CTGAN's residual MLP (``Linear -> BatchNorm -> ReLU`` blocks whose
  output is concatenated to their input). BatchNorm mixes rows, which is fine here: the generator
  only ever sees noise and conditional vectors, never a real row.
* :class:`Discriminator`: ``Linear -> LeakyReLU(0.2) -> Dropout(0.5)`` blocks and a linear
  logit, as in CTGAN, but without "pac" packing (a pack of several rows would be one DP-SGD
  sample holding several records, multiplying the sensitivity) and with a logistic
  (non-saturating GAN) loss instead of WGAN-GP: the gradient penalty needs a second-order
  backward pass that opacus' per-sample clipping does not support. Only ``nn.Linear`` carries
  parameters, so opacus' ghost clipping applies, and each layer is used once per forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from privgate.plugins.generators.ctgan.encoding import CTGANEncoding


class _Residual(nn.Module):
    """``cat([relu(bn(linear(x))), x])`` (CTGAN's generator block)."""

    def __init__(self, i: int, o: int) -> None:
        super().__init__()
        self.fc = nn.Linear(i, o)
        self.bn = nn.BatchNorm1d(o)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.relu(self.bn(self.fc(x))), x], dim=1)


class CTGANGenerator(nn.Module):
    """Noise ``z`` and conditional vector in, raw (pre-activation) encoded row out."""

    def __init__(self, z_dim: int, cond_dim: int, hidden: Sequence[int], out_dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = z_dim + cond_dim
        for h in hidden:
            layers.append(_Residual(width, h))
            width += h
        layers.append(nn.Linear(width, out_dim))
        self.net = nn.Sequential(*layers)
        self.z_dim = z_dim

    def forward(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([z, cond], dim=1))


class Discriminator(nn.Module):
    """Encoded row with its conditional vector in, one logit ("real") out."""

    def __init__(self, in_dim: int, hidden: Sequence[int], dropout: float = 0.5) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2), nn.Dropout(dropout)]
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class LogisticLoss(nn.Module):
    """Binary cross-entropy on the discriminator's logits, one value per row.

    ``reduction`` follows torch (``"mean"``, ``"sum"``, ``"none"``); opacus' ghost-clipping
    wrapper switches it to ``"none"`` to get the per-row losses behind the clipping
    coefficients, so the output must be 1-D (a ``(N, 1)`` loss would broadcast against the
    ``(N,)`` coefficients).
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return nn.functional.binary_cross_entropy_with_logits(
            logits.reshape(-1), target, reduction=self.reduction)


class Activation:
    """CTGAN's output activations for training: ``tanh`` on offsets, Gumbel-softmax
    (temperature ``tau``) on every one-hot block, so the discriminator sees near-one-hot rows.
    Randomness comes from torch's global generator (seeded by the caller)."""

    def __init__(self, encoding: CTGANEncoding, tau: float = 0.2) -> None:
        self.tau = tau
        self.blocks = [(s.onehot_start, s.onehot_end) for s in encoding.spans]
        self.offsets = torch.tensor([s.offset for s in encoding.spans if s.offset >= 0],
                                    dtype=torch.long)
        self.width = encoding.width
        # the generator's logits of each categorical block, in conditional-vector order
        self.cond_blocks = [(s.onehot_start, s.onehot_end) for s in encoding.cond_spans]

    def __call__(self, raw: torch.Tensor) -> torch.Tensor:
        parts = torch.empty_like(raw)
        for a, b in self.blocks:
            parts[:, a:b] = nn.functional.gumbel_softmax(raw[:, a:b], tau=self.tau, hard=False)
        if len(self.offsets):
            parts[:, self.offsets] = torch.tanh(raw[:, self.offsets])
        return parts

    def cond_loss(self, raw: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy between the conditioned column's logits and the condition.

        ``cond`` has exactly one categorical block set per row, so summing the per-block
        cross-entropies picks the conditioned column's (CTGAN's generator condition loss).
        """
        if not self.cond_blocks:
            return raw.new_zeros(())
        loss = raw.new_zeros(len(raw))
        c = 0
        for a, b in self.cond_blocks:
            logp = torch.log_softmax(raw[:, a:b], dim=1)
            loss = loss - (cond[:, c:c + b - a] * logp).sum(dim=1)
            c += b - a
        return loss.mean()
