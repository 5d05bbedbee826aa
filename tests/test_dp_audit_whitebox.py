"""The white-box audit over many runs (:mod:`privgate.dp_whitebox`): why its canaries are
independent trials (a constant clipped gradient per canary, zero from every other row, noise of
its own per coordinate, the same sample rate and batch size whatever the coins), a threshold
fixed before any run, the Clopper-Pearson arithmetic of the bound, and what it refutes: noise
switched off and a misreported sample rate, never an honest DP-SGD.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats
from test_dp_audit_runs import MisreportedVAE
from torch.utils.data import DataLoader, TensorDataset

from privgate import AttackContext
from privgate.attacks.dp_audit import DPAudit
from privgate.dp.accounting import noise_multiplier_for
from privgate.dp.clipping import private_model
from privgate.dp.loop import run_steps
from privgate.dp_audit_bounds import multi_run_epsilon, rates_epsilon
from privgate.dp_claim import assess_claim
from privgate.dp_whitebox import (
    _bounds,
    _canary_rows,
    _linear,
    _loss,
    _simulated,
    _watch,
    generator_whitebox_audit,
    threshold_for,
    whitebox_audit,
)
from privgate.generator import PrivacyBudget
from privgate.plugins.generators.vae.generator import DPSGDVAE
from privgate.schema import Column, Kind, Schema


def _moves(mode: str, sigma: float, m: int = 60, batches: int = 5, steps: int = 15,
           seed: int = 3) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Normalised per-step moves of every coordinate (``+1`` per draw of its canary), the
    coins, the expected batch size and the sample rate of one run through privgate.dp."""
    rows, inserted = _canary_rows(m, batches, seed)
    model = _linear(m, seed)
    loader = DataLoader(TensorDataset(torch.from_numpy(rows)), batch_size=m + 1,
                        generator=torch.Generator().manual_seed(seed))
    private, batched = private_model(model, torch.optim.SGD(model.parameters(), lr=1.0), loader,
                                     mode=mode, noise_multiplier=sigma, max_grad_norm=2.0,
                                     accountant="rdp", noise=torch.Generator().manual_seed(seed),
                                     owner="test")
    seen, scale, watch = _watch(m)
    run_steps(private, batched, steps, _loss, after_step=watch)
    moves = np.diff(np.stack(seen), axis=0) * scale[0] / 2.0
    return moves, inserted, scale[0], 1.0 / len(batched)


@pytest.mark.parametrize("mode", ["hooks", "bk", "ghost"])
def test_without_noise_a_canary_moves_only_its_coordinate_by_one_constant_step(
        mode: str) -> None:
    """The clipped gradient of canary i is C e_i at every step, whatever the batch; a zero
    row (a canary left out) adds exactly nothing; the table's size does not depend on the
    coins, so neither do the sample rate and the expected batch size."""
    moves, inserted, scale, q = _moves(mode, 0.0)
    assert scale == 61 and q == pytest.approx(1 / 5)
    assert np.all(moves[:, inserted == 0] == 0.0)  # exactly: zero rows contribute nothing
    drawn = moves[:, inserted == 1]
    assert set(np.unique(np.round(drawn, 5))) == {0.0, 1.0}
    assert np.abs(drawn[drawn > 0.5] - 1.0).max() < 1e-5  # constant, whatever the batch
    assert 0.1 < (drawn > 0.5).mean() < 0.3  # each canary drawn on its own at rate 1/5
    for seed in (4, 5):  # other coins, same table size
        assert len(_canary_rows(60, 5, seed)[0]) == len(_canary_rows(60, 5, 3)[0]) == 5 * 61


def test_the_noise_is_gaussian_and_independent_per_coordinate() -> None:
    """The moves of the left-out canaries' coordinates are N(0, sigma^2) (normalised), and
    neighbouring coordinates are uncorrelated."""
    moves, inserted, _, _ = _moves("hooks", 1.5, m=200, steps=40)
    out = moves[:, inserted == 0]
    assert abs(out.std() / 1.5 - 1.0) < 0.05 and abs(out.mean()) < 0.05
    assert stats.kstest(out.ravel() / 1.5, "norm").pvalue > 1e-3
    pairs = np.corrcoef(out[:, :-1].ravel(), out[:, 1:].ravel())[0, 1]
    assert abs(pairs) < 0.06


def test_the_threshold_is_fixed_by_the_declared_mechanism_alone() -> None:
    sigma = noise_multiplier_for(2.0, 1e-5, 0.1, 20, "rdp")
    audit = whitebox_audit(2.0, canaries=100, batches=10, epochs=2, seed=7, runs=3)
    assert audit.threshold == threshold_for(sigma, 0.1, 20, 150, 150, 1e-5, 0.975, 7)
    assert audit.threshold == threshold_for(sigma, 0.1, 20, 150, 150, 1e-5, 0.975, 7)
    other = whitebox_audit(2.0, canaries=100, batches=10, epochs=2, seed=7, runs=3,
                           noise_multiplier=sigma)  # other trials, the same threshold
    assert other.threshold == audit.threshold and audit.point is not None
    # the point counts every trial of every run, at that threshold
    assert audit.point.members + audit.point.nonmembers == 300 and audit.guesses == ()


