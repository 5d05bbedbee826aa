"""Does ``dp-claim`` catch broken DP generators and spare honest ones, and how tight is the
white-box audit?

Run on demand (not part of the tests; about 1.5 hours on 2 shared CPU cores)::

    nice -n 10 .venv/bin/python benchmarks/dp_audit.py [--resume] [--seeds-honest 20]
        [--seeds-broken 10] [--whitebox-runs 5] [--tight-runs 200] [--tight-seeds 1]

(the recorded figures: ``--multi-run-seeds 10``, then the defaults, then ``--resume
--tight-seeds 2`` for a second tightness seed).

Writes ``benchmarks/results/dp_audit.json`` after every run (``--resume`` continues a run that
was stopped: what is in the file is not measured again) and ``dp_audit.md`` from it. On a small
table (600 people: 420 training rows, 180 control rows, declared domain, so no budget goes to
domains; each seed draws its own table) each generator is fitted at epsilon 1 (delta 1e-5),
sampled, and its claim held by core's ``dp-claim`` check (:func:`privgate.dp_claim.
assess_claim`) in two gate configurations:

* **black box**: ``dcr-membership``, ``low-fpr-membership`` and ``dp-audit`` (one run, 200
  canaries, one extra fit), all their evidence together;
* **white box** (DP-SGD generators only): ``dp-audit`` with ``whitebox = true`` and ``runs =
  R`` (``--whitebox-runs``, default 5): R x 1,000 Dirac gradient canaries through the
  generator's own trainer at the epsilon it claims (20 epochs of 10 expected batches), one
  operating point over the canary trials (:mod:`privgate.dp_whitebox`).

A generator is *flagged* when either configuration refutes its claim. The generators
(:mod:`dp_audit_generators`): BROKEN -- ``copier`` (outputs its rows, claims 1),
``vae-noise-off`` (dpsgd-vae with the noise off, claims 1), ``vae-misreported-rate`` (noise
calibrated, and epsilon 1 reported, for a sample rate 10x smaller than the one it trains with),
``vae-domain-copied`` (a domain read off the data, copied as if declared); HONEST --
``dpsgd-vae`` (200 epochs), ``dpsgd-ctgan`` and ``dpsgd-diffusion`` (their default epochs),
each calibrated by the opacus RDP accountant for epsilon 1, and ``dpsgd-vae-dp-domain`` (the
domain released under DP: the honest control of the domain copy, as many seeds as the broken).

Tightness: ``generator_whitebox_audit`` of dpsgd-vae's trainer at epsilon 1, 2 and 4 with
``--tight-runs`` runs (default 200) of 1,000 canaries, against the epsilon the trainer reports
(``--tight-seeds`` seeds each).
The multi-run rows (``dp-audit`` with ``mode = "multi-run"``, copier and honest Laplace
marginals) are kept from the last ``--multi-run-seeds N`` measurement. Timings are indicative
only (a shared machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from dp_audit_generators import (  # the sibling module (run as a script)
    DELTA,
    EPSILON,
    Copier,
    DomainCopiedVAE,
    Marginals,
    MisreportedRateVAE,
    NoiseOffVAE,
)

from privgate import AttackContext, Column, Generator, Kind, Role, Schema
from privgate.attacks.dcr_membership import DCRMembership
from privgate.attacks.dp_audit import DPAudit
from privgate.attacks.low_fpr_membership import LowFPRMembership
from privgate.dp import DPSGDGenerator
from privgate.dp_claim import assess_claim
from privgate.dp_whitebox import generator_whitebox_audit
from privgate.generator import PrivacyBudget
from privgate.plugins.generators.ctgan.generator import DPSGDCTGAN
from privgate.plugins.generators.diffusion.generator import DPSGDDiffusion
from privgate.plugins.generators.vae.generator import DPSGDVAE

RESULTS = Path(__file__).resolve().parent / "results"
DOC = RESULTS / "dp_audit.json"
SCHEMA = Schema((
    Column("age", Kind.INTEGER, Role.QUASI_IDENTIFIER, bounds=(18.0, 90.0)),
    Column("sex", Kind.CATEGORICAL, Role.QUASI_IDENTIFIER, categories=("f", "m")),
    Column("region", Kind.CATEGORICAL, Role.QUASI_IDENTIFIER,
           categories=tuple(f"r{i}" for i in range(6))),
    Column("income", Kind.CONTINUOUS, Role.SENSITIVE, bounds=(20_000.0, 90_000.0)),
    Column("diagnosis", Kind.CATEGORICAL, Role.SENSITIVE, categories=("a", "b", "c")),
))
VAE_EPOCHS, CANARIES = 200, 200
#: ``diagnosis`` with its categories read off the data (what ``infer_schema`` would mark).
READ_OFF = Schema(tuple(replace(c, data_dependent=True) if c.name == "diagnosis" else c
                        for c in SCHEMA.columns))
BROKEN = ("copier", "vae-noise-off", "vae-misreported-rate", "vae-domain-copied")
HONEST = ("dpsgd-vae", "dpsgd-ctgan", "dpsgd-diffusion")
CONTROL = ("dpsgd-vae-dp-domain",)  # honest, seeded like the broken
MAKE = {"copier": Copier, "vae-noise-off": lambda: NoiseOffVAE(epochs=VAE_EPOCHS),
        "vae-misreported-rate": lambda: MisreportedRateVAE(epochs=VAE_EPOCHS),
        "vae-domain-copied": lambda: DomainCopiedVAE(epochs=VAE_EPOCHS),
        "dpsgd-vae": lambda: DPSGDVAE(epochs=VAE_EPOCHS),
        "dpsgd-vae-dp-domain": lambda: DPSGDVAE(epochs=VAE_EPOCHS),
        "dpsgd-ctgan": DPSGDCTGAN, "dpsgd-diffusion": DPSGDDiffusion}


def people(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.integers(18, 91, n), "sex": rng.choice(["f", "m"], n),
                         "region": rng.choice([f"r{i}" for i in range(6)], n),
                         "income": np.round(rng.uniform(20_000, 90_000, n), 2),
                         "diagnosis": rng.choice(["a", "b", "c"], n)})


def _claim(kind: str, gen: Generator, results: list[tuple[str, Any, None]]) -> dict[str, Any]:
    claim = assess_claim(kind, gen.privacy_spent, gated=True, level=0.95, attacks=results)
    by_kind: dict[str, float] = {}
    for row in claim.points:
        by_kind[row["kind"]] = max(by_kind.get(row["kind"], 0.0), row["epsilon_lower_bound"])
    return {"status": claim.status, "bound": claim.epsilon_lower_bound, "by_kind": by_kind}


def one_run(kind: str, seed: int, whitebox_runs: int) -> dict[str, Any]:
    """Fit, sample, attack; hold each configuration's evidence against the claim."""
    data = people(600, 1000 + seed)
    train, control = data.iloc[:420].reset_index(drop=True), data.iloc[420:].reset_index(
        drop=True)
    gen: Generator = MAKE[kind]()
    schema = READ_OFF if "domain" in kind else SCHEMA
    budget = PrivacyBudget(EPSILON, DELTA)
    start = time.perf_counter()
    gen.fit(train, schema, budget, seed=seed)
    synthetic = gen.sample(len(train), seed=seed)
    fit_s = time.perf_counter() - start
    ctx = AttackContext(train, control, synthetic, schema, seed=seed, generator=gen,
                        budget=budget)
    results, times = [], {}
    for attack in (DCRMembership(), LowFPRMembership(), DPAudit(n_canaries=CANARIES)):
        t0 = time.perf_counter()
        results.append((attack.name, attack.run(ctx), None))
        times[attack.name] = round(time.perf_counter() - t0, 2)
    out = {"generator": kind, "seed": seed, "claimed_epsilon": gen.privacy_spent.epsilon,
           "black_box": _claim(kind, gen, results), "white_box": None,
           "fit_s": round(fit_s, 2), "attack_s": times,
           "true_epsilon": gen.privacy_spent.details.get("true_epsilon")}
    if isinstance(gen, DPSGDGenerator):
        t0 = time.perf_counter()
        wb = DPAudit(whitebox=True, runs=whitebox_runs).run(ctx)
        times["dp-audit white box"] = round(time.perf_counter() - t0, 2)
        (pt,) = wb.operating_points
        out["white_box"] = {**_claim(kind, gen, [("dp-audit", wb, None)]),
                            "runs": whitebox_runs, "counts": pt.to_dict(),
                            "noise_multiplier": wb.details["noise_multiplier"]}
    out["flagged"] = any(c is not None and c["status"] == "fail"
                         for c in (out["black_box"], out["white_box"]))
    return out


