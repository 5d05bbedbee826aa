"""``dpsgd-diffusion``: a TabDDPM-style tabular diffusion model trained with DP-SGD.

Model (:mod:`.model`): Gaussian diffusion for numeric columns, multinomial diffusion for
categorical ones, an MLP denoiser with a timestep embedding and a cosine schedule with a short
chain (``steps``, default 100) so that training and sampling stay fast on CPU. The denoiser is
conditioned on the schema's target by default (TabDDPM's class conditioning).

Privacy argument, end to end:

* Preprocessing reads only the declared domains (:mod:`.encoding`): numbers are scaled to
  [-1, 1] from the declared bounds, categories become codes of the declared list (TabDDPM's
  quantile transformer, fitted on the rows, is not used). Undeclared domains are released under
  DP by the trainer (:class:`privgate.dp.DPTrainer`) first.
* The conditioning column's class counts are released with the Laplace mechanism
  (``prior_share`` of the training epsilon, basic composition) to draw the classes of
  unconditional samples.
* Every gradient step is DP-SGD, run by the trainer (opacus ghost clipping by default). Each
  row's loss uses timesteps and noise draws of its own, independent of the data, so it is a
  function of that row alone.
* Sampling runs the reverse chain from pure noise (post-processing, free).

Tuning figures: ``benchmarks/results/generators.md`` and ``dp_generators_tuning.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from privgate import hookimpl
from privgate.dp import DPSGDGenerator, dp_params
from privgate.dp.params import OptionalName, Widths
from privgate.encoding import category_indices
from privgate.errors import N_, InputError
from privgate.generator import Generator, PrivacyBudget, check_conditions, sample_by_rejection
from privgate.params import Integer, Number, Positive, check_count
from privgate.plugins.generators.diffusion.encoding import DiffusionEncoding
from privgate.plugins.generators.diffusion.model import DiffusionLoss, TabDiffusion
from privgate.randomness import rng, torch_generator
from privgate.schema import Schema

#: Rows run through the reverse chain at once when sampling.
SAMPLE_CHUNK = 4096


class DPSGDDiffusion(DPSGDGenerator):
    """TabDDPM-style diffusion model trained with DP-SGD (see
    :class:`privgate.dp.DPSGDGenerator` for the shared DP-SGD parameters; here ``epochs``
    defaults to 20 and ``batch_size`` to 4096).

    Model parameters:
        lr: Adam learning rate (default 5e-3).
        steps: diffusion steps ``T`` (default 100).
        hidden: widths of the denoiser's hidden layers (default ``(128, 128)``).
        ce_weight: weight of the auxiliary x_0 cross-entropy for categorical columns
            (default 1.0; 0 is TabDDPM's loss).
        multiplicity: noisings (timesteps) per record and step, averaged into the record's
            loss before clipping (default 2).
        condition_on: the categorical column the denoiser is conditioned on: ``"target"``
            (default: the schema's target when categorical, else none), a column name, or
            ``None``; a condition on it is exact.
        prior_share: share of the training epsilon for its class counts (default 0.02).
    """

    name: ClassVar[str] = "dpsgd-diffusion"
    description: ClassVar[str] = ("TabDDPM-style diffusion model (Gaussian + multinomial "
                                  "diffusion, MLP denoiser) trained with DP-SGD (privgate.dp)")
    supports_conditions: ClassVar[bool] = True
    PARAMS = {
        **dp_params(epochs=20, batch_size=4096),
        "lr": Positive(5e-3), "steps": Integer(100, 2), "hidden": Widths((128, 128)),
        "ce_weight": Number(1.0, 0.0), "multiplicity": Integer(2),
        "condition_on": OptionalName("target", "a categorical column or \"target\""),
        "prior_share": Number(0.02, 0.0, 1.0, low_open=True, meaning="the share of the "
                              "training epsilon for the conditioning column's class counts"),
    }

    def _model(self, p: Mapping[str, Any], encoder: DiffusionEncoding, slot: int | None,
               seed: int) -> TabDiffusion:
        counts = encoder.class_counts
        cond_classes = 0 if slot is None else counts.pop(slot)
        return TabDiffusion(len(encoder.numeric), counts, p["hidden"], p["steps"], seed,
                            p["multiplicity"], cond_classes)

    def fit(self, data: pd.DataFrame, schema: Schema, budget: PrivacyBudget | None,
            *, seed: int = 0) -> DPSGDDiffusion:
        """Train the denoiser on ``data`` under ``budget`` (:class:`privgate.Generator`):
        the conditioning column's Laplace class counts first, then DP-SGD. Budget and input
        errors (no budget, ``delta == 0``, missing columns) come from the trainer."""
        p = self.checked_params()
        trainer = self.trainer(p, budget, seed)
        prepared = trainer.prepare(data, schema)
        encoder = DiffusionEncoding(prepared.schema)
        num, cat = encoder.transform(prepared.data)  # the (declared or DP) domain only
        slot = _condition_slot(encoder, prepared.schema, p["condition_on"], self.owner())
        if slot is not None and num.shape[1] == 0 and len(encoder.categorical) == 1:
            slot = None  # the condition is the only column: model it as an ordinary one
        prior: np.ndarray | None = None
        details: dict[str, Any] = {}
        if slot is not None:
            column = encoder.categorical[slot].column
            cond = cat[:, slot]
            keep = cond >= 0  # a per-row filter: rows without a class cannot condition
            num, cat, cond = num[keep], np.delete(cat, slot, axis=1)[keep], cond[keep]
            if len(cond) == 0:
                raise InputError(N_("%(owner)s: no training row has a value of %(column)r in "
                                    "its categories"), owner=self.owner(), column=column)
            counts = np.bincount(cond, minlength=encoder.class_counts[slot]).astype(float)
            counts = np.clip(trainer.release_counts(counts, float(p["prior_share"]),
                                                    f"class counts of {column!r}"), 0.0, None)
            prior = (counts / counts.sum() if counts.sum() > 0
                     else np.full(len(counts), 1.0 / len(counts)))
            cat = np.hstack([cat, cond[:, None]])
            if p["dp"]:
                details["prior_epsilon"] = trainer.releases()[-1]["epsilon"]
        matrix = torch.from_numpy(np.hstack([num, cat.astype(np.float32)]))
        with trainer.streams.global_torch("init"):  # nn.Linear draws its initial weights
            model = self._model(p, encoder, slot, trainer.streams.child_seed("diffusion"))
        criterion = DiffusionLoss(model, ce_weight=float(p["ce_weight"]), reduction="none")
        trainer.plan(len(matrix))
        run = trainer.train(model, torch.optim.Adam(model.parameters(), lr=p["lr"]), matrix,
                            lambda module, rows: criterion(module(rows), rows))
        model.eval()
        details.update({
            "diffusion_steps": p["steps"], "ce_weight": float(p["ce_weight"]),
            "multiplicity": p["multiplicity"],
            "condition_on": None if slot is None else encoder.categorical[slot].column,
            "numeric_transforms": {s.column: s.transform for s in encoder.numeric}})
        self.privacy_spent_ = trainer.privacy_spent(details)
        self.model_, self.encoder_, self.schema_ = model, encoder, prepared.schema
        self.slot_, self.prior_ = slot, prior
        self.loss_history_ = run.losses
        self.fit_stats_ = run.stats()
        return self

    # -- sampling ------------------------------------------------------------------------------
    def sample(self, n: int, *, seed: int = 0,
               conditions: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run the reverse diffusion chain for ``n`` rows (conditions on the conditioning
        column are exact, others are met by rejection)."""
        self.fitted("model_", "sample()")
        n = check_count(self.owner(), n)
        wanted = check_conditions(conditions, self.schema_, self.name, supported=True)
        fixed: int | None = None
        if self.slot_ is not None:
            column = self.schema_[self.encoder_.categorical[self.slot_].column]
            if column.name in wanted:  # exact: the denoiser is conditioned on it
                value = wanted.pop(column.name)
                fixed = int(category_indices(pd.Series([value], dtype=object), column)[0])
        if wanted:
            return sample_by_rejection(lambda k, s: self._draw(k, s, fixed), n, wanted,
                                       seed=seed)
        return self._draw(n, seed, fixed)

    def _draw(self, n: int, seed: int, fixed: int | None = None) -> pd.DataFrame:
        """``n`` rows; ``fixed`` is a class code of the conditioning column (``None``: drawn
        from the released class counts)."""
        cond: np.ndarray | None = None
        if self.slot_ is not None:
            assert self.prior_ is not None
            cond = (np.full(n, fixed, dtype=np.int64) if fixed is not None else
                    rng(seed, "sample", self.name).choice(len(self.prior_), size=n,
                                                          p=self.prior_))
        threads = torch.get_num_threads()
        # One thread: the reverse chain is ~100 x (a few small ops per column), where a thread
        # pool's synchronisation dominates. Chunks of rows bound the memory: the chain holds
        # rows x columns x the widest column's classes (diabetes130: ~800 ICD-9 codes).
        torch.set_num_threads(1)
        gen = torch_generator(seed, "sample", self.name)
        parts = []
        try:
            for start in range(0, max(n, 1), SAMPLE_CHUNK):
                k = min(SAMPLE_CHUNK, n - start)
                part = None if cond is None else torch.from_numpy(cond[start:start + k])
                parts.append(self.model_.sample(k, gen, part))
        finally:
            torch.set_num_threads(threads)
        num = np.concatenate([p[0] for p in parts])
        codes = np.concatenate([p[1] for p in parts])
        if cond is not None and self.slot_ is not None:
            codes = np.insert(codes, self.slot_, cond, axis=1)
        return self.encoder_.inverse(num, codes)

    # -- persistence ---------------------------------------------------------------------------
    def get_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """JSON metadata (schema, condition, prior, privacy spent) and the denoiser's tensors."""
        self.fitted("model_", "save()")
        meta = {"schema": self.schema_.to_dict(), "slot": self.slot_,
                "prior": None if self.prior_ is None else [float(v) for v in self.prior_],
                "privacy_spent": self.spent_state()}
        return meta, dict(self.model_.state_dict())

    def set_state(self, metadata: dict[str, Any], arrays: dict[str, Any]) -> None:
        """Restore what :meth:`get_state` returned (architecture from params and schema)."""
        p = self.checked_params()
        try:
            schema = Schema.from_dict(metadata["schema"], where="saved generator metadata")
            slot, prior = metadata["slot"], metadata["prior"]
            self.restore_spent(metadata["privacy_spent"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(N_("%(owner)s: saved metadata is incomplete (%(exc)r); re-save the "
                                "generator with this version of privgate"),
                             owner=self.owner(), exc=exc) from None
        encoder = DiffusionEncoding(schema)
        model = self._model(p, encoder, slot, 0)
        try:
            model.load_state_dict(arrays)
        except RuntimeError as exc:
            raise InputError(N_("%(owner)s: saved weights do not fit the saved schema and "
                                "parameters (%(exc)s)"), owner=self.owner(), exc=exc) from None
        model.eval()
        self.model_, self.encoder_, self.schema_ = model, encoder, schema
        self.slot_, self.prior_ = slot, None if prior is None else np.array(prior)


def _condition_slot(encoder: DiffusionEncoding, schema: Schema, condition_on: str | None,
                    owner: str) -> int | None:
    """The categorical slot the denoiser is conditioned on, or ``None``."""
    if condition_on is None:
        return None
    name = schema.target if condition_on == "target" else condition_on
    if name is None:
        return None
    for j, slot in enumerate(encoder.categorical):
        if slot.flag_of is None and slot.column == name:
            return j
    if condition_on == "target":  # a numeric target: no class conditioning
        return None
    raise InputError(N_("%(owner)s: parameter 'condition_on' = %(condition_on)r is not a "
                        "modelled categorical column (categorical: %(categorical)s)"),
                     owner=owner, condition_on=condition_on,
                     categorical=[c.column for c in encoder.categorical if c.flag_of is None])


@hookimpl
def privgate_generators() -> list[type[Generator]]:
    """Register :class:`DPSGDDiffusion`."""
    return [DPSGDDiffusion]
