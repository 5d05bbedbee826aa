"""Messages for a bad config: pydantic's validation errors said in the config's own terms.

Every message names the key by its dotted path (``generators[0].epsilon``), says the rule from
:data:`privgate.limits.RULES` or the type TOML would call it, and shows what was given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from privgate.errors import InputError
from privgate.limits import RULES

#: Config keys (list indices as [*]) -> the rule that applies to them.
KEY_RULES: dict[str, str] = {
    "seed": "seed", "generators[*].epsilon": "epsilon", "generators[*].delta": "delta",
    "generators[*].rows": "rows", "data.max_rows": "rows", "ledger.total_epsilon":
    "total_epsilon", "execution.plugin_timeout_s": "timeout", "execution.n_jobs": "jobs",
    "data.control_fraction": "control_fraction", "confidence_level": "confidence_level",
    "report.min_cell_size": "min_cell_size", "schema.max_categories": "max_categories",
    "data.path": "path", "data.train": "path", "data.control": "path", "data.synthetic":
    "path", "ledger.path": "path", "output": "path", "data.rdataset": "rdataset",
    "report.lang": "lang", "execution.backend": "backend", "generators[*].name": "name",
    "schema.target": "name",
}


def toml_type(value: Any) -> str:
    """How TOML calls the type of ``value`` ("a string", "a table", ...)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "an array"
    return "a date/time" if hasattr(value, "isoformat") else f"a {type(value).__name__}"


#: Top-level keys that must be tables, and arrays, with what each should look like.
_TABLES = {
    "data": '[data] with path = "table.csv"',
    "schema": "[schema] with the roles, or [schema.columns.NAME] tables",
    "ledger": "[ledger] with enabled, path, url, total_epsilon",
    "report": "[report] with lang, min_cell_size",
    "execution": "[execution] with backend, n_jobs, plugin_timeout_s",
}
_ARRAYS = {
    "generators": '[[generators]] tables with name = "..."',
    "policies": 'a list of policy names, e.g. ["expert-determination-0.09"]',
    "attacks": 'a list of attack names, e.g. ["dcr-membership"]',
    "metrics": 'a list of metric names, e.g. ["hellinger"]',
}


def check_shape(raw: Mapping[str, Any], where: str) -> None:
    """Refuse a config whose sections are not tables (or lists) before anything merges them."""
    for key, hint in _TABLES.items():
        if key in raw and not isinstance(raw[key], Mapping):
            raise InputError(f"{where}: '{key}' must be a table ({hint}), got "
                             f"{toml_type(raw[key])}")
    for key, hint in _ARRAYS.items():
        if key in raw and not isinstance(raw[key], list):
            raise InputError(f"{where}: '{key}' must be an array ({hint}), got "
                             f"{toml_type(raw[key])}")
    for i, g in enumerate(raw.get("generators") or []):
        if not isinstance(g, Mapping):
            raise InputError(f"{where}: 'generators[{i}]' must be a table "
                             f"({_ARRAYS['generators']}), got {toml_type(g)}")
    schema = raw.get("schema") or {}
    if "columns" in schema and not isinstance(schema["columns"], Mapping):
        raise InputError(f"{where}: 'schema.columns' must be a table ([schema.columns.NAME] "
                         f"with kind = ...), got {toml_type(schema['columns'])}")


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("str", "PluginRef") or str(part).startswith("function-"):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def shown(value: Any) -> str:
    """A given value as messages show it: its TOML type for a table or an array, else its
    repr (at most 80 characters)."""
    if isinstance(value, Mapping | list | tuple):
        return toml_type(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _message(err: Mapping[str, Any], key: str) -> str:
    rule = KEY_RULES.get(re.sub(r"\[\d+\]", "[*]", key))
    kind = err["type"]
    got = err.get("input")
    if kind == "missing":
        return f"'{key}' is required"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"'{key}' must be a table, got {toml_type(got)}"
    if kind == "list_type":
        return f"'{key}' must be an array (a list in [...]), got {toml_type(got)}"
    if rule is not None:
        return f"'{key}' {RULES[rule]}, got {shown(got)}"
    if kind == "value_error":
        return f"'{key}': {err['ctx']['error']}"
    listed = re.fullmatch(r"(policies|attacks|metrics)\[\d+\]", key)
    if listed and kind in ("string_type", "string_too_short"):
        what = {"policies": "a policy name", "attacks": "an attack name (or a table with "
                "name and params)", "metrics": "a metric name (or a table with name and "
                "params)"}[listed.group(1)]
        return f"'{key}' must be {what}, got {shown(got)}"
    if kind in _TYPE_RULES:
        return f"'{key}' must be {_TYPE_RULES[kind]}, got {shown(got)}"
    msg = str(err["msg"])
    msg = msg[:1].lower() + msg[1:]
    return f"'{key}': {msg}, got {shown(got)}"


_TYPE_RULES = {"string_type": "a string", "int_type": "an integer", "float_type": "a number",
               "bool_type": "true or false", "finite_number": "a finite number",
               "string_too_short": "a non-empty string"}


def format_validation_error(exc: ValidationError, where: str) -> str:
    lines = []
    seen = set()
    errors = exc.errors()
    keys = [_loc(tuple(e["loc"])) for e in errors]
    for err, key in zip(errors, keys, strict=True):
        if err["type"] == "string_type" and any(k.startswith(key + ".") for k in keys):
            continue  # a table given where a name also would do: report the table's problem
        if err["type"] == "extra_forbidden":
            msg = f"{where}: unknown key '{key}' (check the spelling; see the config reference)"
        else:
            msg = f"{where}: {_message(err, key)}"
        if key in seen and err["type"] != "extra_forbidden":
            continue  # union members repeat the same key
        seen.add(key)
        lines.append(msg)
    return "\n".join(lines)