def tightness(epsilon: float, seed: int, runs: int) -> dict[str, Any]:
    """dpsgd-vae's trainer audited white-box with ``runs`` x 1,000 canaries at ``epsilon``."""
    t0 = time.perf_counter()
    a = generator_whitebox_audit(DPSGDVAE(), epsilon, DELTA, runs=runs, seed=seed)
    assert a.point is not None
    return {"epsilon": epsilon, "seed": seed, "runs": runs, "claimed_epsilon":
            a.claimed_epsilon, "bound": a.epsilon_lower_bound, "threshold": a.threshold,
            "noise_multiplier": a.noise_multiplier, "sample_rate": a.sample_rate,
            "steps": a.steps, "counts": a.point.to_dict(),
            "seconds": round(time.perf_counter() - t0, 1)}


def multi_run(kind: str, seed: int, runs: int = 100) -> dict[str, Any]:
    """A multi-run dp-audit (one canary over ``runs`` fits) of a cheap generator."""
    data = people(600, 1000 + seed)
    train, control = data.iloc[:420].reset_index(drop=True), data.iloc[420:].reset_index(
        drop=True)
    gen: Generator = Copier() if kind == "copier" else Marginals()
    budget = PrivacyBudget(EPSILON, DELTA)
    gen.fit(train, SCHEMA, budget, seed=seed)
    ctx = AttackContext(train, control, gen.sample(len(train), seed=seed), SCHEMA, seed=seed,
                        generator=gen, budget=budget)
    t0 = time.perf_counter()
    result = DPAudit(mode="multi-run", runs=runs).run(ctx)
    claim = assess_claim(kind, gen.privacy_spent, gated=True, level=0.95,
                         attacks=[("dp-audit", result, None)])
    (pt,) = result.operating_points
    return {"generator": kind, "seed": seed, "runs": runs, "status": claim.status,
            "bound": claim.epsilon_lower_bound, "counts": pt.to_dict(),
            "seconds": round(time.perf_counter() - t0, 2)}


