"""Sealing an HTML report to its ``results.json``, and checking the seal (``privgate verify``).

A report carries three ``<meta>`` tags in its ``<head>``:

* ``privgate-results-sha256``: the SHA-256 of the ``results.json`` text it was rendered from
  (the canonical serialisation of :func:`privgate.results.dumps`, byte for byte what the JSON
  reporter writes);
* ``privgate-audit-id``: a fingerprint of the audit's identity (data fingerprint, configuration
  fingerprint, seed and timestamps), so that a mismatch can tell "results edited" from "the two
  files come from different audits";
* ``privgate-report-sha256``: the SHA-256 of the report's own bytes, computed with this tag's
  ``content`` left empty and then written into it.

:func:`verify` recomputes all three. Any byte changed in either file breaks the seal. The seal
proves integrity against accidental or casual edits; it is not a signature (anyone with
privgate can re-seal an edited report), which the report states.

Core never imports the reporters: the HTML reporter calls :func:`seal_html` on its output.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from privgate.errors import EXIT_PASS, EXIT_POLICY_FAILED, InputError

RESULTS_META = "privgate-results-sha256"
REPORT_META = "privgate-report-sha256"
AUDIT_META = "privgate-audit-id"

#: The report's self-hash tag as the template writes it (content filled by :func:`seal_html`).
_REPORT_TAG = re.compile(r'<meta name="' + REPORT_META + r'" content="([0-9a-f]*)">')


def _meta(name: str) -> re.Pattern[str]:
    return re.compile(r'<meta name="' + re.escape(name) + r'" content="([0-9a-f]*)">')


def audit_id(result: Mapping[str, Any]) -> str:
    """A fingerprint of which audit ``result`` records (not of its findings)."""
    dataset = result.get("dataset")
    stamps = result.get("timestamps")
    ident = {
        "dataset_sha256": dataset.get("sha256") if isinstance(dataset, Mapping) else None,
        "config_sha256": result.get("config_sha256"),
        "seed": result.get("seed"),
        "started_at": stamps.get("started_at") if isinstance(stamps, Mapping) else None,
        "finished_at": stamps.get("finished_at") if isinstance(stamps, Mapping) else None,
    }
    text = json.dumps(ident, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def seal_html(html: str) -> str:
    """``html`` with its own SHA-256 written into the (empty) ``privgate-report-sha256`` tag."""
    found = _REPORT_TAG.findall(html)
    if len(found) != 1 or found[0]:
        raise ValueError("the report must hold exactly one empty privgate-report-sha256 tag")
    digest = _sha(html.encode("utf-8"))
    return _REPORT_TAG.sub(f'<meta name="{REPORT_META}" content="{digest}">', html, count=1)


@dataclass(frozen=True)
class Verification:
    """The outcome of :func:`verify`: ``ok``, the reason in words and the exit code."""

    ok: bool
    reason: str

    @property
    def exit_code(self) -> int:
        return EXIT_PASS if self.ok else EXIT_POLICY_FAILED


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: {what} not found") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what} ({exc.strerror})") from None


def verify(report_path: Path, results_path: Path) -> Verification:
    """Check that the report at ``report_path`` was rendered from ``results_path``, unedited.

    Raises:
        InputError: a file is missing or unreadable, or the report carries no privgate seal.
    """
    report = _read(report_path, "report")
    results = _read(results_path, "results file")
    try:
        html = report.decode("utf-8")
    except UnicodeDecodeError:
        html = report.decode("utf-8", errors="replace")  # an edit broke UTF-8: still check
    seals = {name: _meta(name).findall(html) for name in (REPORT_META, RESULTS_META, AUDIT_META)}
    if any(len(v) != 1 for v in seals.values()):
        if not any(seals.values()):
            raise InputError(f"{report_path}: not a sealed privgate report (no "
                             f"{REPORT_META} tag); re-render it with `privgate report "
                             "results.json`")
        return Verification(False, f"{report_path} was edited: its seal tags are damaged")
    claimed = seals[REPORT_META][0]
    blank = _REPORT_TAG.sub(f'<meta name="{REPORT_META}" content="">', html, count=1)
    if _sha(blank.encode("utf-8")) != claimed:
        return Verification(False, f"{report_path} was edited after it was generated (its "
                                   "SHA-256 no longer matches the one sealed in it)")
    if _sha(results) == seals[RESULTS_META][0]:
        return Verification(True, f"match: {report_path} was generated from {results_path} "
                                  f"(SHA-256 {seals[RESULTS_META][0]}) and neither was edited")
    try:
        doc = json.loads(results.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return Verification(False, f"{results_path} was edited: it is no longer valid JSON, "
                                   "and its SHA-256 differs from the one sealed in the report")
    if isinstance(doc, Mapping) and audit_id(doc) != seals[AUDIT_META][0]:
        return Verification(False, f"{report_path} and {results_path} belong to different "
                                   "audits (data, configuration, seed or time differ)")
    return Verification(False, f"{results_path} was edited after the report was generated "
                               "(same audit, but its SHA-256 differs from the one sealed in "
                               "the report)")
