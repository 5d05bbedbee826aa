"""Singling out and linkability counted per person (issue 16): a predicate singles out a person
when every row it matches belongs to that one person, a person is linked when any of their rows
is; without a person column nothing changes. And the report's vulnerability section says the
unit and counts people."""

from __future__ import annotations

import hashlib
import json
import operator
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_person_level import SCHEMA, _context

from privgate import AttackContext, AttackResult
from privgate.attacks._persons import people_rows
from privgate.attacks.anonymeter_linkability import AnonymeterLinkability
from privgate.attacks.anonymeter_singling_out import (
    PERSON,
    AnonymeterSinglingOut,
    _people_singled,
    _singles,
)
from privgate.persons import PER_PERSON, Persons
from privgate.reports.html import render

#: anonymeter-singling-out's result on ``_row_context()`` before persons were added (computed
#: with the module as it was; any change to the row-level draws or counts changes it).
# The baseline lists column values in order of appearance (anonymeter's own listing depended on
# how polars' threads ran, see anonymeter_singling_out._random_queries).
ROW_FINGERPRINT = "65f22ddb9cddfbaa9331e74a399f68cb90e6de338dcab94299517928753bc3d8"
PARAMS = {"n_attacks": 80, "max_attempts": 3000, "n_cols": 3}


def _row_context() -> AttackContext:
    ctx = _context(leak_people=12)
    return AttackContext(ctx.train, ctx.control, ctx.synthetic, SCHEMA, ctx.seed)


def fingerprint(result: AttackResult) -> str:
    """A digest of everything a singling-out result reports."""
    doc = [result.risk, result.ci_low, result.ci_high, result.n_trials, result.baseline,
           result.details, list(result.warnings), repr(result.counts), result.trials_planned,
           result.trials_available]
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def test_a_predicate_singles_out_a_person_not_a_row() -> None:
    table = pl.DataFrame({"c0": [1, 1, 2, 3, 3, 4], PERSON: [7, 7, 7, 8, 9, 9]})
    queries = [pl.col("c0") == 1,  # two rows of person 7: singles out 7
               pl.col("c0") == 2,  # one row of 7, who has others: still singles out 7
               pl.col("c0") == 3,  # rows of 8 and 9: nobody
               pl.col("c0") >= 4,  # one row of 9
               pl.col("c0") == 5]  # no row: nobody
    assert _people_singled(table, queries) == 3
    assert _singles(table, queries) == 2  # counted per row: only c0 == 2 and c0 >= 4
    assert _people_singled(table, []) == 0


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.integers(0, 6), min_size=1, max_size=40),
       people=st.lists(st.integers(0, 5), min_size=40, max_size=40),
       bound=st.integers(0, 6))
def test_per_person_counts_match_a_direct_count(values: list[int], people: list[int],
                                                bound: int) -> None:
    codes = people[:len(values)]
    table = pl.DataFrame({"c0": values, PERSON: codes})
    queries = [pl.col("c0") == bound, pl.col("c0") >= bound, pl.col("c0") < bound]
    tests = [operator.eq, operator.ge, operator.lt]
    direct = sum(len({c for v, c in zip(values, codes, strict=True) if t(v, bound)}) == 1
                 for t in tests)
    assert _people_singled(table, queries) == direct
    own = pl.DataFrame({"c0": values, PERSON: list(range(len(values)))})
    assert _people_singled(own, queries) == _singles(own.drop(PERSON), queries)


def test_without_persons_the_result_is_unchanged() -> None:
    ctx = _row_context()
    attack = AnonymeterSinglingOut(**PARAMS)
    first = attack.run(ctx)
    assert "unit" not in first.details and first.details["target_rows"] > 0
    assert fingerprint(first) == ROW_FINGERPRINT
    assert fingerprint(attack.run(ctx)) == ROW_FINGERPRINT


def test_singling_out_counts_people_when_persons_are_given() -> None:
    ctx = _context(leak_people=12)
    persons = ctx.persons
    assert persons is not None
    attack = AnonymeterSinglingOut(**PARAMS)
    result = attack.run(ctx)
    people = min(persons.n_train, persons.n_control)
    assert result.details["unit"] == PER_PERSON and "target_rows" not in result.details
    assert result.details["target_people"] == people == result.trials_available
    assert result.details["target_train_rows"] > people
    (counts,) = result.counts
    assert counts.trials == result.details["n_queries_built"] <= PARAMS["n_attacks"]
    assert fingerprint(attack.run(ctx)) == fingerprint(result)  # seeded
    plan = attack.plan(ctx)
    assert plan.trials_available == people
    assert any("single out a control person" in n for n in plan.notes)


@pytest.mark.parametrize("seed", [0, 3])
def test_one_row_per_person_counts_as_rows_do(seed: int) -> None:
    """With each row its own person (codes in row order) the people drawn are the rows drawn,
    so the counts are the row-level ones (the rows are distinct: ``lab`` is continuous)."""
    ctx = _context(seed=seed)
    n_train, n_control = len(ctx.train), len(ctx.control)
    own = Persons("p", np.arange(n_train), np.arange(n_train, n_train + n_control))
    by_row = AnonymeterSinglingOut(**PARAMS).run(
        AttackContext(ctx.train, ctx.control, ctx.synthetic, SCHEMA, ctx.seed))
    by_person = AnonymeterSinglingOut(**PARAMS).run(
        AttackContext(ctx.train, ctx.control, ctx.synthetic, SCHEMA, ctx.seed, persons=own))
    keys = ("n_success", "n_control", "n_baseline", "n_queries_built")
    assert [by_person.details[k] for k in keys] == [by_row.details[k] for k in keys]
    assert by_person.details["target_people"] == by_row.details["target_rows"]
    assert by_person.counts == by_row.counts


