"""DCR membership inference: are training rows closer to the synthetic data than unseen rows?

Each real row is scored by its distance to the closest synthetic record (DCR). Training rows
(members) and control rows (non-members, never seen by the generator) are scored, at most
``max_rows`` of each side (default :data:`~privgate.attacks._common.MAX_TARGETS`, 20,000: a
uniform random subsample beyond, stated in the result; the interval is over the rows scored);
each scored row's nearest synthetic row is searched among ALL synthetic rows. An adversary
who calls "member" whenever the distance is small succeeds more often than chance exactly when
the generator placed synthetic records near its training rows. The advantage's bounds are
exact and distribution-free (:mod:`privgate.attacks._membership_metrics`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from privgate import Attack, AttackContext, AttackResult, hookimpl, randomness
from privgate.attack import AttackPlan
from privgate.attacks._common import (
    MAX_TARGETS,
    check_choice,
    check_int,
    modelled_columns,
    raised,
    resolve_params,
    targets_statement,
    trials_asked,
)
from privgate.attacks._membership_metrics import (
    nearest_distances,
    null_plan,
    positions,
    record_risk_series,
    summarise,
)
from privgate.attacks._nearest import encode_rows
from privgate.attacks._persons import membership_units, unit_sizes
from privgate.encoding import TableEncoder

#: Distance metrics on the TableEncoder matrix, with how they read in the report.
METRICS = {
    "euclidean": "Euclidean (L2) distance on the schema encoding: one-hot categorical blocks "
                 "(a mismatch adds 2 to the squared distance) and numeric columns scaled to "
                 "[0, 1] by their declared bounds",
    "manhattan": "Manhattan (L1) distance on the schema encoding: one-hot categorical blocks "
                 "(a mismatch adds 2) and numeric columns scaled to [0, 1] by their declared "
                 "bounds (Gower-like)",
}


class DCRMembership(Attack):
    """Distance-to-closest-record membership inference; risk = membership advantage."""

    name: ClassVar[str] = "dcr-membership"
    risk_kind: ClassVar[str] = "membership"
    description: ClassVar[str] = (
        "Membership inference from the distance of each real row to its closest synthetic "
        "record (risk = max TPR - FPR).")
    explanation: ClassVar[str] = (
        "The simulated adversary holds the synthetic table and a list of real people's "
        "records, and wants to know which of those people were in the data the generator was "
        "trained on. For each record it finds the most similar synthetic record and guesses "
        "\"was in the training data\" when the two are very close. We test it on equal numbers "
        "of people who were in the training data and people who were not. The risk is the "
        "membership advantage: how much more often the adversary correctly flags a training "
        "member than it wrongly flags an outsider, at its best threshold. 0 means the "
        "synthetic data gives no clue about who was in the training set; 1 means every "
        "member can be told apart. Synthetic rows that copy or closely imitate real rows "
        "raise this risk.")
    references: ClassVar[tuple[str, ...]] = (
        "Yeom, Giacomelli, Fredrikson & Jha (2018). Privacy risk in machine learning: analyzing "
        "the connection to overfitting. IEEE CSF (membership advantage).",
        "Carlini et al. (2022). Membership inference attacks from first principles. IEEE S&P "
        "(TPR at low FPR).",
        "Chen, Yu, Zhang & Fritz (2020). GAN-Leaks: a taxonomy of membership inference attacks "
        "against generative models. ACM CCS (distance-based attacks).",
        "Park et al. (2018). Data synthesis based on generative adversarial networks. PVLDB "
        "(distance to closest record).",
    )

    DEFAULTS: ClassVar[dict[str, Any]] = {
        "max_rows": MAX_TARGETS,  # per side; None: every training and control row
        "metric": "euclidean",
        "n_resamples": 500,
    }

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._settings()  # a bad type, range or metric name is refused here, before any work

    def params_for_trials(self, trials: int) -> dict[str, Any] | None:
        """A larger ``max_rows`` (the default caps the targets at
        :data:`~privgate.attacks._common.MAX_TARGETS` a side)."""
        return raised(self.params, "max_rows", trials, 2)

    def _settings(self) -> tuple[dict[str, Any], int | None, str, int]:
        p = resolve_params(self.name, self.DEFAULTS, self.params)
        return (p, None if p["max_rows"] is None else check_int(self.name, p, "max_rows", 10),
                check_choice(self.name, p, "metric", tuple(METRICS)),
                check_int(self.name, p, "n_resamples", 50))

    def _sizes(self, context: AttackContext, max_rows: int | None) -> tuple[int, int]:
        cap = max_rows or max(len(context.train), len(context.control))
        return min(len(context.train), cap), min(len(context.control), cap)

    def run(self, context: AttackContext) -> AttackResult:
        """Score members and non-members by DCR and report the membership advantage."""
        p, max_rows, metric, n_resamples = self._settings()
        modelled_columns(self.name, context)

        rng = randomness.rng(context.seed, self.name, "targets")
        n, m = self._sizes(context, max_rows)
        member_pos = positions(len(context.train), n, rng)
        members = context.train.iloc[member_pos]
        non_pos = positions(len(context.control), m, rng)  # drawn as _common.subsample draws
        nonmembers = context.control.iloc[non_pos]
        targets = (targets_statement("training rows", n, len(context.train), context.seed,
                                     self.name),
                   targets_statement("control rows", m, len(context.control), context.seed,
                                     self.name))
        encoder = TableEncoder(context.schema)
        # Only the targets are subsampled, never the synthetic side: each target's nearest row
        # is searched among ALL synthetic rows. A subsample of the synthetic rows would inflate
        # every distance and could drop the very copy of a training row that DCR is there to
        # find (not conservative for a privacy gate); so would an approximate search whose
        # distances can exceed the true ones. Exact search on fewer targets costs only width.
        x_syn = encode_rows(encoder, context.synthetic)  # sparse 0/1 slots, chunked
        x_real = encode_rows(encoder, members, nonmembers)
        dist = nearest_distances(x_syn, x_real, metric)
        scores = -dist  # closer to the synthetic data => more likely a member
        units = membership_units(context, member_pos, non_pos, scores)  # rows, or people

        summary = summarise(units.scores, units.labels, level=context.confidence_level,
                            n_resamples=n_resamples, seed=context.seed, stream=self.name)
        d_mem, d_non = dist[:n], dist[n:]
        details = {
            **summary.details(), **units.details,
            "n_synthetic": int(len(context.synthetic)),
            "targets": list(targets),
            "distance_metric": METRICS[metric],
            "median_dcr_members": float(np.median(d_mem)),
            "median_dcr_nonmembers": float(np.median(d_non)),
            "share_exact_matches_members": float(np.mean(d_mem == 0.0)),
            "share_exact_matches_nonmembers": float(np.mean(d_non == 0.0)),
            "params": dict(p),
        }
        # exposure of each scored training row (never written to results.json)
        exposure = record_risk_series(member_pos, units.exposure)
        return summary.result(self.name, self.risk_kind, unit="distance",
                              n_trials=units.n_trials, targets=targets,
                              trials_planned=trials_asked(self.params, max_rows, 2),
                              details=details, record_risk=exposure, trials_available=sum(
                                  unit_sizes(context, len(context.train), len(context.control))))

    def plan(self, context: AttackContext) -> AttackPlan:
        """The leak-free bound of the advantage at this table's sizes (no scores needed)."""
        _, max_rows, _, _ = self._settings()
        n, m = self._sizes(context, max_rows)
        every = self._sizes(context, None)  # what the table has without the cap
        if context.persons is not None:  # one trial per person
            n, m = unit_sizes(context, n, m)
            return null_plan(n, m, context.confidence_level,
                             f"{n:,} training people against {m:,} control people",
                             sum(unit_sizes(context, *every)))
        return null_plan(n, m, context.confidence_level,
                         f"{n:,} training rows against {m:,} control rows", sum(every))


@hookimpl
def privgate_attacks() -> list[type[Attack]]:
    """Register the DCR membership attack."""
    return [DCRMembership]
