"""``dp-audit``: canaries inserted on coin tosses, one extra fit, guesses turned into an epsilon
lower bound by core (Steinke, Nasr & Jagielski 2023). A generator that copies its rows and
claims epsilon 1 is refuted; one that cannot be refitted leaves the claim uncertified (never a
pass); a true epsilon is refuted at most alpha of the time.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from privgate import AttackContext, Column, Generator, Kind, Role, Schema
from privgate.attacks.dp_audit import DPAudit, crafted_canaries, guesses
from privgate.cli import main
from privgate.dp_audit_bounds import one_run_epsilon, one_run_p_value
from privgate.dp_claim import assess_claim
from privgate.dp_whitebox import whitebox_audit
from privgate.errors import InputError
from privgate.generator import PrivacyBudget, PrivacySpent
from privgate.operating_points import CanaryGuesses
from privgate.plain import PlainError

SCHEMA = Schema((
    Column("age", Kind.INTEGER, Role.QUASI_IDENTIFIER, bounds=(0.0, 100.0)),
    Column("zip", Kind.CATEGORICAL, Role.QUASI_IDENTIFIER,
           categories=tuple(f"z{i}" for i in range(20))),
    Column("income", Kind.INTEGER, Role.SENSITIVE, bounds=(0.0, 1_000_000.0)),
))


def people(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.integers(0, 101, n),
                         "zip": rng.choice([f"z{i}" for i in range(20)], n),
                         "income": rng.integers(0, 1_000_001, n)})


class Copier(Generator):
    """Outputs its training rows (all of them, then repeats): claims epsilon 1."""

    name = "test-copier"
    is_private = True

    def __init__(self, **params: Any) -> None:
        self.params = params

    def fit(self, data: pd.DataFrame, schema: Any, budget: Any, *, seed: int = 0) -> Copier:
        self.data_ = data.reset_index(drop=True)
        return self

    def sample(self, n: int, *, seed: int = 0, conditions: Any = None) -> pd.DataFrame:
        order = np.random.default_rng(seed).permutation(len(self.data_))
        return self.data_.iloc[np.resize(order, n)].reset_index(drop=True)

    @property
    def privacy_spent(self) -> PrivacySpent:
        return PrivacySpent(1.0, 1e-5, "made up")


class Frozen(Copier):
    """Its parameters do not rebuild it: it cannot be refitted, so it cannot be audited."""

    name = "test-frozen"

    def get_params(self) -> dict[str, Any]:
        return {"weights_file": "/nowhere"}

    def __init__(self, **params: Any) -> None:
        if params:
            raise TypeError(f"unexpected {sorted(params)}")
        self.params = params


def _context(gen: Generator, n: int = 600, seed: int = 0) -> AttackContext:
    train, control = people(n, 1), people(n // 2, 2)
    gen.fit(train, SCHEMA, PrivacyBudget(1.0))
    return AttackContext(train, control, gen.sample(n, seed=3), SCHEMA, seed=seed,
                         generator=gen, budget=PrivacyBudget(1.0))


# -- the one-run bound ------------------------------------------------------------------------


def test_all_right_guesses_give_the_closed_form_bound() -> None:
    """delta 0, 100 of 100 right: P[Binomial(100, q) = 100] = q^100 = alpha."""
    q = 0.05 ** (1 / 100)
    assert one_run_epsilon(100, 100, 100, 0.0, 0.05) == pytest.approx(math.log(q / (1 - q)),
                                                                       abs=1e-5)
    assert one_run_epsilon(100, 100, 50, 0.0, 0.05) == 0.0  # chance refutes nothing
    # delta makes the bound smaller, never larger
    assert one_run_epsilon(1000, 100, 100, 1e-3, 0.05) < one_run_epsilon(1000, 100, 100, 0.0,
                                                                         0.05)


@settings(max_examples=40, deadline=None)
@given(eps=st.floats(0.0, 8.0), r=st.integers(1, 400), share=st.floats(0, 1),
       delta=st.sampled_from([0.0, 1e-6, 1e-3]))
def test_the_p_value_is_a_probability_that_rises_with_epsilon(eps: float, r: int, share: float,
                                                               delta: float) -> None:
    v = int(share * r)
    low = one_run_p_value(eps, 2 * r, r, v, delta)
    assert 0.0 <= low <= one_run_p_value(eps + 0.5, 2 * r, r, v, delta) + 1e-12 <= 1.0 + 1e-12


@pytest.mark.parametrize(("eps", "r"), [(0.5, 50), (1.0, 200), (4.0, 120)])
def test_a_true_epsilon_is_refuted_at_most_alpha_of_the_time(eps: float, r: int) -> None:
    """Guesses right with the largest probability epsilon-DP allows: the exact probability,
    over the binomial count of right guesses, that the bound exceeds epsilon."""
    q = math.exp(eps) / (1 + math.exp(eps))
    refuted = sum(stats.binom.pmf(v, r, q) for v in range(r + 1)
                  if one_run_epsilon(r, r, v, 0.0, 0.05) > eps)
    assert refuted <= 0.05


def test_impossible_counts_are_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="guesses"):
        one_run_epsilon(10, 20, 5, 0.0, 0.05)
    with pytest.raises(PlainError, match="correct"):
        CanaryGuesses("x", 10, 5, 6)
    with pytest.raises(PlainError, match="canaries"):
        CanaryGuesses("x", 0, 0, 0)


# -- canaries and guesses ---------------------------------------------------------------------


def test_crafted_canaries_are_distinct_outliers_inside_the_domain() -> None:
    train = people(500, 1)
    out = crafted_canaries(train, 100, np.random.default_rng(0))
    assert len(out) == 100 and not out.duplicated().any()
    assert set(out["age"]) <= {train["age"].min(), train["age"].max()}
    assert out["income"].between(train["income"].min(), train["income"].max()).all()
    assert set(out["zip"]) <= set(train["zip"])


def test_guesses_read_the_coins_only_to_count() -> None:
    scores = np.arange(10.0)  # canary 9 closest
    coins = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    found = guesses(scores, coins, {"all": np.arange(10)}, 10)
    assert [(g.guesses, g.correct) for g in found] == [(1, 1), (2, 2), (10, 10)]
    flipped = guesses(scores, 1 - coins, {"all": np.arange(10)}, 10)
    assert [g.correct for g in flipped] == [0, 0, 0]  # same guesses, other coins


# -- the attack -------------------------------------------------------------------------------


def test_a_copier_claiming_epsilon_one_is_refuted_reproducibly() -> None:
    attack = DPAudit(n_canaries=100)
    result = attack.run(_context(Copier()))
    again = DPAudit(n_canaries=100).run(_context(Copier()))
    assert result.canary_guesses == again.canary_guesses and result.risk > 0.5
    claim = assess_claim("copier", PrivacySpent(1.0, 1e-5, "made up"), gated=True, level=0.95,
                         attacks=[("dp-audit", result, None)])
    assert claim.status == "fail" and claim.epsilon_lower_bound is not None
    assert claim.epsilon_lower_bound > 1.0


def test_a_generator_that_cannot_be_refitted_is_never_a_pass() -> None:
    with pytest.raises(InputError, match="cannot refit"):
        DPAudit().run(_context(Frozen()))
    ctx = _context(Copier())
    with pytest.raises(InputError, match="synthetic table supplied as a file"):
        DPAudit().run(AttackContext(ctx.train, ctx.control, ctx.synthetic, SCHEMA))
    claim = assess_claim("frozen", PrivacySpent(1.0, 1e-5, "rdp"), gated=True, level=0.95,
                         attacks=[("dp-audit", None, "cannot refit")],
                         unaudited=[("dp-audit", "cannot refit")])
    assert claim.status == "cannot-certify" and claim.gated and "cannot refit" in claim.message


@pytest.mark.parametrize("params", [{"n_canaries": 2}, {"outlier_share": 1.5}, {"runs": 0},
                                    {"n_canary": 10}, {"sample_factor": 0}])
def test_bad_parameters_are_refused_before_any_work(params: dict[str, Any]) -> None:
    with pytest.raises(InputError, match="dp-audit"):
        DPAudit(**params)


def test_each_audit_fit_is_sampled_sample_factor_times_the_synthetic_rows() -> None:
    """More rows of the same fit (post-processing): a canary it nearly reproduces shows."""
    ctx = _context(Copier())
    seen: list[int] = []

    class Counting(Copier):
        def sample(self, n: int, *, seed: int = 0, conditions: Any = None) -> pd.DataFrame:
            seen.append(n)
            return super().sample(n, seed=seed)

    counting = replace(ctx, generator=Counting().fit(ctx.train, SCHEMA, None))
    DPAudit(n_canaries=40).run(counting)
    DPAudit(n_canaries=40, sample_factor=1).run(counting)
    assert seen == [10 * len(ctx.synthetic), len(ctx.synthetic)]


def test_runs_pool_their_canaries() -> None:
    result = DPAudit(n_canaries=40, runs=3).run(_context(Copier(), n=400))
    assert {g.canaries for g in result.canary_guesses} == {120}
    assert result.details["runs"] == 3


# -- end to end -------------------------------------------------------------------------------


def test_a_synthetic_file_cannot_be_canary_audited(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Refused before any work (exit 2), naming the attack: there is no generator to refit."""
    for name, frame in (("train", people(300, 1)), ("control", people(100, 2)),
                        ("synthetic", people(300, 3))):
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    code = main(["audit", "--synthetic", str(tmp_path / "synthetic.csv"), "--train",
                 str(tmp_path / "train.csv"), "--control", str(tmp_path / "control.csv"),
                 "--attack", "dp-audit", "--out", str(tmp_path / "out"), "--no-ledger"])
    assert code == 2 and "dp-audit" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()

