"""``privgate schema draft DATA``: a TOML audit config with a schema drafted from the data.

A new user starts from a table, not from a schema. The draft gives every column its kind and
domain as privgate would infer them (:func:`privgate.schema.infer_schema`) and a guessed role,
in ``[schema.columns.NAME]`` tables that ``privgate audit config.toml`` accepts as they are.
Roles are guessed from names and shapes:

* identifiers: unique per row, or an id-like name (``id``, ``*_id``, ``*_nbr``, ``mrn``, ...)
  on a column with many distinct values; dropped before training;
* quasi-identifiers: demographic names (age, sex, gender, zip, date of birth, race, ...) and
  dates;
* sensitive: diagnosis- and income-like names (diag, icd, income, salary, gain, ...);
* the target: ``--target``.

Every domain in the draft was read off the data. Once written in a schema it is *declared*, that
is public and free of privacy budget: each one carries the comment ``# read off the data:
confirm these values are public before relying on them``. A column that several rows share
per person (an id-like name with repeated values, e.g. ``patient_nbr``) is proposed as the
person id (``role = "person-id"``): splits, attacks and the ledger then count people
(:mod:`privgate.persons`).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from privgate import tomlish
from privgate.errors import EXIT_PASS, N_, InputError
from privgate.schema import Column, Kind, Role, Schema, infer_schema

#: The comment on every domain the draft read off the data.
READ_OFF = "# read off the data: confirm these values are public before relying on them"

_ID_NAME = re.compile(r"(^|_)(id|ids|uuid|guid|nbr|num|number|no|mrn|ssn|nhs|key)$|^(id|index)"
                      r"|(_|^)(record|encounter|patient|person|member|customer|subject)"
                      r"(_?id|_?nbr|_?no|_?number)?$", re.IGNORECASE)
_QI_NAME = re.compile(r"age|sex|gender|zip|postcode|postal|birth|dob|race|ethnic|nationality|"
                      r"country|marital|language|religion|region|county|city|state|education",
                      re.IGNORECASE)
_SENSITIVE_NAME = re.compile(r"diag|icd|disease|disorder|condition|hiv|cancer|pregnan|income|"
                             r"salary|wage|earning|gain|loss|debt|a1c|glu|insulin|medication|"
                             r"drug|treatment|result|occupation", re.IGNORECASE)
#: An id-like column with at least this share of distinct values is an identifier.
_ID_SHARE = 0.5
#: ... and so is one with more than 50 values and at least this share: a person id.
_PERSON_SHARE = 0.05
#: Characters of one line of a wrapped TOML array.
_WIDTH = 96


def guess_role(name: str, values: pd.Series, column: Column, target: str | None) -> Role:
    """The role the draft proposes for one column (see the module docstring)."""
    if name == target:
        return Role.TARGET
    if is_identifier(name, values):
        return Role.DIRECT_IDENTIFIER
    if column.kind is Kind.DATETIME or _QI_NAME.search(name):
        return Role.QUASI_IDENTIFIER
    if _SENSITIVE_NAME.search(name):
        return Role.SENSITIVE
    return Role.OTHER


def is_identifier(name: str, values: pd.Series) -> bool:
    """Unique per row (and not tiny), or an id-like name with many distinct values (half the
    rows, or more than 50 and a twentieth of the rows: a person id, several rows each)."""
    present = values.dropna()
    if len(present) == 0:
        return False
    distinct = present.nunique() / len(present)
    if distinct == 1.0 and len(present) >= 20 and not pd.api.types.is_float_dtype(present):
        return True
    many = distinct >= _ID_SHARE or (present.nunique() > 50 and distinct >= _PERSON_SHARE)
    return bool(_ID_NAME.search(name)) and many


def person_id_candidates(df: pd.DataFrame) -> list[str]:
    """Id-like columns that repeat across rows (several rows per person)."""
    out = []
    for name in df.columns:
        present = df[name].dropna()
        if not len(present) or not _ID_NAME.search(str(name)):
            continue
        distinct = present.nunique() / len(present)
        if _PERSON_SHARE <= distinct < 1.0 and present.nunique() > 50:
            out.append(str(name))
    return out


def draft(df: pd.DataFrame, *, target: str | None = None, max_categories: int = 50) -> Schema:
    """The drafted schema of ``df``: inferred kinds and domains, guessed roles (the first
    :func:`person_id_candidates` column, unless it is the target, as the person id)."""
    if target is not None and target not in df.columns:
        raise InputError(N_("--target: column %(target)r is not in the table; its columns are "
                            "%(columns)s"), target=target, columns=list(df.columns))
    inferred = infer_schema(df, max_categories=max_categories)
    person = next((c for c in person_id_candidates(df) if c != target), None)
    cols = []
    for col in inferred.columns:
        role = guess_role(col.name, df[col.name], col, target)
        if col.name == person:
            cols.append(Column(col.name, Kind.IDENTIFIER, Role.PERSON_ID))
            continue
        if role is Role.DIRECT_IDENTIFIER:
            col = Column(col.name, Kind.IDENTIFIER, role)
        elif col.kind is Kind.IDENTIFIER:
            role = Role.DIRECT_IDENTIFIER
        cols.append(Column(col.name, col.kind, role, col.categories, col.bounds, col.nullable,
                           data_dependent=col.kind is not Kind.IDENTIFIER))
    return Schema(tuple(cols), source="drafted")


def _key(name: str) -> str:
    """``name`` as a TOML key (bare when it may be, else quoted)."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else tomlish.value(name)


