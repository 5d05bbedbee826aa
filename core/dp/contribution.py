"""Person-level DP by contribution bounding: one row per person reaches a DP fit.

DP-SGD samples and clips rows, so its epsilon protects a row; a patient with ``k`` encounters is
protected only at about ``k`` times epsilon (group privacy). When the schema declares a
person-id column (:mod:`privgate.persons`), core hands every private generator one row per
person instead of the whole training part: each person's row is drawn uniformly at random from
their rows (seeded, stream ``("dp", "contribution-bounding")``), independently of every other
person's rows. Adding or removing a person then adds or removes at most one row of what the DP
generator sees, so the generator's (epsilon, delta), accounted by opacus at the Poisson sample
rate of its batch over these rows -- one row per person, so a person-level sample rate --
protects each *person*. The bound (one row) is public: it is fixed in advance, not read off the
data, so it costs no budget.

The price is utility: the generator learns from one row per person (diabetes130: 71,518 of
101,766 encounters). Per-person clipping of summed gradients (every row used, one clipped
gradient per person and step) would keep every row; this layer does not implement it yet.
Non-private baselines are not bounded (they promise nothing).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from privgate.randomness import rng

#: Rows of one person a private generator may see (public, fixed in advance).
MAX_ROWS_PER_PERSON = 1
#: How the rows are chosen, in words (results' privacy details).
RULE = ("contribution bounding: one row per person, drawn uniformly at random from that "
        "person's rows (seeded), so the epsilon protects each person")


def one_row_per_person(train: pd.DataFrame, persons: NDArray[np.int64], seed: int
                       ) -> pd.DataFrame:
    """``train`` bounded to one uniformly drawn row per person (``persons``: each row's person
    code), in the training part's order; seeded and deterministic."""
    codes = np.asarray(persons)
    if len(codes) != len(train):
        raise ValueError(f"{len(codes)} person codes for {len(train)} training rows")
    order = rng(seed, "dp", "contribution-bounding").permutation(len(train))
    _, first = np.unique(codes[order], return_index=True)  # each person's first drawn row
    return train.iloc[np.sort(order[first])].reset_index(drop=True)


def describe(train_rows: int, bounded_rows: int) -> dict[str, Any]:
    """What results.json says about the bounding."""
    return {"unit": "per person", "rule": RULE, "max_rows_per_person": MAX_ROWS_PER_PERSON,
            "training_rows": int(train_rows), "rows_seen_by_private_generators":
                int(bounded_rows)}
