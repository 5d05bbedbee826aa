"""Calibration on planted ground truth: run the attacks on the ``leaky`` generator's output.

For each copy fraction ``f`` the leaky generator (FOR CALIBRATION ONLY, NOT PRIVATE) plants
verbatim copies of known training rows; the attacks are run on its output and compared with
what the planted copies make true:

* identity disclosure: the exact rate ``(1/n) sum over copied s of 1/f_s``
  (:func:`privgate.plugins.generators.leaky.generator.planted_identity_truth`);
* membership advantage, TPR - FPR at low FPR and verbatim copies of unique records: ``f`` -- an
  adversary who recognises exactly the copied members flags a share ``f`` of the members and no
  non-member (AUROC ``0.5 + f/2``), and a share ``f`` of the unique records is copied.

Two entry points: :func:`run_calibration` (one split, every fraction, estimates against truth;
``tests/test_calibration.py`` loads this file by path) and :func:`audit_once` (one synthetic
table through every default attack the way an audit runs them -- core re-validates each result
and decides each check under a policy; ``benchmarks/calibration.py`` and
``benchmarks/power.py``). The real tables and their declared schemas are loaded here too
(:func:`load_table`). A benchmark helper, not a plugin: it is not installed with privgate.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from privgate import validate
from privgate.attack import AttackContext, AttackResult
from privgate.errors import InputError
from privgate.isolation import Origin, PluginFault
from privgate.plugins.generators.leaky.generator import LeakyGenerator, planted_identity_truth
from privgate.policy import Policy, Status, check, worst
from privgate.registry import Registry
from privgate.schema import Column, Kind, Role, Schema
from privgate.tables import conform

FRACTIONS = (0.0, 0.001, 0.01, 0.1, 1.0)
MEMBERSHIP_ATTACKS = ("dcr-membership", "shadow-membership", "density-membership")
IDENTITY_ATTACKS = ("identity-disclosure",)
#: attacks whose planted truth is the copied share f itself
SHARE_ATTACKS = ("verbatim-copy", "low-fpr-membership")
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def run_calibration(train: pd.DataFrame, control: pd.DataFrame, schema: Schema,
                    registry: Registry, *, fractions: Sequence[float] = FRACTIONS,
                    attack_params: Mapping[str, Mapping[str, Any]] | None = None,
                    seed: int = 0, confidence_level: float = 0.95) -> list[dict[str, Any]]:
    """One row per (fraction, attack): estimate, interval, baseline, truth, policy verdicts.

    Attacks in :data:`MEMBERSHIP_ATTACKS`, :data:`IDENTITY_ATTACKS` and
    :data:`SHARE_ATTACKS` that are registered run; the others are listed in the rows of no
    fraction (callers report them as skipped). The synthetic table has as many rows as
    ``train``.
    """
    names = [a for a in (*MEMBERSHIP_ATTACKS, *IDENTITY_ATTACKS, *SHARE_ATTACKS)
             if a in registry.attacks]
    policies: list[Policy] = [registry.policy(p) for p in sorted(registry.policies)]
    rows: list[dict[str, Any]] = []
    for f in fractions:
        gen = LeakyGenerator(fraction=f).fit(train, schema, None, seed=seed)
        synthetic = gen.sample(len(train), seed=seed)
        truth_id = planted_identity_truth(train, schema.quasi_identifiers, gen.copied_index_)
        context = AttackContext(train, control, synthetic, schema, seed, confidence_level,
                                generator=gen)
        results = {}
        for name in names:
            attack = registry.attack(name)(**dict((attack_params or {}).get(name, {})))
            started = time.perf_counter()
            result = attack.run(context)
            results[name] = result
            row: dict[str, Any] = {
                "fraction": f, "attack": name, "risk_kind": result.risk_kind,
                "estimate": result.risk, "ci_low": result.ci_low, "ci_high": result.ci_high,
                "baseline": result.baseline, "interval_method": result.interval_method,
                "n_trials": result.n_trials, "seconds": round(time.perf_counter() - started, 2),
                "n_copied": int(len(gen.copied_index_)),
            }
            if name in IDENTITY_ATTACKS:
                row["truth"] = truth_id["rate"]
                row["truth_definition"] = ("(1/n) sum over planted copies s of 1/f_s "
                                           "(f_s: training records sharing s's QIs)")
                row["truth_unique_rate"] = truth_id["unique_rate"]
            else:
                row["truth"] = f
                row["truth_definition"] = ("the share of members (unique records) the planted "
                                           "copies make recognisable")
                row.update(_membership_evidence(result))
            rows.append(row)
        verdicts = {}
        for policy in policies:
            checks = [check(policy, "leaky", n, r.risk_kind, r) for n, r in results.items()
                      if r.risk_kind in policy.thresholds]
            verdicts[policy.name] = str(worst(c.status for c in checks))
        for row in rows:
            if row["fraction"] == f:
                row["policy_verdicts"] = verdicts
    return rows


def _membership_evidence(result: AttackResult) -> dict[str, Any]:
    """A membership attack's typed evidence as plain row fields: AUROC, its interval and the
    TPR at fixed false-positive rates (keys as text, e.g. ``"0.001"``)."""
    auroc = result.auroc
    interval = None if auroc is None else auroc.interval
    return {"auroc": None if auroc is None else auroc.value,
            "auroc_ci": None if interval is None else [interval.low, interval.high],
            "tpr_at_fpr": {f"{fpr:g}": tpr for fpr, tpr in result.tpr_at_fpr.items()} or None}


def gated_attacks(registry: Registry, policy: Policy) -> list[str]:
    """The default attacks an audit under ``policy`` gates on (those of its risk kinds)."""
    return [n for n in sorted(registry.attacks)
            if getattr(registry.attack(n), "default", True)
            and registry.attack(n).risk_kind in policy.thresholds]


def audit_once(train: pd.DataFrame, control: pd.DataFrame, synthetic: pd.DataFrame,
               schema: Schema, registry: Registry, policy: Policy, *, seed: int,
               attacks: Sequence[str] | None = None, level: float = 0.95,
               attack_params: Mapping[str, Mapping[str, Any]] | None = None
               ) -> dict[str, Any]:
    """One synthetic table through ``attacks`` (default: :func:`gated_attacks`) as an audit
    runs them: each result re-validated by core, each check decided under ``policy``.

    Returns ``{"verdict": ..., "checks": {attack: {...}}}``; an attack that cannot run on the
    table is ``cannot-certify`` with its reason, one that crashes is ``error``.
    """
    context = AttackContext(train, control, synthetic, schema, seed, level)
    out: dict[str, Any] = {}
    for name in attacks or gated_attacks(registry, policy):
        cls = registry.attack(name)
        started = time.perf_counter()
        try:
            raw = cls(**dict((attack_params or {}).get(name, {}))).run(context)
            result = validate.attack_result(raw, name=name, risk_kind=cls.risk_kind,
                                            n_train=len(train), confidence_level=level,
                                            origin=Origin(name))
            c = check(policy, "bench", name, cls.risk_kind, result).to_dict()
        except InputError as exc:
            c = check(policy, "bench", name, cls.risk_kind, None,
                      not_applicable=str(exc)).to_dict()
        except (PluginFault, Exception) as exc:  # noqa: BLE001 -- a benchmark records it
            c = {"status": "error", "message": f"{type(exc).__name__}: {exc}"}
        keep = ("status", "risk", "lower_bound", "upper_bound", "threshold", "power",
                "certifiable_on_table", "trials_run", "trials_available", "trials_needed",
                "message", "warnings")
        out[name] = {k: c.get(k) for k in keep} | {
            "seconds": round(time.perf_counter() - started, 1)}
    verdict = worst(Status(c["status"]) for c in out.values())
    return {"verdict": str(verdict), "checks": out}


# -- the real tables -----------------------------------------------------------------------

ADULT_BOUNDS = {"age": (17, 90), "fnlwgt": (10_000, 1_500_000), "education_num": (1, 16),
                "capital_gain": (0, 99_999), "capital_loss": (0, 4_356),
                "hours_per_week": (1, 99)}
ADULT_QI = ("age", "sex", "race", "marital_status", "native_country", "education")
DIABETES_QI = ("race", "gender", "age", "payer_code", "admission_source_id",
               "medical_specialty")
#: ICD-9 chapters by the first code of each (V and E codes are chapters of their own).
ICD9_CHAPTERS = (1, 140, 240, 280, 290, 320, 390, 460, 520, 580, 630, 680, 710, 740, 760,
                 780, 800)


def _declared(df: pd.DataFrame, roles: Mapping[str, Role],
              bounds: Mapping[str, tuple[float, float]]) -> Schema:
    """Integers with their code-book bounds, everything else categorical over its values."""
    cols = []
    for name in df.columns:
        role = roles.get(name, Role.OTHER)
        if name in bounds:
            lo, hi = bounds[name]
            cols.append(Column(name, Kind.INTEGER, role, bounds=(float(lo), float(hi))))
        else:
            cats = tuple(sorted(df[name].dropna().unique(), key=str))
            cols.append(Column(name, Kind.CATEGORICAL, role, categories=cats,
                               nullable=bool(df[name].isna().any())))
    return Schema(tuple(cols))


def icd9_chapter(code: Any) -> str:
    """An ICD-9 code's chapter (``"390-459"``, ``"V"``, ``"E"``; missing stays missing)."""
    if code is None or (isinstance(code, float) and np.isnan(code)) or code == "":
        return "missing"
    text = str(code)
    if text[0] in "VE":
        return text[0]
    number = int(float(text))
    start = max(c for c in ICD9_CHAPTERS if c <= number)
    ends = {c: n - 1 for c, n in zip(ICD9_CHAPTERS, ICD9_CHAPTERS[1:] + (1000,), strict=True)}
    return f"{start:03d}-{ends[start]:03d}"


