"""The table's schema: per column its kind, role and public domain.

The schema is what makes preprocessing private. A generator may look at a column's *declared*
domain (category list, numeric bounds) for free; anything it learns from the data itself costs
privacy. :func:`infer_schema` therefore marks every domain it reads off a table as
``data_dependent`` so that the report can say those domains were not privacy-protected.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from privgate.errors import N_, InputError


class Kind(StrEnum):
    """What values a column holds."""

    CATEGORICAL = "categorical"
    CONTINUOUS = "continuous"
    INTEGER = "integer"
    DATETIME = "datetime"
    IDENTIFIER = "identifier"


class Role(StrEnum):
    """What a column means for privacy."""

    DIRECT_IDENTIFIER = "direct-identifier"
    PERSON_ID = "person-id"  # a direct identifier that groups a person's rows
    QUASI_IDENTIFIER = "quasi-identifier"
    SENSITIVE = "sensitive"
    TARGET = "target"
    OTHER = "other"


NUMERIC_KINDS = frozenset({Kind.CONTINUOUS, Kind.INTEGER, Kind.DATETIME})


@dataclass(frozen=True)
class Column:
    """One column's declaration.

    Attributes:
        name: column name as it appears in the table.
        kind: what values it holds.
        role: what it means for privacy. Direct identifiers (and identifier-kind columns) are
            dropped before any generator sees the table.
        categories: the public category list of a categorical column.
        bounds: the public ``(low, high)`` range of a numeric column; values outside are clipped
            by generators. Datetime bounds are in seconds since the epoch.
        nullable: whether missing values are part of the domain (generators then model them).
        data_dependent: True when the domain was read off the data rather than declared; such
            a domain leaks information that no privacy budget accounted for.
    """

    name: str
    kind: Kind
    role: Role = Role.OTHER
    categories: tuple[Any, ...] | None = None
    bounds: tuple[float, float] | None = None
    nullable: bool = False
    data_dependent: bool = False

    def __post_init__(self) -> None:
        if self.kind is Kind.CATEGORICAL and self.bounds is not None:
            raise InputError(N_("schema column %(name)r: a categorical column takes "
                                "'categories', not 'bounds'"), name=self.name)
        if self.kind in NUMERIC_KINDS and self.categories is not None:
            raise InputError(N_("schema column %(name)r: a %(kind)s column takes 'bounds', not "
                                "'categories'"), name=self.name, kind=self.kind)
        if self.bounds is not None:
            low, high = self.bounds
            if not (math.isfinite(low) and math.isfinite(high)) or low > high:
                raise InputError(N_("schema column %(name)r: bounds must be two finite numbers "
                                    "with low <= high, got %(bounds)s"),
                                 name=self.name, bounds=list(self.bounds))
        if self.categories is not None:
            if len(self.categories) == 0:
                raise InputError(N_("schema column %(name)r: the category list is empty"),
                                 name=self.name)
            if len(set(self.categories)) != len(self.categories):
                raise InputError(N_("schema column %(name)r: the category list repeats a value"),
                                 name=self.name)

    @property
    def is_dropped(self) -> bool:
        """Whether the column is removed before training (identifiers)."""
        return self.role in (Role.DIRECT_IDENTIFIER, Role.PERSON_ID) or self.kind is Kind.IDENTIFIER

    @property
    def has_public_domain(self) -> bool:
        """Whether a generator can encode the column from the declaration alone."""
        if self.kind is Kind.CATEGORICAL:
            return self.categories is not None
        if self.kind in NUMERIC_KINDS:
            return self.bounds is not None
        return True

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (used in results and reports)."""
        out: dict[str, Any] = {"name": self.name, "kind": str(self.kind), "role": str(self.role)}
        if self.categories is not None:
            out["categories"] = [_json_scalar(c) for c in self.categories]
        if self.bounds is not None:
            out["bounds"] = [float(self.bounds[0]), float(self.bounds[1])]
        out["nullable"] = self.nullable
        out["data_dependent"] = self.data_dependent
        return out

    def to_public_dict(self) -> dict[str, Any]:
        """What results.json and reports may show: :meth:`to_dict` without any value read off
        the data. A data-dependent domain is described by its kind and size only (an inferred
        category list or a numeric column's exact minimum and maximum can be one person's
        value)."""
        out = self.to_dict()
        if self.data_dependent:
            if out.pop("categories", None) is not None:
                out["n_categories"] = len(self.categories or ())
            if out.pop("bounds", None) is not None:
                out["bounds_read_from_data"] = True
        return out


