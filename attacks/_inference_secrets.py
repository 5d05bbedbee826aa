"""``anonymeter-inference``'s work per secret column, as jobs for the audit's executor.

Each secret is attacked on its own: nearest synthetic rows on its known columns, anonymeter's
``InferenceEvaluator`` on its matched targets, the guesses scored per stratum. The secrets are
independent -- each has its own random streams, named by the secret's position -- so they can
run anywhere, in any order, with the same figures. On a distributed executor
(:attr:`privgate.executor.Executor.distributed`, Ray) :func:`attack_secrets` maps them over its
workers: first the nearest-row search once per distinct set of known columns
(:func:`find_neighbours`; several secrets usually share their quasi-identifiers; when every
column is a secret in turn, one leave-one-out search serves them all, :func:`searches`), then one
:func:`attack_secret` per secret; the prepared tables travel once
(:meth:`~privgate.executor.Executor.share`). Anywhere else the same two maps run in this
process, one job after another, exactly as a loop would.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from anonymeter.evaluators import InferenceEvaluator
from anonymeter.evaluators.inference_evaluator import evaluate_inference_guesses

from privgate.attacks._anonymeter import Prepared, results_details, seeded
from privgate.attacks._inference_targets import Matched
from privgate.attacks._neighbours import (
    NeighbourPredictor,
    Neighbours,
    NeighboursLeavingOneOut,
    population,
)
from privgate.executor import Executor, InlineExecutor, Shared

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
    #: ``aux`` is every column and the search is for each column left out in turn
    #: (:class:`~privgate.attacks._neighbours.NeighboursLeavingOneOut`)
    leave_one_out: bool = False


def find_neighbours(job: NeighbourJob) -> Neighbours | NeighboursLeavingOneOut:
    """The job function of a :class:`NeighbourJob` (module level: it travels by name)."""
    data = job.tables.get()
    wanted = pd.concat([data.train.iloc[job.train_rows], data.control.iloc[job.control_rows]],
                       ignore_index=True)
    everyone = population(data.train, data.control)
    if job.leave_one_out:
        return NeighboursLeavingOneOut(data.synthetic, everyone, list(job.aux), wanted=wanted)
    return Neighbours(data.synthetic, everyone, list(job.aux), wanted=wanted)


#: Secrets whose known columns are all the other columns of one set share one leave-one-out
#: search from this many on (it costs about two searches on the whole set).
LEAVE_ONE_OUT_FROM = 3


def searches(secrets: list[tuple[str, tuple[str, ...]]]) -> list[tuple[tuple[str, ...], bool]]:
    """The nearest-row search each ``(secret, known columns)`` needs: ``(columns, False)``, a
    search on its known columns (secrets that know the same columns share it), or
    ``(columns, True)``, one leave-one-out search on ``columns`` that serves every secret whose
    known columns are the others of ``columns`` (when there are
    :data:`LEAVE_ONE_OUT_FROM` or more: every column a secret in turn)."""
    whole: dict[tuple[str, ...], set[str]] = {}
    for secret, aux in secrets:
        if secret not in aux:
            whole.setdefault(tuple(sorted({*aux, secret})), set()).add(secret)
    out = []
    for secret, aux in secrets:
        columns = tuple(sorted({*aux, secret}))
        shared = secret not in aux and len(whole.get(columns, ())) >= LEAVE_ONE_OUT_FROM
        out.append((columns, True) if shared else (aux, False))
    return out


def neighbours_for(found: Neighbours | NeighboursLeavingOneOut, secret: str) -> Neighbours:
    """A secret's nearest rows out of its search (:func:`searches`)."""
    return (found.leaving_out(secret) if isinstance(found, NeighboursLeavingOneOut)
            else found)


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
    keys = searches([(data.safe[j.secret], tuple(data.safe[c] for c in j.aux)) for j in jobs])
    by_key: dict[tuple[tuple[str, ...], bool], list[SecretJob]] = {}
    for key, job in zip(keys, jobs, strict=True):
        by_key.setdefault(key, []).append(job)
    found = dict(zip(by_key, ex.map(find_neighbours, [NeighbourJob(
        tables, columns, np.unique(np.concatenate([j.matched.train for j in mine])),
        np.unique(np.concatenate([j.matched.control for j in mine])), leave_one_out)
        for (columns, leave_one_out), mine in by_key.items()]), strict=True))
    return ex.map(attack_secret, [
        replace(job, tables=tables,
                neighbours=neighbours_for(found[key], data.safe[job.secret]))
        for key, job in zip(keys, jobs, strict=True)])


def stratum_counts(matched: Matched, train_hits: np.ndarray, control_hits: np.ndarray
                   ) -> Strata:
    """Per stratum: successes and trials on the matched training and control targets."""
    rows = []
    for value in np.unique(matched.stratum):
        mine = matched.stratum == value
        k = int(mine.sum())
        rows.append((float(train_hits[mine].sum()), k, float(control_hits[mine].sum()), k))
    return tuple(rows)


__all__ = ["LEAVE_ONE_OUT_FROM", "NeighbourJob", "SecretJob", "SecretOutcome", "attack_secret",
           "attack_secrets", "find_neighbours", "neighbours_for", "searches", "stratum_counts"]
