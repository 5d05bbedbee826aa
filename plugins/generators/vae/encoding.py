"""The ``dpsgd-vae`` generator's table encoding, derived from the schema's declared domain only.

Every column becomes one *block* of the VAE's input matrix and one *head* of its decoder:

* ``"categorical"``: a one-hot block over the declared categories (plus a "missing" slot when
  the column is nullable); the decoder emits one logit per slot (softmax cross-entropy).
* ``"bins"`` (numeric columns, the default): the value's *bin* as a one-hot block, plus a
  "missing" slot when nullable; modelled exactly like a categorical column. The bins are a grid
  over the declared bounds, never over the data (:func:`privgate.encoding.bin_edges`), so the
  encoding spends no privacy budget. Sampling draws a bin from the decoder's softmax, then a
  value inside it.
* ``"gaussian"`` (numeric, the original encoding): the value min-max scaled to [0, 1] with the
  declared bounds (one slot, plus a missing indicator when nullable); the decoder emits a mean
  and a bounded standard deviation (Gaussian negative log-likelihood).

Why bins: real tables are full of point masses and heavy tails (a money column that is 0 for
most rows, integer columns with spikes at round values) that a single Gaussian per row cannot
reproduce and a tree classifier separates from the real data with one split. A softmax over bins
represents any marginal shape, point masses included, and gives every column the same
cross-entropy loss, which keeps per-row gradient norms comparable across columns (useful under
DP-SGD's clipping). A value is sampled uniformly among the integers of its bin (uniformly in
``[left, right)`` for continuous columns); a point bin always yields its bound exactly.

Precision: real continuous columns are usually recorded to a fixed number of decimals (ages in
whole years, turnaround times to a tenth of an hour), and a classifier tells values drawn
uniformly inside a bin from such rounded values. The precision is not part of the declared
domain and must not be read off the data, so it is *modelled*: every binned continuous column
gets a second softmax block holding, per row, the number of decimals its value needs (0, 1, 2,
or "3 or more" = left unrounded). It is a per-row feature like any other, learnt jointly under
DP-SGD, and the sampled value is rounded to the sampled number of decimals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from privgate.encoding import bin_edges, category_indices, numeric_series, to_numeric
from privgate.schema import Column, Kind, Schema

NUMERIC_ENCODINGS = ("bins", "gaussian")

#: Decimal counts modelled for binned continuous columns; the last slot means "3 or more"
#: (the value is left unrounded).
_DECIMALS = 4
#: Suffix of the key of a column's decimals block (a NUL byte cannot clash with a column name
#: read from a CSV header or a TOML key in practice).
DECIMALS_SUFFIX = "\x00decimals"


@dataclass(frozen=True)
class Block:
    """One column's place in the input matrix and in the decoder output.

    ``kind`` is ``"categorical"``, ``"bins"`` or ``"gaussian"``. Categorical and bins blocks
    occupy ``start:end`` one-hot slots (the last one is "missing" when ``has_missing``) and
    ``end - start`` decoder logits at ``out_start``. A gaussian block holds the scaled value at
    ``start`` (and the missing indicator at ``start + 1``); its head is mean, raw scale (and
    missing logit) at ``out_start``. ``edges`` (bins only) are the bin boundaries in column
    units: bin ``j`` is ``[edges[j], edges[j + 1])`` (integers ``edges[j]`` to
    ``edges[j + 1] - 1`` for integer columns); ``point`` marks bins that hold one value exactly.
    """

    column: str
    kind: str
    start: int
    end: int
    out_start: int
    out_end: int
    has_missing: bool
    edges: np.ndarray | None = None
    point: np.ndarray | None = None

    @property
    def softmax(self) -> bool:
        """Whether the head is a single softmax over the block's slots."""
        return self.kind != "gaussian"


