"""privgate's DP layer: the one place where DP-SGD training is done and accounted for.

Every DP-SGD generator -- the built-in ones and third-party ones -- trains through
:class:`DPTrainer`, which owns the privacy-critical steps: the DP release of undeclared domains
(one Gaussian mechanism, in the accountant's history), releases of counts (Laplace or
Gaussian), noise calibration with opacus, the clipping modes (one-backward book-keeping,
opacus' ghost clipping, opacus' per-sample hooks; a GAN's discriminator-only privacy through
:meth:`PrivateModel.paused`), the exact step loop over Poisson batches, the check of the
accountant's history, composition, the budget check and the :class:`~privgate.PrivacySpent`
record (:class:`AccountingInputs`, with which :func:`privgate.testing_dp.check_dp_accounting`
recomputes any DP generator's epsilon).

:class:`DPSGDGenerator` is the base class that gives a generator the shared parameters and
the trainer; ``docs/plugins.md`` ("Writing a DP generator") has a worked example.

Modules: :mod:`~privgate.dp.accounting` (opacus accountants), :mod:`~privgate.dp.budget` and
:mod:`~privgate.dp.domains` and :mod:`~privgate.dp.numeric_domains` (the domain release,
its noise and the private quantiles of numeric bounds), :mod:`~privgate.dp.mechanisms`
(Laplace and Gaussian counts), :mod:`~privgate.dp.clipping` and
:mod:`~privgate.dp.bk_clipping` (clipping modes), :mod:`~privgate.dp.loop` (the step loop),
:mod:`~privgate.dp.record` (composition, the record), :mod:`~privgate.dp.streams` (random
streams, ``secure_rng``), :mod:`~privgate.dp.trainer`, :mod:`~privgate.dp.generator` and
:mod:`~privgate.dp.params` (the base class and its parameters).
"""

from privgate.dp.accounting import (
    ACCOUNTANTS,
    History,
    calibrate_with_release,
    history_epsilon,
    noise_multiplier_for,
    spent_epsilon,
)
from privgate.dp.budget import Prepared, domain_noise, training_delta
from privgate.dp.clipping import CLIPPING_MODES, PrivateModel, RowLoss
from privgate.dp.domains import DomainSpend, conform_to_domains, privatize_domains
from privgate.dp.generator import DPSGDGenerator, is_epoch_trained
from privgate.dp.loop import TrainRun
from privgate.dp.params import dp_params
from privgate.dp.record import COMPOSITION_RULE, AccountingInputs, composed_spent, spent_from_dict
from privgate.dp.streams import SECURE_SOURCE, SEEDED_SOURCE, Streams
from privgate.dp.trainer import DPSettings, DPTrainer, Schedule

__all__ = [
    "ACCOUNTANTS", "CLIPPING_MODES", "COMPOSITION_RULE", "SECURE_SOURCE", "SEEDED_SOURCE",
    "AccountingInputs", "DPSGDGenerator", "DPSettings", "DPTrainer", "DomainSpend", "History",
    "Prepared", "PrivateModel", "RowLoss", "Schedule", "Streams", "TrainRun",
    "calibrate_with_release", "composed_spent", "conform_to_domains", "domain_noise",
    "dp_params", "history_epsilon", "is_epoch_trained", "noise_multiplier_for",
    "privatize_domains", "spent_epsilon", "spent_from_dict", "training_delta",
]
