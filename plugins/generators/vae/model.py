"""The network and loss of ``dpsgd-vae``: a (conditional) tabular VAE built for DP-SGD.

Constraints from DP-SGD's one-backward and ghost clipping (:mod:`privgate.dp.clipping`): only
``nn.Linear`` layers and element-wise activations (both compute per-row gradient norms from
activations and output gradients; BatchNorm would mix rows and break per-row privacy), and no
layer used twice per forward pass (no parameter tying).

Conditional decoding (a CVAE, Sohn et al. 2015): when a categorical *condition column* is
chosen (by default the schema's target), the decoder reads its one-hot value beside the latent
code, ``p(x | z, c)``, and a categorical prior ``p(c)`` is learnt in the same DP-SGD steps. The
prior is an ``nn.Linear(1, k)`` fed a constant 1 -- a layer ghost clipping supports, so the
prior's gradient is clipped and noised with the rest of the row's gradient and costs no extra
budget. Sampling draws ``c`` from that prior, or fixes it when the caller conditions on it,
which makes ``sample(n, conditions={target: value})`` exact and cheap (no rejection).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from privgate.plugins.generators.vae.encoding import Block

# Bounds of the decoder's per-value standard deviation for numeric columns (on the [0, 1]
# scale the encoder uses). The floor keeps the Gaussian likelihood from collapsing onto single
# values; the ceiling keeps noisy early steps from blowing the variance up.
SIGMA_MIN = 0.01
SIGMA_MAX = 0.5


def mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class VAE(nn.Module):
    """Encoder/decoder MLPs, optionally conditioned on one categorical block of the input.

    ``forward(x)`` returns ``(decoder_output, mu, logvar, prior_logits)``; ``prior_logits`` is
    ``(rows, 0)`` without a condition. The reparameterisation noise is drawn from a private
    ``torch.Generator`` so that fits are reproducible without touching torch's global random
    state.

    Args:
        in_width: width of the encoded rows (the condition block included).
        out_width: width of the decoder output (:attr:`VAEEncoding.out_width`).
        hidden: encoder hidden widths; the decoder mirrors them.
        latent_dim: width of the latent Gaussian.
        seed: seeds the reparameterisation noise.
        condition: ``(start, end)`` of the condition's one-hot block in the input, or ``None``.
    """

    def __init__(self, in_width: int, out_width: int, hidden: Sequence[int], latent_dim: int,
                 seed: int, condition: tuple[int, int] | None = None) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.condition = condition
        self.cond_width = 0 if condition is None else condition[1] - condition[0]
        self.encoder = mlp([in_width, *hidden, 2 * latent_dim])
        self.decoder = mlp([latent_dim + self.cond_width, *reversed(hidden), out_width])
        self.prior = nn.Linear(1, self.cond_width) if self.cond_width else None
        self.noise = torch.Generator().manual_seed(seed)

    def forward(self, x: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode, draw ``z`` by reparameterisation, decode (given the condition)."""
        h = self.encoder(x)
        mu, logvar = h[:, :self.latent_dim], h[:, self.latent_dim:].clamp(-10.0, 10.0)
        eps = torch.randn(mu.shape, generator=self.noise, dtype=mu.dtype)
        z = mu + eps * torch.exp(0.5 * logvar)
        if self.condition is None or self.prior is None:
            return self.decoder(z), mu, logvar, x.new_zeros((len(x), 0))
        c = x[:, self.condition[0]:self.condition[1]]
        prior = self.prior(x.new_ones((len(x), 1)))
        return self.decoder(torch.cat([z, c], dim=1)), mu, logvar, prior

    def prior_probs(self) -> np.ndarray:
        """The learnt distribution of the condition block's slots (empty without one)."""
        if self.prior is None:
            return np.zeros(0)
        with torch.no_grad():
            logits = self.prior(torch.ones((1, 1)))[0].double()
            return torch.softmax(logits, dim=0).numpy()

    def generate(self, z: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        """Decoder output for latent codes ``z`` and one-hot conditions (ignored without)."""
        if self.cond_width == 0 or condition is None:
            return self.decoder(z)
        return self.decoder(torch.cat([z, condition.to(z.dtype)], dim=1))


class VAELoss(nn.Module):
    """Negative ELBO per row: per-column reconstruction terms, the weighted KL divergence and,
    for a conditional model, the condition's negative log-prior.

    * categorical columns, binned numeric columns and their decimals blocks: softmax
      cross-entropy against the one-hot block (its "missing" slot included; a value outside the
      declared domain encodes as an all-zero block and so contributes nothing);
    * gaussian numeric columns: Gaussian negative log-likelihood with a decoder-predicted
      standard deviation, masked out where the value is missing, plus binary cross-entropy on
      the missing indicator;
    * ``beta`` x KL(q(z|x) || N(0, I));
    * the condition block is not reconstructed (the decoder reads it); its cross-entropy under
      the learnt prior is added instead.

    ``reduction`` follows the torch convention (``"mean"``, ``"sum"`` or ``"none"``); opacus'
    ghost-clipping wrapper flips it to ``"none"`` to get the per-row losses it needs for the
    clipping coefficients.
    """

    def __init__(self, blocks: Sequence[Block], beta: float = 1.0,
                 reduction: str = "mean", condition: Block | None = None,
                 weighting: str = "uniform") -> None:
        super().__init__()
        self.blocks = [b for b in blocks if condition is None or b.column != condition.column]
        self.condition = condition
        self.beta = beta
        self.reduction = reduction
        self.weighting = weighting
        self.weights = column_weights(self.blocks, weighting)

    def forward(self, output: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
                target: torch.Tensor) -> torch.Tensor:
        """The loss of ``output = model(target)`` reduced as ``self.reduction`` says."""
        recon, mu, logvar, prior = output
        loss = self.beta * 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)
        if self.condition is not None:
            c = self.condition
            loss = loss - (target[:, c.start:c.end] * torch.log_softmax(prior, dim=1)).sum(dim=1)
        for b, w in zip(self.blocks, self.weights, strict=True):
            o = b.out_start
            if b.softmax:
                logp = torch.log_softmax(recon[:, o:b.out_end], dim=1)
                loss = loss - w * (target[:, b.start:b.end] * logp).sum(dim=1)
                continue
            value = target[:, b.start]
            mean = recon[:, o]
            sigma = SIGMA_MIN + (SIGMA_MAX - SIGMA_MIN) * torch.sigmoid(recon[:, o + 1])
            nll = 0.5 * ((value - mean) / sigma).pow(2) + torch.log(sigma)
            if b.has_missing:
                missing = target[:, b.start + 1]
                nll = nll * (1.0 - missing)
                loss = loss + nn.functional.binary_cross_entropy_with_logits(
                    recon[:, o + 2], missing, reduction="none")
            loss = loss + nll
        if self.reduction == "none":
            return loss
        if self.reduction == "sum":
            return loss.sum()
        return loss.sum() / max(len(loss), 1)  # an empty Poisson batch has loss 0, not NaN


