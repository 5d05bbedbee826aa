"""Encode a table for the tabular diffusion model from the declared domain only, and back.

TabDDPM (Kotelnikov et al. 2023) diffuses numeric columns with Gaussian noise in a bounded
range and categorical columns with multinomial noise. The original scales numbers with a
quantile transformer fitted on the training rows -- data-dependent preprocessing that a DP
generator would have to pay for. Here every transform is fixed by the schema's declared
``(low, high)`` bounds (public, free):

* ``linear``: ``(x - low) / (high - low)`` mapped to [-1, 1] (ages, hours, years);
* ``log``: for ranges with ``low > 0`` spanning two orders of magnitude (weights, amounts that
  are never 0): ``log x`` scaled between ``log low`` and ``log high``;
* ``log1p``: for ranges declared from 0 up to at least 1000 (money, counts): ``log(1 + x)``
  scaled between 0 and ``log(1 + high)``. The point mass at the lower bound
  (``capital_gain = 0``) becomes the edge value -1, which the model reproduces by clipping its
  prediction to [-1, 1].

Datetimes are epoch seconds; integers are rounded on the way back; values are clipped to the
declared bounds. Categorical columns become category codes (``len(categories)`` is the
"missing" code of a nullable column) for multinomial diffusion. A nullable numeric column adds a
two-class "missing" categorical column; its value slot is set to the middle of the range where
missing (and ignored on output).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from privgate.encoding import category_indices, numeric_series, to_numeric
from privgate.schema import Column, Kind, Schema

#: A positive range is log-scaled when ``high / low`` is at least this.
_WIDE = 100.0
#: A range declared from 0 is log1p-scaled when ``high`` is at least this (money, counts; a
#: percentage 0-100 stays linear).
_WIDE_FROM_ZERO = 1000.0


@dataclass(frozen=True)
class NumericSlot:
    """A numeric column's Gaussian-diffused slot and its public transform."""

    column: str
    transform: str  # "linear", "log" or "log1p"
    low: float
    high: float

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Column units -> [-1, 1]."""
        x = np.clip(x, self.low, self.high)
        if self.high <= self.low:
            return np.zeros_like(x)
        if self.transform == "log":
            u = (np.log(x) - np.log(self.low)) / (np.log(self.high) - np.log(self.low))
        elif self.transform == "log1p":
            u = np.log1p(x - self.low) / np.log1p(self.high - self.low)
        else:
            u = (x - self.low) / (self.high - self.low)
        return 2.0 * u - 1.0

    def inverse(self, y: np.ndarray) -> np.ndarray:
        """[-1, 1] -> column units (clipped to the bounds)."""
        u = (np.clip(y, -1.0, 1.0) + 1.0) / 2.0
        if self.transform == "log":
            x = np.exp(np.log(self.low) + u * (np.log(self.high) - np.log(self.low)))
        elif self.transform == "log1p":
            x = self.low + np.expm1(u * np.log1p(self.high - self.low))
        else:
            x = self.low + u * (self.high - self.low)
        # The edges map to the bounds exactly (exp/log round-off would miss point masses there).
        x = np.where(u <= 0.0, self.low, np.where(u >= 1.0, self.high, x))
        return np.clip(x, self.low, self.high)


@dataclass(frozen=True)
class CategoricalSlot:
    """A multinomial-diffused column: a schema categorical column, or the missing flag of a
    nullable numeric column (``flag_of`` names it)."""

    column: str
    n_classes: int
    flag_of: str | None = None


def numeric_transform(column: Column) -> str:
    """The public transform of a numeric column, from its declared bounds alone."""
    assert column.bounds is not None
    low, high = column.bounds
    if low > 0 and high / low >= _WIDE:
        return "log"
    if low == 0 and high >= _WIDE_FROM_ZERO:
        return "log1p"
    return "linear"


class DiffusionEncoding:
    """The modelled columns of ``schema`` as (numbers in [-1, 1], category codes)."""

    def __init__(self, schema: Schema) -> None:
        schema.require_domains()
        self.schema = schema
        self.columns: list[Column] = schema.modelled
        self.numeric: list[NumericSlot] = []
        self.categorical: list[CategoricalSlot] = []
        for col in self.columns:
            if col.kind is Kind.CATEGORICAL:
                assert col.categories is not None
                self.categorical.append(CategoricalSlot(
                    col.name, len(col.categories) + (1 if col.nullable else 0)))
                continue
            assert col.bounds is not None
            low, high = (float(b) for b in col.bounds)
            self.numeric.append(NumericSlot(col.name, numeric_transform(col), low, high))
            if col.nullable:
                self.categorical.append(CategoricalSlot(col.name, 2, flag_of=col.name))

    @property
    def class_counts(self) -> list[int]:
        """Classes of each categorical slot, in order."""
        return [c.n_classes for c in self.categorical]

    def transform(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(numbers float32 [n, d_num], codes int64 [n, d_cat])``.

        A code of -1 marks a value outside the declared categories (or missing in a column not
        declared nullable); the loss ignores such cells.
        """
        by_name = {c.name: c for c in self.columns}
        num = np.zeros((len(df), len(self.numeric)), dtype=np.float32)
        flags: dict[str, np.ndarray] = {}
        for j, slot in enumerate(self.numeric):
            col = by_name[slot.column]
            x = to_numeric(df[slot.column], col).to_numpy(dtype=float)
            isna = np.isnan(x)
            flags[slot.column] = isna
            num[:, j] = np.where(isna, 0.0, slot.forward(np.where(isna, slot.low, x)))
        cat = np.zeros((len(df), len(self.categorical)), dtype=np.int64)
        for j, cslot in enumerate(self.categorical):
            if cslot.flag_of is not None:
                cat[:, j] = flags[cslot.flag_of].astype(np.int64)
            else:
                idx = category_indices(df[cslot.column], by_name[cslot.column])
                cat[:, j] = np.where(idx < 0, -1, idx)
        return num, cat

    def inverse(self, num: np.ndarray, cat: np.ndarray) -> pd.DataFrame:
        """A table in the schema's domain from model output in the encoded space."""
        by_name = {c.name: c for c in self.columns}
        flags = {c.flag_of: cat[:, j] == 1 for j, c in enumerate(self.categorical)
                 if c.flag_of is not None}
        data: dict[str, pd.Series] = {}
        for j, slot in enumerate(self.numeric):
            col = by_name[slot.column]
            x = slot.inverse(num[:, j].astype(float))
            if col.kind is Kind.INTEGER:
                x = np.clip(np.round(x), np.ceil(slot.low), np.floor(slot.high))
            data[slot.column] = numeric_series(x, flags.get(slot.column), col)
        for j, cslot in enumerate(self.categorical):
            if cslot.flag_of is not None:
                continue
            col = by_name[cslot.column]
            assert col.categories is not None
            cats = list(col.categories) + ([None] if col.nullable else [])
            data[cslot.column] = pd.Series([cats[i] for i in cat[:, j]], dtype=object)
        return pd.DataFrame({c.name: data[c.name] for c in self.columns})
