"""Person-level auditing on diabetes130: a planted leak of whole patient histories.

Run (a few minutes on a shared 2-core machine)::

    nice -n 10 .venv/bin/python benchmarks/person_level.py --people 20000 --seed 0 \
        --leaks 0.01 0.005

diabetes130 holds encounters, not patients (``patient_nbr``). A seeded sample of ``--people``
patients (all their encounters) is split into training and control, and a synthetic table is
made of independent marginals of the training rows, in which *every encounter of 1% of the
training patients* is planted verbatim (``--leaks``; 0.5% too, near the thresholds). Each leak
is audited three ways, with the attacks the default policy gates on for membership and copying
(``low-fpr-membership``, ``verbatim-copy``, ``dcr-membership``) plus ``identity-disclosure``,
each result re-validated by core and decided under ``expert-determination-0.09`` as an audit
does:

* ``person``: split by person, the attacks given the person codes (one patient, one trial) --
  what privgate does with ``--person-id patient_nbr``;
* ``row, same split``: the same tables, the attacks not told who is who (one encounter, one
  trial);
* ``row, row split``: what privgate did before issue 16 -- a seeded row split (the same patient
  on both sides) and per-row attacks; the same share of training patients' training
  encounters is planted.

With ``--dp EPOCHS`` it also fits ``dpsgd-vae`` at epsilon 1 twice on the person split: on
every training row (epsilon per row) and on one row per person (privgate's contribution bounding,
epsilon per person), and reports each fit's TSTR AUROC for ``readmitted`` on the control rows,
its time and the rows it saw.

Results: ``benchmarks/results/person_level.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibration_harness import (  # noqa: E402
    _declared,
    diabetes_roles_and_bounds,
    read_diabetes,
)

from privgate import validate  # noqa: E402
from privgate.attack import AttackContext  # noqa: E402
from privgate.errors import InputError  # noqa: E402
from privgate.isolation import Origin  # noqa: E402
from privgate.persons import Persons, persons_of, split_people  # noqa: E402
from privgate.policy import Status, check, worst  # noqa: E402
from privgate.randomness import rng  # noqa: E402
from privgate.registry import build_registry  # noqa: E402
from privgate.schema import Schema  # noqa: E402
from privgate.tables import conform, split_positions  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
ATTACKS = ("low-fpr-membership", "verbatim-copy", "dcr-membership", "identity-disclosure")
POLICY = "expert-determination-0.09"
PERSON = "patient_nbr"


def load(people: int, seed: int) -> tuple[pd.DataFrame, pd.Series, Schema]:
    """A seeded sample of ``people`` patients with all their encounters, conformed to the
    harness's declared schema (diagnoses as ICD-9 chapters), and each row's patient."""
    df = read_diabetes()
    ids = np.unique(df[PERSON].to_numpy())
    chosen = rng(seed, "person-level", "people").choice(ids, min(people, len(ids)),
                                                       replace=False)
    df = df[df[PERSON].isin(chosen)].reset_index(drop=True)
    roles, bounds = diabetes_roles_and_bounds(df)
    person = df.pop(PERSON).astype(str)
    schema = _declared(df, roles, bounds)
    return conform(df, schema, where="diabetes130").reset_index(drop=True), person, schema


def planted(train: pd.DataFrame, people: pd.Series, share: float, seed: int
            ) -> tuple[pd.DataFrame, int, int]:
    """Independent marginals of ``train`` with every row of ``share`` of its people copied
    verbatim; returns the table, the people leaked and the rows copied."""
    r = rng(seed, "person-level", "synthetic")
    who = np.unique(people.to_numpy())
    leaked = r.choice(who, max(1, round(share * len(who))), replace=False)
    copied = train[people.isin(leaked).to_numpy()]
    n = len(train) - len(copied)
    rest = pd.DataFrame({c: train[c].to_numpy()[r.integers(0, len(train), n)]
                         for c in train.columns})
    synthetic = pd.concat([rest, copied], ignore_index=True)
    return synthetic.iloc[r.permutation(len(synthetic))].reset_index(drop=True), len(leaked), \
        len(copied)


def audit(train: pd.DataFrame, control: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema,
          persons: Persons | None, seed: int) -> dict[str, Any]:
    """Every attack of :data:`ATTACKS` on one synthetic table, validated and decided."""
    registry = build_registry()
    policy = registry.policy(POLICY)
    context = AttackContext(train, control, synthetic, schema, seed, 0.95, persons=persons)
    out: dict[str, Any] = {}
    for name in ATTACKS:
        cls = registry.attack(name)
        started = time.perf_counter()
        try:
            raw = cls().run(context)
            result = validate.attack_result(raw, name=name, risk_kind=cls.risk_kind,
                                            n_train=len(train), confidence_level=0.95,
                                            origin=Origin(name))
            c = check(policy, "planted", name, cls.risk_kind, result).to_dict()
            c["n_trials"] = result.n_trials
            c["unit"] = result.details.get("unit")
        except InputError as exc:
            c = check(policy, "planted", name, cls.risk_kind, None,
                      not_applicable=str(exc)).to_dict()
        keep = ("status", "risk", "lower_bound", "upper_bound", "threshold", "n_trials", "unit",
                "message")
        out[name] = {k: c.get(k) for k in keep} | {
            "seconds": round(time.perf_counter() - started, 1)}
    return {"verdict": str(worst(Status(c["status"]) for c in out.values())), "checks": out}


def run(people: int, seed: int, leak: float, control_fraction: float) -> dict[str, Any]:
    df, person, schema = load(people, seed)
    settings: dict[str, Any] = {}
    # split by person: what privgate does with a person column
    t_pos, c_pos = split_people(person, control_fraction, seed)
    train, control = (df.iloc[p].reset_index(drop=True) for p in (t_pos, c_pos))
    t_ids, c_ids = person.iloc[t_pos].reset_index(drop=True), person.iloc[c_pos].reset_index(
        drop=True)
    persons = persons_of(PERSON, t_ids, c_ids, "diabetes130")
    synthetic, n_leaked, n_copied = planted(train, t_ids, leak, seed)
    base = {"n_train_rows": len(train), "n_control_rows": len(control),
            "n_train_people": persons.n_train, "n_control_people": persons.n_control,
            "people_leaked": n_leaked, "rows_copied": n_copied}
    settings["person"] = base | audit(train, control, synthetic, schema, persons, seed)
    settings["row, same split"] = base | audit(train, control, synthetic, schema, None, seed)
    # the row split privgate used before: the same patient lands on both sides
    t_pos, c_pos = split_positions(len(df), control_fraction, seed)
    train, control = (df.iloc[p].reset_index(drop=True) for p in (t_pos, c_pos))
    t_ids, c_ids = person.iloc[t_pos].reset_index(drop=True), person.iloc[c_pos]
    synthetic, n_leaked, n_copied = planted(train, t_ids, leak, seed)
    both = len(set(c_ids) & set(t_ids))
    settings["row, row split"] = {
        "n_train_rows": len(train), "n_control_rows": len(control),
        "n_train_people": int(t_ids.nunique()), "n_control_people": int(c_ids.nunique()),
        "control_people_also_in_training": both, "people_leaked": n_leaked,
        "rows_copied": n_copied} | audit(train, control, synthetic, schema, None, seed)
    return settings


def dp_fits(people: int, seed: int, control_fraction: float, epochs: int) -> dict[str, Any]:
    """dpsgd-vae at epsilon 1 per row and per person (one row each): TSTR, time, rows."""
    from privgate.dp.contribution import one_row_per_person
    from privgate.generator import PrivacyBudget
    from privgate.plugins.metrics.tstr import TSTRMetric

    df, person, schema = load(people, seed)
    t_pos, c_pos = split_people(person, control_fraction, seed)
    train, control = (df.iloc[p].reset_index(drop=True) for p in (t_pos, c_pos))
    codes = pd.factorize(person.iloc[t_pos], sort=True)[0]
    cls = build_registry().generator("dpsgd-vae")
    out: dict[str, Any] = {"epochs": epochs, "epsilon": 1.0, "delta": 1e-5}
    for unit, rows in (("per row", train), ("per person", one_row_per_person(train, codes,
                                                                             seed))):
        started = time.perf_counter()
        gen = cls(epochs=epochs).fit(rows, schema, PrivacyBudget(1.0, 1e-5), seed=seed)
        synthetic = gen.sample(len(train), seed=seed)
        seconds = time.perf_counter() - started
        tstr = TSTRMetric().compute(AttackContext(train, control, synthetic, schema, seed))
        out[unit] = {"rows_seen": len(rows), "seconds": round(seconds, 1),
                     "epsilon_spent": gen.privacy_spent.epsilon, "tstr_auroc": tstr.value,
                     "trtr_auroc": tstr.baseline}
    return out


def markdown(doc: dict[str, Any]) -> str:
    meta = doc["meta"]
    out = ["# Person-level auditing: a planted leak of whole patient histories", "",
           f"diabetes130, a seeded sample of {meta['people']:,} patients with all their "
           f"encounters ({meta['rows']:,} rows); control fraction {meta['control_fraction']}; "
           f"the synthetic table is independent marginals of the training rows with every "
           f"encounter of a share of the training patients copied verbatim. "
           f"Policy {POLICY}. Command: `{meta['command']}` ({meta['seconds']:.0f} s; "
           f"{meta['machine']}).", ""]
    if doc.get("dp"):
        dp = doc["dp"]
        out += [f"# dpsgd-vae at epsilon 1 ({dp['epochs']} epochs): per row and per person", "",
                "| epsilon protects | rows seen | epsilon spent | TSTR AUROC (readmitted) | "
                "TRTR AUROC | fit + sample (s) |", "|---|---|---|---|---|---|"]
        for unit in ("per row", "per person"):
            f = dp[unit]
            out.append(f"| {unit} | {f['rows_seen']:,} | {f['epsilon_spent']:.3f} | "
                       f"{f['tstr_auroc']:.3f} | {f['trtr_auroc']:.3f} | {f['seconds']:.0f} |")
        out += ["", "One seed, on the person split of the leak audits below; the per-person "
                "fit sees one row per patient (privgate.dp.contribution), so its epsilon "
                "protects each patient. "
                f"Command: `{meta.get('dp_command', meta['command'])}`.", ""]
    for leak, settings in doc["leaks"].items():
        out += [f"# Leak: every encounter of {float(leak):.1%} of the training patients", ""]
        out += _reading(settings) + _settings_md(settings)
    return "\n".join(out)


def _reading(settings: dict[str, Any]) -> list[str]:
    """The figures in words: verdicts side by side, and the row split's contamination."""
    person, row, naive = (settings[k] for k in ("person", "row, same split", "row, row split"))
    low = "low-fpr-membership"
    both = naive["control_people_also_in_training"]
    return [f"Verdicts: per person {person['verdict'].upper()}, per row on the same split "
            f"{row['verdict'].upper()}, per row on a row split {naive['verdict'].upper()}. "
            f"{person['people_leaked']:,} of {person['n_train_people']:,} training patients "
            f"({person['people_leaked'] / person['n_train_people']:.2%}) were copied whole "
            f"({person['rows_copied']:,} rows, {person['rows_copied'] / person['n_train_rows']:.2%}"
            f" of the training rows); {low} puts the exposed share at "
            f"{person['checks'][low]['risk']:.4f} of patients and {row['checks'][low]['risk']:.4f}"
            f" of encounters. The row split puts {both:,} of its {naive['n_control_people']:,} "
            f"control patients ({both / naive['n_control_people']:.0%}) in training too.", ""]


