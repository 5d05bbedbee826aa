"""``anonymeter-inference``'s work per secret column, as jobs for the audit's executor.

Each secret is attacked on its own: nearest synthetic rows on its known columns, anonymeter's
``InferenceEvaluator`` on its matched targets, the guesses scored per stratum. The secrets are
independent -- each has its own random streams, named by the secret's position -- so they can
run anywhere, in any order, with the same figures. On a distributed executor
(:attr:`privgate.executor.Executor.distributed`, Ray) :func:`attack_secrets` maps them over its
workers: first the nearest-row search once per distinct set of known columns
(:func:`find_neighbours`; several secrets usually share their quasi-identifiers), then one
:func:`attack_secret` per secret; the prepared tables travel once
(:meth:`~privgate.executor.Executor.share`). Anywhere else the same two maps run in this
process, one job after another, exactly as a loop would.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from anonymeter.evaluators import InferenceEvaluator
from anonymeter.evaluators.inference_evaluator import evaluate_inference_guesses

from privgate.attacks._anonymeter import Prepared, results_details, seeded
from privgate.attacks._neighbours import NeighbourPredictor, Neighbours, population
from privgate.executor import Executor, InlineExecutor, Shared

if TYPE_CHECKING:
    from privgate.attacks.anonymeter_inference import Matched

#: Per stratum: successes and trials on training targets, then on control targets.
Strata = tuple[tuple[float, int, float, int], ...]


@dataclass(frozen=True)
class NeighbourJob:
    """The nearest synthetic row of every real row on the known columns ``aux`` (safe
    names)."""

    tables: Shared[Prepared]
    aux: tuple[str, ...]
    #: the training and control rows (positions) that will be asked about: the targets of
    #: every secret with these known columns
    train_rows: np.ndarray
    control_rows: np.ndarray


def find_neighbours(job: NeighbourJob) -> Neighbours:
    """The job function of a :class:`NeighbourJob` (module level: it travels by name)."""
    data = job.tables.get()
    wanted = pd.concat([data.train.iloc[job.train_rows], data.control.iloc[job.control_rows]],
                       ignore_index=True)
    return Neighbours(data.synthetic, population(data.train, data.control), list(job.aux),
                      wanted=wanted)


@dataclass(frozen=True)
class SecretJob:
    """One secret column's attack.

    Attributes:
        secret: its name in the schema (for messages), ``aux`` the known columns (schema
            names); the tables hold them under safe names (``Prepared.safe``).
        regression: a numeric secret (a guess within 5% counts) rather than a category.
        matched: its matched training and control targets.
        seed: the seed of its random stream (anonymeter's sampling).
        confidence_level: the level of anonymeter's own intervals.
        tables, neighbours: filled by :func:`attack_secrets` (the shared tables, the nearest
            rows on ``aux``).
    """

    secret: str
    aux: tuple[str, ...]
    regression: bool
    matched: Matched
    seed: int
    confidence_level: float
    tables: Shared[Prepared] | None = None
    neighbours: Neighbours | None = None


@dataclass(frozen=True)
class SecretOutcome:
    """Anonymeter's results for one secret, their figures for ``details``, anonymeter's
    warnings and the counts per stratum."""

    results: Any
    details: dict[str, Any]
    warnings: list[str]
    strata: Strata


def attack_secret(job: SecretJob) -> SecretOutcome:
    """Anonymeter's inference attack on one secret, on its matched targets (the job function
    of a :class:`SecretJob`): the counts per stratum are anonymeter's own scoring of the same
    guesses, checked against its totals."""
    assert job.tables is not None and job.neighbours is not None
    data = job.tables.get()
    safe_aux = [data.safe[c] for c in job.aux]
    key = data.safe[job.secret]
    model = NeighbourPredictor(job.neighbours, data.synthetic, key)
    ori = data.train.iloc[job.matched.train]
    control = data.control.iloc[job.matched.control]
    with seeded(job.seed) as caught:
        evaluator = InferenceEvaluator(  # every matched target: anonymeter samples them all
            ori=ori, syn=data.synthetic, control=control, aux_cols=safe_aux, secret=key,
            regression=job.regression, n_attacks=len(ori), inference_model=model)
        evaluator.evaluate(n_jobs=1)
        results = evaluator.results(confidence_level=job.confidence_level)
    hits = [np.asarray(evaluate_inference_guesses(
        model.predict(frame), frame[key], regression=job.regression), dtype=float)
        for frame in (ori, control)]
    if (hits[0].sum(), hits[1].sum()) != (results.n_success, results.n_control):
        raise RuntimeError(f"secret {job.secret!r}: the per-target guesses do not add up to "
                           "anonymeter's success counts")
    return SecretOutcome(results, {"aux_cols": list(job.aux), "regression": job.regression,
                                   **results_details(results)}, list(caught),
                         stratum_counts(job.matched, hits[0], hits[1]))


def attack_secrets(data: Prepared, jobs: list[SecretJob], executor: Executor | None
                   ) -> list[SecretOutcome]:
    """Every secret's attack, outcomes in the order of ``jobs``: over ``executor`` when it
    is distributed, else here."""
    ex = executor if executor is not None and executor.distributed else InlineExecutor()
    tables = ex.share(data)
    by_key: dict[tuple[str, ...], list[SecretJob]] = {}
    for job in jobs:
        by_key.setdefault(tuple(data.safe[c] for c in job.aux), []).append(job)
    searches = [NeighbourJob(
        tables, key, np.unique(np.concatenate([j.matched.train for j in mine])),
        np.unique(np.concatenate([j.matched.control for j in mine])))
        for key, mine in by_key.items()]
    found = dict(zip(by_key, ex.map(find_neighbours, searches), strict=True))
    return ex.map(attack_secret, [
        replace(job, tables=tables, neighbours=found[tuple(data.safe[c] for c in job.aux)])
        for job in jobs])


def stratum_counts(matched: Matched, train_hits: np.ndarray, control_hits: np.ndarray
                   ) -> Strata:
    """Per stratum: successes and trials on the matched training and control targets."""
    rows = []
    for value in np.unique(matched.stratum):
        mine = matched.stratum == value
        k = int(mine.sum())
        rows.append((float(train_hits[mine].sum()), k, float(control_hits[mine].sum()), k))
    return tuple(rows)


__all__ = ["NeighbourJob", "SecretJob", "SecretOutcome", "attack_secret", "attack_secrets",
           "find_neighbours", "stratum_counts"]
