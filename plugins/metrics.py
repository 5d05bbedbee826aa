"""privgate's built-in utility metrics, registered through the ``privgate`` entry-point group.

* ``hellinger`` (:class:`HellingerMetric`): per-column Hellinger distance of the marginals.
* ``correlation`` (:class:`CorrelationMetric`): difference of the pairwise-association matrices.
* ``tstr`` (:class:`TSTRMetric`): train-synthetic-test-real classifier AUROC and accuracy.
* ``augmentation`` (:class:`AugmentationMetric`): minority-class performance when a classifier's
  training rows are augmented with SMOTE or with conditionally generated minority rows.

Metrics describe a synthetic table's usefulness in the report; they never gate a release.
"""

from __future__ import annotations

from privgate import Metric, hookimpl
from privgate.plugins._augmentation import AugmentationMetric
from privgate.plugins._correlation import CorrelationMetric
from privgate.plugins._hellinger import HellingerMetric
from privgate.plugins._tstr import TSTRMetric

__all__ = ["AugmentationMetric", "CorrelationMetric", "HellingerMetric", "TSTRMetric",
           "privgate_metrics"]


@hookimpl
def privgate_metrics() -> list[type[Metric]]:
    """Register the built-in utility metrics."""
    return [HellingerMetric, CorrelationMetric, TSTRMetric, AugmentationMetric]
