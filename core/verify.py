"""Sealing an HTML report to its ``results.json``, and checking seal, released files and
signature (``privgate verify``).

A report carries these ``<meta>`` tags in its ``<head>``:

* ``privgate-results-sha256``: the SHA-256 of the ``results.json`` text it was rendered from;
* ``privgate-audit-id``: a fingerprint of the audit's identity (data fingerprint, configuration
  fingerprint, seed and timestamps), so that a mismatch can tell "results edited" from "the two
  files come from different audits";
* ``privgate-released-sha256``: the SHA-256 of each synthetic file the audit released (written
  beside the reports, :func:`privgate.outputs.write_released`), space-separated;
* ``privgate-report-sha256``: the SHA-256 of the report's own bytes, computed with this tag's
  ``content`` left empty and then written into it;
* ``privgate-signature``: empty, or the Ed25519 signature envelope (:mod:`privgate.signing`).

The seal proves integrity against accidental or casual edits; it is a checksum, not a
signature: anyone with privgate can re-render an edited ``results.json`` into a report that
matches. Only a signature checked against the signer's public key (``--key``) says who vouches
for the files; ``privgate report`` always writes an unsigned report, so a re-rendered report
fails ``verify --key``.

Core never imports the reporters: the HTML reporter calls :func:`seal_html` on its output.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from privgate.errors import EXIT_PASS, EXIT_POLICY_FAILED, N_, InputError
from privgate.i18n import Translator

RESULTS_META = "privgate-results-sha256"
REPORT_META = "privgate-report-sha256"
AUDIT_META = "privgate-audit-id"
RELEASED_META = "privgate-released-sha256"

#: The report's self-hash tag as the template writes it (content filled by :func:`seal_html`).
REPORT_TAG = re.compile(r'<meta name="' + REPORT_META + r'" content="([0-9a-f]*)">')
EN = Translator()


def _meta(name: str) -> re.Pattern[str]:
    return re.compile(r'<meta name="' + re.escape(name) + r'" content="([0-9a-f ]*)">')


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
    found = REPORT_TAG.findall(html)
    if len(found) != 1 or found[0]:
        raise ValueError("the report must hold exactly one empty privgate-report-sha256 tag")
    digest = _sha(html.encode("utf-8"))
    return REPORT_TAG.sub(f'<meta name="{REPORT_META}" content="{digest}">', html, count=1)


@dataclass(frozen=True)
class Verification:
    """The outcome of :func:`verify`: ``ok``, the reason in words and the exit code."""

    ok: bool
    reason: str

    @property
    def exit_code(self) -> int:
        return EXIT_PASS if self.ok else EXIT_POLICY_FAILED


def read_bytes(path: Path, what: str) -> bytes:
    """A file's bytes, or an :class:`InputError` naming it and ``what`` it should be."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(N_("%(path)s: %(what)s not found"), path=path,
                         what=_file_word(what)) from None
    except OSError as exc:
        raise InputError(N_("%(path)s: cannot read the %(what)s (%(reason)s)"),
                         path=path, what=_file_word(what), reason=exc.strerror) from None


def _file_word(what: str) -> str:
    from privgate.input_files import file_word

    return file_word(what)


def _file_sha256(path: Path) -> str:
    """The SHA-256 of a (possibly large) file, or an :class:`InputError` naming it."""
    from privgate.signing import sha256_file

    try:
        return sha256_file(path)
    except FileNotFoundError:
        raise InputError(N_("%(path)s: synthetic file not found"), path=path) from None
    except OSError as exc:
        raise InputError(N_("%(path)s: cannot read the synthetic file (%(reason)s)"),
                         path=path, reason=exc.strerror) from None


def _seal(html: str, report_path: Path, tr: Translator) -> dict[str, str] | Verification:
    """The report's seal tags, or why they do not hold (an edited report)."""
    names = (REPORT_META, RESULTS_META, AUDIT_META)
    seals = {name: _meta(name).findall(html) for name in names}
    if any(len(v) != 1 for v in seals.values()):
        if not any(seals.values()):
            raise InputError(N_("%(report_path)s: not a sealed privgate report (no "
                                "%(report_meta)s tag); re-render it with `privgate report "
                                "results.json`"), report_path=report_path, report_meta=REPORT_META)
        return Verification(False, tr.gettext("%(report)s was edited: its seal tags are "
                                              "damaged", report=report_path))
    blank = REPORT_TAG.sub(f'<meta name="{REPORT_META}" content="">', html, count=1)
    if _sha(blank.encode("utf-8")) != seals[REPORT_META][0]:
        return Verification(False, tr.gettext(
            "%(report)s was edited after it was generated (its SHA-256 no longer matches the "
            "one sealed in it)", report=report_path))
    released = _meta(RELEASED_META).findall(html)
    return {"results": seals[RESULTS_META][0], "audit": seals[AUDIT_META][0],
            "released": released[0] if released else ""}


def _results(results: bytes, seals: Mapping[str, str], report_path: Path, results_path: Path,
             tr: Translator) -> Verification | None:
    """Why ``results.json`` does not belong to the report, or ``None`` when it does."""
    if _sha(results) == seals["results"]:
        return None
    try:
        doc = json.loads(results.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return Verification(False, tr.gettext(
            "%(results)s was edited: it is no longer valid JSON, and its SHA-256 differs from "
            "the one sealed in the report", results=results_path))
    if isinstance(doc, Mapping) and audit_id(doc) != seals["audit"]:
        return Verification(False, tr.gettext(
            "%(report)s and %(results)s belong to different audits (data, configuration, seed "
            "or time differ)", report=report_path, results=results_path))
    return Verification(False, tr.gettext(
        "%(results)s was edited after the report was generated (same audit, but its SHA-256 "
        "differs from the one sealed in the report)", results=results_path))


def verify(report_path: Path, results_path: Path | None = None, *,
           synthetic: Sequence[Path] = (), key: Path | None = None,
           tr: Translator = EN) -> Verification:
    """Check the report at ``report_path``: unedited; rendered from ``results_path`` (when
    given); each ``synthetic`` file one the audit released, unedited; and, when it is signed,
    its signature -- with ``key`` (a PEM public key) it must be signed by that key.

    Raises:
        InputError: a file is missing or unreadable, or the report carries no privgate seal.
    """
    from privgate import signing
    from privgate.verify_signature import check_signature

    report = read_bytes(report_path, "report")
    results = None if results_path is None else read_bytes(results_path, "results file")
    files = {Path(p): _file_sha256(Path(p)) for p in synthetic}
    public = None if key is None else signing.load_public_key(key)
    html = report.decode("utf-8", errors="replace")  # an edit that broke UTF-8: still check
    seals = _seal(html, report_path, tr)
    if isinstance(seals, Verification):
        return seals
    if results is not None and results_path is not None:
        wrong = _results(results, seals, report_path, results_path, tr)
        if wrong is not None:
            return wrong
    released = set(seals["released"].split())
    for path, digest in files.items():
        if digest not in released:
            return Verification(False, tr.gettext(
                "%(file)s is not a synthetic file this audit released: its SHA-256 %(sha)s is "
                "not among those sealed in the report (edited after the audit, or another "
                "file)", file=path, sha=digest))
    return check_signature(html, report_path, results, files, public, tr)


__all__ = ["AUDIT_META", "RELEASED_META", "REPORT_META", "REPORT_TAG", "RESULTS_META",
           "Verification", "audit_id", "read_bytes", "seal_html", "verify"]
