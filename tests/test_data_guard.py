"""The guard on plugin text (``privgate.redact.DataGuard``): a real record's values in three
columns are withheld together, values of different records are not, and the kept column codes
that make a large report fast give the plain reading's answer on any table.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from privgate.encoding import to_numeric
from privgate.redact import ROW_COLUMNS, WITHHELD, DataGuard
from privgate.schema import Column, Kind, Schema

SCHEMA = Schema([Column("city", Kind.CATEGORICAL), Column("job", Kind.CATEGORICAL),
                 Column("age", Kind.INTEGER), Column("income", Kind.CONTINUOUS)])


def _plain_co_occur(guard: DataGuard, matched: dict[int, list[Any]]) -> bool:
    """The reading the guard must agree with: each column read afresh from the tables."""
    hits = None
    for col, values in matched.items():
        series = pd.concat([f[guard._names[col]] for f in guard._frames], ignore_index=True)
        if col in guard._numbers:
            nums = to_numeric(series, guard._columns[col]).to_numpy(dtype=float)
            mask = np.isin(nums, [v for v in values if isinstance(v, float)])
            text = [v for v in values if isinstance(v, str)]
            if text:
                mask |= series.astype(str).isin(text).to_numpy()
        else:
            mask = series.astype(str).isin(values).to_numpy()
        hits = mask.astype(np.int32) if hits is None else hits + mask
    return hits is not None and int(hits.max(initial=0)) >= ROW_COLUMNS


rows = st.tuples(st.sampled_from(["oslo", "lima", "pune", None]),
                 st.sampled_from(["nurse", "baker", "pilot"]),
                 st.one_of(st.none(), st.integers(18, 22)),
                 st.sampled_from([1000.5, 2000.0, 3000.25, float("nan")]))


@given(st.lists(rows, min_size=1, max_size=30), st.lists(rows, min_size=1, max_size=10),
       st.data())
@settings(max_examples=60, deadline=None)
def test_kept_codes_match_the_plain_reading(train: list[Any], control: list[Any],
                                            data: st.DataObject) -> None:
    frames = [pd.DataFrame(r, columns=["city", "job", "age", "income"]) for r in (train,
                                                                                control)]
    guard = DataGuard(frames, SCHEMA)
    candidates: dict[int, list[Any]] = {
        0: ["oslo", "lima", "pune", "nan", "rome"], 1: ["nurse", "baker", "pilot", "chef"],
        2: [18.0, 19.0, 20.0, 21.0, 22.0, 99.0, "18", "20"],
        3: [1000.5, 2000.0, 3000.25, 7.0, "1000.5", "2000.0"]}
    for _ in range(3):  # the codes are kept between calls: later calls must agree too
        cols = data.draw(st.lists(st.sampled_from(sorted(candidates)), min_size=1,
                                  max_size=4, unique=True))
        matched = {c: data.draw(st.lists(st.sampled_from(candidates[c]), min_size=1,
                                         max_size=4)) for c in cols}
        assert guard._co_occur(matched) == _plain_co_occur(guard, matched)


def test_one_records_values_in_three_columns_are_withheld_and_mixed_records_are_not() -> None:
    train = pd.DataFrame({"city": ["oslo", "lima"] * 20, "job": ["nurse", "baker"] * 20,
                          "age": [30, 40] * 20, "income": [1500.0, 2500.0] * 20})
    guard = DataGuard([train, train.iloc[:4]], SCHEMA)
    assert guard.text("a nurse from oslo aged 30") == WITHHELD
    assert guard.text("a nurse from lima aged 40") != WITHHELD  # no record holds all three
    assert guard.text("a baker from lima aged 40 earns 2500") == WITHHELD
    assert guard.text("a nurse from oslo") == "a nurse from oslo"  # two columns only
