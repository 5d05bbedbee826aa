"""The generator contract: fit on a table within a privacy budget, sample rows, say what it spent.

Generators follow scikit-learn's estimator shape: constructor arguments are stored as given,
all work happens in :meth:`Generator.fit`, which returns ``self``; learned state ends in an
underscore.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from privgate.errors import N_, BudgetError, InputError, PluginError
from privgate.randomness import child_seed
from privgate.schema import Kind, Schema

#: The largest epsilon privgate accepts for one fit or one ledger total. Beyond it a "privacy
#: budget" promises nothing (e**100 bounds no likelihood ratio anyone cares about), and opacus'
#: noise-multiplier search for an absurd target (epsilon 1e20) never returns; a budget above it
#: is refused before any search or reservation.
MAX_EPSILON = 100.0


@dataclass(frozen=True)
class PrivacyBudget:
    """The (epsilon, delta) a generator may spend on one fit (0 < epsilon <= MAX_EPSILON)."""

    epsilon: float
    delta: float = 1e-5

    def __post_init__(self) -> None:
        if not (self.epsilon > 0 and math.isfinite(self.epsilon)):
            raise BudgetError(N_("epsilon must be a positive finite number, got %(epsilon)r"),
                              epsilon=self.epsilon)
        if self.epsilon > MAX_EPSILON:
            raise BudgetError(N_("epsilon %(epsilon)s is above privgate's ceiling of "
                                 "%(max_epsilon)s (privgate.generator.MAX_EPSILON): a budget "
                                 "that large protects no one; choose epsilon <= 10 for a "
                                 "meaningful guarantee"),
                              epsilon=f"{self.epsilon:g}", max_epsilon=f"{MAX_EPSILON:g}")
        if not (0 <= self.delta < 1):
            raise BudgetError(N_("delta must be in [0, 1), got %(delta)r"), delta=self.delta)


@dataclass(frozen=True)
class PrivacySpent:
    """What a fit actually spent, as reported by its accountant.

    ``epsilon`` is ``math.inf`` for non-private generators. ``details`` holds the figures an
    auditor needs to recompute it (noise multiplier, sample rate, steps, ...).
    """

    epsilon: float
    delta: float
    accountant: str
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_private(self) -> bool:
        return math.isfinite(self.epsilon)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["epsilon"] = self.epsilon if math.isfinite(self.epsilon) else None
        out["details"] = dict(self.details)
        out["is_private"] = self.is_private
        return out


NOT_PRIVATE = "none (not differentially private)"


class Generator(ABC):
    """Base class of every synthetic-data generator.

    Subclasses set ``name`` (the identifier used in configs), ``is_private`` and
    ``description``, store their keyword parameters in ``__init__`` and implement
    :meth:`fit`, :meth:`sample` and :attr:`privacy_spent`.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    is_private: ClassVar[bool] = True
    #: Whether ``sample(n, conditions=...)`` honours conditions on categorical columns.
    supports_conditions: ClassVar[bool] = False

    def check_schema(self, schema: Schema) -> None:  # noqa: B027 -- optional, default accepts
        """Check that this generator, with its parameters, can fit a table of this schema.

        Called once per audit before any fit (and before the privacy ledger reserves a budget),
        with the schema of the modelled columns. Raise :class:`~privgate.errors.InputError` for
        a table it cannot model (e.g. no target column for a class-wise generator), so the user
        hears about it at once (exit code 2) and no budget is spent. The default accepts every
        schema.
        """

    @abstractmethod
    def fit(self, data: pd.DataFrame, schema: Schema, budget: PrivacyBudget | None,
            *, seed: int = 0) -> Generator:
        """Learn from ``data`` (the training part only, identifiers already removed).

        Args:
            data: the training rows, columns as in ``schema.modelled``.
            schema: declared kinds, roles and public domains. Only the declared domain may be
                used for preprocessing; anything read off ``data`` must be paid for.
            budget: the (epsilon, delta) this fit may spend; ``None`` only for non-private
                generators.
            seed: makes the fit reproducible.

        Returns:
            ``self``.
        """

    @abstractmethod
    def sample(self, n: int, *, seed: int = 0,
               conditions: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Draw ``n`` synthetic rows with the modelled columns of the schema.

        Args:
            n: the number of rows.
            seed: makes the draw reproducible (same fitted state + same seed = same rows).
            conditions: ``{column: value}``; every returned row has those values. Generators
                that cannot honour conditions (``supports_conditions = False``) raise
                :class:`privgate.errors.InputError` when given any.
        """

    @property
    @abstractmethod
    def privacy_spent(self) -> PrivacySpent:
        """The (epsilon, delta) actually spent by the last fit."""

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters (for provenance). Subclasses store them in ``params``."""
        return dict(getattr(self, "params", {}))

    # -- persistence -----------------------------------------------------------------------
    # A fitted generator is saved as JSON metadata plus a tensor file read back with
    # ``torch.load(weights_only=True)``: loading never unpickles arbitrary objects.

    def get_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The fitted state: (JSON-serialisable metadata, {name: torch.Tensor | numpy array}).

        Subclasses that support :meth:`save` override this and :meth:`set_state`.
        """
        raise PluginError(N_("generator %(name)r does not support save/load"), name=self.name)

    def set_state(self, metadata: dict[str, Any], arrays: dict[str, Any]) -> None:
        """Restore what :meth:`get_state` returned (arrays come back as torch tensors)."""
        raise PluginError(N_("generator %(name)r does not support save/load"), name=self.name)

    def save(self, path: str | Path) -> Path:
        """Write the fitted generator to the directory ``path`` (created if missing)."""
        from privgate.persistence import save_state

        metadata, arrays = self.get_state()
        return save_state(Path(path), {"generator": self.name, "params": self.get_params(),
                                       "state": metadata}, arrays)

    @classmethod
    def load(cls, path: str | Path) -> Generator:
        """Read a generator written by :meth:`save` (no pickle of arbitrary objects)."""
        from privgate.persistence import load_state

        metadata, arrays = load_state(Path(path))
        if metadata.get("generator") != cls.name:
            raise InputError(N_("%(path)s: holds generator %(found)r, not %(name)r"),
                             path=path, found=metadata.get('generator'), name=cls.name)
        obj = cls(**metadata.get("params", {}))
        obj.set_state(metadata["state"], arrays)
        return obj


def check_conditions(conditions: Mapping[str, Any] | None, schema: Schema,
                     generator: str, *, supported: bool) -> dict[str, Any]:
    """Validate ``sample(conditions=...)``: known categorical columns, values in the domain.

    Returns the conditions as a plain dict (empty when none). Raises
    :class:`~privgate.errors.InputError` naming the column and what to do.
    """
    if not conditions:
        return {}
    if not supported:
        raise InputError(N_("generator %(generator)r cannot sample under conditions "
                            "(%(conditions)s); use a generator that supports them"),
                         generator=generator, conditions=sorted(conditions))
    by_name = {c.name: c for c in schema.columns}
    out: dict[str, Any] = {}
    for col, value in conditions.items():
        if col not in by_name:
            raise InputError(N_("condition on column %(col)r: no such modelled column (known: "
                                "%(known)s)"), col=col, known=sorted(by_name))
        column = by_name[col]
        if column.kind is not Kind.CATEGORICAL:
            raise InputError(N_("condition on column %(col)r: only categorical columns can be "
                                "conditioned on, %(col)r is %(value)s"),
                             col=col, value=column.kind.value)
        if column.categories is not None and value not in column.categories:
            raise InputError(N_("condition %(col)r = %(value)r: not in the column's categories "
                                "%(categories)s"),
                             col=col, value=value, categories=list(column.categories)[:20])
        out[col] = value
    return out


def sample_by_rejection(draw: Callable[[int, int], pd.DataFrame], n: int,
                        conditions: Mapping[str, Any], *, seed: int = 0,
                        max_rounds: int = 50) -> pd.DataFrame:
    """Honour categorical ``conditions`` by drawing batches and keeping matching rows.

    Post-processing of a DP generator's output costs no privacy. ``draw(k, seed)`` returns
    ``k`` unconditional rows. Raises :class:`~privgate.errors.InputError` when the condition is
    too rare for the model to produce ``n`` rows within ``max_rounds`` batches.
    """
    kept: list[pd.DataFrame] = []
    have = 0
    batch = max(256, 4 * n)
    for round_ in range(max_rounds):
        rows = draw(batch, child_seed(seed, "rejection round", round_))
        mask = np.ones(len(rows), dtype=bool)
        for col, value in conditions.items():
            mask &= (rows[col] == value).to_numpy(dtype=bool, na_value=False)
        if mask.any():
            kept.append(rows[mask])
            have += int(mask.sum())
        if have >= n:
            break
        rate = have / ((round_ + 1) * batch)
        if rate > 0:
            batch = min(max(batch, int(1.2 * (n - have) / rate)), 2_000_000)
        else:
            batch = min(batch * 4, 2_000_000)
    if have < n:
        raise InputError(N_("conditions %(conditions)s: the model produced only %(have)s of %(n)s "
                            "matching rows; the condition is too rare for this generator"),
                         conditions=dict(conditions), have=have, n=n)
    return pd.concat(kept, ignore_index=True).iloc[:n].reset_index(drop=True)
