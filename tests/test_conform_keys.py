"""Conforming a categorical column to its declared categories (``privgate.tables``) reads
each distinct value's key once: the same values, the same refusals as reading every cell, on
any mix of spellings (``1``, ``1.0``, ``"1"``, bools beside numbers, missing cells).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privgate.encoding import category_key
from privgate.errors import InputError
from privgate.schema import Column, Kind
from privgate.tables import _conform_categorical

CELLS = st.one_of(st.sampled_from(["a", "b", "1", "2.5", "True", "zz"]),
                  st.sampled_from([1, 2, 0, 1.0, 2.5, -0.0]), st.booleans(),
                  st.sampled_from([None, float("nan")]))
DECLARED = ["a", "b", "1", "2.5", "True", "0"]


def _cell_by_cell(s: pd.Series, col: Column) -> pd.Series | str:
    """The reading it must agree with: every cell's key, then the lookup."""
    assert col.categories is not None
    lookup = {category_key(c): c for c in col.categories}
    keys = s.map(lambda v: None if pd.isna(v) else category_key(v))
    unknown = keys.notna() & ~keys.isin(list(lookup))
    if unknown.any():
        return f"{int(unknown.sum())} value(s) ({keys[unknown].nunique()} distinct)"
    return keys.map(lookup).astype(object)


@given(st.lists(CELLS, min_size=1, max_size=40))
@settings(max_examples=150, deadline=None)
def test_distinct_keys_conform_as_every_cell_does(cells: list[Any]) -> None:
    s = pd.Series(cells, dtype=object, name="code")
    col = Column("code", Kind.CATEGORICAL, categories=tuple(DECLARED), nullable=True)
    expected = _cell_by_cell(s, col)
    if isinstance(expected, str):
        with pytest.raises(InputError) as info:
            _conform_categorical(s, col, "column 'code'", synthetic=False)
        assert expected in str(info.value)
        return
    got = _conform_categorical(s, col, "column 'code'", synthetic=False)
    assert got.name == "code" and got.dtype == object
    assert got.isna().tolist() == expected.isna().tolist()
    assert got[got.notna()].tolist() == expected[expected.notna()].tolist()


def test_a_numeric_column_of_codes_conforms_to_string_categories() -> None:
    s = pd.Series(np.array([1, 2, 1, 3]), name="admission_type_id")
    col = Column("admission_type_id", Kind.CATEGORICAL, categories=("1", "2", "3"))
    assert _conform_categorical(s, col, "x", synthetic=False).tolist() == ["1", "2", "1", "3"]
    with pytest.raises(InputError, match="1 value.*1 distinct.*first at row 3"):
        _conform_categorical(pd.Series([1, 2, 9, 1]), col, "x", synthetic=False)