WEIGHTINGS = ("uniform", "entropy")


def column_weights(blocks: Sequence[Block], weighting: str) -> list[float]:
    """Per-block weights of the reconstruction terms.

    ``"uniform"``: every block 1. ``"entropy"``: a softmax block over ``k`` slots gets
    ``1 / log(k)`` (the loss of a uniform guess becomes 1 for every column, so a 2-way
    categorical counts as much as a 74-bin age instead of six times less), then all weights are
    rescaled to average 1 so the balance with the KL term is unchanged; gaussian blocks keep 1
    before rescaling.
    """
    if weighting == "uniform" or not blocks:
        return [1.0] * len(blocks)
    raw = [1.0 / float(np.log(max(b.end - b.start, 2))) if b.softmax else 1.0 for b in blocks]
    scale = len(raw) / sum(raw)
    return [w * scale for w in raw]


def decoder_heads(recon: torch.Tensor, blocks: Sequence[Block],
                  rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-column decoder outputs for :meth:`VAEEncoding.decode`.

    Softmax heads become probabilities; a gaussian head becomes a value drawn from the decoder's
    Gaussian (on the [0, 1] scale) and, when nullable, the missing probability.
    """
    r = recon.detach().double()
    out: dict[str, np.ndarray] = {}
    for b in blocks:
        o = b.out_start
        if b.softmax:
            out[b.column] = torch.softmax(r[:, o:b.out_end], dim=1).numpy()
            continue
        mean = r[:, o].numpy()
        sigma = (SIGMA_MIN + (SIGMA_MAX - SIGMA_MIN) * torch.sigmoid(r[:, o + 1])).numpy()
        value = mean + sigma * rng.standard_normal(len(mean))
        missing = torch.sigmoid(r[:, o + 2]).numpy() if b.has_missing else np.zeros(len(mean))
        out[b.column] = np.stack([value, missing], axis=1)
    return out
