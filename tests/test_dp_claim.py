"""``dp-claim``: a generator whose membership evidence is impossible under the epsilon it claims
fails the gate, is marked in the ledger and is shown refuted in the report; an honest DP-SGD
generator is not refuted; a non-private one is not applicable.

The bound is core's, from the counts the attacks report: ``epsilon >= log((TPR_low - delta) /
FPR_high)`` and ``log((1 - FPR_high - delta) / (1 - TPR_low))`` with Clopper-Pearson bounds.
"""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from privgate.attack import AttackResult
from privgate.attacks._operating_point import held_out_point
from privgate.cli import main
from privgate.consistency import problems
from privgate.dp_claim import assess_claim, epsilon_bound
from privgate.generator import PrivacySpent
from privgate.isolation import Origin, PluginFault
from privgate.ledger_rules import PrivacyLedger
from privgate.ledger_storage import COLUMNS
from privgate.operating_points import OperatingPoint
from privgate.plain import PlainError
from privgate.results import recompute_verdict
from privgate.validate import attack_result

FIXTURE = Path(__file__).parent / "fixtures" / "hostile_plugin" / "hostile_privgate.py"


def _point(k1: int, n1: int, k0: int, n0: int) -> OperatingPoint:
    return OperatingPoint("threshold fixed on held-out scores", k1, n1, k0, n0)


def _result(*points: OperatingPoint) -> AttackResult:
    return AttackResult("dcr-membership", "membership", 0.1, 0.0, 0.2, 0.95, "test", 0.0,
                        "none", 200, operating_points=points)


# -- the bound ------------------------------------------------------------------------------


def test_the_bound_is_clopper_pearson_on_both_forms() -> None:
    p = _point(90, 100, 5, 100)
    eps, tpr_low, fpr_high = epsilon_bound(p, 1e-5, 0.95)
    assert tpr_low == pytest.approx(stats.beta.ppf(0.05, 90, 11))
    assert fpr_high == pytest.approx(stats.beta.ppf(0.95, 6, 95))
    assert eps == pytest.approx(max(math.log((tpr_low - 1e-5) / fpr_high),
                                    math.log((1 - fpr_high - 1e-5) / (1 - tpr_low))))
    assert epsilon_bound(_point(3, 100, 3, 100), 1e-5, 0.95)[0] == 0.0  # no leak, no bound


@settings(max_examples=60, deadline=None)
@given(eps=st.floats(0.05, 6.0), n=st.integers(5, 20_000), level=st.floats(0.5, 0.999))
def test_counts_a_dp_mechanism_expects_never_refute_its_epsilon(eps: float, n: int,
                                                                level: float) -> None:
    """Randomised response at epsilon: members flagged at e^eps/(1+e^eps), non-members at
    1/(1+e^eps), the extreme case of the DP inequality. Counts at (or better than) those rates
    give a bound below epsilon whatever the sample size and level."""
    p1, p0 = math.exp(eps) / (1 + math.exp(eps)), 1 / (1 + math.exp(eps))
    bound, _, _ = epsilon_bound(_point(math.floor(p1 * n), n, math.ceil(p0 * n), n), 0.0, level)
    assert 0.0 <= bound < eps


def test_a_true_epsilon_is_refuted_at_most_alpha_of_the_time() -> None:
    """Simulated randomised response at epsilon 1, 400 audits of 300 + 300 records."""
    rng = np.random.default_rng(5)
    p1, p0 = math.e / (1 + math.e), 1 / (1 + math.e)
    spent = PrivacySpent(1.0, 0.0, "exact")
    refuted = sum(assess_claim("rr", spent, gated=True, level=0.95, attacks=[(
        "a", _result(_point(int(rng.binomial(300, p1)), 300, int(rng.binomial(300, p0)), 300)),
        None)]).refuted for _ in range(400))
    assert refuted / 400 <= 0.05


def test_copies_refute_epsilon_one_and_bonferroni_widens_the_bounds() -> None:
    spent = PrivacySpent(1.0, 1e-5, "made up")
    copy = _point(100, 100, 0, 100)  # every member flagged, no outsider
    one = assess_claim("g", spent, gated=True, level=0.95, attacks=[("a", _result(copy), None)])
    assert one.refuted and one.epsilon_lower_bound is not None and one.epsilon_lower_bound > 1
    many = assess_claim("g", spent, gated=True, level=0.95,
                        attacks=[("a", _result(copy, _point(1, 100, 1, 100)), None)])
    assert many.epsilon_lower_bound is not None
    assert many.epsilon_lower_bound < one.epsilon_lower_bound  # 4 bounds share alpha, not 2
    assert "refuted" in one.message and one.to_dict()["points"][0]["attack"] == "a"