def _json_scalar(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass(frozen=True)
class Schema:
    """An ordered collection of :class:`Column` declarations."""

    columns: tuple[Column, ...]
    source: str = "declared"
    _by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        seen: dict[str, Column] = {}
        for col in self.columns:
            if col.name in seen:
                raise InputError(N_("schema: column %(name)r is declared twice"), name=col.name)
            seen[col.name] = col
        object.__setattr__(self, "_by_name", seen)
        if not self.columns:
            raise InputError(N_("schema: no columns declared"))

    def __getitem__(self, name: str) -> Column:
        try:
            return self._by_name[name]
        except KeyError:
            raise InputError(N_("schema: no column named %(name)r"), name=name) from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[Column]:
        return iter(self.columns)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def modelled(self) -> list[Column]:
        """Columns a generator learns and produces (identifiers removed)."""
        return [c for c in self.columns if not c.is_dropped]

    def with_role(self, *roles: Role) -> list[Column]:
        return [c for c in self.modelled if c.role in roles]

    @property
    def quasi_identifiers(self) -> list[str]:
        return [c.name for c in self.with_role(Role.QUASI_IDENTIFIER)]

    @property
    def sensitive(self) -> list[str]:
        return [c.name for c in self.with_role(Role.SENSITIVE, Role.TARGET)]

    @property
    def person_id(self) -> str | None:
        """The column naming the person each row belongs to (:mod:`privgate.persons`)."""
        return next((c.name for c in self.columns if c.role is Role.PERSON_ID), None)

    @property
    def target(self) -> str | None:
        targets = self.with_role(Role.TARGET)
        return targets[0].name if targets else None

    def require_domains(self) -> None:
        """Raise :class:`InputError` unless every modelled column has a domain to encode."""
        if lacking := [c.name for c in self.modelled if not c.has_public_domain]:
            raise InputError(N_("schema: column(s) %(lacking)s have no domain (categories or "
                                "bounds); declare them or let privgate infer them"),
                             lacking=lacking)

    def require_columns(self, data: pd.DataFrame, owner: str, *, min_rows: int = 1) -> None:
        """Raise :class:`InputError` (naming ``owner``) unless the training table ``data`` has
        every modelled column and at least ``min_rows`` rows."""
        if absent := [c.name for c in self.modelled if c.name not in data.columns]:
            raise InputError(N_("%(owner)s: training table lacks column(s) %(absent)s"),
                             owner=owner, absent=absent)
        if len(data) < min_rows:
            raise InputError(N_("%(owner)s: needs at least %(min_rows)s training row(s), got "
                                "%(n_data)s"), owner=owner, min_rows=min_rows, n_data=len(data))

    @property
    def data_dependent_columns(self) -> list[str]:
        return [c.name for c in self.modelled if c.data_dependent]

    def select(self, names: Sequence[str]) -> Schema:
        return Schema(tuple(self[n] for n in names), source=self.source)

    def replace_column(self, column: Column) -> Schema:
        return Schema(tuple(column if c.name == column.name else c for c in self.columns),
                      source=self.source)

    def to_dict(self) -> dict[str, Any]:
        """Every column's declaration, domains included (saved generators round-trip it)."""
        return {"source": self.source, "columns": [c.to_dict() for c in self.columns]}

    def to_public_dict(self) -> dict[str, Any]:
        """The schema as results.json holds it: no value read off the data (see
        :meth:`Column.to_public_dict`)."""
        return {"source": self.source, "columns": [c.to_public_dict() for c in self.columns]}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], *, where: str = "schema") -> Schema:
        """The inverse of :meth:`to_dict` (kinds, roles, domains, nullability and the
        ``data_dependent`` flag), e.g. for a saved generator's metadata. JSON only.

        Raises :class:`InputError` naming ``where`` when ``doc`` is malformed.
        """
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
            return cls(tuple(cols), source=str(doc.get("source", "declared")))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise InputError(N_("%(where)s: the schema is malformed (%(exc)s); write it again "
                                "with this version of privgate"), where=where, exc=exc) from None

    @classmethod
    def from_mapping(cls, columns: Mapping[str, Mapping[str, Any]], *,
                     where: str = "schema") -> Schema:
        """Build a schema from the ``[schema.columns.NAME]`` tables of an audit config.

        Args:
            columns: column name -> ``{kind, role, categories, bounds, nullable}``.
            where: prefix for error messages (usually the config file name).
        """
        allowed = {"kind", "role", "categories", "bounds", "nullable"}
        cols = []
        for name, spec in columns.items():
            at = f"{where}: schema.columns.{name}"
            if not isinstance(spec, Mapping):
                raise InputError(N_("%(at)s: expected a table with at least 'kind'"), at=at)
            if unknown := set(spec) - allowed:
                raise InputError(N_("%(at)s: unknown key(s) %(unknown)s; allowed: %(allowed)s"),
                                 at=at, unknown=sorted(unknown), allowed=sorted(allowed))
            if "kind" not in spec:
                raise InputError(N_("%(at)s: 'kind' is required (one of %(kinds)s)"),
                                 at=at, kinds=[k.value for k in Kind])
            kind = _enum(Kind, spec["kind"], f"{at}.kind")
            role = _enum(Role, spec.get("role", "other"), f"{at}.role")
            if (categories := spec.get("categories")) is not None:
                if not isinstance(categories, list):
                    raise InputError(N_("%(at)s.categories: expected a list, got %(type)s"),
                                     at=at, type=type(categories).__name__)
                categories = tuple(categories)
            if (bounds := spec.get("bounds")) is not None:
                if (not isinstance(bounds, list) or len(bounds) != 2
                        or not all(isinstance(b, int | float) and not isinstance(b, bool)
                                   for b in bounds)):
                    raise InputError(N_("%(at)s.bounds: expected [low, high] numbers, got "
                                        "%(bounds)r"), at=at, bounds=bounds)
                bounds = (float(bounds[0]), float(bounds[1]))
            if not isinstance(nullable := spec.get("nullable", False), bool):
                raise InputError(N_("%(at)s.nullable: expected true or false, got %(nullable)r"),
                                 at=at, nullable=nullable)
            try:
                cols.append(Column(str(name), kind, role, categories, bounds, nullable))
            except InputError as exc:
                raise InputError(N_("%(where)s: %(exc)s"), where=where, exc=exc) from None
        return cls(tuple(cols), source="declared")


