"""Signing an audit's outputs with Ed25519 (``privgate sign``, ``audit --sign``), and the keys.

The seal of :mod:`privgate.verify` is a checksum: anyone with privgate can re-render an edited
``results.json`` into a report that "matches". A signature says *who* vouches for the files.

What is signed is a small **manifest** (canonical JSON: sorted keys, no spaces, ASCII) of

* ``audit_id`` and ``verdict`` of the audit, ``signer`` (a name), ``key_fingerprint`` (the
  SHA-256 of the raw 32-byte public key, hex) and ``signed_at`` (UTC);
* ``files``: the SHA-256 of ``results.json``, of ``report.html`` as it is with its seal tag and
  its signature tag blank (:func:`report_digest`), and of each released synthetic file.

The **envelope** ``{"algorithm": "Ed25519", "manifest": ..., "public_key": base64,
"signature": base64}`` is embedded in the report (``<meta name="privgate-signature">``, its
content the base64url of the envelope's canonical JSON) and written beside it as
``signature.json`` for tools that do not read HTML. The report also shows the signer's name,
the key fingerprint and the time of signing in its sign-off block: the report carries a
``<template id="privgate-signed">`` in its own language whose ``@@SIGNER@@``,
``@@FINGERPRINT@@`` and ``@@SIGNED_AT@@`` are filled in and swapped for the "not signed"
block when it is signed (core never renders the report; it only fills what the report holds).

Keys: ``privgate keygen`` writes a PKCS#8 private key (owner-only permissions; encrypted when
``PRIVGATE_KEY_PASSPHRASE`` is set, which :func:`load_private_key` then reads) and a
SubjectPublicKeyInfo public key, both PEM, as the ``cryptography`` library and OpenSSL write
them (``openssl genpkey -algorithm ed25519`` makes a key privgate reads).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import html as _html
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from privgate.errors import N_, InputError

SIGNATURE_META = "privgate-signature"
SIDECAR = "signature.json"
ALGORITHM = "Ed25519"
PASSPHRASE_ENV = "PRIVGATE_KEY_PASSPHRASE"
#: The manifest format (a later change of what is signed gets a new number).
FORMAT = 1
SIGNATURE_TAG = re.compile(r'<meta name="' + SIGNATURE_META + r'" content="([A-Za-z0-9_=-]*)">')
_SIGNED_TEMPLATE = re.compile(r'<template id="privgate-signed">(.*?)</template>\n?', re.DOTALL)
_UNSIGNED_BLOCK = re.compile(r"<!--privgate:unsigned-->.*?<!--/privgate:unsigned-->",
                             re.DOTALL)


def canonical(doc: Mapping[str, Any]) -> bytes:
    """The bytes that are signed: sorted keys, no spaces, ASCII only."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("ascii")


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(key: Ed25519PublicKey) -> str:
    """The key's fingerprint: SHA-256 of its raw 32 bytes, hex."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def _passphrase() -> bytes | None:
    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode("utf-8") if value else None


def generate_keypair(private_path: Path, public_path: Path) -> str:
    """Write a new Ed25519 key pair (PEM; the private key owner-only, encrypted with
    ``$PRIVGATE_KEY_PASSPHRASE`` when set) and return the public key's fingerprint. Existing
    files are never overwritten."""
    for path in (private_path, public_path):
        if path.exists():
            raise InputError(N_("%(path)s: already exists; keygen never overwrites a key"),
                             path=path)
        if not path.parent.is_dir():
            raise InputError(N_("%(path)s: the folder %(parent)s does not exist"),
                             path=path, parent=path.parent)
    key = Ed25519PrivateKey.generate()
    secret = _passphrase()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(secret) if secret
        else serialization.NoEncryption())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            encryption)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    public = key.public_key()
    public_path.write_bytes(public.public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo))
    return fingerprint(public)


def _read_key_file(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        from privgate.input_files import file_word

        raise InputError(N_("%(path)s: cannot read the %(what)s (%(reason)s)"),
                         path=path, what=file_word(what), reason=exc.strerror) from None


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """An Ed25519 private key from a PEM file (passphrase from ``$PRIVGATE_KEY_PASSPHRASE``)."""
    data = _read_key_file(path, "private key")
    try:
        key = serialization.load_pem_private_key(data, password=_passphrase())
    except TypeError:
        raise InputError(N_("%(path)s: the private key is encrypted; set %(passphrase_env)s"),
                         path=path, passphrase_env=PASSPHRASE_ENV) from None
    except ValueError as exc:
        raise InputError(N_("%(path)s: not a readable PEM private key (%(exc)s)"),
                         path=path, exc=exc) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(N_("%(path)s: not an Ed25519 key (privgate signs with Ed25519; make "
                            "one with `privgate keygen`)"), path=path)
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file (a private key file gives its public half)."""
    data = _read_key_file(path, "public key")
    try:
        key: Any = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(data, password=_passphrase()).public_key()
        except (TypeError, ValueError):
            raise InputError(N_("%(path)s: not a PEM public key"), path=path) from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(N_("%(path)s: not an Ed25519 public key"), path=path)
    return key


