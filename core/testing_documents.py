"""The documents the contract kit's reporter and section checks render: the result document of
a tiny real audit (:func:`contract_result`), the same with hostile strings planted in every
plugin-provided text (:func:`hostile_result`) or with category values read from the data, and
the guard that runs a plugin on a read-only view of one (part of :mod:`privgate.testing`).
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from privgate.testing_runtime import ContractViolation, where
from privgate.testing_runtime import violation as _fail
from privgate.views import ReadOnlyError, mutable_copy, readonly

__all__ = ["CONTROL_CHARACTERS", "DATA_VALUES", "HOSTILE", "RAW_MARKUP", "TEXT_KEYS",
           "contract_result", "data_read", "guarded", "hostile_result"]

#: Pieces of markup that an HTML report must never show raw.
RAW_MARKUP = ("<script>alert(1)</script>", "<img src=x onerror=alert(2)>",
              "' onmouseover='alert(3)")
#: Control characters an HTML report must drop or replace (no character reference to them is
#: valid HTML either).
CONTROL_CHARACTERS = ("\x00", "\x07", "\x1b", "\x7f", "\x9b")
#: Appended to every plugin-provided text of the document (and put in a report section): raw
#: markup, a quote breaking out of an attribute, control characters and a lone surrogate.
HOSTILE = '">' + "".join(RAW_MARKUP) + " " + "".join(CONTROL_CHARACTERS) + "[31m \ud800"
#: Keys whose text comes from plugins (and the config): HOSTILE goes into every string below.
TEXT_KEYS = frozenset({
    "title", "description", "explanation", "message", "interval_method", "baseline_description",
    "error", "note", "reason", "rule", "method", "caption", "accountant", "references",
    "details", "figures", "labels", "label", "headers", "row_labels", "column_labels",
    "axis_label", "x_label", "y_label", "assumptions"})
#: Category values the document says were read from the real data: no section may show them.
DATA_VALUES = ("pgk-real-value-31f7", "pgk-real-value-c04e")

_lock = threading.Lock()
_audit: list[str] = []


def _run_reference_audit() -> str:
    from privgate.config import parse_config
    from privgate.pipeline import run_audit
    from privgate.registry import build_registry
    from privgate.results import dumps

    rng = np.random.default_rng(7)
    n = 200
    age = rng.integers(18, 90, n)
    frame = pd.DataFrame({"age": age, "sex": rng.choice(["f", "m"], n),
                          "region": rng.choice(["r0", "r1", "r2"], n),
                          "disease": np.where((age > 60) ^ (rng.random(n) < 0.15), "yes", "no")})
    columns = {
        "age": {"kind": "integer", "role": "quasi-identifier", "bounds": [18, 90]},
        "sex": {"kind": "categorical", "role": "quasi-identifier", "categories": ["f", "m"]},
        "region": {"kind": "categorical", "role": "quasi-identifier",
                   "categories": ["r0", "r1", "r2"]},
        "disease": {"kind": "categorical", "role": "sensitive", "categories": ["no", "yes"]}}
    with tempfile.TemporaryDirectory(prefix="privgate-contract-") as tmp:
        frame.to_csv(Path(tmp) / "people.csv", index=False)
        raw = {"title": "privgate contract kit", "seed": 7, "ledger": {"enabled": False},
               "data": {"path": "people.csv", "name": "contract-kit"},
               "schema": {"columns": columns}, "generators": [{"name": "gmm"}],
               "attacks": [{"name": "dcr-membership", "params": {"n_resamples": 50}}],
               "metrics": ["hellinger"], "execution": {"backend": "inline"}}
        try:
            result = run_audit(parse_config(raw, where="contract kit", base_dir=tmp),
                               build_registry())
        except Exception as exc:
            raise RuntimeError("privgate's contract kit could not run its reference audit: "
                               f"{type(exc).__name__}: {exc}") from exc
    return dumps(result)


def contract_result() -> dict[str, Any]:
    """A fresh copy of the kit's reference result document (what ``results.json`` holds)."""
    with _lock:
        if not _audit:
            _audit.append(_run_reference_audit())
    doc: dict[str, Any] = json.loads(_audit[0])
    return doc


def hostile_result(result: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``result`` with :data:`HOSTILE` appended to every plugin-provided text
    (descriptions, messages, interval methods, references, every string in details, ...)."""
    def plant(value: Any, hostile: bool) -> Any:
        if isinstance(value, Mapping):
            return {k: plant(v, hostile or k in TEXT_KEYS) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plant(v, hostile) for v in value]
        return f"{value} {HOSTILE}" if hostile and isinstance(value, str) else value

    doc: dict[str, Any] = plant(mutable_copy(result), False)
    return doc


def data_read(result: Mapping[str, Any], source: str) -> dict[str, Any]:
    """A copy whose first categorical column's categories are :data:`DATA_VALUES`, read from
    the data (``source`` ``"declared"``: that column is data-dependent; ``"inferred"``: the
    whole schema was inferred from the data)."""
    doc: dict[str, Any] = mutable_copy(result)
    schema = doc.get("schema")
    if not isinstance(schema, dict):
        return doc
    schema["source"] = source
    column = next((c for c in schema.get("columns") or []
                   if isinstance(c, dict) and c.get("categories")), None)
    if column is not None:
        column["categories"] = list(DATA_VALUES)
        column["data_dependent"] = True
        domains = [str(c) for c in doc.get("data_dependent_domains") or []]
        doc["data_dependent_domains"] = sorted({*domains, str(column.get("name"))})
    return doc


def _canonical(value: Any) -> str:
    return json.dumps(mutable_copy(value), sort_keys=True, default=repr, allow_nan=True)


def _readonly_refused(exc: BaseException) -> bool:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        if isinstance(current, ReadOnlyError):
            return True
        seen.append(current)
        current = current.__cause__ or current.__context__
    return False


def guarded(owner: str, what: str, fn: Callable[[Any], Any], doc: Mapping[str, Any]) -> Any:
    """``fn(view)`` on a read-only view of ``doc``: a violation when it raises or when it
    changes the document (through the guard, or behind it)."""
    __tracebackhide__ = True
    view = readonly(doc)
    try:
        out = fn(view)
    except ContractViolation:
        raise
    except Exception as exc:
        if _readonly_refused(exc):
            raise _fail(owner, f"{what} mutates the result document it was given{where(exc)}; "
                               "plugins get a read-only view (copy it with "
                               "privgate.views.mutable_copy to change a copy)") from exc
        raise _fail(owner, f"{what} raised {type(exc).__name__}: {exc}{where(exc)}") from exc
    if _canonical(view) != _canonical(doc):
        raise _fail(owner, f"{what} mutates the result document it was given (it changed the "
                           "read-only view behind its guard); plugins must not change it")
    return out
