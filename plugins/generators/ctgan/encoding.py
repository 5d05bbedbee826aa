"""The ``dpsgd-ctgan`` table encoding: CTGAN's mode-specific normalisation on a *public* grid.

CTGAN (Xu et al., 2019) encodes a continuous value as a one-hot *mode indicator* plus a scalar
*offset* inside that mode, the modes coming from a variational Gaussian mixture fitted to the
column. That fit reads the data, so under differential privacy it would be unpaid-for
preprocessing. Here the modes are a fixed grid laid over the column's *declared* bounds instead
(:func:`privgate.encoding.bin_edges`, shared with ``dpsgd-vae``): one mode per
integer for short integer ranges, point modes at both bounds (values clipped to the bounds pile
up there, and a lower bound of 0 is often a large point mass), and log-spaced or equal-width
interior modes. A value is encoded as

* the one-hot index of its mode (plus a "missing" slot when the column is nullable), and
* its position inside the mode as an offset in ``[-1, 1]`` (``tanh`` output of the generator);
  point modes and one-integer modes carry offset 0.

Nothing here looks at the training rows to decide the encoding, so it spends no privacy budget,
provided the schema's domains are public (missing or data-dependent domains are filled under DP
before this encoding is built, by :class:`privgate.dp.DPTrainer`).

Categorical columns are one-hot blocks over the declared categories (plus "missing" when
nullable); they also make up the *conditional vector*: CTGAN conditions the generator on one
categorical column taking one value, and the conditional vector is the concatenation of all
categorical blocks with only the chosen column's block set. :class:`ConditionSampler` draws
conditional vectors: for a real row its own category in a column chosen uniformly (a function of
that row and public randomness), for a fake row a category from the DP category frequencies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from privgate.encoding import bin_edges, category_indices, numeric_series, to_numeric
from privgate.schema import Column, Kind, Schema


@dataclass(frozen=True)
class Span:
    """One column's slots in the encoded row (the generator's output has the same layout).

    ``onehot_start:onehot_end`` is the one-hot block (categories or modes, the last slot being
    "missing" when ``has_missing``). Numeric columns also have an ``offset`` slot (the position
    inside the mode, in ``[-1, 1]``), ``edges`` (mode ``j`` covers ``[edges[j], edges[j+1])``)
    and ``point`` (modes holding exactly one value). ``cond_start`` is where a categorical
    block sits in the conditional vector (-1 for numeric columns).
    """

    column: str
    categorical: bool
    onehot_start: int
    onehot_end: int
    has_missing: bool
    offset: int = -1
    cond_start: int = -1
    edges: np.ndarray | None = None
    point: np.ndarray | None = None

    @property
    def width(self) -> int:
        """Number of one-hot slots."""
        return self.onehot_end - self.onehot_start


class CTGANEncoding:
    """Encode the schema's modelled columns for the GAN and decode generator output to a table.

    Args:
        schema: the schema with every modelled domain declared (identifiers are dropped).
        n_modes: modes of a numeric column that does not get one mode per integer (at least 3:
            two point modes at the bounds and the interior).
    """

    def __init__(self, schema: Schema, *, n_modes: int = 32) -> None:
        schema.require_domains()
        self.schema = schema
        self.n_modes = n_modes
        self.columns: list[Column] = schema.modelled
        spans: list[Span] = []
        pos = cond = 0
        for col in self.columns:
            extra = 1 if col.nullable else 0
            if col.kind is Kind.CATEGORICAL:
                assert col.categories is not None
                width = len(col.categories) + extra
                spans.append(Span(col.name, True, pos, pos + width, col.nullable,
                                  cond_start=cond))
                pos += width
                cond += width
            else:
                edges, point = bin_edges(col, n_modes)
                width = len(point) + extra
                spans.append(Span(col.name, False, pos + 1, pos + 1 + width, col.nullable,
                                  offset=pos, edges=edges, point=point))
                pos += 1 + width
        self.spans = spans
        self.width = pos
        self.cond_width = cond
        self.cond_spans = [s for s in spans if s.categorical]

    # -- encoding ------------------------------------------------------------------------------

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        """Encode ``df`` (must hold every modelled column) as a ``float32`` matrix.

        Values outside the declared categories, and missing values of a column not declared
        nullable, encode as an all-zero block; numeric values are clipped to the bounds.
        """
        out = np.zeros((len(df), self.width), dtype=np.float32)
        rows = np.arange(len(df))
        for col, span in zip(self.columns, self.spans, strict=True):
            s = df[col.name]
            if span.categorical:
                idx = category_indices(s, col)
                ok = idx >= 0
                out[rows[ok], span.onehot_start + idx[ok]] = 1.0
                continue
            assert col.bounds is not None and span.edges is not None and span.point is not None
            low, high = col.bounds
            values = to_numeric(s, col).to_numpy(dtype=float)
            isna = np.isnan(values)
            x = np.clip(np.where(isna, low, values), low, high)
            integer = col.kind is Kind.INTEGER
            mode = _mode_index(span.edges, span.point, x, integer)
            out[:, span.offset] = np.where(isna, 0.0, _offset(span.edges, span.point, mode, x,
                                                              integer))
            if col.nullable:
                mode[isna] = len(span.point)
            ok = ~isna | col.nullable
            out[rows[ok], span.onehot_start + mode[ok]] = 1.0
        return out

    def row_conditions(self, matrix: np.ndarray) -> np.ndarray:
        """The categorical one-hot blocks of encoded rows, laid out as the conditional vector."""
        if not self.cond_spans:
            return np.zeros((len(matrix), 0), dtype=np.float32)
        return np.concatenate([matrix[:, s.onehot_start:s.onehot_end] for s in self.cond_spans],
                              axis=1)

    # -- decoding ------------------------------------------------------------------------------

    def decode(self, raw: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
        """Sample a table from the generator's raw (pre-activation) output.

        Every one-hot block is read as logits and one slot is drawn from their softmax (what
        CTGAN's argmax over a Gumbel-softmax sample amounts to); offsets go through ``tanh``.
        """
        data: dict[str, object] = {}
        n = len(raw)
        for col, span in zip(self.columns, self.spans, strict=True):
            idx = _draw(raw[:, span.onehot_start:span.onehot_end], rng)
            if span.categorical:
                assert col.categories is not None
                cats = list(col.categories) + ([None] if col.nullable else [])
                data[col.name] = pd.Series([cats[i] for i in idx], dtype=object)
                continue
            assert col.bounds is not None and span.edges is not None and span.point is not None
            low, high = col.bounds
            k = len(span.point)
            missing = idx >= k
            j = np.minimum(idx, k - 1)
            u = (np.tanh(raw[:, span.offset].astype(float)) + 1.0) / 2.0
            left, right = span.edges[j], span.edges[j + 1]
            if col.kind is Kind.INTEGER:
                x = left + np.minimum(np.floor(u * (right - left)), right - left - 1)
            else:
                x = left + u * (right - left)
                x = np.where(span.point[j], np.where(j == 0, low, high), x)
            x = np.clip(x, low, high) if n else x
            data[col.name] = numeric_series(x, missing if col.nullable else None, col)
        return pd.DataFrame(data)


def _mode_index(edges: np.ndarray, point: np.ndarray, x: np.ndarray, integer: bool
                ) -> np.ndarray:
    """The mode of each (clipped) value, following ``bin_edges``' conventions."""
    n = len(point)
    if integer:
        return np.clip(np.searchsorted(edges, np.round(x), side="right") - 1, 0, n - 1)
    if n <= 2:
        idx = np.zeros(len(x), dtype=np.int64)
    else:  # point modes at both bounds, interior modes [edges[j], edges[j + 1])
        idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 1, n - 2)
    idx = np.where(x <= edges[0], 0, idx)
    return np.where(x >= edges[-1], n - 1, idx)