def blank_tags(html: str) -> str:
    """``html`` with its seal tag and its signature tag empty (what the manifest hashes)."""
    from privgate.verify import REPORT_META, REPORT_TAG

    html = REPORT_TAG.sub(f'<meta name="{REPORT_META}" content="">', html, count=1)
    return SIGNATURE_TAG.sub(f'<meta name="{SIGNATURE_META}" content="">', html, count=1)


def report_digest(html: str) -> str:
    """The SHA-256 the manifest holds for a report: of its text with both tags blank."""
    return hashlib.sha256(blank_tags(html).encode("utf-8")).hexdigest()


def envelope_of(html: str) -> dict[str, Any] | None:
    """The signature envelope embedded in a report; ``None`` when it is not signed.

    Raises:
        ValueError: the tag is there but does not hold an envelope (it was edited).
    """
    found = SIGNATURE_TAG.findall(html)
    if not found or not found[0]:
        return None
    try:
        doc = json.loads(base64.urlsafe_b64decode(found[0].encode("ascii")))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ValueError("the signature tag does not hold a privgate signature") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("manifest"), dict):
        raise ValueError("the signature tag does not hold a privgate signature")
    return doc


def signed_block(html: str, manifest: Mapping[str, Any]) -> str:
    """``html`` with its "not signed" block swapped for its signed-block template, filled."""
    template = _SIGNED_TEMPLATE.search(html)
    if template is None or not _UNSIGNED_BLOCK.search(html):
        raise InputError(N_("this report has no sign-off block to sign (render it with this "
                            "privgate: `privgate report results.json`)"))
    filled = (template.group(1)
              .replace("@@SIGNER@@", _html.escape(str(manifest["signer"])))
              .replace("@@FINGERPRINT@@", _html.escape(str(manifest["key_fingerprint"])))
              .replace("@@SIGNED_AT@@", _html.escape(str(manifest["signed_at"]))))
    html = _SIGNED_TEMPLATE.sub("", html, count=1)
    return _UNSIGNED_BLOCK.sub(lambda _m: filled, html, count=1)


def sign_html(html: str, key: Ed25519PrivateKey, *, signer: str, audit_id: str,
              verdict: str, files: Mapping[str, str],
              now: dt.datetime | None = None) -> tuple[str, dict[str, Any]]:
    """Sign a sealed report: the signed report (resealed) and the envelope.

    ``files`` maps file names to SHA-256 (``results.json`` and the released files); the
    report's own digest is added as ``report.html``.
    """
    from privgate.verify import seal_html

    if SIGNATURE_TAG.search(html) is None:
        raise InputError(N_("this report has no signature tag (render it with this privgate)"))
    if envelope_of(html) is not None:
        raise InputError(N_("this report is already signed; sign the unsigned report the audit "
                            "wrote (re-render it with `privgate report` to sign anew)"))
    stamp = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    manifest: dict[str, Any] = {
        "format": FORMAT, "audit_id": audit_id, "verdict": verdict, "signer": signer,
        "key_fingerprint": fingerprint(key.public_key()),
        "signed_at": stamp.strftime("%Y-%m-%d %H:%M UTC"), "files": dict(files)}
    html = blank_tags(signed_block(html, manifest))
    manifest["files"]["report.html"] = report_digest(html)
    envelope = {
        "algorithm": ALGORITHM, "manifest": manifest,
        "public_key": base64.b64encode(key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode("ascii"),
        "signature": base64.b64encode(key.sign(canonical(manifest))).decode("ascii")}
    tag = base64.urlsafe_b64encode(canonical(envelope)).decode("ascii")
    html = SIGNATURE_TAG.sub(f'<meta name="{SIGNATURE_META}" content="{tag}">', html, count=1)
    return seal_html(html), envelope


def envelope_key(envelope: Mapping[str, Any]) -> Ed25519PublicKey:
    """The public key an envelope names, checked to sign its manifest.

    Raises:
        ValueError: malformed, or the signature does not match the manifest.
    """
    try:
        raw = base64.b64decode(str(envelope["public_key"]), validate=True)
        signature = base64.b64decode(str(envelope["signature"]), validate=True)
        key = Ed25519PublicKey.from_public_bytes(raw)
        if envelope.get("algorithm") != ALGORITHM:
            raise ValueError(f"unknown algorithm {envelope.get('algorithm')!r}")
        key.verify(signature, canonical(envelope["manifest"]))
    except InvalidSignature:
        raise ValueError("the signature does not match the signed manifest") from None
    except (KeyError, TypeError, binascii.Error) as exc:
        raise ValueError(f"malformed signature ({exc})") from None
    if fingerprint(key) != envelope["manifest"].get("key_fingerprint"):
        raise ValueError("the manifest names another key than the one that signed it")
    return key


__all__ = ["SIDECAR", "SIGNATURE_META", "blank_tags", "canonical", "envelope_key",
           "envelope_of", "fingerprint", "generate_keypair", "load_private_key",
           "load_public_key", "report_digest", "sha256_file", "sign_html", "signed_block"]
