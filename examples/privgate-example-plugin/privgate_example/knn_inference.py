"""``example-knn-inference``: nearest-neighbour attribute inference, with a control baseline.

The adversary knows a target's quasi-identifiers and looks up the synthetic row nearest to them
(in the declared-domain encoding); it guesses that row's value of each secret column. A guess is
right when it equals the true value (categorical) or lies within ``tolerance`` of the column's
declared range (numeric).

* The attack runs on ``n_targets`` training rows (members) and as many control rows (people the
  generator never saw). Success on control rows is what the synthetic data teaches about the
  population at large; only the excess on members is a privacy risk. As in anonymeter
  (Giomi et al., PoPETs 2023), ``risk = (r_train - r_control) / (1 - r_control)``, clipped to
  [0, 1], for the secret where it is highest.
* Interval: the Wilson score interval of ``r_train`` mapped through the same formula, with
  ``r_control`` fixed at its estimate (anonymeter's approach).
* Baseline: the same risk for a naive adversary who ignores the quasi-identifiers and always
  guesses the most common synthetic value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from privgate import Attack, AttackContext, AttackResult, hookimpl, params
from privgate.encoding import TableEncoder
from privgate.errors import InputError
from privgate.schema import Column, Kind, Schema
from privgate.stats import binomial_ci
from sklearn.neighbors import NearestNeighbors

PRIVGATE_PLUGIN_API = "1"

OWNER = "attack 'example-knn-inference'"
DEFAULTS: dict[str, Any] = {"n_targets": 500, "tolerance": 0.05}


def _check_params(given: Mapping[str, Any]) -> dict[str, Any]:
    p = params.resolve(OWNER, DEFAULTS, given)
    params.check_int(OWNER, p, "n_targets", 10)
    params.check_positive(OWNER, p, "tolerance")
    return p


def excess(rate: float, control: float) -> float:
    """Anonymeter's normalised excess success over the control rate, in [0, 1]."""
    if control >= 1:
        return 0.0
    return float(np.clip((rate - control) / (1 - control), 0.0, 1.0))


def _correct(guess: pd.Series, truth: pd.Series, column: Column, tolerance: float
             ) -> np.ndarray:
    g, t = guess.reset_index(drop=True), truth.reset_index(drop=True)
    both_missing = (g.isna() & t.isna()).to_numpy()
    if column.kind is Kind.CATEGORICAL:
        same = (g.astype(object) == t.astype(object)).to_numpy(dtype=bool, na_value=False)
        return same | both_missing
    assert column.bounds is not None
    span = max(column.bounds[1] - column.bounds[0], 1e-12)
    if column.kind is Kind.DATETIME:
        from privgate.schema import epoch_seconds

        g, t = epoch_seconds(g), epoch_seconds(t)
    diff = np.abs(pd.to_numeric(g, errors="coerce").to_numpy(dtype=float)
                  - pd.to_numeric(t, errors="coerce").to_numpy(dtype=float))
    return (np.nan_to_num(diff, nan=np.inf) <= tolerance * span) | both_missing


class KNNInference(Attack):
    """Nearest-neighbour attribute inference on the secrets (see the module docstring).

    Parameters:
        n_targets: members (and as many control rows) attacked (default 500).
        tolerance: a numeric guess is right within this fraction of the declared range.
    """

    name: ClassVar[str] = "example-knn-inference"
    risk_kind: ClassVar[str] = "inference"
    description: ClassVar[str] = ("Nearest-neighbour attribute inference of sensitive columns "
                                  "from the quasi-identifiers, against a control baseline")
    explanation: ClassVar[str] = (
        "The attacker knows a person's quasi-identifiers, finds the most similar synthetic row "
        "and reads off its sensitive values. The risk is how much more often this works for "
        "people in the training data than for people who were not.")
    references: ClassVar[tuple[str, ...]] = (
        "Giomi, Boenisch, Wehmeyer & Tasnádi (2023). A unified framework for quantifying "
        "privacy risk in synthetic data. PoPETs.",)
    contract_params: ClassVar[dict[str, Any]] = {"n_targets": 200}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        _check_params(params)

    def run(self, context: AttackContext) -> AttackResult:
        """Attack members and control rows; report the worst secret's excess success."""
        p = _check_params(self.params)
        schema = context.schema
        secrets = schema.sensitive
        if not secrets:
            raise InputError(f"{OWNER}: the schema declares no sensitive or target column; give "
                             "one the role 'sensitive'")
        aux = [c for c in schema.quasi_identifiers if c not in secrets] or [
            c.name for c in schema.modelled if c.name not in secrets]
        if not aux:
            raise InputError(f"{OWNER}: no quasi-identifier columns to attack with")
        rng = np.random.default_rng(context.seed)
        n = min(int(p["n_targets"]), len(context.train), len(context.control))
        if n < 1 or len(context.synthetic) < 1:
            raise InputError(f"{OWNER}: needs training, control and synthetic rows")
        members = context.train.iloc[np.sort(rng.choice(len(context.train), n, replace=False))]
        outsiders = context.control.iloc[np.sort(rng.choice(len(context.control), n,
                                                            replace=False))]
        encoder = TableEncoder(Schema(tuple(schema[c] for c in aux)))
        nn = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(
            encoder.transform(context.synthetic[aux]))
        synthetic = context.synthetic.reset_index(drop=True)

        def rate(targets: pd.DataFrame, secret: str, naive: bool) -> float:
            column = schema[secret]
            if naive:
                mode = synthetic[secret].mode(dropna=False)
                guess = pd.Series([mode.iloc[0]] * len(targets))
            else:
                idx = nn.kneighbors(encoder.transform(targets[aux]), return_distance=False)[:, 0]
                guess = synthetic[secret].iloc[idx]
            return float(_correct(guess, targets[secret], column, p["tolerance"]).mean())

        per_secret: dict[str, dict[str, float]] = {}
        for secret in secrets:
            r_train, r_control = rate(members, secret, False), rate(outsiders, secret, False)
            naive_train = rate(members, secret, True)
            naive_control = rate(outsiders, secret, True)
            per_secret[secret] = {"train_rate": r_train, "control_rate": r_control,
                                  "risk": excess(r_train, r_control),
                                  "baseline": excess(naive_train, naive_control)}
        worst = max(per_secret, key=lambda s: (per_secret[s]["risk"], s))
        w = per_secret[worst]
        level = context.confidence_level
        low, high = binomial_ci(round(w["train_rate"] * n), n, level, "wilson")
        risk = w["risk"]
        ci_low, ci_high = min(excess(low, w["control_rate"]), risk), max(
            excess(high, w["control_rate"]), risk)
        null_high = binomial_ci(round(w["control_rate"] * n), n, level, "wilson")[1]
        return AttackResult(
            attack=self.name, risk_kind=self.risk_kind, risk=risk, ci_low=ci_low,
            ci_high=ci_high, confidence_level=level,
            interval_method=(f"Wilson score interval of the member success rate ({n} targets), "
                             "mapped through (r - r_control) / (1 - r_control)"),
            baseline=w["baseline"],
            baseline_description=("an adversary who always guesses the most common synthetic "
                                   "value, scored the same way"),
            n_trials=n, null_upper=excess(null_high, w["control_rate"]),
            details={"secret": worst, "aux_columns": aux, "per_secret": per_secret})


@hookimpl
def privgate_attacks() -> list[type[Attack]]:
    """The example attack."""
    return [KNNInference]