def _save(doc: dict[str, Any]) -> None:
    """Write the document (atomically: a stopped run leaves the last complete one)."""
    RESULTS.mkdir(exist_ok=True)
    tmp = DOC.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp, DOC)
    write_markdown(doc)


def plan(args: argparse.Namespace) -> list[tuple[str, Any, int]]:
    """What to measure, interleaved by seed (a stopped run is balanced across generators)."""
    todo: list[tuple[str, Any, int]] = []
    for seed in range(max(args.seeds_honest, args.seeds_broken)):
        todo += [("run", k, seed) for k in HONEST if seed < args.seeds_honest]
        todo += [("run", k, seed) for k in (*BROKEN, *CONTROL) if seed < args.seeds_broken]
    for seed in range(args.tight_seeds):
        todo += [("tight", eps, seed) for eps in (4.0, 2.0, 1.0)]
    return todo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds-honest", type=int, default=20)
    parser.add_argument("--seeds-broken", type=int, default=10)
    parser.add_argument("--whitebox-runs", type=int, default=5)
    parser.add_argument("--tight-runs", type=int, default=200)
    parser.add_argument("--tight-seeds", type=int, default=1)
    parser.add_argument("--resume", action="store_true",
                        help="keep what dp_audit.json holds and measure only the rest")
    parser.add_argument("--markdown-only", action="store_true",
                        help="rewrite dp_audit.md from dp_audit.json, measuring nothing")
    parser.add_argument("--multi-run-seeds", type=int, default=0, metavar="N",
                        help="re-measure only the multi-run rows: N seeds of the copier, 2N "
                             "of the honest marginals")
    args = parser.parse_args()
    old = json.loads(DOC.read_text()) if DOC.exists() else {}
    if args.markdown_only:
        write_markdown(old)
        return
    if args.multi_run_seeds:
        t0 = time.perf_counter()
        old["multi_run"] = [multi_run(kind, seed) for kind, n in (
            ("copier", args.multi_run_seeds), ("dp-marginals", 2 * args.multi_run_seeds))
            for seed in range(n)]
        old["multi_run_s"] = round(time.perf_counter() - t0, 1)
        _save(old)
        return
    settings = {"epsilon": EPSILON, "delta": DELTA, "vae_epochs": VAE_EPOCHS,
                "canaries": CANARIES, "rows": {"train": 420, "control": 180}, "level": 0.95,
                "whitebox_runs": args.whitebox_runs, "tight_runs": args.tight_runs}
    keep = args.resume and old.get("settings") == settings
    doc = {"settings": settings, "runs": old.get("runs", []) if keep else [],
           "tightness": old.get("tightness", []) if keep else [],
           "multi_run": old.get("multi_run", []), "multi_run_s": old.get("multi_run_s"),
           "total_s": old.get("total_s", 0.0) if keep else 0.0,
           "machine": {"python": platform.python_version(), "platform": platform.platform()}}
    done = {("run", r["generator"], r["seed"]) for r in doc["runs"]} | {
        ("tight", t["epsilon"], t["seed"]) for t in doc["tightness"]}
    for what, kind, seed in plan(args):
        if (what, kind, seed) in done:
            continue
        t0 = time.perf_counter()
        if what == "run":
            doc["runs"].append(one_run(kind, seed, args.whitebox_runs))
        else:
            doc["tightness"].append(tightness(kind, seed, args.tight_runs))
        doc["total_s"] = round(doc["total_s"] + time.perf_counter() - t0, 1)
        print(what, kind, seed, round(time.perf_counter() - t0, 1), flush=True)
        _save(doc)
    _save(doc)


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per generator: seeds, flagged by each configuration and by either, the bounds."""
    out = {}
    for kind in (*BROKEN, *HONEST, *CONTROL):
        mine = [r for r in runs if r["generator"] == kind]
        if not mine:
            continue
        wb = [r["white_box"] for r in mine if r["white_box"] is not None]
        bb = [r["black_box"]["bound"] for r in mine]
        out[kind] = {
            "broken": kind in BROKEN, "seeds": len(mine),
            "black_box_fail": sum(r["black_box"]["status"] == "fail" for r in mine),
            "white_box_fail": sum(w["status"] == "fail" for w in wb) if wb else None,
            "flagged": sum(r["flagged"] for r in mine),
            "black_box_bounds": (min(bb), float(np.median(bb)), max(bb)),
            "white_box_bounds": ((min(w["bound"] for w in wb),
                                  float(np.median([w["bound"] for w in wb])),
                                  max(w["bound"] for w in wb)) if wb else None),
            "claims": (min(r["claimed_epsilon"] for r in mine),
                       max(r["claimed_epsilon"] for r in mine))}
    return out


def _range(b: Any) -> str:
    return "-" if b is None else f"{b[0]:.3g} / {b[1]:.3g} / {b[2]:.3g}"


def write_markdown(doc: dict[str, Any]) -> None:
    """``dp_audit.md`` from the measured document (``--markdown-only`` rewrites it)."""
    if "settings" not in doc:  # only the multi-run rows so far
        return
    s, runs = doc["settings"], doc.get("runs", [])
    summary = summarise(runs)
    lines = ["# dp-claim and dp-audit: broken DP generators against honest ones", "",
             "`nice -n 10 .venv/bin/python benchmarks/dp_audit.py` (see its docstring): a "
             "600-person table per seed (420 training, 180 control rows; declared domain), "
             f"claim epsilon {s['epsilon']:g}, delta {s['delta']:g}, {s['level']:.0%} "
             f"confidence; {doc.get('total_s')} s of measuring in all (2 shared CPU cores). "
             "Black box: `dcr-membership`, `low-fpr-membership` and `dp-audit` (one run, "
             f"{s['canaries']} canaries, one extra fit) together. White box: `dp-audit` with "
             f"`whitebox = true, runs = {s['whitebox_runs']}` ({s['whitebox_runs']} x 1,000 "
             "Dirac canaries through the generator's own trainer, one operating point over the "
             "canary trials). Flagged: refuted by either.", "",
             "| generator | kind | seeds | refuted black box | refuted white box | flagged | "
             "black-box bound min / median / max | white-box bound min / median / max |",
             "|---|---|---|---|---|---|---|---|"]
    for kind, x in summary.items():
        wb = "-" if x["white_box_fail"] is None else f"{x['white_box_fail']}/{x['seeds']}"
        lines.append(f"| {kind} | {'BROKEN' if x['broken'] else 'honest'} | {x['seeds']} | "
                     f"{x['black_box_fail']}/{x['seeds']} | {wb} | "
                     f"{x['flagged']}/{x['seeds']} | {_range(x['black_box_bounds'])} | "
                     f"{_range(x['white_box_bounds'])} |")
    tight = doc.get("tightness", [])
    if tight:
        lines += ["", "Tightness: `privgate.dp_whitebox.generator_whitebox_audit` of dpsgd-vae's "
                  "trainer (sample rate 0.1, 200 steps, opacus RDP accountant), runs x 1,000 "
                  "canaries, threshold fixed in advance from the declared mechanism, "
                  "Clopper-Pearson on all canary trials at 95%:", "",
                  "| target epsilon | seed | claimed (trainer) | runs | bound | bound / claim | "
                  "in: flagged / trials | out: flagged / trials | s |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for t in sorted(tight, key=lambda t: (t["epsilon"], t["seed"])):
            c = t["counts"]
            lines.append(f"| {t['epsilon']:g} | {t['seed']} | {t['claimed_epsilon']:.3g} | "
                         f"{t['runs']} | "
                         f"{t['bound']:.3g} | {t['bound'] / t['claimed_epsilon']:.2f} | "
                         f"{c['members_flagged']}/{c['members']} | {c['nonmembers_flagged']}/"
                         f"{c['nonmembers']} | {t['seconds']} |")
    multi = doc.get("multi_run") or []
    if multi:
        lines += ["", "Multi-run (`dp-audit` with `mode = \"multi-run\"`: one canary in or out "
                  f"of each of {multi[0]['runs']} fits by a coin toss; `--multi-run-seeds`, "
                  f"{doc.get('multi_run_s')} s):", "",
                  "| generator | seeds | refuted | bound min / median / max |",
                  "|---|---|---|---|"]
        for kind in dict.fromkeys(m["generator"] for m in multi):
            b = [m["bound"] for m in multi if m["generator"] == kind]
            lines.append(f"| {kind} | {len(b)} | "
                         f"{sum(m['status'] == 'fail' for m in multi if m['generator'] == kind)}"
                         f" | {min(b):.3g} / {float(np.median(b)):.3g} / {max(b):.3g} |")
    lines += ["", "Notes: the bound is the largest epsilon the configuration's evidence refutes "
              "at 95% (all its operating points and canary guess sets together, Bonferroni); "
              "it fails dp-claim when it exceeds the claim. Per-seed figures, counts and "
              "timings: `dp_audit.json`. What the figures say, and the tuning that led here: "
              "`dp_audit_notes.md`."]
    (RESULTS / "dp_audit.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
