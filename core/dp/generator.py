"""The base class of DP-SGD generators: parameters, the trainer, the privacy record.

A generator built on :class:`DPSGDGenerator` declares its model parameters next to the shared
DP-SGD ones (:func:`privgate.dp.params.dp_params`), and in ``fit`` builds its encoding and model
and hands them to the :class:`~privgate.dp.DPTrainer` that :meth:`DPSGDGenerator.trainer`
returns; the trainer does everything privacy-critical. See ``docs/plugins.md`` ("Writing a DP
generator") for a worked example.
"""

from __future__ import annotations

from typing import Any, ClassVar

from privgate.dp.params import dp_params
from privgate.dp.record import spent_from_dict
from privgate.dp.trainer import DPSettings, DPTrainer
from privgate.errors import N_, InputError
from privgate.generator import Generator, PrivacyBudget, PrivacySpent
from privgate.params import Param, Parameterised


class DPSGDGenerator(Parameterised, Generator):
    """A generator trained with DP-SGD through :class:`~privgate.dp.DPTrainer`.

    Parameters every subclass accepts (keyword arguments, stored in :attr:`params`):
        epochs: passes over the data the noise is calibrated for.
        batch_size: expected Poisson batch size (sample rate ``1 / ceil(rows / batch)``).
        max_grad_norm: per-row gradient clipping norm (default 1.0).
        accountant: ``"rdp"`` (default) or ``"prv"``: calibrates the noise, reports epsilon.
        grad_sample_mode: the clipping mode (``"bk"``, ``"ghost"``, ``"hooks"``; a subclass
            lists those its model supports); all give the same guarantee.
        domain_share: share of epsilon for estimating undeclared or data-read domains under DP
            (default 0.1; nothing is spent when every domain is declared).
        secure_rng: ``False`` (default): the privacy mechanisms' noise comes from named streams
            of the audit seed (reproducible). ``True``: from ``os.urandom``-seeded generators,
            so the seed in the report does not give the noise away; the fit is then not
            reproducible. ``privacy_spent.details["noise_source"]`` says which.
        dp: ``True`` (default). ``False`` trains the same model on the same schedule without
            clipping or noise and reports an infinite epsilon (the overhead benchmark only).
    """

    is_private: ClassVar[bool] = True
    #: Trained for a number of epochs (the CLI's ``--epochs`` applies to it).
    epoch_trained: ClassVar[bool] = True
    PARAMS: ClassVar[dict[str, Param]] = dp_params(epochs=20, batch_size=256)

    def trainer(self, params: dict[str, Any], budget: PrivacyBudget | None, seed: int,
                *, batch_size: int | None = None) -> DPTrainer:
        """The trainer for one fit, from checked ``params`` (:meth:`checked_params`);
        ``batch_size`` overrides ``params["batch_size"]`` (e.g. one picked from the rows)."""
        batch = params["batch_size"] if batch_size is None else batch_size
        settings = DPSettings(
            epochs=int(params["epochs"]), batch_size=None if batch == "auto" else int(batch),
            max_grad_norm=float(params["max_grad_norm"]), accountant=params["accountant"],
            clipping=params["grad_sample_mode"], domain_share=float(params["domain_share"]),
            secure_rng=bool(params["secure_rng"]), dp=bool(params["dp"]))
        return DPTrainer(self.name, settings, budget, seed)

    def fitted(self, attribute: str, what: str) -> None:
        """Raise :class:`InputError` unless ``fit`` set ``attribute`` (``what`` names the
        call: ``"sample()"``, ``"save()"``)."""
        if not hasattr(self, attribute):
            raise InputError(N_("%(owner)s: call fit() before %(what)s"),
                             owner=self.owner(), what=what)

    @property
    def privacy_spent(self) -> PrivacySpent:
        """What the last fit spent (the trainer's record)."""
        self.fitted("privacy_spent_", "reading privacy_spent")
        spent: PrivacySpent = self.privacy_spent_
        return spent

    def spent_state(self) -> dict[str, Any]:
        """The privacy record as JSON for :meth:`get_state`."""
        return self.privacy_spent.to_dict()

    def restore_spent(self, doc: dict[str, Any]) -> None:
        """Restore the privacy record :meth:`spent_state` wrote."""
        self.privacy_spent_ = spent_from_dict(doc, self.owner())


def is_epoch_trained(cls: object) -> bool:
    """Whether ``cls`` is a generator trained for a number of epochs (takes ``epochs``)."""
    return isinstance(cls, type) and bool(getattr(cls, "epoch_trained", False))
