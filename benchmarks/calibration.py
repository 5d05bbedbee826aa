"""Calibration on planted leaks: does the default policy fail a 1% (and a 0.1%) leak and pass
no leak, over many seeds, on real tables?

Run in the background (it takes hours on a shared 2-core machine)::

    nice -n 10 .venv/bin/python benchmarks/calibration.py --tables adult diabetes \\
        --seeds 10 --fractions 0 0.001 0.01 &

For every table, seed and copy fraction f the table is split (seeded) into training and control
rows, the calibration-only ``leaky`` generator copies f of the training rows verbatim and draws
the rest from independent marginals, and every default attack the policy gates on is run and
decided the way an audit does (``calibration_harness.audit_once``: core re-validates each
result; the policy decides each check). The control fraction per table is the one ``privgate
plan`` advises (``--control-fraction table=share``): on Adult, inference on ``capital_gain``
(86% of control guesses right) cannot be certified with 30% held out. Results are appended to
``benchmarks/results/calibration.json`` after every run (an interrupted run keeps what it did;
``--resume`` skips what is there) and summarised in ``calibration.md``: per table and f, the
overall verdicts over seeds, and per attack how many seeds failed, passed or could not be
certified.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibration_harness import audit_once, load_table  # noqa: E402

from privgate.plugins.generators.leaky.generator import LeakyGenerator  # noqa: E402
from privgate.registry import build_registry  # noqa: E402
from privgate.tables import split  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_CONTROL = {"adult": 0.5, "diabetes": 0.3}
DEFAULT_ROWS = {"adult": None, "diabetes": 50_000}


def run_one(table: str, df: Any, schema: Any, f: float, seed: int, control: float,
            policy: str) -> dict[str, Any]:
    registry = build_registry()
    train, ctl = split(df, control, seed)
    train, ctl = train.reset_index(drop=True), ctl.reset_index(drop=True)
    started = time.perf_counter()
    gen = LeakyGenerator(fraction=f).fit(train, schema, None, seed=seed)
    synthetic = gen.sample(len(train), seed=seed)
    out = audit_once(train, ctl, synthetic, schema, registry, registry.policy(policy),
                     seed=seed)
    return {"table": table, "fraction": f, "seed": seed, "policy": policy,
            "n_train": len(train), "n_control": len(ctl), "n_copied": len(gen.copied_index_),
            "seconds": round(time.perf_counter() - started, 1), **out}


def markdown(runs: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    out = ["# Planted leaks: verdicts of the default policy over seeds", "",
           "The `leaky` generator (calibration only) copies a fraction f of the training rows "
           "verbatim and draws the rest from independent marginals; every default attack the "
           f"policy ({meta['policy']}) gates on runs as in an audit. Command: "
           f"`{meta['command']}`. {meta['machine']}.", ""]
    for table in sorted({r["table"] for r in runs}):
        mine = [r for r in runs if r["table"] == table]
        first = mine[0]
        out += [f"## {table}: {first['n_train']:,} training and {first['n_control']:,} "
                f"control rows", "", "| f | seeds | fail | cannot-certify | pass | error |",
                "|---|---|---|---|---|---|"]
        for f in sorted({r["fraction"] for r in mine}):
            v = Counter(r["verdict"] for r in mine if r["fraction"] == f)
            out.append(f"| {f:g} | {sum(v.values())} | {v['fail']} | {v['cannot-certify']} | "
                       f"{v['pass']} | {v['error']} |")
        out += ["", "Per attack (fail / cannot-certify / pass over the seeds; median estimate "
                "and upper bound):", "", "| f | attack | fail | cannot | pass | median risk | "
                "median upper bound | threshold | median power |",
                "|---|---|---|---|---|---|---|---|---|"]
        for f in sorted({r["fraction"] for r in mine}):
            rows = [r for r in mine if r["fraction"] == f]
            for attack in sorted(rows[0]["checks"]):
                cs = [r["checks"][attack] for r in rows]
                s = Counter(c["status"] for c in cs)
                out.append(f"| {f:g} | {attack} | {s['fail']} | {s['cannot-certify']} | "
                           f"{s['pass']} | {_median(cs, 'risk')} | "
                           f"{_median(cs, 'upper_bound')} | {cs[0].get('threshold')} | "
                           f"{_median(cs, 'power')} |")
        out.append("")
    return "\n".join(out) + "\n"


def _median(checks: list[dict[str, Any]], key: str) -> str:
    values = sorted(c[key] for c in checks if c.get(key) is not None)
    return "-" if not values else f"{values[len(values) // 2]:.4g}"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", nargs="+", default=["adult", "diabetes"])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.0, 0.001, 0.01])
    ap.add_argument("--rows", nargs="*", default=[], help="table=N: a seeded sample")
    ap.add_argument("--control-fraction", nargs="*", default=[], help="table=share")
    ap.add_argument("--policy", default="expert-determination-0.09")
    ap.add_argument("--out", default=str(RESULTS / "calibration.json"))
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args()
    rows = DEFAULT_ROWS | {k: int(v) for k, v in (x.split("=") for x in args.rows)}
    control = DEFAULT_CONTROL | {k: float(v) for k, v in
                                 (x.split("=") for x in args.control_fraction)}
    out = Path(args.out)
    doc = json.loads(out.read_text()) if (args.resume or args.report_only) and out.exists() \
        else {"meta": {}, "runs": []}
    doc["meta"] = {"policy": args.policy, "command": " ".join(["benchmarks/calibration.py"]
                                                              + sys.argv[1:]),
                   "machine": f"{platform.machine()}, shared 2-core machine, niced",
                   "rows": rows, "control_fraction": control}
    done = {(r["table"], r["fraction"], r["seed"]) for r in doc["runs"]}
    for table in [] if args.report_only else args.tables:
        df, schema = load_table(table, rows.get(table))
        for seed in range(args.seeds):
            for f in args.fractions:
                if (table, f, seed) in done:
                    continue
                run = run_one(table, df, schema, f, seed, control[table], args.policy)
                doc["runs"].append(run)
                out.write_text(json.dumps(doc, indent=1) + "\n")
                print(f"{table} seed {seed} f {f:g}: {run['verdict']} ({run['seconds']} s)",
                      flush=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(doc["runs"], doc["meta"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
