"""Row hashes for the table fingerprint: every cell canonicalised, every row 128 bits.

Every cell is canonicalised to (kind, 64-bit payload): integral numbers as int64 whatever the
dtype (``3``, ``3.0`` and ``True`` agree), other numbers by their float64 bits, strings by a
keyed SipHash of their text, dates and durations as (UTC) nanoseconds, and every missing value
(NaN, None, NaT, ``pd.NA``) as one null. A row hashes to two 64-bit lanes, each the splitmix64
mix of the sum over its columns of the cell's payload mixed with a salt taken from the column
name: the column order does not matter, a value moved to another column does. Vectorised with
numpy and pandas' hashing, and deterministic across runs and processes (no Python ``hash``).
:func:`privgate.tables.fingerprint` turns the row hashes into the table's digest.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

#: 64-bit payloads and hashes.
U64 = NDArray[np.uint64]
#: Per cell: what kind of value it holds (null, int, float, string, ...).
Kinds = NDArray[np.uint8]

# What a cell is canonicalised to: (kind, 64-bit payload) identifies the value.
_NULL, _INT, _FLOAT, _STR, _DATETIME, _TIMEDELTA, _OTHER = range(7)
_N_KINDS = 7
#: Keys of pandas' SipHash for strings, one per 64-bit lane of a row's hash (any 16 bytes).
_LANE_KEYS = ("privgate-lane-a0", "privgate-lane-b1")
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S27, _S30, _S31 = np.uint64(27), np.uint64(30), np.uint64(31)


def _mix(x: U64) -> U64:
    """splitmix64's finaliser, vectorised and in place: a bijection of uint64 that spreads
    every input bit over the output."""
    x ^= x >> _S30
    x *= _M1
    x ^= x >> _S27
    x *= _M2
    x ^= x >> _S31
    return x


def _numeric_cells(values: NDArray[Any]) -> tuple[Kinds, U64]:
    """(kind, payload) of a numpy bool, integer or float array: integral values whatever the
    dtype as int64 (so ``3``, ``3.0`` and ``True`` agree), other floats by their float64 bits,
    NaN as null."""
    if values.dtype.kind in "bi" or (values.dtype.kind == "u"
                                     and (len(values) == 0
                                          or values.max() <= np.iinfo(np.int64).max)):
        return (np.full(len(values), _INT, np.uint8),
                values.astype(np.int64).view(np.uint64))
    x = values.astype(np.float64)
    nan = np.isnan(x)
    with np.errstate(invalid="ignore"):
        integral = np.isfinite(x) & (np.floor(x) == x) & (np.abs(x) < 2.0 ** 63)
    kind = np.where(integral, _INT, np.where(nan, _NULL, _FLOAT)).astype(np.uint8)
    payload = np.where(nan, 0.0, x).view(np.uint64).copy()
    payload[integral] = x[integral].astype(np.int64).view(np.uint64)
    return kind, payload


def _scalar_cell(value: object) -> tuple[int, list[int]]:
    """(kind, payload per lane) of one non-string, non-missing Python object: numbers as the
    equal int64 or float64 (every value that compares equal gets the same cell), anything
    else by its type and repr."""
    if isinstance(value, int | np.integer) and -2 ** 63 <= int(value) < 2 ** 63:
        return _INT, [int(value) & 0xFFFF_FFFF_FFFF_FFFF] * len(_LANE_KEYS)
    try:
        real: Any = getattr(value, "real", value) if getattr(value, "imag", 1) == 0 else value
        as_float = float(real)
        exact = as_float == value
    except (TypeError, ValueError, OverflowError):
        exact = False
    if exact:
        kind, payload = _numeric_cells(np.array([as_float]))
        return int(kind[0]), [int(payload[0])] * len(_LANE_KEYS)
    text = np.array([f"{type(value).__name__}:{value!r}"], dtype=object)
    return _OTHER, [int(pd.util.hash_array(text, hash_key=key, categorize=False)[0])
                    for key in _LANE_KEYS]


def _object_cells(values: NDArray[Any]) -> tuple[Kinds, list[U64]]:
    """(kind, payload per lane) of an object array: strings by a keyed SipHash of their text,
    other objects as :func:`_scalar_cell`, every missing value (None, NaN, NaT, ``pd.NA``) as
    the same null. Canonicalises each distinct value once.

    pandas' ``factorize`` reads an object string only up to its first NUL character (``""``
    and ``"\\x00"`` get one code), so strings holding NUL are left out of it and hashed one by
    one (``hash_array`` reads them whole): same kind and payload as any other string."""
    has_nul = np.fromiter((isinstance(v, str) and "\x00" in v for v in values), bool,
                          len(values))
    if has_nul.any():
        without = values.copy()
        without[has_nul] = None
        kinds, lanes = _object_cells(without)
        nul = values[has_nul]
        kinds[has_nul] = _STR
        for lane, key in zip(lanes, _LANE_KEYS, strict=True):
            lane[has_nul] = pd.util.hash_array(nul, hash_key=key, categorize=False)
        return kinds, lanes
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    uniques = np.asarray(uniques, dtype=object)
    n = len(uniques)
    kinds = np.full(n + 1, _NULL, np.uint8)  # slot n (code -1): missing
    lanes = [np.zeros(n + 1, np.uint64) for _ in _LANE_KEYS]
    is_str = np.fromiter((isinstance(v, str) for v in uniques), bool, n)
    if is_str.any():
        kinds[:n][is_str] = _STR
        for lane, key in zip(lanes, _LANE_KEYS, strict=True):
            lane[:n][is_str] = pd.util.hash_array(uniques[is_str], hash_key=key,
                                                  categorize=False)
    for i in np.flatnonzero(~is_str):
        kind, payloads = _scalar_cell(uniques[i])
        kinds[i] = kind
        for lane, payload in zip(lanes, payloads, strict=True):
            lane[i] = payload
    codes = np.where(codes < 0, n, codes)
    return kinds[codes], [lane[codes] for lane in lanes]


def _column_cells(s: pd.Series) -> tuple[Kinds, list[U64]]:
    """(kind, payload per lane) of every cell of one column, by its dtype."""
    dtype = s.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        dtype = s.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "mM":
        try:
            ns = s.to_numpy(dtype=f"{dtype.name.split('[')[0]}[ns]")
        except (OverflowError, ValueError):  # outside the nanosecond range: by its text
            return _object_cells(s.astype(str).where(s.notna(), None).to_numpy(object))
        missing = np.isnat(ns)
        kind = np.where(missing, _NULL, _DATETIME if dtype.kind == "M" else _TIMEDELTA)
        payload = np.where(missing, 0, ns.view(np.int64)).view(np.uint64)
        return kind.astype(np.uint8), [payload] * len(_LANE_KEYS)
    as_numpy = dtype if isinstance(dtype, np.dtype) else getattr(dtype, "numpy_dtype", None)
    if (isinstance(as_numpy, np.dtype) and as_numpy.kind in "biuf"
            and (as_numpy is dtype or not s.hasnans)):
        kind, payload = _numeric_cells(s.to_numpy(dtype=as_numpy))
        return kind, [payload] * len(_LANE_KEYS)
    if isinstance(as_numpy, np.dtype) and as_numpy.kind == "f":  # nullable floats with NA
        kind, payload = _numeric_cells(s.to_numpy(dtype=np.float64, na_value=np.nan))
        return kind, [payload] * len(_LANE_KEYS)
    return _object_cells(s.to_numpy(dtype=object))


def _salts(name: str) -> list[U64]:
    """Per lane, per kind: the constant a cell's payload is mixed with in column ``name``."""
    return [np.array([int.from_bytes(hashlib.sha256(f"{lane}\0{kind}\0{name}".encode())
                                     .digest()[:8], "little") for kind in range(_N_KINDS)],
                     dtype=np.uint64)
            for lane in range(len(_LANE_KEYS))]


def row_hashes(df: pd.DataFrame) -> list[U64]:
    """The hash of every row of ``df`` as two 64-bit lanes (see the module docstring)."""
    rows = [np.zeros(len(df), np.uint64) for _ in _LANE_KEYS]
    with np.errstate(over="ignore"):
        for pos, name in enumerate(str(c) for c in df.columns):
            kind, payloads = _column_cells(df.iloc[:, pos])
            for acc, payload, salt in zip(rows, payloads, _salts(name), strict=True):
                acc += _mix(payload ^ salt[kind])
        for acc in rows:
            _mix(acc)
    return rows
