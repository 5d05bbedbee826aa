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
* by default as many predicates as there are such rows are asked for, at most
  :data:`~privgate.attacks._common.MAX_TARGETS` (20,000: the trials are the predicates, the
  first ones built -- a prefix of the same seeded sequence, so the count is exact and the
  bound holds over the predicates run; the rows they are tested on are NOT capped, since
  testing on fewer rows would change what singling out means and hide copies), on six
  columns (fewer on narrower tables): predicates on three columns rarely isolate one row of a
  table of tens of thousands (about 300 in 100,000 attempts on UCI Adult), too few to
  certify anything, while a six-column adversary -- one who knows a typical
  quasi-identifier set -- builds thousands.

With a person column declared (``AttackContext.persons``) the attack singles out *people*:
the targets are equal seeded samples of training and control *people* (every row of each,
``min`` of the two sides' people), and a predicate succeeds when the rows it matches all belong
to one person -- a predicate matching two encounters of one patient singles that patient out,
and one matching a single encounter of a patient with others still singles out the patient,
while one matching rows of two people singles out nobody. anonymeter's evaluator can only count
matching rows (:func:`anonymeter.evaluators.singling_out_evaluator._evaluate_queries`), so the
adapter evaluates the same polars predicates itself on the person-tagged tables
(:func:`_people_singled`: the number of distinct persons among the matched rows must be one);
the predicates, the random-guess baseline and the count of trials (the built predicates) are
unchanged. Identical rows of one person count once; identical rows of two people are two
people. Without a person column nothing changes (same draws, same result).

The shared adapter code is in :mod:`privgate.attacks._anonymeter`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import anonymeter.evaluators  # noqa: F401 -- imports anonymeter's modules in their order
import numpy as np
import pandas as pd
import polars as pl
from anonymeter.evaluators import singling_out_evaluator
from anonymeter.evaluators.singling_out_evaluator import (
    UniqueSinglingOutQueries,
    _convert_polars_dtype,
    _evaluate_queries,
    _random_query,
)
from numpy.typing import NDArray

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
from privgate.attacks._common import MAX_TARGETS, check_choice, modelled_columns
from privgate.attacks._membership_metrics import positions
from privgate.attacks._persons import people_rows
from privgate.attacks._singling_out_queries import multivariate_queries
from privgate.errors import N_, InputError
from privgate.evidence import Counts
from privgate.persons import PER_PERSON, Persons
from privgate.randomness import child_seed, rng
from privgate.stats import clamp01

#: Columns per predicate unless ``n_cols`` says otherwise (fewer on narrower tables).
DEFAULT_COLUMNS = 6
#: Query-building attempts a plan makes (it extrapolates to ``max_attempts``).
PLAN_ATTEMPTS = 20_000
#: The column holding each target row's person code (predicates name only ``c0, c1, ...``).
PERSON = "__person"


def _singles(table: pl.DataFrame, queries: list[Any]) -> int:
    """How many of ``queries`` match exactly one row of ``table``."""
    return int(np.sum(np.asarray(_evaluate_queries(df=table, queries=queries), float) == 1))


def _people_singled(table: pl.DataFrame, queries: list[Any]) -> int:
    """How many of ``queries`` match rows of exactly one person of ``table`` (its
    :data:`PERSON` column): one or several rows, all of the same person."""
    if not queries:
        return 0
    found = table.select([pl.col(PERSON).filter(q).n_unique().alias(f"p{i}")
                          for i, q in enumerate(queries)]).row(0)
    return int(np.sum(np.asarray(found, float) == 1))


def _univariate_queries(df: pl.DataFrame, n_queries: int, rng: np.random.Generator
                        ) -> list[pl.Expr]:
    """anonymeter's univariate predicates (a column's only missing value, its minimum, its
    maximum, each value held by one row), the first ``n_queries`` of a seeded shuffle that
    single out one row of ``df``, in an order fixed by ``df`` and ``rng``.

    anonymeter's ``univariate_singling_out_queries`` lists the values held by one row with
    polars ``group_by(col).len()``, whose groups come in a different order on every call
    (``maintain_order`` is off; polars aggregates on several threads), so the same seeded
    shuffle picked other predicates in every call and every process. Here the groups keep
    their order of appearance (``maintain_order=True``); the predicates are the same.
    """
    queries: list[pl.Expr] = []
    for col in df.columns:
        series = df.get_column(col)
        if series.null_count() == 1:
            queries.append(pl.col(col).is_null())
        if series.dtype.is_numeric() and series.drop_nulls().len() > 0:
            queries.extend([pl.col(col) <= series.min(), pl.col(col) >= series.max()])
        counts = df.group_by(col, maintain_order=True).len()
        rare = counts.filter(pl.col("len") == 1).get_column(col).to_list()
        queries.extend(pl.col(col) == value for value in rare)
    unique = UniqueSinglingOutQueries(max_size=n_queries)
    unique.check_and_extend([queries[i] for i in rng.permutation(len(queries))], df)
    return list(unique.queries)


def _random_queries(df: pl.DataFrame, n_queries: int, n_cols: int, rng: np.random.Generator
                    ) -> list[pl.Expr]:
    """anonymeter's random-guess predicates (the baseline), with each column's values listed
    in their order of appearance.

    anonymeter's ``_random_queries`` lists them with polars ``Series.unique()``, whose order
    depends on how polars' threads happen to run (``maintain_order`` is off): under load the
    same seeded draw picked other values, and the baseline changed between runs. The draws
    (``rng``) and the predicates (anonymeter's ``_random_query``) are anonymeter's own.
    """
    # arrays made once, as rng.choice makes them from a list (np.asarray) at every draw: the
    # same draws and values, without copying up to a million values per predicate column
    values = {col: np.asarray(df.get_column(col).unique(maintain_order=True).to_list())
              for col in df.columns}
    kinds = {col: _convert_polars_dtype(df.get_column(col).dtype) for col in df.columns}
    out = []
    for _ in range(n_queries):
        cols = rng.choice(df.columns, size=n_cols, replace=False).tolist()
        out.append(_random_query(unique_values=values, cols=cols, column_types=kinds, rng=rng))
    return out


def _queries(df: pl.DataFrame, mode: str, n_attacks: int, n_cols: int, max_attempts: int,
             rng: np.random.Generator) -> list[pl.Expr]:
    """anonymeter's singling-out predicates built on ``df``: its multivariate builder as it is
    (seeded by ``rng``, reproducible), the univariate one in a fixed order
    (:func:`_univariate_queries`), with anonymeter's warning when too few were built."""
    if mode != "univariate":  # anonymeter's predicates, each checked on fewer rows
        queries = multivariate_queries(df, n_attacks, n_cols, max_attempts, rng)
    else:
        queries = _univariate_queries(df, n_attacks, rng)
    if len(queries) < n_attacks:  # anonymeter's words, collected by seeded() like its own
        singling_out_evaluator.logger.warning(
            f"Attack `{mode}` could generate only {len(queries)} singling out queries "
            f"out of the requested {n_attacks}. This can probably lead to an underestimate "
            "of the singling out risk.")
    return queries


def _wanted(p: dict[str, Any], size: int) -> int:
    """Predicates asked for: ``n_attacks``, else one per target row up to
    :data:`~privgate.attacks._common.MAX_TARGETS` (the trials are the predicates; the targets
    they are tested on stay ``min(train, control)`` rows, see the module's docstring)."""
    return min(size, MAX_TARGETS if p["n_attacks"] is None else p["n_attacks"])


def _frame(df: pd.DataFrame) -> pl.DataFrame:
    return pl.DataFrame(df).unique(maintain_order=True)


def _people_frame(df: pd.DataFrame, codes: NDArray[np.int64]) -> tuple[pl.DataFrame, int]:
    """``df`` with each row's person code in :data:`PERSON`, identical rows of one person
    once; and how many rows that leaves."""
    frame = _frame(df.assign(**{PERSON: np.asarray(codes)}))
    return frame, frame.height


def _people_targets(persons: Persons, seed: int, name: str, data: Prepared
                    ) -> tuple[pl.DataFrame, pl.DataFrame, int, dict[str, int]]:
    """Equal seeded samples of training and control *people* (all their rows), the number of
    people on each side, and the rows they hold."""
    size = min(persons.n_train, persons.n_control)
    t_pos, c_pos = people_rows(persons, size, rng(seed, name, "targets"))
    train, n_train = _people_frame(data.train.iloc[t_pos], persons.train[t_pos])
    control, n_control = _people_frame(data.control.iloc[c_pos], persons.control[c_pos])
    return train, control, size, {"target_train_rows": n_train,
                                  "target_control_rows": n_control}


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
            raise InputError(N_("attack %(name)r: parameter 'n_cols' is %(n_cols)s but the "
                                "schema models only %(n_names)s column(s)"),
                             name=self.name, n_cols=n_cols, n_names=len(names))
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
        persons, rows = context.persons, dict[str, int]()
        if persons is None:
            train, control, size = self._targets(context, data)
        else:
            train, control, size, rows = _people_targets(persons, context.seed, self.name, data)
        singles = _singles if persons is None else _people_singled
        wanted = _wanted(p, size)
        seed = child_seed(context.seed, self.name)
        with seeded(seed) as caught:
            synthetic = _frame(data.synthetic)
            draws = np.random.default_rng(seed)
            queries = _queries(synthetic, p["mode"], wanted, n_cols, p["max_attempts"], draws)
            built = len(queries)
            if built == 0:
                raise InputError(N_("attack %(name)r: no predicate isolating one synthetic row "
                                    "could be built in %(max_attempts)s attempts"),
                                 name=self.name, max_attempts=f"{p['max_attempts']:,}")
            hits, control_hits = singles(train, queries), singles(control, queries)
            baseline_queries = _random_queries(df=synthetic, n_queries=built, n_cols=n_cols,
                                               rng=draws)
            baseline_hits = singles(train, baseline_queries)
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
        if persons is not None:  # rows stay as they were without persons (same result)
            del details["target_rows"]  # people, and the rows they hold, instead
            details.update({"unit": PER_PERSON, "target_people": size, **rows,
                            "success": "the rows a predicate matches all belong to one person"})
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
        if context.persons is None:
            _, control, size = self._targets(context, data)
        else:
            _, control, size, _ = _people_targets(context.persons, context.seed, self.name,
                                                  data)
        singles = _singles if context.persons is None else _people_singled
        wanted = _wanted(p, size)
        attempts = min(PLAN_ATTEMPTS, p["max_attempts"])
        with seeded(child_seed(context.seed, self.name, "plan")):
            queries = _queries(_frame(data.train), p["mode"], wanted, n_cols, attempts,
                               np.random.default_rng(context.seed))
        if not queries:
            return AttackPlan((), size, notes=(f"no predicate isolating one row was built in "
                                               f"{attempts:,} attempts",))
        built = min(wanted, round(len(queries) * p["max_attempts"] / attempts))
        rate = singles(control, queries) / len(queries)
        note = (f"{len(queries):,} predicates built in {attempts:,} attempts on the training "
                f"rows (about {built:,} expected in max_attempts = {p['max_attempts']:,}); "
                f"{rate:.1%} of them single out a control "
                f"{'row' if context.persons is None else 'person'}")
        return AttackPlan((Counts("singling-out predicates", "excess", rate * built, built,
                                  rate * built, built),), size, notes=(note,))


@hookimpl
def privgate_attacks() -> list[type[AnonymeterAttack]]:
    """Register anonymeter's singling-out attack."""
    return [AnonymeterSinglingOut]
