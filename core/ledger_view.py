"""``privgate ledger``: print the privacy ledger as tables (or JSON), one per data set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from privgate.errors import EXIT_PASS
from privgate.ledger import PrivacyLedger, resolve_path


def ledger_document(path: str | Path | None, fingerprint: str | None) -> dict[str, Any]:
    """Per data set (optionally only those whose fingerprint starts with ``fingerprint``):
    totals and every entry, oldest first."""
    where = resolve_path(path)
    doc: dict[str, Any] = {"path": str(where), "datasets": []}
    if not where.exists():  # reading must not create a ledger
        return doc
    ledger = PrivacyLedger(where)
    for ds in ledger.datasets():
        if fingerprint and not ds["fingerprint"].startswith(fingerprint.lower()):
            continue
        entries = [e.to_dict() for e in ledger.history(ds["fingerprint"])]
        doc["datasets"].append({**ds, "entries": entries})
    return doc


def show_ledger(path: str | Path | None, fingerprint: str | None, *, as_json: bool) -> int:
    """Print the ledger; exit code 0 (an empty or absent ledger is not an error)."""
    doc = ledger_document(path, fingerprint)
    if as_json:
        print(json.dumps(doc, indent=2))
        return EXIT_PASS
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=140)
    if not doc["datasets"]:
        which = f" for data set {fingerprint}" if fingerprint else ""
        console.print(f"privacy ledger {doc['path']}: no fits recorded{which}", markup=False)
        return EXIT_PASS
    console.print(f"privacy ledger {doc['path']}", style="bold", markup=False)
    for ds in doc["datasets"]:
        extra = (f"; {ds['non_private_fits']} non-private fit(s) (no DP guarantee)"
                 if ds["non_private_fits"] else "")
        table = Table(title=f"{ds['name'] or 'data set'} ({ds['fingerprint'][:12]}): epsilon "
                            f"spent {ds['spent_epsilon']:.4g} in {ds['fits']} fit(s){extra}",
                      title_justify="left")
        for col in ("time", "generator", "epsilon", "delta", "accountant", "status", "config"):
            table.add_column(col, justify="right" if col in ("epsilon", "delta") else "left")
        for e in ds["entries"]:
            eps = "not private" if e["epsilon"] is None else f"{e['epsilon']:.4g}"
            table.add_row(e["time"], e["generator"], eps, f"{e['delta']:.0e}", e["accountant"],
                          e["status"], e["config_sha256"][:12],
                          style="dim" if e["status"] == "released" else None)
        console.print(table)
    return EXIT_PASS
