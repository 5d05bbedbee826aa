"""Privacy per person, not per row (issue 16): the ``person-id`` role, splits by person,
person-level attacks and vulnerability, and the unit that results, plan and ledger state."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privgate import AttackContext
from privgate.attacks.dcr_membership import DCRMembership
from privgate.attacks.identity_disclosure import IdentityDisclosure
from privgate.attacks.low_fpr_membership import LowFPRMembership
from privgate.attacks.verbatim_copy import VerbatimCopy
from privgate.cli import main
from privgate.config import parse_config
from privgate.errors import InputError
from privgate.persons import (
    PER_PERSON,
    PER_ROW,
    Persons,
    aggregate,
    checked_ids,
    people_with,
    persons_of,
    privacy_unit,
    split_people,
)
from privgate.reports.i18n import plugin_texts
from privgate.reports.plugin_texts import result_texts
from privgate.schema import Column, Kind, Role, Schema, infer_schema
from privgate.sources import load
from privgate.tables import split, split_positions
from privgate.vulnerability import rank_people, rank_records


def visits(n_people: int = 400, seed: int = 0) -> pd.DataFrame:
    """Encounters of people: 1 to 6 rows each, a few per-person traits and per-visit values."""
    rng = np.random.default_rng(seed)
    per = rng.integers(1, 7, n_people)
    pid = np.repeat(np.arange(n_people) * 13 + 5000, per)
    n = len(pid)
    age = np.repeat(rng.integers(20, 90, n_people), per)
    sex = np.repeat(rng.choice(["f", "m"], n_people), per)
    return pd.DataFrame({
        "patient_nbr": pid, "age": age, "sex": sex,
        "zip3": np.repeat(rng.choice(["021", "100", "941", "606"], n_people), per),
        "stay": rng.integers(1, 15, n), "lab": rng.normal(50, 10, n).round(1),
        "diagnosis": rng.choice(["flu", "asthma", "diabetes", "copd"], n),
    }).sample(frac=1.0, random_state=seed).reset_index(drop=True)


SCHEMA = Schema((
    Column("age", Kind.INTEGER, Role.QUASI_IDENTIFIER, bounds=(0, 110)),
    Column("sex", Kind.CATEGORICAL, Role.QUASI_IDENTIFIER, categories=("f", "m")),
    Column("zip3", Kind.CATEGORICAL, Role.QUASI_IDENTIFIER,
           categories=("021", "100", "941", "606")),
    Column("stay", Kind.INTEGER, bounds=(0, 30)),
    Column("lab", Kind.CONTINUOUS, bounds=(0, 120)),
    Column("diagnosis", Kind.CATEGORICAL, Role.SENSITIVE,
           categories=("flu", "asthma", "diabetes", "copd")),
))


# -- the role --------------------------------------------------------------------------------

def test_person_id_is_a_role_that_is_never_modelled() -> None:
    schema = Schema.from_mapping({"patient_nbr": {"kind": "identifier", "role": "person-id"},
                                  "age": {"kind": "integer", "bounds": [0, 110]}})
    assert schema.person_id == "patient_nbr"
    assert schema["patient_nbr"].is_dropped
    assert [c.name for c in schema.modelled] == ["age"]
    inferred = infer_schema(visits(), roles={"patient_nbr": Role.PERSON_ID})
    assert inferred.person_id == "patient_nbr" and inferred["patient_nbr"].is_dropped
    assert infer_schema(visits()).person_id is None  # never guessed at audit time


def test_missing_person_ids_are_refused_naming_the_column() -> None:
    df = visits().astype({"patient_nbr": float})
    df.loc[7, "patient_nbr"] = np.nan
    with pytest.raises(InputError, match="person-id column 'patient_nbr' has 1 missing"):
        checked_ids(df, "patient_nbr", "t.csv")


def _cli_data(tmp_path: Path, df: pd.DataFrame | None = None) -> Path:
    path = tmp_path / "visits.csv"
    (visits() if df is None else df).to_csv(path, index=False)
    return path


def test_the_cli_refuses_a_bad_person_column(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    data = _cli_data(tmp_path)
    args = ["audit", "--data", str(data), "--generator", "gmm", "--attack", "dcr-membership",
            "--no-ledger", "--out", str(tmp_path / "out")]
    assert main([*args, "--person-id", "nope"]) == 2
    err = capsys.readouterr().err
    assert "'nope'" in err and "--person-id" in err
    df = visits().astype({"patient_nbr": object})
    df.loc[3, "patient_nbr"] = None
    assert main([*args[:2], str(_cli_data(tmp_path, df)), *args[3:],
                 "--person-id", "patient_nbr"]) == 2
    assert "'patient_nbr'" in capsys.readouterr().err
    assert main([*args, "--person-id", " "]) == 2  # an empty name


def test_config_key_and_flag_give_the_same_role() -> None:
    config = parse_config({"data": {"path": "x.csv"}, "schema": {"person_id": "patient_nbr"}},
                          where="t.toml")
    assert config.schema_ is not None
    assert config.schema_.roles() == {"patient_nbr": Role.PERSON_ID}
    with pytest.raises(InputError, match="two roles"):
        parse_config({"schema": {"person_id": "a", "sensitive": ["a"]}},
                     where="t.toml").schema_.roles()  # type: ignore[union-attr]


# -- splits by person ------------------------------------------------------------------------

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(people=st.lists(st.integers(0, 40), min_size=20, max_size=200),
       fraction=st.floats(0.05, 0.95), seed=st.integers(0, 2**32 - 1))
def test_no_person_is_on_both_sides_of_any_split(people: list[int], fraction: float,
                                                 seed: int) -> None:
    ids = pd.Series(people).astype(str)
    if ids.nunique() < 2:
        with pytest.raises(InputError, match="at least 2"):
            split_people(ids, fraction, seed)
        return
    train, control = split_people(ids, fraction, seed)
    assert sorted(np.r_[train, control].tolist()) == list(range(len(ids)))  # every row, once
    assert not set(ids.iloc[train]) & set(ids.iloc[control])
    n_people = ids.nunique()
    want = min(n_people - 1, max(1, round(n_people * fraction)))
    assert ids.iloc[control].nunique() == want  # the fraction is of people
    again = split_people(ids, fraction, seed)
    assert all(np.array_equal(a, b) for a, b in zip((train, control), again, strict=True))
    # the rows' order does not matter: the same people go to control
    shuffled = ids.sample(frac=1.0, random_state=1).reset_index(drop=True)
    assert set(shuffled.iloc[split_people(shuffled, fraction, seed)[1]]) == set(
        ids.iloc[control])


@settings(max_examples=40, deadline=None)
@given(codes=st.lists(st.integers(0, 30), min_size=4, max_size=120), seed=st.integers(0, 99))
def test_attack_halves_never_split_a_person(codes: list[int], seed: int) -> None:
    from privgate.attacks._persons import people_halves

    arr = np.asarray(codes, dtype=np.int64)
    first, second = people_halves(np.random.default_rng(seed).permutation(len(arr)), arr)
    assert sorted(np.r_[first, second].tolist()) == list(range(len(arr)))
    assert not set(arr[first]) & set(arr[second])


def test_split_without_people_is_unchanged() -> None:
    df = visits()
    train, control = split(df, 0.3, 7)
    t_pos, c_pos = split_positions(len(df), 0.3, 7)
    assert len(control) == round(len(df) * 0.3)
    assert train.equals(df.iloc[t_pos].reset_index(drop=True))
    by_person = split(df, 0.3, 7, df["patient_nbr"].astype(str))
    assert not set(by_person[0]["patient_nbr"]) & set(by_person[1]["patient_nbr"])


def test_an_audit_splits_by_person_and_separate_files_must_not_share_people(
        tmp_path: Path) -> None:
    data = _cli_data(tmp_path)
    config = parse_config({"data": {"path": str(data)}, "seed": 3,
                           "schema": {"person_id": "patient_nbr"}}, where="t.toml")
    loaded = load(config, where="t.toml")
    assert loaded.persons is not None and "patient_nbr" not in loaded.train.columns
    assert len(loaded.persons.train) == len(loaded.train)
    assert not set(loaded.persons.train) & set(loaded.persons.control)
    df = visits()
    df.iloc[:300].to_csv(tmp_path / "train.csv", index=False)
    df.iloc[250:].to_csv(tmp_path / "control.csv", index=False)  # overlapping rows
    shared = parse_config({"data": {"train": str(tmp_path / "train.csv"),
                                    "control": str(tmp_path / "control.csv")},
                           "schema": {"person_id": "patient_nbr"}}, where="t.toml")
    with pytest.raises(InputError, match="both the training and the control"):
        load(shared, where="t.toml")


# -- what attacks see ------------------------------------------------------------------------

def _context(leak_people: int = 0, seed: int = 0) -> AttackContext:
    df = visits(600, seed)
    ids = checked_ids(df, "patient_nbr", "t")
    t_pos, c_pos = split_people(ids, 0.4, seed)
    train, control = (df.iloc[p].reset_index(drop=True) for p in (t_pos, c_pos))
    persons = persons_of("patient_nbr", ids.iloc[t_pos], ids.iloc[c_pos], "t")
    rng = np.random.default_rng(seed + 1)
    synthetic = pd.DataFrame({c: rng.permutation(train[c].to_numpy()) for c in SCHEMA.names})
    if leak_people:  # all rows of some training people copied
        chosen = rng.choice(np.unique(persons.train), leak_people, replace=False)
        copied = train[np.isin(persons.train, chosen)][SCHEMA.names]
        synthetic = pd.concat([synthetic.iloc[len(copied):], copied], ignore_index=True)
    cols = SCHEMA.names
    return AttackContext(train[cols], control[cols], synthetic, SCHEMA, seed, persons=persons)


def test_persons_are_read_only_opaque_codes() -> None:
    ctx = _context()
    assert ctx.persons is not None
    with pytest.raises(ValueError):
        ctx.persons.train[0] = 1
    assert ctx.persons.train.dtype == np.int64
    values, of_row = aggregate(np.array([1.0, 5.0, 2.0]), np.array([3, 3, 8]))
    assert values.tolist() == [5.0, 2.0] and of_row.tolist() == [0, 0, 1]
    assert people_with(np.array([True, True, False]), np.array([3, 3, 8])) == 1


@pytest.mark.parametrize("attack", [DCRMembership(n_resamples=50), LowFPRMembership(),
                                    VerbatimCopy(), IdentityDisclosure()])
def test_attacks_count_people_when_persons_are_given(attack: object) -> None:
    ctx = _context(leak_people=12)
    assert ctx.persons is not None
    by_person = attack.run(ctx)  # type: ignore[attr-defined]
    by_row = attack.run(AttackContext(ctx.train, ctx.control, ctx.synthetic, SCHEMA,  # type: ignore[attr-defined]
                                      ctx.seed))
    assert by_person.details["unit"] == PER_PERSON and by_row.details["unit"] == PER_ROW
    assert by_person.n_trials < by_row.n_trials
    assert by_person.n_trials <= ctx.persons.n_train + ctx.persons.n_control
    assert by_person.record_risk is None or len(by_person.record_risk) <= len(ctx.train)
    again = attack.run(ctx)  # type: ignore[attr-defined]
    assert (again.risk, again.ci_low, again.ci_high) == (by_person.risk, by_person.ci_low,
                                                         by_person.ci_high)


def test_a_copied_history_is_caught_per_person() -> None:
    ctx = _context(leak_people=20)
    assert ctx.persons is not None
    low = LowFPRMembership().run(ctx)
    flagged = low.details["operating_points"]["0.001"]["members_flagged"]
    assert flagged >= 20 and low.n_trials == ctx.persons.n_train
    copy = VerbatimCopy().run(ctx)
    main = copy.counts[0]
    assert main.label.startswith("people with") and main.successes >= 20
    plan = LowFPRMembership().plan(ctx)
    assert plan.trials_available == ctx.persons.n_train


def test_vulnerability_is_ranked_per_person_too() -> None:
    risk = pd.Series([0.2, 0.995, 0.1, 0.5])
    ranking = rank_records({"g/a": risk}, 4)
    people = rank_people(ranking, np.array([0, 1, 1, 2]))
    assert people["person"].tolist()[0] == 1 and bool(people["high_risk"].iloc[0])
    assert people.loc[0, "row_indices"] == "1;2" and people.loc[0, "n_rows"] == 2


def test_privacy_unit_says_what_epsilon_protects() -> None:
    assert privacy_unit(None) == {"epsilon_protects": PER_ROW, "attacks_count": PER_ROW,
                                  "person_column": None}
    persons = Persons("p", np.array([0, 0, 1]), np.array([2]))
    doc = privacy_unit(persons)
    assert doc["attacks_count"] == PER_PERSON and doc["epsilon_protects"] == PER_ROW
    assert doc["max_rows_per_person"] == 2 and "2 rows per person" in doc["note"]
    bounded = privacy_unit(persons, PER_PERSON)
    assert bounded["epsilon_protects"] == PER_PERSON and "note" not in bounded
    assert "one row per person" in bounded["contribution_bound"]


def test_synth_takes_a_person_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _cli_data(tmp_path)
    out = tmp_path / "syn.csv"
    assert main(["synth", "--data", str(data), "--generator", "gmm", "--person-id",
                 "patient_nbr", "--out", str(out)]) == 0, capsys.readouterr().err
    assert "patient_nbr" not in pd.read_csv(out).columns  # never modelled
    df = visits().astype({"patient_nbr": object})
    df.loc[0, "patient_nbr"] = None
    assert main(["synth", "--data", str(_cli_data(tmp_path, df)), "--generator", "gmm",
                 "--person-id", "patient_nbr", "--out", str(tmp_path / "b.csv")]) == 2
    assert "person-id column 'patient_nbr'" in capsys.readouterr().err


def test_an_audit_and_a_plan_count_people(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    data = _cli_data(tmp_path)
    out = tmp_path / "out"
    code = main(["audit", "--data", str(data), "--generator", "gmm", "--attack",
                 "low-fpr-membership", "--attack", "verbatim-copy", "--attack",
                 "identity-disclosure", "--sensitive", "diagnosis", "--quasi-identifiers",
                 "age,sex,zip3", "--person-id", "patient_nbr", "--no-ledger", "--seed", "1",
                 "--lang", "ko", "--out", str(out)])
    assert code in (0, 1), capsys.readouterr().err
    result = json.loads((out / "results.json").read_text())
    names = set(result["dataset"]["columns"])  # column names are data, not texts
    texts = {t: w for t, w in result_texts(result).items() if t not in names
             and re.search(r"[A-Za-z]{2}", t) and plugin_texts("ko").lookup(t) is None}
    assert texts == {}  # every plugin text of a per-person audit has a Korean entry
    html = (out / "report.html").read_text("utf-8")
    assert "프라이버시 단위" in html and "한 사람당 최대" in html
    assert result["privacy_unit"]["attacks_count"] == PER_PERSON
    assert result["privacy_unit"]["person_column"] == "patient_nbr"
    assert result["plan"]["unit"] == PER_PERSON
    assert "patient_nbr" in result["dataset"]["dropped_columns"]
    assert result["vulnerability"]["unit"] == PER_PERSON
    assert (out / "vulnerable_people.csv").exists()
    assert "5013" not in (out / "vulnerable_people.csv").read_text()  # no real id
    capsys.readouterr()
    assert main(["plan", "--data", str(data), "--person-id", "patient_nbr", "--json",
                 "--no-suggestions"]) in (0, 1)
    plan = json.loads(capsys.readouterr().out)
    assert plan["unit"] == PER_PERSON and plan["n_train_people"] < plan["n_train"]


# -- person-level DP: contribution bounding -----------------------------------------------------

def test_one_row_per_person_is_seeded_and_keeps_one_row_of_each_person() -> None:
    from privgate.dp.contribution import one_row_per_person

    df = visits()
    codes = pd.factorize(df["patient_nbr"], sort=True)[0]
    bounded = one_row_per_person(df, codes, 4)
    assert len(bounded) == df["patient_nbr"].nunique()
    assert bounded["patient_nbr"].is_unique
    assert bounded.equals(one_row_per_person(df, codes, 4))
    assert not bounded.equals(one_row_per_person(df, codes, 5))
    merged = bounded.merge(df, how="left", indicator=True)
    assert (merged["_merge"] == "both").all()  # every kept row is one of that person's rows


DECLARED = {"patient_nbr": {"kind": "identifier", "role": "person-id"},
            **{c.name: {"kind": str(c.kind), "role": str(c.role),
                        **({"categories": list(c.categories)} if c.categories else {}),
                        **({"bounds": list(c.bounds)} if c.bounds else {})}
               for c in SCHEMA.columns}}


@pytest.mark.slow
def test_a_private_fit_sees_one_row_per_person_and_says_per_person(tmp_path: Path) -> None:
    from privgate.cli_config import registry_for
    from privgate.pipeline import run_audit

    df = visits(300)
    df["zip3"] = df["zip3"].astype(str)
    data = tmp_path / "visits.parquet"
    df.to_parquet(data)
    config = parse_config({
        "seed": 2, "attacks": ["low-fpr-membership"], "metrics": [],
        "data": {"path": str(data)}, "ledger": {"enabled": False},
        "generators": [{"name": "dpsgd-vae", "epsilon": 1.0, "params": {"epochs": 1}},
                       {"name": "gmm", "gate": False}],
        "schema": {"columns": DECLARED}}, where="t.toml")
    result = run_audit(config, registry_for(None))
    unit = result["privacy_unit"]
    assert unit["epsilon_protects"] == PER_PERSON and unit["attacks_count"] == PER_PERSON
    assert unit["people"] < unit["rows"] and "contribution_bound" in unit
    assert result["dataset"]["n_train"] == unit["rows"]
    dp = next(g for g in result["generators"] if g["name"] == "dpsgd-vae")["spent"]["details"]
    assert dp["n_rows"] == unit["people"]  # the accountant's sample rate is over people
