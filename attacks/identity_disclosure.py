"""Identity disclosure on fully synthetic data: El Emam, Mosquera & Bass (JMIR 2020).

The adversary holds the synthetic table and knows the quasi-identifiers (QIs) of real people.
A synthetic record that matches a real person on the QIs -- exactly, or after the
generalisation the parameters declare -- *identifies* that person with probability one over the
number of people sharing those QIs, and the disclosure is *meaningful* only when the matched
synthetic record also teaches the adversary the person's sensitive values ("learning something
new": at least a share ``L`` of the sensitive columns agree, numbers within a tolerance).

Per training record ``s`` (El Emam et al.'s notation):

* ``I_s`` -- some synthetic record has the same (generalised) QIs as ``s``;
* ``R_s`` -- one of those matching synthetic records agrees with ``s`` on at least a share
  ``L`` of the sensitive columns (categorical: equal; numeric: within ``tolerance`` times the
  column's declared range);
* ``f_s`` -- the number of training records sharing ``s``'s QIs (sample equivalence class);
  ``F_s`` -- the number in the population (train + control, scaled up to ``population_size``
  when the real data is a sample of a known larger population).

Two directions are computed, as in the paper: population-to-synthetic ``(1/n) sum I_s R_s /
F_s`` (the adversary picks a random member of the population class) and sample-to-synthetic
``p = (1/n) sum I_s R_s / f_s`` (the adversary knows the person is in the training data). The
larger -- always the sample direction, because ``F_s >= f_s`` -- is used, so the gate fails
closed. The paper's matching-error adjustment ``lambda`` is taken as 1 (the conservative
choice).

Chance matches: a synthetic record drawn from the population's patterns can match and teach a
person the generator never saw. The same procedure runs on the control records (each counted as
if it had been added to the training data: class size = matches in train + 1), giving the
chance rate ``c`` and the chance share ``h_c`` of records matched and taught. With ``h_m`` that
share among members, the share of members disclosed by a leak is ``q = (h_m - h_c) / (1 -
h_c)`` and the reported risk is ``p - (1 - q) c``: the disclosure the training data caused,
exact both when nothing leaked and when every member was copied. Its baseline is therefore 0.

Counts and bounds: the training (control) records are the trials of the member (control) rates
and the per-record probabilities their outcomes; the result reports the four counts (the summed
re-identification probabilities and the numbers matched and taught, on each side) as one
comparison with estimator ``"corrected"`` (:class:`privgate.evidence.Counts`), and core bounds
``p - (1 - q) c`` exactly from them: Clopper-Pearson bounds of the four rates at
``1 - alpha / 4`` each, combined at their extremes (a [0, 1]-valued mean has at most the
binomial variance, so a summed probability bounded as a binomial count is conservative).
With several candidate secrets each is a comparison of its own (Bonferroni over them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from privgate import Attack, AttackContext, AttackResult, hookimpl
from privgate.attack import AttackPlan
from privgate.attacks._common import (
    check_choice,
    check_columns,
    interval_from_counts,
    jsonable,
    modelled_columns,
    resolve_params,
)
from privgate.attacks._identity_matching import (
    NAME,
    SensitiveRule,
    generalise_spec,
    learns,
    qi_keys,
    rates,
)
from privgate.attacks._persons import person_sums, unit_sizes
from privgate.bounds import excess
from privgate.errors import N_, InputError
from privgate.evidence import Counts
from privgate.figures import BarChart
from privgate.persons import unit_of
from privgate.schema import Schema
from privgate.stats import BINOMIAL_METHODS

#: How the risk is estimated, in words (in the result's details).
ESTIMATOR = (
    "El Emam et al. 2020 (lambda = 1): the sample-to-synthetic rate (1/n) sum I_s R_s / f_s "
    "over the n training records (never below the population-to-synthetic rate, which uses "
    "F_s >= f_s), less the chance rate of control records for the members not leaked: "
    "p - (1 - q) c, q = (h_train - h_control) / (1 - h_control) from the shares h matched and "
    "taught")


class IdentityDisclosure(Attack):
    """Meaningful identity disclosure (El Emam et al. 2020); risk = re-identification rate."""

    name: ClassVar[str] = NAME
    risk_kind: ClassVar[str] = "identity-disclosure"
    description: ClassVar[str] = (
        "Quasi-identifier matching of real people to synthetic records, counted only when the "
        "match also reveals their sensitive values (El Emam, Mosquera & Bass 2020); risk = the "
        "expected share of training records correctly re-identified.")
    explanation: ClassVar[str] = (
        "The simulated adversary knows a few ordinary facts about real people -- the "
        "quasi-identifiers, such as age, sex and education -- and looks for synthetic records "
        "with exactly those facts. When it finds one, it guesses that the synthetic record is "
        "that person; the guess is right one time in as many as there are people sharing "
        "those facts. A correct guess only matters if the synthetic record also tells the "
        "adversary something new and true about the person, such as their occupation or "
        "income. The risk is the expected share of the people in the training data that are "
        "both correctly matched and taught something true this way. It is compared with the "
        "same figure for people who were never in the training data. Health-data regulators "
        "commonly accept 0.09.")
    references: ClassVar[tuple[str, ...]] = (
        "El Emam, Mosquera & Bass (2020). Evaluating identity disclosure risk in fully "
        "synthetic health data: model development and validation. J Med Internet Res "
        "22(11):e23139.",
        "El Emam (2013). Guide to the De-Identification of Personal Health Information. CRC "
        "Press (the 0.09 threshold).",
    )

    DEFAULTS: ClassVar[dict[str, Any]] = {
        "quasi_identifiers": None,
        "sensitive": None,
        "generalise": None,
        "tolerance": 0.05,
        "min_sensitive_share": 1.0,
        "population_size": None,
        "interval": "exact",  # accepted for old configs; core bounds the counts exactly
    }

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        p = resolve_params(self.name, self.DEFAULTS, params)
        check_choice(self.name, p, "interval", tuple(BINOMIAL_METHODS))
        share = p["min_sensitive_share"]
        if (isinstance(share, bool) or not isinstance(share, int | float)
                or not 0 < share <= 1):
            raise InputError(N_("attack %(name)r: parameter 'min_sensitive_share' (the share L "
                                "of sensitive columns that must agree) must be in (0, 1], got "
                                "%(share)r"), name=NAME, share=share)
        pop = p["population_size"]
        if pop is not None and (isinstance(pop, bool) or not isinstance(pop, int) or pop < 1):
            raise InputError(N_("attack %(name)r: parameter 'population_size' must be a "
                                "positive integer (people in the population the data was drawn "
                                "from), got %(pop)r"), name=NAME, pop=pop)

    # -- parameters that need the schema ----------------------------------------------------

    def check_schema(self, schema: Schema) -> None:
        """Column parameters must name modelled columns; the QIs and secrets must not meet."""
        p = resolve_params(self.name, self.DEFAULTS, self.params)
        plans = self._plans(schema, p)
        every_qi = sorted({q for qis, _, _ in plans for q in qis})
        generalise_spec(schema, every_qi, p["generalise"])
        self._tolerance(p["tolerance"], sorted({c for _, sens, _ in plans for c in sens}))

    def _plans(self, schema: Schema, p: Mapping[str, Any]
               ) -> list[tuple[list[str], list[str], str]]:
        """One (quasi-identifiers, sensitive columns, where the QIs came from) per attack run.

        With sensitive columns (declared, or ``params.sensitive``) there is one run. With none
        -- a table with no roles declared -- each column that is not a quasi-identifier is the
        secret in turn and the worst case is reported, as the inference attack does; with no
        quasi-identifiers declared either, the adversary is taken to know every other column.
        """
        qis_given = p["quasi_identifiers"]
        if qis_given is not None:
            qis_given = check_columns(self.name, schema, list(qis_given), "quasi_identifiers")
        if p["sensitive"] is not None:
            sensitive = check_columns(self.name, schema, list(p["sensitive"]), "sensitive")
            candidates = [sensitive]
            declared = True
        else:
            known = qis_given if qis_given is not None else schema.quasi_identifiers
            declared_sensitive = [c for c in schema.sensitive if c not in known]
            declared = bool(declared_sensitive)
            candidates = ([declared_sensitive] if declared
                          else [[c.name] for c in schema.modelled if c.name not in known])
        plans = []
        for sensitive in candidates:
            if qis_given is not None:
                qis, source = qis_given, "parameter"
            elif schema.quasi_identifiers:
                qis, source = schema.quasi_identifiers, "schema"
            else:
                qis = [c.name for c in schema.modelled if c.name not in sensitive]
                source = ("assumed: the schema declares no quasi-identifiers, so the adversary "
                          "is taken to know every column but the secret (worst case)")
            overlap = sorted(set(qis) & set(sensitive))
            if overlap:
                raise InputError(N_("attack %(name)r: column(s) %(overlap)s are both "
                                    "quasi-identifier and sensitive; a column the adversary "
                                    "already knows cannot be learned"), name=NAME, overlap=overlap)
            if not declared and source != "parameter" and not schema.sensitive:
                source += "; no sensitive column declared, so every other column is the secret " \
                          "in turn and the worst is reported"
            plans.append((qis, sensitive, source))
        if not plans or not all(q and s for q, s, _ in plans):
            raise InputError(N_("attack %(name)r: needs at least one quasi-identifier and one "
                                "other column to learn; the table has %(modelled)s"),
                             name=NAME, modelled=[c.name for c in schema.modelled])
        return plans

    @staticmethod
    def _tolerance(value: Any, sensitive: list[str]) -> dict[str, float]:
        if isinstance(value, Mapping):
            unknown = sorted(set(value) - set(sensitive))
            if unknown:
                raise InputError(N_("attack %(name)r: 'tolerance' names %(unknown)s, which are "
                                    "not sensitive columns (%(sensitive)s)"),
                                 name=NAME, unknown=unknown, sensitive=sensitive)
            out = {c: float(value.get(c, IdentityDisclosure.DEFAULTS["tolerance"]))
                   for c in sensitive}
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out = {c: float(value) for c in sensitive}
        else:
            raise InputError(N_("attack %(name)r: 'tolerance' must be a number or a table "
                                "{column = share of range}, got %(value)r"),
                             name=NAME, value=value)
        bad = {c: t for c, t in out.items() if not (math.isfinite(t) and 0 <= t <= 1)}
        if bad:
            raise InputError(N_("attack %(name)r: tolerance must be a share of the column's "
                                "range in [0, 1], got %(bad)s"), name=NAME, bad=bad)
        return out

    # -- the attack ---------------------------------------------------------------------------

    def run(self, context: AttackContext) -> AttackResult:
        """Match real records to synthetic ones on the QIs; count meaningful disclosures.

        With several candidate secrets (no sensitive column declared) the attack runs once per
        secret; each is one comparison of the result's counts (core gates on the largest, with
        Bonferroni over the secrets) and the details name the worst.
        """
        p = resolve_params(self.name, self.DEFAULTS, self.params)
        check_choice(self.name, p, "interval", tuple(BINOMIAL_METHODS))
        modelled_columns(self.name, context)
        self.check_schema(context.schema)
        runs = [self._one(context, p, qis, sensitive, source)
                for qis, sensitive, source in self._plans(context.schema, p)]
        if len(runs) == 1:
            return runs[0]
        worst = max(runs, key=lambda r: (r.risk, r.ci_high))
        counts = tuple(c for r in runs for c in r.counts)
        risk, low, high, method = interval_from_counts(counts, context.confidence_level)
        details = dict(worst.details)
        details["per_secret"] = {
            ",".join(r.details["sensitive"]): {
                "risk": r.risk, "ci": [r.ci_low, r.ci_high],
                "quasi_identifiers": r.details["quasi_identifiers"]} for r in runs}
        details["secrets_from"] = ("every column that is not a quasi-identifier, in turn (no "
                                   "sensitive column declared); the worst is reported")
        return replace(worst, risk=risk, ci_low=low, ci_high=high, counts=counts,
                       interval_method=method + "; one comparison per candidate secret",
                       details=jsonable(details))

    def plan(self, context: AttackContext) -> AttackPlan:
        """The chance rates, measured with the training rows standing in for the synthetic
        table (a leak-free generator discloses members as often as control records)."""
        p = resolve_params(self.name, self.DEFAULTS, self.params)
        modelled_columns(self.name, context, frames=("train", "control"))
        half = len(context.train) // 2
        stand_in = AttackContext(context.train.iloc[:half].reset_index(drop=True),
                                 context.control, context.train.iloc[half:], context.schema,
                                 context.seed, context.confidence_level)
        counts = []
        for qis, sensitive, source in self._plans(context.schema, p):
            chance = self._one(stand_in, p, qis, sensitive, source).counts[0]
            control = _rate(chance.control_successes, chance.control_trials)
            hits = _rate(chance.control_hits, chance.control_trials)
            n, m = unit_sizes(context, len(context.train), len(context.control))
            counts.append(Counts(chance.label, "corrected", control * n, n, control * m, m,
                                 hits=round(hits * n), control_hits=round(hits * m)))
        return AttackPlan(tuple(counts), unit_sizes(context, len(context.train), 0)[0], notes=(
            "chance rates measured on the control records with half the training rows "
            "standing in for the synthetic table and the other half for the training rows",))

    def _one(self, context: AttackContext, p: Mapping[str, Any], qis: list[str],
             sensitive: list[str], qi_source: str) -> AttackResult:
        """The attack for one set of quasi-identifiers and sensitive columns."""
        schema = context.schema
        spec = p["generalise"]
        if isinstance(spec, Mapping):  # rules for columns that are QIs in this run
            spec = {c: r for c, r in spec.items() if c in qis}
        rules = generalise_spec(schema, qis, spec)
        tol = p["tolerance"]
        if isinstance(tol, Mapping):  # tolerances for this run's secrets
            tol = {c: t for c, t in tol.items() if c in sensitive}
        tolerance = self._tolerance(tol, sensitive)
        train, control, syn = context.train, context.control, context.synthetic
        rule = SensitiveRule([schema[c] for c in sensitive], [train, control], tolerance)
        needed = max(1, math.ceil(float(p["min_sensitive_share"]) * len(sensitive) - 1e-9))

        k_train = qi_keys(train, schema, qis, rules)
        k_control = qi_keys(control, schema, qis, rules)
        k_syn = qi_keys(syn, schema, qis, rules)
        s_syn = rule.arrays(syn)
        i_train, r_train = learns(k_train, rule.arrays(train), k_syn, s_syn, rule, needed)
        i_control, r_control = learns(k_control, rule.arrays(control), k_syn, s_syn, rule,
                                       needed)
        found = rates(k_train, k_control, i_train & r_train, i_control & r_control,
                       p["population_size"])
        level = context.confidence_level
        n, n_control = len(train), len(control)
        sums = (float(found["per_record"].sum()), float(found["control_record"].sum()),
                int(found["h_train"].sum()), int(found["h_control"].sum()))
        if context.persons is not None:  # one trial per person: their most exposed record
            n, n_control, sums = person_sums(context.persons, found["per_record"],
                                             found["control_record"], found["h_train"],
                                             found["h_control"])
        counts = Counts(f"sensitive {', '.join(sensitive)}", "corrected", sums[0], n, sums[1],
                        n_control, hits=sums[2], control_hits=sums[3])
        risk, low, high, method = interval_from_counts((counts,), level)
        details = {
            "quasi_identifiers": qis,
            "quasi_identifiers_source": qi_source,
            "sensitive": sensitive,
            "generalise": {c: ({"prefix": int(v)} if kind == "prefix" else v)
                           for c, (kind, v) in rules.items()},
            "tolerance": tolerance,
            "min_sensitive_share": float(p["min_sensitive_share"]),
            "min_sensitive_agreeing": needed,
            "estimator": ESTIMATOR,
            **{k: v for k, v in found.items() if not isinstance(v, np.ndarray)},
            "leaked_share": excess(found["matched_and_taught_share"],
                                   found["control_matched_and_taught_share"]),
            "population": ("train + control" if p["population_size"] is None else
                           f"{int(p['population_size']):,} people (F_s scaled from train + "
                           "control)"),
            "matched_rate": float(i_train.mean()),
            "control_matched_rate": float(i_control.mean()),
            "n_train": n,
            "n_control": n_control,
            "unit": unit_of(context.persons),
            "n_synthetic": int(len(syn)),
        }
        return AttackResult(
            attack=self.name,
            risk_kind=self.risk_kind,
            risk=risk,
            ci_low=low,
            ci_high=high,
            confidence_level=level,
            interval_method=(
                f"{method}: the member rates over {n:,} training records and the control "
                f"rates over {n_control:,} records, the summed per-record re-identification "
                "probabilities as success counts (conservative: a [0, 1]-valued mean has at "
                "most the binomial variance)" if context.persons is None else
                f"{method}: the member rates over {n:,} training people and the control rates "
                f"over {n_control:,} people, each person's largest re-identification "
                "probability over their records, summed, as success counts (conservative: a "
                "[0, 1]-valued mean has at most the binomial variance)"),
            baseline=0.0,
            baseline_description=(
                "a generator that never saw the training rows discloses its members no more "
                "often than people it never saw: 0 after the chance correction (the raw chance "
                "rate, measured on control records, is in details.control_rate)"),
            n_trials=n,
            details=jsonable(details),
            record_risk=pd.Series(found["per_record"], index=pd.RangeIndex(len(train)),
                                  name=self.name),
            counts=(counts,),
            trials_available=n,
            figures=(_matches_chart(details),),
        )


def _rate(k: float | None, n: int | None) -> float:
    return 0.0 if not n or k is None else float(k) / n


def _matches_chart(details: Mapping[str, Any]) -> BarChart:
    """How often training and control records were matched, and matched and taught."""
    return BarChart(
        title="Records matched on their quasi-identifiers, and taught something true",
        labels=("training, matched", "control, matched", "training, matched and taught",
                "control, matched and taught"),
        values=(details["matched_rate"], details["control_matched_rate"],
                details["matched_and_taught_share"],
                details["control_matched_and_taught_share"]),
        caption=("The share of real people for whom a synthetic record has the same "
                 "quasi-identifiers, and for whom it also reveals their sensitive values. People "
                 "the generator never saw (control records) show what chance alone gives."),
        axis_label="share of records")


@hookimpl
def privgate_attacks() -> list[type[Attack]]:
    """Register the identity-disclosure attack."""
    return [IdentityDisclosure]
