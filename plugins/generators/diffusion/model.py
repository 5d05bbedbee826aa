"""The TabDDPM-style model: noise schedule, MLP denoiser, per-row training loss and sampler.

Following Kotelnikov et al. (2023), "TabDDPM: Modelling Tabular Data with Diffusion Models":

* numeric slots (in [-1, 1]) get Gaussian diffusion (Ho et al. 2020): ``x_t = sqrt(abar_t) x_0 +
  sqrt(1 - abar_t) eps``; the denoiser predicts ``eps`` (mean squared error);
* each categorical slot with ``K`` classes gets multinomial diffusion (Hoogeboom et al. 2021):
  ``q(x_t | x_0) = Cat(abar_t x_0 + (1 - abar_t) / K)``; the denoiser predicts ``x_0``'s logits and
  is trained on ``KL(q(x_{t-1} | x_t, x_0) || q(x_{t-1} | x_t, softmax(logits)))`` (at ``t = 0``
  the negative log-likelihood of ``x_0``);
* one cosine schedule (Nichol & Dhariwal 2021) for both, ``T`` steps (100 by default: modest so
  that CPU training and sampling stay fast);
* the denoiser is an MLP over ``[x_num_t, onehot(x_cat_t)]`` plus a sinusoidal timestep
  embedding, as in TabDDPM's ``MLPDiffusion``.

Differential privacy needs each row's loss to depend on that row alone: :class:`TabDiffusion`'s
``forward`` draws one timestep and one noise draw *per row* (from its own seeded
``torch.Generator``), so the loss of row ``i`` is a function of row ``i`` and of randomness
independent of the data. Only ``nn.Linear`` layers and element-wise activations are used, each
once per forward pass, which is what opacus' ghost clipping supports (no BatchNorm, no tying).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

#: Floor for probabilities before taking logs.
_TINY = 1e-30


def cosine_schedule(steps: int, s: float = 0.008) -> tuple[torch.Tensor, torch.Tensor]:
    """``(alphas, alphas_cumprod)`` of the cosine schedule, float64, index ``t = 0..T-1``."""
    grid = np.arange(steps + 1, dtype=np.float64) / steps
    f = np.cos((grid + s) / (1 + s) * math.pi / 2) ** 2
    abar = f / f[0]
    betas = np.clip(1.0 - abar[1:] / abar[:-1], 1e-8, 0.999)
    alphas = 1.0 - betas
    return torch.from_numpy(alphas), torch.from_numpy(np.cumprod(alphas))


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps (Vaswani et al. 2017), ``[*t.shape, dim]``."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float()[..., None] * freqs
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[..., :1])], dim=-1)
    return emb


class Denoiser(nn.Module):
    """MLP ``(x_t, t) -> (eps_hat for numbers, x_0 logits per categorical slot)``."""

    def __init__(self, in_width: int, out_width: int, hidden: Sequence[int],
                 time_dim: int = 32) -> None:
        super().__init__()
        self.time_dim = time_dim
        width = hidden[0]
        self.time_in = nn.Linear(time_dim, width)
        self.time_out = nn.Linear(width, width)
        self.proj = nn.Linear(in_width, width)
        layers: list[nn.Module] = [nn.ReLU()]
        for a, b in zip(hidden[:-1], hidden[1:], strict=True):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(hidden[-1], out_width))
        self.body = nn.Sequential(*layers)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The raw output: ``eps_hat`` columns first, then each slot's logits.

        ``relu(proj(x) + time embedding)`` is the first hidden layer (width ``hidden[0]``),
        then one ``Linear`` + ReLU per further entry of ``hidden``, then the output layer.
        """
        emb = self.time_out(self.act(self.time_in(timestep_embedding(t, self.time_dim))))
        return self.body(self.proj(x) + emb)


