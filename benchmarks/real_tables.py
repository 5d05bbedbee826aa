"""The real tables the generator benchmarks run on, with their two schemas.

Each table is read the way ``privgate audit --data`` reads it (:func:`privgate.tables.read_table`:
for diabetes130 ``?`` stays a category and ``None`` is a missing value), its identifiers are
dropped, and it is split 80/20 by the benchmark's own seeded permutation. Two schemas:

* ``declared``: the code book's domains (category lists of the whole published file, documented
  numeric ranges), roles and target: no privacy budget is spent on domains;
* ``default``: what a new user gets -- the schema inferred from the table with only the target
  named (``privgate audit --data FILE --target COL``); every domain is read off the data and a
  DP generator pays for it from its budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from privgate.schema import Column, Kind, Role, Schema, infer_schema
from privgate.tables import conform, read_table

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@dataclass(frozen=True)
class RealTable:
    """A benchmark table: where it is, what to drop, what to predict."""

    name: str
    path: Path
    target: str
    #: The class whose AUROC TSTR reports; ``None``: macro one-vs-rest over the classes.
    positive: str | None
    drop: tuple[str, ...]
    bounds: dict[str, tuple[float, float]]
    quasi_identifiers: frozenset[str]
    sensitive: frozenset[str]


TABLES = {
    "adult": RealTable(
        "adult", DATA / "adult.csv", "income", ">50K", ("split",),
        {"age": (17, 90), "fnlwgt": (10_000, 1_500_000), "education_num": (1, 16),
         "capital_gain": (0, 99_999), "capital_loss": (0, 4_356), "hours_per_week": (1, 99)},
        frozenset({"age", "sex", "race", "marital_status", "native_country", "education"}),
        frozenset({"occupation", "capital_gain"})),
    "diabetes130": RealTable(
        "diabetes130", DATA / "diabetes130.csv.gz", "readmitted", None,
        ("encounter_id", "patient_nbr"),
        {"time_in_hospital": (1, 14), "num_lab_procedures": (1, 132), "num_procedures": (0, 6),
         "num_medications": (1, 81), "number_outpatient": (0, 42),
         "number_emergency": (0, 76), "number_inpatient": (0, 21),
         "number_diagnoses": (1, 16)},
        frozenset({"race", "gender", "age", "payer_code", "admission_source_id",
                   "medical_specialty"}),
        frozenset({"diag_1", "diag_2", "diag_3", "A1Cresult", "insulin"})),
}


def declared_schema(table: RealTable, df: pd.DataFrame) -> Schema:
    """The code book's schema: documented ranges, the published file's category lists."""
    cols = []
    for name in df.columns:
        role = (Role.TARGET if name == table.target else
                Role.QUASI_IDENTIFIER if name in table.quasi_identifiers else
                Role.SENSITIVE if name in table.sensitive else Role.OTHER)
        nullable = bool(df[name].isna().any())
        if name in table.bounds:
            low, high = table.bounds[name]
            cols.append(Column(name, Kind.INTEGER, role, bounds=(float(low), float(high)),
                               nullable=nullable))
        else:
            values = df[name].dropna()
            cats = tuple(sorted(values.astype(str).unique()) if values.dtype == object
                         else sorted(values.unique().tolist()))
            cols.append(Column(name, Kind.CATEGORICAL, role, categories=cats,
                               nullable=nullable))
    return Schema(tuple(cols))


def load(name: str, *, default_path: bool, split_seed: int, max_rows: int | None = None
         ) -> tuple[pd.DataFrame, pd.DataFrame, Schema]:
    """``(train, control, schema)`` of table ``name`` (see the module docstring)."""
    table = TABLES[name]
    df = read_table(table.path).drop(columns=list(table.drop))
    if default_path:
        schema = infer_schema(df, roles={table.target: Role.TARGET})
    else:
        schema = declared_schema(table, df)
    df = conform(df, schema, where=str(table.path))
    if max_rows is not None and max_rows < len(df):
        df = df.sample(n=max_rows, random_state=split_seed).reset_index(drop=True)
    # The benchmark's own split (a permutation by numpy's default_rng(split_seed), 20% control),
    # fixed here so that results stay comparable when privgate.tables.split changes.
    order = np.random.default_rng(split_seed).permutation(len(df))
    n_control = max(1, int(round(len(df) * 0.2)))
    control = df.iloc[order[:n_control]].reset_index(drop=True)
    train = df.iloc[order[n_control:]].reset_index(drop=True)
    return train, control, schema
