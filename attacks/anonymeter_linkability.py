"""``anonymeter-linkability``: anonymeter's linkability attack (Giomi et al. 2023).

The adversary holds two disjoint sets of columns of the same people and joins them through
their nearest synthetic rows, against the same attack on control rows. Every row the tables
allow is attacked by default (``min(train, control)`` on each side, at most
:data:`~privgate.attacks._common.MAX_TARGETS`: a uniform random subsample beyond, stated in
the details; each target's nearest rows are still searched among ALL synthetic rows); the
nearest rows come from :mod:`privgate.attacks._neighbours` (anonymeter's distance, found once
per distinct target) and the links are counted by anonymeter's own ``LinkabilityIndexes``.
The counts of linked training and control rows are the result's counts (estimator
``"excess"``). The shared adapter code is in :mod:`privgate.attacks._anonymeter`.

With a person column declared (``AttackContext.persons``) the targets are equal seeded samples
of training and control *people* (every row of each; ``n_attacks`` counts people) and a person
is linked when any of their rows is: the counts are linked people over people on each side.
Without one nothing changes (same draws, same result).
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import anonymeter.evaluators  # noqa: F401 -- imports anonymeter's modules in their order
import numpy as np
import pandas as pd
from anonymeter.evaluators.linkability_evaluator import LinkabilityIndexes
from anonymeter.stats.confidence import EvaluationResults

from privgate import AttackContext, AttackResult, Schema, hookimpl
from privgate.attack import AttackPlan
from privgate.attacks._anonymeter import (
    ANONYMETER_REFERENCE,
    ARTICLE29_REFERENCE,
    AnonymeterAttack,
    Prepared,
    column_list,
    kept,
    prepare,
    results_details,
    seeded,
    split_in_two,
    wanted,
)
from privgate.attacks._common import modelled_columns, targets_statement
from privgate.attacks._membership_metrics import positions
from privgate.attacks._neighbours import Neighbours, population
from privgate.attacks._persons import people_rows
from privgate.errors import N_, InputError
from privgate.evidence import Counts
from privgate.persons import PER_PERSON, Persons, people_with
from privgate.randomness import child_seed, rng
from privgate.stats import clamp01

#: Control rows a plan links (the control rate's standard error <= 1.2%).
PLAN_TARGETS = 2_000


def _random_link_probability(n_synthetic: int, k: int) -> float:
    """Chance that two independent uniform ``k``-subsets of ``n_synthetic`` rows intersect.

    ``1 - C(n - k, k) / C(n, k)``, computed as a product to stay in floating point.
    """
    k = min(k, n_synthetic)
    if 2 * k > n_synthetic:
        return 1.0
    disjoint = 1.0
    for i in range(k):
        disjoint *= (n_synthetic - k - i) / (n_synthetic - i)
    return clamp01(1.0 - disjoint)


class AnonymeterLinkability(AnonymeterAttack):
    """Anonymeter's linkability attack (re-joining two halves of a record via synthetic rows)."""

    name: ClassVar[str] = "anonymeter-linkability"
    risk_kind: ClassVar[str] = "linkability"
    description: ClassVar[str] = (
        "Anonymeter linkability: can two separately held sets of attributes of the same person "
        "be joined through their nearest synthetic records?")
    explanation: ClassVar[str] = (
        "The simulated adversary holds two separate databases about the same people -- say, "
        "one with age, sex and race, another with marital status, country and education -- but "
        "no key to join them. It uses the synthetic table as a bridge: for each record in each "
        "database it finds the most similar synthetic rows, and links two records when they "
        "point to the same synthetic row. The test is repeated on real people the generator "
        "never saw (the control set), since some links succeed simply because the population "
        "is predictable. The risk is the share of successful links on the training data beyond "
        "that control level (0: the synthetic data does not help link records, 1: it links "
        "everyone).")
    references: ClassVar[tuple[str, ...]] = (ANONYMETER_REFERENCE, ARTICLE29_REFERENCE)
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "n_attacks": None,  # min(train, control) on each side, at most MAX_TARGETS
        "n_neighbors": 1,
        "aux_cols": None,
    }
    INTS: ClassVar[dict[str, int]] = {"n_attacks": 1, "n_neighbors": 1}

    def _settings(self) -> dict[str, Any]:
        p = super()._settings()
        aux = p["aux_cols"]
        if aux is not None and (not isinstance(aux, list | tuple) or len(aux) != 2 or not all(
                isinstance(half, list | tuple) and half and all(isinstance(c, str) for c in half)
                for half in aux)):
            raise InputError(N_("attack %(name)r: parameter 'aux_cols' must be two lists of "
                                "column names, got %(aux)r"), name=self.name, aux=aux)
        return p

    def check_schema(self, schema: Schema) -> None:
        """``aux_cols`` must name modelled columns; linking needs two columns at least."""
        p = self._settings()
        if p["aux_cols"] is not None:
            self._aux_cols(schema, [c.name for c in schema.modelled], p["aux_cols"])

    def _aux_cols(self, schema: Schema, names: list[str], value: Any
                  ) -> tuple[list[str], list[str]]:
        if value is None:
            # Every modelled column, split in two halves (anonymeter's own usage): with only the
            # quasi-identifiers, tables with few distinct QI combinations tie everywhere and
            # a verbatim copy scored ~0 on adult.
            return split_in_two(names)
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise InputError(N_("attack %(name)r: parameter 'aux_cols' must be two lists of "
                                "column names, got %(value)r"), name=self.name, value=value)
        first = column_list(self.name, schema, value[0], "aux_cols")
        second = column_list(self.name, schema, value[1], "aux_cols")
        return first, second

    def run(self, context: AttackContext) -> AttackResult:
        """Link every training and control row the tables allow through the synthetic rows."""
        p = self._settings()
        names = modelled_columns(self.name, context)
        if len(names) < 2:
            raise InputError(N_("attack %(name)r: needs at least two modelled columns"),
                             name=self.name)
        aux = self._aux_cols(context.schema, names, p["aux_cols"])
        data = prepare(context, names)
        persons = context.persons
        available = (min(len(data.train), len(data.control)) if persons is None
                     else min(persons.n_train, persons.n_control))
        n = wanted(p, available)
        draws = rng(context.seed, self.name, "targets")
        if persons is None:
            t_pos = positions(len(data.train), n, draws)
            c_pos = positions(len(data.control), n, draws)
        else:  # whole people, n on each side
            t_pos, c_pos = people_rows(persons, n, draws)
        train, control = data.train.iloc[t_pos], data.control.iloc[c_pos]
        with seeded(child_seed(context.seed, self.name)) as caught:
            halves = [Neighbours(data.synthetic, population(train, control),
                                 [data.safe[c] for c in half], p["n_neighbors"])
                      for half in aux]
            if persons is None:
                links = [_links(halves, rows, p["n_neighbors"]) for rows in (train, control)]
            else:  # a person is linked when any of their rows is
                links = [people_with(_linked(halves, rows, p["n_neighbors"]), codes)
                         for rows, codes in ((train, persons.train[t_pos]),
                                             (control, persons.control[c_pos]))]
        with warnings.catch_warnings():  # only for the rates in details: its baseline warning
            warnings.simplefilter("ignore")  # would be about the placeholder count 0 below
            results = EvaluationResults(n_attacks=(n, n, n), n_success=links[0],
                                        n_baseline=0, n_control=links[1],
                                        confidence_level=context.confidence_level)
        n_syn = len(data.synthetic)
        # Anonymeter's own baseline draws random neighbour sets from an unseeded generator, so
        # its count would break reproducibility. The random-guess success probability has a
        # closed form: two independent uniform k-subsets of the n synthetic rows intersect with
        # probability 1 - C(n-k, k) / C(n, k). The risk itself does not use the baseline (it is
        # measured against the control attack), so only the reported baseline is replaced.
        baseline = _random_link_probability(n_syn, p["n_neighbors"])
        details = results_details(results)
        details["baseline_rate"] = {"value": baseline, "error": 0.0}
        details["n_baseline"] = None
        details.update({
            "baseline_method": "closed form 1 - C(n-k,k)/C(n,k) (anonymeter's random "
                               "baseline is unseeded)",
            "aux_cols": [aux[0], aux[1]],
            "n_neighbors": p["n_neighbors"],
            "n_synthetic": n_syn,
            "targets": [targets_statement(f"{side} {'rows' if persons is None else 'people'}",
                                          n, total, context.seed, self.name)
                        for side, total in (("training", len(data.train) if persons is None
                                             else persons.n_train),
                                            ("control", len(data.control) if persons is None
                                             else persons.n_control))],
            "neighbours": ("anonymeter's Gower distance and link rule; nearest rows found "
                           "once per distinct target (privgate.attacks._neighbours)"),
            "params": dict(p),
        })
        if persons is not None:
            details.update({"unit": PER_PERSON, "target_people": n,
                            "target_train_rows": len(t_pos), "target_control_rows": len(c_pos),
                            "success": "a person is linked when any of their rows is"})
        label = "linked records" if persons is None else "linked people"
        return self.result(
            context, (Counts(label, "excess", links[0], n, links[1], n),),
            baseline=baseline,
            baseline_description=(
                f"chance that an adversary who picks {p['n_neighbors']} synthetic row(s) at "
                "random for each half of a record links the two halves (a success rate, not "
                "an excess-over-control risk)"),
            details=details, trials_planned=p["n_attacks"], trials_available=available,
            warnings=kept(caught), targets=details["targets"])

    def plan(self, context: AttackContext) -> AttackPlan:
        """How often control rows link through the training rows (standing in for the
        synthetic table), on up to 2,000 control rows."""
        p = self._settings()
        names = modelled_columns(self.name, context, frames=("train", "control"))
        if len(names) < 2:
            raise InputError(N_("attack %(name)r: needs at least two modelled columns"),
                             name=self.name)
        aux = self._aux_cols(context.schema, names, p["aux_cols"])
        data = prepare(AttackContext(context.train, context.control, context.train,
                                     context.schema, context.seed), names)
        persons = context.persons
        if persons is not None:  # people: PLAN_TARGETS control people, all their rows
            return self._plan_people(p, data, aux, persons, context.seed)
        available = min(len(data.train), len(data.control))
        n = wanted(p, available)
        targets = data.control.iloc[positions(len(data.control), PLAN_TARGETS,
                                              rng(context.seed, self.name, "plan"))]
        halves = [Neighbours(data.train, targets, [data.safe[c] for c in half],
                             p["n_neighbors"]) for half in aux]
        rate = _links(halves, targets, p["n_neighbors"]) / len(targets)
        return AttackPlan(
            (Counts("linked records", "excess", rate * n, n, rate * n, n),), available,
            notes=(f"{rate:.1%} of {len(targets):,} control rows link through the training "
                   "rows standing in for the synthetic table",))

    def _plan_people(self, p: dict[str, Any], data: Prepared,
                     aux: tuple[list[str], list[str]], persons: Persons, seed: int
                     ) -> AttackPlan:
        """The plan per person: how often a control person (any of their rows) links through
        the training rows, on up to 2,000 control people."""
        available = min(persons.n_train, persons.n_control)
        n = wanted(p, available)
        people = np.unique(persons.control)
        chosen = people[positions(len(people), PLAN_TARGETS, rng(seed, self.name, "plan"))]
        c_pos = np.flatnonzero(np.isin(persons.control, chosen))
        targets = data.control.iloc[c_pos]
        halves = [Neighbours(data.train, targets, [data.safe[c] for c in half],
                             p["n_neighbors"]) for half in aux]
        rate = people_with(_linked(halves, targets, p["n_neighbors"]),
                           persons.control[c_pos]) / len(chosen)
        return AttackPlan(
            (Counts("linked people", "excess", rate * n, n, rate * n, n),), available,
            notes=(f"{rate:.1%} of {len(chosen):,} control people link through the training "
                   "rows standing in for the synthetic table",))


def _links(halves: list[Neighbours], rows: pd.DataFrame, k: int) -> int:
    """How many of ``rows`` have a synthetic row among the ``k`` nearest of both halves
    (anonymeter's ``LinkabilityIndexes.count_links``)."""
    return int(LinkabilityIndexes(idx_0=halves[0].of(rows), idx_1=halves[1].of(rows))
               .count_links(n_neighbors=k))


def _linked(halves: list[Neighbours], rows: pd.DataFrame, k: int) -> np.ndarray:
    """For each of ``rows``, whether it links (its ``k`` nearest synthetic rows of both halves
    share one: anonymeter's ``LinkabilityIndexes.find_links``)."""
    found = LinkabilityIndexes(idx_0=halves[0].of(rows), idx_1=halves[1].of(rows)
                               ).find_links(n_neighbors=k)
    mask = np.zeros(len(rows), dtype=bool)
    mask[list(found)] = True
    return mask


@hookimpl
def privgate_attacks() -> list[type[AnonymeterAttack]]:
    """Register anonymeter's linkability attack."""
    return [AnonymeterLinkability]
