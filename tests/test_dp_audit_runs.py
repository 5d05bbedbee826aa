"""``dp-audit``'s multi-run mode (one canary, in or out of each of R fits by a coin toss, a
threshold fixed on half of the runs, Clopper-Pearson over the other half; core's
:func:`~privgate.dp_audit_bounds.multi_run_epsilon`), and canaries that catch a domain read off
the data, and the white-box option (gradient canaries through a DP-SGD generator's own
trainer): exact binomial false-refutation checks, a copier, a domain copier and a misreported
sample rate refuted, honest generators spared, a generator without training steps
cannot-certify.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from test_dp_audit import Copier

from privgate import AttackContext, Column, Generator, Kind, Role, Schema
from privgate.attacks.dp_audit import DPAudit, covering, crafted_canaries
from privgate.dp.accounting import noise_multiplier_for
from privgate.dp.trainer import DPTrainer, Schedule
from privgate.dp_audit_bounds import multi_run_epsilon, rates_epsilon
from privgate.dp_claim import assess_claim
from privgate.errors import InputError
from privgate.executor import JoblibExecutor
from privgate.generator import PrivacyBudget, PrivacySpent
from privgate.plugins.generators.vae.generator import DPSGDVAE

CODES = tuple(f"c{i}" for i in range(5))
SCHEMA = Schema((
    Column("age", Kind.INTEGER, Role.QUASI_IDENTIFIER, bounds=(0.0, 100.0)),
    Column("code", Kind.CATEGORICAL, Role.SENSITIVE, categories=CODES),
))
#: The same table with the code list read off the data (``data_dependent``).
READ_OFF = Schema((SCHEMA["age"], replace(SCHEMA["code"], data_dependent=True)))


def people(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.integers(0, 101, n), "code": rng.choice(CODES, n)})


class Marginals(Copier):
    """Honest epsilon-1 DP: each column drawn from its Laplace-noised histogram over the
    schema's declared domain (epsilon 1/2 per column, basic composition)."""

    name = "test-marginals"

    def fit(self, data: pd.DataFrame, schema: Any, budget: Any, *, seed: int = 0
            ) -> Marginals:
        noise = np.random.default_rng(seed)
        self.values_, self.weights_ = {}, {}
        for col in schema.columns:
            domain = (list(col.categories) if col.categories is not None else
                      list(range(int(col.bounds[0]), int(col.bounds[1]) + 1)))
            counts = data[col.name].value_counts().reindex(domain, fill_value=0).to_numpy()
            noisy = np.maximum(counts + noise.laplace(0.0, 2.0, len(domain)), 0.0) + 1e-9
            self.values_[col.name], self.weights_[col.name] = domain, noisy / noisy.sum()
        return self

    def sample(self, n: int, *, seed: int = 0, conditions: Any = None) -> pd.DataFrame:
        draws = np.random.default_rng(seed)
        return pd.DataFrame({c: np.array(v, dtype=object)[draws.choice(len(v), n, p=w)]
                             for (c, v), w in zip(self.values_.items(), self.weights_.values(),
                                                  strict=True)})


class DomainCopier(Marginals):
    """BROKEN: :class:`Marginals`, but a column whose domain was read off the data takes its
    categories from the rows it is given (rare values copied exactly), unpaid, claiming 1."""

    name = "test-domain-copier"

    def fit(self, data: pd.DataFrame, schema: Any, budget: Any, *, seed: int = 0
            ) -> DomainCopier:
        own = Schema(tuple(replace(c, categories=tuple(sorted(data[c.name].unique(), key=str)))
                           if c.data_dependent else c for c in schema.columns))
        return super().fit(data, own, budget, seed=seed)  # type: ignore[return-value]


