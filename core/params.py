"""Checking a plugin's parameters: one set of rules for generators, attacks and metrics.

A plugin class mixes in :class:`Parameterised` and declares ``PARAMS`` (each parameter's
default and rule: :class:`Integer`, :class:`Positive`, :class:`Number`, :class:`OneOf`); the
functions underneath (:func:`resolve`, :func:`check_int`, ...) serve plugins that keep their
defaults in a dict. :func:`resolve` merges what the config gives over the defaults and rejects
names it does not know, so a typo in ``params = {...}`` exits 2 naming the parameter and the
allowed ones instead of being silently ignored.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from privgate.errors import N_, InputError, plugin_named


def resolve(owner: str, defaults: Mapping[str, Any], *given: Mapping[str, Any] | None
            ) -> dict[str, Any]:
    """``defaults`` updated by each mapping in ``given`` in turn; unknown names are errors.

    Args:
        owner: how messages name the plugin, e.g. ``"generator 'gmm'"``.
        defaults: every allowed parameter with its default value.
        given: parameter mappings, later ones winning (``None`` is skipped).
    """
    out = dict(defaults)
    for source in given:
        if not source:
            continue
        unknown = sorted(set(source) - set(defaults))
        if unknown:
            raise InputError(N_("%(owner)s: unknown parameter(s) %(unknown)s; allowed: "
                                "%(defaults)s"),
                             owner=owner, unknown=unknown, defaults=sorted(defaults))
        out.update(source)
    return out


#: The largest integer parameter accepted (int32): no count a plugin takes needs more, and
#: larger values overflow numpy and torch integer arguments (a crash, not a clear message).
MAX_INT_PARAM = 2**31 - 1


def check_int(owner: str, params: Mapping[str, Any], name: str, minimum: int = 1,
              maximum: int = MAX_INT_PARAM) -> int:
    """``params[name]`` as an int with ``minimum <= value <= maximum``, else an
    :class:`InputError`."""
    value = params[name]
    if (isinstance(value, bool) or not isinstance(value, int | np.integer)
            or not minimum <= value <= maximum):
        raise InputError(N_("%(owner)s: parameter %(name)r must be an integer from %(minimum)s "
                            "to %(maximum)s, got %(value)r"),
                         owner=owner, name=name, minimum=minimum, maximum=maximum, value=value)
    return int(value)


def check_positive(owner: str, params: Mapping[str, Any], name: str) -> float:
    """``params[name]`` as a finite number > 0, else an :class:`InputError`."""
    value = params[name]
    if (isinstance(value, bool) or not isinstance(value, int | float | np.number)
            or not (math.isfinite(float(value)) and value > 0)):
        raise InputError(N_("%(owner)s: parameter %(name)r must be a positive number, got "
                            "%(value)r"), owner=owner, name=name, value=value)
    return float(value)


def check_choice(owner: str, params: Mapping[str, Any], name: str,
                 choices: Sequence[str]) -> str:
    """``params[name]`` if it is one of ``choices``, else an :class:`InputError`."""
    value = params[name]
    if value not in choices:
        raise InputError(N_("%(owner)s: parameter %(name)r must be one of %(choices)s, got "
                            "%(value)r"),
                         owner=owner, name=name, choices=list(choices), value=value)
    return str(value)


def check_count(owner: str, value: Any, name: str = "n") -> int:
    """``value`` as a non-negative int (a number of rows to draw), else an :class:`InputError`."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise InputError(N_("%(owner)s: %(name)s must be a non-negative integer, got %(value)r"),
                         owner=owner, name=name, value=value)
    return int(value)


# -- declared parameters: scikit-learn's BaseEstimator idea -----------------------------------


class Param(ABC):
    """One constructor parameter: its default and the rule its value must follow."""

    default: Any

    @abstractmethod
    def check(self, owner: str, name: str, value: Any) -> Any:
        """``value`` (possibly normalised), or an :class:`InputError` naming ``name``."""


@dataclass(frozen=True)
class Integer(Param):
    """An integer in ``[minimum, maximum]``."""

    default: int
    minimum: int = 1
    maximum: int = MAX_INT_PARAM

    def check(self, owner: str, name: str, value: Any) -> int:
        return check_int(owner, {name: value}, name, self.minimum, self.maximum)


