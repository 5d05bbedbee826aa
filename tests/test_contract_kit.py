"""The contract kit catches plugins that break the rules, and passes one that keeps them."""

from __future__ import annotations

import math
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from privgate import Attack, AttackContext, AttackResult, Generator, Policy, PrivacySpent
from privgate.errors import InputError
from privgate.generator import check_conditions
from privgate.schema import Kind
from privgate.testing import (
    DEFAULT_TIMEOUT_S,
    ContractViolation,
    check_attack,
    check_generator,
    check_generator_case,
    check_policy,
    contract_timeout,
    independent_marginals,
    make_case,
    scenario,
)

FEW = 4  # hypothesis examples per generator check: each broken plugin fails on the first


class Resampler(Generator):
    """A well-behaved (non-private) generator: every column resampled on its own."""

    name = "resampler"
    is_private = False
    supports_conditions = True

    def __init__(self, **params: Any) -> None:
        self.params = params

    def fit(self, data: pd.DataFrame, schema: Any, budget: Any, *, seed: int = 0) -> Resampler:
        self.data_ = data.copy()
        self.schema_ = schema
        return self

    def sample(self, n: int, *, seed: int = 0,
               conditions: Mapping[str, Any] | None = None) -> pd.DataFrame:
        if n < 0:
            raise InputError(f"generator 'resampler': n must be >= 0, got {n}")
        wanted = check_conditions(conditions, self.schema_, self.name, supported=True)
        rng = np.random.default_rng(seed)
        out = pd.DataFrame({c: self.data_[c].to_numpy()[rng.integers(0, len(self.data_), n)]
                            for c in self.data_.columns})
        for col, value in wanted.items():
            out[col] = pd.Series([value] * n, dtype=object)
        return out

    @property
    def privacy_spent(self) -> PrivacySpent:
        return PrivacySpent(math.inf, 1.0, "none")


class Mutating(Resampler):
    def fit(self, data: pd.DataFrame, schema: Any, budget: Any, *, seed: int = 0) -> Resampler:
        data[data.columns[0]] = data[data.columns[0]].iloc[::-1].to_numpy()
        return super().fit(data, schema, budget, seed=seed)


class OneRowShort(Resampler):
    def sample(self, n: int, *, seed: int = 0,
               conditions: Mapping[str, Any] | None = None) -> pd.DataFrame:
        return super().sample(n, seed=seed, conditions=conditions).iloc[1:]


class IgnoresSeed(Resampler):
    def sample(self, n: int, *, seed: int = 0,
               conditions: Mapping[str, Any] | None = None) -> pd.DataFrame:
        return super().sample(n, seed=int(np.random.default_rng().integers(1 << 30)),
                              conditions=conditions)


class Overspends(Resampler):
    is_private = True

    def fit(self, data: pd.DataFrame, schema: Any, budget: Any, *, seed: int = 0) -> Resampler:
        self.budget_ = budget
        return super().fit(data, schema, budget, seed=seed)

    @property
    def privacy_spent(self) -> PrivacySpent:
        return PrivacySpent(2 * self.budget_.epsilon, self.budget_.delta, "made up")


class RaisesKeyError(Resampler):
    def fit(self, data: pd.DataFrame, schema: Any, budget: Any, *, seed: int = 0) -> Resampler:
        raise KeyError("some_internal_column")  # FIT-RAISES


class OutOfDomain(Resampler):
    def sample(self, n: int, *, seed: int = 0,
               conditions: Mapping[str, Any] | None = None) -> pd.DataFrame:
        out = super().sample(n, seed=seed, conditions=conditions)
        out[out.columns[0]] = "not in any domain"
        return out


class IgnoresConditions(Resampler):
    def sample(self, n: int, *, seed: int = 0,
               conditions: Mapping[str, Any] | None = None) -> pd.DataFrame:
        if conditions and set(conditions) - set(self.data_.columns):
            raise InputError("no such column")
        return super().sample(n, seed=seed)


def test_a_well_behaved_generator_passes() -> None:
    check_generator(Resampler, max_examples=10)


