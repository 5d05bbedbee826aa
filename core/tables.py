"""Reading, checking, splitting and fingerprinting the real table.

Every problem is an :class:`InputError` that names the file and column and says what to do;
nothing is silently dropped or coerced without the user having declared it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from privgate.encoding import category_key
from privgate.errors import InputError
from privgate.schema import NUMERIC_KINDS, Kind, Schema


def read_table(path: Path | str, *, what: str = "data") -> pd.DataFrame:
    """Read a CSV (optionally gzip-compressed) or Parquet file."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: {what} file not found")
    if path.is_dir():
        raise InputError(f"{path}: {what} path is a folder; give a CSV file")
    try:
        if path.suffix.lower() == ".parquet":
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path, low_memory=False)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: the {what} file is empty (no header, no rows)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise InputError(f"{path}: cannot read the {what} file as CSV: {exc}") from None
    if df.shape[1] == 0:
        raise InputError(f"{path}: the {what} file has no columns")
    if len(df) == 0:
        raise InputError(f"{path}: the {what} file has a header but no rows")
    dup = [c for c in df.columns if str(c).endswith(".1") and str(c)[:-2] in df.columns]
    if dup:
        raise InputError(f"{path}: column name(s) {[c[:-2] for c in dup]} appear twice")
    df.columns = [str(c) for c in df.columns]
    return df


def conform(df: pd.DataFrame, schema: Schema, *, where: str) -> pd.DataFrame:
    """Check ``df`` against ``schema`` and return a copy with values in the declared forms.

    Raises :class:`InputError` for: schema columns missing from the table, table columns the
    schema does not declare, columns with no values, non-numeric values in numeric columns,
    categories outside a declared list, and missing values in columns not declared nullable.
    """
    missing = [n for n in schema.names if n not in df.columns]
    if missing:
        raise InputError(f"{where}: schema column(s) {missing} are not in the table; the table "
                         f"has {list(df.columns)}")
    extra = [c for c in df.columns if c not in schema]
    if extra:
        raise InputError(f"{where}: column(s) {extra} are in the table but not in the schema; "
                         "declare them (role = \"direct-identifier\" drops a column)")
    out = {}
    for col in schema.columns:
        s = df[col.name]
        at = f"{where}: column {col.name!r}"
        if col.is_dropped:
            out[col.name] = s
            continue
        if s.isna().all():
            raise InputError(f"{at} holds no values (every cell is missing); drop it from the "
                             "table or declare it as a direct identifier")
        if col.kind in NUMERIC_KINDS:
            if col.kind is Kind.DATETIME:
                conv = pd.to_datetime(s, errors="coerce")
            else:
                conv = pd.to_numeric(s, errors="coerce")
            bad = conv.isna() & s.notna()
            if bad.any():
                first = int(np.flatnonzero(bad.to_numpy())[0])
                raise InputError(f"{at} is declared {col.kind} but {int(bad.sum())} value(s) "
                                 f"are not (first at row {first + 1}); fix the data or declare "
                                 "the column categorical")
            if col.kind is Kind.INTEGER:
                vals = conv.dropna().to_numpy(dtype=float)
                if not np.all(np.equal(np.mod(vals, 1), 0)):
                    raise InputError(f"{at} is declared integer but holds fractions; declare "
                                     "it continuous")
            s = conv
        elif col.kind is Kind.CATEGORICAL:
            assert col.categories is not None
            lookup = {category_key(c): c for c in col.categories}
            keys = s.map(lambda v: None if pd.isna(v) else category_key(v))
            unknown = keys.notna() & ~keys.isin(list(lookup))
            if unknown.any():
                n_kinds = keys[unknown].nunique()
                first = int(np.flatnonzero(unknown.to_numpy())[0])
                raise InputError(
                    f"{at} holds {int(unknown.sum())} value(s) ({n_kinds} distinct) outside its "
                    f"declared categories (first at row {first + 1}); add them to "
                    f"schema.columns.{col.name}.categories or fix the data")
            s = keys.map(lookup).astype(object)
        if s.isna().any() and not col.nullable:
            raise InputError(f"{at} has {int(s.isna().sum())} missing value(s) but is not "
                             f"declared nullable; set schema.columns.{col.name}.nullable = true")
        out[col.name] = s
    return pd.DataFrame(out, index=df.index)


def split(df: pd.DataFrame, control_fraction: float, seed: int
          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Shuffle with ``seed`` and cut into a training part and a held-out control part."""
    if len(df) < 20:
        raise InputError(f"the table has {len(df)} rows; an audit needs at least 20 so that "
                         "both the training and the control part are non-trivial")
    train_pos, control_pos = split_positions(len(df), control_fraction, seed)
    control = df.iloc[control_pos].reset_index(drop=True)
    train = df.iloc[train_pos].reset_index(drop=True)
    return train, control


def split_positions(n: int, control_fraction: float, seed: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The row positions :func:`split` puts in the training and in the control part."""
    order = np.random.default_rng(seed).permutation(n)
    n_control = max(1, int(round(n * control_fraction)))
    return order[n_control:], order[:n_control]


def fingerprint(df: pd.DataFrame) -> str:
    """SHA-256 of the table in a canonical form (CSV, columns in order, no index, '\\n' ends)."""
    blob = df.to_csv(index=False, lineterminator="\n").encode("utf-8")
    return hashlib.sha256(blob).hexdigest()
