"""The JSON reporter: the result document itself, as strict JSON (``results.json``).

The output is deterministic (sorted keys, two-space indent, trailing newline) and strictly
standard: NaN and infinities, which JSON cannot express, are written as ``null``. Tuples become
lists and non-string mapping keys become strings, so the file always loads back into the dict
that the other reporters (and ``privgate report results.json``) read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from privgate.reporting import Reporter, ReportSection


def clean(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None, recursively.

    Mappings become dicts with string keys; lists, tuples and sets become lists (sets sorted
    by their text so the output is deterministic); other values are returned unchanged.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, set | frozenset):
        return [clean(v) for v in sorted(value, key=str)]
    return value


def dumps(result: Mapping[str, Any]) -> str:
    """The result document as the text of ``results.json``."""
    return json.dumps(clean(result), indent=2, sort_keys=True, allow_nan=False) + "\n"


class JsonReporter(Reporter):
    """Writes the machine-readable result document; contributed sections are not included."""

    format = "json"
    filename = "results.json"
    description = "The full result document as strict JSON (re-render reports from it)."

    def write(self, result: Mapping[str, Any], sections: Sequence[ReportSection],
              out_dir: Path) -> Path:
        """Write ``out_dir/results.json``."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / self.filename
        path.write_text(dumps(result), encoding="utf-8")
        return path
