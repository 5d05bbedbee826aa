"""``benchmarks/generators.py --default-path``: the new user's path against the declared schema.

For every data set (:mod:`real_tables`), generator, epsilon and seed, two fits on the same
split: the declared schema (code book domains, free) and the default path (schema inferred
with only the target named; the DP generators release every domain under DP from their
budget). TSTR is reported side by side with the gap, what the domain release added to the
accountant's epsilon, and how many cells were mapped into the released category lists.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from real_tables import TABLES, load

RESULTS = Path(__file__).resolve().parent / "results"


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The default-path flags of ``benchmarks/generators.py``."""
    ap.add_argument("--default-path", action="store_true",
                    help="declared schema vs the schema a new user gets (inferred, target "
                         "named, domains paid from the budget), per data set")
    ap.add_argument("--datasets", nargs="+", default=["adult", "diabetes130"],
                    choices=sorted(TABLES))
    ap.add_argument("--schemas", nargs="+", default=["declared", "default"],
                    choices=["declared", "default"])


def run_default_path(args: argparse.Namespace, run_job: Callable[[dict[str, Any]], dict[str, Any]],
                     auroc: Callable[..., float]) -> int:
    """Run the fits (each in a fresh process), write the JSON and the markdown table."""
    names = args.generators or ["dpsgd-vae", "dpsgd-diffusion", "dpsgd-ctgan"]
    extra = json.loads(args.params)
    out = Path(args.out if args.out != str(RESULTS / "generators")
               else RESULTS / "generators-default-path")
    path = out.with_suffix(".json")
    doc: dict[str, Any] = json.loads(path.read_text()) if args.merge and path.exists() else {}
    runs = {_key(r): r for r in doc.get("runs", [])}
    trtr = dict(doc.get("trtr_auroc", {}))
    load_before = [round(x, 2) for x in os.getloadavg()]
    for dataset in args.datasets:
        table = TABLES[dataset]
        train, control, schema = load(dataset, default_path=False, split_seed=args.split_seed,
                                      max_rows=args.max_rows)
        trtr[dataset] = auroc(train, control, schema, args.split_seed, table.target,
                              table.positive)
        print(f"{dataset}: TRTR AUROC {trtr[dataset]:.4f}", flush=True)
        for name in names:
            for eps in args.epsilons:
                for seed in args.seeds:
                    for which in args.schemas:
                        row = run_job({"generator": name, "epsilon": eps, "seed": seed,
                                       "params": dict(extra.get(name, {})),
                                       "max_rows": args.max_rows, "dataset": dataset,
                                       "split_seed": args.split_seed,
                                       "default_path": which == "default"})
                        runs[_key(row)] = row
                        print(json.dumps(row), flush=True)
    doc = {"delta": 1e-5, "split_seed": args.split_seed, "max_rows": args.max_rows,
           "trtr_auroc": trtr, "runs": list(runs.values()),
           "machine": f"{platform.machine()}, {os.cpu_count()} CPU(s), "
                      f"{platform.python_version()}, numpy {np.__version__}",
           "load_before": load_before, "load_after": [round(x, 2) for x in os.getloadavg()],
           "method": {"tstr": "HistGradientBoostingClassifier(max_iter=100), one thread, "
                              "trained on len(train) synthetic rows, AUROC on the real control "
                              "rows: '>50K' for adult, macro one-vs-rest for diabetes130",
                      "peak_memory": "ru_maxrss of a fresh subprocess per fit"}}
    out.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    out.with_suffix(".md").write_text(default_path_markdown(doc))
    print(default_path_markdown(doc))
    return 0


def _key(r: dict[str, Any]) -> tuple[Any, ...]:
    return (r.get("dataset"), r.get("generator"), r.get("epsilon"), r.get("seed"),
            r.get("schema"))


def _mean(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [float(r[key]) for r in rows if r.get(key) is not None]
    return statistics.mean(values) if values else None


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def default_path_markdown(doc: dict[str, Any]) -> str:
    """One line per data set, generator, epsilon and schema, the default path's gap beside."""
    md = ["# The default path: declared schema vs the schema a new user gets", "",
          "Default path = schema inferred from the table with only the target named "
          "(`privgate audit --data FILE --target COL`); a DP generator releases every domain "
          "under DP from its budget. Declared = the code book's domains (free). Same 80/20 "
          f"split (seed {doc['split_seed']}), delta {doc['delta']:g}; TSTR = "
          f"{doc['method']['tstr']}. Mean over the seeds listed.", "",
          "TRTR (real rows): " + ", ".join(f"{k} {v:.3f}" for k, v in
                                           sorted(doc["trtr_auroc"].items())), "",
          "| data set | generator | ε | schema | seeds | ε spent | domains' share of ε | "
          "cells mapped | TSTR | gap to declared | fit s (wall) | fit s (CPU) | peak MB |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in doc["runs"]:
        groups.setdefault((r["dataset"], r["generator"], r["epsilon"], r["schema"]),
                          []).append(r)
    for (dataset, name, eps, which), rows in sorted(groups.items()):
        ok = [r for r in rows if "error" not in r]
        if not ok:
            md.append(f"| {dataset} | {name} | {eps:g} | {which} | | error: "
                      f"{rows[0]['error'][:90]} | | | | | | | |")
            continue
        tstr = _mean(ok, "tstr_auroc")
        declared = [r for r in groups.get((dataset, name, eps, "declared"), [])
                    if "error" not in r]
        gap = (None if which == "declared" or not declared or tstr is None
               else tstr - (_mean(declared, "tstr_auroc") or 0.0))
        mapped = [sum((r.get("domain_cells_mapped") or {}).values()) for r in ok]
        share = _mean(ok, "domain_marginal_epsilon")
        md.append(
            f"| {dataset} | {name} | {eps:g} | {which} | "
            f"{', '.join(str(r['seed']) for r in ok)} | {_fmt(_mean(ok, 'epsilon_spent'))} | "
            f"{'-' if not share else _fmt(share / eps, 2)} | "
            f"{statistics.mean(mapped):,.0f} | {_fmt(tstr)} | "
            f"{'-' if gap is None else f'{gap:+.3f}'} | {_fmt(_mean(ok, 'fit_seconds'), 1)} | "
            f"{_fmt(_mean(ok, 'fit_cpu_seconds'), 1)} | "
            f"{max(r['peak_rss_mb'] for r in ok):.0f} |")
    md += ["", f"Machine: {doc['machine']}. Load average before / after: "
           f"{doc['load_before']} / {doc['load_after']}: timings were measured under load "
           "(two cores shared with other work); accuracy figures are not affected."]
    return "\n".join(md) + "\n"
