"""``anonymeter-inference``: anonymeter's attribute-inference attack (Giomi et al. 2023).

The adversary knows a target's quasi-identifiers and reads a sensitive column off the nearest
synthetic row, against the same attack on control rows; run once per secret column. Every row
the tables allow is a target by default (``min(train, control)`` on each side; 2,000 when no
sensitive column is declared and every column is a secret in turn), and each secret
is one comparison of the result's counts (core bounds the largest risk, Bonferroni over the
secrets). The nearest rows are found once per set of known columns for every real row
(:mod:`privgate.attacks._neighbours`) and handed to anonymeter's own evaluator, which samples
the targets, scores the guesses and warns as it always does. The shared adapter code is in
:mod:`privgate.attacks._anonymeter`.

Without a generator (:meth:`AnonymeterInference.plan`) the control rate of each secret -- how
often a control row's secret is guessed from its quasi-identifiers -- is measured with the
training rows standing in for the synthetic table, on up to 2,000 control rows: a secret that
most control rows give away leaves a small margin (``1 - control rate``) to certify in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from anonymeter.evaluators import InferenceEvaluator
from anonymeter.evaluators.inference_evaluator import evaluate_inference_guesses

from privgate import AttackContext, AttackResult, Kind, Schema, hookimpl
from privgate.attack import AttackPlan
from privgate.attacks._anonymeter import (
    ANONYMETER_REFERENCE,
    ARTICLE29_REFERENCE,
    AnonymeterAttack,
    Prepared,
    column_list,
    excess_counts,
    kept,
    prepare,
    results_details,
    seeded,
)
from privgate.attacks._common import modelled_columns
from privgate.attacks._neighbours import NeighbourPredictor, Neighbours, population
from privgate.certification import estimate
from privgate.errors import InputError
from privgate.evidence import Counts
from privgate.randomness import child_seed, rng
from privgate.stats import clamp01

#: Control rows a plan guesses secrets for (the control rate's standard error <= 1.2%).
PLAN_TARGETS = 2_000
#: Targets per side when every column is a secret in turn (no sensitive column declared).
UNDECLARED_TARGETS = 2_000


class AnonymeterInference(AnonymeterAttack):
    """Anonymeter's attribute-inference attack, run once per secret; the worst one is reported."""

    name: ClassVar[str] = "anonymeter-inference"
    risk_kind: ClassVar[str] = "inference"
    description: ClassVar[str] = (
        "Anonymeter inference: guessing each sensitive column of a real person from their "
        "quasi-identifiers via the nearest synthetic record (worst column reported).")
    explanation: ClassVar[str] = (
        "The simulated adversary knows some harmless-looking facts about a real person (the "
        "quasi-identifiers, such as age, sex and education) and wants to learn a sensitive "
        "one (such as occupation or income). It looks up the synthetic row most similar to "
        "what it knows and reads the sensitive value off that row. Because some guesses "
        "succeed simply because the population is predictable, the same attack is run on real "
        "people the generator never saw (the control set). The risk is the share of correct "
        "guesses about training-data members beyond that control level, reported for the "
        "sensitive column where it is highest (0: the synthetic data reveals nothing beyond "
        "general patterns, 1: every secret is revealed).")
    references: ClassVar[tuple[str, ...]] = (ANONYMETER_REFERENCE, ARTICLE29_REFERENCE)
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "n_attacks": None,  # every row: min(train, control) targets on each side
        "secrets": None,
        "aux_cols": None,
    }
    COLUMN_LISTS: ClassVar[tuple[str, ...]] = ("secrets", "aux_cols")

    def _secrets(self, schema: Schema, p: dict[str, Any]) -> tuple[list[str], bool]:
        """The secret columns, and whether they are every column (nothing declared)."""
        names = [c.name for c in schema.modelled]
        secrets = (schema.sensitive if p["secrets"] is None
                   else column_list(self.name, schema, p["secrets"], "secrets"))
        if not secrets:  # nothing declared: any column may be the secret, each in turn
            return list(names), True
        return list(secrets), False

    def _aux(self, schema: Schema, p: dict[str, Any], secret: str) -> list[str]:
        fixed = (None if p["aux_cols"] is None
                 else column_list(self.name, schema, p["aux_cols"], "aux_cols"))
        aux = [c for c in (fixed or schema.quasi_identifiers) if c != secret]
        if not aux:  # no quasi-identifiers declared: the attacker knows everything else
            aux = [c.name for c in schema.modelled if c.name != secret]
        if not aux:
            raise InputError(f"attack {self.name!r}: no auxiliary column left for secret "
                             f"{secret!r}")
        return aux

    def run(self, context: AttackContext) -> AttackResult:
        """Run anonymeter's ``InferenceEvaluator`` once per secret column; each is counted."""
        p = self._settings()
        schema = context.schema
        names = modelled_columns(self.name, context)
        secrets, every_column = self._secrets(schema, p)
        data = prepare(context, names)
        available = min(len(data.train), len(data.control))
        n_attacks = _targets(p, available, every_column)
        found = _NeighbourCache(data.synthetic, population(data.train, data.control))
        per_secret: dict[str, dict[str, Any]] = {}
        counts: list[Counts] = []
        messages: list[str] = []
        if n_attacks < available and p["n_attacks"] is None:
            messages.append(
                f"every column is a secret in turn (no sensitive column declared), so "
                f"{n_attacks:,} of the {available:,} possible targets were attacked per "
                "secret; declare the sensitive columns (or set n_attacks) to attack them all")
        for number, secret in enumerate(secrets):
            results, per_secret[secret], caught = self._attack_secret(
                context, data, secret, self._aux(schema, p, secret), n_attacks, number, found)
            counts.append(excess_counts(f"secret {secret}", results))
            per_secret[secret]["risk"] = estimate(counts[-1])
            messages.extend(kept(caught, f"secret {secret}: "))
        worst = max(secrets, key=lambda s: per_secret[s]["risk"])
        worst_details = per_secret[worst]
        details = {
            "secret": worst,
            **{k: worst_details[k] for k in (
                "attack_rate", "control_rate", "baseline_rate", "n_success", "n_control",
                "n_baseline", "n_attacks", "n_attacks_control", "n_attacks_baseline",
                "aux_cols", "regression")},
            "per_secret": per_secret,
            "regression_tolerance": 0.05,
            "neighbours": ("anonymeter's Gower distance; nearest rows found once per distinct "
                           "target (privgate.attacks._neighbours)"),
            "secrets_from": ("every column (no sensitive column declared)" if every_column
                             else "declared sensitive and target columns"),
            "params": dict(p),
        }
        return self.result(
            context, tuple(counts),
            baseline=clamp01(float(worst_details["baseline_rate"]["value"])),
            baseline_description=(
                f"success rate of anonymeter's random-guess attacker on {worst!r}: it copies "
                "the secret of a random synthetic row (a success rate, not an "
                "excess-over-control risk)"),
            details=details, trials_planned=p["n_attacks"], trials_available=available,
            warnings=messages)

    def _attack_secret(self, context: AttackContext, data: Prepared, secret: str,
                       aux: list[str], n_attacks: int, number: int, found: _NeighbourCache
                       ) -> tuple[Any, dict[str, Any], list[str]]:
        """Anonymeter's results for the ``number``-th secret column (its random stream: by
        position, so renaming columns changes nothing), their figures for ``details`` and
        anonymeter's warnings."""
        regression = context.schema[secret].kind is not Kind.CATEGORICAL
        safe_aux = [data.safe[c] for c in aux]
        model = NeighbourPredictor(found.get(safe_aux), data.synthetic, data.safe[secret])
        with seeded(child_seed(context.seed, self.name, "secret", number)) as caught:
            evaluator = InferenceEvaluator(
                ori=data.train, syn=data.synthetic, control=data.control, aux_cols=safe_aux,
                secret=data.safe[secret], regression=regression, n_attacks=n_attacks,
                inference_model=model)
            evaluator.evaluate(n_jobs=1)
            results = evaluator.results(confidence_level=context.confidence_level)
        return results, {"aux_cols": aux, "regression": regression,
                         **results_details(results)}, list(caught)

    def plan(self, context: AttackContext) -> AttackPlan:
        """Each secret's control rate, guessed from the training rows as the stand-in
        synthetic table, and the trials the tables allow."""
        p = self._settings()
        schema = context.schema
        names = modelled_columns(self.name, context, frames=("train", "control"))
        secrets, every_column = self._secrets(schema, p)
        data = prepare(AttackContext(context.train, context.control, context.train, schema,
                                     context.seed), names)
        available = min(len(data.train), len(data.control))
        n = _targets(p, available, every_column)
        picks = rng(context.seed, self.name, "plan").permutation(len(data.control))
        targets = data.control.iloc[np.sort(picks[:PLAN_TARGETS])]
        found = _NeighbourCache(data.train, targets)
        counts, notes = [], []
        for secret in secrets:
            safe_aux = [data.safe[c] for c in self._aux(schema, p, secret)]
            guesses = NeighbourPredictor(found.get(safe_aux), data.train,
                                         data.safe[secret]).predict(targets)
            hits = evaluate_inference_guesses(
                guesses, targets[data.safe[secret]],
                regression=schema[secret].kind is not Kind.CATEGORICAL)
            control = float(np.mean(hits))
            counts.append(Counts(f"secret {secret}", "excess", control * n, n, control * n, n))
            notes.append(f"secret {secret}: {control:.0%} of {len(targets):,} control rows' "
                         "secrets are guessed from their quasi-identifiers with the training "
                         "rows as the synthetic table")
        return AttackPlan(tuple(counts), available, notes=tuple(notes))

    def params_without(self, labels: Sequence[str], schema: Schema) -> dict[str, Any] | None:
        """The secrets left once the comparisons ``labels`` ("secret NAME") are dropped."""
        p = self._settings()
        secrets, _ = self._secrets(schema, p)
        left = [s for s in secrets if f"secret {s}" not in set(labels)]
        if not left or len(left) == len(secrets):
            return None
        return {**{k: v for k, v in self.params.items() if k != "secrets"}, "secrets": left}


