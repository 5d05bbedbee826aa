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
* Typed evidence (:mod:`privgate.evidence`), which privgate's report draws as it draws a
  built-in attack's: each target gets the score "the guess was right, and the synthetic row was
  close" (``right + 1 / (1 + distance)``); the ROC curve of that score, training members
  against control rows, its AUROC with the Hanley-McNeil interval, the TPR at FPR 1% and 10%,
  and the trials planned (``n_targets``) and run. A figure (:mod:`privgate.figures`) shows
  the risk per secret column.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from privgate import Attack, AttackContext, AttackResult, hookimpl, params
from privgate.encoding import TableEncoder
from privgate.errors import InputError
from privgate.evidence import Estimate, Interval, RocCurve
from privgate.figures import BarChart
from privgate.randomness import rng as named_rng
from privgate.schema import Column, Kind, Schema
from privgate.stats import binomial_ci
from scipy.stats import norm
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.neighbors import NearestNeighbors

PRIVGATE_PLUGIN_API = "1"

OWNER = "attack 'example-knn-inference'"
DEFAULTS: dict[str, Any] = {"n_targets": 500, "tolerance": 0.05}
#: The false-positive rates the attack reports the true-positive rate at.
LOW_FPRS = (0.01, 0.1)
#: The most ROC points put in the result (privgate accepts up to 5,000).
MAX_ROC_POINTS = 1000


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


def hanley_mcneil(auc: float, n_pos: int, n_neg: int, level: float) -> tuple[float, float]:
    """Normal interval of an AUROC from the Hanley & McNeil (1982) standard error, in [0, 1]."""
    q1, q2 = auc / (2 - auc), 2 * auc ** 2 / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc ** 2)
           + (n_neg - 1) * (q2 - auc ** 2)) / (n_pos * n_neg)
    half = float(norm.ppf((1 + level) / 2)) * float(np.sqrt(max(var, 0.0)))
    return max(0.0, auc - half), min(1.0, auc + half)


def evidence(members: np.ndarray, outsiders: np.ndarray, level: float
             ) -> tuple[RocCurve, Estimate, dict[float, float]]:
    """ROC curve, AUROC with its interval and TPR at :data:`LOW_FPRS` of scores that should be
    higher for training members than for control rows."""
    labels = np.r_[np.ones(len(members)), np.zeros(len(outsiders))]
    scores = np.r_[members, outsiders]
    fpr, tpr, _ = roc_curve(labels, scores)
    if len(fpr) > MAX_ROC_POINTS:
        keep = np.unique(np.round(np.linspace(0, len(fpr) - 1, MAX_ROC_POINTS)).astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    auc = float(roc_auc_score(labels, scores))
    low, high = hanley_mcneil(auc, len(members), len(outsiders), level)
    at = {f: float(tpr[fpr <= f].max()) for f in LOW_FPRS}
    return (RocCurve(tuple(fpr.tolist()), tuple(tpr.tolist())),
            Estimate(auc, Interval(low, high, level, "Hanley-McNeil normal approximation")),
            at)


def rates(right: Callable[[str, str, bool], np.ndarray], secret: str) -> dict[str, float]:
    """Success rates on members and control rows, the risk, and the naive attacker's risk
    (``right(who, secret, naive)`` says per target whether a guess was right)."""
    r_train, r_control = (float(right(w, secret, False).mean())
                          for w in ("members", "outsiders"))
    naive_train, naive_control = (float(right(w, secret, True).mean())
                                  for w in ("members", "outsiders"))
    return {"train_rate": r_train, "control_rate": r_control,
            "risk": excess(r_train, r_control), "baseline": excess(naive_train, naive_control)}


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
        rng = named_rng(context.seed, self.name, "targets")
        n = min(int(p["n_targets"]), len(context.train), len(context.control))
        if n < 1 or len(context.synthetic) < 1:
            raise InputError(f"{OWNER}: needs training, control and synthetic rows")
        targets = {
            "members": context.train.iloc[np.sort(rng.choice(len(context.train), n,
                                                             replace=False))],
            "outsiders": context.control.iloc[np.sort(rng.choice(len(context.control), n,
                                                                 replace=False))]}
        encoder = TableEncoder(Schema(tuple(schema[c] for c in aux)))
        nn = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(
            encoder.transform(context.synthetic[aux]))
        synthetic = context.synthetic.reset_index(drop=True)
        nearest = {k: nn.kneighbors(encoder.transform(t[aux])) for k, t in targets.items()}

        def right(who: str, secret: str, naive: bool) -> np.ndarray:
            """Per target of ``who``: is the guess of ``secret`` right?"""
            if naive:
                mode = synthetic[secret].mode(dropna=False)
                guess = pd.Series([mode.iloc[0]] * n)
            else:
                guess = synthetic[secret].iloc[nearest[who][1][:, 0]]
            return _correct(guess, targets[who][secret], schema[secret], p["tolerance"])

        per_secret = {secret: rates(right, secret) for secret in secrets}
        worst = max(per_secret, key=lambda s: (per_secret[s]["risk"], s))
        w = per_secret[worst]
        level = context.confidence_level
        low, high = binomial_ci(round(w["train_rate"] * n), n, level, "wilson")
        risk = w["risk"]
        ci_low, ci_high = min(excess(low, w["control_rate"]), risk), max(
            excess(high, w["control_rate"]), risk)
        null_high = binomial_ci(round(w["control_rate"] * n), n, level, "wilson")[1]
        # the score of each target: a right guess from a close synthetic row
        score = {who: right(who, worst, False) + 1 / (1 + nearest[who][0][:, 0])
                 for who in ("members", "outsiders")}
        roc, auroc, tpr_at = evidence(score["members"], score["outsiders"], level)
        return AttackResult(
            attack=self.name, risk_kind=self.risk_kind, risk=risk, ci_low=ci_low,
            ci_high=ci_high, confidence_level=level,
            interval_method=(f"Wilson score interval of the member success rate ({n} targets), "
                             "mapped through (r - r_control) / (1 - r_control)"),
            baseline=w["baseline"],
            baseline_description=("an adversary who always guesses the most common synthetic "
                                   "value, scored the same way"),
            n_trials=n, null_upper=excess(null_high, w["control_rate"]),
            details={"secret": worst, "aux_columns": aux, "per_secret": per_secret},
            trials_planned=int(p["n_targets"]), roc=roc, auroc=auroc, tpr_at_fpr=tpr_at,
            figures=(BarChart(
                "Risk per secret column", tuple(per_secret),
                tuple(v["risk"] for v in per_secret.values()),
                caption=("How much more often the attacker guesses each secret right for "
                         "people in the training data than for people who were not."),
                axis_label="excess success (risk)", max_value=1.0),))


@hookimpl
def privgate_attacks() -> list[type[Attack]]:
    """The example attack."""
    return [KNNInference]
