"""Category keys computed once per distinct value agree with the cell-by-cell definition."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from privgate.encoding import category_indices, category_key, is_missing, key_codes
from privgate.plugins.metrics._common import categorical_codes
from privgate.schema import Column, Kind

_cells = st.one_of(st.none(), st.just(float("nan")), st.booleans(), st.integers(-3, 3),
                   st.sampled_from([0.0, -0.0, 1.0, 2.5]), st.text(max_size=3),
                   st.sampled_from(["1", "1.0", "True", "a\x00b", "a", "\x00", ""]))


def _one_by_one(values: list[object]) -> list[object]:
    return [None if is_missing(v) else category_key(v) for v in values]


@settings(max_examples=200, deadline=None)
@given(values=st.lists(_cells, max_size=30))
def test_key_codes_give_every_cell_its_own_key(values: list[object]) -> None:
    codes, keys = key_codes(pd.Series(values, dtype=object))
    assert [None if c < 0 else keys[c] for c in codes] == _one_by_one(values)
    assert len(set(keys)) == len(keys)  # one code per distinct key


@settings(max_examples=100, deadline=None)
@given(values=st.lists(_cells, max_size=30),
       categories=st.lists(st.sampled_from(["1", "a", 2.5, True, "", "0", "a\x00b"]),
                           unique=True, min_size=1, max_size=5))
def test_codes_over_a_category_list_match_the_cell_by_cell_lookup(
        values: list[object], categories: list[object]) -> None:
    series = pd.Series(values, dtype=object)
    lookup = {category_key(c): i for i, c in enumerate(categories)}
    k = len(categories)
    expected = [k if is_missing(v) else lookup.get(category_key(v), k + 1) for v in values]
    assert categorical_codes(series, categories).tolist() == expected
    column = Column("c", Kind.CATEGORICAL, categories=tuple(categories), nullable=True)
    indices = [k if is_missing(v) else lookup.get(category_key(v), -1) for v in values]
    assert category_indices(series, column).tolist() == indices


def test_bools_beside_numbers_keep_their_own_keys() -> None:
    # Python's True == 1 would merge them in pandas' factorize
    codes, keys = key_codes(pd.Series([True, 1, 0, False, np.nan], dtype=object))
    assert [keys[c] for c in codes[:4]] == ["True", "1", "0", "False"] and codes[4] == -1
