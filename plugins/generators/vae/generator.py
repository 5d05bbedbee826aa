"""``dpsgd-vae``: a tabular (conditional) variational autoencoder trained with DP-SGD.

Privacy argument, end to end:

* Preprocessing reads only the schema's domain (:class:`~.encoding.VAEEncoding`): categories
  become one-hot blocks, numeric columns are binned on a grid over their declared bounds. No
  minimum, maximum, quantile, precision or category list is taken from the training rows; a
  domain the schema does not declare (or read off the data) is first released under DP by the
  trainer (:class:`privgate.dp.DPTrainer`), with ``domain_share`` of epsilon.
* Every gradient step is DP-SGD, run by the trainer: Poisson-sampled rows, each row's gradient
  clipped to ``max_grad_norm`` (one-backward book-keeping clipping by default, which needs the
  model to consist of ``nn.Linear`` layers and element-wise activations only), Gaussian noise
  calibrated by opacus' accountant for exactly the planned number of steps; the reported epsilon
  is the accountant's, composed with the domain spend.
* The condition prior (a CVAE conditioned on the target by default) is an ``nn.Linear`` fed a
  constant, trained in the same DP-SGD steps at no extra cost.
* Sampling runs the decoder on Gaussian noise and a condition drawn from the learnt prior
  (post-processing, free).

Tuning figures (batch size, beta, learning rate, conditioning): ``benchmarks/results/
generators.md`` and ``dp_generators_tuning.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from privgate import hookimpl
from privgate.dp import DPSGDGenerator, dp_params
from privgate.dp.params import OptionalName, Widths
from privgate.errors import N_, InputError
from privgate.generator import Generator, PrivacyBudget, check_conditions, sample_by_rejection
from privgate.params import Integer, OneOf, Positive, check_count
from privgate.plugins.generators.vae.encoding import NUMERIC_ENCODINGS, Block, VAEEncoding
from privgate.plugins.generators.vae.model import VAE, WEIGHTINGS, VAELoss, decoder_heads
from privgate.randomness import rng, torch_generator
from privgate.schema import Schema

#: ``condition_on`` value meaning "the schema's target column".
CONDITION_TARGET = "target"
#: ``batch_size = "auto"``: about this share of the rows per expected Poisson batch ...
AUTO_BATCH_SHARE = 1 / 20
#: ... rounded to a power of two within these bounds.
AUTO_BATCH_RANGE = (64, 2048)


def auto_batch_size(n_rows: int) -> int:
    """The expected batch size ``batch_size = "auto"`` uses for ``n_rows`` training rows.

    The noise on an averaged gradient is ``sigma * C / batch``: sigma grows more slowly than the
    batch (for a fixed number of epochs), so larger batches give cleaner steps, but fewer of
    them, and sampling rates much above 1/20 erode the amplification by subsampling.
    """
    target = max(1.0, n_rows * AUTO_BATCH_SHARE)
    size = 2 ** int(round(math.log2(target)))
    return int(min(max(size, AUTO_BATCH_RANGE[0]), AUTO_BATCH_RANGE[1]))


class DPSGDVAE(DPSGDGenerator):
    """Tabular (conditional) VAE trained with DP-SGD (see :class:`privgate.dp.DPSGDGenerator`
    for the shared DP-SGD parameters; here ``epochs`` defaults to 40, ``batch_size`` to
    ``"auto"`` (:func:`auto_batch_size`) and ``grad_sample_mode`` to ``"bk"``).

    Model parameters:
        latent_dim: width of the latent Gaussian (default 16).
        hidden: widths of the encoder's hidden layers; the decoder mirrors them
            (default ``(128, 128)``).
        lr: Adam learning rate (default 5e-3).
        numeric_encoding: ``"bins"`` (default: a softmax over bins on the declared bounds) or
            ``"gaussian"`` (the value scaled to [0, 1], Gaussian likelihood).
        n_bins: bins of a binned numeric column that does not get one bin per integer
            (default 64, at least 3).
        beta: weight of the KL term (default 0.3; 1 is the plain ELBO).
        condition_on: the categorical column the decoder is conditioned on: ``"target"``
            (default: the schema's target when categorical, else none), a column name, or
            ``None``. Conditions on it are sampled natively; others by rejection.
        column_weighting: ``"uniform"`` (default) or ``"entropy"`` (each reconstruction term
            divided by the log of its block width).
    """

    name: ClassVar[str] = "dpsgd-vae"
    description: ClassVar[str] = ("Conditional variational autoencoder trained with DP-SGD "
                                  "(privgate.dp: one-backward clipping, Poisson sampling, "
                                  "RDP/PRV accountant)")
    supports_conditions: ClassVar[bool] = True
    PARAMS = {
        **dp_params(epochs=40, batch_size="auto", clipping="bk", modes=("bk", "ghost", "hooks")),
        "latent_dim": Integer(16), "hidden": Widths((128, 128)), "lr": Positive(5e-3),
        "numeric_encoding": OneOf("bins", NUMERIC_ENCODINGS), "n_bins": Integer(64, 3),
        "beta": Positive(0.3),
        "condition_on": OptionalName(CONDITION_TARGET, "a categorical column or \"target\""),
        "column_weighting": OneOf("uniform", WEIGHTINGS),
    }

    def _build(self, schema: Schema, p: Mapping[str, Any], condition_on: str | None, seed: int
               ) -> tuple[VAEEncoding, Block | None, VAE]:
        encoder = VAEEncoding(schema, numeric=p["numeric_encoding"], n_bins=p["n_bins"])
        condition = _condition_block(schema, encoder, condition_on, self.owner())
        model = VAE(encoder.width, encoder.out_width, p["hidden"], p["latent_dim"], seed,
                    None if condition is None else (condition.start, condition.end))
        return encoder, condition, model

    def fit(self, data: pd.DataFrame, schema: Schema, budget: PrivacyBudget | None,
            *, seed: int = 0) -> DPSGDVAE:
        """Train the VAE on ``data`` under ``budget``; see :class:`privgate.Generator`.

        Raises:
            BudgetError: no budget (with ``dp``), ``delta == 0``, or a budget too small.
            InputError: ``data`` is empty or lacks a modelled column, or ``condition_on``
                names a column that is not a modelled categorical one.
        """
        p = self.checked_params()
        trainer = self.trainer(p, budget, seed)
        prepared = trainer.prepare(data, schema)
        with trainer.streams.global_torch("init"):  # nn.Linear draws its initial weights
            encoder, condition, model = self._build(
                prepared.schema, p, p["condition_on"],
                trainer.streams.child_seed("reparameterisation"))
        matrix = torch.from_numpy(encoder.transform(prepared.data))  # the (DP) domain only
        per_row = VAELoss(encoder.blocks, beta=float(p["beta"]), reduction="none",
                          condition=condition, weighting=p["column_weighting"])
        batch = auto_batch_size(len(matrix)) if p["batch_size"] == "auto" else p["batch_size"]
        trainer.plan(len(matrix), batch_size=batch)
        run = trainer.train(model, torch.optim.Adam(model.parameters(), lr=p["lr"]), matrix,
                            lambda module, rows: per_row(module(rows), rows))
        model.eval()
        self.condition_ = None if condition is None else condition.column
        self.privacy_spent_ = trainer.privacy_spent(
            {"numeric_encoding": p["numeric_encoding"], "condition_on": self.condition_})
        self.model_, self.encoder_, self.schema_ = model, encoder, prepared.schema
        self.loss_history_ = run.losses
        self.fit_stats_ = run.stats()
        return self

    # -- sampling ------------------------------------------------------------------------------

    def sample(self, n: int, *, seed: int = 0,
               conditions: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Decode ``n`` draws from the latent prior into rows of the schema's modelled columns.

        A condition on the conditioning column fixes the decoder's condition input (exact, no
        rejection); conditions on other categorical columns are met by rejection.
        """
        self.fitted("model_", "sample()")
        n = check_count(self.owner(), n)
        wanted = check_conditions(conditions, self.schema_, self.name, supported=True)
        fixed = None
        if self.condition_ is not None and self.condition_ in wanted:
            fixed = wanted.pop(self.condition_)
        if wanted:
            return sample_by_rejection(lambda k, s: self._draw(k, s, fixed), n, wanted,
                                       seed=seed)
        return self._draw(n, seed, fixed)

    def _draw(self, n: int, seed: int, fixed: Any = None) -> pd.DataFrame:
        """``n`` rows; ``fixed`` is a value of the conditioning column (``None``: drawn from
        the learnt prior)."""
        draws = rng(seed, "sample", self.name)
        onehot = None
        block = None if self.condition_ is None else self.encoder_.main[self.condition_]
        if block is not None:
            if fixed is None:
                cum = np.cumsum(self.model_.prior_probs())
                idx = np.minimum(np.searchsorted(cum, draws.random(n) * cum[-1], side="right"),
                                 len(cum) - 1).astype(np.int64)
            else:
                cats = list(self.schema_[block.column].categories or ())
                idx = np.full(n, cats.index(fixed), dtype=np.int64)
            onehot = torch.zeros((n, block.end - block.start), dtype=torch.float32)
            onehot[torch.arange(n), torch.from_numpy(idx)] = 1.0
        with torch.no_grad():
            z = torch.randn((n, self.model_.latent_dim),
                            generator=torch_generator(seed, "sample", self.name, "latent"))
            recon = self.model_.generate(z, onehot)
        heads = decoder_heads(recon, self.encoder_.blocks, draws)
        if block is not None and onehot is not None:
            heads[block.column] = onehot.double().numpy()
        return self.encoder_.decode(heads, draws)

    # -- persistence ---------------------------------------------------------------------------

    def get_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """JSON metadata (schema, condition, privacy spent) and the model's tensors."""
        self.fitted("model_", "save()")
        metadata = {"schema": self.schema_.to_dict(), "condition_on": self.condition_,
                    "privacy_spent": self.spent_state(),
                    "loss_history": list(self.loss_history_)}
        return metadata, {f"model.{k}": v for k, v in self.model_.state_dict().items()}

    def set_state(self, metadata: dict[str, Any], arrays: dict[str, Any]) -> None:
        """Rebuild the encoding and the network from :meth:`get_state`'s output."""
        p = self.checked_params()
        try:
            schema = Schema.from_dict(metadata["schema"], where="saved generator metadata")
            condition_on = metadata["condition_on"]
            losses = [float(x) for x in metadata.get("loss_history", [])]
            self.restore_spent(metadata["privacy_spent"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(N_("%(owner)s: saved metadata is incomplete (%(exc)r); re-save the "
                                "generator with this version of privgate"),
                             owner=self.owner(), exc=exc) from None
        encoder, condition, model = self._build(schema, p, condition_on, 0)
        weights = {k[len("model."):]: v for k, v in arrays.items() if k.startswith("model.")}
        try:
            model.load_state_dict(weights, strict=True)
        except RuntimeError as exc:
            raise InputError(N_("%(owner)s: saved weights do not fit the saved parameters and "
                                "schema (%(exc)s)"), owner=self.owner(), exc=exc) from None
        model.eval()
        self.model_, self.encoder_, self.schema_ = model, encoder, schema
        self.condition_ = None if condition is None else condition.column
        self.loss_history_ = losses


def _condition_block(schema: Schema, encoder: VAEEncoding, condition_on: str | None,
                     owner: str) -> Block | None:
    """The encoded block the decoder is conditioned on (``None``: unconditional)."""
    if condition_on is None:
        return None
    name = schema.target if condition_on == CONDITION_TARGET else condition_on
    if name is None:  # "target" requested but the schema declares none: unconditional
        return None
    if name not in encoder.main:
        raise InputError(N_("%(owner)s: parameter 'condition_on' names %(name)r, which is not a "
                            "modelled column (modelled: %(modelled)s)"),
                         owner=owner, name=name, modelled=list(encoder.main))
    block = encoder.main[name]
    if block.kind != "categorical":
        if condition_on == CONDITION_TARGET:  # a numeric target: stay unconditional
            return None
        raise InputError(N_("%(owner)s: parameter 'condition_on': column %(name)r is %(value)s; "
                            "only categorical columns can be conditioned on"),
                         owner=owner, name=name, value=schema[name].kind.value)
    return block


@hookimpl
def privgate_generators() -> list[type[Generator]]:
    """Register :class:`DPSGDVAE`."""
    return [DPSGDVAE]
