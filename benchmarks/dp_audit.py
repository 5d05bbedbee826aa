"""Does ``dp-claim`` catch broken DP generators and spare honest ones?

Run on demand (not part of the tests; a few minutes on a small shared machine)::

    nice -n 10 .venv/bin/python benchmarks/dp_audit.py [--seeds-honest 3] [--seeds-broken 3]

Writes ``benchmarks/results/dp_audit.json`` and ``.md``. On a small table (600 people: 420
training rows, 180 control rows, declared domain, so no budget goes to domains) each
generator is fitted, sampled and attacked with ``dcr-membership``, ``low-fpr-membership`` and
``dp-audit`` (200 canaries, one extra fit), and core's ``dp-claim`` check
(:func:`privgate.dp_claim.assess_claim`) holds the evidence against the reported epsilon:

* ``copier`` -- BROKEN: outputs its training rows and reports epsilon 1;
* ``vae-noise-off`` -- BROKEN: ``dpsgd-vae`` trained with the noise switched off (``dp =
  false``, same schedule) while still reporting the epsilon 1 a DP fit would;
* ``dpsgd-vae`` -- honest, epsilon 1 (opacus RDP accountant).

``--extra`` adds rows to the measured document (the rows above are kept):

* ``vae-misreported-rate`` -- BROKEN: ``dpsgd-vae`` whose noise is calibrated, and whose epsilon
  1 is reported, for a sample rate 10x smaller than the Poisson rate it trains with (the bug of
  opacus #813); its true epsilon is given beside it;
* ``vae-domain-copied`` -- BROKEN: the ``diagnosis`` domain is read off the data (schema
  ``data_dependent``), and this ``dpsgd-vae`` takes the categories of the rows it is given
  (rare values copied exactly) as if declared, paying nothing; ``dpsgd-vae-dp-domain`` is the
  honest control (the same domain released under DP by the trainer);
* multi-run audits (``dp-audit`` with ``mode = "multi-run"``, 100 runs, one canary) of the
  copier and of an honest epsilon-1 Laplace-marginals generator (cheap fits; a VAE x 100 runs
  does not fit this machine's budget); ``--multi-run-seeds N`` re-measures only these, N seeds
  of the copier and 2N of the marginals;
* white box: privgate.dp at the noise the misreported rate calibrates, claiming epsilon 1; and
  ``dp-audit`` with ``whitebox = true`` (1,000 Dirac canaries through each fitted generator's
  own trainer, 20 epochs of 10 expected batches) on dpsgd-vae, vae-misreported-rate and
  vae-noise-off, the claim held by ``dp-claim``.

For each run: the status, the epsilon lower bound from the membership attacks' operating
points and from the canaries, the claim, and the wall-clock time. Timings are indicative only.
"""

from __future__ import annotations

import argparse
import json
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
    MISREPORT,
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
from privgate.dp.accounting import noise_multiplier_for
from privgate.dp_claim import assess_claim
from privgate.dp_whitebox import whitebox_audit
from privgate.generator import PrivacyBudget
from privgate.plugins.generators.vae.generator import DPSGDVAE

RESULTS = Path(__file__).resolve().parent / "results"
SCHEMA = Schema((
    Column("age", Kind.INTEGER, Role.QUASI_IDENTIFIER, bounds=(18.0, 90.0)),
    Column("sex", Kind.CATEGORICAL, Role.QUASI_IDENTIFIER, categories=("f", "m")),
    Column("region", Kind.CATEGORICAL, Role.QUASI_IDENTIFIER,
           categories=tuple(f"r{i}" for i in range(6))),
    Column("income", Kind.CONTINUOUS, Role.SENSITIVE, bounds=(20_000.0, 90_000.0)),
    Column("diagnosis", Kind.CATEGORICAL, Role.SENSITIVE, categories=("a", "b", "c")),
))
EPOCHS, CANARIES = 200, 200
#: ``diagnosis`` with its categories read off the data (what ``infer_schema`` would mark).
READ_OFF = Schema(tuple(replace(c, data_dependent=True) if c.name == "diagnosis" else c
                        for c in SCHEMA.columns))