def _context(gen: Generator, schema: Schema = SCHEMA, n: int = 300, seed: int = 0,
             executor: Any = None) -> AttackContext:
    train, control = people(n, 1), people(n // 2, 2)
    gen.fit(train, schema, PrivacyBudget(1.0))
    return AttackContext(train, control, gen.sample(n, seed=3), schema, seed=seed,
                         generator=gen, budget=PrivacyBudget(1.0), executor=executor)


def _claim(result: Any) -> Any:
    return assess_claim("g", PrivacySpent(1.0, 1e-5, "claimed"), gated=True, level=0.95,
                        attacks=[("dp-audit", result, None)])


# -- the multi-run bound ----------------------------------------------------------------------


def test_all_runs_right_give_the_closed_form_bound() -> None:
    """Flagged in all n1 runs with the canary, none of the n0 without it: Clopper-Pearson gives
    TPR_low = (a/2)^(1/n1), FPR_high = 1 - (a/2)^(1/n0)."""
    a = 0.05
    tpr_low, fpr_high = (a / 2) ** (1 / 50), 1 - (a / 2) ** (1 / 50)
    want = math.log((tpr_low - 1e-5) / fpr_high)
    assert multi_run_epsilon(50, 50, 0, 50, 1e-5, a) == pytest.approx(want, rel=1e-9)
    assert multi_run_epsilon(25, 50, 25, 50, 1e-5, a) == 0.0
    with pytest.raises(ValueError, match="significance"):
        multi_run_epsilon(1, 2, 0, 2, 0.0, 1.0)
    with pytest.raises(ValueError, match="runs"):
        multi_run_epsilon(3, 2, 0, 2, 0.0, 0.05)


@pytest.mark.parametrize(("eps", "fpr", "n"), [(1.0, 0.05, 40), (1.0, 0.3, 40), (2.0, 0.1, 30),
                                               (0.5, 0.6, 40), (4.0, 0.01, 60)])
def test_a_true_epsilon_is_refuted_at_most_alpha_of_the_time(eps: float, fpr: float,
                                                            n: int) -> None:
    """Exact over every binomial outcome: an adversary exactly on the (epsilon, delta) trade-off
    curve (the largest TPR at its FPR: ``min(e^eps FPR + delta, 1 - (1 - FPR - delta) /
    e^eps)``; small FPRs meet the first form, large ones the second) refutes epsilon with
    probability at most alpha."""
    delta, alpha = 1e-5, 0.05
    tpr = min(1.0, math.exp(eps) * fpr + delta, 1.0 - (1.0 - fpr - delta) / math.exp(eps))
    p_in, p_out = (stats.binom.pmf(np.arange(n + 1), n, r) for r in (tpr, fpr))
    wrong = sum(p_in[k1] * p_out[k0] for k1, k0 in itertools.product(range(n + 1), repeat=2)
                if multi_run_epsilon(k1, n, k0, n, delta, alpha) > eps)
    assert wrong <= alpha


def test_the_claim_check_bounds_a_multi_run_point_from_its_counts() -> None:
    result = DPAudit(mode="multi-run", runs=40).run(_context(Copier()))
    (pt,) = result.operating_points
    claim = _claim(result)
    (row,) = claim.points
    assert row["kind"] == "multi-run" and result.n_trials == 40
    level = 1.0 - 0.05 / 2  # one piece of evidence: alpha split between its two bounds
    assert row["epsilon_lower_bound"] == rates_epsilon(
        pt.members_flagged, pt.members, pt.nonmembers_flagged, pt.nonmembers, 1e-5, level)[0]
    assert row["epsilon_lower_bound"] == pytest.approx(multi_run_epsilon(
        pt.members_flagged, pt.members, pt.nonmembers_flagged, pt.nonmembers, 1e-5, 0.05))


# -- the multi-run audit ----------------------------------------------------------------------


def test_a_copier_is_refuted_over_runs_reproducibly_and_through_the_executor() -> None:
    """The copier shows its canary in every run with it and never without it."""
    result = DPAudit(mode="multi-run", runs=60).run(_context(Copier()))
    again = DPAudit(mode="multi-run", runs=60).run(
        _context(Copier(), executor=JoblibExecutor(n_jobs=2)))
    assert result.operating_points == again.operating_points
    (pt,) = result.operating_points
    assert pt.members_flagged == pt.members and pt.nonmembers_flagged == 0
    assert result.risk == 1.0 and result.details["mode"] == "multi-run"
    claim = _claim(result)
    assert claim.status == "fail" and claim.epsilon_lower_bound > 1.0


def test_an_honest_generator_is_not_refuted_over_runs() -> None:
    for seed in range(3):
        result = DPAudit(mode="multi-run", runs=40).run(_context(Marginals(), seed=seed))
        assert _claim(result).status == "pass"


@pytest.mark.parametrize("params", [{"mode": "many"}, {"mode": "multi-run", "runs": 5}])
def test_bad_multi_run_parameters_are_refused_naming_them(params: dict[str, Any]) -> None:
    name = "mode" if params["mode"] == "many" else "runs"
    with pytest.raises(InputError, match=f"dp-audit.*{name}"):
        DPAudit(**params)


def test_multi_run_defaults_to_100_runs() -> None:
    assert DPAudit(mode="multi-run")._settings()[3] == 100
    assert DPAudit()._settings()[3] == 1


# -- domains read off the data ----------------------------------------------------------------


def test_canaries_carry_fresh_categories_where_the_domain_was_read_off_the_data() -> None:
    train = people(200, 1)
    crafted = crafted_canaries(train, 20, np.random.default_rng(0), READ_OFF)
    assert crafted["code"].nunique() == 20 and not set(crafted["code"]) & set(CODES)
    plain = crafted_canaries(train, 20, np.random.default_rng(0), SCHEMA)
    assert set(plain["code"]) <= set(CODES)
    assert crafted["age"].tolist()[:5] == plain["age"].tolist()[:5]  # the same draws
    wide = covering(READ_OFF, crafted)
    assert wide["code"].categories == (*CODES, *crafted["code"])


def test_a_domain_copied_off_the_data_is_refuted_and_a_dp_domain_is_not() -> None:
    """A generator that keeps each rare category it is given shows which fresh canaries it saw;
    the same generator on the declared domain drops them, and is not refuted."""
    leaky = DPAudit(n_canaries=200).run(_context(DomainCopier(), READ_OFF, n=400))
    assert _claim(leaky).status == "fail"
    honest = DPAudit(n_canaries=200).run(_context(Marginals(), READ_OFF, n=400))
    assert _claim(honest).status == "pass"


# -- white box through a generator's own trainer ----------------------------------------------


class MisreportedTrainer(DPTrainer):
    """BROKEN: calibrates its noise, and reports epsilon, for a sample rate 10x smaller than
    the rate it samples at (opacus #813)."""

    def plan(self, n_rows: int, *, batch_size: int | None = None,
             release_share: float = 0.0) -> Schedule:
        sch = super().plan(n_rows, batch_size=batch_size, release_share=release_share)
        prep = self._need()
        self.schedule = replace(sch, noise_multiplier=noise_multiplier_for(
            prep.train_epsilon, prep.train_delta, sch.sample_rate / 10, sch.steps,
            self.settings.accountant))
        return self.schedule

    def privacy_spent(self, details: Any = None) -> PrivacySpent:
        assert self.budget is not None
        return PrivacySpent(self.budget.epsilon, self.budget.delta, "rdp", dict(details or {}))


class MisreportedVAE(DPSGDVAE):
    """dpsgd-vae on :class:`MisreportedTrainer`."""

    def trainer(self, params: dict[str, Any], budget: PrivacyBudget | None, seed: int,
                *, batch_size: int | None = None) -> DPTrainer:
        t = super().trainer(params, budget, seed, batch_size=batch_size)
        return MisreportedTrainer(self.name, t.settings, budget, seed)


def test_the_white_box_option_catches_a_misreported_sample_rate_and_spares_honest_dp_sgd(
        ) -> None:
    """The same canaries through each generator's own trainer at its claimed epsilon: the
    misreported rate leaves too little noise; the honest trainer's bound stays below 1."""
    spent = {}
    for gen in (MisreportedVAE(epochs=1), DPSGDVAE(epochs=1)):
        result = DPAudit(whitebox=True).run(_context(gen))
        assert result.details["mode"] == "white-box" and len(result.canary_guesses) == 3
        spent[gen.name if type(gen) is DPSGDVAE else "broken"] = _claim(result)
    assert spent["broken"].status == "fail" and spent["broken"].epsilon_lower_bound > 1.0
    assert spent["dpsgd-vae"].status == "pass"


def test_a_generator_not_trained_through_privgate_dp_cannot_be_audited_white_box() -> None:
    with pytest.raises(InputError, match="white-box.*privgate.dp"):
        DPAudit(whitebox=True).run(_context(Copier()))
    claim = assess_claim("copier", PrivacySpent(1.0, 1e-5, "made up"), gated=True, level=0.95,
                         attacks=[("dp-audit", None, "white-box")],
                         unaudited=[("dp-audit", "no access to its training steps")])
    assert claim.status == "cannot-certify" and claim.gated
    with pytest.raises(InputError, match="'whitebox'"):
        DPAudit(whitebox="yes")