def test_the_bound_is_clopper_pearson_on_both_forms_at_half_the_significance() -> None:
    k1, n1, k0, n0, delta, alpha = 480, 1000, 20, 1000, 1e-5, 0.05
    tpr_low = stats.beta.ppf(alpha / 2, k1, n1 - k1 + 1)
    fpr_high = stats.beta.ppf(1 - alpha / 2, k0 + 1, n0 - k0)
    want = max(math.log((tpr_low - delta) / fpr_high),
               math.log((1 - fpr_high - delta) / (1 - tpr_low)))
    assert multi_run_epsilon(k1, n1, k0, n0, delta, alpha) == pytest.approx(want, rel=1e-9)
    # the symmetric form: almost every trial flagged, the few left out are "out" trials
    low = multi_run_epsilon(995, 1000, 900, 1000, delta, alpha)
    assert low == pytest.approx(rates_epsilon(995, 1000, 900, 1000, delta, 0.975)[0])
    assert low == pytest.approx(math.log(1 - stats.beta.ppf(0.975, 901, 100) - delta)
                                - math.log(1 - stats.beta.ppf(0.025, 995, 6)), rel=1e-9)
    counts = np.array([[0, 5, 480, 995, 1000]])  # the vectorised bound the threshold uses
    for k_in in counts[0]:
        for k_out in (0, 20, 900, 1000):
            assert _bounds(np.array([k_in]), 1000, np.array([k_out]), 1000, delta, 0.975)[
                0] == pytest.approx(rates_epsilon(int(k_in), 1000, k_out, 1000, delta,
                                                  0.975)[0], abs=1e-9)
    audit = whitebox_audit(1.0, canaries=100, batches=10, epochs=1, seed=2, runs=2,
                           noise_multiplier=0.0)
    p = audit.point
    assert p is not None and audit.epsilon_lower_bound == pytest.approx(multi_run_epsilon(
        p.members_flagged, p.members, p.nonmembers_flagged, p.nonmembers, 1e-5, 0.05))


def test_simulated_trials_of_the_declared_mechanism_refute_its_epsilon_at_most_alpha_of_the_time(
        ) -> None:
    """Audits whose trials are drawn from the mechanism the accountant describes (q = 0.1,
    10 steps, epsilon 1): the bound exceeds the claim in at most alpha of them (here: never;
    the RDP claim is above the mechanism's true epsilon)."""
    sigma, q, steps, n = noise_multiplier_for(1.0, 1e-5, 0.1, 10, "rdp"), 0.1, 10, 4000
    t = threshold_for(sigma, q, steps, n, n, 1e-5, 0.975, 0)
    draws = np.random.default_rng(11)
    bounds = []
    for _ in range(40):
        ins = _simulated(sigma, q, steps, n, draws, True)
        outs = _simulated(sigma, q, steps, n, draws, False)
        bounds.append(multi_run_epsilon(int((ins > t).sum()), n, int((outs > t).sum()), n,
                                        1e-5, 0.05))
    assert max(bounds) <= 1.0


@pytest.mark.parametrize("eps", [0.5, 1.0])
def test_honest_dp_sgd_is_never_refuted_over_many_runs(eps: float) -> None:
    for seed in range(3):
        audit = whitebox_audit(eps, canaries=200, batches=10, epochs=1, seed=seed, runs=4)
        assert audit.runs == 4 and audit.point is not None
        assert not audit.refuted and audit.epsilon_lower_bound <= eps


def test_noise_switched_off_and_a_misreported_sample_rate_are_refuted_over_many_runs(
        ) -> None:
    off = whitebox_audit(1.0, canaries=200, batches=10, epochs=1, seed=1, runs=3,
                         noise_multiplier=0.0)
    assert off.refuted and off.epsilon_lower_bound > 3.0
    assert off.point is not None and off.point.nonmembers_flagged == 0
    # the noise a sample rate 10x smaller calibrates, for the rate it trains with
    sigma = noise_multiplier_for(1.0, 1e-5, 0.01, 100, "rdp")
    rate = whitebox_audit(1.0, canaries=200, batches=10, epochs=10, seed=1, runs=8,
                          noise_multiplier=sigma)
    assert rate.refuted and rate.epsilon_lower_bound > 1.2


def test_a_generators_trainer_over_runs_and_the_attack_option() -> None:
    """``dp-audit`` with ``whitebox = true, runs = R``: one operating point over the canary
    trials, which dp-claim bounds (kind multi-run): the misreported rate is refuted, the
    honest trainer is not, and the audit is reproducible."""
    honest = generator_whitebox_audit(DPSGDVAE(epochs=1), 1.0, 1e-5, canaries=200, epochs=5,
                                      runs=3, seed=4)
    again = generator_whitebox_audit(DPSGDVAE(epochs=1), 1.0, 1e-5, canaries=200, epochs=5,
                                     runs=3, seed=4)
    assert honest.point == again.point and not honest.refuted
    schema = Schema((Column("x", Kind.CONTINUOUS, bounds=(0.0, 1.0)),
                     Column("y", Kind.CATEGORICAL, categories=("a", "b"))))
    rng = np.random.default_rng(0)
    import pandas as pd

    train = pd.DataFrame({"x": rng.uniform(0, 1, 200), "y": rng.choice(["a", "b"], 200)})
    claims = {}
    for gen in (MisreportedVAE(epochs=1), DPSGDVAE(epochs=1)):
        gen.fit(train, schema, PrivacyBudget(1.0, 1e-5))
        ctx = AttackContext(train, train.iloc[:50], gen.sample(200, seed=1), schema, seed=0,
                            generator=gen, budget=PrivacyBudget(1.0, 1e-5))
        result = DPAudit(whitebox=True, runs=2).run(ctx)
        assert result.details["mode"] == "white-box" and result.details["runs"] == 2
        assert len(result.operating_points) == 1 and not result.canary_guesses
        assert result.n_trials == 2000
        claims[type(gen).__name__] = assess_claim(
            "g", gen.privacy_spent, gated=True, level=0.95,
            attacks=[("dp-audit", result, None)])
    assert claims["MisreportedVAE"].status == "fail"
    assert {p["kind"] for p in claims["MisreportedVAE"].points} == {"multi-run"}
    assert claims["DPSGDVAE"].status == "pass"
