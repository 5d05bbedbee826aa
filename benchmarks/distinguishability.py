"""Distinguishability AUROC of the gmm baseline and dpsgd-vae on UCI Adult.

Run on demand::

    .venv/bin/python benchmarks/distinguishability.py [--epsilon 1] [--seeds 0 1 2]

Fits each generator on a seeded 70% training split of ``../shared/data/adult.csv`` (all
48,842 rows, declared schema from the census code book ranges), samples as many rows as it was
trained on, and runs the ``distinguishability`` attack (training rows vs synthetic rows).
Writes ``benchmarks/results/distinguishability.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

from privgate.attack import AttackContext
from privgate.generator import PrivacyBudget
from privgate.registry import build_registry
from privgate.schema import Column, Kind, Role, Schema
from privgate.tables import conform, split

ROOT = Path(__file__).resolve().parents[1]
ADULT = ROOT.parent / "shared" / "data" / "adult.csv"
RESULTS = Path(__file__).resolve().parent / "results"

BOUNDS = {"age": (17, 90), "fnlwgt": (10_000, 1_500_000), "education_num": (1, 16),
          "capital_gain": (0, 99_999), "capital_loss": (0, 4_356), "hours_per_week": (1, 99)}
QI = {"age", "sex", "race", "marital_status", "native_country", "education"}


def adult_schema(df: pd.DataFrame) -> Schema:
    cols = []
    for name in df.columns:
        role = (Role.QUASI_IDENTIFIER if name in QI else Role.TARGET if name == "income"
                else Role.SENSITIVE if name in ("occupation", "capital_gain") else Role.OTHER)
        if name in BOUNDS:
            cols.append(Column(name, Kind.INTEGER, role, bounds=tuple(map(float, BOUNDS[name]))))
        else:  # the code book's category lists
            cats = tuple(sorted(df[name].dropna().unique()))
            cols.append(Column(name, Kind.CATEGORICAL, role, categories=cats,
                               nullable=bool(df[name].isna().any())))
    return Schema(tuple(cols))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epsilon", type=float, default=1.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = ap.parse_args()
    if not ADULT.exists():
        print(f"{ADULT} not found", file=sys.stderr)
        return 2
    df = pd.read_csv(ADULT).drop(columns=["split"])
    schema = adult_schema(df)
    df = conform(df, schema, where=str(ADULT))
    registry = build_registry()
    rows = []
    for seed in args.seeds:
        train, control = split(df, 0.3, seed)
        for name in ("gmm", "dpsgd-vae"):
            cls = registry.generator(name)
            budget = PrivacyBudget(args.epsilon, 1e-5) if cls.is_private else None
            t0 = time.perf_counter()
            gen = cls().fit(train, schema, budget, seed=seed)
            fit_s = time.perf_counter() - t0
            syn = gen.sample(len(train), seed=seed)
            attack = registry.attack("distinguishability")()
            res = attack.run(AttackContext(train, control, syn, schema, seed, 0.95))
            spent = gen.privacy_spent
            rows.append({"generator": name, "seed": seed, "epsilon_spent": spent.epsilon
                         if spent.is_private else None, "fit_seconds": round(fit_s, 1),
                         "auroc": res.auroc.value if res.auroc else None,
                         "auroc_ci": ([res.auroc.interval.low, res.auroc.interval.high]
                                      if res.auroc else None),
                         "distinguishability": res.risk})
            print(rows[-1], flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "distinguishability.json").write_text(json.dumps(
        {"data": "adult.csv (48,842 rows, 70/30 split)", "epsilon": args.epsilon,
         "rows": rows}, indent=2) + "\n")
    md = ["| generator | seed | epsilon spent | fit s | AUROC | 95% CI | score |",
          "|---|---|---|---|---|---|---|"]
    for r in rows:
        eps = "-" if r["epsilon_spent"] is None else f"{r['epsilon_spent']:.3f}"
        ci = r["auroc_ci"]
        ci_s = "-" if not ci else f"[{ci[0]:.3f}, {ci[1]:.3f}]"
        md.append(f"| {r['generator']} | {r['seed']} | {eps} | {r['fit_seconds']} | "
                  f"{r['auroc']:.3f} | {ci_s} | {r['distinguishability']:.3f} |")
    (RESULTS / "distinguishability.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
