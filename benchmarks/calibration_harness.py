"""Calibration on planted ground truth: run the attacks on the ``leaky`` generator's output.

For each copy fraction ``f`` the leaky generator (FOR CALIBRATION ONLY, NOT PRIVATE) plants
verbatim copies of known training rows; every registered membership and identity attack is
run on its output and compared with what the planted copies make true:

* identity disclosure: the exact rate ``(1/n) sum over copied s of 1/f_s``
  (:func:`privgate.plugins.generators.leaky.generator.planted_identity_truth`);
* membership advantage: ``f`` -- an adversary who recognises exactly the copied members flags a
  share ``f`` of the members and no non-member (AUROC ``0.5 + f/2``).

Used by ``benchmarks/calibration.py`` (full adult) and ``tests/test_calibration.py`` (a small
sample; it loads this file by path); both read the rows this module returns. A benchmark
helper, not a plugin: it is not installed with privgate.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from privgate.attack import AttackContext, AttackResult
from privgate.plugins.generators.leaky.generator import LeakyGenerator, planted_identity_truth
from privgate.policy import Policy, check, worst
from privgate.registry import Registry
from privgate.schema import Schema

FRACTIONS = (0.0, 0.001, 0.01, 0.1, 1.0)
MEMBERSHIP_ATTACKS = ("dcr-membership", "shadow-membership", "density-membership")
IDENTITY_ATTACKS = ("identity-disclosure",)


def run_calibration(train: pd.DataFrame, control: pd.DataFrame, schema: Schema,
                    registry: Registry, *, fractions: Sequence[float] = FRACTIONS,
                    attack_params: Mapping[str, Mapping[str, Any]] | None = None,
                    seed: int = 0, confidence_level: float = 0.95) -> list[dict[str, Any]]:
    """One row per (fraction, attack): estimate, interval, baseline, truth, policy verdicts.

    Attacks in :data:`MEMBERSHIP_ATTACKS` and :data:`IDENTITY_ATTACKS` that are registered
    run; the others are listed in the rows of no fraction (callers report them as skipped).
    The synthetic table has as many rows as ``train``.
    """
    names = [a for a in (*MEMBERSHIP_ATTACKS, *IDENTITY_ATTACKS) if a in registry.attacks]
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
                row["truth_definition"] = ("membership advantage of an adversary who "
                                           "recognises exactly the planted copies")
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