def _targets(p: dict[str, Any], available: int, every_column: bool) -> int:
    """Targets per side: ``n_attacks`` when given, else every row the tables allow -- except
    when every column is a secret in turn (no roles declared), where each secret has its own
    known columns and so its own neighbour search: then :data:`UNDECLARED_TARGETS`, so that a
    wide table stays minutes, not hours (the result warns)."""
    if p["n_attacks"] is not None:
        return min(p["n_attacks"], available)
    return min(available, UNDECLARED_TARGETS) if every_column else available


class _NeighbourCache:
    """The nearest rows of ``candidates`` for every row of ``rows``, per set of known columns
    (several secrets usually share their quasi-identifiers, so one search serves them all)."""

    def __init__(self, candidates: pd.DataFrame, rows: pd.DataFrame) -> None:
        self.candidates = candidates
        self.rows = rows
        self.cache: dict[tuple[str, ...], Neighbours] = {}

    def get(self, aux: list[str]) -> Neighbours:
        key = tuple(aux)
        if key not in self.cache:
            self.cache[key] = Neighbours(self.candidates, self.rows, aux)
        return self.cache[key]


@hookimpl
def privgate_attacks() -> list[type[AnonymeterAttack]]:
    """Register anonymeter's attribute-inference attack."""
    return [AnonymeterInference]
