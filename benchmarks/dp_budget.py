"""Measure the DP accounting helpers and DP domain estimation.

Run on demand (not part of the tests)::

    .venv/bin/python benchmarks/dp_budget.py

Writes ``benchmarks/results/dp_budget.json`` and ``.md``:

* opacus RDP / PRV epsilon vs Google's ``dp-accounting`` (RDP / PLD) for the same
  Poisson-subsampled Gaussian mechanism, with the relative gap and the time of each call;
* DP domains on UCI Adult (../shared/data/adult.csv, schema inferred) at epsilon 1 and several
  domain shares (the joint Gaussian release of :mod:`privgate.dp.domains`, sized as
  ``dpsgd-vae``'s defaults size it): the noise, the category threshold, share of rows inside
  the DP bounds per numeric column, categories released vs present, and how many cells
  ``conform_to_domains`` maps into the released lists.

Timings are wall-clock on a shared machine and only indicative.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from privgate.dp import conform_to_domains, domain_noise, privatize_domains, spent_epsilon
from privgate.generator import PrivacyBudget
from privgate.schema import NUMERIC_KINDS, Kind, infer_schema

RESULTS = Path(__file__).resolve().parent / "results"
ADULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "adult.csv"
MECHANISMS = [(1.0, 0.01, 1000, 1e-5), (0.8, 0.05, 200, 1e-6), (2.0, 0.001, 10_000, 1e-5),
              (1.2, 0.02, 50, 1e-5), (0.6, 0.004, 3000, 1e-5)]


def _timed(fn: Any, *args: Any) -> tuple[float, float]:
    start = time.perf_counter()
    value = float(fn(*args))
    return value, round(time.perf_counter() - start, 3)


def accounting() -> list[dict[str, Any]]:
    import dp_accounting
    from dp_accounting import pld, rdp
    from opacus.accountants import RDPAccountant

    rows = []
    for sigma, q, steps, delta in MECHANISMS:
        event = dp_accounting.SelfComposedDpEvent(
            dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma)), steps)

        def google_rdp(event: Any = event, delta: float = delta) -> float:
            acc = rdp.RdpAccountant(orders=RDPAccountant.DEFAULT_ALPHAS)
            return float(acc.compose(event).get_epsilon(delta))

        def google_pld(event: Any = event, delta: float = delta) -> float:
            acc = pld.PLDAccountant(value_discretization_interval=1e-4)
            return float(acc.compose(event).get_epsilon(delta))

        o_rdp, t_o_rdp = _timed(spent_epsilon, sigma, q, steps, delta, "rdp")
        o_prv, t_o_prv = _timed(spent_epsilon, sigma, q, steps, delta, "prv")
        g_rdp, t_g_rdp = _timed(google_rdp)
        g_pld, t_g_pld = _timed(google_pld)
        rows.append({"sigma": sigma, "sample_rate": q, "steps": steps, "delta": delta,
                     "opacus_rdp": o_rdp, "dp_accounting_rdp": g_rdp,
                     "rdp_rel_gap": o_rdp / g_rdp - 1, "opacus_prv": o_prv,
                     "dp_accounting_pld": g_pld, "prv_rel_gap": o_prv / g_pld - 1,
                     "seconds": {"opacus_rdp": t_o_rdp, "opacus_prv": t_o_prv,
                                 "dp_accounting_rdp": t_g_rdp, "dp_accounting_pld": t_g_pld}})
    return rows


def domains() -> list[dict[str, Any]]:
    if not ADULT.exists():
        return []
    df = pd.read_csv(ADULT).drop(columns=["split"])
    schema = infer_schema(df)
    budget = PrivacyBudget(1.0, 1e-5)
    out = []
    for share in (0.02, 0.05, 0.1, 0.3):
        sigma = domain_noise(budget, schema, share, n_rows=len(df), epochs=40, batch_size=None)
        assert sigma is not None
        new, spend = privatize_domains(df, schema, noise_multiplier=sigma, delta=1e-7,
                                       epsilon=1.0, rng=np.random.default_rng(0))
        cols: dict[str, Any] = {}
        for col in new.modelled:
            s = df[col.name]
            if col.kind in NUMERIC_KINDS and col.bounds is not None:
                x = s.dropna().to_numpy(dtype=float)
                inside = float(np.mean((x >= col.bounds[0]) & (x <= col.bounds[1])))
                cols[col.name] = {"bounds": list(col.bounds),
                                  "data_range": [float(x.min()), float(x.max())],
                                  "rows_inside": round(inside, 4)}
            elif col.kind is Kind.CATEGORICAL:
                cols[col.name] = {"released": len(col.categories or ()),
                                  "present": int(s.nunique())}
        _, mapped = conform_to_domains(df, new, spend.weights, np.random.default_rng(0))
        out.append({"domain_share": share, "noise_multiplier": sigma,
                    "noise_std": spend.details["noise_std"],
                    "category_threshold": spend.details["category_threshold"],
                    "delta_per_category": spend.details["delta_per_category"],
                    "delta": spend.delta, "cells_mapped": sum(mapped.values()),
                    "rows": len(df), "columns": cols})
    return out


def main() -> int:
    RESULTS.mkdir(exist_ok=True)
    figures = {"command": ".venv/bin/python benchmarks/dp_budget.py",
               "machine": platform.platform(), "accounting": accounting(),
               "domains_adult": domains()}
    (RESULTS / "dp_budget.json").write_text(json.dumps(figures, indent=2) + "\n")
    lines = ["# DP accounting and DP domains", "",
             f"`{figures['command']}` on {figures['machine']} (shared CPU: timings indicative).",
             "", "| sigma | q | steps | delta | opacus RDP | dp-acc RDP | gap | opacus PRV | "
             "dp-acc PLD | gap |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in figures["accounting"]:
        lines.append(f"| {r['sigma']} | {r['sample_rate']} | {r['steps']} | {r['delta']:g} | "
                     f"{r['opacus_rdp']:.4f} | {r['dp_accounting_rdp']:.4f} | "
                     f"{r['rdp_rel_gap']:+.2%} | {r['opacus_prv']:.4f} | "
                     f"{r['dp_accounting_pld']:.4f} | {r['prv_rel_gap']:+.2%} |")
    if figures["domains_adult"]:
        lines += ["", "## DP domains on Adult (48,842 rows, 15 columns, schema inferred, "
                  "epsilon 1, seed 0)", "",
                  "One Gaussian release for all 15 domains, composed with DP-SGD "
                  "(dpsgd-vae's default schedule) by the RDP accountant.", "",
                  "| domain share | noise multiplier | noise std (rows) | category threshold "
                  "(rows) | delta per category | cells mapped | numeric: min share inside "
                  "bounds | categories released / present |",
                  "|---|---|---|---|---|---|---|---|"]
        for d in figures["domains_adult"]:
            cols = d["columns"].values()
            inside = min(c["rows_inside"] for c in cols if "rows_inside" in c)
            rel = sum(c["released"] for c in cols if "released" in c)
            pres = sum(c["present"] for c in cols if "present" in c)
            lines.append(f"| {d['domain_share']} | {d['noise_multiplier']:.2f} | "
                         f"{d['noise_std']:.1f} | {d['category_threshold']:.0f} | "
                         f"{d['delta_per_category']:.2g} | {d['cells_mapped']:,} / "
                         f"{d['rows'] * 9:,} | {inside:.3f} | {rel} / {pres} |")
    (RESULTS / "dp_budget.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
