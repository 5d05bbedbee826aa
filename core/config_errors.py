"""Messages for a bad config: pydantic's validation errors said in the config's own terms.

Every message names the key by its dotted path (``generators[0].epsilon``), says the rule from
:data:`privgate.limits.RULES` or the type TOML would call it, and shows what was given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from privgate.errors import N_, InputError, Text, joined
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


def toml_type(value: Any) -> Text:
    """How TOML calls the type of ``value`` ("a string", "a table", ...)."""
    if isinstance(value, bool):
        return Text(N_("a boolean"))
    if isinstance(value, int):
        return Text(N_("an integer"))
    if isinstance(value, float):
        return Text(N_("a float"))
    if isinstance(value, str):
        return Text(N_("a string"))
    if isinstance(value, Mapping):
        return Text(N_("a table"))
    if isinstance(value, list | tuple):
        return Text(N_("an array"))
    return (Text(N_("a date/time")) if hasattr(value, "isoformat")
            else Text(N_("a %(type)s"), type=type(value).__name__))


#: Top-level keys that must be tables, and arrays, with what each should look like.
_TABLES = {
    "data": Text(N_('[data] with path = "table.csv"')),
    "schema": Text(N_("[schema] with the roles, or [schema.columns.NAME] tables")),
    "ledger": Text(N_("[ledger] with enabled, path, url, total_epsilon")),
    "report": Text(N_("[report] with lang, min_cell_size")),
    "execution": Text(N_("[execution] with backend, n_jobs, plugin_timeout_s")),
}
_ARRAYS = {
    "generators": Text(N_('[[generators]] tables with name = "..."')),
    "policies": Text(N_('a list of policy names, e.g. ["expert-determination-0.09"]')),
    "attacks": Text(N_('a list of attack names, e.g. ["dcr-membership"]')),
    "metrics": Text(N_('a list of metric names, e.g. ["hellinger"]')),
}


def check_shape(raw: Mapping[str, Any], where: str) -> None:
    """Refuse a config whose sections are not tables (or lists) before anything merges them."""
    for key, hint in _TABLES.items():
        if key in raw and not isinstance(raw[key], Mapping):
            raise InputError(N_("%(where)s: '%(key)s' must be a table (%(hint)s), got %(type)s"),
                             where=where, key=key, hint=hint, type=toml_type(raw[key]))
    for key, hint in _ARRAYS.items():
        if key in raw and not isinstance(raw[key], list):
            raise InputError(N_("%(where)s: '%(key)s' must be an array (%(hint)s), got %(type)s"),
                             where=where, key=key, hint=hint, type=toml_type(raw[key]))
    for i, g in enumerate(raw.get("generators") or []):
        if not isinstance(g, Mapping):
            raise InputError(N_("%(where)s: 'generators[%(i)s]' must be a table "
                                "(%(generators)s), got %(type)s"),
                             where=where, i=i, generators=_ARRAYS['generators'], type=toml_type(g))
    schema = raw.get("schema") or {}
    if "columns" in schema and not isinstance(schema["columns"], Mapping):
        raise InputError(N_("%(where)s: 'schema.columns' must be a table ([schema.columns.NAME] "
                            "with kind = ...), got %(type)s"),
                         where=where, type=toml_type(schema['columns']))


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("str", "PluginRef") or str(part).startswith("function-"):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or Text(N_("(top level)"))


def shown(value: Any) -> str:
    """A given value as messages show it: its TOML type for a table or an array, else its
    repr (at most 80 characters)."""
    if isinstance(value, Mapping | list | tuple):
        return toml_type(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _error_text(error: Any) -> Any:
    """A validator's error as messages show it: its :class:`Text` when it was raised with one
    (``ValueError(RULES[...])``), so that it is translated too."""
    args: tuple[Any, ...] = getattr(error, "args", ())
    if isinstance(error, ValueError) and len(args) == 1 and isinstance(args[0], Text) \
            and str(args[0]) == str(error):
        return args[0]
    return error


def _message(err: Mapping[str, Any], key: str) -> Text:
    rule = KEY_RULES.get(re.sub(r"\[\d+\]", "[*]", key))
    kind = err["type"]
    got = err.get("input")
    if kind == "missing":
        return Text(N_("'%(key)s' is required"), key=key)
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return Text(N_("'%(key)s' must be a table, got %(type)s"), key=key, type=toml_type(got))
    if kind == "list_type":
        return Text(N_("'%(key)s' must be an array (a list in [...]), got %(type)s"), key=key,
                    type=toml_type(got))
    if rule is not None:
        return Text(N_("'%(key)s' %(rule)s, got %(got)s"), key=key, rule=RULES[rule],
                    got=shown(got))
    if kind == "value_error":
        return Text(N_("'%(key)s': %(error)s"), key=key, error=_error_text(err["ctx"]["error"]))
    listed = re.fullmatch(r"(policies|attacks|metrics)\[\d+\]", key)
    if listed and kind in ("string_type", "string_too_short"):
        what = {"policies": Text(N_("a policy name")),
                "attacks": Text(N_("an attack name (or a table with name and params)")),
                "metrics": Text(N_("a metric name (or a table with name and params)")),
                }[listed.group(1)]
        return Text(N_("'%(key)s' must be %(what)s, got %(got)s"), key=key, what=what,
                    got=shown(got))
    if kind in _TYPE_RULES:
        return Text(N_("'%(key)s' must be %(what)s, got %(got)s"), key=key,
                    what=_TYPE_RULES[kind], got=shown(got))
    msg = str(err["msg"])
    msg = msg[:1].lower() + msg[1:]
    return Text(N_("'%(key)s': %(error)s, got %(got)s"), key=key, error=msg, got=shown(got))


_TYPE_RULES = {"string_type": Text(N_("a string")), "int_type": Text(N_("an integer")),
               "float_type": Text(N_("a number")), "bool_type": Text(N_("true or false")),
               "finite_number": Text(N_("a finite number")),
               "string_too_short": Text(N_("a non-empty string"))}


def format_validation_error(exc: ValidationError, where: str) -> Text:
    lines: list[str] = []
    seen = set()
    errors = exc.errors()
    keys = [_loc(tuple(e["loc"])) for e in errors]
    for err, key in zip(errors, keys, strict=True):
        if err["type"] == "string_type" and any(k.startswith(key + ".") for k in keys):
            continue  # a table given where a name also would do: report the table's problem
        if err["type"] == "extra_forbidden":
            msg = Text(N_("%(where)s: unknown key '%(key)s' (check the spelling; see the config "
                          "reference)"), where=where, key=key)
        else:
            msg = Text(N_("%(where)s: %(error)s"), where=where, error=_message(err, key))
        if key in seen and err["type"] != "extra_forbidden":
            continue  # union members repeat the same key
        seen.add(key)
        lines.append(msg)
    return joined("\n", lines)