def _enum(enum: type[StrEnum], value: Any, at: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        raise InputError(N_("%(at)s: %(value)r is not one of %(choices)s"),
                         at=at, value=value, choices=[e.value for e in enum]) from None


def infer_schema(df: pd.DataFrame, *, max_categories: int = 50,
                 roles: Mapping[str, Role] | None = None) -> Schema:
    """Guess a schema from a table, marking every domain as data-dependent.

    Object, boolean and low-cardinality integer columns become categorical; other integers
    integer; floats continuous; datetimes datetime. Object columns with more than
    ``max_categories`` distinct values that are unique per row become identifiers (dropped).
    The domains read off the data are *not* privacy-protected; the report says so.
    """
    roles = dict(roles or {})
    cols = [_infer_column(str(name), df[name], roles.get(str(name), Role.OTHER), max_categories)
            for name in df.columns]
    return Schema(tuple(cols), source="inferred")


def _infer_column(name: str, s: pd.Series, role: Role, max_categories: int) -> Column:
    """One column of :func:`infer_schema`."""
    nonnull = s.dropna()
    if nonnull.empty:
        raise InputError(N_("column %(name)r holds no values (every cell is missing); drop it "
                            "or declare it in the schema"), name=name)
    read: dict[str, Any] = {"nullable": bool(s.isna().any()), "data_dependent": True}
    if role is Role.PERSON_ID:  # never modelled: no domain to read
        return Column(name, Kind.IDENTIFIER, role, nullable=read["nullable"])
    textual = not pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
    stamps = (nonnull if pd.api.types.is_datetime64_any_dtype(s)
              else _as_dates(nonnull) if textual else None)
    if stamps is not None:
        secs = epoch_seconds(stamps)
        return Column(name, Kind.DATETIME, role, bounds=(float(secs.min()), float(secs.max())),
                      **read)
    if textual or pd.api.types.is_bool_dtype(s):
        values = nonnull.astype(str) if textual else nonnull
        n_unique = values.nunique()
        if n_unique > max_categories and n_unique >= 0.9 * len(values):
            return Column(name, Kind.IDENTIFIER, Role.DIRECT_IDENTIFIER, **read)
        return Column(name, Kind.CATEGORICAL, role,
                      categories=tuple(sorted(pd.unique(values), key=str)), **read)
    is_int = pd.api.types.is_integer_dtype(s) or bool(
        np.all(np.equal(np.mod(nonnull.to_numpy(dtype=float), 1), 0)))
    if is_int and nonnull.nunique() <= min(max_categories, 10):
        return Column(name, Kind.CATEGORICAL, role,
                      categories=tuple(sorted(int(v) for v in pd.unique(nonnull))), **read)
    return Column(name, Kind.INTEGER if is_int else Kind.CONTINUOUS, role,
                  bounds=(float(nonnull.min()), float(nonnull.max())), **read)


def epoch_seconds(values: pd.Series) -> pd.Series:
    """Timestamps as float seconds since 1970-01-01 (whatever the datetime64 unit)."""
    dt = pd.to_datetime(values, errors="coerce")
    if getattr(dt.dt, "tz", None) is not None:
        dt = dt.dt.tz_convert(None)
    return ((dt - pd.Timestamp("1970-01-01")) / pd.Timedelta(seconds=1)).astype(float)


def _as_dates(values: pd.Series) -> pd.Series | None:
    """The values as timestamps when every one is an ISO 8601 date or date-time, else None."""
    text: pd.Series = values.map(str)
    if not text.str.match(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$").all():
        return None
    try:
        return pd.to_datetime(text, format="ISO8601")
    except (ValueError, TypeError):
        return None


def complete_schema(schema: Schema, df: pd.DataFrame) -> Schema:
    """Fill domains the declaration left open from the data, marking them data-dependent."""
    inferred: Schema | None = None
    out = []
    for col in schema.columns:
        if col.has_public_domain or col.is_dropped:
            out.append(col)
            continue
        if inferred is None:
            inferred = infer_schema(df[[c.name for c in schema.columns
                                        if not c.has_public_domain and not c.is_dropped]])
        guess = inferred[col.name]
        if col.kind is Kind.CATEGORICAL:
            cats = guess.categories
            if cats is None:  # inferred numeric, declared categorical
                cats = tuple(sorted(pd.unique(df[col.name].dropna()), key=str))
            out.append(replace(col, categories=cats, data_dependent=True))
        else:
            s = df[col.name].dropna()
            if col.kind is Kind.DATETIME:
                s = epoch_seconds(s)
            out.append(replace(col, bounds=(float(s.min()), float(s.max())),
                               data_dependent=True))
    return Schema(tuple(out), source=schema.source)
