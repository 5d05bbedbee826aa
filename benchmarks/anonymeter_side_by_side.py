"""privgate's whole default attack suite against anonymeter's three evaluators alone, in one run.

Issue 15 asks whether privgate's audit costs more than running anonymeter by hand. On the same
Adult split and synthetic table (``benchmarks/attacks.py``'s ``adult`` scenario: 39,073
training, 9,769 control and 39,073 synthetic rows, the ``leaky`` generator at 1% copies), this
script runs, one after the other in one process:

1. privgate's default suite (every registered attack with ``default = True``, as
   ``privgate audit`` runs them, local processes for the work they spread);
2. anonymeter's own ``SinglingOutEvaluator``, ``LinkabilityEvaluator`` and one
   ``InferenceEvaluator`` per secret column, each asked for exactly the trials privgate's
   adapter ran (its ``n_trials`` and, for inference, every secret's ``n_attacks``), with the
   same mode, columns, auxiliary columns and neighbours, ``evaluate(n_jobs=-1)``.

Wall seconds of each step are written to ``benchmarks/results/anonymeter_side_by_side``
(``.json`` and ``.md``). Command::

    nice -n 5 .venv/bin/python benchmarks/anonymeter_side_by_side.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from attacks import SEED, prepare  # noqa: E402 (sibling script: the same adult scenario)

RESULTS = Path(__file__).resolve().parent / "results"
ANONYMETER = ("anonymeter-singling-out", "anonymeter-linkability", "anonymeter-inference")


def _clock() -> float:
    """Wall seconds. (CPU seconds are not reported: both sides hand work to joblib's worker
    processes, which stay alive and so never show in this process's resource usage.)"""
    return time.perf_counter()


def _since(start: float) -> dict[str, float]:
    return {"wall_s": round(time.perf_counter() - start, 2)}


def run_privgate(d: dict[str, Any]) -> dict[str, Any]:
    """The default suite, attack by attack; each result's trials and settings kept."""
    from privgate import AttackContext
    from privgate.executor import JoblibExecutor
    from privgate.registry import build_registry

    registry = build_registry()
    names = [n for n in sorted(registry.attacks) if registry.attack(n).default]
    ctx = AttackContext(d["train"], d["control"], d["synthetic"], d["schema"], SEED,
                        executor=JoblibExecutor(-1))
    per: dict[str, Any] = {}
    start = _clock()
    for name in names:
        t0 = _clock()
        result = registry.attack(name)().run(ctx)
        per[name] = {**_since(t0), "n_trials": result.n_trials, "risk": result.risk,
                     "details": result.details if name in ANONYMETER else None}
    return {"attacks": per, **_since(start)}


def run_anonymeter(d: dict[str, Any], privgate: dict[str, Any]) -> dict[str, Any]:
    """anonymeter's evaluators alone, at privgate's trial counts and settings."""
    from anonymeter.evaluators import (
        InferenceEvaluator,
        LinkabilityEvaluator,
        SinglingOutEvaluator,
    )

    from privgate.attacks._anonymeter import prepare as anonymeter_frames

    class _Ctx:  # what privgate's own preparation reads: the tables and the schema
        train, control, synthetic, schema = d["train"], d["control"], d["synthetic"], d["schema"]

    names = [c.name for c in d["schema"].modelled]
    data = anonymeter_frames(_Ctx(), names)  # type: ignore[arg-type]
    safe = data.safe
    ori, syn, control = data.train, data.synthetic, data.control
    out: dict[str, Any] = {}
    start = _clock()
    so = privgate["anonymeter-singling-out"]["details"]
    t0 = _clock()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ev = SinglingOutEvaluator(ori=ori, syn=syn, control=control,
                                  n_attacks=privgate["anonymeter-singling-out"]["n_trials"],
                                  n_cols=so["n_cols"])
        ev.evaluate(mode=so["mode"])
    out["singling-out"] = {**_since(t0), "mode": so["mode"], "risk": ev.risk().value,
                           "n_attacks": privgate["anonymeter-singling-out"]["n_trials"]}
    link = privgate["anonymeter-linkability"]["details"]
    t0 = _clock()
    aux = [[safe[c] for c in half] for half in link["aux_cols"]]
    ev_link = LinkabilityEvaluator(ori=ori, syn=syn, control=control,
                                   n_attacks=privgate["anonymeter-linkability"]["n_trials"],
                                   aux_cols=(aux[0], aux[1]), n_neighbors=link["n_neighbors"])
    ev_link.evaluate(n_jobs=-1)
    out["linkability"] = {**_since(t0), "n_attacks": privgate["anonymeter-linkability"]["n_trials"],
                          "risk": ev_link.risk().value}
    secrets: dict[str, Any] = {}
    t_inf = _clock()
    for secret, info in privgate["anonymeter-inference"]["details"]["per_secret"].items():
        t0 = _clock()
        ev_inf = InferenceEvaluator(ori=ori, syn=syn, control=control,
                                    aux_cols=[safe[c] for c in info["aux_cols"]],
                                    secret=safe[secret], regression=info["regression"],
                                    n_attacks=int(info["n_attacks"]))
        ev_inf.evaluate(n_jobs=-1)
        secrets[secret] = {**_since(t0), "n_attacks": int(info["n_attacks"]),
                           "risk": ev_inf.risk().value}
    out["inference"] = {**_since(t_inf), "per_secret": secrets}
    return {"evaluators": out, **_since(start)}


def markdown(doc: dict[str, Any]) -> str:
    p, a = doc["privgate"], doc["anonymeter"]
    md = ["# privgate's default suite vs anonymeter's three evaluators alone (Adult)", "",
          f"Measured {doc['measured']} in one run (privgate first, then anonymeter at the "
          f"trials privgate ran), `{doc['command']}`.",
          f"Rows: {doc['rows']}. Machine: {doc['machine']}; load average before / after "
          f"{doc['load_before']} / {doc['load_after']} (other engineers' jobs shared the 2 "
          "cores: wall times are inflated by their load).", "",
          "| run | wall s |", "|---|---|",
          f"| privgate, whole default suite ({len(p['attacks'])} attacks) | {p['wall_s']} |",
          f"| anonymeter alone, 3 evaluators at equal trials | {a['wall_s']} |",
          "", f"privgate / anonymeter wall time: **{p['wall_s'] / a['wall_s']:.2f}x**.", "",
          "| privgate attack | trials | wall s |", "|---|---|---|"]
    for name, r in p["attacks"].items():
        md.append(f"| {name} | {r['n_trials']:,} | {r['wall_s']} |")
    md += ["", "| anonymeter evaluator | trials | wall s |", "|---|---|---|"]
    ev = a["evaluators"]
    md.append(f"| SinglingOutEvaluator ({ev['singling-out']['mode']}) | "
              f"{ev['singling-out']['n_attacks']:,} | {ev['singling-out']['wall_s']} |")
    md.append(f"| LinkabilityEvaluator | {ev['linkability']['n_attacks']:,} | "
              f"{ev['linkability']['wall_s']} |")
    inf = ev["inference"]
    n = sum(s["n_attacks"] for s in inf["per_secret"].values())
    md.append(f"| InferenceEvaluator x {len(inf['per_secret'])} secrets | {n:,} in all | "
              f"{inf['wall_s']} |")
    md += ["", "Per secret (anonymeter alone): " + ", ".join(
        f"{k} {v['wall_s']} s" for k, v in inf["per_secret"].items()) + "."]
    return "\n".join(md) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--max-rows", type=int, default=None,
                    help="first N rows of each table (a quick check of the script; not a "
                         "figure)")
    args = ap.parse_args()
    import pickle

    load_before = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp, prepare("adult", Path(tmp)).open("rb") as fh:
        d = pickle.load(fh)
    if args.max_rows:
        d = {k: v.iloc[: args.max_rows].reset_index(drop=True) if k != "schema" else v
             for k, v in d.items()}
    # privgate first: anonymeter is then asked for the trials privgate actually ran
    privgate = run_privgate(d)
    print(json.dumps({k: v["wall_s"] for k, v in privgate["attacks"].items()}), flush=True)
    anonymeter = run_anonymeter(d, privgate["attacks"])
    doc = {"measured": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
           "command": "nice -n 5 .venv/bin/python benchmarks/anonymeter_side_by_side.py"
                      + (f" --max-rows {args.max_rows}" if args.max_rows else ""),
           "rows": {k: len(d[k]) for k in ("train", "control", "synthetic")},
           "machine": f"{platform.machine()}, {os.cpu_count()} CPU(s), Python "
                      f"{platform.python_version()}",
           "load_before": load_before, "load_after": [round(x, 2) for x in os.getloadavg()],
           "privgate": privgate, "anonymeter": anonymeter}
    for r in doc["privgate"]["attacks"].values():
        r.pop("details", None)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "anonymeter_side_by_side"
    out.with_suffix(".json").write_text(json.dumps(doc, indent=2, default=str) + "\n")
    out.with_suffix(".md").write_text(markdown(doc))
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
