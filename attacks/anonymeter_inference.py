"""``anonymeter-inference``: anonymeter's attribute-inference attack (Giomi et al. 2023).

The adversary knows a target's quasi-identifiers and reads a sensitive column off the nearest
synthetic row, against the same attack on control rows; run once per secret column, the worst
one reported. The shared adapter code is in :mod:`privgate.attacks._anonymeter`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from anonymeter.evaluators import InferenceEvaluator

from privgate import AttackContext, AttackResult, Kind, hookimpl
from privgate.attacks._anonymeter import (
    ANONYMETER_REFERENCE,
    ARTICLE29_REFERENCE,
    INTERVAL_METHOD,
    AnonymeterAttack,
    Prepared,
    column_list,
    null_upper,
    prepare,
    results_details,
    risk_triple,
    seeded,
)
from privgate.attacks._common import modelled_columns
from privgate.errors import InputError
from privgate.randomness import child_seed
from privgate.stats import clamp01


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
    # 2,000 targets (fewer when the tables are smaller): the risk divides by the share of
    # secrets the control attack gets wrong, so a predictable secret (87% right from the
    # quasi-identifiers on the demo table) needs many targets for a usefully narrow interval.
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "n_attacks": 2000,
        "secrets": None,
        "aux_cols": None,
    }
    COLUMN_LISTS: ClassVar[tuple[str, ...]] = ("secrets", "aux_cols")

    def run(self, context: AttackContext) -> AttackResult:
        """Run anonymeter's ``InferenceEvaluator`` once per secret column; report the worst."""
        p = self._settings()
        schema = context.schema
        names = modelled_columns(self.name, context)
        secrets = (schema.sensitive if p["secrets"] is None
                   else column_list(self.name, schema, p["secrets"], "secrets"))
        every_column = not secrets
        if every_column:
            # Nothing declared sensitive: the worst case is that any column is the secret, so
            # each one is attacked in turn (from all the others) and the highest risk counts.
            secrets = list(names)
        fixed_aux = (None if p["aux_cols"] is None
                     else column_list(self.name, schema, p["aux_cols"], "aux_cols"))
        data = prepare(context, names)
        n_attacks = min(p["n_attacks"], len(data.train), len(data.control))

        per_secret: dict[str, dict[str, Any]] = {}
        evaluations: dict[str, Any] = {}
        for number, secret in enumerate(secrets):
            aux = [c for c in (fixed_aux or schema.quasi_identifiers) if c != secret]
            if not aux:  # no quasi-identifiers declared: the attacker knows everything else
                aux = [c for c in names if c != secret]
            if not aux:
                raise InputError(f"attack {self.name!r}: no auxiliary column left for secret "
                                 f"{secret!r}")
            evaluations[secret], per_secret[secret] = self._attack_secret(
                context, data, secret, aux, n_attacks, number)

        worst = max(secrets, key=lambda s: (per_secret[s]["risk"], per_secret[s]["ci"][1]))
        value = per_secret[worst]["risk"]
        # The interval of the maximum: per-secret lower and upper bounds, maximised (so the
        # gate's upper bound is the largest over secrets); no multiplicity adjustment.
        low = min(max(d["ci"][0] for d in per_secret.values()), value)
        high = max(max(d["ci"][1] for d in per_secret.values()), value)
        worst_details = per_secret[worst]
        details = {
            "secret": worst,
            **{k: worst_details[k] for k in (
                "attack_rate", "control_rate", "baseline_rate", "n_success", "n_control",
                "n_baseline", "n_attacks", "n_attacks_control", "n_attacks_baseline",
                "aux_cols", "regression")},
            "per_secret": per_secret,
            "regression_tolerance": 0.05,
            "secrets_from": ("every column (no sensitive column declared)" if every_column
                             else "declared sensitive and target columns"),
            "params": dict(p),
        }
        nulls = [n for n in (null_upper(r) for r in evaluations.values()) if n is not None]
        return self.result(
            context, (low, value, high),
            interval_method=INTERVAL_METHOD + "; for several secrets the highest risk is "
            "reported with the interval [max of lower bounds, max of upper bounds] (no "
            "multiplicity adjustment)",
            baseline=clamp01(float(worst_details["baseline_rate"]["value"])),
            baseline_description=(
                f"success rate of anonymeter's random-guess attacker on {worst!r}: it copies "
                "the secret of a random synthetic row (a success rate, not an "
                "excess-over-control risk)"),
            details=details, results=evaluations[worst], trials_planned=p["n_attacks"],
            null=max(nulls) if nulls else None)

    def _attack_secret(self, context: AttackContext, data: Prepared, secret: str,
                       aux: list[str], n_attacks: int, number: int
                       ) -> tuple[Any, dict[str, Any]]:
        """Anonymeter's results for the ``number``-th secret column (its random stream: by
        position, so renaming columns changes nothing) and their figures for ``details``."""
        regression = context.schema[secret].kind is not Kind.CATEGORICAL
        with seeded(child_seed(context.seed, self.name, "secret", number)):
            evaluator = InferenceEvaluator(
                ori=data.train, syn=data.synthetic, control=data.control,
                aux_cols=[data.safe[c] for c in aux], secret=data.safe[secret],
                regression=regression, n_attacks=n_attacks)
            evaluator.evaluate(n_jobs=1)
            risk = evaluator.risk(confidence_level=context.confidence_level)
            results = evaluator.results(confidence_level=context.confidence_level)
        low, value, high = risk_triple(risk)
        return results, {"risk": value, "ci": [low, high], "aux_cols": aux,
                         "regression": regression, **results_details(results)}


@hookimpl
def privgate_attacks() -> list[type[AnonymeterAttack]]:
    """Register anonymeter's attribute-inference attack."""
    return [AnonymeterInference]