class VAEEncoding:
    """Encode the schema's modelled columns for the VAE and decode its output back to a table.

    Args:
        schema: the declared schema (identifiers are dropped).
        numeric: ``"bins"`` or ``"gaussian"``, how numeric columns are modelled.
        n_bins: the number of bins of a binned numeric column that does not get one bin per
            integer (at least 3: two point bins at the bounds and the interior).
    """

    def __init__(self, schema: Schema, *, numeric: str = "bins", n_bins: int = 64) -> None:
        self.schema = schema
        schema.require_domains()
        self.columns: list[Column] = schema.modelled
        blocks: list[Block] = []
        self.main: dict[str, Block] = {}
        self.decimals: dict[str, Block] = {}
        pos = out = 0
        for col in self.columns:
            extra = 1 if col.nullable else 0
            if col.kind is Kind.CATEGORICAL:
                assert col.categories is not None
                width = len(col.categories) + extra
                blocks.append(Block(col.name, "categorical", pos, pos + width, out, out + width,
                                    col.nullable))
                out_width = width
            elif numeric == "bins":
                edges, point = bin_edges(col, n_bins)
                width = len(point) + extra
                blocks.append(Block(col.name, "bins", pos, pos + width, out, out + width,
                                    col.nullable, edges, point))
                out_width = width
            else:
                width = 1 + extra
                out_width = 2 + extra
                blocks.append(Block(col.name, "gaussian", pos, pos + width, out, out + out_width,
                                    col.nullable))
            self.main[col.name] = blocks[-1]
            pos += width
            out += out_width
            if blocks[-1].kind == "bins" and col.kind is Kind.CONTINUOUS:
                blocks.append(Block(col.name + DECIMALS_SUFFIX, "decimals", pos, pos + _DECIMALS,
                                    out, out + _DECIMALS, False))
                self.decimals[col.name] = blocks[-1]
                pos += _DECIMALS
                out += _DECIMALS
        self.blocks = blocks
        self.width = pos
        self.out_width = out

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        """Encode ``df`` (must hold every modelled column) as a ``float32`` matrix.

        Values outside the declared categories (and missing values in a column not declared
        nullable) become all-zero blocks that the loss ignores; numeric values are clipped to the
        declared bounds first.
        """
        out = np.zeros((len(df), self.width), dtype=np.float32)
        rows = np.arange(len(df))
        for col in self.columns:
            block = self.main[col.name]
            s = df[col.name]
            if block.kind == "categorical":
                idx = category_indices(s, col)
                ok = idx >= 0
                out[rows[ok], block.start + idx[ok]] = 1.0
                continue
            assert col.bounds is not None
            low, high = col.bounds
            values = to_numeric(s, col).to_numpy(dtype=float)
            isna = np.isnan(values)
            clipped = np.clip(np.where(isna, low, values), low, high)
            if block.kind == "bins":
                assert block.edges is not None and block.point is not None
                idx = self._bin_index(block, clipped, col.kind is Kind.INTEGER)
                if col.nullable:
                    idx[isna] = len(block.point)
                ok = ~isna | col.nullable
                out[rows[ok], block.start + idx[ok]] = 1.0
                if col.name in self.decimals:  # missing values leave the block all-zero
                    dec = self.decimals[col.name]
                    places = _decimal_places(clipped)
                    out[rows[~isna], dec.start + places[~isna]] = 1.0
            else:
                scale = (high - low) or 1.0
                out[:, block.start] = np.where(isna, 0.5, (clipped - low) / scale)
                if col.nullable:
                    out[:, block.start + 1] = isna
        return out

    @staticmethod
    def _bin_index(block: Block, values: np.ndarray, integer: bool) -> np.ndarray:
        assert block.edges is not None and block.point is not None
        edges, n = block.edges, len(block.point)
        if integer:
            values = np.round(values)
            return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, n - 1)
        # continuous: point bins at both bounds, interior bins [edges[j], edges[j + 1]).
        idx = np.clip(np.searchsorted(edges, values, side="right") - 1, 1, n - 2) if n > 2 \
            else np.zeros(len(values), dtype=np.int64)
        idx = np.where(values <= edges[0], 0, idx)
        return np.where(values >= edges[-1], n - 1, idx)

    def decode(self, heads: dict[str, np.ndarray], rng: np.random.Generator) -> pd.DataFrame:
        """Sample a table from per-column decoder outputs.

        ``heads`` maps a column name to its softmax probabilities (categorical and bins
        blocks) or to ``(value in [0, 1], missing probability)`` columns (gaussian blocks).
        """
        data: dict[str, object] = {}
        for col in self.columns:
            block = self.main[col.name]
            h = heads[col.name]
            n = len(h)
            if block.kind == "categorical":
                assert col.categories is not None
                idx = _categorical(h, rng)
                cats = list(col.categories) + ([None] if col.nullable else [])
                data[col.name] = pd.Series([cats[i] for i in idx], dtype=object)
                continue
            assert col.bounds is not None
            low, high = col.bounds
            if block.kind == "bins":
                assert block.edges is not None and block.point is not None
                idx = _categorical(h, rng)
                missing = idx >= len(block.point)
                j = np.minimum(idx, len(block.point) - 1)
                left, right = block.edges[j], block.edges[j + 1]
                u = rng.random(n)
                if col.kind is Kind.INTEGER:
                    # uniform among the integers left .. right - 1 of the bin
                    x = left + np.floor(u * (right - left))
                else:
                    x = left + u * (right - left)
                    if col.name in self.decimals:
                        places = _categorical(heads[col.name + DECIMALS_SUFFIX], rng)
                        for d in range(_DECIMALS - 1):
                            x = np.where(places == d, np.round(x, d), x)
                    x = np.where(block.point[j], np.where(j == 0, low, high), x)
                x = np.clip(x, low, high)
            else:
                missing = rng.random(n) < np.clip(h[:, 1], 0, 1) if col.nullable else \
                    np.zeros(n, dtype=bool)
                x = np.clip(h[:, 0], 0.0, 1.0) * (high - low) + low
                if col.kind is Kind.INTEGER:
                    x = np.clip(np.round(x), np.ceil(low), np.floor(high))
            data[col.name] = numeric_series(x, missing if col.nullable else None, col)
        return pd.DataFrame(data)


def _decimal_places(values: np.ndarray) -> np.ndarray:
    """Per value, the fewest decimals (0 to 2) that represent it, or 3 for "more"."""
    places = np.full(len(values), _DECIMALS - 1, dtype=np.int64)
    for d in reversed(range(_DECIMALS - 1)):
        exact = np.abs(np.round(values, d) - values) <= 1e-9 * np.maximum(1.0, np.abs(values))
        places[exact] = d
    return places


def _categorical(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One index per row drawn from the row's probabilities (inverse-CDF, one uniform each)."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs))[:, None] * cum[:, -1:]
    return np.minimum((u >= cum).sum(axis=1), probs.shape[1] - 1)