def _settings_md(settings: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for name, s in settings.items():
        extra = ""
        if "control_people_also_in_training" in s:
            extra = (f"; {s['control_people_also_in_training']:,} of the "
                     f"{s['n_control_people']:,} control patients also have training rows")
        out += [f"## {name}: verdict {s['verdict'].upper()}", "",
                f"{s['n_train_rows']:,} training rows of {s['n_train_people']:,} patients, "
                f"{s['n_control_rows']:,} control rows of {s['n_control_people']:,} patients"
                f"{extra}; {s['people_leaked']:,} patients leaked, {s['rows_copied']:,} rows "
                "copied.", "",
                "| attack | unit | trials | risk | lower bound | upper bound | threshold | "
                "status |", "|---|---|---|---|---|---|---|---|"]
        for attack, c in s["checks"].items():
            def num(key: str, c: dict[str, Any] = c) -> str:
                return "-" if c.get(key) is None else f"{c[key]:.4f}"
            trials = "-" if c.get("n_trials") is None else f"{c['n_trials']:,}"
            out.append(f"| {attack} | {c.get('unit') or '-'} | {trials} | {num('risk')} | "
                       f"{num('lower_bound')} | {num('upper_bound')} | {num('threshold')} | "
                       f"{c['status']} |")
        out.append("")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--leaks", type=float, nargs="+", default=[0.01])
    parser.add_argument("--control-fraction", type=float, default=0.3)
    parser.add_argument("--dp", type=int, metavar="EPOCHS", default=None,
                        help="also fit dpsgd-vae per row and per person with EPOCHS epochs")
    parser.add_argument("--dp-only", action="store_true", help="run only the --dp fits, "
                        "keeping the leak results in person_level.json")
    parser.add_argument("--render", action="store_true", help="rewrite person_level.md from "
                        "person_level.json without running")
    args = parser.parse_args()
    if args.render:
        doc = json.loads((RESULTS / "person_level.json").read_text())
        (RESULTS / "person_level.md").write_text(markdown(doc) + "\n")
        return
    started = time.perf_counter()
    if args.dp_only:
        doc = json.loads((RESULTS / "person_level.json").read_text())
        doc["dp"] = dp_fits(args.people, args.seed, args.control_fraction, args.dp or 5)
        doc["meta"]["dp_command"] = ("nice -n 10 .venv/bin/python benchmarks/person_level.py "
                                     f"--people {args.people} --seed {args.seed} --dp "
                                     f"{args.dp or 5} --dp-only")
        (RESULTS / "person_level.json").write_text(json.dumps(doc, indent=2, default=str))
        (RESULTS / "person_level.md").write_text(markdown(doc) + "\n")
        print(markdown(doc))
        return
    leaks = {f"{leak:g}": run(args.people, args.seed, leak, args.control_fraction)
             for leak in args.leaks}
    first = next(iter(leaks.values()))["person"]
    meta = {"people": args.people, "seed": args.seed, "leaks": args.leaks,
            "control_fraction": args.control_fraction,
            "rows": first["n_train_rows"] + first["n_control_rows"],
            "command": "nice -n 10 .venv/bin/python benchmarks/person_level.py "
                       f"--people {args.people} --seed {args.seed} --leaks "
                       f"{' '.join(f'{x:g}' for x in args.leaks)} "
                       f"--control-fraction {args.control_fraction}"
                       + ("" if args.dp is None else f" --dp {args.dp}"),
            "seconds": time.perf_counter() - started,
            "machine": f"{platform.machine()}, Python {platform.python_version()}, shared CPU"}
    doc = {"meta": meta, "leaks": leaks}
    if args.dp is not None:
        doc["dp"] = dp_fits(args.people, args.seed, args.control_fraction, args.dp)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "person_level.json").write_text(json.dumps(doc, indent=2, default=str) + "\n")
    (RESULTS / "person_level.md").write_text(markdown(doc) + "\n")
    print(markdown(doc))


if __name__ == "__main__":
    main()
