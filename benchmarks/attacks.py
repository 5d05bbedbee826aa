"""Wall time and peak memory of every attack, of the default suite, and of shadow-membership.

Run on demand (each measurement runs in its own child process, so peak memory is that
process's own high-water mark)::

    .venv/bin/python benchmarks/attacks.py                       # adult, diabetes, adult-10x
    .venv/bin/python benchmarks/attacks.py --scenarios adult     # just adult
    .venv/bin/python benchmarks/attacks.py --scenarios --shadow  # only the shadow benchmark
    .venv/bin/python benchmarks/attacks.py --scenarios --shadow-job  # one shadow fit's cost
    .venv/bin/python benchmarks/attacks.py --scenarios diabetes --attacks dcr-membership

Scenarios (training/control split 80/20, seeded):

- ``adult``: ``../shared/data/adult.csv``, 48,842 rows -> 39,073 training, 9,769 control,
  39,073 synthetic rows, declared schema (census code book ranges).
- ``diabetes``: ``../shared/data/diabetes130.csv.gz``, 101,766 hospital encounters, 50 columns
  (``encounter_id`` and ``patient_nbr`` dropped as identifiers; schema inferred).
- ``adult-10x``: adult's rows resampled with replacement to 488,420 rows (10x).

The synthetic table is the ``leaky`` generator's output at ``fraction = 0.01`` (1% verbatim
copies, the rest independent marginals): attack cost depends on table sizes and widths, not on
how good the synthetic rows are, and ``leaky`` samples in seconds where a DP generator would
train for minutes on each scenario. ``--shadow`` measures shadow-membership with the real
``dpsgd-vae`` generator (epsilon 1): K = 8 shadow fits per target, 10 targets, per-target design
(80 fits), on local processes (joblib).

"default suite" = every registered attack with ``default = True`` (all but
shadow-membership), run one after another in one process, as ``privgate audit`` does; metrics
are not included. Writes ``benchmarks/results/attacks.json`` and ``.md``. Timings depend on
what else the machine runs: say so when quoting them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pickle
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results"
SCENARIOS = ("adult", "diabetes", "adult-10x")
SEED = 0


# -- data ------------------------------------------------------------------------------------

def _adult() -> tuple[pd.DataFrame, Any]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from distinguishability import adult_schema  # the benchmark's declared adult schema

    from privgate.tables import conform

    df = pd.read_csv(DATA / "adult.csv").drop(columns=["split"])
    schema = adult_schema(df)
    return conform(df, schema, where="adult.csv"), schema


def _diabetes() -> tuple[pd.DataFrame, Any]:
    from privgate.schema import Role, infer_schema
    from privgate.tables import conform

    path = DATA / "diabetes130.csv.gz"
    df = pd.read_csv(path, na_values="?", keep_default_na=False)
    roles = {"encounter_id": Role.DIRECT_IDENTIFIER, "patient_nbr": Role.DIRECT_IDENTIFIER,
             "readmitted": Role.TARGET}
    schema = infer_schema(df, max_categories=1000, roles=roles)
    modelled = [c.name for c in schema.modelled]
    schema = schema.select(modelled)
    return conform(df[modelled], schema, where=str(path)), schema


def prepare(scenario: str, folder: Path) -> Path:
    """Split the scenario's table, make its synthetic table, pickle everything for workers."""
    from privgate.plugins.generators.leaky.generator import LeakyGenerator
    from privgate.tables import split

    if scenario == "diabetes":
        df, schema = _diabetes()
    else:
        df, schema = _adult()
        if scenario == "adult-10x":
            rng = np.random.default_rng(SEED)
            df = df.iloc[rng.choice(len(df), size=10 * len(df), replace=True)]
            df = df.reset_index(drop=True)
    train, control = split(df, 0.2, SEED)
    gen = LeakyGenerator(fraction=0.01).fit(train, schema, None, seed=SEED)
    synthetic = gen.sample(len(train), seed=SEED)
    path = folder / f"{scenario}.pkl"
    with path.open("wb") as fh:
        pickle.dump({"train": train, "control": control, "synthetic": synthetic,
                     "schema": schema}, fh)
    return path


