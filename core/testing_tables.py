"""Generated schemas and tables for the contract kit, and the two reference generators
(a verbatim copy and independent marginals) that attacks must tell apart."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from privgate.attack import RISK_KINDS
from privgate.errors import N_, InputError
from privgate.generator import NOT_PRIVATE, Generator, PrivacyBudget, PrivacySpent
from privgate.schema import Column, Kind, Role, Schema, epoch_seconds

#: Risk kinds for which a verbatim copy of the training rows must score higher than
#: independent marginals. ``distinguishability`` is excluded: a verbatim copy is, by design,
#: indistinguishable from the real rows (it scores lowest), while broken correlations score high.
LEAK_KINDS = tuple(k for k in RISK_KINDS if k != "distinguishability")
DEFAULT_EXAMPLES = 8
EPOCH = pd.Timestamp("2020-01-01")


# -- generated schemas and tables ----------------------------------------------------------


@dataclass(frozen=True)
class GeneratedCase:
    """One generated training table with its declared schema and the sampling request."""

    data: pd.DataFrame
    schema: Schema
    budget: PrivacyBudget
    n_sample: int
    seed: int


def _column(rng: np.random.Generator, name: str, kind: str, n: int, nullable: bool,
            constant: bool, singleton: bool) -> tuple[Column, pd.Series]:
    """One column of ``n`` values and its declaration (domains declared, never data-read)."""
    role = Role.QUASI_IDENTIFIER if rng.random() < 0.5 else Role.OTHER
    once = int(rng.integers(0, n))  # the row holding a singleton category (never missing)
    if kind in ("cat-str", "cat-int"):
        k = int(rng.integers(3, 7))
        cats: list[Any] = ([f"c{i}" for i in range(k)] if kind == "cat-str"
                           else list(range(10, 10 + k)))
        # With ``singleton`` the last category occurs exactly once (declared, but rare).
        common = k - 1 if singleton else k
        idx = np.zeros(n, dtype=int) if constant else rng.integers(0, common, n)
        if singleton and n >= 2 and not constant:
            idx[once] = k - 1
        values = pd.Series([cats[i] for i in idx], dtype=object)
        col = Column(name, Kind.CATEGORICAL, role, categories=tuple(cats), nullable=nullable)
    elif kind == "integer":
        raw = np.full(n, 7) if constant else rng.integers(0, 100, n)
        values = pd.Series(raw.astype(float) if nullable else raw.astype(np.int64))
        col = Column(name, Kind.INTEGER, role, bounds=(0.0, 120.0), nullable=nullable)
    elif kind == "continuous":
        raw = np.full(n, 2.5) if constant else rng.normal(50, 15, n).clip(0, 100)
        values = pd.Series(raw.astype(float))
        col = Column(name, Kind.CONTINUOUS, role, bounds=(0.0, 100.0), nullable=nullable)
    else:  # datetime
        days = np.full(n, 3) if constant else rng.integers(0, 365, n)
        values = pd.Series(EPOCH + pd.to_timedelta(days, unit="D"))
        low = float(epoch_seconds(pd.Series([EPOCH])).iloc[0])
        col = Column(name, Kind.DATETIME, role, bounds=(low, low + 400 * 86_400.0),
                     nullable=nullable)
    if nullable and n >= 2:
        mask = rng.random(n) < 0.2
        mask[(once + 1) % n] = True
        mask[once] = False
        values = values.mask(mask)
    return col, values


def make_case(*, seed: int, n_rows: int, kinds: Sequence[str], nullable: Sequence[bool],
              constant: Sequence[bool], singleton: Sequence[bool], epsilon: float,
              n_sample: int) -> GeneratedCase:
    """Build a :class:`GeneratedCase` deterministically from its description."""
    rng = np.random.default_rng(seed)
    cols, series = [], {}
    for i, kind in enumerate(kinds):
        col, values = _column(rng, f"{kind.replace('-', '_')}_{i}", kind, n_rows, nullable[i],
                              constant[i], singleton[i])
        cols.append(col)
        series[col.name] = values.reset_index(drop=True)
    categorical = [i for i, c in enumerate(cols) if c.kind is Kind.CATEGORICAL]
    if categorical and seed % 2 == 0:  # half of the tables have a prediction target
        cols[categorical[0]] = replace(cols[categorical[0]], role=Role.TARGET)
    return GeneratedCase(pd.DataFrame(series), Schema(tuple(cols)),
                         PrivacyBudget(epsilon, 1e-5), n_sample, seed % 1000)


def generated_cases() -> Any:
    """A hypothesis strategy of :class:`GeneratedCase`: mixed kinds, missing values, a category
    seen once, constant columns, 1 to 5,000 rows (mostly small)."""
    from hypothesis import strategies as st

    kinds = st.sampled_from(("cat-str", "cat-int", "integer", "continuous", "datetime"))
    # Mostly small tables; about one example in ten has 5,000 rows.
    sizes = ("small",) * 6 + ("medium",) * 3 + ("large",)
    rows = st.sampled_from(sizes).flatmap(
        lambda k: st.integers(1, 40) if k == "small" else st.integers(41, 400)
        if k == "medium" else st.just(5000))

    @st.composite
    def cases(draw: Callable[[Any], Any]) -> GeneratedCase:
        n_cols = draw(st.integers(1, 5))
        return make_case(
            seed=draw(st.integers(0, 2**31 - 1)), n_rows=draw(rows),
            kinds=[draw(kinds) for _ in range(n_cols)],
            nullable=[draw(st.booleans()) for _ in range(n_cols)],
            constant=[draw(st.integers(0, 4)) == 0 for _ in range(n_cols)],
            singleton=[draw(st.booleans()) for _ in range(n_cols)],
            epsilon=draw(st.sampled_from((0.5, 1.0, 3.0, 10.0))),
            n_sample=draw(st.integers(1, 60)))

    return cases()


# -- attacks -------------------------------------------------------------------------------


def scenario(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, Schema]:
    """A small population with correlated quasi-identifiers and a secret: (train, control,
    schema). Rows are nearly unique, so a verbatim copy of ``train`` leaks them."""
    rng = np.random.default_rng(seed)
    total = 2 * n
    age = rng.integers(18, 90, total)
    sex = rng.choice(["f", "m"], total)
    region = rng.choice([f"r{i}" for i in range(6)], total)
    income = (age * 900 + rng.normal(0, 4000, total)).clip(0, 200_000).round()
    disease = np.where((age > 60) ^ (rng.random(total) < 0.15), "yes", "no")
    frame = pd.DataFrame({"age": age, "sex": sex, "region": region,
                          "income": income.astype(np.int64), "disease": disease})
    schema = Schema((
        Column("age", Kind.INTEGER, Role.QUASI_IDENTIFIER, bounds=(18.0, 90.0)),
        Column("sex", Kind.CATEGORICAL, Role.QUASI_IDENTIFIER, categories=("f", "m")),
        Column("region", Kind.CATEGORICAL, Role.QUASI_IDENTIFIER,
               categories=tuple(f"r{i}" for i in range(6))),
        Column("income", Kind.INTEGER, Role.OTHER, bounds=(0.0, 200_000.0)),
        Column("disease", Kind.CATEGORICAL, Role.TARGET, categories=("no", "yes")),
    ))
    return frame.iloc[:n].reset_index(drop=True), frame.iloc[n:].reset_index(drop=True), schema


def independent_marginals(df: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Each column shuffled on its own: the marginals survive, every row link is broken."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: df[c].to_numpy()[rng.permutation(len(df))] for c in df.columns})


class VerbatimCopy(Generator):
    """The kit's leakiest generator: ``sample(n)`` repeats the training rows in order.

    Attacks that need a fitted generator (shadow models) get this one in the context of the
    verbatim-copy scenario and build fresh copies with ``type(g)(**g.get_params())``.
    """

    name = "privgate-contract-verbatim"
    is_private = False

    def __init__(self, **params: Any) -> None:
        self.params = dict(params)

    def fit(self, data: pd.DataFrame, schema: Schema, budget: PrivacyBudget | None,
            *, seed: int = 0) -> VerbatimCopy:
        if len(data) == 0:
            raise InputError(N_("generator %(name)r: needs at least one training row"),
                             name=self.name)
        self.data_ = data.reset_index(drop=True).copy()
        return self

    def sample(self, n: int, *, seed: int = 0,
               conditions: Mapping[str, Any] | None = None) -> pd.DataFrame:
        if n < 0:
            raise InputError(N_("generator %(name)r: n must be >= 0, got %(n)s"),
                             name=self.name, n=n)
        if conditions:
            raise InputError(N_("generator %(name)r cannot sample under conditions"),
                             name=self.name)
        return self.data_.iloc[np.arange(n) % len(self.data_)].reset_index(drop=True)

    @property
    def privacy_spent(self) -> PrivacySpent:
        return PrivacySpent(math.inf, 1.0, NOT_PRIVATE)


class IndependentMarginals(VerbatimCopy):
    """The kit's no-link generator: each column resampled on its own (seeded)."""

    name = "privgate-contract-marginals"

    def sample(self, n: int, *, seed: int = 0,
               conditions: Mapping[str, Any] | None = None) -> pd.DataFrame:
        if n < 0:
            raise InputError(N_("generator %(name)r: n must be >= 0, got %(n)s"),
                             name=self.name, n=n)
        rng = np.random.default_rng(seed)
        m = len(self.data_)
        return pd.DataFrame({c: self.data_[c].to_numpy()[rng.integers(0, m, n)]
                             for c in self.data_.columns})


