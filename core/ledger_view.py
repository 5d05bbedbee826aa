"""``privgate ledger``: print the privacy ledger as tables (or JSON), one per data set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from privgate.errors import EXIT_PASS, N_
from privgate.i18n import Translator
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


def _unit(entry: dict[str, Any], tr: Translator | None = None) -> str:
    """What the entry's epsilon protects ("per person", "per row"); "-" for a non-private fit,
    "not recorded" for an entry from before privgate stored it."""
    tr = tr or Translator()
    if entry.get("unit"):
        return _word(str(entry["unit"]), tr)
    return "-" if entry.get("epsilon") is None else tr.gettext(N_("not recorded"))


#: Values the ledger stores that the table shows in the command's language.
_WORDS = {"per person": N_("per person"), "per row": N_("per row"),
          "reserved": N_("reserved"), "spent": N_("spent"), "released": N_("released")}


def _word(value: str, tr: Translator) -> str:
    return tr.gettext(_WORDS[value]) if value in _WORDS else value


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
                url: str | None = None, lang: str | None = None) -> int:
    """Print the ledger; exit code 0 (an empty or absent ledger is not an error). ``lang``:
    the language of the table (``--json`` keeps its English keys and stored values)."""
    from privgate.cli_sign import translator

    doc = ledger_document(path, fingerprint, url=url)
    if as_json:
        print(json.dumps(doc, indent=2))
        return EXIT_PASS
    tr = translator(lang)
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=160)
    if not doc["datasets"]:
        console.print(tr.gettext(N_("privacy ledger %(path)s: no fits recorded for data set "
                                    "%(fingerprint)s"), path=doc["path"], fingerprint=fingerprint)
                      if fingerprint else
                      tr.gettext(N_("privacy ledger %(path)s: no fits recorded"),
                                 path=doc["path"]), markup=False)
        return EXIT_PASS
    console.print(tr.gettext(N_("privacy ledger %(path)s"), path=doc["path"]), style="bold",
                  markup=False)
    from privgate.ledger_rules import _host, _operator  # who the ledger books fits to

    user, host = _operator(), _host()
    for ds in doc["datasets"]:
        extra = (tr.gettext(N_("; %(n)s non-private fit(s) (no DP guarantee)"),
                            n=ds["non_private_fits"]) if ds["non_private_fits"] else "")
        units = sorted({str(e["unit"]) for e in ds["entries"] if e.get("unit")})
        if len(units) > 1:  # summed all the same: a per-person epsilon also bounds each row
            extra += tr.gettext(N_("; epsilons of different units summed (%(units)s)"),
                                units=", ".join(_word(u, tr) for u in units))
        title = tr.gettext(N_("%(name)s (%(fingerprint)s): epsilon spent %(eps)s in %(fits)s "
                              "fit(s)%(extra)s"),
                           name=ds["name"] or tr.gettext(N_("data set")),
                           fingerprint=ds["fingerprint"][:12],
                           eps=_num(ds["spent_epsilon"], ".4g"), fits=ds["fits"], extra=extra)
        table = Table(title=Text(title), title_justify="left")
        heads = (("time", N_("time")), ("generator", N_("generator")),
                 ("epsilon", N_("epsilon")), ("delta", N_("delta")), ("unit", N_("unit")),
                 ("accountant", N_("accountant")), ("status", N_("status")),
                 ("operator", N_("operator")), ("host", N_("host")), ("audit", N_("audit")),
                 ("config", N_("config")))
        for key, col in heads:
            table.add_column(tr.gettext(col),
                             justify="right" if key in ("epsilon", "delta") else "left")
        unknown = tr.gettext(N_("unknown"))
        for e in ds["entries"]:
            eps = (tr.gettext(N_("not private")) if e["epsilon"] is None
                   else _num(e["epsilon"], ".4g"))
            status = _word(str(e["status"]), tr) + (
                tr.gettext(N_(" (epsilon refuted)")) if e.get("dp_claim") == "refuted" else "")
            cells = (e["time"], e["generator"], eps, _num(e["delta"], ".0e"), _unit(e, tr),
                     e["accountant"], status, e["operator"] or unknown, e["host"] or unknown,
                     (e["audit_id"] or "-")[:8], e["config_sha256"][:12])
            table.add_row(*(Text(str(c)) for c in cells),
                          style="dim" if e["status"] == "released" else None)
        console.print(table)
        mine, others = split_by_operator(ds["entries"], user, host)
        console.print(tr.gettext(N_("  yours (%(user)s@%(host)s): epsilon %(mine)s; everyone "
                                    "else's: epsilon %(others)s"), user=user, host=host,
                                 mine=_num(mine, ".4g"), others=_num(others, ".4g")),
                      markup=False)
    return EXIT_PASS
