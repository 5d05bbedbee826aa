"""How ``dp-audit`` reports its evidence (:mod:`privgate.attacks.dp_audit`), and its white-box
mode.

* one-run canary guesses (black box, or one white-box run): the best guess set's ``2 *
  accuracy - 1`` as the risk, the guesses as ``canary_guesses`` for core's one-run bound;
* an operating point over independent trials (a multi-run audit's fits, or the canaries of
  ``runs >= 2`` white-box runs): ``TPR - FPR`` as the risk, the point as ``operating_points``
  for core's Clopper-Pearson bound;
* :func:`whitebox_result`: Dirac gradient canaries through a DP-SGD generator's own trainer
  (:func:`privgate.dp_whitebox.generator_whitebox_audit`), ``runs`` runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from privgate import AttackContext, AttackResult, bounds
from privgate.attacks._common import jsonable
from privgate.errors import N_, InputError, Text
from privgate.operating_points import CanaryGuesses, OperatingPoint
from privgate.randomness import child_seed

#: White-box canaries per run, and their schedule (epochs of expected batches).
WHITEBOX_CANARIES, WHITEBOX_BATCHES, WHITEBOX_EPOCHS = 1000, 10, 20


def guesses_result(name: str, risk_kind: str, context: AttackContext,
                   found: tuple[CanaryGuesses, ...], n_trials: int,
                   details: dict[str, Any]) -> AttackResult:
    """The result of one-run canary guesses (``details`` gets the guess sets)."""
    level = context.confidence_level
    best = max(found, key=lambda g: g.correct / g.guesses)
    two = (1.0 + level) / 2.0
    low = 2 * bounds.lower_rate(best.correct, best.guesses, two) - 1
    high = 2 * bounds.upper_rate(best.correct, best.guesses, two) - 1
    risk = min(1.0, max(0.0, 2 * best.correct / best.guesses - 1))
    return AttackResult(
        attack=name, risk_kind=risk_kind, risk=risk,
        ci_low=min(risk, max(0.0, low)), ci_high=max(risk, min(1.0, high)),
        confidence_level=level,
        interval_method=("two-sided Clopper-Pearson interval of the best guess set's "
                         "accuracy, as 2 * accuracy - 1"),
        baseline=0.0, baseline_description=(
            "guesses at chance: a generator that ignores the canaries is right half the "
            "time (2 * accuracy - 1 = 0)"),
        n_trials=n_trials, canary_guesses=found,
        details=jsonable({**details, "guess_sets": [g.to_dict() for g in found]}))


def point_result(name: str, risk_kind: str, context: AttackContext, pt: OperatingPoint,
                 trials: str, n_trials: int, details: dict[str, Any]) -> AttackResult:
    """The result of one operating point over independent ``trials`` (e.g. "runs"; ``n_trials``
    of them in all, those that chose the threshold included)."""
    level = context.confidence_level
    two = 1.0 - (1.0 - level) / 4.0  # two two-sided binomial intervals together
    tpr, fpr = pt.members_flagged / pt.members, pt.nonmembers_flagged / pt.nonmembers
    risk = max(0.0, tpr - fpr)
    low = (bounds.lower_rate(pt.members_flagged, pt.members, two)
           - bounds.upper_rate(pt.nonmembers_flagged, pt.nonmembers, two))
    high = (bounds.upper_rate(pt.members_flagged, pt.members, two)
            - bounds.lower_rate(pt.nonmembers_flagged, pt.nonmembers, two))
    return AttackResult(
        attack=name, risk_kind=risk_kind, risk=risk,
        ci_low=min(risk, max(0.0, low)), ci_high=max(risk, min(1.0, high)),
        confidence_level=level,
        interval_method=(f"Clopper-Pearson intervals of the canary flag rates over the counted "
                         f"{trials} with and without the canary, as TPR - FPR"),
        baseline=0.0, baseline_description=(
            f"a generator that ignores the canaries flags them as often in the {trials} "
            f"without them as in the {trials} with them (TPR - FPR = 0)"),
        n_trials=n_trials, operating_points=(pt,),
        details=jsonable({**details, "operating_point": pt.to_dict()}))


def whitebox_result(name: str, risk_kind: str, context: AttackContext, p: dict[str, Any],
                    runs: int) -> AttackResult:
    """Dirac gradient canaries through the generator's own DP-SGD trainer, ``runs`` runs."""
    from privgate.dp import DPSGDGenerator
    from privgate.dp_whitebox import generator_whitebox_audit

    gen = context.generator
    if not isinstance(gen, DPSGDGenerator):
        what = (Text(N_("a synthetic table supplied as a file")) if gen is None
                else repr(gen.name))
        raise InputError(N_("attack %(name)r cannot audit %(what)s white-box: only a "
                            "generator trained through privgate.dp gives access to its "
                            "training steps"), name=name, what=what)
    spent = gen.privacy_spent
    if spent is None or not np.isfinite(spent.epsilon):
        raise InputError(N_("attack %(name)r: %(name2)r claims no finite epsilon to audit "
                            "white-box"), name=name, name2=gen.name)
    audit = generator_whitebox_audit(gen, float(spent.epsilon), float(spent.delta),
                                     canaries=WHITEBOX_CANARIES, batches=WHITEBOX_BATCHES,
                                     epochs=WHITEBOX_EPOCHS,
                                     seed=child_seed(context.seed, name, "whitebox"),
                                     level=context.confidence_level, runs=runs)
    details = {"mode": "white-box", "runs": runs, "n_canaries": WHITEBOX_CANARIES,
               "noise_multiplier": audit.noise_multiplier, "sample_rate": audit.sample_rate,
               "steps": audit.steps, "trainer_epsilon": audit.claimed_epsilon,
               "params": dict(p)}
    if audit.point is not None:
        return point_result(name, risk_kind, context, audit.point, "canary trials",
                            runs * WHITEBOX_CANARIES, {**details, "threshold": audit.threshold})
    found = tuple(CanaryGuesses(f"white box: {g.label}", g.canaries, g.guesses, g.correct)
                  for g in audit.guesses)
    return guesses_result(name, risk_kind, context, found, WHITEBOX_CANARIES, details)
