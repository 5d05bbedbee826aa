"""Utility, cost and DP-SGD overhead of the DP-SGD generators on UCI Adult; the new user's
default path on Adult and diabetes130.

Run on demand (minutes per fit on two CPU cores; the defaults run 3 epsilons x 3 seeds plus
one non-private fit per epsilon for every generator)::

    .venv/bin/python benchmarks/generators.py [--generators dpsgd-vae dpsgd-ctgan]
        [--epsilons 1 3 10] [--seeds 0 1 2] [--max-rows N] [--params JSON]

    .venv/bin/python benchmarks/generators.py --default-path [--datasets adult diabetes130]
        [--generators ...] [--epsilons 1] [--seeds 0]

``--default-path`` fits each generator twice per data set (:mod:`real_tables`): on the
declared schema (the code book's domains, nothing spent on them) and on the schema a new user
gets (inferred from the table with only the target named; every domain released under DP from
the generator's budget), and reports TSTR side by side, with what the domains cost and how many
cells were mapped into the released category lists. Writes
``benchmarks/results/generators-default-path.json`` and ``.md``. Non-private generators
(``gmm``) may be named too: their fit time and peak memory are the figures of interest there.

What it measures, per (generator, epsilon, seed), on a seeded 80/20 split of
``../shared/data/adult.csv`` (target ``income``; the split is the same for every fit, seed
``--split-seed``, the benchmark's own so that it does not move with privgate's, and the
real-data reference is computed once):

* ``tstr_auroc``: train-synthetic-test-real ROC AUC for ``income`` -- a
  HistGradientBoostingClassifier (the ``tstr`` metric's model and feature encoding, 100
  iterations, one thread) trained on as many synthetic rows as there are training rows, tested
  on the real control rows; beside it ``trtr_auroc``, the same model trained on the real
  training rows (once);
* ``hellinger``: mean per-column Hellinger distance (the ``hellinger`` metric, training rows vs
  synthetic rows);
* ``correlation_diff``: mean absolute difference of the pairwise association matrices (the
  ``correlation`` metric);
* ``fit_seconds`` and ``peak_rss_mb``: each fit runs in a fresh subprocess; peak memory is that
  process's ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (it includes the interpreter, torch
  and the data: tracemalloc would miss torch's allocations).

DP overhead (per generator and epsilon, at the first seed, both fits in the same run): the
generator is fitted a second time with ``params={"dp": False}`` -- **the convention every
DP-SGD generator follows**: ``dp = false`` trains the same model on the same schedule (same
batch size, same number of steps, same Poisson batches) with ordinary optimizer steps -- no
per-row clipping, no noise -- and reports ``privacy_spent.epsilon = inf`` so that nothing
downstream mistakes it for a private generator. A generator that also exposes
``fit_stats_ = {"train_seconds", "rows_seen", "rows_per_second", "rows_per_cpu_second", ...}``
after ``fit`` gets its training throughput (rows per second of wall time and of the process's
CPU time, the steadier figure on a shared machine) compared; otherwise the whole fit times
are. The ratio is non-private throughput / DP-SGD throughput (1.0 = no overhead). A
generator that rejects ``dp`` gets ``"overhead": "unsupported"``.

Writes ``benchmarks/results/generators.json`` and ``generators.md``. Timings depend on what
else runs on the machine: the load average before and after is recorded beside them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from default_path import add_arguments, run_default_path  # noqa: E402 (sibling script)
from real_tables import TABLES, load  # noqa: E402

ADULT = TABLES["adult"].path

from privgate.attack import AttackContext  # noqa: E402
from privgate.generator import PrivacyBudget  # noqa: E402
from privgate.registry import build_registry  # noqa: E402
from privgate.schema import Schema  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TARGET = "income"
DELTA = 1e-5


def dpsgd_generators() -> list[str]:
    """Every registered generator trained through privgate's DP layer (a
    :class:`privgate.dp.DPSGDGenerator`: it takes ``epochs`` and the ``dp`` switch)."""
    from privgate.dp import DPSGDGenerator

    registry = build_registry()
    return sorted(n for n, p in registry.generators.items()
                  if isinstance(p.obj, type) and issubclass(p.obj, DPSGDGenerator))


def auroc_on_control(train_rows: pd.DataFrame, control: pd.DataFrame, schema: Schema,
                     seed: int, target: str = TARGET, positive: str | None = ">50K") -> float:
    """AUROC on the real control rows of the ``tstr`` metric's classifier trained on
    ``train_rows`` (synthetic for TSTR, real for TRTR): for class ``positive``, or the macro
    one-vs-rest average over the classes (``positive=None``, as the ``tstr`` metric does)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    from privgate.plugins.metrics._common import FeatureEncoder, binary_auroc, labels
    from privgate.plugins.metrics.tstr import auroc

    features = [c for c in schema.modelled if c.name != target]
    encoder = FeatureEncoder(features, train_rows)
    y = labels(train_rows[target])
    y_test = labels(control[target])
    keep, keep_test = y != None, y_test != None  # noqa: E711 (object arrays)
    if len(set(y[keep])) < 2:
        return 0.5  # a single class predicts nothing
    model = HistGradientBoostingClassifier(max_iter=100, categorical_features=encoder.mask,
                                           random_state=seed)
    with threadpool_limits(limits=1, user_api="openmp"):
        model.fit(encoder.transform(train_rows)[keep], y[keep])
        proba = model.predict_proba(encoder.transform(control)[keep_test])
    classes = [str(c) for c in model.classes_]
    if positive is not None:
        return binary_auroc(y_test[keep_test] == positive, proba[:, classes.index(positive)])
    return auroc(y_test[keep_test], proba, classes)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