def read_diabetes() -> pd.DataFrame:
    """diabetes130's encounters with ``encounter_id`` dropped (``patient_nbr`` kept for whoever
    needs the person), diagnoses coarsened to their ICD-9 chapter, the payer code as text."""
    df = pd.read_csv(DATA / "diabetes130.csv.gz", na_values="?", keep_default_na=False,
                     low_memory=False).drop(columns=["encounter_id"])
    for col in ("diag_1", "diag_2", "diag_3"):
        df[col] = df[col].map(icd9_chapter)
    df["payer_code"] = df["payer_code"].astype("string")
    return df


def diabetes_roles_and_bounds(df: pd.DataFrame
                              ) -> tuple[dict[str, Role], dict[str, tuple[float, float]]]:
    """The declared roles of diabetes130 (quasi-identifiers :data:`DIABETES_QI`; sensitive the
    first diagnosis and the A1C result; target readmission) and its count columns' bounds."""
    roles = {c: Role.QUASI_IDENTIFIER for c in DIABETES_QI} | {
        "diag_1": Role.SENSITIVE, "A1Cresult": Role.SENSITIVE, "readmitted": Role.TARGET}
    bounds: dict[str, tuple[float, float]] = {c: (0, int(df[c].max()) + 1) for c in (
        "time_in_hospital", "num_lab_procedures", "num_medications", "number_outpatient",
        "number_emergency", "number_inpatient", "number_diagnoses")}
    return roles, bounds


