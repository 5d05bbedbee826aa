"""The JSON reporter: the result document itself, as strict JSON (``results.json``).

The output is deterministic (sorted keys, two-space indent, trailing newline) and strictly
standard: NaN and infinities, which JSON cannot express, are written as ``null``. Tuples become
lists and non-string mapping keys become strings, so the file always loads back into the dict
that the other reporters (and ``privgate report results.json``) read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from privgate.reporting import Reporter, ReportSection
from privgate.results import dumps


class JsonReporter(Reporter):
    """Writes the machine-readable result document; contributed sections are not included."""

    format = "json"
    filename = "results.json"
    description = "The full result document as strict JSON (re-render reports from it)."

    def render(self, result: Mapping[str, Any], sections: Sequence[ReportSection]) -> str:
        """The text of ``results.json`` (core's canonical serialisation)."""
        return dumps(result)
