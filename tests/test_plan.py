"""``privgate plan``: what the chosen policies can certify on a table, before any generator is
fitted, with suggestions that parse and were re-checked; and the audit's first step."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from privgate.cli import main
from privgate.config import parse_config
from privgate.planning import MIN_POWER, plan_checks
from privgate.registry import build_registry
from privgate.tomlish import attacks_line, value

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

CONFIG = """
seed = 1
attacks = ["anonymeter-inference", "verbatim-copy"]
[data]
path = "rows.csv"
control_fraction = 0.3
[schema]
quasi_identifiers = ["region", "age"]
sensitive = ["plan_type", "smoker"]
"""


def _table(n: int, seed: int = 0) -> pd.DataFrame:
    """A secret nobody can be certified on (``smoker``: 97% "no", guessed right almost always)
    and one that is fine (``plan_type``, four even values)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "region": rng.choice([f"r{i}" for i in range(12)], n),
        "age": rng.integers(18, 90, n),
        "income": rng.integers(10_000, 200_000, n),
        "plan_type": rng.choice(["a", "b", "c", "d"], n),
        "smoker": rng.choice(["no", "yes"], n, p=[0.97, 0.03]),
    })


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plan")
    _table(6000).to_csv(path / "rows.csv", index=False)
    (path / "gate.toml").write_text(CONFIG)
    return path


@pytest.fixture(scope="module")
def planned(folder: Path) -> tuple[int, dict[str, Any]]:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["plan", str(folder / "gate.toml"), "--json"])
    return code, json.loads(buf.getvalue())


def test_plan_says_which_checks_this_table_can_certify(planned: tuple[int, dict]) -> None:
    code, doc = planned
    assert code == 1 and doc["certifiable"] is False  # smoker cannot be certified
    by = {(c["policy"], c["attack"]): c for c in doc["checks"]}
    inference = by[("expert-determination-0.09", "anonymeter-inference")]
    assert inference["certifiable"] is False and inference["blocking"] == ["secret smoker"]
    assert "secret smoker" in " ".join(inference["reasons"])
    assert inference["trials_available"] == 1800 and inference["trials_needed"] > 1800
    verbatim = by[("expert-determination-0.09", "verbatim-copy")]
    # 0.2%: 1,497 unique training records with no copies certify it; 4,200 here
    assert verbatim["trials_needed"] == 1497 and verbatim["certifiable"] is True
    assert any("secret plan_type" in n for n in inference["notes"])  # the baseline measured
    assert any("anonymeter-inference" in w for w in doc["warnings"])
    # checks the policy gates but no configured attack measures are not certifiable either,
    # and no number of rows would change that
    assert by[("expert-determination-0.09", "(none)")]["certifiable"] is False
    assert doc["rows_needed"]["expert-determination-0.09"] is None


def test_suggestions_parse_and_were_rechecked(planned: tuple[int, dict], folder: Path) -> None:
    _, doc = planned
    fewer = [s for s in doc["suggestions"] if s["toml"].startswith("attacks = ")]
    assert fewer, doc["suggestions"]
    line = tomllib.loads(fewer[0]["toml"])  # a line that parses...
    inference = next(a for a in line["attacks"] if a["name"] == "anonymeter-inference")
    assert inference["params"] == {"secrets": ["plan_type"]}
    assert "anonymeter-inference" in fewer[0]["fixes"]
    # ... and that does what it says when planned again
    raw = tomllib.loads(CONFIG) | line
    again = plan_checks(parse_config(raw, where="t", base_dir=folder), build_registry(), "t")
    check = next(c for c in again.checks if c.attack == "anonymeter-inference")
    assert check.certifiable and (check.power or 0) >= MIN_POWER


def test_plan_works_on_a_table_with_no_roles(tmp_path: Path, capsys: pytest.CaptureFixture
                                             ) -> None:
    if not (SHARED / "smoke.csv").exists():
        pytest.skip("../shared/data is not here")
    code = main(["plan", "--data", str(SHARED / "smoke.csv"), "--no-suggestions"])
    out = capsys.readouterr().out
    assert code == 1  # 400 rows certify almost nothing
    assert "400 rows" in out and "verbatim-copy" in out and "cannot be certified" in out


def test_plan_refuses_bad_input_with_exit_code_2(tmp_path: Path) -> None:
    assert main(["plan", str(tmp_path / "missing.toml")]) == 2
    assert main(["plan"]) == 2
    (tmp_path / "bad.toml").write_text('attacks = ["no-such-attack"]\n[data]\npath = "x.csv"\n')
    assert main(["plan", str(tmp_path / "bad.toml")]) == 2


def test_toml_values_round_trip() -> None:
    for v in ("plain", 'quo"te', 3, 0.25, True, ["a", "b"], {"secrets": ["x y"], "n": 1}):
        assert tomllib.loads(f"k = {value(v)}")["k"] == v
    line = attacks_line([{"name": "a"}, {"name": "b", "params": {"secrets": ["c"]}}])
    assert tomllib.loads(line) == {"attacks": [{"name": "a"},
                                               {"name": "b", "params": {"secrets": ["c"]}}]}
    with pytest.raises(ValueError):
        value(float("nan"))


def test_a_cap_on_the_trials_is_raised_where_the_table_has_them(folder: Path) -> None:
    """dcr-membership told to score 100 rows a side cannot certify what the table could: the
    plan suggests a larger ``max_rows`` (not more rows), and planning with it certifies."""
    from privgate.planning import suggest

    raw = {"seed": 1, "attacks": [{"name": "dcr-membership", "params": {"max_rows": 100}}],
           "data": {"path": "rows.csv", "control_fraction": 0.3},
           "policies": ["expert-determination-0.09"]}
    registry = build_registry()
    report = plan_checks(parse_config(raw, where="t", base_dir=folder), registry, "t")
    dcr = next(c for c in report.checks if c.attack == "dcr-membership")
    assert dcr in report.blocked + report.weak and dcr.trials_needed
    assert dcr.trials_needed <= (dcr.trials_available or 0)  # the table has the trials
    raised = [s for s in suggest(report, raw, registry, "t", folder)
              if "dcr-membership" in s.fixes and s.toml.startswith("attacks = ")]
    assert raised, [s.toml for s in suggest(report, raw, registry, "t", folder)]
    params = tomllib.loads(raised[0].toml)["attacks"][0]["params"]
    assert params["max_rows"] > 100 and "trials" in raised[0].why


@pytest.mark.parametrize("trials_run", [0, -5, 2.5, "many", True])
def test_a_plan_with_malformed_trials_run_is_said_not_trusted(trials_run: Any) -> None:
    """A plugin's plan is re-checked: ``trials_run`` that is not a positive integer makes the
    plan malformed (said as the check's reason), never the trials core plans with."""
    from privgate.attack import Attack, AttackContext, AttackPlan
    from privgate.attack_plans import checked_plan, raw_plan

    class Odd(Attack):
        name = "odd"
        risk_kind = "membership"

        def run(self, context: AttackContext) -> Any:  # pragma: no cover -- never run
            raise AssertionError

        def plan(self, context: AttackContext) -> AttackPlan:
            return AttackPlan((), 100, null_upper=0.05, trials_run=trials_run)

    said = checked_plan(raw_plan(Odd(), None))  # type: ignore[arg-type]
    assert isinstance(said, str) and "trials_run" in said and "malformed" in said
