"""Calibration on planted ground truth: attacks on the ``leaky`` generator over full UCI Adult.

Run on demand::

    .venv/bin/python benchmarks/calibration.py [--fractions 0 0.001 0.01 0.1 1] [--seed 0]

Splits all 48,842 rows of ``../shared/data/adult.csv`` into a seeded 70% training part and a
30% control part (the audit's default), fits the calibration-only ``leaky`` generator (copies a
fraction f of the training rows verbatim, the rest from independent marginals) for each f,
samples as many rows as it was trained on, and runs every registered membership attack and
``identity-disclosure``. Writes ``benchmarks/results/calibration.json`` and ``.md``: estimate,
interval, baseline and planted truth per attack and f, and each built-in policy's verdict.
Timings are wall-clock on a shared machine (other processes compete for the CPU).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from privgate.registry import build_registry
from privgate.tables import split

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibration_harness import FRACTIONS, MEMBERSHIP_ATTACKS, run_calibration  # noqa: E402
from distinguishability import ADULT, RESULTS, adult_schema  # noqa: E402


def _fmt(v: Any) -> str:
    return "-" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    out = ["# Calibration on planted ground truth (leaky generator, UCI Adult)", "",
           f"{meta['n_train']:,} training rows, {meta['n_control']:,} control rows, seed "
           f"{meta['seed']}, {meta['confidence_level']:.0%} intervals. Truth: identity "
           "disclosure = (1/n) sum over planted copies of 1/f_s; membership advantage = f. "
           f"Not registered, so not run: {', '.join(meta['skipped']) or 'none'}. "
           f"Total {meta['seconds']:.0f} s wall-clock on a shared machine.", "",
           "| f | attack | estimate | interval | baseline | truth | AUROC | AUROC interval | "
           "TPR@FPR 0.001 | expert-determination-0.09 | strict-0.04pct | s |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        auc_ci = r.get("auroc_ci")
        tpr = (r.get("tpr_at_fpr") or {}).get("0.001")
        v = r.get("policy_verdicts", {})
        out.append(
            f"| {r['fraction']} | {r['attack']} | {_fmt(r['estimate'])} | "
            f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}] | {_fmt(r['baseline'])} | "
            f"{_fmt(r['truth'])} | {_fmt(r.get('auroc'))} | "
            f"{'-' if not auc_ci else f'[{_fmt(auc_ci[0])}, {_fmt(auc_ci[1])}]'} | "
            f"{_fmt(tpr)} | {v.get('expert-determination-0.09', '-')} | "
            f"{v.get('strict-0.04pct', '-')} | {r['seconds']} |")
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fractions", type=float, nargs="+", default=list(FRACTIONS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-rows", type=int, default=None,
                    help="use a seeded sample of this many adult rows (quick runs)")
    args = ap.parse_args()
    if not ADULT.exists():
        print(f"{ADULT} not found", file=sys.stderr)
        return 2
    df = pd.read_csv(ADULT).drop(columns=["split"])
    if args.max_rows:
        df = df.sample(n=args.max_rows, random_state=args.seed).reset_index(drop=True)
    schema = adult_schema(df)
    train, control = split(df, 0.3, args.seed)
    train, control = train.reset_index(drop=True), control.reset_index(drop=True)
    registry = build_registry()
    started = time.perf_counter()
    rows = run_calibration(train, control, schema, registry, fractions=args.fractions,
                           seed=args.seed)
    meta = {"n_train": len(train), "n_control": len(control), "seed": args.seed,
            "confidence_level": 0.95, "fractions": args.fractions,
            "skipped": [a for a in MEMBERSHIP_ATTACKS if a not in registry.attacks],
            "seconds": round(time.perf_counter() - started, 1),
            "machine": platform.platform(), "note": "timings skewed by other processes on a "
            "shared 2-core machine"}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "calibration.json").write_text(json.dumps({"meta": meta, "rows": rows},
                                                         indent=2) + "\n")
    (RESULTS / "calibration.md").write_text(markdown(rows, meta))
    print(markdown(rows, meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