@pytest.mark.parametrize(("cls", "rule"), [
    (Mutating, "modified the input frame"),
    (OneRowShort, r"returned \d+ rows"),
    (IgnoresSeed, "not reproducible"),
    (Overspends, "exceeds the budget"),
    (RaisesKeyError, "raised KeyError.*must raise privgate.errors.InputError"),
    (OutOfDomain, "outside the declared|came back as str"),
])
def test_the_kit_catches_a_broken_generator(cls: type[Generator], rule: str) -> None:
    with pytest.raises(ContractViolation, match=rule):
        check_generator(cls, max_examples=FEW)


def test_a_generator_claiming_conditions_must_honour_them() -> None:
    case = make_case(seed=3, n_rows=60, kinds=["cat-str", "continuous"], nullable=[False] * 2,
                     constant=[False] * 2, singleton=[False] * 2, epsilon=1.0, n_sample=30)
    check_generator_case(Resampler, case)
    with pytest.raises(ContractViolation, match="returned rows with other values"):
        check_generator_case(IgnoresConditions, case)


def test_generated_cases_cover_the_hard_shapes() -> None:
    case = make_case(seed=1, n_rows=50, kinds=["cat-str", "integer", "datetime"],
                     nullable=[True, True, False], constant=[False, True, False],
                     singleton=[True, False, False], epsilon=1.0, n_sample=5)
    df, schema = case.data, case.schema
    cat = schema.modelled[0]
    assert cat.kind is Kind.CATEGORICAL and cat.nullable and cat.categories is not None
    counts = df[cat.name].value_counts()
    assert counts.get(cat.categories[-1]) == 1  # a category seen once
    assert df[cat.name].isna().any()  # missing values
    assert df[schema.modelled[1].name].dropna().nunique() == 1  # a constant column
    assert pd.api.types.is_datetime64_any_dtype(df[schema.modelled[2].name])
    assert not any(c.data_dependent for c in schema.columns)  # declared, public domains


# -- attacks ---------------------------------------------------------------------------------


class ExactMatch(Attack):
    """A tiny honest attack: how many training rows reappear verbatim in the synthetic data."""

    name = "exact-match"
    risk_kind = "membership"

    def run(self, context: AttackContext) -> AttackResult:
        keys = set(map(tuple, context.synthetic.astype(str).to_numpy()))
        hits = [tuple(r) in keys for r in context.train.astype(str).to_numpy()]
        control = [tuple(r) in keys for r in context.control.astype(str).to_numpy()]
        risk = max(0.0, float(np.mean(hits)) - float(np.mean(control)))
        return AttackResult(self.name, self.risk_kind, risk, max(0.0, risk - 0.05),
                            min(1.0, risk + 0.05), context.confidence_level, "fixed +-0.05",
                            0.0, "guess nobody is a member", len(hits))


class RiskAboveOne(ExactMatch):
    def run(self, context: AttackContext) -> AttackResult:
        return AttackResult(self.name, self.risk_kind, 1.5, 1.0, 2.0, 0.95, "x", 0.0, "x", 1)


class Random(ExactMatch):
    def run(self, context: AttackContext) -> AttackResult:
        result = super().run(context)
        jitter = float(np.random.default_rng().uniform(0, 0.01))
        return replace(result, risk=result.risk * (1 - jitter))


class Blind(ExactMatch):
    def run(self, context: AttackContext) -> AttackResult:
        return AttackResult(self.name, self.risk_kind, 0.1, 0.05, 0.15,
                            context.confidence_level, "fixed", 0.0, "nobody", 10)


class NoBaseline(ExactMatch):
    def run(self, context: AttackContext) -> AttackResult:
        return replace(super().run(context), baseline_description=" ")


class Mutates(ExactMatch):
    def run(self, context: AttackContext) -> AttackResult:
        context.synthetic.iat[0, 0] = context.synthetic.iat[1, 0]  # type: ignore[assignment]
        return super().run(context)


