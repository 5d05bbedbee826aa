"""Round-trip a :class:`~privgate.schema.Schema` through the JSON metadata of a saved generator.

``Schema.to_dict`` writes what a report shows; this reads it back (kinds, roles, categories,
bounds, nullability and the ``data_dependent`` flag) so that a loaded generator decodes into the
same domain it was fitted on. JSON only: nothing is unpickled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from privgate.errors import InputError
from privgate.schema import Column, Kind, Role, Schema


def schema_from_dict(doc: Mapping[str, Any]) -> Schema:
    """The schema written by :meth:`Schema.to_dict` (raises :class:`InputError` if malformed)."""
    try:
        cols = []
        for c in doc["columns"]:
            bounds = c.get("bounds")
            cats = c.get("categories")
            cols.append(Column(
                str(c["name"]), Kind(c["kind"]), Role(c["role"]),
                categories=tuple(cats) if cats is not None else None,
                bounds=(float(bounds[0]), float(bounds[1])) if bounds is not None else None,
                nullable=bool(c.get("nullable", False)),
                data_dependent=bool(c.get("data_dependent", False))))
        return Schema(tuple(cols), source=str(doc.get("source", "declared")))
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise InputError(f"saved generator metadata: the 'schema' entry is malformed ({exc}); "
                         "re-save the generator with this version of privgate") from None
