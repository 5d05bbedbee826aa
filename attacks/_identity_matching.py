"""Record matching and rates behind ``identity-disclosure``: quasi-identifier keys (after
generalisation), the sensitive-value agreement rule, the pairing of real records with the
synthetic records that share their keys, and the chance-corrected rate with its interval (the
estimator and its bounds are explained in :mod:`privgate.attacks.identity_disclosure`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from privgate.encoding import category_key, is_missing, to_numeric
from privgate.errors import N_, InputError
from privgate.schema import NUMERIC_KINDS, Column, Schema

NAME = "identity-disclosure"
MISSING = "\x00<missing>"
#: Training rows processed at once when pairing records with matching synthetic records.
CHUNK = 20_000


def generalise_spec(schema: Schema, qis: list[str], spec: Any) -> dict[str, tuple[str, float]]:
    """Check ``generalise``: ``{column: bin width}`` for numbers, ``{column: {"prefix": k}}``."""
    if spec is None:
        return {}
    if not isinstance(spec, Mapping):
        raise InputError(N_("attack %(name)r: parameter 'generalise' must be a table {column = "
                            "rule}, got %(spec)r"), name=NAME, spec=spec)
    out: dict[str, tuple[str, float]] = {}
    for col, rule in spec.items():
        if col not in qis:
            raise InputError(N_("attack %(name)r: 'generalise' names %(col)r, which is not a "
                                "quasi-identifier (quasi-identifiers: %(qis)s)"),
                             name=NAME, col=col, qis=qis)
        column = schema[col]
        if isinstance(rule, Mapping) and set(rule) == {"prefix"}:
            k = rule["prefix"]
            if isinstance(k, bool) or not isinstance(k, int) or k < 1:
                raise InputError(N_("attack %(name)r: generalise.%(col)s.prefix must be an "
                                    "integer >= 1, got %(k)r"), name=NAME, col=col, k=k)
            out[col] = ("prefix", float(k))
        elif (isinstance(rule, int | float) and not isinstance(rule, bool)
              and math.isfinite(rule) and rule > 0):
            if column.kind not in NUMERIC_KINDS:
                raise InputError(N_("attack %(name)r: generalise.%(col)s is a bin width, but "
                                    "%(col)r is %(value)s; use { prefix = k }"),
                                 name=NAME, col=col, value=column.kind.value)
            out[col] = ("width", float(rule))
        else:
            raise InputError(N_("attack %(name)r: generalise.%(col)s must be a positive bin "
                                "width (numbers) or { prefix = k } (text), got %(rule)r"),
                             name=NAME, col=col, rule=rule)
    return out


def qi_keys(df: pd.DataFrame, schema: Schema, qis: list[str],
             rules: Mapping[str, tuple[str, float]]) -> np.ndarray:
    """One 64-bit hash per row of its generalised quasi-identifier values."""
    parts: dict[str, pd.Series] = {}
    for col in qis:
        column = schema[col]
        rule = rules.get(col)
        if column.kind in NUMERIC_KINDS:
            values = to_numeric(df[col], column)
            if rule is not None:
                values = np.floor(values / rule[1]) * rule[1]
            parts[col] = values.astype(float).fillna(-np.inf).reset_index(drop=True)
        else:
            text = pd.Series(category_keys(df[col]), dtype=object)
            if rule is not None:
                text = text.str.slice(0, int(rule[1])).where(text != MISSING, MISSING)
            parts[col] = text.astype(object).reset_index(drop=True)
    frame = pd.DataFrame(parts)
    return pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)


def category_keys(series: pd.Series) -> np.ndarray:
    """Categories as comparable text (``1`` == ``1.0`` == ``"1"``; missing as one marker)."""
    return np.array([MISSING if is_missing(v) else str(category_key(v))
                     for v in series.tolist()], dtype=object)


class SensitiveRule:
    """The sensitive columns as arrays, and the agreement rule between two sets of rows."""

    def __init__(self, columns: list[Column], frames: list[pd.DataFrame],
                 tolerance: Mapping[str, float]) -> None:
        self.columns = columns
        self.tol: dict[str, float] = {}
        for col in columns:
            if col.kind in NUMERIC_KINDS:
                if col.bounds is not None:
                    span = col.bounds[1] - col.bounds[0]
                else:  # no declared range: the observed one (attacks may read the data)
                    vals = pd.concat([to_numeric(f[col.name], col) for f in frames])
                    span = float(vals.max() - vals.min()) if vals.notna().any() else 0.0
                self.tol[col.name] = float(tolerance[col.name]) * span

    def arrays(self, df: pd.DataFrame) -> list[np.ndarray]:
        out = []
        for col in self.columns:
            if col.kind in NUMERIC_KINDS:
                out.append(to_numeric(df[col.name], col).to_numpy(dtype=float))
            else:
                out.append(category_keys(df[col.name]))
        return out

    def agreements(self, a: list[np.ndarray], ia: np.ndarray, b: list[np.ndarray],
                   ib: np.ndarray) -> np.ndarray:
        """How many sensitive columns agree between rows ``a[ia]`` and ``b[ib]`` (pairwise)."""
        count = np.zeros(len(ia), dtype=np.int64)
        for col, xa, xb in zip(self.columns, a, b, strict=True):
            va, vb = xa[ia], xb[ib]
            if col.kind in NUMERIC_KINDS:
                both_missing = np.isnan(va) & np.isnan(vb)
                with np.errstate(invalid="ignore"):
                    close = np.abs(va - vb) <= self.tol[col.name] + 1e-9
                count += (close | both_missing).astype(np.int64)
            else:
                count += (va == vb).astype(np.int64)
        return count


def learns(keys: np.ndarray, sens: list[np.ndarray], syn_keys: np.ndarray,
            syn_sens: list[np.ndarray], rule: SensitiveRule, needed: int) -> tuple[np.ndarray,
                                                                                  np.ndarray]:
    """Per real row: ``I`` (a synthetic row shares its QIs) and ``R`` (one of them teaches).

    Synthetic rows are grouped by QI key (sorted once); each real row is paired with every
    synthetic row of its key, in chunks so that large classes do not exhaust memory.
    """
    order = np.argsort(syn_keys, kind="mergesort")
    sorted_keys = syn_keys[order]
    start = np.searchsorted(sorted_keys, keys, side="left")
    stop = np.searchsorted(sorted_keys, keys, side="right")
    counts = stop - start
    matched = counts > 0
    learns = np.zeros(len(keys), dtype=bool)
    rows = np.nonzero(matched)[0]
    for lo in range(0, len(rows), CHUNK):
        block = rows[lo:lo + CHUNK]
        sizes = counts[block]
        real_idx = np.repeat(block, sizes)
        # positions of every matching synthetic row: start + 0..count-1 for each real row
        offsets = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        syn_idx = order[np.repeat(start[block], sizes) + offsets]
        ok = rule.agreements(sens, real_idx, syn_sens, syn_idx) >= needed
        learns[np.unique(real_idx[ok])] = True
    return matched, learns


def rates(k_train: np.ndarray, k_control: np.ndarray, h_train: np.ndarray,
           h_control: np.ndarray, population_size: int | None) -> dict[str, Any]:
    """Per-record re-identification probabilities and the rates built from them.

    ``h_*`` says per record whether a synthetic record matched it and taught something true;
    class sizes are ``f`` in the training sample and ``F`` in the population (train + control,
    scaled up to ``population_size``); control records count as if added to the training data.
    """
    train_counts = pd.Series(k_train).value_counts()
    f_s = train_counts.reindex(k_train).to_numpy(dtype=float)
    real_counts = pd.Series(np.concatenate([k_train, k_control])).value_counts()
    n_real = len(k_train) + len(k_control)
    scale = 1.0 if population_size is None else max(1.0, float(population_size) / n_real)
    big_f = np.maximum(real_counts.reindex(k_train).to_numpy(dtype=float) * scale, f_s)
    per_record = h_train.astype(float) / f_s
    f_c = train_counts.reindex(k_control).fillna(0).to_numpy(dtype=float) + 1.0
    control_record = h_control.astype(float) / f_c
    return {
        "per_record": per_record, "control_record": control_record,
        "h_train": h_train, "h_control": h_control,
        "sample_rate": float(per_record.sum() / len(k_train)),
        "population_rate": float((h_train / big_f).sum() / len(k_train)),
        "control_rate": float(control_record.mean()),
        "matched_and_taught_share": float(h_train.mean()),
        "control_matched_and_taught_share": float(h_control.mean()),
        "unique_in_train_rate": float(np.mean(f_s == 1)),
    }
