"""``anonymeter-inference``: anonymeter's attribute-inference attack (Giomi et al. 2023).

The adversary knows a target's quasi-identifiers and reads a sensitive column off the nearest
synthetic row, against the same attack on control rows; run once per secret column. Every row
the tables allow is a target by default (``min(train, control)`` on each side, at most
:data:`~privgate.attacks._common.MAX_TARGETS` drawn uniformly at random; 2,000 when no
sensitive column is declared and every column is a secret in turn, all secrets' targets then
drawn from one pool of that many rows a side), and each secret is one comparison of the
result's counts (core bounds the largest risk, Bonferroni over the secrets). The nearest rows
are found once per set of known columns for every target -- when every column is a secret in
turn, one leave-one-out search serves all secrets -- (:mod:`privgate.attacks._neighbours`)
and handed to anonymeter's own evaluator, which scores
the guesses and warns as it always does. The secrets are independent jobs, each with its own
random streams (:mod:`privgate.attacks._inference_secrets`): on a Ray cluster
(``--backend ray``) they run on its workers, with the same figures. The shared adapter code is
in :mod:`privgate.attacks._anonymeter`.

Variance reduction: matched targets, stratified by the secret's value. How often the secret is
guessed depends mostly on its value (the majority value of a skewed column nearly always, a rare
one seldom), so for a secret with at most :data:`MAX_STRATA_VALUES` values the training and
control targets are drawn in matched pairs with the same value (``min(train, control)`` of each
value, at random), and the counts are reported per value (anonymeter's own
``risk_for_groups``) as strata of the comparison (:class:`privgate.evidence.Counts`). Core then
bounds the risk stratum by stratum and does not pay for the spread between values: with a
secret 90% of whose control guesses are right, a leak-free result needs about half the trials
to certify 0.09 (``benchmarks/results/power_strata.md``). A secret with more values (a number)
is attacked unstratified, on targets anonymeter samples itself.

Without a generator (:meth:`AnonymeterInference.plan`) the control rate of each secret -- how
often a control row's secret is guessed from its quasi-identifiers -- is measured with the
training rows standing in for the synthetic table, on up to 2,000 control rows: a secret that
most control rows give away leaves a small margin (``1 - control rate``) to certify in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from anonymeter.evaluators.inference_evaluator import evaluate_inference_guesses

from privgate import AttackContext, AttackResult, Kind, Schema, hookimpl
from privgate.attack import AttackPlan
from privgate.attacks._anonymeter import (
    ANONYMETER_REFERENCE,
    ARTICLE29_REFERENCE,
    AnonymeterAttack,
    column_list,
    excess_counts,
    kept,
    prepare,
)
from privgate.attacks._common import MAX_TARGETS, modelled_columns, targets_statement
from privgate.attacks._inference_secrets import (
    SecretJob,
    attack_secrets,
    neighbours_for,
    searches,
)
from privgate.attacks._inference_targets import (
    FREQUENT_SHARE,
    MAX_STRATA_VALUES,
    OTHER_BINS,
    matched_targets,
    secret_strata,
    target_pool,
)
from privgate.attacks._neighbours import (
    NeighbourPredictor,
    Neighbours,
    NeighboursLeavingOneOut,
)
from privgate.certification import estimate
from privgate.errors import N_, InputError
from privgate.evidence import Counts
from privgate.randomness import child_seed, rng
from privgate.stats import clamp01

#: Control rows a plan guesses secrets for (the control rate's standard error <= 1.2%).
PLAN_TARGETS = 2_000
#: Targets per side when every column is a secret in turn (no sensitive column declared).
UNDECLARED_TARGETS = 2_000
#: How the targets are drawn when every column is a secret and the tables hold more rows than
#: are attacked (:func:`target_pool`).
POOLED = ("matched pairs per secret, drawn from one pool of training and control rows shared "
          "by every secret")


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
        "n_attacks": None,  # min(train, control) targets on each side, at most MAX_TARGETS
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
            raise InputError(N_("attack %(attack)r: no auxiliary column left for secret "
                                "%(secret)r"), attack=self.name, secret=secret)
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
        per_secret: dict[str, dict[str, Any]] = {}
        available_by_secret: list[int] = []
        counts: list[Counts] = []
        messages: list[str] = []
        if n_attacks < available and p["n_attacks"] is None and every_column:
            messages.append(
                f"every column is a secret in turn (no sensitive column declared), so "
                f"{n_attacks:,} of the {available:,} possible targets were attacked per "
                "secret; declare the sensitive columns (or set n_attacks) to attack them all")
        jobs = []
        # every column a secret in turn: the targets of all secrets come from one pool, so
        # that one leave-one-out search finds the nearest rows of every secret
        # (:func:`privgate.attacks._inference_secrets.attack_secrets`)
        pool = (target_pool(len(data.train), len(data.control), n_attacks,
                            rng(context.seed, self.name, "pool")) if every_column else None)
        for number, secret in enumerate(secrets):
            numeric = schema[secret].kind is not Kind.CATEGORICAL
            keys = secret_strata(data.train[data.safe[secret]],
                                 data.control[data.safe[secret]], numeric)
            matched = matched_targets(keys, len(data.train), n_attacks,
                                      rng(context.seed, self.name, "targets", number), pool)
            jobs.append(SecretJob(  # its random stream by position: renaming changes nothing
                secret, tuple(self._aux(schema, p, secret)), numeric, matched,
                child_seed(context.seed, self.name, "secret", number),
                context.confidence_level))
        pooled = pool is not None and (len(pool[0]) < len(data.train)
                                       or len(pool[1]) < len(data.control))
        for job, done in zip(jobs, attack_secrets(data, jobs, context.executor), strict=True):
            secret = job.secret
            per_secret[secret] = done.details
            counts.append(replace(excess_counts(f"secret {secret}", done.results),
                                  strata=done.strata))
            per_secret[secret]["risk"] = estimate(counts[-1])
            per_secret[secret]["strata"] = len(done.strata)
            messages.extend(kept(done.warnings, f"secret {secret}: "))
            available_by_secret.append(job.matched.available)
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
            "targets": ("matched pairs of training and control rows in the same stratum of "
                        f"the secret (each value its own for at most {MAX_STRATA_VALUES} "
                        f"values; else values held by {FREQUENT_SHARE:.0%} of the rows alone "
                        f"and the rest in {OTHER_BINS} quantile bins), counted per stratum"),
            "targets_drawn": [targets_statement(
                POOLED if pooled else "matched pairs per secret", n_attacks,
                max(available_by_secret), context.seed, self.name)],
            "params": dict(p),
        }
        return self.result(
            context, tuple(counts),
            baseline=clamp01(float(worst_details["baseline_rate"]["value"])),
            baseline_description=(
                f"success rate of anonymeter's random-guess attacker on {worst!r}: it copies "
                "the secret of a random synthetic row (a success rate, not an "
                "excess-over-control risk)"),
            details=details, trials_planned=p["n_attacks"],
            trials_available=max(available_by_secret), warnings=messages,
            targets=details["targets_drawn"])

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
        positions = np.sort(picks[:PLAN_TARGETS])
        targets = data.control.iloc[positions]
        found = _NeighbourCache(data.train, targets)
        pool = (target_pool(len(data.train), len(data.control), n,
                            rng(context.seed, self.name, "pool")) if every_column else None)
        wanted = searches([(data.safe[s], tuple(data.safe[c] for c in self._aux(schema, p, s)))
                           for s in secrets])
        counts, notes, pairs = [], [], []
        for number, (secret, search) in enumerate(zip(secrets, wanted, strict=True)):
            key = data.safe[secret]
            guesses = NeighbourPredictor(neighbours_for(found.get(*search), key), data.train,
                                         key).predict(targets)
            hits = np.asarray(evaluate_inference_guesses(
                guesses, targets[key], regression=schema[secret].kind is not Kind.CATEGORICAL),
                dtype=float)
            control = float(np.mean(hits))
            keys = secret_strata(data.train[key], data.control[key],
                                 schema[secret].kind is not Kind.CATEGORICAL)
            matched = matched_targets(keys, len(data.train), n,
                                      rng(context.seed, self.name, "targets", number), pool)
            counts.append(_planned_strata(f"secret {secret}", matched.stratum,
                                          keys[len(data.train) + positions], hits, control))
            pairs.append(matched.available)
            notes.append(f"secret {secret}: {control:.0%} of {len(targets):,} control rows' "
                         "secrets are guessed from their quasi-identifiers with the training "
                         f"rows as the synthetic table; targets matched in "
                         f"{len(counts[-1].strata)} strata of its values")
        available = max(pairs)
        return AttackPlan(tuple(counts), available, notes=tuple(notes))

    def params_without(self, labels: Sequence[str], schema: Schema) -> dict[str, Any] | None:
        """The secrets left once the comparisons ``labels`` ("secret NAME") are dropped."""
        p = self._settings()
        secrets, _ = self._secrets(schema, p)
        left = [s for s in secrets if f"secret {s}" not in set(labels)]
        if not left or len(left) == len(secrets):
            return None
        return {**{k: v for k, v in self.params.items() if k != "secrets"}, "secrets": left}


def _planned_strata(label: str, stratum: np.ndarray, target_strata: np.ndarray,
                    hits: np.ndarray, pooled: float) -> Counts:
    """A plan's stratified comparison: the matched pairs per stratum (``stratum``: one entry
    per pair), each stratum at the control rate measured on the plan's targets in it
    (``target_strata``, ``hits``), or the ``pooled`` rate where none is."""
    rows = []
    for value in np.unique(stratum):
        size = int(np.sum(stratum == value))
        mine = hits[target_strata == value]
        rate = float(np.mean(mine)) if len(mine) else pooled
        rows.append((rate * size, size, rate * size, size))
    hit = sum(r[0] for r in rows)
    total = sum(r[1] for r in rows)
    return Counts(label, "excess", hit, total, hit, total, strata=tuple(rows))


def _targets(p: dict[str, Any], available: int, every_column: bool) -> int:
    """Targets per side: ``n_attacks`` when given, else every row the tables allow up to
    :data:`~privgate.attacks._common.MAX_TARGETS` (matched pairs drawn uniformly at random
    beyond, :func:`matched_targets`: the counts are over the pairs attacked, so the exact
    bounds stay valid) -- and when every column is a secret in turn (no roles declared), where
    each secret is its own attack of anonymeter's, :data:`UNDECLARED_TARGETS`, so that a wide
    table stays minutes, not hours (the result warns)."""
    if p["n_attacks"] is not None:
        return min(p["n_attacks"], available)
    return min(available, UNDECLARED_TARGETS if every_column else MAX_TARGETS)


class _NeighbourCache:
    """The nearest rows of ``candidates`` for every row of ``rows``, per search
    (:func:`~privgate.attacks._inference_secrets.searches`: several secrets usually share
    their quasi-identifiers, or all the other columns, so one search serves them all)."""

    def __init__(self, candidates: pd.DataFrame, rows: pd.DataFrame) -> None:
        self.candidates = candidates
        self.rows = rows
        self.cache: dict[tuple[tuple[str, ...], bool],
                         Neighbours | NeighboursLeavingOneOut] = {}

    def get(self, columns: tuple[str, ...], leave_one_out: bool
            ) -> Neighbours | NeighboursLeavingOneOut:
        key = (columns, leave_one_out)
        if key not in self.cache:
            self.cache[key] = (
                NeighboursLeavingOneOut(self.candidates, self.rows, columns) if leave_one_out
                else Neighbours(self.candidates, self.rows, columns))
        return self.cache[key]


@hookimpl
def privgate_attacks() -> list[type[AnonymeterAttack]]:
    """Register anonymeter's attribute-inference attack."""
    return [AnonymeterInference]