def test_a_well_behaved_attack_passes_and_the_scenario_leaks() -> None:
    check_attack(ExactMatch)
    train, control, schema = scenario(100)
    shuffled = independent_marginals(train)
    assert sorted(shuffled["age"]) == sorted(train["age"])  # marginals kept
    assert len(train) == len(control) == 100 and set(train.columns) == set(schema.names)


@pytest.mark.parametrize(("cls", "rule"), [
    (RiskAboveOne, "raised ValueError"),
    (Random, "two runs with seed 0 differ"),
    (Blind, "not higher than on independent marginals"),
    (NoBaseline, "baseline has no description"),
    (Mutates, "modified the context's synthetic table"),
])
def test_the_kit_catches_a_broken_attack(cls: type[Attack], rule: str) -> None:
    with pytest.raises(ContractViolation, match=rule):
        check_attack(cls, n=120)


# -- policies --------------------------------------------------------------------------------


def test_policies_need_known_kinds_and_thresholds_in_range() -> None:
    good = Policy("p", "P", "a profile", {"membership": 0.1, "inference": 0.2})
    check_policy(good, max_examples=5)
    over = Policy("p", "P", "a profile", {"membership": 0.1})
    object.__setattr__(over, "thresholds", {"membership": 1.5})
    with pytest.raises(ContractViolation, match=r"must be in \[0, 1\]"):
        check_policy(over)
    unknown = Policy("p", "P", "a profile", {"membership": 0.1})
    object.__setattr__(unknown, "thresholds", {"reidentification": 0.1})
    with pytest.raises(ContractViolation, match="unknown risk kind"):
        check_policy(unknown)
    with pytest.raises(ContractViolation, match="no thresholds"):
        check_policy(Policy("p", "P", "never fails", {}))
    with pytest.raises(ContractViolation, match="not a privgate.Policy"):
        check_policy({"membership": 0.1})


# -- the pytest plugin -------------------------------------------------------------------------


