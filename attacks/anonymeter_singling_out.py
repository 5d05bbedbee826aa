"""``anonymeter-singling-out``: anonymeter's singling-out attack (Giomi et al. 2023).

The adversary learns predicates on the synthetic table that isolate one synthetic row and
checks whether they isolate exactly one training row, against the same predicates on control
rows. The predicates are anonymeter's (its query builder and evaluator, run here step by step):

* a *trial* is a predicate that was actually built. anonymeter's evaluator counts every
  predicate it was asked for, built or not, as an attack, so a table where only 22 of 500 could
  be built showed a "risk over 500 trials" that was mostly unbuilt queries; here the trials are
  the built ones, the shortfall is a warning, and anonymeter's own warnings are kept;
* the same predicates are tested on an equal number of training and control rows (a seeded
  sample of each, ``min(train, control)`` rows): singling out depends on the table size, and
  anonymeter's fitted size correction (a curve fit, so no exact bound) is not needed when the
  sizes agree. The price: a leaked training row is tested only if it is in the sample, so a
  verbatim copy of every training row shows a risk of about ``min(train, control) / train``.
  The two counts of successes over the same predicates are the result's counts (estimator
  ``"excess"``; the exact bound holds whatever the dependence between the two, so pairing
  them is allowed);
* by default as many predicates as there are such rows are asked for, on six columns (fewer
  on narrower tables): predicates on three columns rarely isolate one row of a table of tens of
  thousands (about 300 in 100,000 attempts on UCI Adult), too few to certify anything, while a
  six-column adversary -- one who knows a typical quasi-identifier set -- builds thousands.

The shared adapter code is in :mod:`privgate.attacks._anonymeter`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import anonymeter.evaluators  # noqa: F401 -- imports anonymeter's modules in their order
import numpy as np
import pandas as pd
import polars as pl
from anonymeter.evaluators.singling_out_evaluator import (
    _evaluate_queries,
    _generate_singling_out_queries,
    _random_queries,
)

from privgate import AttackContext, AttackResult, hookimpl
from privgate.attack import AttackPlan
from privgate.attacks._anonymeter import (
    ANONYMETER_REFERENCE,
    ARTICLE29_REFERENCE,
    AnonymeterAttack,
    Prepared,
    kept,
    prepare,
    seeded,
)
from privgate.attacks._common import check_choice, modelled_columns
from privgate.attacks._membership_metrics import positions
from privgate.errors import InputError
from privgate.evidence import Counts
from privgate.randomness import child_seed, rng
from privgate.stats import clamp01

#: Columns per predicate unless ``n_cols`` says otherwise (fewer on narrower tables).
DEFAULT_COLUMNS = 6
#: Query-building attempts a plan makes (it extrapolates to ``max_attempts``).
PLAN_ATTEMPTS = 20_000


def _singles(table: pl.DataFrame, queries: list[Any]) -> int:
    """How many of ``queries`` match exactly one row of ``table``."""
    return int(np.sum(np.asarray(_evaluate_queries(df=table, queries=queries), float) == 1))


def _frame(df: pd.DataFrame) -> pl.DataFrame:
    return pl.DataFrame(df).unique(maintain_order=True)


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
        "n_attacks": None,  # as many predicates as min(train, control)
        "mode": "multivariate",
        "n_cols": None,  # 6, or every column of a narrower table
        "max_attempts": 100_000,
    }
    INTS: ClassVar[dict[str, int]] = {"n_attacks": 1, "n_cols": 1, "max_attempts": 1}

    def _settings(self) -> dict[str, Any]:
        p = super()._settings()
        check_choice(self.name, p, "mode", ("multivariate", "univariate"))
        return p

    def _shape(self, context: AttackContext, p: dict[str, Any],
               frames: tuple[str, ...] = ("train", "control", "synthetic")
               ) -> tuple[list[str], int]:
        names = modelled_columns(self.name, context, frames=frames)
        n_cols = min(DEFAULT_COLUMNS, len(names)) if p["n_cols"] is None else p["n_cols"]
        if p["mode"] == "multivariate" and n_cols > len(names):
            raise InputError(f"attack {self.name!r}: parameter 'n_cols' is {n_cols} but the "
                             f"schema models only {len(names)} column(s)")
        return names, n_cols if p["mode"] == "multivariate" else 1

    def _targets(self, context: AttackContext, data: Prepared
                 ) -> tuple[pl.DataFrame, pl.DataFrame, int]:
        """Equal seeded samples of training and control rows, and their size."""
        size = min(len(data.train), len(data.control))
        draws = rng(context.seed, self.name, "targets")
        train = data.train.iloc[positions(len(data.train), size, draws)]
        control = data.control.iloc[positions(len(data.control), size, draws)]
        return _frame(train), _frame(control), size

    def run(self, context: AttackContext) -> AttackResult:
        """Build predicates on the synthetic rows; count those that single out a training row
        and a control row."""
        p = self._settings()
        names, n_cols = self._shape(context, p)
        data = prepare(context, names, pandas_categorical=True)
        train, control, size = self._targets(context, data)
        wanted = size if p["n_attacks"] is None else min(p["n_attacks"], size)
        seed = child_seed(context.seed, self.name)
        with seeded(seed) as caught:
            synthetic = _frame(data.synthetic)
            draws = np.random.default_rng(seed)
            queries = _generate_singling_out_queries(
                df=synthetic, mode=p["mode"], n_attacks=wanted, n_cols=n_cols,
                max_attempts=p["max_attempts"], rng=draws)
            built = len(queries)
            if built == 0:
                raise InputError(f"attack {self.name!r}: no predicate isolating one synthetic "
                                 f"row could be built in {p['max_attempts']:,} attempts")
            hits, control_hits = _singles(train, queries), _singles(control, queries)
            baseline_queries = _random_queries(df=synthetic, n_queries=built, n_cols=n_cols,
                                               rng=draws)
            baseline_hits = _singles(train, baseline_queries)
        warnings = list(kept(caught))
        if built < wanted:
            warnings.append(
                f"only {built:,} of the {wanted:,} singling-out predicates asked for could be "
                f"built from the synthetic table in {p['max_attempts']:,} attempts; the risk "
                f"is computed over the {built:,} built (anonymeter would count the rest as "
                "failed attacks); raise max_attempts for more")
        baseline = clamp01(baseline_hits / built)
        details = {
            "attack_rate": {"value": hits / built}, "control_rate": {"value": control_hits / built},
            "baseline_rate": {"value": baseline}, "n_success": hits, "n_control": control_hits,
            "n_baseline": baseline_hits, "n_queries_built": built, "n_queries_asked": wanted,
            "target_rows": size, "mode": p["mode"], "n_cols": n_cols, "columns": list(names),
            "params": dict(p)}
        counts = (Counts("singling-out predicates", "excess", hits, built, control_hits, built),)
        return self.result(
            context, counts, baseline=baseline,
            baseline_description=(
                "success rate of anonymeter's random-guess attacker: predicates built from "
                "random values and operators on random columns, tested on the training rows "
                "(a success rate, not an excess-over-control risk)"),
            details=details, trials_planned=p["n_attacks"], trials_available=size,
            warnings=warnings)

    def plan(self, context: AttackContext) -> AttackPlan:
        """The control rate of predicates built on the training rows (standing in for the
        synthetic table), and how many predicates ``max_attempts`` would build."""
        p = self._settings()
        names, n_cols = self._shape(context, p, frames=("train", "control"))
        data = prepare(AttackContext(context.train, context.control, context.train,
                                     context.schema, context.seed), names,
                       pandas_categorical=True)
        _, control, size = self._targets(context, data)
        wanted = size if p["n_attacks"] is None else min(p["n_attacks"], size)
        attempts = min(PLAN_ATTEMPTS, p["max_attempts"])
        with seeded(child_seed(context.seed, self.name, "plan")):
            queries = _generate_singling_out_queries(
                df=_frame(data.train), mode=p["mode"], n_attacks=wanted, n_cols=n_cols,
                max_attempts=attempts, rng=np.random.default_rng(context.seed))
        if not queries:
            return AttackPlan((), size, notes=(f"no predicate isolating one row was built in "
                                               f"{attempts:,} attempts",))
        built = min(wanted, round(len(queries) * p["max_attempts"] / attempts))
        rate = _singles(control, queries) / len(queries)
        note = (f"{len(queries):,} predicates built in {attempts:,} attempts on the training "
                f"rows (about {built:,} expected in max_attempts = {p['max_attempts']:,}); "
                f"{rate:.1%} of them single out a control row")
        return AttackPlan((Counts("singling-out predicates", "excess", rate * built, built,
                                  rate * built, built),), size, notes=(note,))


@hookimpl
def privgate_attacks() -> list[type[AnonymeterAttack]]:
    """Register anonymeter's singling-out attack."""
    return [AnonymeterSinglingOut]
