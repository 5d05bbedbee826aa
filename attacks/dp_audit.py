"""``dp-audit``: a black-box canary audit of a generator's epsilon in one extra training run.

The audit builds ``n_canaries`` canaries -- crafted outliers (every column at an extreme of the
training data: the smallest or largest number, a category drawn uniformly, so rare combinations
arise) and randomly chosen training rows -- and flips a fair coin for each: a crafted canary
whose coin says "in" is added to the training rows, a real one whose coin says "out" is
removed from them. It then fits ONE fresh copy of the audited generator (same class, same
parameters, same budget) on that table, samples ``sample_factor`` (default 10) times as many
rows as the synthetic table has (post-processing of the same fit: a canary the fit nearly
reproduces gets a close sample more surely), and scores each canary by its distance to the
closest sampled row. Without looking at the coins it guesses "in" for the canaries closest
to the synthetic data and "out" for the farthest, for a few fixed numbers of guesses, and
reports how many guesses were right (:class:`~privgate.operating_points.CanaryGuesses`). Core
turns them into an epsilon lower bound (Steinke, Nasr & Jagielski 2023: one training run is
enough; :mod:`privgate.dp_audit_bounds`) and holds it against the claimed epsilon in the
``dp-claim`` check (:mod:`privgate.dp_claim`).

``runs = R`` fits R such tables (independent coins; through the audit's executor) and pools
their canaries: each canary changes only its own run's input, so the pooled guesses are still
bounded by the one-run theorem, with R times the canaries. A generator that cannot be refitted
(no generator object, parameters that do not rebuild it) cannot be audited: the attack says why
and ``dp-claim`` is ``cannot-certify``, never ``pass``. The extra fits train on the training
rows; nothing they produce is released, only the counts, and core books each in the privacy
ledger at the generator's budget (:meth:`DPAudit.refits`; every input error is raised before
the first fit, so a refused audit gives its reservations back).

``mode = "multi-run"`` audits over ``runs`` fits instead (Nasr et al. 2023; Annamalai, Ganev &
De Cristofaro 2024; default 100 runs): ONE crafted canary, fixed in advance, is inserted in each
run on its own coin toss (of 64 crafted candidates, the one farthest from every training
row); its distance to the closest sampled row is its score in that run.
A threshold chosen on half of the runs (seeded) is counted on the other half: the canary
flagged in ``k1`` of ``n1`` runs with it and ``k0`` of ``n0`` runs without it, an
:class:`~privgate.operating_points.OperatingPoint` over independent runs that core bounds with
Clopper-Pearson (:func:`privgate.dp_audit_bounds.rates_epsilon`). It costs ``runs`` fits.

``whitebox = true`` audits the DP-SGD of a generator trained through :mod:`privgate.dp`
instead, white-box (:func:`privgate.dp_whitebox.generator_whitebox_audit`): 1,000 Dirac gradient
canaries through the generator's own trainer, calibrated for the epsilon it claims, every step
seen; no fit of the model, no real row. With ``runs = R >= 2`` it makes R such runs and reports
one operating point over the R x 1,000 canary trials, independent by construction, at a
threshold fixed before any run (core: Clopper-Pearson); one run reports guesses for the one-run
bound (:mod:`privgate.attacks._dp_audit_results`). A generator not trained through
privgate.dp cannot be audited so (no access to its training steps): the attack says so and
``dp-claim`` is ``cannot-certify``.

Where the schema's domain of a categorical column was read off the data (``data_dependent``),
every crafted canary carries a fresh category of its own there: a generator that copies its
domain from the rows it is given (rather than releasing it under DP) shows the canaries it saw,
and a canary whose fresh category appears in the output ranks first, however far its other
columns are.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from privgate import Attack, AttackContext, AttackResult, hookimpl
from privgate.attacks._common import (
    RefitJob,
    check_int,
    modelled_columns,
    resolve_params,
)
from privgate.attacks._dp_audit_results import guesses_result, point_result, whitebox_result
from privgate.attacks._membership_metrics import nearest_distances
from privgate.attacks._operating_point import held_out_point
from privgate.encoding import TableEncoder
from privgate.errors import N_, InputError, plugin_named
from privgate.executor import InlineExecutor
from privgate.operating_points import CanaryGuesses
from privgate.params import check_choice, check_positive
from privgate.randomness import child_seed, rng
from privgate.schema import Kind, Schema

if TYPE_CHECKING:
    from privgate.generator import Generator

#: The guess sets tried on each canary group: (share guessed "in" from the top, whether as many
#: are guessed "out" from the bottom). Fixed in advance; core corrects for their number.
GUESS_SETS = ((0.1, False), (0.25, False), (0.5, True))
#: The audit modes: canaries pooled under the one-run bound, or one canary over many runs.
MODES = ("one-run", "multi-run")
#: Taken off the distance of a canary whose fresh category the output contains.
COPIED = 1000.0
#: The most rows sampled from one audit fit (``sample_factor`` times the synthetic rows).
MAX_SAMPLE = 100_000
#: ``runs`` of a multi-run audit when not given, and the fewest it accepts.
MULTI_RUNS, MIN_MULTI_RUNS = 100, 20


@dataclass(frozen=True)
class CanaryJob(RefitJob):
    """One audit fit, and the canaries scored on its sample."""

    canaries: pd.DataFrame


def run_canary_job(job: CanaryJob) -> np.ndarray:
    """Fit a fresh generator on the job's table; each canary's distance to its sample."""
    synthetic = job.fit_and_sample()
    encoder = TableEncoder(covering(job.schema, job.canaries))
    dist = nearest_distances(encoder.transform(synthetic).astype(np.float64),
                             encoder.transform(job.canaries).astype(np.float64))
    for col in job.schema.columns:  # a fresh canary category in the output: a copy, first
        if col.kind is Kind.CATEGORICAL and col.categories is not None and col.name in synthetic:
            known, out = {str(c) for c in col.categories}, set(map(str, synthetic[col.name]))
            values = job.canaries[col.name].map(str)
            dist = dist - COPIED * (values.isin(out) & ~values.isin(known)).to_numpy()
    return dist


def covering(schema: Schema, canaries: pd.DataFrame) -> Schema:
    """``schema`` with the canaries' categories added to its category lists (fresh canary
    categories then encode as their own slot, so a synthetic row that copies one is close)."""
    cols = []
    for col in schema.columns:
        if col.kind is Kind.CATEGORICAL and col.categories is not None and col.name in canaries:
            known = {str(c) for c in col.categories}
            extra = [v for v in dict.fromkeys(canaries[col.name].dropna().tolist())
                     if str(v) not in known]
            col = replace(col, categories=(*col.categories, *extra)) if extra else col
        cols.append(col)
    return Schema(tuple(cols))


def crafted_canaries(train: pd.DataFrame, n: int, draws: np.random.Generator,
                     schema: Schema | None = None) -> pd.DataFrame:
    """At most ``n`` distinct outliers inside the training data's domain: each number at its
    column's minimum or maximum (the numeric column with the most distinct values drawn
    uniformly between them instead, which keeps canaries apart), each category drawn uniformly
    among those present -- except in a categorical column whose domain ``schema`` says was read
    off the data, where each canary gets a fresh category of its own.
    Duplicates are dropped: two equal canaries would answer for each other."""
    out = train.iloc[draws.integers(0, len(train), 4 * n)].reset_index(drop=True).copy()
    numeric = [c for c in out.columns if pd.api.types.is_numeric_dtype(train[c])
               and not pd.api.types.is_bool_dtype(train[c]) and train[c].notna().any()]
    tag = max(numeric, key=lambda c: train[c].nunique(), default=None)
    for col in out.columns:
        present = train[col].dropna()
        if present.empty:
            continue
        if pd.api.types.is_numeric_dtype(present) or pd.api.types.is_datetime64_any_dtype(
                present):
            ends = np.array([present.min(), present.max()], dtype=object)
            out[col] = pd.Series(ends[draws.integers(0, 2, len(out))], dtype=present.dtype)
        else:
            values = np.array(sorted(present.unique(), key=str), dtype=object)
            out[col] = pd.Series(values[draws.integers(0, len(values), len(out))],
                                 dtype=out[col].dtype)
        if col == tag and pd.api.types.is_integer_dtype(present):
            out[col] = draws.integers(int(present.min()), int(present.max()) + 1, len(out))
        elif col == tag:
            out[col] = draws.uniform(float(present.min()), float(present.max()), len(out))
    fresh = [c.name for c in (schema.columns if schema is not None else ())
             if c.kind is Kind.CATEGORICAL and c.data_dependent and c.name in out]
    if fresh:
        token = int(draws.integers(0, 10**6))
        for col in fresh:
            out[col] = pd.Series([f"canary-{token}-{col}-{i}" for i in range(len(out))],
                                 dtype=object)
    return out.drop_duplicates(ignore_index=True).iloc[:n].reset_index(drop=True)


def farthest_canary(train: pd.DataFrame, schema: Schema, draws: np.random.Generator,
                    candidates: int = 64) -> pd.DataFrame:
    """The one crafted canary (of ``candidates``) farthest from every training row: fixed
    before any run, from the training rows alone, so that a fit that copies it shows it."""
    crafted = crafted_canaries(train, candidates, draws, schema)
    encoder = TableEncoder(covering(schema, crafted))
    far = nearest_distances(encoder.transform(train).astype(np.float64),
                            encoder.transform(crafted).astype(np.float64))
    return crafted.iloc[[int(np.argmax(far))]].reset_index(drop=True)


def audit_sample(context: AttackContext, p: dict[str, Any]) -> int:
    """Rows sampled from each audit fit: ``sample_factor`` times the synthetic table's (at most
    :data:`MAX_SAMPLE`, never fewer than it has). More samples of the same fit are
    post-processing: they show a canary a fit nearly reproduces without weakening any bound."""
    n = len(context.synthetic)
    return max(n, min(int(p["sample_factor"]) * n, MAX_SAMPLE))


def guesses(scores: np.ndarray, inserted: np.ndarray, groups: dict[str, np.ndarray],
            n_canaries: int) -> tuple[CanaryGuesses, ...]:
    """For each group and guess set in :data:`GUESS_SETS`: "in" for its ``k`` highest scores
    (and "out" for its ``k`` lowest where the set says so; abstaining on the rest), and how
    many guesses are right (the coins are read only to count)."""
    out = []
    for group, idx in groups.items():
        order = idx[np.argsort(-scores[idx], kind="mergesort")]
        for share, both in GUESS_SETS:
            k = min(len(idx) // 2, max(1, int(round(share * len(idx)))))
            if k < 1:
                continue
            right = int(inserted[order[:k]].sum())
            label = f"{group} canaries: 'in' for the {k} closest to the synthetic data"
            if both:
                right += int((1 - inserted[order[-k:]]).sum())
                label += f", 'out' for the {k} farthest"
            out.append(CanaryGuesses(label, n_canaries, 2 * k if both else k, right))
    return tuple(out)


class DPAudit(Attack):
    """Canary audit of the claimed epsilon (one extra fit per run); evidence for dp-claim."""

    name: ClassVar[str] = "dp-audit"
    risk_kind: ClassVar[str] = "canary-membership"
    default: ClassVar[bool] = False  # refits the generator: run only when named
    requires_generator: ClassVar[bool] = True
    description: ClassVar[str] = (
        "Canary audit of the claimed epsilon: canaries inserted with probability 1/2, one "
        "extra fit, guesses from the synthetic output (Steinke, Nasr & Jagielski 2023).")
    explanation: ClassVar[str] = (
        "We plant test records (canaries) -- deliberately unusual made-up records and some real "
        "training records -- and toss a coin for each to decide whether the generator may see "
        "it. We then train the generator once more and, looking only at what it produces, "
        "guess which canaries it saw: those with a very close synthetic record. A generator "
        "that keeps its privacy promise cannot let these guesses be right much more often "
        "than chance, so many right guesses prove that its claimed epsilon is false. The risk "
        "shown is how much better than chance the best guesses were (0 = chance).")
    references: ClassVar[tuple[str, ...]] = (
        "Steinke, Nasr & Jagielski (2023). Privacy auditing with one (1) training run. "
        "NeurIPS.",
        "Annamalai, Ganev & De Cristofaro (2024). \"What do you want from theory alone?\" "
        "Experimenting with tight auditing of differentially private synthetic data "
        "generation. USENIX Security.",
    )
    DEFAULTS: ClassVar[dict[str, Any]] = {"n_canaries": 200, "outlier_share": 0.5, "runs": 1,
                                          "mode": "one-run", "whitebox": False,
                                          "sample_factor": 10}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._settings()

    def _settings(self) -> tuple[dict[str, Any], int, float, int, str]:
        given = resolve_params(self.name, self.DEFAULTS, self.params)
        mode = check_choice(plugin_named("attack", self.name), given, "mode", MODES)
        runs = {"runs": MULTI_RUNS} if mode == "multi-run" and "runs" not in self.params else {}
        p = resolve_params(self.name, {**self.DEFAULTS, **runs}, self.params)
        if not isinstance(p["whitebox"], bool):
            raise InputError(N_("attack %(name)r: parameter 'whitebox' must be true or false, "
                                "got %(whitebox)r"), name=self.name, whitebox=p['whitebox'])
        share = check_positive(plugin_named("attack", self.name), p, "outlier_share")
        if share > 1.0:
            raise InputError(N_("attack %(name)r: parameter 'outlier_share' must be at most 1, "
                                "got %(share)s"), name=self.name, share=share)
        check_int(self.name, p, "sample_factor", 1)
        return (p, check_int(self.name, p, "n_canaries", 4), share,
                check_int(self.name, p, "runs", MIN_MULTI_RUNS if mode == "multi-run" else 1),
                mode)

    def _refittable(self, context: AttackContext) -> tuple[Generator, dict[str, Any]]:
        """The audited generator and the parameters that rebuild it, or why it cannot be."""
        gen = context.generator
        if gen is None:
            raise InputError(N_("attack %(name)r cannot audit a synthetic table supplied as a "
                                "file: it must refit the generator that made it"), name=self.name)
        try:
            params = gen.get_params()
            type(gen)(**params)
        except Exception as exc:  # noqa: BLE001 -- any failure means: cannot refit
            raise InputError(N_("attack %(name)r cannot refit %(name2)r from its parameters "
                                "(%(type)s: %(exc)s)"),
                             name=self.name, name2=gen.name, type=type(exc).__name__,
                             exc=exc) from None
        return gen, params

    def refits(self) -> int:
        """Fits on the training rows: ``runs`` (none white-box: its canaries are made up)."""
        p, _, _, runs, _ = self._settings()
        return 0 if p["whitebox"] else runs

    def run(self, context: AttackContext) -> AttackResult:
        """Insert canaries, refit, guess; report the guesses (one-run) or the operating point
        over runs (multi-run) for core's epsilon bound."""
        p, m, share, runs, mode = self._settings()
        modelled_columns(self.name, context)
        if p["whitebox"]:
            return whitebox_result(self.name, self.risk_kind, context, p, runs)
        gen, params = self._refittable(context)
        if mode == "multi-run":
            return self._multi_run(context, gen, params, p, runs)
        jobs, coins, kinds = [], [], []
        for r in range(runs):
            draws = rng(context.seed, self.name, "canaries", r)
            crafted = crafted_canaries(context.train, int(round(share * m)), draws,
                                       context.schema)
            n_out = len(crafted)
            n_real = m - n_out  # real rows make up for crafted duplicates
            if len(context.train) < 2 * n_real + 10:
                raise InputError(N_("attack %(name)r: %(n_train)s training rows are too few for "
                                    "%(n_real)s real canaries; lower 'n_canaries'"),
                                 name=self.name, n_train=len(context.train), n_real=n_real)
            real_pos = draws.choice(len(context.train), size=n_real, replace=False)
            canaries = pd.concat([crafted, context.train.iloc[real_pos]], ignore_index=True)
            inserted = draws.integers(0, 2, m)
            keep = np.ones(len(context.train), dtype=bool)
            keep[real_pos[inserted[n_out:] == 0]] = False
            data = pd.concat([context.train.iloc[np.nonzero(keep)[0]],
                              crafted.iloc[np.nonzero(inserted[:n_out])[0]]], ignore_index=True)
            data = data.iloc[draws.permutation(len(data))].reset_index(drop=True)
            jobs.append(CanaryJob(type(gen), params, context.schema, context.budget, data,
                                  audit_sample(context, p),
                                  child_seed(context.seed, self.name, "fit", r), canaries))
            coins.append(inserted)
            kinds += ["crafted"] * n_out + ["real"] * n_real
        executor = context.executor or InlineExecutor()
        scores = -np.concatenate(executor.map(run_canary_job, jobs))
        inserted = np.concatenate(coins)
        kind = np.array(kinds)
        groups = {"all": np.arange(len(kind))}
        if 0 < (kind == "crafted").sum() < len(kind):  # the outliers are the most memorable
            groups["crafted"] = np.nonzero(kind == "crafted")[0]
        found = guesses(scores, inserted, groups, m * runs)
        return guesses_result(self.name, self.risk_kind, context, found, m * runs, {
            "mode": "one-run", "n_canaries": m, "runs": runs,
            "canaries_inserted": int(inserted.sum()), "params": dict(p)})

    def _multi_run(self, context: AttackContext, gen: Generator, params: dict[str, Any],
                   p: dict[str, Any], runs: int) -> AttackResult:
        """One fixed crafted canary, in or out of each of ``runs`` fits by a coin toss."""
        draws = rng(context.seed, self.name, "multi-run canary")
        canary = farthest_canary(context.train, context.schema, draws)
        coins = draws.integers(0, 2, runs)
        if min(coins.sum(), runs - coins.sum()) < 2:  # before any fit (see refits())
            raise InputError(N_("attack %(name)r: %(runs)s runs gave fewer than 2 runs with (or "
                                "without) the canary; raise 'runs'"), name=self.name, runs=runs)
        jobs = []
        for r in range(runs):
            data = pd.concat([context.train, canary], ignore_index=True) if coins[r] else (
                context.train)
            order = rng(context.seed, self.name, "multi-run order", r).permutation(len(data))
            jobs.append(CanaryJob(type(gen), params, context.schema, context.budget,
                                  data.iloc[order].reset_index(drop=True),
                                  audit_sample(context, p),
                                  child_seed(context.seed, self.name, "fit", r), canary))
        executor = context.executor or InlineExecutor()
        scores = -np.concatenate(executor.map(run_canary_job, jobs))
        (pt,) = held_out_point(scores, coins, seed=context.seed, stream=self.name,
                               unit="canary distance", trials="runs")
        return point_result(self.name, self.risk_kind, context, pt, "runs", runs, {
            "mode": "multi-run", "runs": runs, "runs_with_canary": int(coins.sum()),
            "params": dict(p)})


@hookimpl
def privgate_attacks() -> list[type[Attack]]:
    """Register the canary audit."""
    return [DPAudit]
