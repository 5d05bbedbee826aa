"""The README's default commands work on tables with no roles declared: every default attack
runs (or, where the table's shape cannot support it, says so as cannot-certify), and the audit
ends in a verdict, exit code 0 or 1 -- never an error."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from privgate import AttackContext
from privgate.attacks.identity_disclosure import IdentityDisclosure
from privgate.cli import main
from privgate.config import SchemaConfig
from privgate.schema import Role, infer_schema

N = 150
SHARED_DATA = Path(os.environ.get("PRIVGATE_SHARED_DATA",
                                  Path(__file__).resolve().parents[2] / "shared" / "data"))


def _shapes() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(0)
    return {
        "one-number": pd.DataFrame({"x": rng.normal(size=N).round(4)}),
        "one-category": pd.DataFrame({"c": rng.choice(list("abc"), N)}),
        "two-binary": pd.DataFrame({"a": rng.integers(0, 2, N), "b": rng.integers(0, 2, N)}),
        "all-categorical": pd.DataFrame({f"c{i}": rng.choice(list("abcd"), N) for i in range(4)}),
        "all-numeric": pd.DataFrame({f"x{i}": rng.normal(size=N).round(3) for i in range(4)}),
        "constant-and-missing": pd.DataFrame({
            "k": ["same"] * N,
            "x": np.where(rng.random(N) < .2, np.nan, rng.normal(size=N)),
            "c": np.where(rng.random(N) < .2, None, rng.choice(list("ab"), N))}),
        "dates-and-ids": pd.DataFrame({
            "id": [f"P{i:05d}" for i in range(N)],
            "day": pd.date_range("2020-01-01", periods=N, freq="D").astype(str),
            "c": rng.choice(list("ab"), N)}),
        "unicode-names": pd.DataFrame({"나이": rng.integers(0, 100, N),
                                       "성별": rng.choice(["남", "여"], N),
                                       "class name": rng.choice(list("ab"), N)}),
    }


SHAPES = _shapes()


def _verdict(out: Path) -> dict[str, object]:
    result = json.loads((out / "results.json").read_text())
    statuses = {c["attack"]: c["status"] for c in result["checks"]}
    assert "error" not in statuses.values(), statuses
    return result


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_audit_of_data_with_no_roles_ends_in_a_verdict(shape: str, tmp_path: Path) -> None:
    data = tmp_path / "t.csv"
    SHAPES[shape].to_csv(data, index=False)
    code = main(["audit", "--data", str(data), "--generator", "gmm", "--no-ledger", "--out",
                 str(tmp_path / "out")])
    assert code in (0, 1)
    result = _verdict(tmp_path / "out")
    assert {c["attack"] for c in result["checks"]} >= {"identity-disclosure", "dcr-membership"}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_audit_of_a_synthetic_file_with_no_roles_ends_in_a_verdict(shape: str,
                                                                    tmp_path: Path) -> None:
    df = SHAPES[shape]
    cut = int(len(df) * 0.7)
    paths = {k: tmp_path / f"{k}.csv" for k in ("train", "control", "synthetic")}
    df.iloc[:cut].to_csv(paths["train"], index=False)
    df.iloc[cut:].to_csv(paths["control"], index=False)
    df.iloc[:cut].sample(frac=1.0, replace=True, random_state=1).to_csv(paths["synthetic"],
                                                                        index=False)
    code = main(["audit", "--synthetic", str(paths["synthetic"]), "--train",
                 str(paths["train"]), "--control", str(paths["control"]), "--no-ledger",
                 "--out", str(tmp_path / "out")])
    assert code in (0, 1)
    _verdict(tmp_path / "out")


def test_the_shared_smoke_table_runs_every_default_attack(tmp_path: Path) -> None:
    smoke = SHARED_DATA / "smoke.csv"
    if not smoke.exists():
        pytest.skip(f"real data not found at {smoke} (CI has it; a fresh clone does not)")
    code = main(["audit", "--data", str(smoke), "--generator", "gmm", "--seed", "0",
                 "--no-ledger", "--out", str(tmp_path / "out")])
    assert code in (0, 1)
    result = _verdict(tmp_path / "out")
    ran = {a["attack"]: a["status"] for a in result["generators"][0]["attacks"]}
    assert set(ran.values()) == {"ok"}, ran


def test_identity_disclosure_without_sensitive_columns_takes_the_worst_secret() -> None:
    rng = np.random.default_rng(3)
    train = pd.DataFrame({"age": rng.integers(20, 30, 200), "zip": rng.choice(["1", "2"], 200),
                          "dx": rng.choice(["a", "b", "c"], 200)})
    control = train.sample(frac=1.0, random_state=4).reset_index(drop=True)
    schema = infer_schema(pd.concat([train, control]))
    result = IdentityDisclosure().run(AttackContext(train, control, train.copy(), schema))
    per_secret = result.details["per_secret"]
    assert set(per_secret) == {"age", "zip", "dx"}  # each column is the secret in turn
    worst = max(per_secret.values(), key=lambda r: r["risk"])
    assert result.risk == worst["risk"]
    assert result.ci_high >= max(r["ci"][1] for r in per_secret.values())


def test_a_column_may_be_both_sensitive_and_target(tmp_path: Path) -> None:
    assert SchemaConfig(sensitive=["income"], target="income").roles() == {
        "income": Role.TARGET}
    rng = np.random.default_rng(5)
    data = tmp_path / "t.csv"
    pd.DataFrame({"age": rng.integers(18, 90, N), "sex": rng.choice(["f", "m"], N),
                  "income": rng.choice(["<=50K", ">50K"], N)}).to_csv(data, index=False)
    code = main(["audit", "--data", str(data), "--generator", "gmm", "--sensitive", "income",
                 "--target", "income", "--no-ledger", "--out", str(tmp_path / "out")])
    assert code in (0, 1)
    result = json.loads((tmp_path / "out" / "results.json").read_text())
    roles = {c["name"]: c["role"] for c in result["schema"]["columns"]}
    assert roles["income"] == "target"


def test_results_json_holds_no_value_read_off_the_data(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    data = tmp_path / "t.csv"
    df = pd.DataFrame({"income": rng.uniform(1e4, 9e4, N).round(2) + 0.01,
                       "job": rng.choice(["welder-xq", "pilot-zz", "baker-yy"], N),
                       "age": rng.integers(18, 90, N)})
    df.to_csv(data, index=False)
    assert main(["audit", "--data", str(data), "--generator", "gmm", "--no-ledger", "--out",
                 str(tmp_path / "out")]) in (0, 1)
    text = (tmp_path / "out" / "results.json").read_text()
    schema = json.loads(text)["schema"]["columns"]
    assert all("categories" not in c and "bounds" not in c for c in schema)
    assert {c["name"]: c.get("n_categories") for c in schema}["job"] == 3
    for value in (f"{df['income'].max()}", f"{df['income'].min()}", "welder-xq"):
        assert value not in text


def test_a_vendor_table_slightly_outside_the_real_range_is_audited(tmp_path: Path) -> None:
    """Vendors' generators extrapolate a little past the real minimum and maximum; only a
    column moved far outside (a disguise) is refused."""
    rng = np.random.default_rng(7)
    df = pd.DataFrame({"age": rng.integers(20, 80, N), "bmi": rng.normal(25, 4, N).round(1),
                       "sex": rng.choice(["f", "m"], N)})
    cut = int(N * 0.7)
    syn = df.iloc[:cut].sample(frac=1.0, replace=True, random_state=2).reset_index(drop=True)
    syn["age"] = syn["age"].astype(float)
    syn.loc[:4, "age"] = [18.5, 81.25, 79.5, 17.0, 85.0]  # a little outside, fractional
    paths = {k: tmp_path / f"{k}.csv" for k in ("train", "control", "synthetic")}
    df.iloc[:cut].to_csv(paths["train"], index=False)
    df.iloc[cut:].to_csv(paths["control"], index=False)
    syn.to_csv(paths["synthetic"], index=False)
    args = ["audit", "--synthetic", str(paths["synthetic"]), "--train", str(paths["train"]),
            "--control", str(paths["control"]), "--attack", "dcr-membership", "--no-ledger"]
    assert main([*args, "--out", str(tmp_path / "a")]) in (0, 1)
    syn["bmi"] = syn["bmi"] * 1000  # the disguise: every value far outside
    syn.to_csv(paths["synthetic"], index=False)
    assert main([*args, "--out", str(tmp_path / "b")]) == 2
