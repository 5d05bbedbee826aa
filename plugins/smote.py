"""``smote``: a non-private baseline -- SMOTE interpolation between real rows of the same class.

SMOTE (Chawla et al. 2002) makes a new row by picking a real row of a class, one of its
``k_neighbors`` nearest neighbours *of the same class*, and a point on the segment between them;
SMOTE-NC takes each categorical value as the most frequent one among the neighbours. (The
interpolation follows imbalanced-learn's ``SMOTENC`` but is written here; see
:meth:`SMOTEGenerator._interpolate` for why.) It is the standard way to oversample the minority
class of a classification target, and it is a deliberately leaky generator: every synthetic row
lies between two real ones, so an audit must catch it.

What ``sample(n)`` returns: ``n`` synthetic rows, each interpolated between two real rows (a few
land on a real row: identical neighbours, integer rounding). The
classes of the schema's ``target`` appear in their training proportions (multinomial draw of the
class counts from ``seed``), unless ``conditions`` fix the target, in which case every row is
interpolated within that class; each class -- minority *and* majority -- is oversampled by
SMOTE within itself. So this is SMOTE used as a generator of whole tables, not a balancer. A class
with a single training row cannot be interpolated and is copied as is; a class with fewer rows
than ``k_neighbors + 1`` uses all its other rows as neighbours.

Columns: categorical columns (missing values as their own category when nullable) are SMOTE-NC
categorical features; numeric, integer and datetime columns (epoch seconds) are continuous
features, rounded back to integers and clipped to the declared bounds; a nullable numeric
column's missingness is a categorical feature and its value is imputed with the column median
before interpolation (masked again on output). Conditions on other categorical columns go
through rejection sampling. The fitted state -- and so a saved generator -- holds the training
rows themselves: SMOTE has no other model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from privgate import hookimpl, params
from privgate.encoding import category_indices, numeric_series, to_numeric
from privgate.errors import InputError
from privgate.generator import (
    NOT_PRIVATE,
    Generator,
    PrivacyBudget,
    PrivacySpent,
    check_conditions,
    sample_by_rejection,
)
from privgate.schema import Column, Kind, Schema

#: Constructor parameters and their defaults.
DEFAULTS: dict[str, Any] = {
    "k_neighbors": 5,
}
OWNER = "generator 'smote'"


def _check_params(given: Mapping[str, Any]) -> dict[str, Any]:
    """Validate constructor parameters; the message names the parameter and what is allowed."""
    p = params.resolve(OWNER, DEFAULTS, given)
    params.check_int(OWNER, p, "k_neighbors")
    return p


class SMOTEGenerator(Generator):
    """SMOTE / SMOTE-NC interpolation within each class of the schema's target (non-private).

    Parameters (keyword arguments, stored in :attr:`params`):
        k_neighbors: same-class nearest neighbours to interpolate towards (default 5).
    """

    name: ClassVar[str] = "smote"
    description: ClassVar[str] = ("SMOTE-NC interpolation between real rows of the same target "
                                  "class (imbalanced-learn); non-private baseline")
    is_private: ClassVar[bool] = False
    supports_conditions: ClassVar[bool] = True

    def __init__(self, **params: Any) -> None:
        _check_params(params)
        self.params: dict[str, Any] = dict(params)

    def check_schema(self, schema: Schema) -> None:
        """SMOTE interpolates within the classes of a categorical target."""
        target = schema.target
        if target is None:
            raise InputError(f"{OWNER}: SMOTE interpolates within classes of the target, but "
                             "schema.target is not set; give one categorical column the role "
                             "'target' (--target COL)")
        if schema[target].kind is not Kind.CATEGORICAL:
            raise InputError(f"{OWNER}: schema.target {target!r} is {schema[target].kind.value};"
                             " SMOTE needs a categorical target (declare its categories)")

    def fit(self, data: pd.DataFrame, schema: Schema, budget: PrivacyBudget | None,
            *, seed: int = 0) -> SMOTEGenerator:
        """Encode and keep the training rows; ``budget`` is ignored (not private).

        Raises:
            InputError: the schema declares no target (``schema.target``), a column is
                missing, or the table has fewer than 2 rows with a known target.
        """
        _check_params(self.params)
        self.check_schema(schema)
        target = schema.target
        assert target is not None
        schema.require_domains()
        columns = schema.modelled
        missing = [c.name for c in columns if c.name not in data.columns]
        if missing:
            raise InputError(f"{OWNER}: training table lacks column(s) {missing}")
        matrix, labels = _encode(data, columns, target)
        known = labels >= 0
        if known.sum() < 2:
            raise InputError(f"{OWNER}: needs at least 2 training rows whose target {target!r} "
                             f"is one of its categories, got {int(known.sum())}")
        self.matrix_ = matrix[known]
        self.labels_ = labels[known]
        self.schema_ = schema
        return self

    def sample(self, n: int, *, seed: int = 0,
               conditions: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """``n`` interpolated rows, target classes in training proportions unless conditioned.

        A condition on the target picks the class to interpolate in; conditions on other
        categorical columns are met by rejection sampling.
        """
        if not hasattr(self, "matrix_"):
            raise InputError(f"{OWNER}: call fit() before sample()")
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise InputError(f"{OWNER}: n must be a non-negative integer, got {n!r}")
        wanted = check_conditions(conditions, self.schema_, self.name, supported=True)
        target = self.schema_.target
        assert target is not None
        klass: int | None = None
        if target in wanted:
            col = self.schema_[target]
            value = wanted.pop(target)
            klass = int(category_indices(pd.Series([value], dtype=object), col)[0])
            if not (self.labels_ == klass).any():
                raise InputError(f"{OWNER}: condition {target!r} = {value!r}: no training row "
                                 "has this class, so SMOTE cannot interpolate one")
        if wanted:
            return sample_by_rejection(lambda k, s: self._draw(k, s, klass), int(n), wanted,
                                       seed=seed)
        return self._draw(int(n), seed, klass)

    def _draw(self, n: int, seed: int, klass: int | None) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        classes, counts = np.unique(self.labels_, return_counts=True)
        if klass is None:
            per_class = rng.multinomial(n, counts / counts.sum())
        else:
            per_class = np.where(classes == klass, n, 0)
        parts = [self._interpolate(int(c), int(k), int(rng.integers(2**31)))
                 for c, k in zip(classes, per_class, strict=True) if k > 0]
        rows = (np.concatenate(parts) if parts
                else np.empty((0, self.matrix_.shape[1])))
        rows = rows[rng.permutation(len(rows))]
        return _decode(rows, self.schema_.modelled, self.schema_.target)

    def _interpolate(self, klass: int, k: int, seed: int) -> np.ndarray:
        """``k`` SMOTE-NC rows of class ``klass``.

        Hand-written rather than imbalanced-learn's ``SMOTENC.fit_resample``: that computes the
        full k-nearest-neighbour graph of the class (O(n^2): about 90 s for adult's 37k
        majority rows on 2 cores, at every ``sample`` call), while a generator drawing ``k``
        rows needs the neighbours of at most ``k`` base rows. The rule is SMOTE-NC's: a random
        base row of the class, a random one of its ``k_neighbors`` nearest same-class rows,
        continuous features at a uniform point of the segment between them, each categorical
        feature the most frequent value among the base row's neighbours (ties: the smallest
        code). Distances use z-scored continuous features and one-hot categories scaled so a
        category mismatch counts like one standard deviation (imbalanced-learn scales by the
        median standard deviation instead, without z-scoring, which lets a wide column such as
        ``fnlwgt`` decide every neighbour).
        """
        from sklearn.neighbors import NearestNeighbors

        rng = np.random.default_rng(seed)
        rows = self.matrix_[self.labels_ == klass]
        base = rng.integers(len(rows), size=k)
        if len(rows) == 1:  # nothing to interpolate with: the lone row is all SMOTE could give
            return rows[base].copy()
        neighbours = min(int(_check_params(self.params)["k_neighbors"]), len(rows) - 1)
        space = self._neighbour_space(rows)
        search = NearestNeighbors(n_neighbors=neighbours + 1).fit(space)
        _, idx = search.kneighbors(space[base])
        # Drop the base row itself (first unless exact duplicates tie with it).
        own = idx == base[:, None]
        drop = np.where(own.any(axis=1), own.argmax(axis=1), neighbours)
        keep = np.ones_like(idx, dtype=bool)
        keep[np.arange(k), drop] = False
        idx = idx[keep].reshape(k, neighbours)
        partner = idx[np.arange(k), rng.integers(neighbours, size=k)]
        gap = rng.random((k, 1))
        out = rows[base] + gap * (rows[partner] - rows[base])
        for j in np.nonzero(self._feature_kinds())[0]:
            votes = rows[idx, j].astype(np.int64) + 1  # codes start at -1 (out of domain)
            width = int(votes.max()) + 1
            counts = np.zeros((k, width), dtype=np.int64)
            np.add.at(counts, (np.repeat(np.arange(k), neighbours), votes.ravel()), 1)
            out[:, j] = counts.argmax(axis=1) - 1
        return out

    def _neighbour_space(self, rows: np.ndarray) -> np.ndarray:
        """The rows as SMOTE-NC distance coordinates (see :meth:`_interpolate`)."""
        parts: list[np.ndarray] = []
        for j, categorical in enumerate(self._feature_kinds()):
            x = rows[:, j]
            if categorical:
                codes = x.astype(np.int64) + 1
                onehot = np.zeros((len(x), int(codes.max()) + 1))
                onehot[np.arange(len(x)), codes] = np.sqrt(0.5)
                parts.append(onehot)
            else:
                sd = float(x.std())
                parts.append(((x - x.mean()) / (sd if sd > 0 else 1.0))[:, None])
        return np.hstack(parts)

    def _feature_kinds(self) -> list[bool]:
        """Per matrix column: whether it is categorical (codes) rather than continuous."""
        out: list[bool] = []
        for col in self.schema_.modelled:
            out.append(col.kind is Kind.CATEGORICAL)
            if col.kind is not Kind.CATEGORICAL and col.nullable:
                out.append(True)  # the missing indicator
        return out

    @property
    def privacy_spent(self) -> PrivacySpent:
        """Infinite epsilon: synthetic rows interpolate real rows."""
        return PrivacySpent(epsilon=math.inf, delta=1.0, accountant=NOT_PRIVATE,
                            details={"reason": "non-private baseline; rows interpolate real "
                                               "training rows"})

    # -- persistence -------------------------------------------------------------------------
    def get_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The schema as JSON; the encoded training rows and labels as arrays."""
        if not hasattr(self, "matrix_"):
            raise InputError(f"{OWNER}: call fit() before save()")
        return ({"schema": self.schema_.to_dict()},
                {"matrix": self.matrix_, "labels": self.labels_})

    def set_state(self, metadata: dict[str, Any], arrays: dict[str, Any]) -> None:
        """Restore what :meth:`get_state` returned."""
        from privgate.plugins._generator_state import schema_from_dict

        self.schema_ = schema_from_dict(metadata["schema"])
        self.matrix_ = arrays["matrix"].numpy()
        self.labels_ = arrays["labels"].numpy()