class TabDiffusion(nn.Module):
    """Denoiser plus schedule; ``forward(batch)`` noises each row at its own random timestep.

    ``batch`` is ``[numbers (d_num) | category codes as floats (d_cat)]``; codes of -1 (value
    outside the declared domain) are noised from a uniform class and masked out of the loss.

    The categorical slots are handled together in a padded ``[rows, slots, max classes]``
    tensor (padding has probability 0 and logit -inf), so that training and sampling run a few
    large tensor operations per step instead of several small ones per column; the denoiser
    sees and emits only the real classes (``flat_index`` picks them out of the padding).
    """

    def __init__(self, n_numeric: int, class_counts: Sequence[int], hidden: Sequence[int],
                 steps: int, seed: int, multiplicity: int = 1, cond_classes: int = 0) -> None:
        super().__init__()
        self.multiplicity = int(multiplicity)
        #: Classes of the conditioning column (0: unconditional). Its code is the batch's
        #: last column; it is an input of the denoiser at every step, never diffused.
        self.cond_classes = int(cond_classes)
        self.n_numeric = n_numeric
        self.class_counts = [int(k) for k in class_counts]
        self.n_cat = len(self.class_counts)
        self.k_max = max(self.class_counts, default=1)
        self.steps = int(steps)
        counts = torch.tensor(self.class_counts or [1], dtype=torch.float32)
        classes = torch.arange(self.k_max)[None, :]
        #: [slots, max classes]: 1 for a real class, 0 for padding.
        self.class_mask = (classes < counts[:, None]).float()[:self.n_cat]
        #: [slots, max classes]: 1 / K on real classes (the uniform distribution).
        self.uniform = (self.class_mask / counts[:self.n_cat, None])
        self.flat_index = torch.nonzero(self.class_mask.reshape(-1)).reshape(-1)
        width = n_numeric + len(self.flat_index)
        self.denoiser = Denoiser(width + self.cond_classes, width, hidden)
        alphas, abar = cosine_schedule(self.steps)
        self.alphas = alphas.float()
        self.abar = abar.float()
        self.noise = torch.Generator().manual_seed(seed)

    def onehot(self, codes: torch.Tensor) -> torch.Tensor:
        """``[n, slots]`` codes -> padded one-hot ``[n, slots, max classes]``."""
        return nn.functional.one_hot(codes, self.k_max).float()

    def flat(self, padded: torch.Tensor) -> torch.Tensor:
        """Padded ``[n, slots, max classes]`` -> the real classes ``[n, sum K]``."""
        return padded.reshape(padded.shape[0], -1)[:, self.flat_index]

    def logits(self, out: torch.Tensor) -> torch.Tensor:
        """The denoiser's categorical outputs as padded logits (padding: -inf)."""
        n = out.shape[0]
        full = out.new_full((n, self.n_cat * self.k_max), -math.inf)
        full[:, self.flat_index] = out[:, self.n_numeric:]
        return full.reshape(n, self.n_cat, self.k_max)

    # -- training ------------------------------------------------------------------------------
    def forward(self, batch: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``(output, eps, x0, x_t, t, valid)`` for :class:`DiffusionLoss` (``x0``/``x_t``
        padded one-hot), ``multiplicity`` noisings per record (record ``i`` owns the rows
        ``i * m .. i * m + m - 1`` of every returned tensor).

        With ``multiplicity`` m > 1 each record is noised at m independent timesteps and its
        loss is the mean over them ("augmentation multiplicity", Dockhorn et al. 2023,
        "Differentially Private Diffusion Models"): a lower-variance gradient per record at no
        privacy cost, because it is still one record's gradient that gets clipped. The
        denoiser sees the copies as a ``[records, m, width]`` tensor, so opacus computes (and
        clips) one gradient norm per record, summing over its copies.
        """
        m = self.multiplicity
        records = batch.shape[0]
        batch = batch.repeat_interleave(m, dim=0)
        n = batch.shape[0]
        g = self.noise
        t = torch.randint(0, self.steps, (n,), generator=g)
        x_num = batch[:, :self.n_numeric]
        codes = batch[:, self.n_numeric:self.n_numeric + self.n_cat].long()
        valid = codes >= 0
        eps = torch.randn(x_num.shape, generator=g)
        ab = self.abar[t][:, None]
        num_t = ab.sqrt() * x_num + (1 - ab).sqrt() * eps
        # Invalid cells are noised from a uniform class (and masked out of the loss).
        uniform = _draw(self.uniform.expand(n, -1, -1), g)
        x0 = self.onehot(torch.where(valid, codes, uniform))
        ab3 = ab[:, :, None]
        xt = self.onehot(_draw(ab3 * x0 + (1 - ab3) * self.uniform, g))
        inputs = torch.cat([num_t, self.flat(xt), self._cond(batch[:, -1], n)], dim=1)
        width = inputs.shape[1]
        out = self.denoiser(inputs.reshape(records, m, width), t.reshape(records, m))
        return out.reshape(n, -1), eps, x0, xt, t, valid.float()

    def _cond(self, codes: torch.Tensor, n: int) -> torch.Tensor:
        """One-hot of the conditioning codes (``[n, 0]`` when unconditional)."""
        if not self.cond_classes:
            return torch.zeros((n, 0))
        return nn.functional.one_hot(codes.long(), self.cond_classes).float()

    def posterior(self, xt: torch.Tensor, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``q(x_{t-1} | x_t, x_0)`` of multinomial diffusion on padded ``[n, slots, K]``
        tensors (``x_0`` may be probabilities); rows with ``t = 0`` get ``x_0`` itself."""
        a = self.alphas[t][..., None, None]
        ab_prev = torch.where(t > 0, self.abar[(t - 1).clamp(min=0)],
                              torch.ones_like(self.abar[t]))[..., None, None]
        theta = (a * xt + (1 - a) * self.uniform) * (ab_prev * x0 + (1 - ab_prev) * self.uniform)
        return theta / theta.sum(dim=2, keepdim=True).clamp(min=_TINY)

    # -- sampling ------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator,
               cond: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Ancestral sampling from ``t = T-1`` down to 0: ``(numbers, codes)``; ``cond`` holds
        the conditioning codes of the rows (required when the model is conditional)."""
        g = generator
        onehot_cond = self._cond(cond if cond is not None else torch.zeros(n), n)
        num = torch.randn((n, self.n_numeric), generator=g)
        codes = _draw(self.uniform.expand(n, -1, -1), g)
        betas = 1 - self.alphas
        for step in reversed(range(self.steps)):
            t = torch.full((n,), step, dtype=torch.long)
            xt = self.onehot(codes)
            # Every row is at the same step: embed it once, broadcast over the rows.
            out = self.denoiser(torch.cat([num, self.flat(xt), onehot_cond], dim=1), t[:1])
            ab = self.abar[step]
            ab_prev = self.abar[step - 1] if step > 0 else torch.tensor(1.0)
            eps_hat = out[:, :self.n_numeric]
            x0_hat = ((num - (1 - ab).sqrt() * eps_hat) / ab.sqrt()).clamp(-1.0, 1.0)
            coef0 = betas[step] * ab_prev.sqrt() / (1 - ab)
            coeft = (1 - ab_prev) * self.alphas[step].sqrt() / (1 - ab)
            num = coef0 * x0_hat + coeft * num
            if step > 0:
                var = betas[step] * (1 - ab_prev) / (1 - ab)
                num = num + var.sqrt() * torch.randn(num.shape, generator=g)
            if self.n_cat:
                p0 = torch.softmax(self.logits(out), dim=2)
                codes = _draw(p0 if step == 0 else self.posterior(xt, p0, t), g)
        return num.clamp(-1.0, 1.0).numpy(), codes.numpy()


class DiffusionLoss(nn.Module):
    """Per-row TabDDPM loss: numeric MSE on ``eps`` (mean over numeric slots) plus the mean
    over categorical slots of the multinomial KL (NLL at ``t = 0``), plus ``ce_weight`` times
    the x_0 cross-entropy (D3PM's hybrid loss; 0 is TabDDPM's loss).

    ``reduction`` follows torch (``"mean"``, ``"sum"``, ``"none"``); opacus' ghost-clipping
    wrapper switches it to ``"none"`` for the per-row losses it clips.
    """

    def __init__(self, model: TabDiffusion, reduction: str = "mean",
                 ce_weight: float = 0.0) -> None:
        super().__init__()
        # A plain attribute, not a submodule: the loss must not own the model's parameters.
        object.__setattr__(self, "model", model)
        self.reduction = reduction
        self.ce_weight = float(ce_weight)

    def forward(self, output: tuple[torch.Tensor, ...], target: torch.Tensor) -> torch.Tensor:
        """The loss of ``output = model(target)`` reduced as ``self.reduction`` says."""
        out, eps, x0, xt, t, valid = output
        m: TabDiffusion = self.model  # type: ignore[assignment]
        d = m.n_numeric
        loss = out.new_zeros(out.shape[0])
        if d:
            loss = loss + (out[:, :d] - eps).pow(2).mean(dim=1)
        if m.n_cat:
            logp0 = torch.log_softmax(m.logits(out), dim=2)
            p0 = logp0.exp()
            true = m.posterior(xt, x0, t)
            model = m.posterior(xt, p0, t)
            kl = (true * (true.clamp(min=_TINY).log() - model.clamp(min=_TINY).log())).sum(2)
            nll = -(x0 * logp0.clamp(min=-1e4)).sum(dim=2)
            per_slot = torch.where((t == 0)[:, None], nll, kl)
            if self.ce_weight:
                # D3PM's hybrid loss (Austin et al. 2021): the x_0 cross-entropy at every t
                # gives the denoiser a direct signal where the KL is nearly flat (large t).
                per_slot = per_slot + self.ce_weight * nll
            per_slot = per_slot * valid
            loss = loss + per_slot.sum(dim=1) / m.n_cat
        loss = loss.reshape(-1, m.multiplicity).mean(dim=1)  # one loss per record
        if self.reduction == "none":
            return loss
        if self.reduction == "sum":
            return loss.sum()
        return loss.sum() / max(len(loss), 1)  # an empty Poisson batch has loss 0, not NaN


def _draw(probs: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """One class per ``[n, slots]`` cell from probabilities ``[n, slots, K]`` (inverse CDF,
    one uniform each; padding with probability 0 is never drawn)."""
    cum = probs.cumsum(dim=2)
    u = torch.rand((*probs.shape[:2], 1), generator=g) * cum[:, :, -1:]
    return (u >= cum).sum(dim=2).clamp(max=probs.shape[2] - 1)
