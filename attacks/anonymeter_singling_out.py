"""``anonymeter-singling-out``: anonymeter's singling-out attack (Giomi et al. 2023).

The adversary learns predicates on the synthetic table that isolate one synthetic row and
checks whether they isolate exactly one training row, against the same predicates on control
rows; the shared adapter code is in :mod:`privgate.attacks._anonymeter`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from anonymeter.evaluators import SinglingOutEvaluator

from privgate import AttackContext, AttackResult, hookimpl
from privgate.attacks._anonymeter import (
    ANONYMETER_REFERENCE,
    ARTICLE29_REFERENCE,
    AnonymeterAttack,
    prepare,
    results_details,
    risk_triple,
    seeded,
)
from privgate.attacks._common import check_choice, modelled_columns
from privgate.errors import InputError
from privgate.randomness import child_seed
from privgate.stats import clamp01


class AnonymeterSinglingOut(AnonymeterAttack):
    """Anonymeter's singling-out attack (predicates learnt on the synthetic data)."""

    name: ClassVar[str] = "anonymeter-singling-out"
    risk_kind: ClassVar[str] = "singling-out"
    description: ClassVar[str] = (
        "Anonymeter singling-out: predicates that isolate one synthetic row, tested on the "
        "training rows against control rows.")
    explanation: ClassVar[str] = (
        "The simulated adversary has only the synthetic table. It writes conditions such as "
        "\"age at least 80, a widow, born in Peru\" that match exactly one synthetic row, and "
        "bets that exactly one real person in the training data matches them too -- which "
        "would let it single that person out, one of the three risks the EU's Article 29 "
        "Working Party names. The same conditions are also tried on real people the generator "
        "never saw (the control set): conditions that isolate people there as often as in the "
        "training data reflect general patterns of the population, not a leak. The risk is the "
        "share of the adversary's successes on the training data that goes beyond that "
        "control level (0: no excess, 1: every attempt singles someone out beyond chance).")
    references: ClassVar[tuple[str, ...]] = (
        ANONYMETER_REFERENCE, ARTICLE29_REFERENCE,
        "Cohen & Nissim (2020). Towards formalizing the GDPR's notion of singling out. PNAS "
        "117(15).",
    )
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "n_attacks": 500,
        "mode": "multivariate",
        "n_cols": None,  # 3, or every column of a table with fewer
        "max_attempts": 100_000,
    }
    INTS: ClassVar[dict[str, int]] = {"n_attacks": 1, "n_cols": 1, "max_attempts": 1}

    def _settings(self) -> dict[str, Any]:
        p = super()._settings()
        check_choice(self.name, p, "mode", ("multivariate", "univariate"))
        return p

    def run(self, context: AttackContext) -> AttackResult:
        """Run anonymeter's ``SinglingOutEvaluator`` and pass its risk through."""
        p = self._settings()
        n_attacks, mode, max_attempts = p["n_attacks"], p["mode"], p["max_attempts"]
        names = modelled_columns(self.name, context)
        n_cols = min(3, len(names)) if p["n_cols"] is None else p["n_cols"]
        if mode == "multivariate" and n_cols > len(names):
            raise InputError(f"attack {self.name!r}: parameter 'n_cols' is {n_cols} but the "
                             f"schema models only {len(names)} column(s)")
        data = prepare(context, names, pandas_categorical=True)
        seed = child_seed(context.seed, self.name)
        with seeded(seed):
            evaluator = SinglingOutEvaluator(
                ori=data.train, syn=data.synthetic, control=data.control, n_attacks=n_attacks,
                n_cols=n_cols, max_attempts=max_attempts, seed=seed)
            evaluator.evaluate(mode=mode)
            risk = evaluator.risk(confidence_level=context.confidence_level)
            results = evaluator.results(confidence_level=context.confidence_level)
        n_generated = len(evaluator.queries())
        details = {
            **results_details(results),
            "mode": mode,
            "n_cols": n_cols if mode == "multivariate" else 1,
            "n_queries_generated": n_generated,
            "columns": list(names),
            "params": dict(p),
        }
        if n_generated < n_attacks:
            details["note"] = (
                f"only {n_generated} of {n_attacks} singling-out predicates could be found in "
                f"the synthetic data within {max_attempts} attempts; anonymeter counts the "
                "missing ones as failed attacks, which can underestimate the risk")
        return self.result(
            context, risk_triple(risk), baseline=clamp01(float(results.baseline_rate.value)),
            baseline_description=(
                "success rate of anonymeter's random-guess attacker: predicates built from "
                "random values and operators on random columns, tested on the training rows "
                "(a success rate, not an excess-over-control risk)"),
            details=details, results=results, trials_planned=n_attacks)


@hookimpl
def privgate_attacks() -> list[type[AnonymeterAttack]]:
    """Register anonymeter's singling-out attack."""
    return [AnonymeterSinglingOut]
