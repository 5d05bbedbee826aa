"""The signature part of ``privgate verify``: does the report's Ed25519 signature (see
:mod:`privgate.signing`) hold, over this report, this ``results.json`` and these synthetic
files, and -- with ``--key`` -- was it made with that key?

Without ``--key`` a valid signature only shows that *someone* holding the embedded key signed
these exact files; the outcome says so and names the key's fingerprint. Without a signature
the report is only sealed, and the outcome says in so many words that the seal is a checksum.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from privgate.i18n import Translator
from privgate.signing import envelope_key, envelope_of, fingerprint, report_digest
from privgate.verify import Verification


def _unsigned(report_path: Path, public: Ed25519PublicKey | None,
              tr: Translator) -> Verification:
    if public is not None:
        return Verification(False, tr.gettext(
            "%(report)s is not signed, so it cannot be signed by the key %(fp)s (a report "
            "re-rendered with `privgate report` is never signed)", report=report_path,
            fp=fingerprint(public)))
    return Verification(True, tr.gettext(
        "match: %(report)s is unedited and belongs with the files given. It is not signed: "
        "its seal is a checksum, not a signature -- anyone with privgate can re-render an "
        "edited results.json into a report that matches", report=report_path))


def _signed_files(manifest: Mapping[str, Any], html: str, results: bytes | None,
                  files: Mapping[Path, str], report_path: Path,
                  tr: Translator) -> Verification | None:
    """Why a file does not match what was signed, or ``None`` when all do."""
    raw = manifest.get("files")
    signed: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    if signed.get("report.html") != report_digest(html):
        return Verification(False, tr.gettext(
            "%(report)s was changed after it was signed (it is not the report the signature "
            "covers)", report=report_path))
    if results is not None and signed.get("results.json") != hashlib.sha256(
            results).hexdigest():
        return Verification(False, tr.gettext(
            "the results file is not the one that was signed"))
    covered = set(signed.values())
    for path, digest in files.items():
        if digest not in covered:
            return Verification(False, tr.gettext(
                "%(file)s is not a file the signature covers (edited after signing, or "
                "another file)", file=path))
    return None


def check_signature(html: str, report_path: Path, results: bytes | None,
                    files: Mapping[Path, str], public: Ed25519PublicKey | None,
                    tr: Translator) -> Verification:
    """The signature's verdict on a report whose seal already holds."""
    try:
        envelope = envelope_of(html)
        if envelope is None:
            return _unsigned(report_path, public, tr)
        signer_key = envelope_key(envelope)
    except ValueError as exc:
        return Verification(False, tr.gettext(
            "%(report)s carries a broken signature: %(why)s", report=report_path, why=exc))
    manifest = envelope["manifest"]
    wrong = _signed_files(manifest, html, results, files, report_path, tr)
    if wrong is not None:
        return wrong
    who = {"signer": manifest.get("signer"), "fp": fingerprint(signer_key),
           "when": manifest.get("signed_at")}
    if public is not None:
        if fingerprint(public) != fingerprint(signer_key):
            return Verification(False, tr.gettext(
                "%(report)s was signed by another key (%(fp)s, signer %(signer)s), not by the "
                "key given (%(want)s)", report=report_path, want=fingerprint(public), **who))
        return Verification(True, tr.gettext(
            "match: signed by %(signer)s with the key given (%(fp)s) on %(when)s; the report, "
            "the results and every file given are exactly what was signed", **who))
    return Verification(True, tr.gettext(
        "match: the files are unedited and signed by %(signer)s with the key %(fp)s on "
        "%(when)s. Pass --key with that person's public key to prove who signed: without it, "
        "anyone could have made a key and signed", **who))


__all__ = ["check_signature"]
