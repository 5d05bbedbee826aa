"""Type-I error and power of every check, and dpsgd-vae at epsilon 1 against the expert profile.

Run in the background (hours on a shared 2-core machine)::

    nice -n 10 .venv/bin/python benchmarks/power.py null --seeds 100 --rows 3000 &
    nice -n 10 .venv/bin/python benchmarks/power.py vae --tables adult diabetes --seeds 1 &

``null``: a table of ``--rows`` seeded rows is split three ways per seed -- training, control
and a *pool* the generator hands back as its "synthetic" rows. The pool's rows are real people
who are neither members nor controls, so members and control rows are exchangeable with respect
to it: the true risk of every check is exactly 0. (``--generator leaky`` uses independent
marginals of the training rows instead; their cells are copied from training rows, so a few
checks have a small true risk, still far under their thresholds.) Every default check of the
policy runs as in an audit (``calibration_harness.audit_once``). Measured per check: the
type-I error -- the share of seeds that *fail* a generator whose risk is under the threshold
(at most alpha by construction: a fail needs the one-sided lower bound above it) -- and the
share that pass, against the power the check predicted.

``vae``: dpsgd-vae at epsilon 1 (delta 1e-5) with a declared schema on Adult and diabetes130,
control fractions as ``privgate plan`` advises; the verdict of every check of the expert
profile.

Results: ``benchmarks/results/power.json`` (appended after every run; ``--resume``) and
``power.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibration_harness import audit_once, load_table  # noqa: E402

from privgate.generator import PrivacyBudget  # noqa: E402
from privgate.plugins.generators.leaky.generator import LeakyGenerator  # noqa: E402
from privgate.randomness import rng  # noqa: E402
from privgate.registry import build_registry  # noqa: E402
from privgate.tables import split  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
CONTROL = {"adult": 0.5, "diabetes": 0.3}
ROWS = {"adult": None, "diabetes": 50_000}


def null_run(table: str, df: Any, schema: Any, seed: int, generator: str, policy: str
             ) -> dict[str, Any]:
    """One seed of the leak-free experiment: train / control / pool thirds."""
    registry = build_registry()
    order = rng(seed, "power", "thirds").permutation(len(df))
    third = len(df) // 3
    parts = [df.iloc[np.sort(order[i * third:(i + 1) * third])].reset_index(drop=True)
             for i in range(3)]
    train, control, pool = parts
    if generator == "pool":
        synthetic = pool
    else:
        synthetic = LeakyGenerator(fraction=0.0).fit(train, schema, None, seed=seed).sample(
            len(train), seed=seed)
    started = time.perf_counter()
    out = audit_once(train, control, synthetic, schema, registry, registry.policy(policy),
                     seed=seed)
    return {"experiment": "null", "table": table, "generator": generator, "seed": seed,
            "policy": policy, "n_train": len(train), "seconds":
            round(time.perf_counter() - started, 1), **out}


def vae_run(table: str, df: Any, schema: Any, seed: int, policy: str, epsilon: float
            ) -> dict[str, Any]:
    """dpsgd-vae at ``epsilon`` on the table, audited under ``policy``."""
    registry = build_registry()
    train, control = split(df, CONTROL[table], seed)
    train, control = train.reset_index(drop=True), control.reset_index(drop=True)
    started = time.perf_counter()
    gen = registry.generator("dpsgd-vae")().fit(train, schema, PrivacyBudget(epsilon, 1e-5),
                                                seed=seed)
    synthetic = gen.sample(len(train), seed=seed)
    fit_s = round(time.perf_counter() - started, 1)
    out = audit_once(train, control, synthetic, schema, registry, registry.policy(policy),
                     seed=seed)
    return {"experiment": "vae", "table": table, "seed": seed, "policy": policy,
            "epsilon": epsilon, "epsilon_spent": gen.privacy_spent.epsilon,
            "n_train": len(train), "n_control": len(control), "fit_seconds": fit_s,
            "seconds": round(time.perf_counter() - started, 1), **out}


def markdown(runs: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    out = ["# Type-I error, power, and dpsgd-vae at epsilon 1", "",
           f"Commands: {', '.join(f'`{c}`' for c in meta.get('commands', []))}. "
           f"{meta.get('machine', '')}.", ""]
    null = [r for r in runs if r["experiment"] == "null"]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in null:
        groups[(r["table"], r["generator"])].append(r)
    for (table, generator), rows in sorted(groups.items()):
        out += [f"## Leak-free: {table}, {rows[0]['n_train']:,} training rows, synthetic = "
                f"{'a disjoint pool of real rows' if generator == 'pool' else 'leaky f = 0'}"
                f", {len(rows)} seeds", "",
                "| check | threshold | fail (type-I error) | pass | cannot-certify | "
                "mean predicted power |", "|---|---|---|---|---|---|"]
        verdicts = Counter(r["verdict"] for r in rows)
        for attack in sorted(rows[0]["checks"]):
            cs = [r["checks"][attack] for r in rows]
            s = Counter(c["status"] for c in cs)
            powers = [c["power"] for c in cs if c.get("power") is not None]
            mean = f"{np.mean(powers):.2f}" if powers else "-"
            out.append(f"| {attack} | {cs[0].get('threshold')} | {s['fail']}/{len(cs)} | "
                       f"{s['pass']}/{len(cs)} | {s['cannot-certify']}/{len(cs)} | {mean} |")
        out += ["", f"Overall verdicts: {dict(verdicts)}", ""]
    vae = [r for r in runs if r["experiment"] == "vae"]
    if vae:
        out += ["## dpsgd-vae, epsilon 1, declared schema", "",
                "| table | seed | training rows | epsilon spent | verdict | checks not passing |",
                "|---|---|---|---|---|---|"]
        for r in vae:
            bad = "; ".join(f"{a}: {c['status']} ({c.get('message', '')[:140]})"
                            for a, c in r["checks"].items() if c["status"] != "pass")
            out.append(f"| {r['table']} | {r['seed']} | {r['n_train']:,} | "
                       f"{r['epsilon_spent']:.3f} | {r['verdict']} | {bad or '-'} |")
        out.append("")
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("experiment", choices=("null", "vae", "report"))
    ap.add_argument("--tables", nargs="+", default=["adult"])
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--rows", type=int, default=3000, help="null: rows sampled per table")
    ap.add_argument("--generator", default="pool", choices=("pool", "leaky"))
    ap.add_argument("--policy", default="expert-determination-0.09")
    ap.add_argument("--epsilon", type=float, default=1.0)
    ap.add_argument("--out", default=str(RESULTS / "power.json"))
    args = ap.parse_args()
    out = Path(args.out)
    doc = json.loads(out.read_text()) if out.exists() else {"meta": {}, "runs": []}
    meta = doc["meta"]
    meta["machine"] = f"{platform.machine()}, shared 2-core machine, niced"
    command = " ".join(["benchmarks/power.py"] + sys.argv[1:])
    if args.experiment != "report" and command not in meta.setdefault("commands", []):
        meta["commands"].append(command)
    done = {(r["experiment"], r["table"], r.get("generator"), r["seed"]) for r in doc["runs"]}
    for table in [] if args.experiment == "report" else args.tables:
        rows = args.rows if args.experiment == "null" else ROWS[table]
        df, schema = load_table(table, rows)
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            gen = args.generator if args.experiment == "null" else None
            if (args.experiment, table, gen, seed) in done:
                continue
            run = (null_run(table, df, schema, seed, args.generator, args.policy)
                   if args.experiment == "null"
                   else vae_run(table, df, schema, seed, args.policy, args.epsilon))
            doc["runs"].append(run)
            out.write_text(json.dumps(doc, indent=1) + "\n")
            print(f"{args.experiment} {table} seed {seed}: {run['verdict']} "
                  f"({run['seconds']} s)", flush=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(doc["runs"], doc["meta"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
