"""Read-only views of core's documents, for plugins.

Core owns the result document of an audit. Reporters and report sections receive a *deep,
read-only copy* made by :func:`readonly`: mappings that refuse assignment and sequences that
refuse mutation. Each plugin call gets a fresh copy, and core never reads a plugin's copy back,
so a plugin that bypasses the guards (``dict.__setitem__(view, ...)``) changes nothing but its
own copy: the verdict, the exit code and ``results.json`` are computed and serialised from
core's document alone.

Why not :class:`types.MappingProxyType`: ``json.dumps`` and jinja2 handle ``dict`` and
``list`` subclasses natively but not proxies, and existing reporters test ``isinstance(x,
list)``; subclasses keep them working.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, NoReturn


class ReadOnlyError(TypeError):
    """A plugin tried to modify a document that core owns."""


def _refuse(*_: Any, **__: Any) -> NoReturn:
    raise ReadOnlyError("this document belongs to privgate's core and is read-only for "
                        "plugins; copy it (privgate.views.mutable_copy) to change a copy")


class FrozenDict(dict[Any, Any]):
    """A ``dict`` whose mutating methods raise :class:`ReadOnlyError`."""

    __setitem__ = __delitem__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse
    __ior__ = _refuse

    def __copy__(self) -> dict[Any, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[Any, Any]:
        return {copy.deepcopy(k, memo): copy.deepcopy(v, memo) for k, v in self.items()}

    def __reduce__(self) -> Any:  # pickles as a plain dict
        return (dict, (dict(self),))


class FrozenList(list[Any]):
    """A ``list`` whose mutating methods raise :class:`ReadOnlyError`."""

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = remove = pop = clear = sort = reverse = _refuse

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return [copy.deepcopy(v, memo) for v in self]

    def __reduce__(self) -> Any:
        return (list, (list(self),))


def readonly(value: Any) -> Any:
    """A deep read-only copy of plain JSON-like data (mappings, lists, tuples, scalars)."""
    if isinstance(value, Mapping):
        return FrozenDict({k: readonly(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return FrozenList(readonly(v) for v in value)
    return value


def mutable_copy(value: Any) -> Any:
    """A deep, ordinary (mutable) copy of a document or of a read-only view of one."""
    if isinstance(value, Mapping):
        return {k: mutable_copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mutable_copy(v) for v in value]
    return value


__all__ = ["FrozenDict", "FrozenList", "ReadOnlyError", "mutable_copy", "readonly"]
