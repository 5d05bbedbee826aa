"""``smote``: a non-private baseline -- SMOTE interpolation between real rows of the same class.

SMOTE (Chawla et al. 2002) makes a new row by picking a real row of a class, one of its
``k_neighbors`` nearest neighbours *of the same class*, and a point on the segment between them;
SMOTE-NC takes each categorical value as the most frequent one among the neighbours
(:mod:`.interpolation`). It is the standard way to oversample the minority class of a
classification target, and it is a deliberately leaky generator: every synthetic row lies
between two real ones, so an audit must catch it.

What ``sample(n)`` returns: ``n`` synthetic rows, each interpolated between two real rows (a few
land on a real row: identical neighbours, integer rounding). The classes of the schema's
``target`` appear in their training proportions (multinomial draw of the class counts), unless
``conditions`` fix the target, in which case every row is interpolated within that class; each
class -- minority *and* majority -- is oversampled by SMOTE within itself. So this is SMOTE used
as a generator of whole tables, not a balancer. A class with a single training row cannot be
interpolated and is copied as is; a class with fewer rows than ``k_neighbors + 1`` uses all its
other rows as neighbours. Conditions on other categorical columns go through rejection
sampling. The fitted state -- and so a saved generator -- holds the training rows themselves
(:mod:`.encoding`): SMOTE has no other model.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from privgate import hookimpl
from privgate.encoding import category_indices
from privgate.errors import N_, InputError
from privgate.generator import Generator, PrivacyBudget, sample_by_rejection
from privgate.params import Integer
from privgate.plugins.generators.baseline import NonPrivateGenerator
from privgate.plugins.generators.smote.encoding import decode, encode, feature_kinds
from privgate.plugins.generators.smote.interpolation import interpolate
from privgate.randomness import rng
from privgate.schema import Kind, Schema


class SMOTEGenerator(NonPrivateGenerator):
    """SMOTE / SMOTE-NC interpolation within each class of the schema's target (non-private).

    Parameters (keyword arguments, stored in :attr:`params`):
        k_neighbors: same-class nearest neighbours to interpolate towards (default 5).
    """

    name: ClassVar[str] = "smote"
    description: ClassVar[str] = ("SMOTE-NC interpolation between real rows of the same target "
                                  "class; non-private baseline")
    fitted_by = "matrix_"
    not_private_because = "non-private baseline; rows interpolate real training rows"
    PARAMS = {"k_neighbors": Integer(5)}

    def check_schema(self, schema: Schema) -> None:
        """SMOTE interpolates within the classes of a categorical target."""
        target = schema.target
        if target is None:
            raise InputError(N_("%(owner)s: SMOTE interpolates within classes of the target, "
                                "but schema.target is not set; give one categorical column the "
                                "role 'target' (--target COL)"), owner=self.owner())
        if schema[target].kind is not Kind.CATEGORICAL:
            raise InputError(N_("%(owner)s: schema.target %(target)r is %(value)s; SMOTE needs "
                                "a categorical target (declare its categories)"),
                             owner=self.owner(), target=target, value=schema[target].kind.value)

    def fit(self, data: pd.DataFrame, schema: Schema, budget: PrivacyBudget | None,
            *, seed: int = 0) -> SMOTEGenerator:
        """Encode and keep the training rows; ``budget`` is ignored (not private).

        Raises:
            InputError: the schema declares no target (``schema.target``), a column is
                missing, or the table has fewer than 2 rows with a known target.
        """
        self.checked_params()
        self.check_schema(schema)
        target = schema.target
        assert target is not None
        schema.require_domains()
        schema.require_columns(data, self.owner(), min_rows=0)
        matrix, labels = encode(data, schema.modelled, target)
        known = labels >= 0
        if known.sum() < 2:
            raise InputError(N_("%(owner)s: needs at least 2 training rows whose target "
                                "%(target)r is one of its categories, got %(count)s"),
                             owner=self.owner(), target=target, count=int(known.sum()))
        self.matrix_ = matrix[known]
        self.labels_ = labels[known]
        self.schema_ = schema
        return self

    def draw(self, n: int, seed: int, wanted: dict[str, Any]) -> pd.DataFrame:
        """``n`` interpolated rows, target classes in training proportions unless conditioned.

        A condition on the target picks the class to interpolate in; conditions on other
        categorical columns are met by rejection sampling.
        """
        target = self.schema_.target
        assert target is not None
        klass: int | None = None
        if target in wanted:
            value = wanted.pop(target)
            klass = int(category_indices(pd.Series([value], dtype=object),
                                         self.schema_[target])[0])
            if not (self.labels_ == klass).any():
                raise InputError(N_("%(owner)s: condition %(target)r = %(value)r: no training "
                                    "row has this class, so SMOTE cannot interpolate one"),
                                 owner=self.owner(), target=target, value=value)
        if wanted:
            return sample_by_rejection(lambda k, s: self._draw(k, s, klass), n, wanted,
                                       seed=seed)
        return self._draw(n, seed, klass)

    def _draw(self, n: int, seed: int, klass: int | None = None) -> pd.DataFrame:
        """``n`` rows of class ``klass``, or of every class in training proportions."""
        draws = rng(seed, self.name, "sample")
        classes, counts = np.unique(self.labels_, return_counts=True)
        if klass is None:
            per_class = draws.multinomial(n, counts / counts.sum())
        else:
            per_class = np.where(classes == klass, n, 0)
        k_neighbors = self.checked_params()["k_neighbors"]
        categorical = feature_kinds(self.schema_.modelled)
        parts = [interpolate(self.matrix_[self.labels_ == c], categorical, int(k), k_neighbors,
                             rng(seed, self.name, "sample", "class", int(c)))
                 for c, k in zip(classes, per_class, strict=True) if k > 0]
        rows = (np.concatenate(parts) if parts
                else np.empty((0, self.matrix_.shape[1])))
        return decode(rows[draws.permutation(len(rows))], self.schema_.modelled)

    # -- persistence -------------------------------------------------------------------------
    def get_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The schema as JSON; the encoded training rows and labels as arrays."""
        self.fitted("matrix_", "save()")
        return ({"schema": self.schema_.to_dict()},
                {"matrix": self.matrix_, "labels": self.labels_})

    def set_state(self, metadata: dict[str, Any], arrays: dict[str, Any]) -> None:
        """Restore what :meth:`get_state` returned."""
        self.schema_ = Schema.from_dict(metadata["schema"], where="saved generator metadata")
        self.matrix_ = arrays["matrix"].numpy()
        self.labels_ = arrays["labels"].numpy()


@hookimpl
def privgate_generators() -> list[type[Generator]]:
    """Register :class:`SMOTEGenerator`."""
    return [SMOTEGenerator]