TOML = """
seed = {seed}
output = "{out}"
attacks = [{{ name = "dp-audit", params = {{ n_canaries = {m} }} }}]
metrics = []
[data]
path = "people.csv"
[[generators]]
name = "dpsgd-vae"
epsilon = 1.0
params = {{ epochs = 3 }}
[ledger]
enabled = false
[schema.columns.age]
kind = "integer"
bounds = [0, 100]
[schema.columns.zip]
kind = "categorical"
categories = [{zips}]
[schema.columns.income]
kind = "integer"
bounds = [0, 1000000]
"""


def _audit(tmp_path: Path, m: int, seed: int = 0) -> dict[str, Any]:
    people(500, 5).to_csv(tmp_path / "people.csv", index=False)
    out = tmp_path / f"out-{m}-{seed}"
    config = tmp_path / f"gate-{m}-{seed}.toml"
    config.write_text(TOML.format(seed=seed, out=out, m=m,
                                  zips=", ".join(f'"z{i}"' for i in range(20))))
    main(["audit", str(config)])
    return dict(json.loads((out / "results.json").read_text()))


@pytest.mark.slow
def test_honest_dpsgd_vae_is_not_refuted_and_an_impossible_audit_is_not_a_pass(
        tmp_path: Path) -> None:
    result = _audit(tmp_path, 100)
    claim = result["generators"][0]["dp_claim"]
    assert claim["status"] == "pass", claim["message"]
    assert {p["kind"] for p in claim["points"]} == {"canaries"}
    # 400 canaries cannot be drawn from 350 training rows: cannot audit, so cannot certify
    blocked = _audit(tmp_path, 400)
    claim = blocked["generators"][0]["dp_claim"]
    assert claim["status"] == "cannot-certify" and claim["gated"] is True
    assert "too few" in claim["message"] and blocked["verdict"] != "pass"


# -- white box: privgate's own DP-SGD with gradient canaries ---------------------------------


def test_the_white_box_audit_catches_noise_switched_off_and_spares_honest_dp_sgd() -> None:
    honest = whitebox_audit(4.0, canaries=200, batches=10, epochs=1, seed=1)
    assert honest.noise_multiplier > 0 and honest.claimed_epsilon <= 4.0 + 1e-6
    assert not honest.refuted
    again = whitebox_audit(4.0, canaries=200, batches=10, epochs=1, seed=1)
    assert again.guesses == honest.guesses  # seeded: the same run twice
    broken = whitebox_audit(1.0, canaries=200, batches=10, epochs=1, seed=1,
                            noise_multiplier=0.0)
    assert broken.refuted and broken.epsilon_lower_bound > 2.0
    assert all(g.correct == g.guesses for g in broken.guesses)  # every guess right
    with pytest.raises(ValueError, match="canaries"):
        whitebox_audit(1.0, canaries=3)
