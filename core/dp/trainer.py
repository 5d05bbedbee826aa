"""One DP-SGD fit, start to finish: :class:`DPTrainer`.

The trainer owns every privacy-critical step, in this order (each method refuses to run out of
turn):

1. :meth:`DPTrainer.prepare` -- release the missing domains (undeclared or read off the data)
   with one Gaussian mechanism sized by ``domain_share`` (:mod:`privgate.dp.budget`), which
   becomes the first entry of the accountant's history, and map the rows into them;
2. optional releases of counts the model needs, paid from the training budget:
   :meth:`~DPTrainer.release_counts` (Laplace, basic composition) before planning, or
   :meth:`~DPTrainer.release_histograms` (Gaussian, composed by the accountant) after planning
   with ``release_share``;
3. :meth:`DPTrainer.plan` -- the schedule (sample rate ``1 / ceil(rows / batch)``, exactly
   ``int(epochs / sample_rate)`` steps) and the noise multiplier calibrated by opacus so that
   the whole history (domain release included) fits the budget;
4. :meth:`DPTrainer.train` -- Poisson sampling, per-row clipping in the chosen mode, seeded or
   secure noise, exactly the planned steps (empty batches included);
5. :meth:`DPTrainer.privacy_spent` -- the accountant's history checked against the plan, the
   spends composed, the total held against the budget, the :class:`~privgate.PrivacySpent`
   record written.

With ``dp = False`` the same schedule runs with ordinary steps and the record says, with an
infinite epsilon, that the fit is not private (the overhead benchmark's mode).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray
from torch.utils.data import DataLoader, TensorDataset

from privgate import progress
from privgate.dp import budget as _budget
from privgate.dp.accounting import calibrate_with_release, check_accountant, noise_multiplier_for
from privgate.dp.clipping import CLIPPING_MODES, PrivateModel, RowLoss, plain_model, private_model
from privgate.dp.loop import TrainRun, run_steps
from privgate.dp.mechanisms import gaussian_histograms, laplace_counts
from privgate.dp.record import AccountingInputs, composed_spent
from privgate.dp.streams import Streams
from privgate.errors import N_, BudgetError, InputError, PluginError, plugin_named
from privgate.generator import NOT_PRIVATE, PrivacyBudget, PrivacySpent
from privgate.schema import Schema


@dataclass(frozen=True)
class DPSettings:
    """How to train: the DP-SGD parameters every DP generator shares.

    Attributes:
        epochs: passes over the data the noise is calibrated for.
        batch_size: expected Poisson batch size (``None``: given to :meth:`DPTrainer.plan`).
        max_grad_norm: per-row clipping norm ``C``.
        accountant: ``"rdp"`` or ``"prv"``.
        clipping: ``"bk"``, ``"ghost"`` or ``"hooks"`` (:mod:`privgate.dp.clipping`).
        domain_share: share of epsilon for undeclared domains, in ``[0, 1)``.
        secure_rng: draw the mechanisms' noise from ``os.urandom``-seeded generators (not
            reproducible; :mod:`privgate.dp.streams`).
        dp: ``False`` trains without DP-SGD and reports an infinite epsilon (benchmarks only).
    """

    epochs: int
    batch_size: int | None = None
    max_grad_norm: float = 1.0
    accountant: str = "rdp"
    clipping: str = "ghost"
    domain_share: float = 0.1
    secure_rng: bool = False
    dp: bool = True

    def __post_init__(self) -> None:
        check_accountant(self.accountant)
        if self.clipping not in CLIPPING_MODES:
            raise InputError(N_("clipping mode %(clipping)r is not one of %(clipping_modes)s"),
                             clipping=self.clipping, clipping_modes=list(CLIPPING_MODES))
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 1:
            raise InputError(N_("epochs must be a positive integer, got %(epochs)r"),
                             epochs=self.epochs)
        if not (self.max_grad_norm > 0 and math.isfinite(self.max_grad_norm)):
            raise InputError(N_("max_grad_norm must be a positive number, got %(max_grad_norm)r"),
                             max_grad_norm=self.max_grad_norm)


@dataclass(frozen=True)
class Schedule:
    """The planned training: rows, batch, sample rate, exact step count and noise."""

    n_rows: int
    batch_size: int
    sample_rate: float
    steps: int
    noise_multiplier: float
    #: Noise multiplier of the Gaussian release planned with ``release_share`` (else None).
    release_noise_multiplier: float | None = None


@dataclass
class _Releases:
    """Counts released outside DP-SGD so far."""

    laplace_epsilon: float = 0.0
    gaussian: list[tuple[float, float, int]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)


class DPTrainer:
    """One DP-SGD fit of generator ``name`` under ``budget`` (see the module docstring).

    Args:
        name: the generator's name (names the random streams and the messages).
        settings: the DP-SGD parameters.
        budget: the fit's budget (``None`` only with ``settings.dp = False``).
        seed: the audit seed: every random stream is derived from it and a name
            (:class:`privgate.dp.streams.Streams`).
    """

    def __init__(self, name: str, settings: DPSettings, budget: PrivacyBudget | None,
                 seed: int) -> None:
        self.name = name
        self.owner = plugin_named("generator", name)
        self.settings = settings
        self.budget = budget
        self.streams = Streams(int(seed), name, bool(settings.secure_rng))
        self.prepared: _budget.Prepared | None = None
        self.schedule: Schedule | None = None
        self.run: TrainRun | None = None
        self._private: PrivateModel | None = None
        self._releases = _Releases()

    # -- 1. budget split and DP domains -----------------------------------------------------

    def prepare(self, data: pd.DataFrame, schema: Schema) -> _budget.Prepared:
        """Check the inputs, release missing domains under DP, keep the rows inside them."""
        if self.prepared is not None:
            raise PluginError(N_("%(owner)s: DPTrainer.prepare() runs once per fit"),
                              owner=self.owner)
        s = self.settings
        self.prepared = _budget.prepare(self.owner, data, schema, self.budget, dp=s.dp,
                                        domain_share=s.domain_share, accountant=s.accountant,
                                        epochs=s.epochs, batch_size=s.batch_size,
                                        noise=self.streams.mechanism_numpy("domains"),
                                        mapping=self.streams.numpy("domain mapping"))
        return self.prepared

    def _need(self, prepared: bool = True, planned: bool = False) -> _budget.Prepared:
        if self.prepared is None and prepared:
            raise PluginError(N_("%(owner)s: call DPTrainer.prepare() first"), owner=self.owner)
        if planned and self.schedule is None:
            raise PluginError(N_("%(owner)s: call DPTrainer.plan() first"), owner=self.owner)
        assert self.prepared is not None
        return self.prepared

    # -- 2. releases of counts --------------------------------------------------------------

    def release_counts(self, counts: NDArray[np.float64], share: float, what: str
                       ) -> NDArray[np.float64]:
        """``counts`` with Laplace noise paid by ``share`` of the training epsilon (basic
        composition); one record must change one cell by one. Exact counts without DP."""
        prepared = self._need()
        if self.schedule is not None:
            raise PluginError(N_("%(owner)s: release counts before DPTrainer.plan()"),
                              owner=self.owner)
        if not self.settings.dp:
            return np.asarray(counts, dtype=float)
        if not 0 < share < 1:
            raise InputError(N_("%(owner)s: the share of epsilon for %(what)s must be in (0, "
                                "1), got %(share)r"), owner=self.owner, what=what, share=share)
        epsilon = float(share) * prepared.train_epsilon
        prepared.train_epsilon -= epsilon
        self._releases.laplace_epsilon += epsilon
        self._releases.notes.append({"what": what, "mechanism": "Laplace (L1 sensitivity 1)",
                                     "epsilon": epsilon})
        rng = self.streams.mechanism_numpy(f"release {len(self._releases.notes)}")
        return laplace_counts(counts, epsilon, rng)

    def release_histograms(self, counts: list[NDArray[np.float64]], what: str
                           ) -> list[NDArray[np.float64]]:
        """Histograms with Gaussian noise at the multiplier :meth:`plan` calibrated with
        ``release_share`` (see :func:`privgate.dp.mechanisms.gaussian_histograms`); composed
        by the accountant. Exact counts without DP."""
        self._need(planned=True)
        assert self.schedule is not None
        if not self.settings.dp:
            return [np.asarray(c, dtype=float) for c in counts]
        sigma = self.schedule.release_noise_multiplier
        if sigma is None:
            raise PluginError(N_("%(owner)s: plan(release_share=...) reserves the budget of a "
                                 "Gaussian release; none was reserved"), owner=self.owner)
        if self._releases.gaussian:
            raise PluginError(N_("%(owner)s: the reserved Gaussian release was already used"),
                              owner=self.owner)
        self._releases.gaussian.append((sigma, 1.0, 1))
        self._releases.notes.append({"what": what, "mechanism": "Gaussian (L2 sensitivity "
                                     "sqrt(histograms)), composed by the accountant",
                                     "noise_multiplier": sigma, "histograms": len(counts)})
        rng = self.streams.mechanism_numpy(f"release {len(self._releases.notes)}")
        return gaussian_histograms(counts, sigma, rng)

    def releases(self) -> list[dict[str, Any]]:
        """What was released outside DP-SGD so far: ``what``, ``mechanism``, ``epsilon`` or
        ``noise_multiplier``."""
        return [dict(note) for note in self._releases.notes]

    # -- 3. schedule and calibration --------------------------------------------------------

    def plan(self, n_rows: int, *, batch_size: int | None = None,
             release_share: float = 0.0) -> Schedule:
        """The schedule for ``n_rows`` training rows and the calibrated noise multiplier.

        ``release_share`` > 0 reserves that share of the training epsilon for one Gaussian
        release (:meth:`release_histograms`), composed by the accountant.
        """
        prepared = self._need()
        if self.schedule is not None:
            raise PluginError(N_("%(owner)s: DPTrainer.plan() runs once per fit"),
                              owner=self.owner)
        batch = batch_size if batch_size is not None else self.settings.batch_size
        if batch is None or isinstance(batch, bool) or int(batch) < 1:
            raise InputError(N_("%(owner)s: no valid batch size (%(batch)r)"),
                             owner=self.owner, batch=batch)
        if n_rows < 1:
            raise InputError(N_("%(owner)s: no training rows left"), owner=self.owner)
        sample_rate = 1.0 / math.ceil(n_rows / int(batch))  # what opacus' Poisson loader uses
        steps = int(self.settings.epochs / sample_rate)
        sigma, sigma_r = 0.0, None
        if self.settings.dp:
            eps, delta = prepared.train_epsilon, prepared.train_delta
            acc, prior = self.settings.accountant, prepared.domains.history
            if release_share:
                sigma, sigma_r = calibrate_with_release(eps, delta, sample_rate, steps, acc,
                                                        share=release_share, prior=prior)
            else:
                sigma = noise_multiplier_for(eps, delta, sample_rate, steps, acc, prior=prior)
        self.schedule = Schedule(n_rows, int(batch), sample_rate, steps, sigma, sigma_r)
        return self.schedule

    # -- 4. the exact step loop -------------------------------------------------------------

    def train(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
              data: torch.Tensor, loss: RowLoss, *,
              after_step: Callable[[PrivateModel], float | None] | None = None,
              on_step: Callable[[int, int], None] | None = None) -> TrainRun:
        """Train ``model`` on the rows of ``data`` for exactly the planned steps.

        ``loss(module, batch)`` returns one loss per row; ``after_step(private)`` (optional)
        runs after each private step, e.g. a GAN generator's step through
        ``private.paused()``; ``on_step(done, total)`` is told how far training got (default:
        the running step of :mod:`privgate.progress`, which shows it with an estimate). Torch's
        global generator is seeded for the loop from the stream ``"training"``; the batches and
        the noise come from mechanism streams.
        """
        self._need(planned=True)
        assert self.schedule is not None
        if self.run is not None:
            raise PluginError(N_("%(owner)s: DPTrainer.train() runs once per fit"),
                              owner=self.owner)
        if len(data) != self.schedule.n_rows:
            raise PluginError(N_("%(owner)s: planned for %(n_rows)s rows, got %(n_data)s"),
                              owner=self.owner, n_rows=self.schedule.n_rows, n_data=len(data))
        s = self.settings
        loader = DataLoader(TensorDataset(data), batch_size=self.schedule.batch_size,
                            generator=self.streams.mechanism_torch("batches"))
        if s.dp:
            private, batches = private_model(
                model, optimizer, loader, mode=s.clipping,
                noise_multiplier=self.schedule.noise_multiplier, max_grad_norm=s.max_grad_norm,
                accountant=s.accountant, noise=self.streams.mechanism_torch("noise"),
                owner=self.owner)
        else:
            private, batches = plain_model(model, optimizer, loader)
        if abs(1.0 / len(batches) - self.schedule.sample_rate) > 1e-12:  # defensive
            raise PluginError(N_("%(owner)s: opacus' loader has %(n_batches)s batches, the plan "
                                 "a sample rate of %(sample_rate)s"),
                              owner=self.owner, n_batches=len(batches),
                              sample_rate=self.schedule.sample_rate)
        self._private = private
        steps = self.schedule.steps
        tell = on_step or (lambda done, total: progress.advance(done, total, "training steps"))
        with self.streams.global_torch("training"):
            self.run = run_steps(private, batches, steps, loss, after_step,
                                 lambda done: tell(done, steps))
        return self.run

    # -- 5. verification, composition, the record -------------------------------------------

    def privacy_spent(self, details: Mapping[str, Any] | None = None) -> PrivacySpent:
        """The record of the fit: schedule, noise source, accountant inputs, composed spend.

        Raises:
            PluginError: the accountant recorded other steps than planned.
            BudgetError: the composed spend exceeds the budget (calibration makes this
                unreachable; the check fails closed anyway).
        """
        prepared = self._need(planned=True)
        if self.run is None or self._private is None:
            raise PluginError(N_("%(owner)s: call DPTrainer.train() first"), owner=self.owner)
        assert self.schedule is not None
        sch, s = self.schedule, self.settings
        out: dict[str, Any] = dict(details or {})
        out.update({
            "noise_multiplier": sch.noise_multiplier, "sample_rate": sch.sample_rate,
            "steps": sch.steps, "epochs": s.epochs, "batch_size": sch.batch_size,
            "max_grad_norm": s.max_grad_norm if s.dp else None,
            "grad_sample_mode": s.clipping if s.dp else None, "poisson_sampling": True,
            "secure_rng": s.secure_rng, "noise_source": self.streams.noise_source,
            "n_rows": sch.n_rows, "dp_sgd": s.dp, "releases": list(self._releases.notes)})
        if not s.dp:
            out["warning"] = ("trained WITHOUT DP-SGD (dp = false): no clipping, no noise; not "
                              "differentially private")
            return PrivacySpent(math.inf, 0.0, NOT_PRIVATE, out)
        assert self.budget is not None
        recorded = self._private.history()
        planned = (sch.noise_multiplier, sch.sample_rate, sch.steps)
        if (sum(k for _, _, k in recorded) != sch.steps
                or any((sg, q) != planned[:2] for sg, q, _ in recorded)):
            raise PluginError(N_("%(owner)s: the accountant recorded %(recorded)s, expected "
                                 "%(steps)s steps at sigma=%(noise_multiplier)s, "
                                 "q=%(sample_rate)s"),
                              owner=self.owner, recorded=recorded, steps=sch.steps,
                              noise_multiplier=sch.noise_multiplier, sample_rate=sch.sample_rate)
        domains = prepared.domains
        inputs = AccountingInputs(s.accountant,
                                  (*domains.history, *self._releases.gaussian, *recorded),
                                  prepared.train_delta, 0.0, domains.delta,
                                  self._releases.laplace_epsilon,
                                  domain_entries=len(domains.history))
        out["domain_cells_mapped"] = dict(prepared.mapped)
        out["target_epsilon"] = self.budget.epsilon
        spent = composed_spent(inputs, out, domain_details=domains.details,
                               domain_columns=domains.columns)
        if (spent.epsilon > self.budget.epsilon * (1 + 1e-6)
                or spent.delta > self.budget.delta * (1 + 1e-9)):
            raise BudgetError(N_("%(owner)s: spent epsilon=%(epsilon)s, delta=%(delta)s exceed "
                                 "the budget %(budget)s"),
                              owner=self.owner, epsilon=f"{spent.epsilon:.6g}",
                              delta=f"{spent.delta:.3g}", budget=self.budget)
        return spent
