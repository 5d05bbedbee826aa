"""``data.max_rows`` / ``--max-rows`` with a person column samples whole people (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_person_level import visits

from privgate.cli import main
from privgate.config import parse_config
from privgate.errors import InputError
from privgate.persons import sample_people
from privgate.sources import load


@settings(max_examples=80, deadline=None)
@given(people=st.lists(st.integers(0, 30), min_size=1, max_size=150),
       max_rows=st.integers(1, 160), seed=st.integers(0, 50))
def test_whole_people_within_the_cap_seeded_and_order_free(people: list[int], max_rows: int,
                                                           seed: int) -> None:
    ids = pd.Series([str(p) for p in people])
    pos = sample_people(ids, max_rows, seed)
    chosen = set(ids.iloc[pos])
    assert list(pos) == sorted(pos) and chosen
    assert len(pos) == int(ids.isin(chosen).sum())  # every row of each chosen person
    assert len(pos) <= max_rows or len(chosen) == 1
    assert len(pos) < len(ids) or len(ids) <= max_rows or len(chosen) == 1
    assert np.array_equal(sample_people(ids, max_rows, seed), pos)
    shuffled = ids.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    assert set(shuffled.iloc[sample_people(shuffled, max_rows, seed)]) == chosen


def _config(data: Path, **schema: object) -> dict[str, object]:
    return {"data": {"path": str(data), "max_rows": 700}, "seed": 4, "schema": dict(schema)}


def test_max_rows_keeps_every_row_of_the_people_it_samples(tmp_path: Path) -> None:
    df = visits(400, 2)
    path = tmp_path / "visits.csv"
    df.to_csv(path, index=False)
    loaded = load(parse_config(_config(path, person_id="patient_nbr"), where="t.toml"),
                  where="t.toml")
    assert loaded.persons is not None and loaded.train_source_rows is not None
    assert 600 < loaded.n_rows <= 700 < len(df)
    train_ids = set(df["patient_nbr"].iloc[loaded.train_source_rows])
    rows_of = df.index[df["patient_nbr"].isin(train_ids)]
    assert sorted(loaded.train_source_rows) == list(rows_of)  # nobody cut short
    again = load(parse_config(_config(path, person_id="patient_nbr"), where="t.toml"),
                 where="t.toml")
    assert np.array_equal(again.train_source_rows, loaded.train_source_rows)  # seeded
    by_row = load(parse_config(_config(path), where="t.toml"), where="t.toml")
    assert by_row.persons is None and by_row.n_rows == 700  # rows, as before
    expected = df.sample(n=700, random_state=4).index.to_numpy()
    assert set(by_row.train_source_rows) <= set(expected)  # type: ignore[arg-type]


def test_max_rows_refuses_missing_person_ids_naming_the_column(tmp_path: Path) -> None:
    df = visits(300, 1)
    df.loc[5, "patient_nbr"] = None
    path = tmp_path / "visits.csv"
    df.to_csv(path, index=False)
    with pytest.raises(InputError, match="'patient_nbr'.*missing"):
        load(parse_config(_config(path, person_id="patient_nbr"), where="t.toml"),
             where="t.toml")


def test_the_flag_samples_people_for_a_plan(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "visits.csv"
    visits(400, 2).to_csv(path, index=False)
    assert main(["plan", "--data", str(path), "--person-id", "patient_nbr", "--max-rows",
                 "700", "--seed", "4", "--json", "--no-suggestions"]) in (0, 1)
    plan = json.loads(capsys.readouterr().out)
    assert plan["n_train"] + plan["n_control"] <= 700
    assert plan["n_train_people"] < plan["n_train"]


def test_max_rows_with_an_absent_person_column_exits_2_naming_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "visits.csv"
    visits(300, 1).to_csv(path, index=False)
    assert main(["plan", "--data", str(path), "--person-id", "patient", "--max-rows", "500",
                 "--json", "--no-suggestions"]) == 2
    assert "'patient'" in capsys.readouterr().err