def worker(job: dict[str, Any]) -> dict[str, Any]:
    """One fit, sample and evaluation (run in a fresh process for a clean peak memory)."""
    table = TABLES[job.get("dataset", "adult")]
    train, control, schema = load(table.name, default_path=job.get("default_path", False),
                                  split_seed=job["split_seed"], max_rows=job["max_rows"])
    registry = build_registry()
    cls = registry.generator(job["generator"])
    budget = PrivacyBudget(job["epsilon"], DELTA) if cls.is_private else None
    rss_before = _rss_mb()
    start, cpu_start = time.perf_counter(), time.process_time()
    gen = cls(**job["params"]).fit(train, schema, budget, seed=job["seed"])
    fit_seconds = time.perf_counter() - start
    fit_cpu_seconds = time.process_time() - cpu_start
    peak = _rss_mb()
    start = time.perf_counter()
    synthetic = gen.sample(len(train), seed=job["seed"])
    sample_seconds = time.perf_counter() - start
    spent = gen.privacy_spent
    ctx = AttackContext(train, control, synthetic, schema, job["seed"], 0.95)
    stats = getattr(gen, "fit_stats_", None)
    return {
        "generator": job["generator"], "epsilon": job["epsilon"], "seed": job["seed"],
        "params": job["params"], "dataset": table.name,
        "schema": "default" if job.get("default_path") else "declared",
        "n_train": len(train), "n_control": len(control),
        "epsilon_spent": spent.epsilon if math.isfinite(spent.epsilon) else None,
        "delta_spent": spent.delta, "accountant": spent.accountant,
        "domain_marginal_epsilon": spent.details.get("domain_marginal_epsilon"),
        "domain_cells_mapped": spent.details.get("domain_cells_mapped"),
        "tstr_auroc": auroc_on_control(synthetic, control, schema, job["seed"], table.target,
                                       table.positive),
        "hellinger": registry.metrics["hellinger"].obj().compute(ctx).value,
        "correlation_diff": registry.metrics["correlation"].obj().compute(ctx).value,
        "fit_seconds": round(fit_seconds, 2), "fit_cpu_seconds": round(fit_cpu_seconds, 2),
        "sample_seconds": round(sample_seconds, 2),
        "peak_rss_mb": round(peak, 1), "rss_before_fit_mb": round(rss_before, 1),
        "fit_stats": dict(stats) if isinstance(stats, dict) else None,
        "steps": spent.details.get("steps"),
        "noise_multiplier": spent.details.get("noise_multiplier"),
    }


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run :func:`worker` in a subprocess; errors come back as ``{"error": ...}``."""
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(job)],
                          capture_output=True, text=True, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {**{k: job[k] for k in ("generator", "epsilon", "seed", "params")},
                "dataset": job.get("dataset", "adult"),
                "schema": "default" if job.get("default_path") else "declared",
                "error": " | ".join(tail)}
    return dict(json.loads(lines[-1]))


def _throughput(row: dict[str, Any], key: str = "rows_per_second") -> float | None:
    stats = row.get("fit_stats") or {}
    value = stats.get(key)
    return float(value) if value else None


def overhead(dp: dict[str, Any], plain: dict[str, Any]) -> dict[str, Any]:
    """Non-private vs DP-SGD throughput of the same model and schedule."""
    if "error" in plain:
        return {"overhead": "unsupported", "error": plain["error"]}
    out: dict[str, Any] = {"dp_fit_seconds": dp.get("fit_seconds"),
                           "nodp_fit_seconds": plain.get("fit_seconds"),
                           "nodp_tstr_auroc": plain.get("tstr_auroc"),
                           "nodp_hellinger": plain.get("hellinger"),
                           "nodp_epsilon_spent": plain.get("epsilon_spent")}
    a, b = _throughput(dp), _throughput(plain)
    if a and b:
        out.update({"dp_rows_per_second": round(a, 1), "nodp_rows_per_second": round(b, 1),
                    "ratio": round(b / a, 3), "measured_on": "training loop (fit_stats_)"})
        ca, cb = (_throughput(r, "rows_per_cpu_second") for r in (dp, plain))
        if ca and cb:  # CPU time: less sensitive to other processes on a shared machine
            out.update({"dp_rows_per_cpu_second": round(ca, 1),
                        "nodp_rows_per_cpu_second": round(cb, 1),
                        "cpu_ratio": round(cb / ca, 3)})
    elif dp.get("fit_seconds") and plain.get("fit_seconds"):
        out.update({"ratio": round(dp["fit_seconds"] / plain["fit_seconds"], 3),
                    "measured_on": "whole fit time"})
    return out


def _mean_sd(values: list[float], digits: int = 3) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def markdown(doc: dict[str, Any]) -> str:
    """The summary tables."""
    md = [f"# DP-SGD generators on UCI Adult ({doc['n_train']:,} training rows, "
          f"{doc['n_control']:,} control rows, delta = {DELTA:g})", "",
          f"Real data (TRTR) AUROC for `{TARGET}`: **{doc['trtr_auroc']:.3f}**. "
          "Mean ± sd over the seeds listed (one split, seed "
          f"{doc['split_seed']}; the seed varies the fit and the sampling).", "",
          "| generator | ε | seeds | ε spent | TSTR AUROC | Hellinger | corr. diff | "
          "fit s (wall) | fit s (CPU) | peak MB |", "|---|---|---|---|---|---|---|---|---|---|"]
    by_key: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for r in doc["runs"]:
        by_key.setdefault((r["generator"], r["epsilon"]), []).append(r)
    for (name, eps), rows in sorted(by_key.items()):
        ok = [r for r in rows if "error" not in r]
        if not ok:
            md.append(f"| {name} | {eps:g} | | error: {rows[0]['error'][:80]} | | | | | | |")
            continue
        spent = max(r["epsilon_spent"] or math.inf for r in ok)
        md.append(
            f"| {name} | {eps:g} | {', '.join(str(r['seed']) for r in ok)} | {spent:.3f} | "
            f"{_mean_sd([r['tstr_auroc'] for r in ok])} | "
            f"{_mean_sd([r['hellinger'] for r in ok])} | "
            f"{_mean_sd([r['correlation_diff'] for r in ok])} | "
            f"{_mean_sd([r['fit_seconds'] for r in ok], 1)} | "
            f"{_mean_sd([r['fit_cpu_seconds'] for r in ok if 'fit_cpu_seconds' in r], 1)} | "
            f"{max(r['peak_rss_mb'] for r in ok):.0f} |")
    md += ["", "DP-SGD overhead (same model and schedule with `dp = false`, first seed; "
           "ratio = non-private / DP-SGD throughput):", "",
           "| generator | ε | DP rows/s | non-DP rows/s | ratio (wall) | ratio (CPU time) | "
           "measured on | DP fit s | non-DP fit s | non-DP TSTR |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for o in doc["overhead"]:
        if o.get("overhead") == "unsupported":
            md.append(f"| {o['generator']} | {o['epsilon']:g} | unsupported | | | | | | | |")
            continue
        md.append(f"| {o['generator']} | {o['epsilon']:g} | {o.get('dp_rows_per_second', '-')}"
                  f" | {o.get('nodp_rows_per_second', '-')} | {o.get('ratio', '-')} | "
                  f"{o.get('cpu_ratio', '-')} | "
                  f"{o.get('measured_on', '-')} | {o.get('dp_fit_seconds')} | "
                  f"{o.get('nodp_fit_seconds')} | {o.get('nodp_tstr_auroc') or 0:.3f} |")
    md += ["", f"Machine: {doc['machine']}. Load average before / after: "
           f"{doc['load_before']} / {doc['load_after']}. Wall-clock timings on a shared "
           "machine are skewed by other processes (CPU seconds much less so); the overhead "
           "ratio compares two fits of the same run."]
    return "\n".join(md) + "\n"


def merged(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``new`` plus the runs and overhead rows of ``old`` that ``new`` does not repeat."""
    if (old.get("split_seed"), old.get("max_rows")) != (new["split_seed"], new["max_rows"]):
        raise SystemExit("--merge: the existing results use another split or max_rows")

    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        return (r.get("generator"), r.get("epsilon"), r.get("seed"))

    runs = {key(r): r for r in old.get("runs", [])} | {key(r): r for r in new["runs"]}
    over = {key(r): r for r in old.get("overhead", [])} | {key(r): r for r in new["overhead"]}
    loads = [old.get("load_before"), new["load_before"]]
    return {**new, "runs": list(runs.values()), "overhead": list(over.values()),
            "seeds": sorted({r["seed"] for r in runs.values()}),
            "epsilons": sorted({r["epsilon"] for r in runs.values()}),
            "load_before": loads[-1], "load_before_earlier_runs": loads[0]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--generators", nargs="+", default=None,
                    help="default: every registered privgate.dp.DPSGDGenerator")
    ap.add_argument("--epsilons", type=float, nargs="+", default=[1.0, 3.0, 10.0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--max-rows", type=int, default=None,
                    help="subsample adult to this many rows (seeded) before splitting")
    ap.add_argument("--split-seed", type=int, default=0)
    ap.add_argument("--params", default="{}",
                    help='JSON {generator: {param: value}} passed to the constructors')
    ap.add_argument("--merge", action="store_true",
                    help="keep the runs already in the output JSON that this call does not "
                         "repeat (same generator, epsilon and seed)")
    ap.add_argument("--no-overhead", action="store_true",
                    help="skip the non-private fits that measure DP-SGD's overhead")
    ap.add_argument("--out", default=str(RESULTS / "generators"),
                    help="output path without suffix (default benchmarks/results/generators)")
    ap.add_argument("--render", metavar="JSON",
                    help="only rewrite the markdown table next to an existing results JSON")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    add_arguments(ap)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))), flush=True)
        return 0
    if args.default_path:
        return run_default_path(args, run_job, auroc_on_control)
    if args.render:
        path = Path(args.render)
        path.with_suffix(".md").write_text(markdown(json.loads(path.read_text())))
        return 0
    if not ADULT.exists():
        print(f"{ADULT} not found (the benchmark needs the shared real data)", file=sys.stderr)
        return 2
    names = args.generators or dpsgd_generators()
    extra = json.loads(args.params)
    train, control, schema = load("adult", default_path=False, split_seed=args.split_seed,
                                  max_rows=args.max_rows)
    load_before = os.getloadavg()
    trtr = auroc_on_control(train, control, schema, args.split_seed)
    print(f"TRTR AUROC {trtr:.4f} ({len(train)} train, {len(control)} control rows)", flush=True)
    runs: list[dict[str, Any]] = []
    over: list[dict[str, Any]] = []
    for name in names:
        params = dict(extra.get(name, {}))
        for eps in args.epsilons:
            for i, seed in enumerate(args.seeds):
                job = {"generator": name, "epsilon": eps, "seed": seed, "params": params,
                       "max_rows": args.max_rows, "split_seed": args.split_seed}
                row = run_job(job)
                runs.append(row)
                print(json.dumps(row), flush=True)
                if i == 0 and not args.no_overhead and "error" not in row:
                    plain = run_job({**job, "params": {**params, "dp": False}})
                    print(json.dumps(plain), flush=True)
                    over.append({"generator": name, "epsilon": eps, "seed": seed,
                                 **overhead(row, plain)})
    doc = {
        "dataset": str(ADULT.name), "target": TARGET, "delta": DELTA,
        "n_train": len(train), "n_control": len(control), "split_seed": args.split_seed,
        "max_rows": args.max_rows, "seeds": args.seeds, "epsilons": args.epsilons,
        "trtr_auroc": trtr, "runs": runs, "overhead": over,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU(s), {platform.python_version()}"
                   f", numpy {np.__version__}",
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "method": {
            "tstr": "HistGradientBoostingClassifier(max_iter=100), one thread, trained on "
                    "len(train) synthetic rows, AUROC for '>50K' on the real control rows",
            "peak_memory": "ru_maxrss of a fresh subprocess per fit",
            "overhead": "same generator with params dp=false (no clipping, no noise), same "
                        "schedule; ratio = non-private rows/s / DP-SGD rows/s",
        },
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.merge and out.with_suffix(".json").exists():
        doc = merged(json.loads(out.with_suffix(".json").read_text()), doc)
    out.with_suffix(".json").write_text(json.dumps(doc, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(doc))
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
