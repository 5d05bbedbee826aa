"""The generators as the report shows them: privacy budget and settings, the utility metrics
computed on their output, the privacy ledger's spending over time, and the records the attacks
found most exposed (counts only, small ones suppressed).

A metric is shown the same way whoever wrote it: its value with its interval, its description,
the figures it returned (:mod:`privgate.reports.blocks`) and its details folded away; its title
comes from the result's catalog (the metric class's ``title``), never from its name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from privgate.reports import charts
from privgate.reports.blocks import figures_view
from privgate.reports.common import (
    DEFAULT_MIN_CELL_SIZE,
    as_list,
    as_map,
    as_number,
    as_text,
    detail_value,
    fmt_detail,
    status_view,
    suppressed_count,
)
from privgate.reports.i18n import Lang


def epsilon_text(spent: Mapping[str, Any], budget: Mapping[str, Any], private: bool,
                  lang: Lang) -> str:
    """Plain words for the privacy budget of one generator."""
    if not private:
        return lang.gettext("not differentially private (no privacy guarantee)")
    eps, target = as_number(spent.get("epsilon")), as_number(budget.get("epsilon"))
    delta = spent.get("delta", budget.get("delta"))
    if eps is None:
        text = lang.gettext("ε spent unknown")
    elif target is not None:
        text = lang.gettext("ε = %(eps)s spent of a target of %(target)s", eps=lang.num(eps),
                            target=lang.num(target))
    else:
        text = lang.gettext("ε = %(eps)s spent", eps=lang.num(eps))
    if as_number(delta) is not None:
        text += " " + lang.gettext("(δ = %(delta)s)", delta=lang.num(delta))
    return text


def dp_claim_view(gen: Mapping[str, Any], lang: Lang) -> dict[str, Any] | None:
    """The ``dp-claim`` check of a private generator: the empirical lower bound on ε its
    membership attacks show, beside the ε it claims (``None`` for a non-private one)."""
    claim = as_map(gen.get("dp_claim"))
    status = as_text(claim.get("status"))
    if status not in ("pass", "fail", "cannot-certify"):
        return None
    values = {"bound": lang.num(claim.get("epsilon_lower_bound")),
              "claim": lang.num(claim.get("claimed_epsilon")),
              "level": lang.pct(claim.get("level"))}
    if status == "fail":
        text = lang.gettext("The membership attacks refute the claimed ε: they show ε ≥ "
                            "%(bound)s with %(level)s confidence, above the claimed %(claim)s. "
                            "No generator with that guarantee could show this.", **values)
    elif status == "pass":
        text = lang.gettext("The membership attacks show ε ≥ %(bound)s with %(level)s "
                            "confidence, at or below the claimed %(claim)s: the claim is not "
                            "refuted (this does not prove it).", **values)
    else:
        text = lang.gettext("No membership attack gave evidence to test the claimed ε "
                            "%(claim)s.", **values)
    row = (lang.gettext("≥ %(bound)s (claimed %(claim)s)", **values) if status != "cannot-certify"
           else lang.gettext("not tested"))
    return {"st": status_view(status, lang), "text": text, "row": row,
            "refuted": status == "fail"}


def metric_view(metric: Mapping[str, Any], catalog: Mapping[str, Any], lang: Lang,
                minimum: int = DEFAULT_MIN_CELL_SIZE) -> dict[str, Any]:
    """One utility metric: title, value with its interval, description, figures, details."""
    name = as_text(metric.get("metric"), "?")
    info = as_map(catalog.get(name))
    interval = as_map(metric.get("interval"))
    ok = not metric.get("error")
    return {
        "name": name, "title": lang.plugin(as_text(info.get("title")) or name),
        "value": lang.num(metric.get("value")),
        "interval": (lang.interval(interval.get("low"), interval.get("high"),
                                   interval.get("level")) if interval else ""),
        "description": lang.plugin(as_text(metric.get("description")
                                           or info.get("description"))),
        "error": "" if ok else lang.plugin(as_text(metric.get("error"))),
        "figures": figures_view(metric.get("figures"), lang, minimum) if ok else [],
        "details": [(as_text(k), detail_value(k, v, lang, minimum))
                    for k, v in as_map(metric.get("details")).items()],
    }


def generator_view(gen: Mapping[str, Any], result: Mapping[str, Any], index: int,
                    lang: Lang, minimum: int = DEFAULT_MIN_CELL_SIZE) -> dict[str, Any]:
    """One generator: budget, settings, metrics."""
    catalog = as_map(result.get("catalog"))
    name = as_text(gen.get("name"), lang.gettext("generator %(n)s", n=index + 1))
    spent, budget = as_map(gen.get("spent")), as_map(gen.get("budget"))
    private = bool(gen.get("is_private", spent.get("is_private", False))) and \
        spent.get("is_private", True) is not False
    sdet = as_map(spent.get("details"))
    none = lang.gettext("none")
    claim = dp_claim_view(gen, lang) if private else None
    budget_rows = [
        (lang.gettext("Differentially private"),
         lang.gettext("claimed, refuted by this audit") if claim and claim["refuted"]
         else lang.gettext("yes") if private else lang.gettext("NO")),
        (lang.gettext("Target ε (epsilon)"), lang.num(budget.get("epsilon")) if budget else none),
        (lang.gettext("Spent ε (epsilon)"),
         lang.num(spent.get("epsilon")) if private else lang.gettext("unbounded (∞)")),
        *([(lang.gettext("Empirical lower bound on ε (dp-claim)"), claim["row"])] if claim
          else []),
        (lang.gettext("Target δ (delta)"), lang.num(budget.get("delta")) if budget else none),
        (lang.gettext("Spent δ (delta)"), lang.num(spent.get("delta"))),
        (lang.gettext("Accountant"), lang.plugin(as_text(spent.get("accountant")))
         or lang.gettext("n/a")),
        (lang.gettext("Noise multiplier"), lang.num(sdet.get("noise_multiplier"))),
    ]
    if private:  # which random source drew the DP noise (seeded and reproducible, or secure)
        budget_rows.append((lang.gettext("Noise source"),
                            lang.plugin(as_text(sdet.get("noise_source")))
                            or lang.gettext("not stated")))
    budget_details = [(as_text(k), fmt_detail(v, lang)) for k, v in sdet.items()
                      if k not in ("noise_multiplier", "noise_source")]
    attacks = as_list(gen.get("attacks"))
    verdicts = [(as_text(p), status_view(s, lang)) for p, s in as_map(gen.get("verdicts")).items()]
    return {
        "index": index, "anchor": f"gen-{index}", "name": name,
        "description": lang.plugin(as_text(gen.get("description"))),
        "gated": bool(gen.get("gated", True)),
        "private": private, "status": as_text(gen.get("status"), "ok"),
        "error": as_text(gen.get("error")) if gen.get("error") else "",
        "n_synthetic": lang.count(gen.get("n_synthetic")),
        "budget_text": epsilon_text(spent, budget, private, lang),
        "budget_rows": budget_rows, "budget_details": budget_details, "dp_claim": claim,
        "params": [(as_text(k), fmt_detail(v, lang)) for k, v in as_map(gen.get("params")).items()],
        "verdicts": verdicts,
        "failed_attacks": [as_text(a.get("attack"), "?") for a in map(as_map, attacks)
                           if as_text(a.get("status"), "ok") != "ok" or "error" in a],
        "metrics": [metric_view(as_map(m), as_map(catalog.get("metrics")), lang, minimum)
                    for m in as_list(gen.get("metrics"))],
    }


def _unit(entry: Mapping[str, Any], lang: Lang) -> str:
    """What a ledger entry's epsilon protects; entries of other units are summed all the same.
    "-" for a non-private fit, "not recorded" for an entry from before the ledger stored it."""
    unit = as_text(entry.get("unit"))
    if unit == "per person":
        return lang.gettext("per person")
    if unit == "per row":
        return lang.gettext("per row")
    if unit:
        return unit
    return "-" if entry.get("epsilon") is None else lang.gettext("not recorded")


def ledger_view(result: Mapping[str, Any], lang: Lang) -> dict[str, Any] | None:
    """The privacy ledger: spending over time, when a ledger is in use."""
    ledger = as_map(result.get("ledger"))
    if not ledger:
        return None
    entries = [as_map(e) for e in as_list(ledger.get("entries"))]
    total = ledger.get("total_epsilon")
    spent = ledger.get("spent_epsilon")
    rows = [(lang.datetime(e.get("time")), as_text(e.get("generator"), "?"),
             lang.num(e.get("epsilon")), lang.num(e.get("delta")), _unit(e, lang),
             lang.plugin(as_text(e.get("accountant"))), lang.plugin(as_text(e.get("status")))
             + (" " + lang.gettext("(ε refuted)") if e.get("dp_claim") == "refuted" else ""))
            for e in entries]
    # Since entries carry this_audit, operator and host, this audit's fits and every other fit
    # on the data set (earlier audits, other people's) are shown in separate tables.
    marked = any("this_audit" in e for e in entries)

    def who(e: Mapping[str, Any]) -> tuple[str, str, str]:
        return (as_text(e.get("operator"), lang.gettext("unknown")),
                as_text(e.get("host"), lang.gettext("unknown")),
                as_text(e.get("audit_id"), "-")[:8])

    this_rows = [row + who(e)[:2] for row, e in zip(rows, entries, strict=True)
                 if e.get("this_audit") is True]
    other_rows = [row + who(e) for row, e in zip(rows, entries, strict=True)
                  if e.get("this_audit") is not True]
    split = lang.gettext("This audit spent ε %(this)s; other fits on this data set (earlier "
                         "audits, other people) spent ε %(others)s.",
                         this=lang.num(ledger.get("this_audit_epsilon")),
                         others=lang.num(ledger.get("others_epsilon"))) if marked else ""
    units = {as_text(e.get("unit")) for e in entries} - {""}
    mixed = lang.gettext("The entries protect different units (per person, per row); their ε "
                         "are summed all the same.") if len(units) > 1 else ""
    total_v, spent_v = as_number(total), as_number(spent)
    if total_v is not None and spent_v is not None:
        summary = lang.gettext("ε %(spent)s spent of a total of %(total)s (remaining "
                               "%(remaining)s)", spent=lang.num(spent_v),
                               total=lang.num(total_v), remaining=lang.num(total_v - spent_v))
    else:
        summary = lang.gettext("ε %(spent)s spent in all (no total budget is set)",
                               spent=lang.num(spent))
    return {
        "path": as_text(ledger.get("path")), "fingerprint": as_text(ledger.get("fingerprint")),
        "summary": summary, "rows": rows, "marked": marked, "this_rows": this_rows,
        "other_rows": other_rows, "split": split, "mixed_units": mixed,
        "chart": charts.ledger_chart(entries, total, lang.gettext(
            "Privacy budget spent over time (cumulative ε)"), lang=lang),
    }


def vulnerability_view(result: Mapping[str, Any], lang: Lang, minimum: int
                        ) -> dict[str, Any] | None:
    """Counts and combinations of the most exposed records; never a record itself.

    Combinations describing fewer than ``minimum`` records, or covering every
    quasi-identifier (a whole quasi-identifier tuple), are left out defensively.
    """
    vul = as_map(result.get("vulnerability"))
    if not vul:
        return None
    qis = {as_text(c.get("name")) for c in (as_map(x) for x in as_list(as_map(result.get("schema"))
                                                          .get("columns")))
           if as_text(c.get("role")) == "quasi-identifier"}
    combos, dropped = [], 0
    for combo in as_list(vul.get("standout_combinations")):
        combo = as_map(combo)
        n = as_number(combo.get("n_records"))
        cols = [as_text(c) for c in as_list(combo.get("columns"))]
        if n is None or n < minimum or (qis and qis <= set(cols)):
            dropped += 1
            continue
        values = [lang.gettext("missing") if v is None else
                  lang.num(v, 6) if as_number(v) is not None else as_text(v)
                  for v in as_list(combo.get("values"))]
        combos.append({"pairs": [(c, values[i] if i < len(values) else "?")
                                 for i, c in enumerate(cols)], "n": lang.count(n)})
    n_ranked = suppressed_count(vul.get("n_records_ranked"), minimum, lang)
    n_high = suppressed_count(vul.get("n_high_risk"), minimum, lang)
    if as_number(vul.get("n_train")) is not None:
        n_ranked = lang.gettext("%(n)s of the %(total)s training records", n=n_ranked,
                                total=lang.count(vul.get("n_train")))
    unit_rows, people_summary = _people_rows(vul, as_map(result.get("privacy_unit")), lang,
                                             minimum)
    threshold = as_number(vul.get("high_risk_threshold"))
    rule = (lang.gettext(
        "A record is at high risk when, in at least one attack, its own risk is at least "
        "%(t)s: for a membership attack, it looks more like a training member than %(pct)s of "
        "people never used for training (about 1 in 100 training records do by chance alone); "
        "for identity disclosure, matching it to the right person succeeds with probability "
        "%(t)s or more. This is a threshold, not a share of the table: the count can be 0.",
        t=lang.num(threshold), pct=lang.pct(threshold)) if threshold is not None
        else lang.plugin(as_text(vul.get("rule"))))
    return {
        "file": as_text(vul.get("file"), "vulnerable_records.csv"),
        "n_ranked": n_ranked, "n_high": n_high, "rule": rule, "combos": combos,
        "dropped": dropped, "unit_rows": unit_rows,
        "summary": lang.gettext("Records at high risk: %(high)s. Training records with some "
                                "exposure in at least one attack: %(ranked)s. The records are "
                                "listed by row number in %(file)s (personal data), never here.",
                                high=n_high, ranked=n_ranked,
                                file=as_text(vul.get("file"), "vulnerable_records.csv"))
        + people_summary,
    }


def _people_rows(vul: Mapping[str, Any], unit: Mapping[str, Any], lang: Lang, minimum: int
                 ) -> tuple[list[tuple[str, str]], str]:
    """The vulnerability section's unit and (per person) people counts, as table rows and a
    sentence for the summary; nothing for a document without a unit (older results)."""
    if as_text(vul.get("unit")) == "per row":
        return [(lang.gettext("Unit"), lang.gettext(
            "per row: every record is taken for a different person"))], ""
    if as_text(vul.get("unit")) != "per person":
        return [], ""
    file = as_text(vul.get("people_file"), "vulnerable_people.csv")
    ranked = suppressed_count(vul.get("n_people_ranked"), minimum, lang)
    high = suppressed_count(vul.get("n_people_high_risk"), minimum, lang)
    if as_number(unit.get("people")) is not None:
        ranked = lang.gettext("%(n)s of the %(total)s training people", n=ranked,
                              total=lang.count(unit.get("people")))
    return [(lang.gettext("Unit"), lang.gettext(
                "per person: a person is as exposed as their most exposed record (column "
                "%(column)s)", column=as_text(unit.get("person_column"), "?"))),
            (lang.gettext("People with some exposure (listed in %(file)s)", file=file), ranked),
            (lang.gettext("People at high risk"), high)], " " + lang.gettext(
                "People at high risk: %(high)s; with some exposure: %(ranked)s (listed in "
                "%(file)s).", high=high, ranked=ranked, file=file)
