"""Checking a plugin's parameters: one set of rules for generators, attacks and metrics.

Plugins keep their defaults in a dict; :func:`resolve` merges what the config gives over them
and rejects names it does not know, so a typo in ``params = {...}`` exits 2 naming the
parameter and the allowed ones instead of being silently ignored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from privgate.errors import InputError


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
            raise InputError(f"{owner}: unknown parameter(s) {unknown}; allowed: "
                             f"{sorted(defaults)}")
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
        raise InputError(f"{owner}: parameter {name!r} must be an integer from {minimum} to "
                         f"{maximum}, got {value!r}")
    return int(value)


def check_positive(owner: str, params: Mapping[str, Any], name: str) -> float:
    """``params[name]`` as a finite number > 0, else an :class:`InputError`."""
    value = params[name]
    if (isinstance(value, bool) or not isinstance(value, int | float | np.number)
            or not (math.isfinite(float(value)) and value > 0)):
        raise InputError(f"{owner}: parameter {name!r} must be a positive number, got "
                         f"{value!r}")
    return float(value)


def check_choice(owner: str, params: Mapping[str, Any], name: str,
                 choices: Sequence[str]) -> str:
    """``params[name]`` if it is one of ``choices``, else an :class:`InputError`."""
    value = params[name]
    if value not in choices:
        raise InputError(f"{owner}: parameter {name!r} must be one of {list(choices)}, got "
                         f"{value!r}")
    return str(value)