# -- one measurement (child process) ---------------------------------------------------------

def _peak_mib() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return round(own, 1), round(kids, 1)


def worker(pkl: str, what: str) -> dict[str, Any]:
    from privgate import AttackContext
    from privgate.executor import JoblibExecutor
    from privgate.registry import build_registry

    with open(pkl, "rb") as fh:
        d = pickle.load(fh)
    registry = build_registry()
    names = ([n for n in sorted(registry.attacks) if registry.attack(n).default]
             if what == "suite" else [what])
    executor = JoblibExecutor(-1)
    ctx = AttackContext(d["train"], d["control"], d["synthetic"], d["schema"], SEED,
                        executor=executor)
    loaded_mib = _peak_mib()[0]
    per: dict[str, Any] = {}
    t_all = time.perf_counter()
    for name in names:
        t0 = time.perf_counter()
        try:
            r = registry.attack(name)().run(ctx)
            per[name] = {"seconds": round(time.perf_counter() - t0, 2), "risk": r.risk,
                         "auroc": None if r.auroc is None else r.auroc.value}
        except Exception as exc:  # noqa: BLE001 -- recorded in the benchmark
            per[name] = {"seconds": round(time.perf_counter() - t0, 2),
                         "error": f"{type(exc).__name__}: {exc}"}
    own, kids = _peak_mib()
    return {"what": what, "seconds": round(time.perf_counter() - t_all, 2),
            "peak_rss_mib": own, "peak_rss_workers_mib": kids,
            "rss_after_loading_mib": loaded_mib, "attacks": per,
            "rows": {k: int(len(d[k])) for k in ("train", "control", "synthetic")},
            "columns": int(len(d["train"].columns))}


def shadow_worker(pkl: str) -> dict[str, Any]:
    """Fit dpsgd-vae on adult's training rows, then run shadow-membership (80 shadow fits)."""
    from privgate import AttackContext
    from privgate.attacks.shadow_membership import ShadowMembership
    from privgate.executor import JoblibExecutor
    from privgate.generator import PrivacyBudget
    from privgate.plugins.generators.vae.generator import DPSGDVAE

    with open(pkl, "rb") as fh:
        d = pickle.load(fh)
    budget = PrivacyBudget(1.0, 1e-5)
    t0 = time.perf_counter()
    gen = DPSGDVAE().fit(d["train"], d["schema"], budget, seed=SEED)
    synthetic = gen.sample(len(d["train"]), seed=SEED)
    fit_s = time.perf_counter() - t0
    params = {"n_targets": 10, "n_shadows": 8, "design": "per-target"}
    ctx = AttackContext(d["train"], d["control"], synthetic, d["schema"], SEED,
                        generator=gen, budget=budget, executor=JoblibExecutor(-1))
    t1 = time.perf_counter()
    r = ShadowMembership(**params).run(ctx)
    seconds = time.perf_counter() - t1
    own, kids = _peak_mib()
    return {"what": "shadow-membership", "generator": "dpsgd-vae (epsilon 1, defaults)",
            "audited_fit_and_sample_seconds": round(fit_s, 1), "seconds": round(seconds, 1),
            "params": params, "shadow_fits": r.details["shadow_fits"],
            "shadow_rows": r.details["shadow_rows"], "risk": r.risk,
            "auroc": r.auroc.value if r.auroc else None,
            "auroc_ci": ([r.auroc.interval.low, r.auroc.interval.high] if r.auroc else None),
            "shadow_auroc": r.details["shadow"]["auroc"],
            "peak_rss_mib": own, "peak_rss_workers_mib": kids,
            "executor": r.details["executor"]}


