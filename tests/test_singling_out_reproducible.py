"""``anonymeter-singling-out`` gives the same result for the same seed, in every mode, in this
process and in another one with another ``PYTHONHASHSEED``.

The univariate mode was not reproducible: anonymeter lists the values held by one row with
polars ``group_by(col).len()``, whose groups come in a different order on every call, so its
seeded shuffle picked other predicates each time (the adapter now builds them in a fixed
order, :func:`privgate.attacks.anonymeter_singling_out._univariate_queries`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from privgate import AttackContext, Column, Kind, Role, Schema
from privgate.attacks._anonymeter import prepare
from privgate.attacks.anonymeter_singling_out import AnonymeterSinglingOut, _frame, _queries

CITIES = ("Berlin", "Lyon", "Graz", "Porto", "Turku", "Gent", "Bern", "Cork")
SCHEMA = Schema((
    Column("age", Kind.INTEGER, Role.QUASI_IDENTIFIER, bounds=(18.0, 90.0)),
    Column("city", Kind.CATEGORICAL, Role.QUASI_IDENTIFIER, categories=CITIES),
    Column("job", Kind.CATEGORICAL, Role.SENSITIVE, categories=("nurse", "clerk", "baker")),
    Column("score", Kind.CONTINUOUS, Role.QUASI_IDENTIFIER, bounds=(0.0, 100.0)),
))


def _table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "age": rng.integers(18, 90, n),
        "city": rng.choice(CITIES, n, p=[0.4, 0.3, 0.2, 0.05, 0.02, 0.01, 0.01, 0.01]),
        "job": rng.choice(["nurse", "clerk", "baker"], n),
        "score": np.round(rng.normal(50, 15, n), 1),
    })


def outcome(mode: str) -> dict[str, Any]:
    """Everything seeded about one run and one plan of the attack in ``mode``: the predicates
    built on the synthetic table, the run's counts and bounds, and the plan."""
    context = AttackContext(_table(400, 0), _table(300, 1), _table(400, 2), SCHEMA, 7, 0.95)
    attack = AnonymeterSinglingOut(mode=mode, n_attacks=40, n_cols=2, max_attempts=5_000)
    result = attack.run(context)
    plan = attack.plan(context)
    synthetic = _frame(prepare(context, list(SCHEMA.names), pandas_categorical=True).synthetic)
    predicates = _queries(synthetic, mode, 40, 2 if mode == "multivariate" else 1, 5_000,
                          np.random.default_rng(3))
    keys = ("n_success", "n_control", "n_baseline", "n_queries_built")
    return {"predicates": [str(q) for q in predicates],
            "details": {k: result.details[k] for k in keys},
            "risk": [result.risk, result.ci_low, result.ci_high, result.baseline],
            "warnings": list(result.warnings),
            "plan": [[c.successes, c.trials, c.control_successes] for c in plan.counts]
            + [list(plan.notes), plan.trials_available]}


_CHILD = ("import json, sys; sys.path.insert(0, sys.argv[1]); "
          "from test_singling_out_reproducible import outcome; "
          "print(json.dumps(outcome(sys.argv[2])))")


@pytest.mark.parametrize("mode", ["univariate", "multivariate"])
def test_singling_out_is_reproducible_in_process_and_across_hash_seeds(mode: str) -> None:
    first = json.loads(json.dumps(outcome(mode)))  # the JSON a subprocess sends back
    second = json.loads(json.dumps(outcome(mode)))
    assert first["predicates"] and first["details"]["n_queries_built"] > 0
    assert second == first
    hash_seed = "1" if os.environ.get("PYTHONHASHSEED") != "1" else "2"
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(Path(__file__).parent), mode],
        env={**os.environ, "PYTHONHASHSEED": hash_seed}, capture_output=True, text=True,
        timeout=300, check=True)
    assert json.loads(child.stdout.strip().splitlines()[-1]) == first