def _pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_the_pytest_plugin_adds_nothing_unless_asked(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text("def test_x():\n    assert True\n")
    plain = _pytest(tmp_path)
    assert plain.returncode == 0 and "1 passed" in plain.stdout
    assert "privgate-contract" not in plain.stdout
    # Asked to check a distribution that registers nothing: a failing item, never a silent pass.
    asked = _pytest(tmp_path, "--privgate-contract", "--privgate-contract-dist", "no-such-dist",
                    "-rf")
    assert asked.returncode == 1, asked.stdout + asked.stderr
    assert "no privgate plugin registered by ['no-such-dist']" in asked.stdout


# -- time limits -------------------------------------------------------------------------------

RELEASE = threading.Event()  # set at the end of each test: the abandoned calls then finish


@pytest.fixture
def release() -> Iterator[threading.Event]:
    RELEASE.clear()
    yield RELEASE
    RELEASE.set()


class SlowFit(Resampler):
    def fit(self, data: pd.DataFrame, schema: Any, budget: Any, *, seed: int = 0) -> Resampler:
        RELEASE.wait(60)  # SLOW-FIT
        return super().fit(data, schema, budget, seed=seed)


class SlowRun(ExactMatch):
    def run(self, context: AttackContext) -> AttackResult:
        RELEASE.wait(60)
        return super().run(context)


def test_a_slow_generator_is_stopped_at_the_limit(release: threading.Event) -> None:
    started = time.monotonic()
    with pytest.raises(ContractViolation) as caught:
        check_generator(SlowFit, max_examples=1, timeout_s=0.5)
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert message.startswith("generator 'resampler': check_generator did not finish within "
                              "the contract time limit of 0.5 s")
    # where the plugin was when the kit stopped waiting: this file, the line of the wait
    assert f"{Path(__file__).name}:{_line('SLOW-FIT')} in fit" in message
    check_generator(Resampler, max_examples=1, timeout_s=60)  # a quick one passes under a limit


def test_the_time_limit_comes_from_the_environment(release: threading.Event,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRIVGATE_CONTRACT_TIMEOUT", "0.3")
    assert contract_timeout() == 0.3 and contract_timeout(2) == 2
    with pytest.raises(ContractViolation, match=r"attack 'exact-match': check_attack did not "
                                                r"finish within the contract time limit of 0.3 s"):
        check_attack(SlowRun, n=60)
    monkeypatch.setenv("PRIVGATE_CONTRACT_TIMEOUT", "0")
    assert contract_timeout() is None  # 0: no limit
    monkeypatch.setenv("PRIVGATE_CONTRACT_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="PRIVGATE_CONTRACT_TIMEOUT='soon'"):
        contract_timeout()
    monkeypatch.delenv("PRIVGATE_CONTRACT_TIMEOUT")
    assert contract_timeout() == DEFAULT_TIMEOUT_S == 600


# -- tracebacks into the plugin's own code -------------------------------------------------------


def _line(marker: str) -> int:
    """The line of this file holding ``marker`` in a comment."""
    lines = Path(__file__).read_text(encoding="utf-8").splitlines()
    (number,) = [i for i, text in enumerate(lines, start=1) if text.endswith(f"# {marker}")]
    return number


class CrashingAttack(ExactMatch):
    def run(self, context: AttackContext) -> AttackResult:
        return self._score(context)

    def _score(self, context: AttackContext) -> AttackResult:
        raise ZeroDivisionError("no members left")  # ATTACK-RAISES


NO_SAMPLES: dict[int, pd.DataFrame] = {}


class CrashingSample(Resampler):
    def sample(self, n: int, *, seed: int = 0,
               conditions: Mapping[str, Any] | None = None) -> pd.DataFrame:
        return NO_SAMPLES[n]  # SAMPLE-RAISES


def test_a_raising_attack_shows_its_own_file_and_line() -> None:
    with pytest.raises(ContractViolation) as caught:
        check_attack(CrashingAttack, n=60)
    message = str(caught.value)
    assert "run() on a verbatim copy of the training rows raised ZeroDivisionError" in message
    assert (f"{Path(__file__).name}:{_line('ATTACK-RAISES')} in _score: "
            "raise ZeroDivisionError") in message
    # chained to the plugin's exception, whose traceback holds the plugin's frames
    cause = caught.value.__cause__
    assert isinstance(cause, ZeroDivisionError)
    frames = traceback.extract_tb(cause.__traceback__)
    assert (frames[-1].filename, frames[-1].lineno) == (__file__, _line("ATTACK-RAISES"))
    assert [f.name for f in frames[-2:]] == ["run", "_score"]


def test_a_raising_generator_shows_its_own_file_and_line() -> None:
    with pytest.raises(ContractViolation, match=r"sample\(50\) raised KeyError") as caught:
        check_generator(CrashingSample, max_examples=1)
    assert f"{Path(__file__).name}:{_line('SAMPLE-RAISES')} in sample" in str(caught.value)
    assert isinstance(caught.value.__cause__, KeyError)
    # fit() raising something else than a PrivgateError names where, too
    with pytest.raises(ContractViolation, match="raised KeyError") as caught:
        check_generator(RaisesKeyError, max_examples=1)
    assert f"{Path(__file__).name}:{_line('FIT-RAISES')} in fit" in str(caught.value)


class CrashOnTinyTables(Resampler):
    def fit(self, data: pd.DataFrame, schema: Any, budget: Any, *, seed: int = 0) -> Resampler:
        if len(data) < 5:
            raise IndexError(f"only {len(data)} rows")  # TINY-RAISES
        return super().fit(data, schema, budget, seed=seed)


def test_a_failure_found_by_hypothesis_names_the_line_and_the_table() -> None:
    with pytest.raises(ContractViolation, match="raised IndexError") as caught:
        check_generator(CrashOnTinyTables, max_examples=30)
    message = str(caught.value)
    assert f"{Path(__file__).name}:{_line('TINY-RAISES')} in fit" in message
    notes = getattr(caught.value, "__notes__", [])  # hypothesis's shrunk table comes along
    assert "case=GeneratedCase(data=" in "\n".join(notes), notes
    assert isinstance(caught.value.__cause__, IndexError)
