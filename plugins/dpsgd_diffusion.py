"""``dpsgd-diffusion``: a TabDDPM-style tabular diffusion model trained with DP-SGD (opacus).

Model (``privgate.plugins._diffusion_model``): Gaussian diffusion for numeric columns, multinomial
diffusion for categorical ones, an MLP denoiser with a timestep embedding, a cosine schedule with
``steps`` (default 100) diffusion steps -- TabDDPM (Kotelnikov et al. 2023) with a short chain so
that training and sampling stay fast on CPU.

Privacy argument, end to end:

* Preprocessing reads only the schema's declared domains
  (``privgate.plugins._diffusion_encoding``): numbers are scaled to [-1, 1] from the declared
  bounds (linear, or logarithmic for ranges spanning orders of magnitude -- decided from the
  bounds alone), categories become codes of the declared list. TabDDPM's quantile transformer,
  which is fitted on the rows, is deliberately not used.
* Domains the schema does not declare (or that were read off the data) are estimated under DP
  with ``domain_share * epsilon`` (``privgate.plugins._dp_domains``), rows outside the released
  domains are dropped (a per-row filter), and the two spends are composed
  (``privgate.plugins._dp_accounting.composed_spent``, basic composition).
* Every gradient step is DP-SGD: Poisson-sampled rows, each row's gradient clipped to
  ``max_grad_norm`` (opacus ghost clipping by default), Gaussian noise calibrated by the
  accountant (RDP or PRV) for the planned number of steps. Each row's loss uses one timestep and
  one noise draw of its own, independent of the data, so it is a function of that row alone.
* Sampling runs the reverse chain from pure noise (post-processing, free).

``dp = False`` trains the same model on the same Poisson batches and number of steps with
ordinary Adam steps (no clipping, no noise) and reports an infinite epsilon. It exists for the
generator benchmark's DP-overhead ratio; never use it for a release.

Why these defaults (adult, 39k training rows, epsilon = 1, delta = 1e-5, seed 0; TSTR AUROC of a
HistGradientBoosting model trained on 5,000 synthetic rows, tested on 9,000 held-out real rows;
measured on 2 heavily shared cores, load average 12-15, so the fit times are pessimistic):

* TabDDPM's own recipe (MLP 256x256, batch 1024-2048, KL loss only, unconditional, lr 2e-3 to
  3e-3) learns the marginals under DP-SGD but no joint structure (AUROC 0.47-0.50); without DP
  the same model reaches 0.87 on 10k rows, so the loss of signal is DP noise, not the model.
* A smaller denoiser (128x128, 32-wide time embedding: fewer coordinates to noise), batches of
  4096 and two timesteps per record ("augmentation multiplicity"): 0.59 at lr 1e-3.
* lr 3e-3 plus the D3PM auxiliary cross-entropy (``ce_weight`` 0.5): 0.79; with class
  conditioning on the target as well: 0.83; lr 5e-3 and ``ce_weight`` 1.0: 0.87 (fit 139 s).

The denoiser is conditioned on the schema's target by default (TabDDPM's class conditioning):
a condition on it is exact, conditions on other categorical columns are met by rejection
sampling (:func:`privgate.generator.sample_by_rejection`; post-processing, exact).
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
from torch.utils.data import DataLoader, TensorDataset

from privgate import hookimpl, params
from privgate.encoding import category_indices
from privgate.errors import BudgetError, InputError, PluginError
from privgate.generator import (
    NOT_PRIVATE,
    Generator,
    PrivacyBudget,
    PrivacySpent,
    check_conditions,
    sample_by_rejection,
)
from privgate.plugins._diffusion_encoding import DiffusionEncoding
from privgate.plugins._diffusion_model import DiffusionLoss, TabDiffusion
from privgate.plugins._dp_accounting import (
    ACCOUNTANTS,
    composed_spent,
    noise_multiplier_for,
    prepare_fit,
    spent_epsilon,
)
from privgate.plugins._dp_training import opacus_dp_sgd, plain_step
from privgate.schema import Schema

OWNER = "generator 'dpsgd-diffusion'"

#: Constructor parameters and their defaults, tuned on adult at epsilon = 1 (see the module
#: docstring); a fit on adult's ~39k training rows takes about 3 minutes on two busy cores.
DEFAULTS: dict[str, Any] = {
    "epochs": 20,
    "batch_size": 4096,
    "lr": 5e-3,
    "steps": 100,
    "hidden": (128, 128),
    "ce_weight": 1.0,
    "multiplicity": 2,
    "condition_on": "target",
    "prior_share": 0.02,
    "max_grad_norm": 1.0,
    "accountant": "rdp",
    "grad_sample_mode": "ghost",
    "domain_share": 0.1,
    "dp": True,
}
GRAD_SAMPLE_MODES = ("ghost", "hooks")


def _check_params(given: Mapping[str, Any]) -> dict[str, Any]:
    """Validate constructor parameters; the message names the parameter and what is allowed."""
    p = params.resolve(OWNER, DEFAULTS, given)
    for key in ("epochs", "batch_size", "multiplicity"):
        params.check_int(OWNER, p, key)
    params.check_int(OWNER, p, "steps", 2)
    hidden = p["hidden"]
    if isinstance(hidden, int | np.integer) and not isinstance(hidden, bool):
        hidden = (hidden,)
    if (not isinstance(hidden, Sequence) or isinstance(hidden, str) or not hidden
            or not all(isinstance(h, int | np.integer) and not isinstance(h, bool) and h >= 1
                       for h in hidden)):
        raise InputError(f"{OWNER}: parameter 'hidden' must be a non-empty list of positive "
                         f"integers (layer widths), got {p['hidden']!r}")
    p["hidden"] = tuple(int(h) for h in hidden)
    for key in ("lr", "max_grad_norm"):
        params.check_positive(OWNER, p, key)
    ce = p["ce_weight"]
    if isinstance(ce, bool) or not isinstance(ce, int | float) or not (0 <= ce < math.inf):
        raise InputError(f"{OWNER}: parameter 'ce_weight' must be a finite number >= 0, got "
                         f"{ce!r}")
    params.check_choice(OWNER, p, "accountant", ACCOUNTANTS)
    params.check_choice(OWNER, p, "grad_sample_mode", GRAD_SAMPLE_MODES)
    share = p["domain_share"]
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share < 1:
        raise InputError(f"{OWNER}: parameter 'domain_share' must be a number in [0, 1) (the "
                         f"share of epsilon for undeclared domains), got {share!r}")
    share = p["prior_share"]
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share < 1:
        raise InputError(f"{OWNER}: parameter 'prior_share' must be a number in (0, 1) (the "
                         f"share of the training epsilon for the conditioning column's class "
                         f"counts), got {share!r}")
    if p["condition_on"] is not None and not isinstance(p["condition_on"], str):
        raise InputError(f"{OWNER}: parameter 'condition_on' must be a categorical column "
                         f"name, 'target' or none, got {p['condition_on']!r}")
    if not isinstance(p["dp"], bool):
        raise InputError(f"{OWNER}: parameter 'dp' must be true or false, got {p['dp']!r}")
    return p


class DPSGDDiffusion(Generator):
    """TabDDPM-style diffusion model trained with DP-SGD (opacus, Poisson sampling).

    Parameters (keyword arguments, stored in :attr:`params`):
        epochs: passes over the data the noise is calibrated for (default 20).
        batch_size: expected Poisson batch size; sampling rate ``1 / ceil(n_rows /
            batch_size)`` (default 4096).
        lr: Adam learning rate (default 5e-3).
        steps: diffusion steps ``T`` (default 100).
        hidden: widths of the denoiser's hidden layers (default ``(128, 128)``).
        ce_weight: weight of the auxiliary x_0 cross-entropy for categorical columns
            (default 1.0; 0 is TabDDPM's loss; see ``DiffusionLoss``).
        multiplicity: noisings (timesteps) per record and step, averaged into the record's
            loss before clipping (default 2; see ``TabDiffusion.forward``).
        condition_on: a categorical column the denoiser is conditioned on (TabDDPM's class
            conditioning): ``"target"`` (default: the schema's target when it is
            categorical, else none), a column name, or ``None``. Its class counts are
            released with the Laplace mechanism (``prior_share`` of the training epsilon,
            composed) to draw the classes of unconditional samples; a condition on it is
            exact (no rejection).
        prior_share: share of the training epsilon for those counts (default 0.02).
        max_grad_norm: per-row gradient clipping norm (default 1.0).
        accountant: ``"rdp"`` (default) or ``"prv"``.
        grad_sample_mode: ``"ghost"`` (default, ghost clipping) or ``"hooks"`` (per-sample
            gradients); the same guarantee.
        domain_share: share of epsilon spent on estimating undeclared domains (default 0.1;
            nothing is spent when the schema declares every domain).
        dp: ``True`` (default). ``False`` trains without DP-SGD (benchmark use only; reports
            an infinite epsilon).
    """

    name: ClassVar[str] = "dpsgd-diffusion"
    description: ClassVar[str] = ("TabDDPM-style diffusion model (Gaussian + multinomial "
                                  "diffusion, MLP denoiser) trained with DP-SGD (opacus)")
    is_private: ClassVar[bool] = True
    supports_conditions: ClassVar[bool] = True

    def __init__(self, **params: Any) -> None:
        _check_params(params)
        self.params: dict[str, Any] = dict(params)

    # -- fit -----------------------------------------------------------------------------------
    def fit(self, data: pd.DataFrame, schema: Schema, budget: PrivacyBudget | None,
            *, seed: int = 0) -> DPSGDDiffusion:
        """Train the denoiser on ``data`` under ``budget``; see :class:`privgate.Generator`.

        Raises:
            BudgetError: ``budget`` is ``None`` or has ``delta == 0`` (with ``dp``), or the
                budget cannot be met.
            InputError: ``data`` is empty or lacks a modelled column.
        """
        p = _check_params(self.params)
        inputs = prepare_fit(OWNER, data, schema, budget, dp=bool(p["dp"]),
                             domain_share=float(p["domain_share"]), seed=seed)
        data, schema, domains = inputs.data, inputs.schema, inputs.domains
        eps_train, delta_train = inputs.train_epsilon, inputs.train_delta
        encoder = DiffusionEncoding(schema)
        num, cat = encoder.transform(data)  # reads the (declared or DP) domain only
        slot = _condition_slot(encoder, schema, p["condition_on"])
        if slot is not None and num.shape[1] == 0 and len(encoder.categorical) == 1:
            # The condition column is the only column: nothing would be left to denoise, so
            # model it as an ordinary categorical column instead.
            slot = None
        class_counts = encoder.class_counts
        cond_classes = 0
        prior: np.ndarray | None = None
        eps_prior = 0.0
        if slot is not None:
            cond_classes = class_counts.pop(slot)
            cond = cat[:, slot]
            keep = cond >= 0  # a per-row filter: rows without a class cannot condition
            num, cat, cond = num[keep], np.delete(cat, slot, axis=1)[keep], cond[keep]
            if len(cond) == 0:
                raise InputError(f"{OWNER}: no training row has a value of "
                                 f"{encoder.categorical[slot].column!r} in its categories")
            counts = np.bincount(cond, minlength=cond_classes).astype(float)
            if p["dp"]:
                eps_prior = float(p["prior_share"]) * eps_train
                eps_train -= eps_prior
                # Laplace mechanism: adding or removing a record changes one count by 1.
                counts = counts + np.random.default_rng(seed + 4).laplace(
                    0.0, 1.0 / eps_prior, cond_classes)
            counts = np.clip(counts, 0.0, None)
            prior = (counts / counts.sum() if counts.sum() > 0
                     else np.full(cond_classes, 1.0 / cond_classes))
            cat = np.hstack([cat, cond[:, None]])
        matrix = torch.from_numpy(np.hstack([num, cat.astype(np.float32)]))

        # Every random draw comes from generators seeded here: weight init (forked global
        # RNG), timesteps and diffusion noise (the model's generator), Poisson batches, DP
        # noise. Opacus' secure_mode would make fits irreproducible; recorded in the details.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = TabDiffusion(len(encoder.numeric), class_counts, p["hidden"],
                                 p["steps"], seed + 1, p["multiplicity"], cond_classes)
        criterion = DiffusionLoss(model, ce_weight=float(p["ce_weight"]))
        optimizer = torch.optim.Adam(model.parameters(), lr=p["lr"])
        loader = DataLoader(TensorDataset(matrix), batch_size=p["batch_size"],
                            generator=torch.Generator().manual_seed(seed + 2))
        sample_rate = 1.0 / len(loader)  # what opacus' Poisson loader uses
        planned = int(p["epochs"] / sample_rate)

        engine: Any = None
        cleanup: Callable[[], None] | None = None
        sigma = math.nan
        if p["dp"]:
            sigma = noise_multiplier_for(eps_train, delta_train, sample_rate, planned,
                                         p["accountant"])
            engine, step, batches, cleanup = opacus_dp_sgd(model, optimizer, criterion, loader,
                                                           sigma, p, seed)
        else:
            from opacus.data_loader import DPDataLoader

            batches = DPDataLoader.from_data_loader(
                loader, generator=torch.Generator().manual_seed(seed + 3))
            step = plain_step(model, optimizer, criterion)
        losses: list[float] = []
        threads = torch.get_num_threads()
        # One intra-op thread: small matrices, where extra threads only synchronise; it also
        # fixes the reduction order, which keeps fits bit-for-bit reproducible.
        torch.set_num_threads(1)
        started = time.perf_counter()
        model.train()
        try:
            rows_seen = _train(step, batches, planned, losses)
        finally:
            torch.set_num_threads(threads)
            if cleanup is not None:
                cleanup()  # detach opacus' hooks: the model is plain torch again
        train_seconds = time.perf_counter() - started
        model.eval()

        details: dict[str, Any] = {
            "noise_multiplier": sigma if p["dp"] else 0.0,
            "sample_rate": sample_rate,
            "steps": planned,
            "epochs": p["epochs"],
            "batch_size": p["batch_size"],
            "diffusion_steps": p["steps"],
            "ce_weight": float(p["ce_weight"]),
            "multiplicity": p["multiplicity"],
            "condition_on": None if slot is None else encoder.categorical[slot].column,
            "max_grad_norm": float(p["max_grad_norm"]) if p["dp"] else None,
            "grad_sample_mode": p["grad_sample_mode"] if p["dp"] else None,
            "poisson_sampling": True,
            "secure_rng": False,
            "n_rows": len(matrix),
            "dp_sgd": bool(p["dp"]),
            "numeric_transforms": {s.column: s.transform for s in encoder.numeric},
        }
        if p["dp"]:
            assert budget is not None
            _check_history(engine, sigma, sample_rate, planned)
            train_eps = spent_epsilon(sigma, sample_rate, planned, delta_train, p["accountant"])
            details["target_epsilon"] = budget.epsilon
            spent = composed_spent(train_eps, delta_train, p["accountant"], domains, details)
            if eps_prior:
                # The Laplace class counts compose sequentially with the rest.
                spent = PrivacySpent(
                    spent.epsilon + eps_prior, spent.delta,
                    spent.accountant + " + Laplace class counts (basic composition)",
                    {**spent.details, "prior_epsilon": eps_prior,
                     "prior_mechanism": "Laplace noise of scale 1/prior_epsilon on the class "
                                        "counts of the conditioning column (L1 sensitivity 1)"})
            if (spent.epsilon > budget.epsilon * (1 + 1e-6)
                    or spent.delta > budget.delta * (1 + 1e-9)):  # fail closed
                raise BudgetError(f"{OWNER}: spent epsilon={spent.epsilon:.6g}, delta="
                                  f"{spent.delta:.3g} exceed the budget {budget}")
        else:
            details["warning"] = ("trained WITHOUT DP-SGD (dp = false): no clipping, no "
                                  "noise; not differentially private")
            spent = PrivacySpent(math.inf, 0.0, NOT_PRIVATE, details)
        self.model_ = model
        self.encoder_ = encoder
        self.schema_ = schema
        self.slot_ = slot
        self.prior_ = prior
        self.loss_history_ = losses
        self.privacy_spent_ = spent
        self.fit_stats_ = {"train_seconds": train_seconds, "rows_seen": rows_seen,
                           "steps": planned,
                           "rows_per_second": rows_seen / max(train_seconds, 1e-9)}
        return self

    # -- sampling ------------------------------------------------------------------------------
    def sample(self, n: int, *, seed: int = 0,
               conditions: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run the reverse diffusion chain for ``n`` rows (conditions: rejection sampling)."""
        if not hasattr(self, "model_"):
            raise InputError(f"{OWNER}: call fit() before sample()")
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise InputError(f"{OWNER}: n must be a non-negative integer, got {n!r}")
        wanted = check_conditions(conditions, self.schema_, self.name, supported=True)
        fixed: int | None = None
        if self.slot_ is not None:
            column = self.schema_[self.encoder_.categorical[self.slot_].column]
            if column.name in wanted:  # exact: the denoiser is conditioned on it
                value = wanted.pop(column.name)
                fixed = int(category_indices(pd.Series([value], dtype=object), column)[0])
        if wanted:
            return sample_by_rejection(lambda k, s: self._draw(k, s, fixed), int(n), wanted,
                                       seed=seed)
        return self._draw(int(n), seed, fixed)

    def _draw(self, n: int, seed: int, fixed: int | None = None) -> pd.DataFrame:
        """``n`` rows; ``fixed`` is a class code of the conditioning column (``None``: drawn
        from the released class counts)."""
        gen = torch.Generator().manual_seed(seed)
        cond: np.ndarray | None = None
        if self.slot_ is not None:
            assert self.prior_ is not None
            cond = (np.full(n, fixed, dtype=np.int64) if fixed is not None else
                    np.random.default_rng(seed).choice(len(self.prior_), size=n, p=self.prior_))
        threads = torch.get_num_threads()
        # One thread: the reverse chain is ~100 x (a few small ops per column); with a thread
        # pool each tiny op pays a synchronisation that dominated on busy cores (measured
        # about 10x slower with 2 threads on 2 loaded cores).
        torch.set_num_threads(1)
        try:
            num, codes = self.model_.sample(n, gen, None if cond is None
                                            else torch.from_numpy(cond))
        finally:
            torch.set_num_threads(threads)
        if cond is not None:
            codes = np.insert(codes, self.slot_, cond, axis=1)
        return self.encoder_.inverse(num, codes)

    @property
    def privacy_spent(self) -> PrivacySpent:
        """What the last fit spent: DP domains (if any) composed with DP-SGD training."""
        if not hasattr(self, "privacy_spent_"):
            raise InputError(f"{OWNER}: call fit() before reading privacy_spent")
        return self.privacy_spent_

    # -- persistence ---------------------------------------------------------------------------
    def get_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """JSON metadata (schema, privacy spent) and the denoiser's tensors."""
        if not hasattr(self, "model_"):
            raise InputError(f"{OWNER}: call fit() before save()")
        spent = self.privacy_spent_
        meta = {"schema": self.schema_.to_dict(), "slot": self.slot_,
                "prior": None if self.prior_ is None else [float(v) for v in self.prior_],
                "privacy_spent": {"epsilon": spent.epsilon if spent.is_private else None,
                                  "delta": spent.delta, "accountant": spent.accountant,
                                  "details": dict(spent.details)}}
        return meta, dict(self.model_.state_dict())

    def set_state(self, metadata: dict[str, Any], arrays: dict[str, Any]) -> None:
        """Restore what :meth:`get_state` returned (architecture from params and schema)."""
        from privgate.plugins._generator_state import schema_from_dict

        p = _check_params(self.params)
        self.schema_ = schema_from_dict(metadata["schema"])
        self.encoder_ = DiffusionEncoding(self.schema_)
        self.slot_ = metadata["slot"]
        self.prior_ = None if metadata["prior"] is None else np.array(metadata["prior"])
        counts = self.encoder_.class_counts
        cond_classes = 0 if self.slot_ is None else counts.pop(self.slot_)
        model = TabDiffusion(len(self.encoder_.numeric), counts, p["hidden"], p["steps"], 0,
                             p["multiplicity"], cond_classes)
        try:
            model.load_state_dict(arrays)
        except RuntimeError as exc:
            raise InputError(f"{OWNER}: saved weights do not fit the saved schema and "
                             f"parameters ({exc})") from None
        model.eval()
        self.model_ = model
        ps = metadata["privacy_spent"]
        eps = math.inf if ps["epsilon"] is None else float(ps["epsilon"])
        self.privacy_spent_ = PrivacySpent(eps, float(ps["delta"]), str(ps["accountant"]),
                                           ps["details"])


def _condition_slot(encoder: DiffusionEncoding, schema: Schema, condition_on: str | None
                    ) -> int | None:
    """The categorical slot the denoiser is conditioned on, or ``None``."""
    if condition_on is None or condition_on == "":
        return None
    name = schema.target if condition_on == "target" else condition_on
    if name is None:
        return None
    for j, slot in enumerate(encoder.categorical):
        if slot.flag_of is None and slot.column == name:
            return j
    if condition_on == "target":  # a numeric target: no class conditioning
        return None
    raise InputError(f"{OWNER}: parameter 'condition_on' = {condition_on!r} is not a modelled "
                     f"categorical column (categorical: "
                     f"{[c.column for c in encoder.categorical if c.flag_of is None]})")


def _check_history(engine: Any, sigma: float, sample_rate: float, steps: int) -> None:
    """The accountant's own record must be the steps we planned (defensive)."""
    history = engine.accountant.history
    taken = sum(int(h[2]) for h in history)
    if taken != steps or any(h[0] != sigma or h[1] != sample_rate for h in history):
        raise PluginError(f"{OWNER}: the accountant recorded {history}, expected {steps} "
                          f"steps at sigma={sigma}, q={sample_rate}")


def _train(step: Callable[[torch.Tensor], float], loader: Any, steps: int,
           losses: list[float]) -> int:
    """Exactly ``steps`` steps (empty Poisson batches included: they are DP steps too);
    returns the number of rows seen."""
    done = rows = 0
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Full backward hook is firing.*")
        while done < steps:
            for (batch,) in loader:
                if done >= steps:
                    break
                loss = step(batch)
                done += 1
                rows += len(batch)
                if len(batch):
                    losses.append(loss)
    return rows


@hookimpl
def privgate_generators() -> list[type[Generator]]:
    """Register :class:`DPSGDDiffusion`."""
    return [DPSGDDiffusion]
