"""Parameter rules of DP-SGD generators, for :class:`privgate.params.Parameterised`.

:func:`dp_params` declares the parameters every generator built on
:class:`privgate.dp.DPSGDGenerator` shares (schedule, clipping, accountant, domain share, noise
source, the ``dp`` switch); the other rules (:class:`Widths`, :class:`Flag`,
:class:`OptionalName`, with :mod:`privgate.params`' own) cover what their models take.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from privgate.dp.accounting import ACCOUNTANTS
from privgate.errors import N_, InputError
from privgate.params import Integer, Number, OneOf, Param, Positive, check_int


@dataclass(frozen=True)
class Flag(Param):
    """``True`` or ``False``."""

    default: bool

    def check(self, owner: str, name: str, value: Any) -> bool:
        if not isinstance(value, bool | np.bool_):
            raise InputError(N_("%(owner)s: parameter %(name)r must be true or false, got "
                                "%(value)r"), owner=owner, name=name, value=value)
        return bool(value)


@dataclass(frozen=True)
class Widths(Param):
    """Hidden layer widths: a non-empty list of positive integers (one integer is one layer)."""

    default: tuple[int, ...]

    def check(self, owner: str, name: str, value: Any) -> tuple[int, ...]:
        if isinstance(value, int | np.integer) and not isinstance(value, bool):
            value = (value,)
        if (not isinstance(value, Sequence) or isinstance(value, str) or not value
                or not all(isinstance(h, int | np.integer) and not isinstance(h, bool)
                           and h >= 1 for h in value)):
            raise InputError(N_("%(owner)s: parameter %(name)r must be a non-empty list of "
                                "positive integers (layer widths), got %(value)r"),
                             owner=owner, name=name, value=value)
        return tuple(int(h) for h in value)


@dataclass(frozen=True)
class OptionalName(Param):
    """A non-empty name (a column, or a keyword such as ``"target"``), or ``None``."""

    default: str | None
    meaning: str = ""

    def check(self, owner: str, name: str, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            what = f" ({self.meaning})" if self.meaning else ""
            raise InputError(N_("%(owner)s: parameter %(name)r must be a name or null%(what)s, "
                                "got %(value)r"), owner=owner, name=name, what=what, value=value)
        return value


@dataclass(frozen=True)
class BatchSize(Param):
    """An expected Poisson batch size, or ``"auto"`` when the generator picks one."""

    default: int | str

    def check(self, owner: str, name: str, value: Any) -> int | str:
        if value == "auto" and self.default == "auto":
            return "auto"
        return check_int(owner, {name: value}, name)


def dp_params(*, epochs: int, batch_size: int | str, clipping: str = "ghost",
              modes: Sequence[str] = ("ghost", "hooks")) -> dict[str, Param]:
    """The DP-SGD parameters, with a generator's defaults for ``epochs``, ``batch_size`` and
    ``grad_sample_mode`` (``clipping``, one of ``modes``, the modes its model supports)."""
    return {
        "epochs": Integer(epochs),
        "batch_size": BatchSize(batch_size),
        "max_grad_norm": Positive(1.0),
        "accountant": OneOf("rdp", ACCOUNTANTS),
        "grad_sample_mode": OneOf(clipping, tuple(modes)),
        "domain_share": Number(0.1, 0.0, 1.0, meaning="the share of epsilon spent on "
                               "estimating undeclared domains"),
        "secure_rng": Flag(False),
        "dp": Flag(True),
    }
