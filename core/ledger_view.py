"""``privgate ledger``: print the privacy ledger as tables (or JSON), one per data set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from privgate.errors import EXIT_PASS
from privgate.ledger_location import resolve_location
from privgate.ledger_rules import PrivacyLedger


def ledger_document(path: str | Path | None, fingerprint: str | None, *,
                    url: str | None = None) -> dict[str, Any]:
    """Per data set (optionally only those whose fingerprint starts with ``fingerprint``):
    totals and every entry, in time order. ``path``/``url``: ``--ledger``/``--ledger-url``
    (else the environment, else the default file). Reading creates nothing."""
    ledger = PrivacyLedger(resolve_location(path, cli_url=url), create=False)
    doc: dict[str, Any] = {"path": ledger.where, "backend": ledger.backend, "datasets": []}
    for ds in ledger.datasets():
        if fingerprint and not ds["fingerprint"].startswith(fingerprint.lower()):
            continue
        entries = [e.to_dict() for e in ledger.history(ds["fingerprint"])]
        doc["datasets"].append({**ds, "entries": entries})
    return doc


def _num(value: Any, spec: str) -> str:
    """A float for the table, whatever it holds (1e300, inf, nan, a stray string)."""
    try:
        return format(float(value), spec)
    except (TypeError, ValueError, OverflowError):
        return str(value)


def _unit(entry: dict[str, Any]) -> str:
    """What the entry's epsilon protects ("per person", "per row"); "-" for a non-private fit,
    "not recorded" for an entry from before privgate stored it."""
    if entry.get("unit"):
        return str(entry["unit"])
    return "-" if entry.get("epsilon") is None else "not recorded"


def split_by_operator(entries: list[dict[str, Any]], operator: str, host: str
                      ) -> tuple[float, float]:
    """Epsilon booked by ``operator`` on ``host`` and by everyone else (non-private fits and
    released reservations count nothing), so that one person's fits never read as another's."""
    mine = others = 0.0
    for e in entries:
        eps = e.get("epsilon")
        if eps is None or e.get("status") == "released":
            continue
        try:
            value = float(eps)
        except (TypeError, ValueError):
            continue
        if e.get("operator") == operator and e.get("host") == host:
            mine += value
        else:
            others += value
    return mine, others


def show_ledger(path: str | Path | None, fingerprint: str | None, *, as_json: bool,
                url: str | None = None) -> int:
    """Print the ledger; exit code 0 (an empty or absent ledger is not an error)."""
    doc = ledger_document(path, fingerprint, url=url)
    if as_json:
        print(json.dumps(doc, indent=2))
        return EXIT_PASS
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=160)
    if not doc["datasets"]:
        which = f" for data set {fingerprint}" if fingerprint else ""
        console.print(f"privacy ledger {doc['path']}: no fits recorded{which}", markup=False)
        return EXIT_PASS
    console.print(f"privacy ledger {doc['path']}", style="bold", markup=False)
    from privgate.ledger_rules import _host, _operator  # who the ledger books fits to

    user, host = _operator(), _host()
    for ds in doc["datasets"]:
        extra = (f"; {ds['non_private_fits']} non-private fit(s) (no DP guarantee)"
                 if ds["non_private_fits"] else "")
        units = sorted({str(e["unit"]) for e in ds["entries"] if e.get("unit")})
        if len(units) > 1:  # summed all the same: a per-person epsilon also bounds each row
            extra += f"; epsilons of different units summed ({', '.join(units)})"
        table = Table(title=Text(f"{ds['name'] or 'data set'} ({ds['fingerprint'][:12]}): "
                                 f"epsilon spent {_num(ds['spent_epsilon'], '.4g')} in "
                                 f"{ds['fits']} fit(s){extra}"), title_justify="left")
        for col in ("time", "generator", "epsilon", "delta", "unit", "accountant", "status",
                    "operator", "host", "audit", "config"):
            table.add_column(col, justify="right" if col in ("epsilon", "delta") else "left")
        for e in ds["entries"]:
            eps = "not private" if e["epsilon"] is None else _num(e["epsilon"], ".4g")
            cells = (e["time"], e["generator"], eps, _num(e["delta"], ".0e"), _unit(e),
                     e["accountant"],
                     e["status"] + (" (epsilon refuted)" if e.get("dp_claim") == "refuted"
                                    else ""), e["operator"] or "unknown", e["host"] or "unknown",
                     (e["audit_id"] or "-")[:8], e["config_sha256"][:12])
            table.add_row(*(Text(str(c)) for c in cells),
                          style="dim" if e["status"] == "released" else None)
        console.print(table)
        mine, others = split_by_operator(ds["entries"], user, host)
        console.print(f"  yours ({user}@{host}): epsilon {_num(mine, '.4g')}; everyone "
                      f"else's: epsilon {_num(others, '.4g')}", markup=False)
    return EXIT_PASS