def people(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.integers(18, 91, n), "sex": rng.choice(["f", "m"], n),
                         "region": rng.choice([f"r{i}" for i in range(6)], n),
                         "income": np.round(rng.uniform(20_000, 90_000, n), 2),
                         "diagnosis": rng.choice(["a", "b", "c"], n)})


def one_run(kind: str, seed: int) -> dict[str, Any]:
    """Fit, sample, attack and hold the evidence against the claim."""
    data = people(600, 1000 + seed)
    train, control = data.iloc[:420].reset_index(drop=True), data.iloc[420:].reset_index(
        drop=True)
    gen: Generator = {"copier": lambda: Copier(),
                      "vae-noise-off": lambda: NoiseOffVAE(epochs=EPOCHS),
                      "dpsgd-vae": lambda: DPSGDVAE(epochs=EPOCHS),
                      "vae-misreported-rate": lambda: MisreportedRateVAE(epochs=EPOCHS),
                      "vae-domain-copied": lambda: DomainCopiedVAE(epochs=EPOCHS),
                      "dpsgd-vae-dp-domain": lambda: DPSGDVAE(epochs=EPOCHS)}[kind]()
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
    claim = assess_claim(kind, gen.privacy_spent, gated=True, level=0.95, attacks=results)
    by_kind: dict[str, float] = {}
    for row in claim.points:
        by_kind[row["kind"]] = max(by_kind.get(row["kind"], 0.0), row["epsilon_lower_bound"])
    return {"generator": kind, "seed": seed, "status": claim.status,
            "claimed_epsilon": claim.claimed_epsilon, "bound": claim.epsilon_lower_bound,
            "bound_operating_points": by_kind.get("operating-point"),
            "bound_canaries": by_kind.get("canaries"), "fit_s": round(fit_s, 2),
            "attack_s": times,
            "true_epsilon": gen.privacy_spent.details.get("true_epsilon")}


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


def whitebox_generators(seeds: int) -> list[dict[str, Any]]:
    """``dp-audit`` with ``whitebox = true`` on fitted DP-SGD generators; dp-claim's verdict."""
    out = []
    for kind, cls in (("dpsgd-vae", DPSGDVAE), ("vae-misreported-rate", MisreportedRateVAE),
                      ("vae-noise-off", NoiseOffVAE)):
        for seed in range(seeds):
            train = people(420, 1000 + seed)
            gen = cls(epochs=EPOCHS).fit(train, SCHEMA, PrivacyBudget(EPSILON, DELTA),
                                         seed=seed)
            ctx = AttackContext(train, people(180, 2000 + seed), gen.sample(420, seed=seed),
                                SCHEMA, seed=seed, generator=gen,
                                budget=PrivacyBudget(EPSILON, DELTA))
            t0 = time.perf_counter()
            result = DPAudit(whitebox=True).run(ctx)
            claim = assess_claim(kind, gen.privacy_spent, gated=True, level=0.95,
                                 attacks=[("dp-audit", result, None)])
            out.append({"generator": kind, "seed": seed, "status": claim.status,
                        "claimed_epsilon": claim.claimed_epsilon,
                        "bound": claim.epsilon_lower_bound,
                        "noise_multiplier": result.details["noise_multiplier"],
                        "audit_s": round(time.perf_counter() - t0, 2)})
    return out


