"""The real table: read a file, conform it to the schema, split it, fingerprint it.

Every problem is an :class:`InputError` that names the file and column and says what to do;
nothing is silently dropped or coerced without the user having declared it. Recognising file
formats and checking a CSV's structure is :mod:`privgate.input_files`; hashing rows for the
fingerprint is :mod:`privgate.row_hashes`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from privgate.encoding import category_key, key_codes
from privgate.errors import N_, InputError, Text
from privgate.input_files import (
    check_input_file,
    check_names,
    csv_structure,
    file_word,
    read_error,
    sniff,
)
from privgate.persons import split_people
from privgate.randomness import rng
from privgate.row_hashes import row_hashes
from privgate.schema import NUMERIC_KINDS, Column, Kind, Schema, epoch_seconds


def first_row(mask: pd.Series | NDArray[np.bool_]) -> int:
    """The 1-based data-row number of the first ``True`` in ``mask``."""
    return int(np.flatnonzero(np.asarray(mask))[0]) + 1


def check_finite(df: pd.DataFrame, where: str) -> None:
    """Refuse infinite numbers (``inf``, ``-inf``, ``Infinity``, ``1e999``) in any column."""
    for name in df.columns:
        s = df[name]
        if pd.api.types.is_float_dtype(s):
            inf = np.isinf(s.to_numpy(dtype=float, na_value=np.nan))
            if inf.any():
                raise InputError(N_("%(where)s: column %(name)r holds %(count)s infinite "
                                    "value(s) (first at row %(row)s); privgate needs finite "
                                    "numbers: fix the data (or leave those cells empty and "
                                    "declare the column nullable)"),
                                 where=where, name=name, count=int(inf.sum()), row=first_row(inf))


def _check_plausible(df: pd.DataFrame, path: Path, what: str) -> None:
    """Refuse a file that was read but is no table (a text file, a one-column list)."""
    if df.shape[1] != 1 or len(df) < 2:
        return
    s = df.iloc[:, 0]
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return
    name = str(df.columns[0])
    seps = [sep for sep in (";", "\t", "|", ":") if sep in name]
    if seps:
        raise InputError(N_("%(path)s: the %(what)s file has a single column whose name holds "
                            "%(seps)r: it looks separated by %(seps)r, but privgate reads "
                            "comma-separated files; convert it to CSV"),
                         path=path, what=what, seps=seps[0])
    values = s.dropna().astype(str)
    if len(values) >= 2 and values.nunique() == len(values):
        raise InputError(N_("%(path)s: the %(what)s file has a single column of %(n_values)s "
                            "distinct text values; that is no table privgate can audit (it "
                            "would be dropped as an identifier, leaving nothing to model). Is "
                            "it really a comma-separated table with a header row?"),
                         path=path, what=what, n_values=len(values))


def _check_cells(df: pd.DataFrame, path: Path, what: str) -> None:
    """Refuse nested values (lists, maps, bytes) that a Parquet file can hold."""
    for name in df.columns:
        s = df[name]
        if s.dtype != object:
            continue
        nested = s.map(lambda v: isinstance(v, list | tuple | dict | set | np.ndarray | bytes))
        if nested.any():
            raise InputError(N_("%(path)s: column %(name)r of the %(what)s file holds nested "
                                "values (lists, maps or bytes; first at row %(row)s); flatten "
                                "it into plain columns"),
                             path=path, name=name, what=what, row=first_row(nested))


def read_table(path: Path | str, *, what: str = "data") -> pd.DataFrame:
    """Read a CSV (optionally gzip/bz2/xz/zip-compressed) or Parquet file.

    Only regular files are opened (a named pipe or a device is refused first); the format is
    read off the content and must agree with the name; every row must have one field per
    column; names must be non-empty and unique; numbers must be finite; and a file that is
    evidently no table (one column of distinct text) is refused. Every problem is an
    :class:`InputError` that names the file.
    """
    what = file_word(what)
    path = check_input_file(Path(path), what)
    kind = sniff(path, what)
    try:
        if kind == "parquet":
            df = pd.read_parquet(path)
            names = [str(c) for c in df.columns]
        else:
            names = csv_structure(path, what, kind)
            compression: Any = None if kind == "plain" else kind
            df = pd.read_csv(path, low_memory=False, encoding="utf-8", compression=compression)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 -- any reader failure is the file's problem
        raise read_error(path, what, kind, exc) from None
    if df.shape[1] == 0:
        raise InputError(N_("%(path)s: the %(what)s file has no columns"), path=path, what=what)
    if len(names) != df.shape[1]:
        raise InputError(N_("%(path)s: the %(what)s file's header has %(n_names)s names for "
                            "%(shape)s columns; fix the header row"),
                         path=path, what=what, n_names=len(names), shape=df.shape[1])
    check_names(path, what, names)
    df.columns = names
    if len(df) == 0:
        raise InputError(N_("%(path)s: the %(what)s file has a header but no rows"),
                         path=path, what=what)
    _check_cells(df, path, what)
    check_finite(df, str(path))
    _check_plausible(df, path, what)
    return df


#: A declared bound is exact; this much round-off is forgiven.
BOUND_SLACK = 1e-9
#: A bound read off the data is the real values' range. A synthetic column is refused when more
#: than this share of its values lies further outside that range than the range's own width.
FAR_OUTSIDE_SHARE = 0.5


def domain_violation(nums: NDArray[np.float64], column: Column) -> str | None:
    """Why a synthetic numeric column is outside its column's domain, or ``None``.

    A *declared* bound is strict. A bound read off the data (an inferred schema) is only what
    the real rows happened to hold: DP generators re-estimate it on a coarse public grid and
    vendors' generators extrapolate a little, so values somewhat outside it are honest. A column
    is refused only when more than half of its values lie further outside the range than the
    range's own width -- a reversible disguise such as a verbatim copy with a column times 1000
    or moved to 1e6, which hides every record from distance-based attacks.
    """
    if column.bounds is None:
        return None
    values = nums[~np.isnan(nums)]
    if not len(values):
        return None
    low, high = column.bounds
    if column.data_dependent:
        span = (high - low) or max(abs(low), abs(high), 1.0)
        far = (values < low - span) | (values > high + span)
        if far.mean() > FAR_OUTSIDE_SHARE:
            return Text(N_("%(share)s of its values lie far outside the real values' range "
                           "(more than the range's own width beyond it)"),
                        share=f"{far.mean():.0%}")
        return None
    slack = BOUND_SLACK * max(1.0, abs(low), abs(high))
    bad = (values < low - slack) | (values > high + slack)
    if bad.any():
        return Text(N_("%(count)s value(s) lie outside its declared bounds [%(low)s, %(high)s]"),
                    count=int(bad.sum()), low=f"{low:g}", high=f"{high:g}")
    return None


def _check_in_bounds(values: pd.Series, column: Column, at: str) -> None:
    """Refuse a synthetic column outside its domain (see :func:`domain_violation`)."""
    if column.kind is Kind.DATETIME:
        nums = epoch_seconds(values).to_numpy(dtype=float, na_value=np.nan)
    else:
        nums = pd.to_numeric(values).to_numpy(dtype=float, na_value=np.nan)
    why = domain_violation(nums, column)
    if why is not None:
        raise InputError(N_("%(at)s: %(why)s; a synthetic table must stay within the real "
                            "data's domain (values moved far out of it hide records from the "
                            "attacks): fix the synthetic table, or declare "
                            "schema.columns.%(name)s.bounds"), at=at, why=why, name=column.name)


def conform(df: pd.DataFrame, schema: Schema, *, where: str,
            synthetic: bool = False) -> pd.DataFrame:
    """Check ``df`` against ``schema`` and return a copy with values in the declared forms.

    Raises :class:`InputError` for: schema columns missing from the table, table columns the
    schema does not declare, columns with no values, non-numeric or infinite values in numeric
    columns, categories outside a declared list, and missing values in columns not declared
    nullable.

    With ``synthetic=True`` (a synthetic table made outside privgate) the same checks apply,
    except that an integer column may hold fractional values (kept as floats): vendors'
    generators legitimately produce them.
    """
    missing = [n for n in schema.names if n not in df.columns]
    if missing:
        raise InputError(N_("%(where)s: schema column(s) %(missing)s are not in the table; the "
                            "table has %(columns)s"),
                         where=where, missing=missing, columns=list(df.columns))
    extra = [c for c in df.columns if c not in schema]
    if extra:
        raise InputError(N_("%(where)s: column(s) %(extra)s are in the table but not in the "
                            'schema; declare them (role = "direct-identifier" drops a column)'),
                         where=where, extra=extra)
    out = {}
    for col in schema.columns:
        s = df[col.name]
        at = Text(N_("%(where)s: column %(name)r"), where=where, name=col.name)
        if col.is_dropped:
            out[col.name] = s
            continue
        if s.isna().all():
            raise InputError(N_("%(at)s holds no values (every cell is missing); drop it from "
                                "the table or declare it as a direct identifier"), at=at)
        if col.kind in NUMERIC_KINDS:
            s = _conform_numeric(s, col, at, where, synthetic)
        elif col.kind is Kind.CATEGORICAL:
            s = _conform_categorical(s, col, at, synthetic)
        if s.isna().any() and not col.nullable and synthetic:
            raise InputError(N_("%(at)s has %(count)s missing value(s) (first at row %(row)s; "
                                "'NaN', 'NA', 'null' and empty cells are missing) but the real "
                                "data has none there (the column is not nullable); fix the "
                                "synthetic table"),
                             at=at, count=int(s.isna().sum()), row=first_row(s.isna()))
        if s.isna().any() and not col.nullable:
            raise InputError(N_("%(at)s has %(count)s missing value(s) but is not declared "
                                "nullable; set schema.columns.%(name)s.nullable = true"),
                             at=at, count=int(s.isna().sum()), name=col.name)
        out[col.name] = s
    return pd.DataFrame(out, index=df.index)



def _conform_numeric(s: pd.Series, col: Column, at: str, where: str,
                     synthetic: bool) -> pd.Series:
    """A numeric, integer or datetime column as numbers (or datetimes), checked."""
    conv = pd.to_datetime(s, errors="coerce") if col.kind is Kind.DATETIME else pd.to_numeric(
        s, errors="coerce")
    bad = conv.isna() & s.notna()
    if bad.any():
        raise InputError(N_("%(at)s is declared %(kind)s but %(count)s value(s) are not (first "
                            "at row %(row)s); fix the data or declare the column categorical"),
                         at=at, kind=col.kind, count=int(bad.sum()), row=first_row(bad))
    if col.kind is not Kind.DATETIME:
        check_finite(pd.DataFrame({col.name: conv}), where)
    if col.kind is Kind.INTEGER and not synthetic:
        vals = conv.dropna().to_numpy(dtype=float)
        if not np.all(np.equal(np.mod(vals, 1), 0)):
            raise InputError(N_("%(at)s is declared integer but holds fractions; declare it "
                                "continuous"), at=at)
    if synthetic and col.bounds is not None:
        _check_in_bounds(conv, col, at)
    return conv


def _conform_categorical(s: pd.Series, col: Column, at: str, synthetic: bool) -> pd.Series:
    """A categorical column with every value in its declared form (:func:`category_key`)."""
    assert col.categories is not None
    lookup = {category_key(c): c for c in col.categories}
    codes, keys = key_codes(s)  # each distinct value's key once, not each cell's
    known = np.array([k in lookup for k in keys] + [True])  # the last slot: missing cells
    unknown = pd.Series(~known[codes], index=s.index)
    if unknown.any():
        fix = (Text(N_("a generator may only produce the real data's categories; fix the "
                       "synthetic table")) if synthetic else
               Text(N_("add them to schema.columns.%(name)s.categories or fix the data"),
                    name=col.name))
        raise InputError(N_("%(at)s holds %(count)s value(s) (%(nunique)s distinct) outside its "
                            "declared categories (first at row %(row)s); %(fix)s"),
                         at=at, count=int(unknown.sum()),
                         nunique=len(np.unique(codes[unknown.to_numpy()])),
                         row=first_row(unknown), fix=fix)
    declared = np.array([lookup.get(k, np.nan) for k in keys] + [np.nan], dtype=object)
    return pd.Series(declared[codes], index=s.index, name=s.name, dtype=object)


def split(df: pd.DataFrame, control_fraction: float, seed: int,
          people: pd.Series | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Shuffle with ``seed`` and cut into a training part and a held-out control part; with
    ``people`` (each row's person id, :mod:`privgate.persons`) whole people go to each side."""
    if len(df) < 20:
        raise InputError(N_("the table has %(n_df)s rows; an audit needs at least 20 so that "
                            "both the training and the control part are non-trivial"),
                         n_df=len(df))
    train_pos, control_pos = split_positions(len(df), control_fraction, seed, people)
    control = df.iloc[control_pos].reset_index(drop=True)
    train = df.iloc[train_pos].reset_index(drop=True)
    return train, control


