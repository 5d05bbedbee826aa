"""How long the ledger's data-set fingerprint takes, against writing the table out as CSV.

The fingerprint (``privgate.tables.fingerprint``) is hashed column by column with numpy, not
through a CSV dump (the old canonical form). This measures both on a synthetic table of mixed
column kinds (integers, floats, strings with missing values, floats with NaN)::

    nice -n 10 .venv/bin/python benchmarks/fingerprint.py --rows 200000 1000000

Results: ``benchmarks/results/fingerprint.json`` and ``fingerprint.md``. Timings belong here,
not in tests (a busy CI machine would make a timing assertion fail at random).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from privgate.tables import fingerprint

RESULTS = Path(__file__).resolve().parent / "results"


def table(n: int, columns: int = 50, seed: int = 0) -> pd.DataFrame:
    """``n`` rows of ``columns`` columns, five kinds in turn."""
    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {}
    for i in range(columns):
        kind = i % 5
        if kind == 0:
            cols[f"c{i}"] = rng.integers(0, 100, n)
        elif kind == 1:
            cols[f"c{i}"] = rng.normal(size=n)
        elif kind == 2:
            cols[f"c{i}"] = pd.Series(rng.choice(["alpha", "beta", "gamma", None], n),
                                      dtype=object)
        elif kind == 3:
            cols[f"c{i}"] = pd.Series(rng.choice(["x", "y", "z"], n)).astype("str")
        else:
            cols[f"c{i}"] = np.where(rng.random(n) < 0.1, np.nan,
                                     rng.integers(0, 1000, n).astype(float))
    return pd.DataFrame(cols)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="+", default=[200_000, 1_000_000])
    args = ap.parse_args()
    rows = []
    for n in args.rows:
        df = table(n)
        start = time.perf_counter()
        fingerprint(df)
        took = time.perf_counter() - start
        start = time.perf_counter()
        df.to_csv(index=False, lineterminator="\n").encode("utf-8")
        csv = time.perf_counter() - start
        rows.append({"rows": n, "columns": 50, "fingerprint_s": round(took, 2),
                     "csv_s": round(csv, 2), "ratio": round(csv / took, 1)})
        print(rows[-1], flush=True)
    meta = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
                       f"{platform.python_version()}", "load_average": os.getloadavg()}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fingerprint.json").write_text(json.dumps({"meta": meta, "rows": rows},
                                                         indent=1) + "\n")
    md = ["# Ledger fingerprint against a CSV dump", "",
          f"`benchmarks/fingerprint.py`; {meta['machine']}; load average before: "
          f"{meta['load_average']}.", "", "| rows x columns | fingerprint s | CSV s | CSV / "
          "fingerprint |", "|---|---|---|---|"]
    md += [f"| {r['rows']:,} x 50 | {r['fingerprint_s']} | {r['csv_s']} | {r['ratio']} |"
           for r in rows]
    (RESULTS / "fingerprint.md").write_text("\n".join(md) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
