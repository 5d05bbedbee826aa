"""The example third-party plugin package installs, passes the contract kit through
``pytest --privgate-contract``, and runs an audit with its generator, attack, metric and policy;
the report draws its attack's ROC curve and its metric's bar chart exactly as it draws a
built-in's, with no change to privgate's reports.

The package is built and installed by the test itself (``pip install --no-deps --target``) into a
temporary folder that only the subprocesses below put on their path: privgate's own test
environment stays as the README's CI command left it, so tests that list the built-ins are not
affected by the example's plugins.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "privgate-example-plugin"
DIST = "privgate-example-plugin"

pytestmark = pytest.mark.slow

GATE = """
title = "Example plugin audit"
seed = 5
policies = ["example-research-release"]
attacks = [{ name = "example-knn-inference", params = { n_targets = 200 } }]
metrics = ["example-category-coverage"]
[data]
path = "people.csv"
[schema.columns.age]
kind = "integer"
role = "quasi-identifier"
bounds = [18, 90]
[schema.columns.sex]
kind = "categorical"
role = "quasi-identifier"
categories = ["f", "m"]
[schema.columns.region]
kind = "categorical"
role = "quasi-identifier"
categories = ["r0", "r1", "r2", "r3", "r4", "r5"]
[schema.columns.disease]
kind = "categorical"
role = "sensitive"
categories = ["no", "yes"]
[[generators]]
name = "example-marginals"
epsilon = 1.0
params = { mechanism = "laplace", bins = 10 }
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """(a copy of the example project, an environment whose path holds it installed)."""
    base = tmp_path_factory.mktemp("example-plugin")
    project = base / "project"
    # Built from a copy: pip builds in-tree and would leave build/ and *.egg-info behind.
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__", ".pytest_cache"))
    target = base / "site"
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
         "--no-index", "--quiet", "--target", str(target), str(project)],
        capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(target), *filter(None, [os.environ.get("PYTHONPATH")])]),
           "PRIVGATE_CONTRACT_EXAMPLES": "4"}
    for var in ("PRIVGATE_LOAD_PLUGINS", "PRIVGATE_DISABLE_PLUGINS", "PRIVGATE_TRACE_PLUGINS"):
        env.pop(var, None)
    return project, env


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_pytest_privgate_contract_checks_everything_it_registers(
        installed: tuple[Path, dict[str, str]]) -> None:
    project, env = installed
    # Only the kit's items: the package folder holds no test files of its own.
    out = _run([sys.executable, "-m", "pytest", "--privgate-contract", "-v",
                "-p", "no:cacheprovider", "privgate_example"], project, env)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    for item in ("generator:example-marginals", "generator-dp-accounting:example-marginals",
                 "attack:example-knn-inference", "metric:example-category-coverage",
                 "policy:example-research-release"):
        assert f"privgate-contract[{item}] PASSED" in out.stdout, out.stdout[-4000:]
    assert "5 passed" in out.stdout


def test_an_audit_uses_its_generator_attack_and_policy_through_the_cli(
        installed: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    project, env = installed
    rng = np.random.default_rng(0)
    n = 600
    age = rng.integers(18, 90, n)
    pd.DataFrame({"age": age, "sex": rng.choice(["f", "m"], n),
                  "region": rng.choice([f"r{i}" for i in range(6)], n),
                  "disease": np.where(age > 60, "yes", "no")}).to_csv(tmp_path / "people.csv",
                                                                      index=False)
    (tmp_path / "gate.toml").write_text(GATE, encoding="utf-8")
    out = _run([sys.executable, "-m", "privgate.cli", "audit", "gate.toml", "--out", "out"],
               tmp_path, env)
    assert out.returncode in (0, 1), out.stdout + out.stderr
    result = json.loads((tmp_path / "out" / "results.json").read_text())
    (gen,) = result["generators"]
    assert gen["name"] == "example-marginals" and gen["status"] == "ok"
    assert gen["spent"]["epsilon"] == 1.0 and gen["spent"]["delta"] == 0.0
    (attack,) = gen["attacks"]
    assert attack["attack"] == "example-knn-inference" and attack["status"] == "ok"
    assert attack["ci_low"] <= attack["risk"] <= attack["ci_high"]
    assert attack["baseline_description"]
    inference = [c for c in result["checks"] if c["risk_kind"] == "inference"]
    assert inference and {c["policy"] for c in inference} == {"example-research-release"}
    assert inference[0]["threshold"] == 0.05
    plugins = {p["plugin"]: p["distribution"] for p in result["environment"]["plugins"]}
    assert plugins["example-knn-inference"] == DIST
    # typed evidence in results.json, and the charts drawn from it in report.html
    assert attack["trials_planned"] == 200 and attack["roc"] and attack["auroc"]["interval"]
    (metric,) = gen["metrics"]
    assert metric["metric"] == "example-category-coverage" and metric["status"] == "ok"
    assert metric["figures"][0]["type"] == "bar_chart"
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    roc = re.findall(r'<svg class="chart roc".*?</svg>', html, re.S)
    assert len(roc) == 1 and "ROC curve of example-knn-inference on example-marginals" in roc[0]
    assert "Members caught (TPR)" in html and "AUROC" in html
    bars = re.findall(r'<svg class="chart bars".*?</svg>', html, re.S)
    assert any("Category coverage per column" in b for b in bars)
    assert any("Risk per secret column" in b for b in bars)
    assert "Category coverage (share of real categories kept)" in html  # the metric's title
    assert "DataCebo, SDMetrics" in html  # its reference, in the methodology
    # `privgate plugins` lists the three plugins with their distribution.
    listing = _run([sys.executable, "-m", "privgate.cli", "plugins", "--json"], tmp_path, env)
    assert listing.returncode == 0, listing.stderr
    listed = {p["plugin"]: p for p in json.loads(listing.stdout)}
    expected = {"example-marginals": {"generators": ["example-marginals"]},
                "example-knn-inference": {"attacks": ["example-knn-inference"]},
                "example-coverage": {"metrics": ["example-category-coverage"]},
                "example-policy": {"policies": ["example-research-release"]}}
    for plugin, provides in expected.items():
        assert listed[plugin]["distribution"] == DIST and listed[plugin]["state"] == "loaded"
        assert listed[plugin]["provides"] == provides
    # The operator can switch the third-party plugin off: the audit then exits 2 naming it.
    off = _run([sys.executable, "-m", "privgate.cli", "audit", "gate.toml", "--out", "out2",
                "--disable-plugin", DIST], tmp_path, env)
    assert off.returncode == 2
    assert "example-marginals" in off.stderr and "disabled" in off.stderr
