"""``leaky``: a deliberately leaking generator for calibrating attacks. FOR CALIBRATION ONLY.

NOT PRIVATE. It copies a fraction ``f`` of the training rows verbatim into its output and fills
the remaining rows column by column from the training data's independent marginals (each cell
drawn on its own from that column's training values). Because the planted copies are known
(:attr:`LeakyGenerator.copied_index_`), the true leak is known, and an attack's estimate can be
checked against it: every membership and identity attack should rise with ``f``; at ``f = 0``
the output carries no row-level link to the training data beyond the marginals. The
calibration harness (``benchmarks/calibration_harness.py``) runs the attacks on it.

Never use it to release data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import pandas as pd

from privgate import hookimpl
from privgate.generator import NOT_PRIVATE, Generator, PrivacyBudget, PrivacySpent
from privgate.params import Number
from privgate.plugins.generators.baseline import NonPrivateGenerator
from privgate.randomness import rng
from privgate.schema import Schema


class LeakyGenerator(NonPrivateGenerator):
    """Copies a fraction of the training rows verbatim; the rest from independent marginals.

    Parameters:
        fraction: the share ``f`` of training rows copied verbatim (default 0.1). A sample of
            ``n`` rows holds ``min(n, round(f * n_train))`` copies of distinct training rows,
            chosen at random (seeded), shuffled among the marginal rows.

    After :meth:`sample`, ``copied_index_`` holds the training row positions that were copied
    and ``copied_positions_`` where their copies sit in the output -- the planted ground truth
    a calibration reads (never written to results).
    """

    name: ClassVar[str] = "leaky"
    description: ClassVar[str] = (
        "FOR CALIBRATION ONLY, NOT PRIVATE: copies a fraction of the training rows verbatim "
        "and draws the rest from independent per-column marginals, so attacks can be checked "
        "against a known leak")
    supports_conditions: ClassVar[bool] = False
    fitted_by = "train_"
    PARAMS = {"fraction": Number(0.1, 0.0, 1.0, high_open=False,
                                 meaning="the share of training rows copied verbatim")}

    def fit(self, data: pd.DataFrame, schema: Schema, budget: PrivacyBudget | None,
            *, seed: int = 0) -> LeakyGenerator:
        """Keep the training rows (this generator memorises them); ``budget`` is ignored."""
        self.checked_params()
        schema.require_columns(data, self.owner())
        self.train_ = data[[c.name for c in schema.modelled]].reset_index(drop=True).copy()
        self.schema_ = schema
        return self

    def _draw(self, n: int, seed: int) -> pd.DataFrame:
        """``n`` rows: planted verbatim copies plus independent-marginal rows, shuffled."""
        train = self.train_
        # A named stream: an attack seeded with the same integer that subsamples the training
        # rows must not pick the very rows planted here first.
        draws = rng(seed, self.name, "sample")
        n_copies = min(n, int(round(self.checked_params()["fraction"] * len(train))))
        copied = np.sort(draws.choice(len(train), size=n_copies, replace=False))
        n_fill = n - n_copies
        # Independent marginals: every cell of a filler row is drawn on its own from its
        # column's training values, which breaks every link between columns of one person.
        fill = pd.DataFrame({col: train[col].to_numpy()[draws.integers(0, len(train), n_fill)]
                             for col in train.columns})
        out = pd.concat([train.iloc[copied], fill], ignore_index=True)
        order = draws.permutation(n)
        out = out.iloc[order].reset_index(drop=True).astype(train.dtypes.to_dict())
        self.copied_index_ = copied
        # where each copy ended up: output position p holds input row order[p]
        inverse = np.empty(n, dtype=np.int64)
        inverse[order] = np.arange(n)
        self.copied_positions_ = inverse[:n_copies]
        return out

    @property
    def privacy_spent(self) -> PrivacySpent:
        """Infinite: the output contains training rows verbatim."""
        return PrivacySpent(math.inf, 1.0, NOT_PRIVATE,
                            {"note": "FOR CALIBRATION ONLY: copies training rows verbatim",
                             "fraction": self.checked_params()["fraction"]})


def planted_identity_truth(train: pd.DataFrame, quasi_identifiers: Sequence[str],
                           copied_index: Sequence[int]) -> dict[str, float]:
    """The exact identity-disclosure rate the planted copies cause, for calibration.

    A verbatim copy of training record ``s`` lets an adversary who knows ``s``'s
    quasi-identifiers pick ``s`` out of the ``f_s`` training records sharing them with
    probability ``1 / f_s``; it is certain when the copy is unique on the quasi-identifiers.
    Returns ``rate`` = ``(1/n) sum over copied s of 1/f_s`` (what the identity-disclosure
    attack estimates) and ``unique_rate`` = the share of training records that were copied and
    are unique on the quasi-identifiers.
    """
    n = len(train)
    if n == 0:
        return {"rate": 0.0, "unique_rate": 0.0}
    sizes = train.groupby(list(quasi_identifiers), dropna=False, sort=False)[
        list(quasi_identifiers)[0]].transform("size").to_numpy(dtype=float)
    copied = np.asarray(copied_index, dtype=np.int64)
    return {"rate": float((1.0 / sizes[copied]).sum() / n),
            "unique_rate": float(np.sum(sizes[copied] == 1) / n)}


@hookimpl
def privgate_generators() -> list[type[Generator]]:
    """Register the calibration-only leaky generator."""
    return [LeakyGenerator]
