"""Tests of the built-in attacks: distinguishability, DCR membership and the anonymeter adapters
(their risks, typed evidence and figures, as core accepts them).

Real-data tests use the ``adult_small`` fixture (skipped without ../shared/data); the others
build small tables in memory. Every attack runs with reduced parameters to keep the file fast.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from privgate import Attack, AttackContext, AttackResult, Column, Kind, Role, Schema
from privgate.attack import RISK_KINDS
from privgate.attacks import (
    anonymeter_inference,
    anonymeter_linkability,
    anonymeter_singling_out,
    dcr_membership,
    distinguishability,
)
from privgate.attacks._common import advantage, auroc, downsample_roc, roc_arrays
from privgate.attacks.anonymeter_inference import AnonymeterInference
from privgate.attacks.anonymeter_linkability import (
    AnonymeterLinkability,
    _random_link_probability,
)
from privgate.attacks.anonymeter_singling_out import AnonymeterSinglingOut
from privgate.attacks.dcr_membership import DCRMembership
from privgate.attacks.distinguishability import Distinguishability
from privgate.errors import InputError
from privgate.figures import BarChart
from privgate.testing_evidence import check_attack_evidence

ATTACKS: list[type[Attack]] = [Distinguishability, DCRMembership, AnonymeterSinglingOut,
                               AnonymeterLinkability, AnonymeterInference]

#: Reduced parameters: same code paths, a fraction of the default work.
FAST: dict[str, dict[str, Any]] = {
    "distinguishability": {"max_rows": 1000, "folds": 3, "max_iter": 30, "n_resamples": 100},
    "dcr-membership": {"max_rows": 1000, "n_resamples": 100},
    "anonymeter-singling-out": {"n_attacks": 200, "max_attempts": 20_000},
    "anonymeter-linkability": {"n_attacks": 200},
    "anonymeter-inference": {"n_attacks": 200},
}


def make(cls: type[Attack], **extra: Any) -> Attack:
    return cls(**{**FAST[cls.name], **extra})


def marginals(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Each column resampled independently from ``df``: right marginals, no real rows."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: df[c].to_numpy()[rng.integers(0, len(df), len(df))]
                         for c in df.columns})


def check_valid(result: AttackResult, cls: type[Attack], context: AttackContext) -> None:
    """The contract every attack result must meet."""
    assert result.attack == cls.name
    assert result.risk_kind == cls.risk_kind and result.risk_kind in RISK_KINDS
    assert 0.0 <= result.ci_low <= result.risk <= result.ci_high <= 1.0
    assert result.confidence_level == context.confidence_level
    assert result.interval_method.strip()
    assert 0.0 <= result.baseline <= 1.0 and math.isfinite(result.baseline)
    assert result.baseline_description.strip()
    assert isinstance(result.n_trials, int) and result.n_trials > 0
    # every built-in lets core say what a leak-free table would show at this size: its raw
    # counts (core computes the bound), or the attack's own leak-free bound
    assert result.counts or (result.null_upper is not None and result.null_upper > 0)
    # trials planned (when the parameters asked for a number) and available: no more ran
    assert result.trials_planned is None or result.trials_planned >= result.n_trials
    assert result.trials_available is None or result.trials_available >= result.n_trials
    text = json.dumps(result.to_dict(), allow_nan=False)
    assert json.loads(text)["details"] == result.details
    # core accepts it as it is, typed evidence and figures included
    again = check_attack_evidence(cls.name, cls, result, n_train=len(context.train),
                                  level=context.confidence_level)
    assert again.to_dict() == json.loads(text)


# --- real data -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def adult_tables(adult_small: pd.DataFrame) -> dict[str, pd.DataFrame]:
    train = adult_small.iloc[:1500].reset_index(drop=True)
    control = adult_small.iloc[1500:2500].reset_index(drop=True)
    return {"train": train, "control": control, "copy": train.copy(),
            "marginals": marginals(train, seed=1)}


@pytest.fixture(scope="module")
def adult_contexts(adult_tables: dict[str, pd.DataFrame], adult_schema: Schema
                   ) -> dict[str, AttackContext]:
    return {which: AttackContext(train=adult_tables["train"], control=adult_tables["control"],
                                 synthetic=adult_tables[which], schema=adult_schema, seed=3)
            for which in ("copy", "marginals")}


#: Linkability with the quasi-identifiers alone ties on many rows (adult has few distinct QI
#: combinations), so the comparison test gives the attacker all columns, split in two.
LINK_ALL = {"aux_cols": [["age", "workclass", "fnlwgt", "education", "education_num",
                          "marital_status", "occupation"],
                         ["relationship", "race", "sex", "capital_gain", "capital_loss",
                          "hours_per_week", "native_country", "income"]]}


@pytest.fixture(scope="module")
def adult_results(adult_contexts: dict[str, AttackContext]
                  ) -> Callable[[type[Attack], str], AttackResult]:
    cache: dict[tuple[str, str], AttackResult] = {}

    def get(cls: type[Attack], which: str) -> AttackResult:
        key = (cls.name, which)
        if key not in cache:
            extra = LINK_ALL if cls is AnonymeterLinkability else {}
            cache[key] = make(cls, **extra).run(adult_contexts[which])
        return cache[key]

    return get


@pytest.mark.parametrize("cls", ATTACKS, ids=lambda c: c.name)
@pytest.mark.parametrize("which", ["copy", "marginals"])
def test_result_is_valid(cls: type[Attack], which: str, adult_results: Callable,
                         adult_contexts: dict[str, AttackContext]) -> None:
    check_valid(adult_results(cls, which), cls, adult_contexts[which])


@pytest.mark.parametrize("cls", [c for c in ATTACKS if c is not Distinguishability],
                         ids=lambda c: c.name)
def test_risk_higher_on_verbatim_copy(cls: type[Attack], adult_results: Callable) -> None:
    copy, indep = adult_results(cls, "copy"), adult_results(cls, "marginals")
    assert copy.risk > indep.risk + 0.2, (copy.risk, indep.risk)
    assert copy.ci_low > indep.ci_high or cls is AnonymeterInference


def test_distinguishability_copy_is_zero_and_marginals_high(adult_results: Callable) -> None:
    copy = adult_results(Distinguishability, "copy")
    indep = adult_results(Distinguishability, "marginals")
    assert copy.auroc is not None and indep.auroc is not None
    assert copy.risk < 0.1 and abs(copy.auroc.value - 0.5) < 0.06
    assert indep.risk > 0.7 and indep.auroc.value > 0.85
    roc = indep.roc
    assert roc is not None and len(roc.fpr) == len(roc.tpr) <= 200
    assert (roc.fpr[0], roc.tpr[0], roc.fpr[-1], roc.tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert indep.trials_planned == 2000 and indep.n_trials == 2000  # 1,500 rows, max_rows 1000


def test_dcr_evidence_and_details(adult_results: Callable) -> None:
    result = adult_results(DCRMembership, "copy")
    assert set(result.tpr_at_fpr) == {0.01, 0.001}
    assert result.auroc is not None and result.auroc.interval is not None
    assert 0.5 <= result.auroc.value <= 1.0
    assert result.auroc.interval.low <= result.auroc.value <= result.auroc.interval.high
    assert result.auroc.interval.level == 0.95 and "bootstrap" in result.auroc.interval.method
    d = result.details
    assert d["n_members"] == d["n_nonmembers"] == 1000
    assert d["share_exact_matches_members"] == 1.0
    assert d["advantage"] == result.risk
    assert "Euclidean" in d["distance_metric"]
    assert not {"roc", "auroc", "auroc_ci", "tpr_at_fpr"} & set(d)  # typed fields, not details


def test_inference_reports_every_secret(adult_results: Callable, adult_schema: Schema) -> None:
    result = adult_results(AnonymeterInference, "copy")
    per = result.details["per_secret"]
    assert set(per) == set(adult_schema.sensitive)
    assert result.risk == max(v["risk"] for v in per.values())
    assert per["capital_gain"]["regression"] is True
    assert per["occupation"]["regression"] is False
    assert all(s not in v["aux_cols"] for s, v in per.items())


@pytest.mark.parametrize("cls", ATTACKS, ids=lambda c: c.name)
def test_deterministic_and_frames_untouched(cls: type[Attack], adult_results: Callable,
                                            adult_contexts: dict[str, AttackContext]) -> None:
    context = adult_contexts["marginals"]
    before = {n: getattr(context, n).copy(deep=True) for n in ("train", "control", "synthetic")}
    first = adult_results(cls, "marginals")
    extra = LINK_ALL if cls is AnonymeterLinkability else {}
    again = make(cls, **extra).run(context)
    assert again.to_dict() == first.to_dict()
    for name, frame in before.items():
        pd.testing.assert_frame_equal(getattr(context, name), frame)


# --- hostile column names (anonymeter issue #37) -------------------------------------------

HOSTILE = {"age": "age [years]", "city": '"quoted"', "job": "it's", "score": "a b",
           "flag": "x) or (1==1"}


def people(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "age": rng.integers(18, 90, n),
        "city": rng.choice(["Berlin", "O'Hara", 'Q"town', "Lyon", "Graz"], n),
        "job": rng.choice(["nurse", "clerk", "baker", "judge"], n),
        "score": np.round(rng.normal(50, 15, n), 1),
        "flag": rng.choice([True, False], n),
    })


def people_schema(names: dict[str, str] | None = None) -> Schema:
    n = names or {k: k for k in HOSTILE}
    return Schema((
        Column(n["age"], Kind.INTEGER, Role.QUASI_IDENTIFIER, bounds=(18.0, 90.0)),
        Column(n["city"], Kind.CATEGORICAL, Role.QUASI_IDENTIFIER,
               categories=("Berlin", "O'Hara", 'Q"town', "Lyon", "Graz")),
        Column(n["job"], Kind.CATEGORICAL, Role.SENSITIVE,
               categories=("nurse", "clerk", "baker", "judge")),
        Column(n["score"], Kind.CONTINUOUS, Role.QUASI_IDENTIFIER, bounds=(0.0, 100.0)),
        Column(n["flag"], Kind.CATEGORICAL, Role.OTHER, categories=(True, False)),
    ))


def test_anonymeter_hostile_column_names_match_plain_names() -> None:
    train, control = people(600, 0), people(400, 1)
    plain = AttackContext(train=train, control=control, synthetic=train.copy(),
                          schema=people_schema(), seed=5)
    renamed = {f: df.rename(columns=HOSTILE) for f, df in
               (("train", train), ("control", control), ("synthetic", train.copy()))}
    hostile = AttackContext(**renamed, schema=people_schema(HOSTILE), seed=5)
    for cls in (AnonymeterSinglingOut, AnonymeterLinkability, AnonymeterInference):
        a, b = make(cls).run(plain), make(cls).run(hostile)
        check_valid(b, cls, hostile)
        assert (a.risk, a.ci_low, a.ci_high, a.n_trials) == (b.risk, b.ci_low, b.ci_high,
                                                           b.n_trials)
        text = json.dumps(b.details)
        assert not any(f'"c{i}"' in text for i in range(5))  # no safe names in details
    so = make(AnonymeterSinglingOut).run(hostile)
    # a verbatim copy lets almost every predicate single someone out among the 400 training
    # rows tested (as many as there are control rows): 400 of the 600 copies are there
    assert so.risk > 0.5
    assert so.counts[0].trials == so.n_trials == so.details["n_queries_built"]
    assert so.details["columns"] == list(HOSTILE.values())
    inf = make(AnonymeterInference).run(hostile)
    assert inf.details["secret"] == "it's"
    assert set(inf.details["aux_cols"]) == {"age [years]", '"quoted"', "a b"}
    (chart,) = inf.figures  # the success rates behind the risk, for the report
    assert isinstance(chart, BarChart) and chart.values[0] == inf.details["attack_rate"]["value"]
    assert inf.trials_planned == 200 and inf.n_trials <= 200


# --- parameters and registration -----------------------------------------------------------


@pytest.mark.parametrize("cls", ATTACKS, ids=lambda c: c.name)
def test_unknown_parameter_is_input_error(cls: type[Attack]) -> None:
    with pytest.raises(InputError, match="no_such_param") as info:
        cls(no_such_param=1)
    for allowed in cls.DEFAULTS:  # type: ignore[attr-defined]
        assert allowed in str(info.value)


@pytest.mark.parametrize(("cls", "params"), [
    (Distinguishability, {"folds": 1}), (Distinguishability, {"max_rows": "many"}),
    (DCRMembership, {"metric": "cosine"}), (AnonymeterSinglingOut, {"mode": "bivariate"}),
    (AnonymeterSinglingOut, {"n_cols": 99}), (AnonymeterLinkability, {"aux_cols": ["age"]}),
    (AnonymeterInference, {"secrets": ["nope"]}),
])
def test_bad_parameter_value_is_input_error(cls: type[Attack], params: dict[str, Any]) -> None:
    context = AttackContext(train=people(50, 0), control=people(50, 1),
                            synthetic=people(50, 2), schema=people_schema())
    with pytest.raises(InputError):
        cls(**params).run(context)


def test_registration() -> None:
    registered = [c for m in (distinguishability, dcr_membership, anonymeter_singling_out,
                              anonymeter_linkability, anonymeter_inference)
                  for c in m.privgate_attacks()]
    assert registered == ATTACKS
    assert len({c.name for c in registered}) == len(registered)
    for cls in registered:
        assert cls.risk_kind in RISK_KINDS
        assert cls.description and "\n" not in cls.description
        assert len(cls.explanation) > 200 and cls.references


# --- helpers -------------------------------------------------------------------------------


def test_random_link_probability_closed_form() -> None:
    assert _random_link_probability(5, 1) == pytest.approx(0.2)
    assert _random_link_probability(10, 6) == 1.0
    rng = np.random.default_rng(0)
    draws = [bool(set(rng.choice(30, 4, replace=False)) & set(rng.choice(30, 4, replace=False)))
             for _ in range(20_000)]
    assert _random_link_probability(30, 4) == pytest.approx(np.mean(draws), abs=0.015)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.booleans()), min_size=2, max_size=60))
def test_roc_helpers_match_sklearn(pairs: list[tuple[int, bool]]) -> None:
    scores = np.array([p[0] for p in pairs], dtype=float)
    labels = np.array([p[1] for p in pairs])
    fpr, tpr = roc_arrays(scores, labels)
    assert fpr[0] == tpr[0] == 0.0 and np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    if labels.all() or not labels.any():
        assert math.isnan(auroc(scores, labels))
        return
    assert auroc(scores, labels) == pytest.approx(roc_auc_score(labels, scores))
    assert 0.0 <= advantage(scores, labels) <= 1.0
    small = downsample_roc(np.linspace(0, 1, 1000), np.linspace(0, 1, 1000))
    assert len(small.fpr) == 200 and small.fpr[-1] == 1.0


# --- random small tables -------------------------------------------------------------------


@st.composite
def small_tables(draw: st.DrawFn) -> AttackContext:
    seed = draw(st.integers(0, 2**16))
    n_train = draw(st.integers(60, 160))
    n_control = draw(st.integers(30, 100))
    n_syn = draw(st.integers(40, 160))
    n_cat = draw(st.integers(1, 3))
    n_num = draw(st.integers(1, 2))
    nullable = draw(st.booleans())
    rng = np.random.default_rng(seed)
    cols: list[Column] = []
    for i in range(n_cat):
        k = int(rng.integers(2, 6))
        role = Role.QUASI_IDENTIFIER if i < n_cat - 1 or n_cat == 1 else Role.SENSITIVE
        cols.append(Column(f"cat {i}", Kind.CATEGORICAL, role,
                           categories=tuple(f"v{j}" for j in range(k)), nullable=nullable))
    for i in range(n_num):
        role = Role.SENSITIVE if i == 0 else Role.QUASI_IDENTIFIER
        cols.append(Column(f"num[{i}]", Kind.CONTINUOUS, role, bounds=(0.0, 10.0),
                           nullable=nullable))
    schema = Schema(tuple(cols))

    def table(n: int, shift: float) -> pd.DataFrame:
        data: dict[str, Any] = {}
        for c in cols:
            if c.kind is Kind.CATEGORICAL:
                assert c.categories is not None
                values = rng.choice(list(c.categories), n).astype(object)
            else:
                values = np.clip(rng.normal(5 + shift, 2, n), 0, 10).round(2)
            if nullable:
                values = pd.Series(values).mask(rng.random(n) < 0.1).to_numpy()
            data[c.name] = values
        return pd.DataFrame(data)

    return AttackContext(train=table(n_train, 0), control=table(n_control, 0),
                         synthetic=table(n_syn, draw(st.sampled_from([0.0, 1.0]))),
                         schema=schema, seed=seed,
                         confidence_level=draw(st.sampled_from([0.9, 0.95, 0.99])))


TINY: dict[str, dict[str, Any]] = {
    "distinguishability": {"folds": 3, "max_iter": 10, "n_resamples": 50},
    "dcr-membership": {"n_resamples": 50},
    "anonymeter-singling-out": {"n_attacks": 20, "max_attempts": 2000, "n_cols": 2},
    "anonymeter-linkability": {"n_attacks": 20},
    "anonymeter-inference": {"n_attacks": 20},
}


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_tables())
def test_results_valid_on_random_small_tables(context: AttackContext) -> None:
    before = {n: getattr(context, n).copy(deep=True) for n in ("train", "control", "synthetic")}
    for cls in ATTACKS:
        check_valid(cls(**TINY[cls.name]).run(context), cls, context)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(getattr(context, name), frame)