def shadow_job_worker(pkl: str) -> dict[str, Any]:
    """The unit cost of shadow-membership: one dpsgd-vae shadow fit (1,000 control rows),
    one sample as large as the training table, one target featurised; one torch thread."""
    import torch

    from privgate.attacks.shadow_membership import ShadowJob, run_shadow_job
    from privgate.generator import PrivacyBudget
    from privgate.plugins.generators.vae.generator import DPSGDVAE

    with open(pkl, "rb") as fh:
        d = pickle.load(fh)
    torch.set_num_threads(1)
    job = ShadowJob(DPSGDVAE, {}, d["schema"], PrivacyBudget(1.0, 1e-5),
                    d["control"].iloc[:1000], len(d["train"]), SEED,
                    d["control"].iloc[2000:2001], 5)
    wall, cpu = time.perf_counter(), time.process_time()
    run_shadow_job(job)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"what": "shadow-job", "seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
            "estimate_80_fits_2_quiet_cores_s": round(80 * cpu / 2, 0),
            "peak_rss_mib": _peak_mib()[0]}


# -- orchestration ---------------------------------------------------------------------------

def _child(args: list[str], timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, __file__, *args]
    t0 = time.perf_counter()
    # own session, so that a timeout also ends the child's joblib workers
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"what": args[-1], "error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        return {"what": args[-1], "error": stderr.strip().splitlines()[-1:],
                "wall_s": round(time.perf_counter() - t0, 1)}
    return json.loads(stdout.strip().splitlines()[-1])