def load_table(name: str, rows: int | None = None, seed: int = 0
               ) -> tuple[pd.DataFrame, Schema]:
    """``adult`` (48,842 rows; quasi-identifiers age, sex, race, marital status, country,
    education; sensitive occupation and capital gain; target income) or ``diabetes``
    (101,766 encounters, identifiers dropped, diagnoses coarsened to their ICD-9 chapter;
    quasi-identifiers race, gender, age band, payer, admission source, specialty; sensitive
    the first diagnosis and the A1C result; target readmission), conformed to a declared
    schema; ``rows`` takes a seeded sample."""
    if name == "adult":
        df = pd.read_csv(DATA / "adult.csv").drop(columns=["split"])
        roles = {c: Role.QUASI_IDENTIFIER for c in ADULT_QI} | {
            "occupation": Role.SENSITIVE, "capital_gain": Role.SENSITIVE,
            "income": Role.TARGET}
        bounds: Mapping[str, tuple[float, float]] = ADULT_BOUNDS
    elif name == "diabetes":
        df = read_diabetes().drop(columns=["patient_nbr"])
        roles, bounds = diabetes_roles_and_bounds(df)
    else:
        raise ValueError(f"unknown table {name!r}; use adult or diabetes")
    if rows is not None and rows < len(df):
        df = df.sample(n=rows, random_state=seed)
    df = df.reset_index(drop=True)
    schema = _declared(df, roles, bounds)
    return conform(df, schema, where=name).reset_index(drop=True), schema
