"""``verbatim-copy``: synthetic rows identical to a training record that is unique in its table.

A synthetic row that repeats a training record which no other training record shares gives that
record away whole: anyone who recognises it knows the person was in the data and learns every
value of theirs. Counting such copies is the plainest test of memorisation, and the one that
catches a small leak (1% of the training rows copied) that the score-based attacks average away.

Two comparisons, each a share of unique records reproduced verbatim (every modelled column
equal, values canonicalised as :func:`privgate.row_hashes.row_hashes` does: ``3`` equals
``3.0``, every missing value equals every other):

* *records unique on all columns* -- training records no other training record equals, and the
  share of them that appear in the synthetic table; against control records that no training
  record equals (each taken as if it had been added to the training data, so that "unique" means
  the same on both sides), and the share of *them* that appear. A generator that never saw the
  control records reproduces them exactly as often as it would reproduce a training record by
  chance; the risk is the excess of the first share over the second (estimator ``"difference"``,
  bounded exactly by core);
* *records unique on their quasi-identifiers* -- the same, over the records whose
  quasi-identifiers alone single them out (the most identifiable people; a subset of the first).
  It is *supplementary*: gated only where the table has enough such records to certify the
  threshold (core decides from their number), else reported with a warning. Tables with no
  quasi-identifiers declared have only the first comparison.

A training record is "copied" when some synthetic row equals it on every column; which synthetic
row does not matter, nor how many times it is repeated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from privgate import Attack, AttackContext, AttackResult, Schema, hookimpl
from privgate.attack import AttackPlan
from privgate.attacks._common import (
    check_columns,
    interval_from_counts,
    jsonable,
    modelled_columns,
    resolve_params,
)
from privgate.attacks._persons import unit_counts
from privgate.errors import N_, InputError
from privgate.evidence import Counts
from privgate.figures import BarChart
from privgate.persons import unit_of
from privgate.row_hashes import row_hashes

ALL_COLUMNS = "records unique on all columns"
QUASI_IDENTIFIERS = "records unique on their quasi-identifiers"
#: The comparisons' labels when a person column is declared: people with such a record (a
#: person counts once, copied when any of their unique records is).
PEOPLE = {ALL_COLUMNS: "people with a record unique on all columns",
          QUASI_IDENTIFIERS: "people with a record unique on their quasi-identifiers"}


def row_keys(df: pd.DataFrame, columns: Sequence[str]) -> pd.MultiIndex:
    """One 128-bit key per row of ``df[columns]`` (equal rows, equal keys)."""
    lanes = row_hashes(df[list(columns)].reset_index(drop=True))
    return pd.MultiIndex.from_arrays(lanes)


class VerbatimCopy(Attack):
    """Verbatim copies of unique training records, against unique control records."""

    name: ClassVar[str] = "verbatim-copy"
    risk_kind: ClassVar[str] = "verbatim-copy"
    description: ClassVar[str] = (
        "Synthetic rows identical to a training record that no other training record shares, "
        "compared with the same count for unseen control records (risk = excess share copied).")
    explanation: ClassVar[str] = (
        "The simplest way a generator leaks is to hand back some of its training records "
        "unchanged. We look for synthetic rows that are identical, in every column, to a real "
        "training record that is unique -- no other training record has the same values -- "
        "because such a copy gives away that whole person. The same search is run for real "
        "people the generator never saw (the control set): a generator can only reproduce them "
        "by chance, so their copy rate shows what chance alone gives. The risk is the share of "
        "unique training records copied beyond that chance level; it is also computed over the "
        "records whose quasi-identifiers alone make them unique, the most identifiable people.")
    references: ClassVar[tuple[str, ...]] = (
        "Carlini et al. (2023). Extracting training data from diffusion models. USENIX Security "
        "(memorised training records reproduced verbatim).",
        "Stadler, Oprisanu & Troncoso (2022). Synthetic data -- anonymisation groundhog day. "
        "USENIX Security.",
        "Benitez & Malin (2010). Evaluating re-identification risks with respect to the HIPAA "
        "privacy rule. JAMIA 17(2) (unique records and the 0.04% figure).",
    )
    DEFAULTS: ClassVar[dict[str, Any]] = {"quasi_identifiers": None}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        p = resolve_params(self.name, self.DEFAULTS, params)
        qis = p["quasi_identifiers"]
        if qis is not None and not (isinstance(qis, list | tuple) and qis and all(
                isinstance(c, str) for c in qis)):
            raise InputError(N_("attack %(name)r: parameter 'quasi_identifiers' must be a "
                                "non-empty list of column names, got %(qis)r"),
                             name=self.name, qis=qis)

    def check_schema(self, schema: Schema) -> None:
        """``quasi_identifiers`` must name modelled columns."""
        self._qis(schema)

    def _qis(self, schema: Schema) -> list[str]:
        p = resolve_params(self.name, self.DEFAULTS, self.params)
        if p["quasi_identifiers"] is not None:
            return check_columns(self.name, schema, list(p["quasi_identifiers"]),
                                 "quasi_identifiers")
        return list(schema.quasi_identifiers)

    def _comparisons(self, context: AttackContext, names: list[str]
                     ) -> list[tuple[str, list[str], bool]]:
        qis = self._qis(context.schema)
        out = [(ALL_COLUMNS, names, False)]
        if qis and set(qis) != set(names):
            out.append((QUASI_IDENTIFIERS, qis, True))
        return out

    @staticmethod
    def _eligible(context: AttackContext, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Training records unique in the training rows on ``columns``, and control records
        that no training record equals on them."""
        train, control = row_keys(context.train, columns), row_keys(context.control, columns)
        return ~train.duplicated(keep=False), ~control.isin(train)

    def run(self, context: AttackContext) -> AttackResult:
        """Count unique training and control records the synthetic table repeats verbatim."""
        names = modelled_columns(self.name, context)
        synthetic = row_keys(context.synthetic, names)
        copied_train = row_keys(context.train, names).isin(synthetic)
        copied_control = row_keys(context.control, names).isin(synthetic)
        counts: list[Counts] = []
        details: dict[str, Any] = {}
        exposure = np.zeros(len(context.train))
        for label, columns, supplementary in self._comparisons(context, names):
            train_ok, control_ok = self._eligible(context, columns)
            if not train_ok.any():
                if supplementary:
                    continue
                raise InputError(N_("attack %(name)r: no training record is unique, so no "
                                    "verbatim copy of one can be counted"), name=self.name)
            hits = copied_train & train_ok
            control_hits = copied_control & control_ok
            label = label if context.persons is None else PEOPLE[label]  # people, not rows
            counts.append(Counts(label, "difference",
                                 *unit_counts(context, hits, train_ok, control_hits, control_ok),
                                 supplementary=supplementary))
            exposure = np.maximum(exposure, hits.astype(float))
            details[label] = {"columns": columns, "unique_training": int(train_ok.sum()),
                              "copied_training": int(hits.sum()),
                              "unique_control": int(control_ok.sum()),
                              "copied_control": int(control_hits.sum())}
        risk, low, high, method = interval_from_counts(counts, context.confidence_level)
        details["unit"] = unit_of(context.persons)
        details["synthetic_rows_copying_a_training_row"] = int(
            synthetic.isin(row_keys(context.train, names)).sum())
        main = counts[0]
        return AttackResult(
            attack=self.name, risk_kind=self.risk_kind, risk=risk, ci_low=low, ci_high=high,
            confidence_level=context.confidence_level, interval_method=method,
            baseline=0.0, baseline_description=(
                "a generator that never saw the training rows copies unique training records "
                "no more often than unique control records: 0 (the control share itself is in "
                "the counts)"),
            n_trials=max(1, main.trials), details=jsonable(details), counts=tuple(counts),
            trials_available=max(1, main.trials),
            record_risk=pd.Series(exposure, index=pd.RangeIndex(len(exposure)),
                                  name=self.name),
            figures=(_chart(counts),))

    def plan(self, context: AttackContext) -> AttackPlan:
        """The unique records on each side (a leak-free generator copies none of them)."""
        names = modelled_columns(self.name, context, frames=("train", "control"))
        counts = []
        for label, columns, supplementary in self._comparisons(context, names):
            train_ok, control_ok = self._eligible(context, columns)
            if train_ok.any():
                _, n, _, m = unit_counts(context, train_ok, train_ok, control_ok, control_ok)
                label = label if context.persons is None else PEOPLE[label]
                counts.append(Counts(label, "difference", 0, n, 0, m,
                                     supplementary=supplementary))
        notes = tuple(f"{c.label}: {c.trials:,} training and {c.control_trials:,} control "
                      "records" for c in counts)
        return AttackPlan(tuple(counts), counts[0].trials if counts else 0, notes=notes)


def _chart(counts: list[Counts]) -> BarChart:
    labels, values = [], []
    for c in counts:
        labels += [f"training, {c.label}", f"control, {c.label}"]
        values += [c.successes / c.trials if c.trials else 0.0,
                   (c.control_successes or 0.0) / c.control_trials if c.control_trials
                   else 0.0]
    return BarChart(
        title="Unique records the synthetic table repeats verbatim",
        labels=tuple(labels), values=tuple(values),
        caption=("The share of unique real records that appear unchanged in the synthetic "
                 "table. Records the generator never saw (control) show what chance gives; "
                 "only the excess on training records counts as risk."),
        axis_label="share copied")


@hookimpl
def privgate_attacks() -> list[type[Attack]]:
    """Register the verbatim-copy attack."""
    return [VerbatimCopy]
