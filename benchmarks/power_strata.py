"""What matching and stratifying the inference attack's targets buys: pooled against stratified.

Run on demand (minutes on a shared 2-core machine)::

    nice -n 5 .venv/bin/python benchmarks/power_strata.py --seeds 20

Two measurements per table (the demo table with its declared schema, Adult and a 50,000-row
sample of diabetes130, control fractions as in ``benchmarks/power.py``), on the expert
profile's threshold 0.09:

* **plan** -- ``AnonymeterInference.plan`` on the table's split: per secret, the upper bound a
  leak-free result shows with the trials the table allows, the trials it needs and the power,
  from the stratified counts and from the same counts pooled (what core did before);
* **leak-free runs** -- per seed, the table cut in thirds (training, control, and a pool of
  other real people handed back as the synthetic table, so the true risk is exactly 0, as in
  ``power.py null``); the attack's result assessed by core with its strata and with the same
  counts pooled: the share of seeds that pass 0.09 either way, and the median upper bound.

Results: ``benchmarks/results/power_strata.json`` and ``power_strata.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibration_harness import load_table  # noqa: E402

from privgate import AttackContext, AttackResult, Schema  # noqa: E402
from privgate.attacks.anonymeter_inference import AnonymeterInference  # noqa: E402
from privgate.certification import (  # noqa: E402
    assess,
    null_upper,
    pass_probability,
    trials_needed,
)
from privgate.config import parse_config  # noqa: E402
from privgate.randomness import rng  # noqa: E402
from privgate.sources import load  # noqa: E402
from privgate.tables import split  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
CONTROL = {"demo": 0.3, "adult": 0.5, "diabetes": 0.3}
THRESHOLD = 0.09
LEVEL = 0.95


def table(name: str) -> tuple[pd.DataFrame, Schema]:
    """The table and its declared schema (the demo's from its own config)."""
    if name == "demo":
        import importlib.resources
        import tomllib
        raw = tomllib.loads(importlib.resources.files("privgate.data").joinpath("demo.toml")
                            .read_text("utf-8"))
        data = load(parse_config(raw, where="demo.toml"), where="demo.toml")
        df = pd.concat([data.train, data.control], ignore_index=True)
        return df, data.schema.select(list(data.train.columns))
    return load_table(name, 50_000 if name == "diabetes" else None)


def pooled(result: AttackResult) -> AttackResult:
    """The same result with every comparison's strata dropped (the pooled binomial counts)."""
    return replace(result, counts=tuple(replace(c, strata=()) for c in result.counts))


def plan_rows(name: str, df: pd.DataFrame, schema: Schema) -> list[dict[str, Any]]:
    train, control = split(df, CONTROL[name], seed=0)
    plan = AnonymeterInference().plan(AttackContext(train, control, train, schema, 0))
    each = 1.0 - (1.0 - LEVEL) / len(plan.counts)
    out = []
    for c in plan.counts:
        flat = replace(c, strata=())
        out.append({"table": name, "secret": c.label, "trials": c.trials,
                    "control_rate": round(c.control_successes / c.control_trials, 4)
                    if c.control_trials and c.control_successes is not None else None,
                    "strata": len(c.strata),
                    **{f"{k}_{which}": v for which, cc in (("strat", c), ("pooled", flat))
                       for k, v in (("null_upper", round(null_upper(cc, each), 4)),
                                    ("needed", trials_needed(cc, THRESHOLD, each)),
                                    ("power", round(pass_probability(cc, THRESHOLD, each),
                                                    3)))}})
    return out


def leak_free(name: str, df: pd.DataFrame, schema: Schema, seed: int) -> dict[str, Any]:
    order = rng(seed, "power", "thirds").permutation(len(df))
    third = len(df) // 3
    train, control, pool = (df.iloc[np.sort(order[i * third:(i + 1) * third])]
                            .reset_index(drop=True) for i in range(3))
    started = time.perf_counter()
    result = AnonymeterInference().run(AttackContext(train, control, pool, schema, seed))
    strat, flat = assess(result, THRESHOLD), assess(pooled(result), THRESHOLD)
    return {"table": name, "seed": seed, "n_train": len(train), "trials": result.n_trials,
            "seconds": round(time.perf_counter() - started, 1), "risk": round(strat.risk, 4),
            "upper_strat": round(strat.upper, 4), "upper_pooled": round(flat.upper, 4),
            "lower": round(strat.lower, 4)}


def markdown(doc: dict[str, Any]) -> str:
    lines = [f"# Inference with matched, stratified targets against pooled counts "
             f"({doc['date']})", "",
             f"Threshold {THRESHOLD} (expert profile), level {LEVEL}, Bonferroni over the "
             "secrets. `python benchmarks/power_strata.py --seeds "
             f"{doc['seeds']}`; {doc['machine']}.", "",
             "## Plan: what a leak-free result shows with the trials the table allows", "",
             "| table | secret | trials | control rate | strata | leak-free bound (strat / "
             "pooled) | trials needed (strat / pooled) | power (strat / pooled) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in doc["plan"]:
        lines.append(f"| {r['table']} | {r['secret']} | {r['trials']:,} | {r['control_rate']} "
                     f"| {r['strata']} | {r['null_upper_strat']} / {r['null_upper_pooled']} | "
                     f"{r['needed_strat'] or 'never'} / {r['needed_pooled'] or 'never'} | "
                     f"{r['power_strat']} / {r['power_pooled']} |")
    lines += ["", "## Leak-free runs (true risk 0): thirds of the table, the pool as synthetic",
              "", "| table | seeds | trials | pass 0.09 stratified | pass 0.09 pooled | "
              "median upper (strat / pooled) | fails | s per run |",
              "|---|---|---|---|---|---|---|---|"]
    for name in doc["tables"]:
        runs = [r for r in doc["runs"] if r["table"] == name]
        if not runs:
            continue
        n = len(runs)
        lines.append(
            f"| {name} | {n} | {runs[0]['trials']:,} | "
            f"{sum(r['upper_strat'] <= THRESHOLD for r in runs)}/{n} | "
            f"{sum(r['upper_pooled'] <= THRESHOLD for r in runs)}/{n} | "
            f"{np.median([r['upper_strat'] for r in runs]):.4f} / "
            f"{np.median([r['upper_pooled'] for r in runs]):.4f} | "
            f"{sum(r['lower'] > THRESHOLD for r in runs)} | "
            f"{np.median([r['seconds'] for r in runs]):.1f} |")
    lines += ["", "A fail needs the exact lower bound (pooled counts, unchanged by the strata) "
              "above the threshold: none is expected with a true risk of 0.", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=["demo", "adult", "diabetes"])
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    doc: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "seeds": args.seeds,
                           "tables": args.tables, "plan": [], "runs": [],
                           "machine": f"{platform.machine()}, Python "
                                      f"{platform.python_version()}"}
    RESULTS.mkdir(exist_ok=True)
    for name in args.tables:
        df, schema = table(name)
        doc["plan"] += plan_rows(name, df, schema)
        for seed in range(args.seeds):
            doc["runs"].append(leak_free(name, df, schema, seed))
            print(doc["runs"][-1], flush=True)
        (RESULTS / "power_strata.json").write_text(json.dumps(doc, indent=1))
        (RESULTS / "power_strata.md").write_text(markdown(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
