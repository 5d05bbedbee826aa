"""``dpsgd-ctgan``: a CTGAN-style conditional GAN whose discriminator is trained with DP-SGD.

The model follows CTGAN (Xu et al., "Modeling Tabular Data using Conditional GAN", 2019):
mode-specific normalisation of numeric columns, a conditional vector over categorical columns
with a generator condition loss, a residual generator and an MLP discriminator. What changes is
everything that would read the training rows outside a privacy mechanism.

Privacy argument, end to end (total epsilon = domain estimation + training, both reported):

1. **Domains.** The encoding uses declared domains only. Columns whose domain is missing or was
   read off the data (``data_dependent``) are re-estimated under DP first
   (``privgate.plugins._dp_domains``), spending ``domain_share`` of epsilon; that spend is
   composed with training by basic composition (``privgate.plugins._dp_accounting``).
2. **Mode-aware encoding without a data-fitted mixture.** CTGAN fits a Bayesian Gaussian mixture
   per numeric column on the data -- unpaid preprocessing. Here the modes are a fixed grid over
   the declared bounds (one mode per integer for short integer ranges, point modes at the
   bounds, log-spaced or equal-width interior modes), and each value is a one-hot mode
   indicator plus a ``tanh`` offset inside the mode (``privgate.plugins._ctgan_encoding``).
   It costs nothing.
3. **Training-by-sampling, made private.** CTGAN draws the condition (column, category) with
   log-frequencies and then picks real rows matching it. Both read the data, and picking real
   rows by condition would replace the Poisson sampling that DP-SGD's amplification relies on.
   Here:

   * real rows reach the discriminator only through opacus' Poisson sampler
     (``DPDataLoader``); each real row's conditional vector is a function of that row alone
     (the row's own category in a column chosen uniformly at random, with public randomness);
   * fake rows get a condition drawn from *DP* category frequencies: a column uniformly, then a
     category from a Gaussian-noised histogram (``privgate.plugins._ctgan_privacy``), so real
     and fake conditions follow the same distribution up to the DP noise. Uniform category
     frequencies would be free but make the fakes' marginals differ from the real ones, which
     the discriminator could exploit and the generator could not fix. The histogram costs
     ``marginal_share`` of the training budget and is composed with DP-SGD by the accountant
     (RDP or PRV) itself.
4. **DP-SGD on the discriminator.** Every discriminator step sees a Poisson batch of real rows
   and a batch of fake rows in one loss; opacus clips each row's gradient (real and fake alike,
   as in opacus' DCGAN example and DP-CTGAN) and adds Gaussian noise calibrated to the planned
   number of steps. The sensitivity argument only needs the real rows to be clipped: the fake
   rows are a function of the generator, i.e. of earlier DP outputs and public noise.
5. **The generator never touches a real row.** Its input is noise plus a conditional vector
   drawn from the DP frequencies; its gradient flows through the discriminator evaluated on
   fake rows only. It is therefore post-processing of the DP discriminator's sequence of
   noisy updates, and the discriminator's accounting is the whole story. The generator step
   runs with opacus' hooks disabled and the discriminator's parameters frozen, so it neither
   computes per-sample norms nor leaves gradients behind, and the accountant (which counts
   discriminator optimizer steps) does not charge it -- it costs no privacy.
6. **Sampling** runs the generator only (post-processing, free). Conditions on a categorical
   column are native (set in the conditional vector, then exact by keeping matching rows);
   further conditions are honoured by rejection (core ``sample_by_rejection``).

Ghost clipping (opacus ``grad_sample_mode="ghost"``, the default) computes per-sample gradient
norms of the discriminator's linear layers without materialising per-sample gradients; see
``privgate.plugins.dpsgd_vae`` for the measured speed-up. ``grad_sample_mode="hooks"`` gives the
same guarantee.

``dp=False`` trains the same model on the same schedule (Poisson batches, same steps) with plain
Adam and exact marginals; it reports infinite epsilon and exists only to measure the cost of
DP-SGD (``benchmarks/``).

Defaults, measured on UCI Adult (80/20 split, seed 0, epsilon 1, delta 1e-5; train-synthetic-
test-real AUROC for ``income`` with a HistGradientBoostingClassifier; one seed each, so
differences of about 0.02 are within GAN run-to-run noise):

==============================================  =====  =====
widths, lr, batch, epochs                       sigma  TSTR
==============================================  =====  =====
256/256, 2e-4, 512, 30 (CTGAN's sizes)          2.91   0.787
128/128, 2e-4, 512, 30                          2.91   0.821
128/128, 2e-4, 512, 15                          2.15   0.797
128/128, 1e-3, 512, 30 (dropout 0.5 / 0)        2.91   0.766 / 0.786
128/128, 1e-3, 1024, 40                         4.63   0.821
128/128, 1e-3, 2048, 60                         7.81   0.822
**128/128, 5e-4, 1024, 40 (default)**           4.63   0.841
==============================================  =====  =====

Seed to seed the default varies a lot: seeds 0, 1, 2 gave 0.841, 0.758, 0.826 (mean 0.81).
It does not reach the 0.85 the project aims for at epsilon 1 (real data 0.927). A full default
fit on Adult's 39,074 training rows took 130 s (seed 2, machine nearly idle) to 211 s (wall).

Narrower networks are also about 2x cheaper per step and cut DP-SGD's relative overhead
(CPU time per step on a 5,120-row Adult sample, batch 512, on a busy shared machine:
256-wide 109 ms with DP-SGD vs 72 ms without, 1.5x; 128-wide 56 vs 46 ms, 1.2x).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from privgate import hookimpl, params
from privgate.errors import BudgetError, InputError, PluginError
from privgate.generator import (
    NOT_PRIVATE,
    Generator,
    PrivacyBudget,
    PrivacySpent,
    check_conditions,
    sample_by_rejection,
)
from privgate.plugins._ctgan_encoding import CTGANEncoding
from privgate.plugins._ctgan_model import Activation, CTGANGenerator, Discriminator, LogisticLoss
from privgate.plugins._ctgan_privacy import calibrate, composed_epsilon, noisy_marginals
from privgate.plugins._dp_accounting import (
    ACCOUNTANTS,
    composed_spent,
    prepare_fit,
)
from privgate.schema import Schema

NAME = "dpsgd-ctgan"
OWNER = f"generator {NAME!r}"

#: Constructor parameters and their defaults (tuned on UCI Adult at epsilon = 1).
DEFAULTS: dict[str, Any] = {
    "epochs": 40,
    "batch_size": 1024,
    "z_dim": 64,
    "generator_dims": (128, 128),
    "discriminator_dims": (128, 128),
    "generator_lr": 5e-4,
    "discriminator_lr": 5e-4,
    "max_grad_norm": 1.0,
    "accountant": "rdp",
    "grad_sample_mode": "ghost",
    "n_modes": 32,
    "domain_share": 0.1,
    "marginal_share": 0.1,
    "dropout": 0.5,
    "dp": True,
}
GRAD_SAMPLE_MODES = ("ghost", "hooks")
#: Rows generated per forward pass when sampling.
_CHUNK = 8192


def _dims(p: dict[str, Any], key: str) -> tuple[int, ...]:
    value = p[key]
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        value = (value,)
    if (not isinstance(value, Sequence) or isinstance(value, str) or not value
            or not all(isinstance(h, int | np.integer) and not isinstance(h, bool) and h >= 1
                       for h in value)):
        raise InputError(f"{OWNER}: parameter {key!r} must be a non-empty list of positive "
                         f"integers (layer widths), got {value!r}")
    return tuple(int(h) for h in value)


def _check_params(given: Mapping[str, Any]) -> dict[str, Any]:
    """Validate constructor parameters; the message names the parameter and what is allowed."""
    p = params.resolve(OWNER, DEFAULTS, given)
    for key in ("epochs", "batch_size", "z_dim"):
        params.check_int(OWNER, p, key)
    params.check_int(OWNER, p, "n_modes", 3)
    p["generator_dims"] = _dims(p, "generator_dims")
    p["discriminator_dims"] = _dims(p, "discriminator_dims")
    for key in ("generator_lr", "discriminator_lr", "max_grad_norm"):
        params.check_positive(OWNER, p, key)
    params.check_choice(OWNER, p, "accountant", ACCOUNTANTS)
    params.check_choice(OWNER, p, "grad_sample_mode", GRAD_SAMPLE_MODES)
    for key in ("domain_share", "marginal_share", "dropout"):
        value = p[key]
        if (isinstance(value, bool) or not isinstance(value, int | float | np.number)
                or not 0 <= float(value) < 1):
            raise InputError(f"{OWNER}: parameter {key!r} must be a number in [0, 1), got "
                             f"{value!r}")
    if p["marginal_share"] <= 0:
        raise InputError(f"{OWNER}: parameter 'marginal_share' must be in (0, 1): the "
                         "category frequencies of the conditional vector must be paid for")
    if not isinstance(p["dp"], bool):
        raise InputError(f"{OWNER}: parameter 'dp' must be true or false, got {p['dp']!r}")
    return p


class _ConditionSampler:
    """Draws CTGAN conditional vectors: a categorical column uniformly, then a category.

    ``probs`` are the per-column category probabilities (DP, see the module docstring); the
    columns themselves are chosen uniformly, which is public.
    """

    def __init__(self, encoding: CTGANEncoding, probs: Sequence[np.ndarray]) -> None:
        self.widths = [s.width for s in encoding.cond_spans]
        self.starts = np.cumsum([0, *self.widths])[:-1]
        self.width = encoding.cond_width
        self.cum = [np.cumsum(p) for p in probs]
        # column masks over the conditional vector, to turn a real row's blocks into its
        # condition on one column
        masks = np.zeros((len(self.widths), self.width), dtype=np.float32)
        for j, (a, w) in enumerate(zip(self.starts, self.widths, strict=True)):
            masks[j, a:a + w] = 1.0
        self.masks = torch.from_numpy(masks)

    def fake(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """``n`` conditional vectors: uniform column, category from its DP frequencies."""
        out = torch.zeros((n, self.width))
        if not self.widths:
            return out
        cols = torch.randint(len(self.widths), (n,), generator=gen).numpy()
        u = torch.rand(n, generator=gen, dtype=torch.float64).numpy()
        for j in range(len(self.widths)):
            rows = np.nonzero(cols == j)[0]
            if len(rows):
                cat = np.minimum(np.searchsorted(self.cum[j], u[rows] * self.cum[j][-1],
                                                 side="right"), self.widths[j] - 1)
                out[rows, int(self.starts[j]) + cat] = 1.0
        return out

    def real(self, blocks: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Each real row's condition: its own category in a column drawn uniformly."""
        if not self.widths or len(blocks) == 0:
            return torch.zeros((len(blocks), self.width))
        cols = torch.randint(len(self.widths), (len(blocks),), generator=gen)
        return blocks * self.masks[cols]

    def fixed(self, n: int, column: int, category: int) -> torch.Tensor:
        """``n`` copies of the condition "column ``column`` takes category ``category``"."""
        out = torch.zeros((n, self.width))
        out[:, int(self.starts[column]) + category] = 1.0
        return out