def _offset(edges: np.ndarray, point: np.ndarray, mode: np.ndarray, x: np.ndarray,
            integer: bool) -> np.ndarray:
    """The value's position inside its mode mapped to ``[-1, 1]`` (0 for single-value modes).

    Integer modes hold the integers ``left .. right - 1``; the value's slot centre is used so
    that decoding with ``floor`` recovers it exactly.
    """
    left, right = edges[mode], edges[mode + 1]
    width = right - left
    if integer:
        u = (np.round(x) - left + 0.5) / np.where(width > 0, width, 1.0)
        single = width <= 1
    else:
        u = (x - left) / np.where(width > 0, width, 1.0)
        single = point[mode] | (width <= 0)
    return np.where(single, 0.0, np.clip(2.0 * u - 1.0, -0.999, 0.999))


def _draw(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One slot per row drawn from the softmax of the row's logits (inverse CDF)."""
    z = logits.astype(float)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    cum = np.cumsum(p, axis=1)
    u = rng.random(len(p))[:, None] * cum[:, -1:]
    return np.minimum((u >= cum).sum(axis=1), p.shape[1] - 1)


def frequencies(counts: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Per categorical column, category probabilities from (noisy) counts: clipped at 0 and
    normalised (post-processing); a column whose counts are all 0 gets the uniform
    distribution over its declared categories."""
    out = []
    for c in counts:
        clipped = np.clip(np.asarray(c, dtype=float), 0.0, None)
        total = clipped.sum()
        out.append(clipped / total if total > 0 else np.full(len(clipped), 1.0 / len(clipped)))
    return out


class ConditionSampler:
    """Draws CTGAN conditional vectors: a categorical column uniformly, then a category.

    ``probs`` are the per-column category probabilities (DP, see :func:`frequencies`); the
    columns themselves are chosen uniformly, which is public.
    """

    def __init__(self, encoding: CTGANEncoding, probs: Sequence[np.ndarray]) -> None:
        self.widths = [s.width for s in encoding.cond_spans]
        self.starts = np.cumsum([0, *self.widths])[:-1]
        self.width = encoding.cond_width
        self.cum = [np.cumsum(p) for p in probs]
        # column masks over the conditional vector, to turn a real row's blocks into its
        # condition on one column
        masks = np.zeros((len(self.widths), self.width), dtype=np.float32)
        for j, (a, w) in enumerate(zip(self.starts, self.widths, strict=True)):
            masks[j, a:a + w] = 1.0
        self.masks = torch.from_numpy(masks)

    def fake(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """``n`` conditional vectors: uniform column, category from its DP frequencies."""
        out = torch.zeros((n, self.width))
        if not self.widths:
            return out
        cols = torch.randint(len(self.widths), (n,), generator=gen).numpy()
        u = torch.rand(n, generator=gen, dtype=torch.float64).numpy()
        for j in range(len(self.widths)):
            rows = np.nonzero(cols == j)[0]
            if len(rows):
                cat = np.minimum(np.searchsorted(self.cum[j], u[rows] * self.cum[j][-1],
                                                 side="right"), self.widths[j] - 1)
                out[rows, int(self.starts[j]) + cat] = 1.0
        return out

    def real(self, blocks: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Each real row's condition: its own category in a column drawn uniformly."""
        if not self.widths or len(blocks) == 0:
            return torch.zeros((len(blocks), self.width))
        cols = torch.randint(len(self.widths), (len(blocks),), generator=gen)
        return blocks * self.masks[cols]

    def fixed(self, n: int, column: int, category: int) -> torch.Tensor:
        """``n`` copies of the condition "column ``column`` takes category ``category``"."""
        out = torch.zeros((n, self.width))
        out[:, int(self.starts[column]) + category] = 1.0
        return out
