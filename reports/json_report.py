"""The JSON reporter: the result document itself, as strict JSON (``results.json``).

The output is deterministic (sorted keys, two-space indent, trailing newline) and strictly
standard: NaN and infinities, which JSON cannot express, are written as ``null``. Tuples become
lists and non-string mapping keys become strings, so the file always loads back into the dict
that the other reporters (and ``privgate report results.json``) read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
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

    def write(self, result: Mapping[str, Any], sections: Sequence[ReportSection],
              out_dir: Path) -> Path:
        """Write the canonical bytes, with no newline translation, so that the SHA-256 sealed
        into report.html (:func:`privgate.results.result_sha256`) is the file's on every OS."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / self.filename
        path.write_bytes(self.render(result, sections).encode("utf-8"))
        return path
