"""``leaky``: a deliberately leaking generator for calibrating attacks. FOR CALIBRATION ONLY.

NOT PRIVATE. It copies a fraction ``f`` of the training rows verbatim into its output and fills
the remaining rows column by column from the training data's independent marginals (each cell
drawn on its own from that column's training values). Because the planted copies are known
(:attr:`LeakyGenerator.copied_index_`), the true leak is known, and an attack's estimate can be
checked against it: every membership and identity attack should rise with ``f``; at ``f = 0``
the output carries no row-level link to the training data beyond the marginals.

Never use it to release data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from privgate import hookimpl, params
from privgate.errors import InputError
from privgate.generator import (
    NOT_PRIVATE,
    Generator,
    PrivacyBudget,
    PrivacySpent,
    check_conditions,
)
from privgate.schema import Schema

OWNER = "generator 'leaky'"
DEFAULTS: dict[str, Any] = {"fraction": 0.1}
#: Mixed into the seed so the planted rows are independent of attacks' seeded subsamples.
STREAM = 0x1EA4


def _check_params(given: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``fraction`` (a number in [0, 1]); the message says what is allowed."""
    p = params.resolve(OWNER, DEFAULTS, given)
    f = p["fraction"]
    if isinstance(f, bool) or not isinstance(f, int | float | np.number) or not 0 <= f <= 1:
        raise InputError(f"{OWNER}: parameter 'fraction' must be a number in [0, 1] (the share "
                         f"of training rows copied verbatim), got {f!r}")
    p["fraction"] = float(f)
    return p


class LeakyGenerator(Generator):
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
    is_private: ClassVar[bool] = False
    supports_conditions: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        _check_params(params)
        self.params: dict[str, Any] = dict(params)

    def fit(self, data: pd.DataFrame, schema: Schema, budget: PrivacyBudget | None,
            *, seed: int = 0) -> LeakyGenerator:
        """Keep the training rows (this generator memorises them); ``budget`` is ignored."""
        _check_params(self.params)
        names = [c.name for c in schema.modelled]
        missing = [n for n in names if n not in data.columns]
        if missing:
            raise InputError(f"{OWNER}: training table lacks column(s) {missing}")
        if len(data) == 0:
            raise InputError(f"{OWNER}: the training table has no rows")
        self.train_ = data[names].reset_index(drop=True).copy()
        self.schema_ = schema
        return self

    def sample(self, n: int, *, seed: int = 0,
               conditions: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """``n`` rows: planted verbatim copies plus independent-marginal rows, shuffled."""
        if not hasattr(self, "train_"):
            raise InputError(f"{OWNER}: call fit() before sample()")
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise InputError(f"{OWNER}: n must be a non-negative integer, got {n!r}")
        check_conditions(conditions, self.schema_, self.name, supported=False)
        n = int(n)
        fraction = _check_params(self.params)["fraction"]
        train = self.train_
        # A stream of its own: an attack seeded with the same integer that subsamples the
        # training rows (rng.choice) would otherwise pick the very rows planted here first.
        rng = np.random.default_rng([seed, STREAM])
        n_copies = min(n, int(round(fraction * len(train))))
        copied = np.sort(rng.choice(len(train), size=n_copies, replace=False))
        n_fill = n - n_copies
        # Independent marginals: every cell of a filler row is drawn on its own from its
        # column's training values, which breaks every link between columns of one person.
        fill = pd.DataFrame({col: train[col].to_numpy()[rng.integers(0, len(train), n_fill)]
                             for col in train.columns})
        out = pd.concat([train.iloc[copied], fill], ignore_index=True)
        order = rng.permutation(n)
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
        return PrivacySpent(float("inf"), 1.0, NOT_PRIVATE,
                            {"note": "FOR CALIBRATION ONLY: copies training rows verbatim",
                             "fraction": _check_params(self.params)["fraction"]})


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
