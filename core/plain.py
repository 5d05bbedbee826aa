"""Plain values out of untrusted objects: how core reads what a plugin hands back.

A plugin's result may be a subclass with properties that change between reads, a number that is
a ``str`` or a ``bool``, a list that is really a generator. The functions here read a value
*once* and return a plain Python value (``float``, ``int``, ``str``, tuples of them, JSON data)
or raise :class:`PlainError` with a message that names the field (``roc.fpr[3] must be a
number``). :mod:`privgate.validate` turns that error into a malformed-result fault; the result
types (:mod:`privgate.evidence`, :mod:`privgate.figures`) use the same functions to rebuild
themselves from ``results.json``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

__all__ = ["PlainError", "integer", "json_data", "number", "numbers_of", "read", "short", "text",
           "texts", "items_of"]

#: Deepest nesting of JSON data accepted.
MAX_DEPTH = 50


class PlainError(ValueError):
    """A value is not the plain data its field needs; the message names the field."""


def short(value: Any) -> str:
    """``repr(value)`` cut to 40 characters (and safe against a hostile ``__repr__``)."""
    try:
        out = repr(value)
    except Exception:  # noqa: BLE001 -- a hostile __repr__
        return "(unprintable)"
    return out if len(out) <= 40 else out[:37] + "..."


def read(obj: Any, names: Iterable[str], field: str = "") -> dict[str, Any]:
    """Each of ``names`` read once from ``obj``: a mapping's keys (absent ones are ``None``) or
    an object's attributes (absent ones are ``None``; one that raises is a :class:`PlainError`).
    """
    out: dict[str, Any] = {}
    for name in names:
        try:
            out[name] = obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)
        except Exception as exc:  # noqa: BLE001 -- a plugin's property may raise anything
            where = f"{field}.{name}" if field else name
            raise PlainError(f"reading {where!r} raised {type(exc).__name__}: {exc}") from None
    return out


def _of_kind(field: str, value: Any, kind: type, what: str) -> None:
    """Refuse ``value`` unless it is a ``kind`` (a bool never counts as a number)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, kind):
        raise PlainError(f"{field} must be {what}, got {type(value).__name__} {short(value)}")


def number(field: str, value: Any, *, allow_none: bool = False) -> float | None:
    """A finite real number as a ``float`` (bools, strings and NaN or infinities refused)."""
    if value is None and allow_none:
        return None
    _of_kind(field, value, numbers.Real, "a number")
    out = float(value)
    if not math.isfinite(out):
        raise PlainError(f"{field} must be finite, got {out!r}")
    return out


def integer(field: str, value: Any, minimum: int = 0, *, allow_none: bool = False
            ) -> int | None:
    """A whole number ``>= minimum`` as an ``int`` (bools and floats refused)."""
    if value is None and allow_none:
        return None
    _of_kind(field, value, numbers.Integral, "an integer")
    out = int(value)
    if out < minimum:
        raise PlainError(f"{field} must be >= {minimum}, got {out}")
    return out


def text(field: str, value: Any, *, allow_none: bool = False) -> str | None:
    """A string as a plain ``str`` (a ``str`` subclass loses its methods)."""
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        raise PlainError(f"{field} must be text, got {type(value).__name__}")
    return str(value)


def items_of(field: str, value: Any, max_items: int) -> list[Any]:
    """A list, tuple or numpy array as a list of at most ``max_items`` items (a mapping, a
    string or a generator is refused: only a sequence has a length to check)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, list | tuple):
        raise PlainError(f"{field} must be a list, got {type(value).__name__}")
    if len(value) > max_items:
        raise PlainError(f"{field} holds {len(value):,} items; at most {max_items:,} are "
                         "accepted")
    return list(value)


def numbers_of(field: str, value: Any, max_items: int, *, allow_none: bool = False
               ) -> tuple[float | None, ...]:
    """A sequence of finite numbers (``None`` items allowed with ``allow_none``)."""
    return tuple(number(f"{field}[{i}]", v, allow_none=allow_none)
                 for i, v in enumerate(items_of(field, value, max_items)))


def texts(field: str, value: Any, max_items: int) -> tuple[str, ...]:
    """A sequence of strings."""
    out = []
    for i, v in enumerate(items_of(field, value, max_items)):
        item = text(f"{field}[{i}]", v)
        assert item is not None
        out.append(item)
    return tuple(out)


def json_data(field: str, value: Any) -> Any:
    """A deep copy of ``value`` as plain JSON data (dict/list/str/int/float/bool/None).

    numpy scalars and arrays are unwrapped, tuples and sets become lists (sets sorted), non-finite
    floats become ``None``; any other object is refused (a plugin must not smuggle live objects
    whose ``__str__`` runs later, inside a reporter).
    """
    def conv(v: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise PlainError(f"{field} is nested more than {MAX_DEPTH} levels deep")
        if v is None or isinstance(v, bool | np.bool_):
            return v if v is None else bool(v)
        if isinstance(v, numbers.Integral):
            return int(v)
        if isinstance(v, numbers.Real):
            f = float(v)
            return f if math.isfinite(f) else None
        if isinstance(v, str):
            return str(v)
        if isinstance(v, Mapping):
            return {_key(k): conv(x, depth + 1) for k, x in v.items()}
        if isinstance(v, list | tuple | set | frozenset):
            items = sorted(v, key=str) if isinstance(v, set | frozenset) else v
            return [conv(x, depth + 1) for x in items]
        if isinstance(v, np.ndarray | np.generic):
            return conv(v.tolist(), depth + 1)
        raise PlainError(f"{field} holds a {type(v).__name__}; only JSON data (tables, lists, "
                         "text, numbers, booleans) may be returned")

    def _key(k: Any) -> str:
        if isinstance(k, str | int | float | bool) or k is None:
            return str(k)
        raise PlainError(f"{field} has a key of type {type(k).__name__}; keys must be text")

    return conv(value, 0)