@dataclass(frozen=True)
class Positive(Param):
    """A finite number above zero."""

    default: float

    def check(self, owner: str, name: str, value: Any) -> float:
        return check_positive(owner, {name: value}, name)


@dataclass(frozen=True)
class Number(Param):
    """A finite number between ``low`` and ``high``, each end open or closed (by default
    ``[low, high)``); ``meaning`` says what the number is, for the message."""

    default: float
    low: float
    high: float = math.inf
    low_open: bool = False
    high_open: bool = True
    meaning: str = ""

    def check(self, owner: str, name: str, value: Any) -> float:
        ok = (not isinstance(value, bool) and isinstance(value, int | float | np.number)
              and math.isfinite(float(value)))
        if ok:
            x = float(value)
            ok = ((x > self.low if self.low_open else x >= self.low)
                  and (x < self.high if self.high_open else x <= self.high))
        if not ok:
            left = "(" if self.low_open else "["
            right = ")" if self.high_open else "]"
            what = f" ({self.meaning})" if self.meaning else ""
            raise InputError(N_("%(owner)s: parameter %(name)r must be a finite number in "
                                "%(left)s%(low)s, %(high)s%(right)s%(what)s, got %(value)r"),
                             owner=owner, name=name, left=left, low=f"{self.low:g}",
                             high=f"{self.high:g}", right=right, what=what, value=value)
        return float(value)


@dataclass(frozen=True)
class OneOf(Param):
    """One of a fixed set of strings."""

    default: str
    choices: tuple[str, ...]

    def check(self, owner: str, name: str, value: Any) -> str:
        return check_choice(owner, {name: value}, name, self.choices)


class Parameterised:
    """Constructor parameters handled once, for every plugin class that mixes this in.

    scikit-learn's ``BaseEstimator`` idea: a plugin declares its parameters in :attr:`PARAMS`
    (name -> :class:`Param`, i.e. default and rule); the constructor stores the keyword
    arguments as given in ``self.params`` and checks them at once, so a typo or a value out of
    range exits 2 before any work; :meth:`checked_params` returns them merged over the
    defaults and checked, where the work happens (``fit``, ``run``). Rules that tie several
    parameters together go in :meth:`check_params`. Messages name the plugin as
    ``"{plugin_kind} {name!r}"``, e.g. ``generator 'gmm'``.

    Mix it in before the contract class: ``class MyGenerator(Parameterised, Generator)``.
    """

    #: The plugin's name (the contract class declares it too).
    name: ClassVar[str]
    #: What kind of plugin this is, for messages: ``"generator"``, ``"attack"``, ``"metric"``.
    plugin_kind: ClassVar[str] = "generator"
    #: Every parameter the constructor accepts, with its default and rule.
    PARAMS: ClassVar[Mapping[str, Param]] = {}

    def __init__(self, **params: Any) -> None:
        self.params: dict[str, Any] = dict(params)
        self.checked_params()

    @classmethod
    def owner(cls) -> str:
        """How messages name this plugin, e.g. ``generator 'gmm'``."""
        return plugin_named(cls.plugin_kind, cls.name)

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Every parameter with its default value."""
        return {key: rule.default for key, rule in cls.PARAMS.items()}

    def checked_params(self) -> dict[str, Any]:
        """``self.params`` over the defaults, each checked (and normalised) by its rule; an
        unknown name or a bad value is an :class:`InputError` naming it."""
        owner = self.owner()
        merged = resolve(owner, self.defaults(), self.params)
        out = {key: self.PARAMS[key].check(owner, key, value) for key, value in merged.items()}
        self.check_params(out)
        return out

    def check_params(self, params: dict[str, Any]) -> None:
        """Rules across parameters (override; raise :class:`InputError`). The default: none."""

    def fitted(self, attribute: str, what: str) -> None:
        """Raise :class:`InputError` unless ``fit`` has set ``attribute`` (``what`` names the
        call for the message: ``"sample()"``, ``"save()"``), like scikit-learn's
        ``check_is_fitted``."""
        if not hasattr(self, attribute):
            raise InputError(N_("%(owner)s: call fit() before %(what)s"),
                             owner=self.owner(), what=what)
