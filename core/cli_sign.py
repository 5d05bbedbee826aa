"""``privgate keygen``, ``privgate sign``, ``privgate verify`` and the checks ``privgate report``
makes before it renders a results.json (statuses that contradict their numbers, inputs that fail
verification)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from privgate.errors import EXIT_PASS, N_, InputError
from privgate.i18n import Translator

CLI_PACKAGE, CLI_DOMAIN = "privgate", "privgate-cli"
#: The modules whose terminal messages ``locale/<lang>/LC_MESSAGES/privgate-cli.po`` covers
#: (``privgate.i18n.update_catalog(CLI_PACKAGE, "ko", CLI_DOMAIN, CLI_SOURCES,
#: marked=CLI_MARKED)`` refreshes it).
CLI_SOURCES = ("cli_audit.py", "cli_sign.py", "verify.py", "verify_signature.py", "progress.py",
               "pipeline.py", "sources.py", "planning.py", "cli_plan.py", "cli_commands.py")
#: The packages whose messages marked with ``N_`` anywhere (errors, the ledger table, usage
#: errors) the catalog covers too.
CLI_MARKED = ("privgate", "privgate.attacks", "privgate.plugins", "privgate.reports")
REPORT_NAME = "report.html"


def translator(lang: Any) -> Translator:
    """The command line's messages in ``lang`` (English for anything unknown)."""
    return Translator.for_package(CLI_PACKAGE, CLI_DOMAIN, lang)


def cmd_keygen(args: argparse.Namespace) -> int:
    """``privgate keygen --private KEY.pem --public PUB.pem``: a new Ed25519 key pair."""
    from privgate.signing import PASSPHRASE_ENV, generate_keypair

    tr = translator(args.lang)
    fp = generate_keypair(Path(args.private), Path(args.public))
    print(tr.gettext("wrote the private key %(private)s (keep it secret; owner-only) and the "
                     "public key %(public)s; fingerprint %(fp)s",
                     private=args.private, public=args.public, fp=fp))
    import os

    if not os.environ.get(PASSPHRASE_ENV):
        print(tr.gettext("note: the private key is not encrypted; set %(env)s before keygen "
                         "to encrypt it", env=PASSPHRASE_ENV), file=sys.stderr)
    return EXIT_PASS


def sign_folder(out_dir: Path, key_path: Path, signer: str, tr: Translator) -> Path:
    """Sign the report, results and released files of an audit folder; returns the report.

    The folder must hold a ``report.html`` that verifies against its ``results.json`` and
    every released file that results.json lists, unedited: one does not sign what one has
    not checked.
    """
    from privgate.outputs import write_atomic
    from privgate.results import load_result
    from privgate.signing import SIDECAR, load_private_key, sha256_file, sign_html
    from privgate.verify import audit_id, verify

    if not signer.strip():
        raise InputError(N_("--signer: give the name of the person who signs"))
    key = load_private_key(key_path)
    report, results = out_dir / REPORT_NAME, out_dir / "results.json"
    result = load_result(results)
    released = [out_dir / str(item.get("file")) for item in result.get("released") or []]
    outcome = verify(report, results, synthetic=released, tr=tr)
    if not outcome.ok:
        raise InputError(tr.gettext("%(folder)s cannot be signed: %(why)s", folder=out_dir,
                                    why=outcome.reason))
    files = {"results.json": sha256_file(results)}
    files.update({p.name: sha256_file(p) for p in released})
    html, envelope = sign_html(report.read_text("utf-8"), key, signer=signer.strip(),
                               audit_id=audit_id(result), verdict=str(result.get("verdict")),
                               files=files)
    write_atomic(report, html.encode("utf-8"))
    write_atomic(out_dir / SIDECAR, (json.dumps(envelope, indent=2, sort_keys=True)
                                     + "\n").encode("utf-8"))
    return report


def cmd_sign(args: argparse.Namespace) -> int:
    """``privgate sign --key KEY.pem --signer NAME OUT_DIR``."""
    tr = translator(args.lang)
    folder = Path(args.folder)
    report = sign_folder(folder, Path(args.key), args.signer, tr)
    print(tr.gettext("signed %(report)s as %(signer)s; the signature is in the report and in "
                     "%(sidecar)s", report=report, signer=args.signer.strip(),
                     sidecar=folder / "signature.json"))
    return EXIT_PASS


def cmd_verify(args: argparse.Namespace) -> int:
    """``privgate verify report.html [results.json] [--synthetic FILE ...] [--key PUB.pem]``:
    0 match, 1 mismatch (why), 2 unreadable."""
    from privgate.verify import verify

    tr = translator(args.lang)
    outcome = verify(Path(args.report_html),
                     None if args.results_json is None else Path(args.results_json),
                     synthetic=[Path(p) for p in args.synthetic or []],
                     key=None if args.key is None else Path(args.key), tr=tr)
    print(outcome.reason, file=sys.stdout if outcome.ok else sys.stderr)
    return outcome.exit_code


def check_renderable(path: Path, result: dict[str, Any], *, key: Path | None = None) -> None:
    """Refuse (exit 2) a results.json whose statuses contradict their numbers, or that fails
    verification against the report beside it (edited after that report was made); with
    ``key``, one whose report beside it is not signed by that key."""
    from privgate.consistency import problems
    from privgate.verify import verify

    found = problems(result)
    if found:
        raise InputError(N_("%(path)s: refused, its statuses contradict their own numbers: "
                            "%(found)s"), path=path,
                         found="; ".join(found[:5]) + ("; ..." if len(found) > 5 else ""))
    report = path.parent / REPORT_NAME
    if key is not None and not report.is_file():
        raise InputError(N_("%(path)s: --key needs the signed %(report_name)s beside it"),
                         path=path, report_name=REPORT_NAME)
    if report.is_file():
        try:
            outcome = verify(report, path, key=key)
        except InputError:  # an unsealed HTML page of another kind: nothing to check against
            if key is not None:
                raise
            return
        if not outcome.ok:
            raise InputError(N_("%(path)s: refused, it fails verification: %(reason)s"),
                             path=path, reason=outcome.reason)


__all__ = ["CLI_MARKED", "check_renderable", "cmd_keygen", "cmd_sign", "cmd_verify",
           "sign_folder", "translator"]