def _markdown(doc: dict[str, Any]) -> str:
    lines = [f"# Attack benchmark ({doc['date']})", "",
             f"Machine: {doc['machine']}. {doc['note']}", ""]
    suites = {r["scenario"]: r for r in doc["runs"] if r.get("what") == "suite"}
    if suites:
        lines += ["## Default suite (every attack but shadow-membership), one process", "",
                  "| scenario | train / control / synthetic rows | columns | wall s | peak RSS "
                  "MiB | workers' peak MiB |", "|---|---|---|---|---|---|"]
        for sc, r in suites.items():
            if "error" in r:
                lines.append(f"| {sc} | - | - | error: {r['error']} | - | - |")
                continue
            rows = r["rows"]
            lines.append(f"| {sc} | {rows['train']:,} / {rows['control']:,} / "
                         f"{rows['synthetic']:,} | {r['columns']} | {r['seconds']} | "
                         f"{r['peak_rss_mib']:,.0f} | {r['peak_rss_workers_mib']:,.0f} |")
        names = sorted({n for r in suites.values() for n in r.get("attacks", {})})
        lines += ["", "Per attack inside the suite (seconds):", "",
                  "| attack | " + " | ".join(suites) + " |",
                  "|---|" + "---|" * len(suites)]
        for n in names:
            cells = []
            for r in suites.values():
                a = r.get("attacks", {}).get(n, {})
                cells.append("error" if "error" in a else str(a.get("seconds", "-")))
            lines.append(f"| {n} | " + " | ".join(cells) + " |")
    if doc.get("growth"):
        lines += ["", "## Growth with rows (adult-10x / adult)", ""]
        for k, v in doc["growth"].items():
            lines.append(f"- {k}: {v}")
    singles = [r for r in doc["runs"]
               if r.get("what") not in ("suite", "shadow-membership", "shadow-job")]
    if singles:
        lines += ["", "## Each attack alone (own process)", "",
                  "| scenario | attack | wall s | peak RSS MiB |", "|---|---|---|---|"]
        for r in singles:
            if "error" in r:
                lines.append(f"| {r['scenario']} | {r['what']} | error | - |")
            else:
                lines.append(f"| {r['scenario']} | {r['what']} | {r['seconds']} | "
                             f"{r['peak_rss_mib']:,.0f} |")
    shadow = [r for r in doc["runs"] if r.get("what") in ("shadow-membership", "shadow-job")]
    for r in shadow:
        lines += ["", f"## {r['what']} on adult (dpsgd-vae, epsilon 1)", ""]
        lines += [f"- {k}: {v}" for k, v in r.items() if k != "what"]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", nargs="*", default=list(SCENARIOS), choices=SCENARIOS)
    ap.add_argument("--each", action="store_true",
                    help="also time every attack alone in its own process (peak memory each)")
    ap.add_argument("--attacks", nargs="+", metavar="NAME",
                    help="time only these attacks, each alone in its own process (no suite)")
    ap.add_argument("--shadow", action="store_true",
                    help="also run shadow-membership (dpsgd-vae, K=8, 10 targets)")
    ap.add_argument("--shadow-job", action="store_true",
                    help="also time one shadow fit (the unit cost of shadow-membership)")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per measurement")
    ap.add_argument("--worker", nargs=2, metavar=("PICKLE", "WHAT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        pkl, what = args.worker
        result = (shadow_worker(pkl) if what == "shadow-membership" else
                  shadow_job_worker(pkl) if what == "shadow-job" else worker(pkl, what))
        print(json.dumps(result))
        return 0
    if not (DATA / "adult.csv").exists():
        print(f"{DATA} not found", file=sys.stderr)
        return 2
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in args.scenarios:
            pkl = prepare(scenario, Path(tmp))
            if args.attacks:
                for name in args.attacks:
                    print(f"{scenario}: {name} ...", file=sys.stderr, flush=True)
                    runs.append({"scenario": scenario,
                                 **_child(["--worker", str(pkl), name], args.timeout)})
                    print(json.dumps(runs[-1])[:300], file=sys.stderr, flush=True)
                continue
            print(f"{scenario}: default suite ...", file=sys.stderr, flush=True)
            runs.append({"scenario": scenario, **_child(["--worker", str(pkl), "suite"],
                                                       args.timeout)})
            print(json.dumps(runs[-1])[:400], file=sys.stderr, flush=True)
            if args.each:
                for name in runs[-1].get("attacks", {}):
                    runs.append({"scenario": scenario,
                                 **_child(["--worker", str(pkl), name], args.timeout)})
        if args.shadow_job:
            pkl = Path(tmp) / "adult.pkl"
            if not pkl.exists():
                pkl = prepare("adult", Path(tmp))
            runs.append({"scenario": "adult",
                         **_child(["--worker", str(pkl), "shadow-job"], args.timeout)})
        if args.shadow:
            pkl = Path(tmp) / "adult.pkl"
            if not pkl.exists():
                pkl = prepare("adult", Path(tmp))
            print("adult: shadow-membership ...", file=sys.stderr, flush=True)
            runs.append({"scenario": "adult",
                         **_child(["--worker", str(pkl), "shadow-membership"], args.timeout)})
            print(json.dumps(runs[-1])[:400], file=sys.stderr, flush=True)
    suites = {r["scenario"]: r for r in runs if r.get("what") == "suite" and "error" not in r}
    growth = {}
    if "adult" in suites and "adult-10x" in suites:
        a, b = suites["adult"], suites["adult-10x"]
        growth["default suite wall time"] = f"{b['seconds'] / a['seconds']:.2f}x"
        growth["default suite peak RSS"] = f"{b['peak_rss_mib'] / a['peak_rss_mib']:.2f}x"
        for n, v in a["attacks"].items():
            w = b["attacks"].get(n, {})
            if "seconds" in v and "seconds" in w and "error" not in w and v["seconds"] > 0:
                growth[n] = f"{w['seconds'] / v['seconds']:.2f}x time"
    out_json = RESULTS / "attacks.json"
    previous: dict[str, Any] = {}
    if out_json.exists():  # keep measurements of scenarios not re-run this time
        previous = json.loads(out_json.read_text())
    kept = [r for r in previous.get("runs", [])
            if not any(r.get("scenario") == n.get("scenario") and r.get("what") == n.get("what")
                       for n in runs)]
    doc = {"date": dt.date.today().isoformat(),
           "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, Python "
                      f"{platform.python_version()}",
           "note": ("Measured while other engineers' jobs shared the 2 cores: wall times are "
                    "inflated by their load and vary between runs."),
           "runs": kept + runs, "growth": growth or previous.get("growth", {})}
    RESULTS.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(doc, indent=2) + "\n")
    (RESULTS / "attacks.md").write_text(_markdown(doc))
    print(_markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