def split_positions(n: int, control_fraction: float, seed: int,
                    people: pd.Series | None = None
                    ) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """The row positions :func:`split` puts in the training and in the control part (by
    person when ``people`` is given: :func:`privgate.persons.split_people`)."""
    if people is not None:
        return split_people(people.reset_index(drop=True), control_fraction, seed)
    order = rng(seed, "split").permutation(n)
    n_control = max(1, int(round(n * control_fraction)))
    return order[n_control:], order[:n_control]


#: Versioned into every fingerprint, so that a change of the canonical form changes them all.
_FINGERPRINT_VERSION = b"privgate-table-fingerprint-v2"


def fingerprint(df: pd.DataFrame) -> str:
    """SHA-256 of the table's content: the multiset of its rows under its column names,
    whatever the order of rows and columns (and whatever the index).

    Each row is hashed to 128 bits from its canonicalised cells (:mod:`privgate.row_hashes`:
    ``3``, ``3.0`` and ``True`` agree, every missing value is one null, a value moved to
    another column changes the row). The row hashes are sorted, duplicates kept, and hashed
    with SHA-256 after a header with the version, the row count and the sorted column names.
    """
    names = [str(c) for c in df.columns]
    rows = row_hashes(df)
    order = np.lexsort(rows[::-1])
    body = np.stack([acc[order] for acc in rows], axis=1).astype("<u8")
    head = [_FINGERPRINT_VERSION, str(len(df)).encode()]
    head += [f"{len(name)}:{name}".encode() for name in sorted(names)]
    digest = hashlib.sha256(b"\n".join(head) + b"\n")
    digest.update(body.tobytes())
    return digest.hexdigest()