class DPSGDCTGAN(Generator):
    """CTGAN-style conditional GAN, discriminator trained with DP-SGD (opacus).

    Parameters (keyword arguments, stored in :attr:`params`):
        epochs: passes over the data the noise is calibrated for (default 40); one
            discriminator DP-SGD step and one generator step per batch.
        batch_size: expected Poisson batch size of real rows (sample rate
            ``1 / ceil(n_rows / batch_size)``); each step also uses this many fake rows
            (default 1024).
        z_dim: width of the generator's noise input (default 64).
        generator_dims, discriminator_dims: hidden layer widths (default ``(128, 128)``).
        generator_lr, discriminator_lr: Adam learning rates (default 5e-4 each).
        max_grad_norm: per-row gradient clipping norm of the discriminator (default 1.0).
        accountant: ``"rdp"`` (default) or ``"prv"``.
        grad_sample_mode: ``"ghost"`` (default) or ``"hooks"``; same guarantee.
        n_modes: modes of a numeric column without one mode per integer (default 32).
        domain_share: share of epsilon spent on estimating undeclared or data-dependent
            domains (default 0.1; only used when some domain needs it).
        marginal_share: share of the training epsilon given up for the DP category
            frequencies of the conditional vector (default 0.1).
        dropout: discriminator dropout (default 0.5, as in CTGAN).
        dp: ``True`` (default). ``False`` trains without DP-SGD and reports infinite epsilon;
            only for measuring DP-SGD's overhead.
    """

    name: ClassVar[str] = NAME
    description: ClassVar[str] = ("CTGAN-style conditional GAN (public mode grid, conditional "
                                  "vector with DP category frequencies); discriminator trained "
                                  "with DP-SGD (opacus, ghost clipping, Poisson sampling)")
    is_private: ClassVar[bool] = True
    supports_conditions: ClassVar[bool] = True

    def __init__(self, **params: Any) -> None:
        _check_params(params)
        self.params: dict[str, Any] = dict(params)

    # -- fitting -----------------------------------------------------------------------------

    def fit(self, data: pd.DataFrame, schema: Schema, budget: PrivacyBudget | None,
            *, seed: int = 0) -> DPSGDCTGAN:
        """Train on ``data`` under ``budget``; see :class:`privgate.Generator`.

        Raises:
            BudgetError: no budget (with ``dp=True``), ``delta == 0``, or a budget too small.
            InputError: ``data`` is empty or lacks a modelled column.
        """
        p = _check_params(self.params)
        dp = bool(p["dp"])
        inputs = prepare_fit(OWNER, data, schema, budget, dp=dp,
                             domain_share=float(p["domain_share"]), seed=seed)
        data, schema, domains = inputs.data, inputs.schema, inputs.domains
        eps_train, delta = inputs.train_epsilon, inputs.train_delta
        encoding = CTGANEncoding(schema, n_modes=int(p["n_modes"]))  # declared/DP domain only
        matrix = torch.from_numpy(encoding.transform(data))
        n_rows = len(matrix)
        n_batches = max(1, math.ceil(n_rows / int(p["batch_size"])))
        sample_rate = 1.0 / n_batches  # what opacus' DPDataLoader will use
        steps = int(p["epochs"] / sample_rate)
        with_marginals = encoding.cond_width > 0
        if dp:
            sigma, sigma_m = calibrate(eps_train, delta, sample_rate, steps, p["accountant"],
                                       marginal_share=float(p["marginal_share"]),
                                       with_marginals=with_marginals)
        else:
            sigma, sigma_m = 0.0, None

        rng = np.random.default_rng(seed)
        counts = [matrix[:, s.onehot_start:s.onehot_end].sum(dim=0).double().numpy()
                  for s in encoding.cond_spans]
        # the only read of the data outside DP-SGD: the Gaussian mechanism (dp=True)
        probs = noisy_marginals(counts, sigma_m if dp else None, rng)
        conditions = _ConditionSampler(encoding, probs)

        threads = torch.get_num_threads()
        # One intra-op thread: small matrices (as in dpsgd-vae, ~2x faster on 2 busy cores);
        # it also fixes the reduction order, keeping fits bit-for-bit reproducible.
        torch.set_num_threads(1)
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                generator, history, losses, real_rows = self._train(
                    p, encoding, conditions, matrix, n_batches, steps, sigma, seed)
        finally:
            torch.set_num_threads(threads)
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        rows_seen = sum(int(r) for r in real_rows)

        details: dict[str, Any] = {
            "noise_multiplier": sigma,
            "sample_rate": sample_rate,
            "steps": steps,
            "epochs": p["epochs"],
            "batch_size": p["batch_size"],
            "max_grad_norm": float(p["max_grad_norm"]),
            "grad_sample_mode": p["grad_sample_mode"],
            "marginal_noise_multiplier": sigma_m,
            "marginal_noise_std": (None if sigma_m is None else
                                   sigma_m * math.sqrt(len(encoding.cond_spans))),
            "marginal_columns": [s.column for s in encoding.cond_spans],
            "poisson_sampling": True,
            "secure_rng": False,
            "n_rows": n_rows,
            "private_part": "discriminator DP-SGD + Gaussian category frequencies; the "
                            "generator is post-processing",
        }
        if dp:
            assert budget is not None
            if history[-1:] and (sum(h[2] for h in history) != steps
                                 or any(h[0] != sigma or h[1] != sample_rate for h in history)):
                raise PluginError(f"{OWNER}: the accountant recorded {history}, expected "  # noqa
                                  f"{steps} steps at sigma={sigma}, q={sample_rate}")
            full = ([(sigma_m, 1.0, 1)] if sigma_m is not None else []) + list(history)
            train_eps = composed_epsilon(full, delta, p["accountant"])
            if train_eps > eps_train * (1 + 1e-6):  # calibration makes this unreachable
                raise BudgetError(f"{OWNER}: the accountant reports epsilon={train_eps:.6g} "
                                  f"above the training budget {eps_train}")
            details["target_epsilon"] = budget.epsilon
            spent = composed_spent(train_eps, delta, p["accountant"], domains, details)
        else:
            details["reason"] = "dp=False: trained without DP-SGD (benchmark mode)"
            spent = PrivacySpent(epsilon=math.inf, delta=1.0, accountant=NOT_PRIVATE,
                                 details=details)
        generator.eval()
        self.generator_ = generator
        self.encoding_ = encoding
        self.schema_ = schema
        self.probs_ = probs
        self.loss_history_ = losses
        self.privacy_spent_ = spent
        # Training-loop throughput (what benchmarks/generators.py compares for dp vs dp=False).
        # CPU seconds are given too: on a shared machine they are the steadier figure.
        self.fit_stats_ = {"train_seconds": seconds, "train_cpu_seconds": cpu_seconds,
                           "steps": steps, "rows_seen": rows_seen,
                           "rows_per_second": rows_seen / seconds if seconds > 0 else None,
                           "rows_per_cpu_second": (rows_seen / cpu_seconds
                                                   if cpu_seconds > 0 else None)}
        return self

    def _train(self, p: dict[str, Any], encoding: CTGANEncoding, conditions: _ConditionSampler,
               matrix: torch.Tensor, n_batches: int, steps: int, sigma: float, seed: int
               ) -> tuple[CTGANGenerator, list[tuple[float, float, int]], list[list[float]],
                          list[int]]:
        """Run ``steps`` (discriminator DP-SGD step, generator step) pairs.

        Returns the generator, the accountant's history, per-step ``[d_loss, g_loss]`` and
        per-step real batch sizes.
        All randomness comes from torch's global generator, seeded by the caller inside
        ``fork_rng``, and from the noise generator seeded with ``seed``.
        """
        from opacus import PrivacyEngine
        from opacus.data_loader import DPDataLoader

        dp = bool(p["dp"])
        batch = int(p["batch_size"])
        cond_dim = encoding.cond_width
        gen = CTGANGenerator(int(p["z_dim"]), cond_dim, p["generator_dims"], encoding.width)
        disc = Discriminator(encoding.width + cond_dim, p["discriminator_dims"],
                             float(p["dropout"]))
        opt_g = torch.optim.Adam(gen.parameters(), lr=p["generator_lr"], betas=(0.5, 0.9),
                                 weight_decay=1e-6)
        opt_d = torch.optim.Adam(disc.parameters(), lr=p["discriminator_lr"], betas=(0.5, 0.9))
        criterion: Any = LogisticLoss()
        loader = DataLoader(TensorDataset(matrix), batch_size=batch)  # len(loader) == n_batches
        engine = None
        d_model: nn.Module = disc
        if dp:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*[Ss]ecure RNG.*")
                engine = PrivacyEngine(accountant=p["accountant"])
                made = engine.make_private(
                    module=disc, optimizer=opt_d, criterion=criterion, data_loader=loader,
                    noise_multiplier=sigma, max_grad_norm=float(p["max_grad_norm"]),
                    grad_sample_mode=p["grad_sample_mode"], poisson_sampling=True,
                    noise_generator=torch.Generator().manual_seed(seed + 3))
            if p["grad_sample_mode"] == "ghost":
                d_model, opt_d, criterion, loader = made
            else:
                d_model, opt_d, loader = made
            if len(loader) != n_batches:  # defensive: opacus' sample rate is 1 / len(loader)
                raise PluginError(f"{OWNER}: opacus' loader has {len(loader)} batches, "
                                  f"expected {n_batches}")
        else:
            loader = DPDataLoader.from_data_loader(loader)  # same Poisson schedule, no DP
        act = Activation(encoding)
        z_dim = int(p["z_dim"])
        d_params = list(disc.parameters())
        cond_slots = [i for s in encoding.cond_spans for i in range(s.onehot_start, s.onehot_end)]
        cond_index = torch.tensor(cond_slots, dtype=torch.long)
        rand = torch.default_generator  # seeded by the caller (fork_rng + manual_seed)
        losses: list[list[float]] = []
        real_rows: list[int] = []

        def fake_batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
            cond = conditions.fake(n, rand)
            return gen(torch.randn((n, z_dim)), cond), cond

        def hooks(on: bool) -> None:
            if dp:
                getattr(d_model, "enable_hooks" if on else "disable_hooks")()

        gen.train()
        d_model.train()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*Full backward hook is firing.*")
            for (real,) in _batches(loader, steps):
                # -- discriminator: one DP-SGD step (Poisson real rows + fake rows) --------
                # An empty Poisson batch is still a step: the accountant charges it and the
                # optimizer adds pure noise; skipping it would reveal the batch was empty.
                real_cond = conditions.real(real[:, cond_index], rand)
                with torch.no_grad():
                    raw, fake_cond = fake_batch(batch)
                    fake = act(raw)
                inputs = torch.cat([torch.cat([real, real_cond], dim=1),
                                    torch.cat([fake, fake_cond], dim=1)])
                target = torch.cat([torch.ones(len(real)), torch.zeros(len(fake))])
                opt_d.zero_grad()
                d_loss = criterion(d_model(inputs), target)
                d_loss.backward()
                opt_d.step()
                # -- generator: post-processing, no privacy engine involved ----------------
                hooks(False)
                for q in d_params:
                    q.requires_grad_(False)
                opt_g.zero_grad()
                raw, fake_cond = fake_batch(batch)
                logits = d_model(torch.cat([act(raw), fake_cond], dim=1))
                g_loss = nn.functional.softplus(-logits).mean() + act.cond_loss(raw, fake_cond)
                g_loss.backward()
                opt_g.step()
                for q in d_params:
                    q.requires_grad_(True)
                hooks(True)
                losses.append([float(d_loss.item()), float(g_loss.item())])
                real_rows.append(len(real))
        if dp:
            assert engine is not None
            d_model.cleanup()  # type: ignore[operator]
            return gen, [tuple(h) for h in engine.accountant.history], losses, real_rows
        return gen, [], losses, real_rows

    # -- sampling ----------------------------------------------------------------------------

    def sample(self, n: int, *, seed: int = 0,
               conditions: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Generate ``n`` rows; ``conditions`` on categorical columns are honoured exactly
        (the first one natively through the conditional vector, all by keeping matching
        rows)."""
        if not hasattr(self, "generator_"):
            raise InputError(f"{OWNER}: call fit() before sample()")
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise InputError(f"{OWNER}: n must be a non-negative integer, got {n!r}")
        wanted = check_conditions(conditions, self.schema_, NAME, supported=True)
        if not wanted:
            return self._draw(int(n), seed, None)
        native = self._native_condition(wanted)
        return sample_by_rejection(lambda k, s: self._draw(k, s, native), int(n), wanted,
                                   seed=seed)

    def _native_condition(self, wanted: Mapping[str, Any]) -> tuple[int, int] | None:
        """(conditional-vector column, category index) of the first condition."""
        from privgate.encoding import category_indices

        for j, span in enumerate(self.encoding_.cond_spans):
            if span.column in wanted:
                col = self.schema_[span.column]
                idx = int(category_indices(pd.Series([wanted[span.column]], dtype=object),
                                           col)[0])
                return (j, idx) if idx >= 0 else None
        return None

    def _draw(self, n: int, seed: int, native: tuple[int, int] | None) -> pd.DataFrame:
        sampler = _ConditionSampler(self.encoding_, self.probs_)
        rng = np.random.default_rng(seed)
        gen = torch.Generator().manual_seed(seed)
        chunks = []
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.no_grad():
                for start in range(0, n, _CHUNK):
                    k = min(_CHUNK, n - start)
                    cond = (sampler.fake(k, gen) if native is None
                            else sampler.fixed(k, *native))
                    z = torch.randn((k, self.generator_.z_dim), generator=gen)
                    chunks.append(self.generator_(z, cond).double().numpy())
        finally:
            torch.set_num_threads(threads)
        raw = np.concatenate(chunks) if chunks else np.zeros((0, self.encoding_.width))
        return self.encoding_.decode(raw, rng)

    @property
    def privacy_spent(self) -> PrivacySpent:
        """Domain estimation + (Gaussian category frequencies composed with DP-SGD)."""
        if not hasattr(self, "privacy_spent_"):
            raise InputError(f"{OWNER}: call fit() before reading privacy_spent")
        return self.privacy_spent_

    # -- persistence -------------------------------------------------------------------------

    def get_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Schema, DP category frequencies and what was spent as JSON; generator weights as
        tensors (the discriminator is not needed to sample and is not saved)."""
        if not hasattr(self, "generator_"):
            raise InputError(f"{OWNER}: call fit() before save()")
        arrays: dict[str, Any] = {f"generator.{k}": v for k, v in
                                  self.generator_.state_dict().items()}
        for j, prob in enumerate(self.probs_):
            arrays[f"probs.{j}"] = np.asarray(prob, dtype=np.float64)
        metadata = {"schema": self.schema_.to_dict(),
                    "privacy_spent": self.privacy_spent_.to_dict(),
                    "n_probs": len(self.probs_)}
        return metadata, arrays

    def set_state(self, metadata: dict[str, Any], arrays: dict[str, Any]) -> None:
        """Restore what :meth:`get_state` returned."""
        from privgate.plugins._generator_state import schema_from_dict

        p = _check_params(self.params)
        try:
            schema = schema_from_dict(metadata["schema"])
            encoding = CTGANEncoding(schema, n_modes=int(p["n_modes"]))
            gen = CTGANGenerator(int(p["z_dim"]), encoding.cond_width, p["generator_dims"],
                                 encoding.width)
            weights = {k[len("generator."):]: v for k, v in arrays.items()
                       if k.startswith("generator.")}
            gen.load_state_dict(weights)
            probs = [arrays[f"probs.{j}"].numpy() for j in range(int(metadata["n_probs"]))]
            spent = metadata["privacy_spent"]
            self.privacy_spent_ = PrivacySpent(
                epsilon=math.inf if spent["epsilon"] is None else float(spent["epsilon"]),
                delta=float(spent["delta"]), accountant=str(spent["accountant"]),
                details=dict(spent.get("details", {})))
        except (KeyError, RuntimeError, TypeError, ValueError) as exc:
            raise InputError(f"{OWNER}: saved state does not match the parameters "
                             f"({exc}); re-save the generator") from None
        if len(probs) != len(encoding.cond_spans):
            raise InputError(f"{OWNER}: saved state has {len(probs)} category frequency "
                             f"vectors, the schema {len(encoding.cond_spans)}")
        gen.eval()
        self.generator_, self.encoding_, self.schema_, self.probs_ = gen, encoding, schema, probs


def _batches(loader: Any, steps: int) -> Iterator[tuple[torch.Tensor]]:
    """Exactly ``steps`` batches from ``loader``, restarting it as often as needed (opacus
    calibrated the noise for ``int(epochs / sample_rate)`` steps)."""
    done = 0
    while done < steps:
        for item in loader:
            if done >= steps:
                return
            yield item
            done += 1


@hookimpl
def privgate_generators() -> list[type[Generator]]:
    """Register :class:`DPSGDCTGAN`."""
    return [DPSGDCTGAN]