def _scalar(value: Any, kind: Kind) -> str:
    """A category or a bound as TOML (whole numbers for integer columns)."""
    if isinstance(value, np.generic):
        value = value.item()
    if kind is Kind.INTEGER and isinstance(value, float) and value.is_integer():
        value = int(value)
    return tomlish.value(value if isinstance(value, bool | int | float) else str(value))


def _array(values: Iterable[str], indent: str) -> list[str]:
    """``[a, b, ...]`` wrapped at :data:`_WIDTH` characters."""
    items = list(values)
    one = "[" + ", ".join(items) + "]"
    if len(indent) + len(one) <= _WIDTH:
        return [one]
    lines, line = ["["], "    "
    for item in items:
        if len(line) + len(item) + 2 > _WIDTH and line.strip():
            lines.append(line.rstrip())
            line = "    "
        line += item + ", "
    lines.append(line.rstrip())
    return lines + ["]"]


def _column_lines(col: Column) -> list[str]:
    lines = [f"[schema.columns.{_key(col.name)}]", f"kind = {tomlish.value(col.kind.value)}",
             f"role = {tomlish.value(col.role.value)}"]
    if col.role is Role.PERSON_ID:
        return [*lines, "# the person each row belongs to (repeats across rows): never "
                "modelled; training", "# and control are split by person, the attacks count "
                "people, and DP generators see one row per person"]
    if col.kind is Kind.IDENTIFIER:
        return [*lines, "# dropped before training (unique per row or an id-like name)"]
    if col.categories is not None:
        values = _array((_scalar(v, col.kind) for v in col.categories), "categories = ")
        lines += [READ_OFF, "categories = " + values[0], *values[1:]]
    if col.bounds is not None:
        low, high = col.bounds
        lines.append(READ_OFF)
        if col.kind is Kind.DATETIME:
            lines.append(f"# {pd.Timestamp(low, unit='s')} to {pd.Timestamp(high, unit='s')}"
                         " (seconds since 1970-01-01)")
        lines.append(f"bounds = [{_scalar(low, col.kind)}, {_scalar(high, col.kind)}]")
    if col.nullable:
        lines += [READ_OFF, "nullable = true"]
    return lines


def to_toml(schema: Schema, *, data_path: str, source: str, n_rows: int,
            person_ids: Sequence[str] = ()) -> str:
    """The audit config: ``[data]``, a DP generator, ``[schema.columns.*]`` and comments."""
    lines = [f"# Drafted by `privgate schema draft` from {source} ({n_rows:,} rows).",
             "# Review it before use: the roles are guesses, and every domain below was read off",
             "# the data. A declared domain costs no privacy budget, so declare only values you",
             "# know to be public (a code book, the form's answer options, documented ranges).",
             f"title = {tomlish.value(f'{Path(source).name} (schema drafted by privgate)')}", "",
             "[data]", f"path = {tomlish.value(data_path)}", "", "[[generators]]",
             'name = "dpsgd-vae"', "epsilon = 1.0", ""]
    person = schema.person_id
    if person is not None:
        others = [p for p in person_ids if p != person]
        lines += [f"# Person id: rows that share {person} are taken for one person (role = "
                  '"person-id"', "# below); check that it names people, not visits."
                  + (f" Also repeating: {', '.join(others)}." if others else ""), ""]
    for col in schema.columns:
        lines += [*_column_lines(col), ""]
    return "\n".join(lines).rstrip() + "\n"


def _data_path(data: Path, out: Path | None) -> str:
    """The data file as the config names it: relative to the config's folder when it can be."""
    base = (out.parent if out is not None else Path.cwd()).resolve()
    try:
        return os.path.relpath(data.resolve(), base)
    except ValueError:  # another drive (Windows)
        return str(data.resolve())


def cmd_schema(args: argparse.Namespace) -> int:
    """``privgate schema draft DATA [--target COL] [--out FILE]``."""
    from privgate.outputs import write_atomic
    from privgate.tables import read_table

    data = Path(args.data)
    out = Path(args.out) if args.out else None
    if args.max_categories < 2:
        raise InputError(N_("--max-categories must be at least 2, got %(max_categories)s"),
                         max_categories=args.max_categories)
    if out is not None:
        if out.exists() and not args.overwrite:
            raise InputError(N_("%(out)s: the file exists; pass --overwrite to replace it"),
                             out=out)
        if out.exists() and out.resolve() == data.resolve():
            raise InputError(N_("%(out)s: --out names the data file; choose another path"),
                             out=out)
        if not out.parent.is_dir():
            raise InputError(N_("%(out)s: the folder %(parent)s does not exist"),
                             out=out, parent=out.parent)
    df = read_table(data)
    schema = draft(df, target=args.target, max_categories=args.max_categories)
    text = to_toml(schema, data_path=_data_path(data, out), source=str(data), n_rows=len(df),
                   person_ids=person_id_candidates(df))
    if out is None:
        sys.stdout.write(text)
        return EXIT_PASS
    write_atomic(out, text.encode("utf-8"))
    roles = {r: sum(1 for c in schema.columns if c.role is r) for r in Role}
    print(f"wrote {out}: {len(schema.columns)} columns ({roles[Role.DIRECT_IDENTIFIER]} "
          f"identifiers, person id {schema.person_id or 'none'}, "
          f"{roles[Role.QUASI_IDENTIFIER]} quasi-identifiers, "
          f"{roles[Role.SENSITIVE]} sensitive, target {args.target or 'none'}); every domain "
          "was read off the data: confirm each is public before relying on it")
    return EXIT_PASS