def whitebox(seeds: int, only: str | None = None) -> list[dict[str, Any]]:
    """White-box gradient canaries through privgate.dp: honest DP-SGD at epsilon 4 (tightness)
    and at 1, the noise switched off with epsilon 1 still claimed, and the noise a sample rate
    misreported 10x calibrates (``only``: the settings whose label starts with it)."""
    out = []
    misreported = noise_multiplier_for(1.0, DELTA, 0.1 / MISREPORT, 10, "rdp")
    for label, eps, sigma in (("honest eps 4", 4.0, None), ("honest eps 1", 1.0, None),
                              ("noise off, claims eps 1", 1.0, 0.0),
                              ("sample rate misreported 10x, claims eps 1", 1.0, misreported)):
        if only is not None and not label.startswith(only):
            continue
        for seed in range(seeds):
            t0 = time.perf_counter()
            a = whitebox_audit(eps, canaries=1000, batches=10, epochs=1, seed=seed,
                               noise_multiplier=sigma)
            out.append({"setting": label, "seed": seed, "claimed_epsilon": a.claimed_epsilon,
                        "noise_multiplier": a.noise_multiplier, "bound": a.epsilon_lower_bound,
                        "refuted": a.refuted, "seconds": round(time.perf_counter() - t0, 2),
                        "guesses": [g.to_dict() for g in a.guesses]})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds-honest", type=int, default=3)
    parser.add_argument("--seeds-broken", type=int, default=3)
    parser.add_argument("--whitebox-only", action="store_true",
                        help="measure only the white-box audit and add it to dp_audit.json")
    parser.add_argument("--markdown-only", action="store_true",
                        help="rewrite dp_audit.md from dp_audit.json, measuring nothing")
    parser.add_argument("--extra", type=int, default=0, metavar="SEEDS",
                        help="add the misreported-rate, domain-copied and multi-run rows "
                             "(SEEDS seeds each) to dp_audit.json, keeping its rows")
    parser.add_argument("--multi-run-seeds", type=int, default=0, metavar="N",
                        help="re-measure only the multi-run rows: N seeds of the copier, 2N "
                             "of the honest marginals")
    args = parser.parse_args()
    if args.multi_run_seeds:
        doc = json.loads((RESULTS / "dp_audit.json").read_text())
        t0 = time.perf_counter()
        doc["multi_run"] = [multi_run(kind, seed) for kind, n in (
            ("copier", args.multi_run_seeds), ("dp-marginals", 2 * args.multi_run_seeds))
            for seed in range(n)]
        doc["multi_run_s"] = round(time.perf_counter() - t0, 1)
        (RESULTS / "dp_audit.json").write_text(json.dumps(doc, indent=2) + "\n")
        write_markdown(doc)
        return
    if args.extra:
        extra(args.extra)
        return
    if args.markdown_only:
        write_markdown(json.loads((RESULTS / "dp_audit.json").read_text()))
        return
    if args.whitebox_only:  # add the white-box runs to the measured document
        doc = json.loads((RESULTS / "dp_audit.json").read_text())
        doc["whitebox"] = whitebox(args.seeds_broken)
        (RESULTS / "dp_audit.json").write_text(json.dumps(doc, indent=2) + "\n")
        write_markdown(doc)
        return
    started = time.perf_counter()
    runs = [one_run(kind, seed) for kind, n in (("copier", args.seeds_broken),
                                                ("vae-noise-off", args.seeds_broken),
                                                ("dpsgd-vae", args.seeds_honest))
            for seed in range(n)]
    for r in runs:
        print(r, flush=True)
    summary = summarise(runs)
    doc = {"settings": {"epsilon": EPSILON, "delta": DELTA, "epochs": EPOCHS,
                        "canaries": CANARIES, "rows": {"train": 420, "control": 180},
                        "level": 0.95},
           "summary": summary, "runs": runs, "whitebox": whitebox(args.seeds_broken),
           "total_s": round(time.perf_counter() - started, 1),
           "machine": {"python": platform.python_version(), "platform": platform.platform()}}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dp_audit.json").write_text(json.dumps(doc, indent=2) + "\n")
    write_markdown(doc)


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per generator: runs, refuted, the largest and the median bound."""
    summary = {}
    for kind in dict.fromkeys(r["generator"] for r in runs):
        mine = [r for r in runs if r["generator"] == kind]
        summary[kind] = {"runs": len(mine), "refuted": sum(r["status"] == "fail" for r in mine),
                         "max_bound": max(r["bound"] for r in mine),
                         "median_bound": float(np.median([r["bound"] for r in mine]))}
    return summary


def extra(seeds: int) -> None:
    """Measure the added rows and add them to dp_audit.json (replacing earlier added rows)."""
    doc = json.loads((RESULTS / "dp_audit.json").read_text())
    new = ("vae-misreported-rate", "vae-domain-copied", "dpsgd-vae-dp-domain")
    started = time.perf_counter()
    runs = [one_run(kind, seed) for kind in new for seed in range(seeds)]
    multi = [multi_run(kind, seed) for kind in ("copier", "dp-marginals")
             for seed in range(seeds)]
    doc["whitebox_generators"] = whitebox_generators(seeds)
    for r in runs + multi + doc["whitebox_generators"]:
        print(r, flush=True)
    doc["runs"] = [r for r in doc["runs"] if r["generator"] not in new] + runs
    doc["summary"] = summarise(doc["runs"])
    doc["multi_run"] = multi
    doc["whitebox"] = [w for w in doc.get("whitebox", []) if not w["setting"].startswith(
        "sample rate")] + whitebox(seeds, only="sample rate")
    doc["extra_s"] = round(time.perf_counter() - started, 1)
    (RESULTS / "dp_audit.json").write_text(json.dumps(doc, indent=2) + "\n")
    write_markdown(doc)


def write_markdown(doc: dict[str, Any]) -> None:
    """``dp_audit.md`` from the measured document (``--markdown-only`` rewrites it)."""
    s = doc["settings"]
    lines = ["# dp-claim and dp-audit: broken DP generators against honest ones", "",
             f"`nice -n 10 .venv/bin/python benchmarks/dp_audit.py` on a 600-person table (420 "
             f"training, 180 control rows; declared domain), claim epsilon {s['epsilon']:g}, "
             f"delta {s['delta']:g}, {s['epochs']} epochs, dp-audit with {s['canaries']} "
             f"canaries (one extra fit), {s['level']:.0%} confidence; {doc['total_s']} s in all "
             "(2 shared CPU cores).", "",
             "| generator | runs | refuted (dp-claim fail) | median bound | max bound |",
             "|---|---|---|---|---|"]
    for kind, x in doc["summary"].items():
        lines.append(f"| {kind} | {x['runs']} | {x['refuted']} | {x['median_bound']:.3g} | "
                     f"{x['max_bound']:.3g} |")
    lines += ["", "| generator | seed | status | bound (operating points) | bound (canaries) | "
              "fit s | true epsilon |", "|---|---|---|---|---|---|---|"]
    for r in doc["runs"]:
        true = r.get("true_epsilon")
        lines.append(f"| {r['generator']} | {r['seed']} | {r['status']} | "
                     f"{r['bound_operating_points'] or 0:.3g} | {r['bound_canaries'] or 0:.3g} | "
                     f"{r['fit_s']} | {'' if true is None else f'{true:.3g}'} |")
    if doc.get("multi_run"):
        lines += ["", f"Multi-run (`dp-audit` with `mode = \"multi-run\"`: one canary, in or "
                  f"out of each of {doc['multi_run'][0]['runs']} fits by a coin toss, threshold "
                  "chosen on half of the runs, Clopper-Pearson on the other half; "
                  f"`--multi-run-seeds`: {doc.get('multi_run_s')} s for these rows):", "",
                  "| generator | seed | status | bound | flagged with / runs with | flagged "
                  "without / runs without | s |", "|---|---|---|---|---|---|---|"]
        for m in doc["multi_run"]:
            c = m["counts"]
            lines.append(f"| {m['generator']} | {m['seed']} | {m['status']} | {m['bound']:.3g} "
                         f"| {c['members_flagged']}/{c['members']} | {c['nonmembers_flagged']}/"
                         f"{c['nonmembers']} | {m['seconds']} |")
    if doc.get("whitebox_generators"):
        lines += ["", "`dp-audit` with `whitebox = true` (1,000 Dirac canaries through each "
                  "fitted generator's own trainer at its claimed epsilon, 20 epochs x 10 "
                  "expected batches), held by dp-claim against the generator's claim:", "",
                  "| generator | seed | status | claimed epsilon | bound | audit noise "
                  "multiplier | s |", "|---|---|---|---|---|---|---|"]
        for w in doc["whitebox_generators"]:
            lines.append(f"| {w['generator']} | {w['seed']} | {w['status']} | "
                         f"{w['claimed_epsilon']:.3g} | {w['bound']:.3g} | "
                         f"{w['noise_multiplier']:.3g} | {w['audit_s']} |")
    if doc.get("whitebox"):
        lines += ["", "White box (`privgate.dp_whitebox.whitebox_audit`: 1,000 Dirac gradient "
                  "canaries through privgate.dp, sample rate 0.1, 10 steps, every intermediate "
                  "model seen, one run):", "",
                  "| setting | seed | noise multiplier | claimed epsilon | bound | refuted |",
                  "|---|---|---|---|---|---|"]
        for w in doc["whitebox"]:
            lines.append(f"| {w['setting']} | {w['seed']} | {w['noise_multiplier']:.3g} | "
                         f"{w['claimed_epsilon']:.3g} | {w['bound']:.3g} | {w['refuted']} |")
    lines += ["", "Notes: the bound is the largest epsilon the evidence refutes at 95% (all "
              "operating points and canary guess sets of a run together, Bonferroni); a run "
              "fails dp-claim when it exceeds the claim. A copier is refuted by both kinds of "
              "evidence. A VAE trained without noise on this table leaks only a little through "
              "its output: the black-box evidence reaches epsilon 0.4 to 1.2, refuting the claim "
              "of 1 in some runs only. The white-box audit of the DP layer itself catches the "
              "noise switched off in every run; at epsilon 4 its one-run bound (0.6 to 0.9 with "
              "1,000 canaries) is well below the half of the claim the issue asks for (one run "
              "with 1,000 canaries cannot get close; many runs or many more canaries would). "
              "The honest dpsgd-vae shows a bound of 0 in every run. Few seeds (CPU budget): "
              "these are indications, not the 10-of-10 / 0-of-20 the issue asks for."]
    if doc.get("whitebox_generators"):
        lines += ["", "Added rows (`--extra 2`): a sample rate misreported 10x to the accountant "
                  "(true epsilon 13.7 against the claimed 1) is invisible to the black-box "
                  "evidence (bound 0 in both runs), and the white-box audit of the DP layer at "
                  "its noise over 10 steps does not refute it either (0.5 to 0.6); "
                  "`dp-audit` with `whitebox = true`, which runs the canaries through the "
                  "generator's own trainer for 200 steps, refutes it in both runs (1.9 and 2.5) "
                  "and the noise switched off too (4.06), while the honest dpsgd-vae stays at "
                  "0.11. A domain read off the data and copied (rare categories exactly) is "
                  "refuted in both runs by the one-run canary audit, because where the schema "
                  "marks a domain data-dependent each crafted canary carries a fresh category "
                  "and one seen in the output ranks first (bound 1.44); the same VAE with the "
                  "domain released under DP is not (0). Two seeds each: indications, not the "
                  "issue's 10 of 10 / 0 of 20."]
    if doc.get("multi_run"):
        by = {k: [m for m in doc["multi_run"] if m["generator"] == k]
              for k in ("copier", "dp-marginals")}
        cop, hon = by["copier"], by["dp-marginals"]
        fails = {k: sum(m["status"] == "fail" for m in v) for k, v in by.items()}
        lines += ["", f"Multi-run: the copier is refuted in {fails['copier']} of {len(cop)} "
                  f"seeds (bounds {min(m['bound'] for m in cop):.3g} to "
                  f"{max(m['bound'] for m in cop):.3g}: it repeats about two thirds of its "
                  "rows, so the canary shows in most runs with it and none without), the "
                  f"honest epsilon-1 marginals in {fails['dp-marginals']} of {len(hon)}; 100 "
                  "fits of a VAE do not fit this machine, so multi-run is measured on cheap "
                  "generators only."]
    (RESULTS / "dp_audit.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
