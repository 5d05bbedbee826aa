"""``dpsgd-vae``: a tabular (conditional) variational autoencoder trained with DP-SGD.

Privacy argument, end to end:

* Preprocessing reads only the schema's domain (:class:`VAEEncoding` in
  ``privgate.plugins._vae_encoding``): categories become one-hot blocks and numeric columns are
  binned on a grid laid over their bounds (one bin per integer for short integer ranges,
  log-spaced bins for wide non-negative ranges, point bins at the bounds). No minimum, maximum,
  quantile, precision or category list is taken from the training rows. A domain the schema
  does not declare, or one that was read off the data (``data_dependent``), is first
  re-estimated under DP with ``domain_share`` of epsilon (``privgate.plugins._dp_domains``);
  the reported epsilon is that part plus the training part (basic composition,
  ``privgate.plugins._dp_accounting.composed_spent``). With a fully declared schema nothing is
  spent on domains.
* Every gradient step is DP-SGD: rows are Poisson-sampled, each row's gradient is clipped to
  ``max_grad_norm`` and Gaussian noise is added. The noise multiplier is calibrated (opacus'
  accountant, RDP or PRV) so that the planned number of steps meets the training budget, and
  the epsilon we report is what the accountant says for the steps its step hook recorded.
* Sampling only runs the decoder on Gaussian noise and a condition drawn from the learnt
  prior (post-processing, free).

Why these modelling choices (UCI Adult, 80/20 split, epsilon = 1; distinguishability AUROC:
lower is better, gmm scores 0.994; TSTR AUROC for ``income``: higher is better, real data 0.926):

* The original model scaled numeric columns to [0, 1] and decoded them with a Gaussian: it could
  not reproduce point masses (``capital_gain`` is 0 for 92% of the rows, ``hours_per_week`` has a
  spike at 40) and a classifier separated it almost perfectly (AUROC 0.999; ``hours_per_week``
  alone reached 0.90). Binned numeric columns (softmax per column, like categoricals) bring
  every single-column marginal to an AUROC of about 0.51 (overall 0.986).
* With the KL term at full weight the DP-noised encoder collapsed onto the prior, so the decoder
  emitted each column's marginal independently of the others. Down-weighting the KL term
  (``beta`` = 0.3, a beta-VAE) keeps information in the latent code; a learning rate of 5e-3
  lets Adam make progress through the DP noise. Together: distinguishability AUROC about 0.91.
* Conditional decoding on the target (a CVAE, ``condition_on = "target"``): the decoder reads
  the target's one-hot value, so the feature/target relationship a downstream classifier needs
  is an explicit input rather than something the noisy latent code must carry, and
  ``sample(conditions={target: v})`` is exact. With larger Poisson batches (2048 rows, 40
  epochs: noise multiplier 5.8 instead of 2.2, but the noise per averaged gradient is
  ``sigma * C / batch``, 2.4x smaller) TSTR AUROC at epsilon 1 went from 0.874 (the previous
  defaults: plain VAE, batch 512, 20 epochs; seed 0) to 0.883 +- 0.004 (seeds 0-2; the plain
  VAE on the same schedule: 0.877, seed 0; the same model trained without DP: 0.902). See
  ``benchmarks/results/generators.md`` for all epsilons.
* On the demo table (covid_testing) the continuous columns ``age`` (whole years) and the
  turnaround times (tenths of an hour) gave the synthetic rows away by their decimals; each
  row's number of decimals is modelled as a categorical feature and the sampled value rounded
  accordingly (single-column AUROC from about 0.92 to 0.62).

Why one-backward ("book-keeping") clipping (``grad_sample_mode = "bk"``, the default,
``privgate.plugins._bk_clipping``): DP-SGD needs each row's gradient norm. opacus' "hooks" mode
materialises a per-sample gradient for every parameter; its ghost clipping computes the norms
of linear layers from activations and output gradients but then runs a second backward pass.
For this network (only ``nn.Linear`` layers, each used once per pass, 2-D inputs) the clipped
sum is one matrix product per layer after a single backward pass, so DP-SGD costs little more
than an ordinary step (adult, epsilon 1: 1.04x the CPU time of the same training without
DP-SGD, ``benchmarks/results/generators.md``; opacus' ghost clipping measured 1.9x on a
1,600-row adult sample). The tests check that it trains the same weights as opacus' ghost
clipping from the same seed. Noise,
averaging, Poisson sampling and accounting remain opacus' own. ``"ghost"`` and ``"hooks"`` stay
available and give the same guarantee. The model therefore uses only ``nn.Linear`` layers and
element-wise activations (no BatchNorm, which mixes rows and breaks per-row privacy anyway).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
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
from privgate.plugins._bk_clipping import BookKeepingClipper
from privgate.plugins._dp_accounting import (
    composed_spent,
    noise_multiplier_for,
    prepare_fit,
    spent_epsilon,
)
from privgate.plugins._dp_training import opacus_dp_sgd, plain_step
from privgate.plugins._generator_state import schema_from_dict
from privgate.plugins._vae_encoding import NUMERIC_ENCODINGS, Block, VAEEncoding
from privgate.plugins._vae_model import VAE, WEIGHTINGS, VAELoss, decoder_heads
from privgate.schema import Schema

#: Constructor parameters and their defaults. The defaults are sized so that the demo (about
#: 10,800 rows x 12 columns at epsilon = 1) trains in well under a minute on two CPU cores, and
#: tuned for fidelity at epsilon = 1 (see the module docstring).
DEFAULTS: dict[str, Any] = {
    "epochs": 40,
    "batch_size": "auto",
    "latent_dim": 16,
    "hidden": (128, 128),
    "lr": 5e-3,
    "max_grad_norm": 1.0,
    "accountant": "rdp",
    "grad_sample_mode": "bk",
    "numeric_encoding": "bins",
    "n_bins": 64,
    "beta": 0.3,
    "condition_on": "target",
    "domain_share": 0.1,
    "dp": True,
    "column_weighting": "uniform",
}
ACCOUNTANTS = ("rdp", "prv")
GRAD_SAMPLE_MODES = ("bk", "ghost", "hooks")
#: ``condition_on`` values that are not column names.
CONDITION_TARGET = "target"

OWNER = "generator 'dpsgd-vae'"


def _check_params(given: Mapping[str, Any]) -> dict[str, Any]:
    """Validate constructor parameters; the message names the parameter and what is allowed."""
    p = params.resolve(OWNER, DEFAULTS, given)
    for key in ("epochs", "latent_dim"):
        params.check_int(OWNER, p, key)
    if p["batch_size"] != "auto":
        params.check_int(OWNER, p, "batch_size")
    hidden = p["hidden"]
    if isinstance(hidden, int | np.integer) and not isinstance(hidden, bool):
        hidden = (hidden,)
    if (not isinstance(hidden, Sequence) or isinstance(hidden, str) or not hidden
            or not all(isinstance(h, int | np.integer) and not isinstance(h, bool) and h >= 1
                       for h in hidden)):
        raise InputError(f"{OWNER}: parameter 'hidden' must be a non-empty list of positive "
                         f"integers (layer widths), got {p['hidden']!r}")
    p["hidden"] = tuple(int(h) for h in hidden)
    params.check_int(OWNER, p, "n_bins", 3)
    params.check_choice(OWNER, p, "numeric_encoding", NUMERIC_ENCODINGS)
    for key in ("lr", "max_grad_norm", "beta"):
        params.check_positive(OWNER, p, key)
    params.check_choice(OWNER, p, "accountant", ACCOUNTANTS)
    params.check_choice(OWNER, p, "grad_sample_mode", GRAD_SAMPLE_MODES)
    params.check_choice(OWNER, p, "column_weighting", WEIGHTINGS)
    cond = p["condition_on"]
    if cond is not None and (not isinstance(cond, str) or not cond):
        raise InputError(f"{OWNER}: parameter 'condition_on' must be a categorical column "
                         f"name, \"target\" (the schema's target) or null, got {cond!r}")
    share = p["domain_share"]
    if (isinstance(share, bool) or not isinstance(share, int | float)
            or not 0 <= share < 1):
        raise InputError(f"{OWNER}: parameter 'domain_share' must be a number in [0, 1) (the "
                         f"share of epsilon spent on undeclared domains), got {share!r}")
    if not isinstance(p["dp"], bool):
        raise InputError(f"{OWNER}: parameter 'dp' must be true or false, got {p['dp']!r}")
    return p


#: ``batch_size = "auto"``: about this share of the rows per expected Poisson batch ...
AUTO_BATCH_SHARE = 1 / 20
#: ... rounded to a power of two within these bounds.
AUTO_BATCH_RANGE = (64, 2048)


def auto_batch_size(n_rows: int) -> int:
    """The expected batch size ``batch_size = "auto"`` uses for ``n_rows`` training rows.

    With DP-SGD the noise on an averaged gradient is ``sigma * C / batch``: the noise multiplier
    sigma grows more slowly than the batch (for a fixed number of epochs), so larger batches
    give cleaner steps, but fewer of them, and sampling rates much above 1/20 erode the privacy
    amplification by subsampling. On Adult (39k training rows, epsilon 1) 2048 rows (rate 1/19)
    gave TSTR AUROC 0.883 where 512 (20 epochs) and 1024 (40 epochs) gave 0.870 and 0.871
    (conditional VAE, seed 0; wall time under heavy machine load, so few settings were tried);
    the demo table's ~7,600 rows get 512, its previous tuned default.
    """
    target = max(1.0, n_rows * AUTO_BATCH_SHARE)
    size = 2 ** int(round(math.log2(target)))
    return int(min(max(size, AUTO_BATCH_RANGE[0]), AUTO_BATCH_RANGE[1]))


def _condition_block(schema: Schema, encoder: VAEEncoding, condition_on: str | None
                     ) -> Block | None:
    """The encoded block the decoder is conditioned on (``None``: unconditional)."""
    if condition_on is None:
        return None
    name = schema.target if condition_on == CONDITION_TARGET else condition_on
    if name is None:  # "target" requested but the schema declares none: unconditional
        return None
    if name not in encoder.main:
        raise InputError(f"{OWNER}: parameter 'condition_on' names {name!r}, which is not a "
                         f"modelled column (modelled: {list(encoder.main)})")
    block = encoder.main[name]
    if block.kind != "categorical":
        if condition_on == CONDITION_TARGET:  # a numeric target: stay unconditional
            return None
        raise InputError(f"{OWNER}: parameter 'condition_on': column {name!r} is "
                         f"{schema[name].kind.value}; only categorical columns can be "
                         "conditioned on")
    return block


class DPSGDVAE(Generator):
    """Tabular (conditional) VAE trained with DP-SGD (opacus, ghost clipping, Poisson sampling).

    Parameters (keyword arguments, stored in :attr:`params`):
        epochs: passes over the data the noise is calibrated for (default 40).
        batch_size: expected Poisson batch size; the sampling rate is
            ``1 / ceil(n_rows / batch_size)``. ``"auto"`` (default) picks about a twentieth
            of the rows, see :func:`auto_batch_size`.
        latent_dim: width of the latent Gaussian (default 16).
        hidden: widths of the encoder's hidden layers; the decoder mirrors them
            (default ``(128, 128)``).
        lr: Adam learning rate (default 5e-3).
        max_grad_norm: per-row gradient clipping norm (default 1.0).
        accountant: ``"rdp"`` (default) or ``"prv"``; calibrates the noise and reports epsilon.
        grad_sample_mode: ``"ghost"`` (default, ghost clipping) or ``"hooks"`` (per-sample
            gradients); both give the same privacy guarantee.
        numeric_encoding: ``"bins"`` (default: a softmax over bins laid over the declared
            bounds, then a value drawn inside the bin) or ``"gaussian"`` (the value scaled to
            [0, 1] by the declared bounds, Gaussian likelihood); see
            ``privgate.plugins._vae_encoding``.
        n_bins: bins of a binned numeric column that does not get one bin per integer
            (default 64, at least 3; integer columns with at most ``2 * n_bins`` values get
            one bin per value).
        beta: weight of the KL term in the loss (default 0.3; 1 is the plain ELBO, which at
            small epsilon lets the latent code collapse onto the prior).
        condition_on: the categorical column the decoder is conditioned on (a CVAE):
            ``"target"`` (default: the schema's target column when it is categorical,
            otherwise none), a column name, or ``None`` for a plain VAE. Conditions on that
            column are sampled natively; other conditions by rejection.
        domain_share: share of epsilon spent on estimating undeclared or data-read domains
            under DP (default 0.1; unused, and nothing spent, when every domain is declared).
        column_weighting: ``"uniform"`` (default) or ``"entropy"`` (each reconstruction term
            divided by the log of its block width, see
            ``privgate.plugins._vae_model.column_weights``; on adult at epsilon 1, seed 0,
            TSTR AUROC 0.883 vs 0.884 uniform: no gain, so not the default).
        dp: ``True`` (default). ``False`` trains the same model on the same schedule with
            plain SGD steps -- no clipping, no noise, NOT differentially private: its
            :attr:`privacy_spent` reports an infinite epsilon so every report and policy
            treats it as non-private. It exists to measure DP-SGD's overhead
            (``benchmarks/generators.py``).
    """

    supports_conditions: ClassVar[bool] = True
    name: ClassVar[str] = "dpsgd-vae"
    description: ClassVar[str] = ("Conditional variational autoencoder trained with DP-SGD "
                                  "(opacus, ghost clipping, Poisson sampling, RDP/PRV "
                                  "accountant)")
    is_private: ClassVar[bool] = True

    def __init__(self, **params: Any) -> None:
        _check_params(params)
        self.params: dict[str, Any] = dict(params)

    def _resolved(self) -> dict[str, Any]:
        return _check_params(self.params)

    def fit(self, data: pd.DataFrame, schema: Schema, budget: PrivacyBudget | None,
            *, seed: int = 0) -> DPSGDVAE:
        """Train the VAE on ``data`` under ``budget``; see :class:`privgate.Generator`.

        Undeclared or data-read domains are first estimated under DP with
        ``domain_share * epsilon`` (``privgate.plugins._dp_domains``); the rest of the budget
        trains the model, and :attr:`privacy_spent` reports both, composed.

        With ``dp = False`` the budget is ignored (``None`` is fine), missing domains are read
        off the data, and the fit is reported as not private.

        Raises:
            BudgetError: ``budget`` is ``None``, cannot be met (e.g. ``delta == 0``), or is too
                small to release an undeclared category list under DP.
            InputError: ``data`` is empty or lacks a modelled column, or ``condition_on``
                names a column that is not a modelled categorical one.
        """
        p = self._resolved()
        inputs = prepare_fit(OWNER, data, schema, budget, dp=bool(p["dp"]),
                             domain_share=float(p["domain_share"]), seed=seed)
        data, schema, domains = inputs.data, inputs.schema, inputs.domains
        eps_train, delta_train = inputs.train_epsilon, inputs.train_delta
        encoder = VAEEncoding(schema, numeric=p["numeric_encoding"], n_bins=p["n_bins"])
        condition = _condition_block(schema, encoder, p["condition_on"])
        matrix = torch.from_numpy(encoder.transform(data))  # reads the (DP) domain only

        # Everything random is drawn from generators seeded here, so that one seed gives one
        # fit: weight init (forked global RNG), reparameterisation noise, Poisson sampling and
        # the DP noise. Opacus' secure_mode (a cryptographic RNG) would make runs
        # irreproducible and needs torchcsprng; we rely on the standard PRNG like opacus'
        # default, and record that in the details.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = VAE(encoder.width, encoder.out_width, p["hidden"], p["latent_dim"],
                        seed + 1, None if condition is None else (condition.start,
                                                                  condition.end))
        criterion = VAELoss(encoder.blocks, beta=float(p["beta"]), reduction="mean",
                            condition=condition, weighting=p["column_weighting"])
        optimizer = torch.optim.Adam(model.parameters(), lr=p["lr"])
        if p["batch_size"] == "auto":
            p["batch_size"] = auto_batch_size(len(matrix))
        loader = DataLoader(TensorDataset(matrix), batch_size=p["batch_size"],
                            generator=torch.Generator().manual_seed(seed + 2))
        sample_rate = 1.0 / len(loader)  # what opacus' Poisson loader uses
        # The noise is calibrated for int(epochs / sample_rate) steps; we stop exactly there
        # so the accountant's epsilon is the one the calibration promised.
        planned_steps = int(p["epochs"] / sample_rate)

        from opacus.data_loader import DPDataLoader

        losses: list[float] = []
        noise_multiplier = math.nan
        engine = None
        if p["dp"]:
            noise_multiplier = noise_multiplier_for(eps_train, delta_train, sample_rate,
                                                    planned_steps, p["accountant"])
            if p["grad_sample_mode"] == "bk":
                engine, step, loader_, cleanup = self._book_keeping(
                    model, optimizer, criterion, loader, noise_multiplier, p, seed)
            else:
                engine, step, loader_, cleanup = opacus_dp_sgd(
                    model, optimizer, criterion, loader, noise_multiplier, p, seed)
        else:
            # The same model, Poisson batches (opacus' loader) and steps; no clipping, no noise.
            loader_ = DPDataLoader.from_data_loader(loader)
            step, cleanup = plain_step(model, optimizer, criterion), None
        model.train()
        # One intra-op thread: the matrices are small (batch x ~100-wide layers), so extra
        # threads only add synchronisation; measured ~2x faster with one thread on 2 busy cores.
        # It also fixes the reduction order, which keeps fits bit-for-bit reproducible.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            rows_seen = self._train(step, loader_, planned_steps, losses)
        finally:
            torch.set_num_threads(threads)
            if cleanup is not None:
                # Detach the clipping hooks: the trained model is plain torch again
                # (sampling, saving) and the wrappers' buffers are freed.
                cleanup()
        train_seconds = time.perf_counter() - started
        train_cpu_seconds = time.process_time() - cpu_started
        model.eval()

        details: dict[str, Any] = {
            "noise_multiplier": noise_multiplier if p["dp"] else 0.0,
            "sample_rate": sample_rate,
            "steps": planned_steps,
            "epochs": p["epochs"],
            "batch_size": p["batch_size"],
            "max_grad_norm": float(p["max_grad_norm"]) if p["dp"] else None,
            "accountant": p["accountant"] if p["dp"] else None,
            "grad_sample_mode": p["grad_sample_mode"] if p["dp"] else None,
            "numeric_encoding": p["numeric_encoding"],
            "condition_on": None if condition is None else condition.column,
            "poisson_sampling": True,
            "secure_rng": False,
            "n_rows": len(matrix),
            "dp_sgd": bool(p["dp"]),
        }
        if p["dp"]:
            assert engine is not None and budget is not None
            self._check_history(engine, noise_multiplier, sample_rate, planned_steps)
            train_eps = spent_epsilon(noise_multiplier, sample_rate, planned_steps,
                                      delta_train, p["accountant"])
            details["target_epsilon"] = budget.epsilon
            spent = composed_spent(train_eps, delta_train, p["accountant"], domains, details)
            if spent.epsilon > budget.epsilon * (1 + 1e-6) or spent.delta > budget.delta * (
                    1 + 1e-9):  # the calibration makes this unreachable; fail closed anyway
                raise BudgetError(f"{OWNER}: spent epsilon={spent.epsilon:.6g}, delta="
                                  f"{spent.delta:.3g} exceed the budget {budget}")
        else:
            details["warning"] = ("trained WITHOUT DP-SGD (dp = false): no clipping, no "
                                  "noise; not differentially private")
            spent = PrivacySpent(math.inf, 0.0, NOT_PRIVATE, details)
        self.model_ = model
        self.encoder_ = encoder
        self.schema_ = schema
        self.condition_ = None if condition is None else condition.column
        self.loss_history_ = losses
        self.privacy_spent_ = spent
        # Timing of the training loop alone (wall and this process's CPU time: on a shared
        # machine the CPU time is the steadier measure of cost); kept out of privacy_spent,
        # which must be reproducible.
        self.fit_stats_ = {"train_seconds": train_seconds, "train_cpu_seconds": train_cpu_seconds,
                           "rows_seen": rows_seen, "steps": planned_steps,
                           "rows_per_second": rows_seen / max(train_seconds, 1e-9),
                           "rows_per_cpu_second": rows_seen / max(train_cpu_seconds, 1e-9)}
        return self

    @staticmethod
    def _book_keeping(model: nn.Module, optimizer: torch.optim.Optimizer, criterion: VAELoss,
                      loader: DataLoader, noise_multiplier: float, p: Mapping[str, Any],
                      seed: int) -> tuple[Any, Callable[[torch.Tensor], float], Any,
                                          Callable[[], None]]:
        """DP-SGD with one-backward clipping (``privgate.plugins._bk_clipping``); Poisson
        sampling, noise, averaging and accounting are opacus' own, set up exactly as
        ``PrivacyEngine.make_private`` does for ghost clipping."""
        from opacus.accountants import create_accountant
        from opacus.data_loader import DPDataLoader
        from opacus.optimizers import DPOptimizerFastGradientClipping

        dp_loader = DPDataLoader.from_data_loader(loader)
        sample_rate = 1 / len(dp_loader)
        accountant = create_accountant(p["accountant"])
        dp_optimizer = DPOptimizerFastGradientClipping(
            optimizer, noise_multiplier=noise_multiplier, max_grad_norm=p["max_grad_norm"],
            expected_batch_size=int(len(loader.dataset) * sample_rate),  # type: ignore[arg-type]
            loss_reduction="mean", generator=torch.Generator().manual_seed(seed + 3))
        dp_optimizer.attach_step_hook(accountant.get_optimizer_hook_fn(sample_rate=sample_rate))
        clipper = BookKeepingClipper(model, p["max_grad_norm"], OWNER)
        per_row = VAELoss(criterion.blocks, beta=criterion.beta, reduction="none",
                          condition=criterion.condition, weighting=criterion.weighting)

        def step(batch: torch.Tensor) -> float:
            dp_optimizer.zero_grad()
            losses = per_row(clipper.forward(model, batch), batch)
            clipper.clipped_grads(losses)
            dp_optimizer.step()
            return float(losses.mean().item()) if len(batch) else 0.0

        return _Engine(accountant), step, dp_loader, clipper.remove

    @staticmethod
    def _check_history(engine: Any, noise_multiplier: float, sample_rate: float,
                       steps: int) -> None:
        """The accountant's own record must be the steps we planned (defensive)."""
        history = engine.accountant.history
        taken = sum(int(h[2]) for h in history)
        if taken != steps or any(h[0] != noise_multiplier or h[1] != sample_rate
                                 for h in history):
            raise PluginError(f"{OWNER}: the accountant recorded {history}, expected {steps} "
                              f"steps at sigma={noise_multiplier}, q={sample_rate}")

    @staticmethod
    def _train(step: Callable[[torch.Tensor], float], loader: Any, steps: int,
               losses: list[float]) -> int:
        """Run exactly ``steps`` steps, append non-empty batch losses to ``losses``; returns
        the number of rows seen."""
        done = rows = 0
        with warnings.catch_warnings():
            # torch warns that backward hooks fire although the input needs no gradient:
            # expected, opacus hooks the layers, not the data.
            warnings.filterwarnings("ignore", message=".*Full backward hook is firing.*")
            while done < steps:
                for (batch,) in loader:
                    if done >= steps:
                        break
                    # Poisson sampling can draw an empty batch. It is still a DP step: the
                    # accountant charges it and the optimizer adds pure noise to zero gradients
                    # (opacus handles the empty tensors), so it must not be skipped -- skipping
                    # would reveal that the batch was empty.
                    loss = step(batch)
                    done += 1
                    rows += len(batch)
                    if len(batch):
                        losses.append(loss)
        return rows

    # -- sampling ------------------------------------------------------------------------------

    def sample(self, n: int, *, seed: int = 0,
               conditions: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Decode ``n`` draws from the latent prior into rows of the schema's modelled columns.

        A condition on the conditioning column (by default the target) fixes the decoder's
        condition input, so it is exact and costs nothing; conditions on other categorical
        columns are met by rejection (post-processing, free).
        """
        if not hasattr(self, "model_"):
            raise InputError(f"{OWNER}: call fit() before sample()")
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise InputError(f"{OWNER}: n must be a non-negative integer, got {n!r}")
        wanted = check_conditions(conditions, self.schema_, "dpsgd-vae", supported=True)
        fixed = None
        if self.condition_ is not None and self.condition_ in wanted:
            fixed = wanted.pop(self.condition_)
        if wanted:
            return sample_by_rejection(lambda k, s: self._draw(k, s, fixed), int(n), wanted,
                                       seed=seed)
        return self._draw(int(n), seed, fixed)

    def _draw(self, n: int, seed: int, fixed: Any = None) -> pd.DataFrame:
        """``n`` rows; ``fixed`` is a value of the conditioning column (``None``: drawn from
        the learnt prior)."""
        rng = np.random.default_rng(seed)
        gen = torch.Generator().manual_seed(seed)
        onehot = None
        block = None if self.condition_ is None else self.encoder_.main[self.condition_]
        if block is not None:
            width = block.end - block.start
            if fixed is None:
                idx = _draw_index(self.model_.prior_probs(), n, rng)
            else:
                cats = list(self.schema_[self.condition_].categories or ())
                idx = np.full(n, cats.index(fixed), dtype=np.int64)
            onehot = torch.zeros((n, width), dtype=torch.float32)
            onehot[torch.arange(n), torch.from_numpy(idx)] = 1.0
        with torch.no_grad():
            z = torch.randn((n, self.model_.latent_dim), generator=gen)
            recon = self.model_.generate(z, onehot)
        heads = decoder_heads(recon, self.encoder_.blocks, rng)
        if block is not None and onehot is not None:
            heads[block.column] = onehot.double().numpy()
        return self.encoder_.decode(heads, rng)

    @property
    def privacy_spent(self) -> PrivacySpent:
        """What the last fit spent: DP domains (if any) composed with DP-SGD training."""
        if not hasattr(self, "privacy_spent_"):
            raise InputError(f"{OWNER}: call fit() before reading privacy_spent")
        return self.privacy_spent_

    # -- persistence ---------------------------------------------------------------------------

    def get_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """JSON metadata (schema, architecture, privacy spent) and the model's tensors."""
        if not hasattr(self, "model_"):
            raise InputError(f"{OWNER}: call fit() before save()")
        spent = self.privacy_spent_.to_dict()
        metadata = {
            "schema": self.schema_.to_dict(),
            "condition_on": self.condition_,
            "privacy_spent": spent,
            "loss_history": list(self.loss_history_),
        }
        arrays = {f"model.{k}": v for k, v in self.model_.state_dict().items()}
        return metadata, arrays

    def set_state(self, metadata: dict[str, Any], arrays: dict[str, Any]) -> None:
        """Rebuild the encoding and the network from :meth:`get_state`'s output."""
        p = self._resolved()
        try:
            schema = schema_from_dict(metadata["schema"])
            condition_on = metadata["condition_on"]
            spent_doc = metadata["privacy_spent"]
            losses = [float(x) for x in metadata.get("loss_history", [])]
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{OWNER}: saved metadata is incomplete ({exc!r}); re-save the "
                             "generator with this version of privgate") from None
        encoder = VAEEncoding(schema, numeric=p["numeric_encoding"], n_bins=p["n_bins"])
        condition = _condition_block(schema, encoder, condition_on)
        model = VAE(encoder.width, encoder.out_width, p["hidden"], p["latent_dim"], 0,
                    None if condition is None else (condition.start, condition.end))
        weights = {k[len("model."):]: v for k, v in arrays.items() if k.startswith("model.")}
        try:
            model.load_state_dict(weights, strict=True)
        except RuntimeError as exc:
            raise InputError(f"{OWNER}: saved weights do not fit the saved parameters and "
                             f"schema ({exc})") from None
        model.eval()
        epsilon = spent_doc.get("epsilon")
        self.model_ = model
        self.encoder_ = encoder
        self.schema_ = schema
        self.condition_ = None if condition is None else condition.column
        self.loss_history_ = losses
        self.privacy_spent_ = PrivacySpent(
            epsilon=math.inf if epsilon is None else float(epsilon),
            delta=float(spent_doc["delta"]), accountant=str(spent_doc["accountant"]),
            details=dict(spent_doc.get("details", {})))


class _Engine:
    """What :meth:`DPSGDVAE._check_history` reads of an opacus ``PrivacyEngine``."""

    def __init__(self, accountant: Any) -> None:
        self.accountant = accountant




def _draw_index(probs: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` indices drawn from ``probs`` (inverse CDF, one uniform each)."""
    cum = np.cumsum(probs)
    return np.minimum(np.searchsorted(cum, rng.random(n) * cum[-1], side="right"),
                      len(probs) - 1).astype(np.int64)


@hookimpl
def privgate_generators() -> list[type[Generator]]:
    """Register :class:`DPSGDVAE`."""
    return [DPSGDVAE]