def test_no_claim_no_check_and_no_evidence_no_pass() -> None:
    none = assess_claim("gmm", PrivacySpent(math.inf, 0.0, "none"), gated=False, level=0.95,
                        attacks=[("a", _result(_point(100, 100, 0, 100)), None)])
    assert none.status == "not-applicable" and not none.gated
    blind = assess_claim("vae", PrivacySpent(1.0, 1e-5, "rdp"), gated=True, level=0.95,
                         attacks=[("a", None, "crashed")])
    assert blind.status == "cannot-certify" and not blind.gated


# -- the operating point is fixed on held-out scores -----------------------------------------


@settings(max_examples=40, deadline=None)
@given(n1=st.integers(2, 300), n0=st.integers(2, 300), seed=st.integers(0, 2**31))
def test_the_threshold_half_is_never_counted(n1: int, n0: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores, labels = rng.normal(size=n1 + n0), np.r_[np.ones(n1), np.zeros(n0)]
    (point,) = held_out_point(scores, labels, seed=seed, stream="s", unit="score")
    assert (point.members, point.nonmembers) == (n1 - n1 // 2, n0 - n0 // 2)
    assert held_out_point(scores, labels, seed=seed, stream="s", unit="score") == (point,)


def test_scores_that_ignore_membership_refute_no_epsilon() -> None:
    """200 leak-free attacks (scores independent of membership, many ties): the claim of
    epsilon 0.25 is refuted at most alpha of the time, although the threshold is chosen to
    look as leaky as possible on the choosing half."""
    spent = PrivacySpent(0.25, 0.0, "exact")
    refuted = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        scores = np.round(rng.normal(size=600), 1)
        labels = rng.permutation(np.r_[np.ones(300), np.zeros(300)])
        result = _result(*held_out_point(scores, labels, seed=seed, stream="s", unit="score"))
        refuted += assess_claim("g", spent, gated=True, level=0.95,
                                attacks=[("a", result, None)]).refuted
    assert refuted / 200 <= 0.05


# -- the evidence is checked like every other field ------------------------------------------


@pytest.mark.parametrize(("fields", "culprit"), [
    (("", 1, 2, 1, 2), "label"),
    (("x", 3, 2, 1, 2), "members_flagged"),
    (("x", 1, 0, 0, 2), "members"),
    (("x", 1, 2, 1.5, 2), "nonmembers_flagged"),
    (("x", True, 2, 1, 2), "members_flagged"),
])
def test_a_malformed_operating_point_is_refused_naming_the_field(
        fields: tuple[Any, ...], culprit: str) -> None:
    with pytest.raises(PlainError, match=culprit):
        OperatingPoint(*fields)


def test_an_attack_result_with_a_bad_operating_point_is_a_malformed_plugin_result() -> None:
    good = _result(_point(1, 2, 0, 2))
    bad = object.__new__(AttackResult)
    for name, value in vars(good).items():
        object.__setattr__(bad, name, value)
    object.__setattr__(bad, "operating_points", ({"label": "x", "members_flagged": 9,
                                                  "members": 2, "nonmembers_flagged": 0,
                                                  "nonmembers": 2},))
    with pytest.raises(PluginFault, match="members_flagged"):
        attack_result(bad, name="dcr-membership", risk_kind="membership", n_train=10,
                      confidence_level=0.95, origin=Origin("dcr-membership"))
    rebuilt = attack_result(good, name="dcr-membership", risk_kind="membership", n_train=10,
                            confidence_level=0.95, origin=Origin("dcr-membership"))
    assert rebuilt.operating_points == good.operating_points
    assert rebuilt.to_dict()["operating_points"][0]["members"] == 2


def test_a_document_that_hides_a_refuted_claim_is_inconsistent() -> None:
    claim = {"generator": "g", "status": "fail", "gated": True, "claimed_epsilon": 1.0,
             "epsilon_lower_bound": 3.2}
    doc: dict[str, Any] = {"verdict": "pass", "exit_code": 0, "checks": [],
                           "generators": [{"name": "g", "gated": True, "dp_claim": claim}]}
    assert recompute_verdict(doc) == ("fail", 1)
    assert any("checks give fail" in p for p in problems(doc))
    doc["generators"][0]["dp_claim"] = {**claim, "status": "pass"}
    assert any("that is a fail" in p for p in problems(doc))


# -- end to end: a generator that copies rows and claims epsilon 1 ---------------------------


def _install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hostile fixture distribution, with only its generators registered."""
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(FIXTURE, site / FIXTURE.name)
    info = site / "hostile_privgate-6.6.6.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hostile-privgate\n"
                                   "Version: 6.6.6\n")
    (info / "entry_points.txt").write_text(
        "[privgate]\nhostile-generators = hostile_privgate:generators\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv("PRIVGATE_LOAD_PLUGINS", raising=False)
    monkeypatch.delitem(sys.modules, "hostile_privgate", raising=False)


def _table(tmp_path: Path, n: int = 400) -> Path:
    rng = np.random.default_rng(11)
    df = pd.DataFrame({"age": rng.integers(18, 91, n), "sex": rng.choice(["f", "m"], n),
                       "region": rng.choice([f"r{i}" for i in range(6)], n),
                       "income": np.round(rng.uniform(20_000, 90_000, n), 2),
                       "diagnosis": rng.choice(["a", "b", "c"], n)})
    path = tmp_path / "people.csv"
    df.to_csv(path, index=False)
    return path


def test_a_copying_generator_claiming_epsilon_one_fails_dp_claim(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _install(tmp_path, monkeypatch)
    ledger = tmp_path / "ledger.sqlite"
    out = tmp_path / "out"
    code = main(["audit", "--data", str(_table(tmp_path)), "--seed", "3", "--out", str(out),
                 "--generator", "hostile-honest-copy", "--epsilon", "1", "--attack",
                 "dcr-membership", "--attack", "low-fpr-membership", "--ledger", str(ledger)])
    assert code == 1
    result = json.loads((out / "results.json").read_text())
    claim = result["generators"][0]["dp_claim"]
    assert claim["status"] == "fail" and claim["gated"] is True
    assert claim["claimed_epsilon"] == 1.0 and claim["epsilon_lower_bound"] > 1.0
    assert {p["attack"] for p in claim["points"]} == {"dcr-membership", "low-fpr-membership"}
    assert result["verdict"] == "fail" and problems(result) == []
    (entry,) = PrivacyLedger(ledger).history()
    assert entry.dp_claim == "refuted" and entry.epsilon == 1.0  # still booked as claimed
    capsys.readouterr()
    assert main(["ledger", "--ledger", str(ledger)]) == 0
    assert "(epsilon refuted)" in " ".join(capsys.readouterr().out.split())
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite[@name='dp-claim']")
    assert suite is not None and suite.get("failures") == "1"
    html = (out / "report.html").read_text()
    assert "Empirical lower bound on ε (dp-claim)" in html
    assert "claimed, refuted by this audit" in html and "(ε refuted)" in html


def test_a_ledger_from_before_dp_claim_is_migrated_and_reads_unmarked(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    cols = [f"{n} {t.format(id='INTEGER PRIMARY KEY AUTOINCREMENT', real='REAL')}"
            for n, t in COLUMNS if n != "dp_claim"]
    with sqlite3.connect(path) as con:
        con.execute(f"CREATE TABLE fits ({', '.join(cols)})")
        con.execute("INSERT INTO fits (dataset_fingerprint, generator, epsilon, delta, "
                    "accountant, config_sha256, started_at, status) VALUES ('f', 'g', 1.0, "
                    "1e-5, 'rdp', 'c', '2026-01-01', 'spent')")
    ledger = PrivacyLedger(path)
    (entry,) = ledger.history()
    assert entry.dp_claim is None
    ledger.refuted(entry.id, "refuted by the test")
    (entry,) = ledger.history()
    assert entry.dp_claim == "refuted" and entry.note == "refuted by the test"


def test_a_non_private_baseline_is_not_applicable_and_the_report_shows_no_claim(
        tmp_path: Path) -> None:
    out = tmp_path / "out"
    main(["audit", "--data", str(_table(tmp_path)), "--seed", "3", "--out", str(out),
          "--generator", "gmm", "--attack", "dcr-membership", "--no-ledger"])
    result = json.loads((out / "results.json").read_text())
    assert result["generators"][0]["dp_claim"]["status"] == "not-applicable"
    assert "Empirical lower bound on ε" not in (out / "report.html").read_text()


#: The table's public domain, declared (nothing spent on it).
SCHEMA = """
[schema.columns.age]
kind = "integer"
bounds = [18, 90]
[schema.columns.sex]
kind = "categorical"
categories = ["f", "m"]
[schema.columns.region]
kind = "categorical"
categories = ["r0", "r1", "r2", "r3", "r4", "r5"]
[schema.columns.income]
kind = "continuous"
bounds = [20000, 90000]
[schema.columns.diagnosis]
kind = "categorical"
categories = ["a", "b", "c"]
"""


@pytest.mark.slow
def test_honest_dpsgd_vae_is_not_refuted(tmp_path: Path) -> None:
    """dpsgd-vae at epsilon 1 on a small table, three seeds: never refuted."""
    data = _table(tmp_path, 600)
    for seed in (0, 1, 2):
        out = tmp_path / f"out{seed}"
        config = tmp_path / f"gate{seed}.toml"
        config.write_text(
            f'seed = {seed}\noutput = "{out}"\nattacks = ["dcr-membership", '
            f'"low-fpr-membership"]\nmetrics = []\n[data]\npath = "{data.name}"\n'
            '[[generators]]\nname = "dpsgd-vae"\nepsilon = 1.0\nparams = { epochs = 3 }\n'
            '[ledger]\nenabled = false\n' + SCHEMA)
        main(["audit", str(config)])
        result = json.loads((out / "results.json").read_text())
        claim = result["generators"][0]["dp_claim"]
        assert claim["status"] == "pass", claim["message"]
        assert claim["epsilon_lower_bound"] <= 1.0
