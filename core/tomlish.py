"""TOML text for the configuration lines ``privgate plan`` suggests.

tomllib only reads TOML; a suggestion must be a line the user can paste into a config, and the
plan re-reads every line it prints (:func:`value` writes strings, numbers, booleans, lists and
inline tables; anything else is refused rather than written wrongly).
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from typing import Any


def value(v: Any) -> str:
    """``v`` as an inline TOML value."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"TOML has no finite spelling for {v!r}")
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # a TOML basic string
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, Sequence):
        return "[" + ", ".join(value(x) for x in v) + "]"
    raise ValueError(f"cannot write a {type(v).__name__} as TOML")


def _key(k: Any) -> str:
    text = str(k)
    if text and all(c.isalnum() or c in "_-" for c in text):
        return text
    return json.dumps(text, ensure_ascii=False)


def attacks_line(refs: Sequence[Mapping[str, Any]]) -> str:
    """The ``attacks = [...]`` line for these attack references (name, optional params),
    checked to parse back to them."""
    line = "attacks = " + value([
        {"name": r["name"], **({"params": r["params"]} if r.get("params") else {})}
        for r in refs])
    parsed = tomllib.loads(line)["attacks"]
    if [p["name"] for p in parsed] != [r["name"] for r in refs]:
        raise ValueError("the attacks line does not parse back")
    return line


__all__ = ["attacks_line", "value"]