def _encode(data: pd.DataFrame, columns: list[Column], target: str
            ) -> tuple[np.ndarray, np.ndarray]:
    """The feature matrix (category codes, numbers, missing indicators) and the target codes.

    The target is a matrix column too (its code), so decoding needs nothing else; its code is
    constant within a class and so survives interpolation. Codes of values outside the declared
    categories are -1 (those rows are dropped for the target; for features they become their
    own code, like a category).
    """
    cols: list[np.ndarray] = []
    labels = np.full(len(data), -1, dtype=np.int64)
    for col in columns:
        if col.kind is Kind.CATEGORICAL:
            idx = category_indices(data[col.name], col)
            if col.name == target:
                labels = idx.copy()
            cols.append(np.where(idx < 0, -1, idx).astype(float))
            continue
        values = to_numeric(data[col.name], col).to_numpy(dtype=float)
        isna = np.isnan(values)
        fill = float(np.median(values[~isna])) if (~isna).any() else 0.0
        if col.bounds is not None:
            fill = float(np.clip(fill, *col.bounds))
        cols.append(np.where(isna, fill, values))
        if col.nullable:
            cols.append(isna.astype(float))
    return np.column_stack(cols), labels


def _decode(rows: np.ndarray, columns: list[Column], target: str | None) -> pd.DataFrame:
    """Rows of :func:`_encode`'s matrix back to a table in the schema's domain."""
    data: dict[str, Any] = {}
    j = 0
    for col in columns:
        x = rows[:, j]
        j += 1
        if col.kind is Kind.CATEGORICAL:
            assert col.categories is not None
            cats = list(col.categories) + ([None] if col.nullable else [])
            codes = np.round(x).astype(np.int64)
            data[col.name] = pd.Series([cats[c] if 0 <= c < len(cats) else None
                                        for c in codes], dtype=object)
            continue
        missing = None
        if col.nullable:
            missing = rows[:, j] > 0.5
            j += 1
        if col.kind is Kind.INTEGER:
            x = np.round(x)
        if col.bounds is not None:
            x = np.clip(x, *col.bounds)
        data[col.name] = numeric_series(x, missing, col)
    return pd.DataFrame(data)


@hookimpl
def privgate_generators() -> list[type[Generator]]:
    """Register :class:`SMOTEGenerator`."""
    return [SMOTEGenerator]
