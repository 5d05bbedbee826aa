"""privgate's built-in utility metrics, one per module, each registered through the ``privgate``
entry-point group like any third-party plugin.

* ``hellinger``: per-column Hellinger distance of the marginals (a bar chart per column).
* ``correlation``: difference of the pairwise-association matrices (a heat map and a table).
* ``tstr``: train-synthetic-test-real classifier AUROC and accuracy beside train-real.
* ``augmentation``: minority-class performance when a classifier's training rows are augmented
  with SMOTE or with conditionally generated minority rows.

Metrics describe a synthetic table's usefulness in the report; they never gate a release.
"""
