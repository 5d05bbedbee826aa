"""Schema declaration, inference, and checking a table against it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privgate.encoding import TableEncoder
from privgate.errors import InputError
from privgate.schema import Column, Kind, Role, Schema, complete_schema, infer_schema
from privgate.tables import conform, fingerprint, split


def _table() -> pd.DataFrame:
    return pd.DataFrame({
        "id": [f"p{i}" for i in range(60)],
        "age": np.arange(60) % 90,
        "sex": ["f", "m", "x"] * 20,
        "bmi": np.linspace(15.5, 40.1, 60),
    })


def test_infer_schema_marks_every_domain_data_dependent() -> None:
    schema = infer_schema(_table())
    assert schema.source == "inferred"
    assert schema["id"].kind is Kind.IDENTIFIER and schema["id"].is_dropped
    assert schema["sex"].categories == ("f", "m", "x")
    assert schema["age"].kind is Kind.INTEGER and schema["bmi"].kind is Kind.CONTINUOUS
    assert set(schema.data_dependent_columns) == {"age", "sex", "bmi"}


def test_all_missing_column_is_rejected_by_name() -> None:
    df = _table().assign(empty=np.nan)
    with pytest.raises(InputError, match="'empty'.*no values"):
        infer_schema(df)


def test_declared_schema_from_config_mapping() -> None:
    schema = Schema.from_mapping({
        "age": {"kind": "integer", "role": "quasi-identifier", "bounds": [0, 120]},
        "sex": {"kind": "categorical", "role": "quasi-identifier", "categories": ["f", "m"]},
        "dx": {"kind": "categorical", "role": "sensitive", "categories": ["a", "b"]},
        "mrn": {"kind": "identifier", "role": "direct-identifier"},
    })
    assert schema.quasi_identifiers == ["age", "sex"]
    assert schema.sensitive == ["dx"]
    assert [c.name for c in schema.modelled] == ["age", "sex", "dx"]
    assert not schema.data_dependent_columns


@pytest.mark.parametrize("spec, message", [
    ({"age": {"kind": "integr"}}, "schema.columns.age.kind: 'integr' is not one of"),
    ({"age": {"kind": "integer", "role": "qi"}}, "schema.columns.age.role"),
    ({"age": {"kind": "integer", "bounds": [5, 1]}}, "bounds must be"),
    ({"age": {"kind": "integer", "bounds": "0-9"}}, "schema.columns.age.bounds"),
    ({"age": {"kind": "integer", "colour": 1}}, "unknown key"),
    ({"sex": {"kind": "categorical", "categories": []}}, "empty"),
    ({"sex": {"role": "other"}}, "'kind' is required"),
])
def test_bad_schema_declarations_name_the_column(spec: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        Schema.from_mapping(spec, where="gate.toml")


def test_complete_schema_fills_only_open_domains() -> None:
    declared = Schema((Column("age", Kind.INTEGER, bounds=(0, 120)),
                       Column("sex", Kind.CATEGORICAL), Column("bmi", Kind.CONTINUOUS),
                       Column("id", Kind.IDENTIFIER, Role.DIRECT_IDENTIFIER)))
    done = complete_schema(declared, _table())
    assert done["age"].bounds == (0, 120) and not done["age"].data_dependent
    assert done["sex"].categories == ("f", "m", "x") and done["sex"].data_dependent
    assert done.data_dependent_columns == ["sex", "bmi"]


def _schema() -> Schema:
    return Schema((Column("id", Kind.IDENTIFIER, Role.DIRECT_IDENTIFIER),
                   Column("age", Kind.INTEGER, Role.QUASI_IDENTIFIER, bounds=(0, 120)),
                   Column("sex", Kind.CATEGORICAL, Role.QUASI_IDENTIFIER,
                          categories=("f", "m", "x")),
                   Column("bmi", Kind.CONTINUOUS, Role.SENSITIVE, bounds=(10, 60))))


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.drop(columns=["bmi"]), r"schema column\(s\) \['bmi'\] are not in the table"),
    (lambda d: d.assign(extra=1), r"column\(s\) \['extra'\] are in the table but not"),
    (lambda d: d.assign(age=["old"] + list(d.age[1:])), "'age' is declared integer"),
    (lambda d: d.assign(sex=["q"] + list(d.sex[1:])), "'sex' holds 1 value"),
    (lambda d: d.assign(bmi=np.nan), "'bmi' holds no values"),
    (lambda d: d.assign(age=d.age.where(d.index > 0)), "'age' has 1 missing value"),
    (lambda d: d.assign(age=d.age + 0.5), "holds fractions"),
])
def test_conform_rejects_bad_tables_naming_the_column(mutate, message: str) -> None:
    with pytest.raises(InputError, match=message):
        conform(mutate(_table()), _schema(), where="data.csv")


def test_conform_maps_categories_to_declared_values() -> None:
    schema = Schema((Column("flag", Kind.CATEGORICAL, categories=(0, 1)),))
    out = conform(pd.DataFrame({"flag": ["1", "0", "1"]}), schema, where="t")
    assert out["flag"].tolist() == [1, 0, 1]


def test_split_is_seeded_and_disjoint() -> None:
    df = _table()
    a_train, a_control = split(df, 0.25, seed=3)
    b_train, b_control = split(df, 0.25, seed=3)
    pd.testing.assert_frame_equal(a_train, b_train)
    assert len(a_control) == 15 and len(a_train) == 45
    assert set(a_train["id"]).isdisjoint(a_control["id"])
    c_train, _ = split(df, 0.25, seed=4)
    assert not a_train.equals(c_train)


def test_fingerprint_changes_with_any_cell() -> None:
    df = _table()
    other = df.copy()
    other.loc[7, "bmi"] += 0.001
    assert fingerprint(df) == fingerprint(df.copy())
    assert fingerprint(df) != fingerprint(other)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 120), st.sampled_from(["f", "m", "x"]),
                          st.floats(10, 60)), min_size=1, max_size=40))
def test_encoding_round_trips_declared_domain(rows: list[tuple[int, str, float]]) -> None:
    df = pd.DataFrame(rows, columns=["age", "sex", "bmi"])
    schema = _schema().select(["age", "sex", "bmi"])
    enc = TableEncoder(schema)
    matrix = enc.transform(df)
    assert matrix.shape == (len(df), enc.width)
    assert float(matrix.min()) >= 0.0 and float(matrix.max()) <= 1.0
    back = enc.inverse_transform(matrix)
    assert back["sex"].tolist() == df["sex"].tolist()
    assert back["age"].tolist() == df["age"].tolist()
    np.testing.assert_allclose(back["bmi"], df["bmi"], rtol=1e-5, atol=1e-4)


def test_encoding_uses_declared_bounds_not_the_data() -> None:
    schema = Schema((Column("x", Kind.CONTINUOUS, bounds=(0, 100)),))
    enc = TableEncoder(schema)
    m = enc.transform(pd.DataFrame({"x": [40.0, 60.0]}))
    np.testing.assert_allclose(m[:, 0], [0.4, 0.6])