@settings(max_examples=60, deadline=None)
@given(train=st.lists(st.integers(0, 20), min_size=1, max_size=80),
       control=st.lists(st.integers(21, 40), min_size=1, max_size=80),
       n=st.integers(1, 30), seed=st.integers(0, 20))
def test_people_samples_are_whole_and_equal(train: list[int], control: list[int], n: int,
                                            seed: int) -> None:
    persons = Persons("p", np.array(train), np.array(control))
    t_pos, c_pos = people_rows(persons, n, np.random.default_rng(seed))
    for codes, pos in ((persons.train, t_pos), (persons.control, c_pos)):
        chosen = np.unique(codes[pos])
        assert len(chosen) == min(n, len(np.unique(codes)))
        assert np.array_equal(pos, np.flatnonzero(np.isin(codes, chosen)))  # every row
    again = people_rows(persons, n, np.random.default_rng(seed))
    assert np.array_equal(again[0], t_pos) and np.array_equal(again[1], c_pos)


# -- linkability per person --------------------------------------------------------------------

#: anonymeter-linkability's result on ``_row_context()`` before persons were added (its
#: details without ``targets``, the statement of the rows drawn that came with target caps).
LINK_FINGERPRINT = "22e0974643c6796064d5506de93dd218ad71903f3c34cca9b514090deda749ad"


def test_linkability_without_persons_is_unchanged() -> None:
    result = AnonymeterLinkability(n_attacks=300).run(_row_context())
    assert "unit" not in result.details and result.counts[0].label == "linked records"
    details = dict(result.details)
    assert [t.split(", drawn")[0] for t in details.pop("targets")] == [
        "training rows: 300 of 1,284", "control rows: 300 of 887"]
    assert fingerprint(replace(result, details=details)) == LINK_FINGERPRINT


def test_linkability_counts_people_when_persons_are_given() -> None:
    ctx = _context(leak_people=12)
    persons = ctx.persons
    assert persons is not None
    attack = AnonymeterLinkability()
    result = attack.run(ctx)
    people = min(persons.n_train, persons.n_control)
    (counts,) = result.counts
    assert result.details["unit"] == PER_PERSON and counts.label == "linked people"
    assert counts.trials == counts.control_trials == people == result.n_trials
    assert result.details["target_train_rows"] > people
    assert fingerprint(attack.run(ctx)) == fingerprint(result)  # seeded
    plan = attack.plan(ctx)
    assert plan.trials_available == people and "control people" in plan.notes[0]
    n, m = len(ctx.train), len(ctx.control)
    own = Persons("p", np.arange(n), np.arange(n, n + m))  # each row its own person
    one = attack.run(AttackContext(ctx.train, ctx.control, ctx.synthetic, SCHEMA, ctx.seed,
                                   persons=own))
    rows = attack.run(AttackContext(ctx.train, ctx.control, ctx.synthetic, SCHEMA, ctx.seed))
    assert (one.counts[0].successes, one.counts[0].control_successes) == (
        rows.counts[0].successes, rows.counts[0].control_successes)


# -- the report's vulnerability section --------------------------------------------------------

FIXTURE = Path(__file__).parent / "fixtures" / "example_results.json"
VULNERABILITY = {"file": "vulnerable_records.csv", "n_records_ranked": 900, "n_high_risk": 40,
                 "n_train": 1200, "rule": "top 1%", "standout_combinations": []}


def _exposed(result: dict[str, Any], lang: str) -> str:
    html = render(result, [], lang=lang)
    section = html[html.index('id="exposed"'):html.index('id="utility"')]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section))


def test_the_vulnerability_section_says_the_unit_and_counts_people() -> None:
    result = json.loads(FIXTURE.read_text(encoding="utf-8"))
    result["vulnerability"] = {**VULNERABILITY, "unit": PER_PERSON, "n_people_ranked": 610,
                               "n_people_high_risk": 3, "people_file": "vulnerable_people.csv"}
    result["privacy_unit"] = {"epsilon_protects": PER_PERSON, "attacks_count": PER_PERSON,
                              "person_column": "patient_nbr", "people": 800, "rows": 1200}
    text = _exposed(result, "en")
    assert "per person: a person is as exposed as their most exposed record" in text
    assert "patient_nbr" in text and "610 of the 800 training people" in text
    assert "People at high risk fewer than 10" in text  # a small count stays hidden
    assert "vulnerable_people.csv" in text
    korean = _exposed(result, "ko")
    assert "사람 단위" in korean and "학습 대상자 800명 중 610명" in korean
    assert "고위험 사람" in korean and "People" not in korean
    result["vulnerability"] = {**VULNERABILITY, "unit": "per row"}
    del result["privacy_unit"]
    text = _exposed(result, "en")
    assert "per row: every record is taken for a different person" in text
    assert "training people" not in text
    result["vulnerability"] = VULNERABILITY  # an older document: no unit, no row for it
    assert "per row" not in _exposed(result, "en")
