"""The two pages a release is decided on: page 1 says what was tested and released, what
decided the verdict in plain terms and how useful the data is beside how risky; page 2 holds
the checks with their power and the sign-off block.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from privgate.reports.common import as_list, as_map, as_number, as_text, status_of
from privgate.reports.i18n import Lang
from privgate.reports.view_checks import check_view, deciding, kind_label
from privgate.reports.words import finding, plugin_text

#: Most deciding findings page 1 spells out.
MAX_FINDINGS = 3


def released_view(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The synthetic files the audit released, per generator, with their SHA-256."""
    out: dict[str, dict[str, Any]] = {}
    for item in as_list(result.get("released")):
        item = as_map(item)
        gen = as_text(item.get("generator"), "?")
        entry = out.setdefault(gen, {"generator": gen, "rows": item.get("rows"), "files": []})
        sha = as_text(item.get("sha256"))
        entry["files"].append({"file": as_text(item.get("file")),
                               "format": as_text(item.get("format")).upper(), "sha256": sha})
    return list(out.values())


def findings_view(result: Mapping[str, Any], checks: list[Mapping[str, Any]], lang: Lang,
                  values: Mapping[str, str]) -> dict[str, Any]:
    """The checks that decided the verdict, each in plain words with its numbers and power."""
    decided = deciding(result, checks, lang, limit=MAX_FINDINGS)
    items = []
    for check in decided["raw"]:
        view = check_view(check, lang)
        sentence = finding(check, lang, values)
        items.append({**view, "kind": kind_label(view["risk_kind"], lang),
                      "sentence": sentence or view["message"],
                      "short": _short_reason(check, view, lang) if sentence else ""})
    others = [c for c in checks if c.get("gated", True)
              and status_of(c.get("status")) not in ("pass", status_of(result.get("verdict")))]
    note = ""
    if others and status_of(result.get("verdict")) != "pass":
        note = lang.ngettext("One other gated check did not pass either (page 2).",
                             "%(num)s other gated checks did not pass either (page 2).",
                             len(others), num=lang.count(len(others)))
    refuted = [as_text(g.get("name"), "?") for g in map(as_map, as_list(result.get("generators")))
               if g.get("gated", True) and as_map(g.get("dp_claim")).get("gated") is True
               and as_map(g.get("dp_claim")).get("status") == "fail"]
    if refuted:  # a refuted DP claim fails the gate by itself (privgate.dp_claim)
        note = " ".join(x for x in (note, lang.gettext(
            "The claimed ε of %(names)s is refuted by the membership attacks (dp-claim), "
            "which fails the release on its own (see Generators).",
            names=", ".join(refuted))) if x)
    return {"text": decided["text"], "entries": items, "note": note}


def _short_reason(check: Mapping[str, Any], view: Mapping[str, Any], lang: Lang) -> str:
    """What keeps a check from passing, in a few words (its numbers are in the sentence)."""
    power = view["power"]
    if power["certifiable"] is False:
        return lang.gettext("It cannot be certified on this table.")
    if status_of(check.get("status")) == "cannot-certify" and power["needed"]:
        return lang.gettext("Certifying it needs about %(need)s trials; %(have)s ran.",
                            need=power["needed"], have=power["trials"])
    return ""


def _distinguishability(gen: Mapping[str, Any], lang: Lang) -> tuple[str, str, str] | None:
    """How well a classifier tells real from synthetic rows: the AUROC of the attack whose
    risk kind is distinguishability (its typed ``auroc`` estimate; the risk if it has none)."""
    for att in as_list(gen.get("attacks")):
        att = as_map(att)
        if as_text(att.get("risk_kind")) != "distinguishability":
            continue
        auroc = as_map(att.get("auroc"))
        if as_number(auroc.get("value")) is not None:
            shown = lang.gettext("AUROC %(auroc)s", auroc=lang.num(auroc.get("value")))
            interval = as_map(auroc.get("interval"))
            if interval:
                shown += " " + lang.interval(interval.get("low"), interval.get("high"))
            return (lang.gettext("Real and synthetic rows told apart"), shown,
                    lang.gettext("0.5: no better than chance; 1: always"))
        if as_number(att.get("risk")) is not None:
            return (lang.gettext("Real and synthetic rows told apart"),
                    lang.num(att.get("risk")),
                    lang.gettext("0: a classifier cannot tell them apart; 1: always can"))
    return None


def _metric_row(metric: Mapping[str, Any], title: str, lang: Lang, values: Mapping[str, str]
                ) -> tuple[str, str, str]:
    """One metric's headline, with its value before the synthetic data when it has one."""
    if metric.get("error"):
        return title, lang.gettext("not computed"), ""
    shown = lang.num(metric.get("value"))
    interval = as_map(metric.get("interval"))
    if interval:
        shown += " " + lang.interval(interval.get("low"), interval.get("high"))
    if as_number(metric.get("baseline")) is None or as_number(metric.get("value")) is None:
        return title, shown, ""
    before = plugin_text(as_text(metric.get("baseline_description")), lang, values)
    return title, shown, lang.gettext("%(before_what)s: %(before)s", before=lang.num(
        metric.get("baseline")), before_what=before or lang.gettext("without synthetic data"))


def utility_view(result: Mapping[str, Any], lang: Lang, values: Mapping[str, str]
                 ) -> list[dict[str, Any]]:
    """Per gated generator: its headline usefulness figures (realism, metrics) beside its
    worst risk, so that page 1 shows what the release costs and what it is worth."""
    catalog = as_map(as_map(result.get("catalog")).get("metrics"))
    checks = [as_map(c) for c in as_list(result.get("checks"))]
    out = []
    for gen in map(as_map, as_list(result.get("generators"))):
        if not gen.get("gated", True) or gen.get("status") == "error":
            continue
        name = as_text(gen.get("name"), "?")
        rows = []
        told = _distinguishability(gen, lang)
        if told:
            rows.append(told)
        for metric in map(as_map, as_list(gen.get("metrics"))):
            info = as_map(catalog.get(as_text(metric.get("metric"))))
            title = plugin_text(as_text(info.get("title")) or as_text(metric.get("metric")),
                                lang, values)
            rows.append(_metric_row(metric, title, lang, values))
        mine = [c for c in checks if as_text(c.get("generator")) == name
                and c.get("gated", True) and as_number(c.get("ci_high")) is not None]
        worst = max(mine, key=lambda c: (as_number(c.get("ci_high")) or 0)
                    / max(as_number(c.get("threshold")) or 1e-12, 1e-12), default=None)
        out.append({"name": name, "rows": rows, "worst": None if worst is None else {
            "kind": kind_label(as_text(worst.get("risk_kind")), lang),
            "high": lang.num(worst.get("ci_high")), "thr": lang.num(worst.get("threshold"))}})
    return out


def ledger_line(result: Mapping[str, Any], lang: Lang) -> str:
    """This audit's privacy spend, apart from what other fits on the data set spent."""
    ledger = as_map(result.get("ledger"))
    if not ledger:
        return ""
    this, others = ledger.get("this_audit_epsilon"), ledger.get("others_epsilon")
    if as_number(this) is None:
        text = lang.gettext("ε %(spent)s spent on this data set in all (this audit's share "
                            "is not recorded)", spent=lang.num(ledger.get("spent_epsilon")))
    else:
        text = lang.gettext("this audit spent ε %(this)s", this=lang.num(this))
        if as_number(others):
            text += "; " + lang.gettext("other fits on this data set (earlier audits, other "
                                        "people) spent ε %(others)s", others=lang.num(others))
    total = as_number(ledger.get("total_epsilon"))
    if total is not None:
        text += "; " + lang.gettext("ε %(spent)s of the total budget %(total)s is used",
                                    spent=lang.num(ledger.get("spent_epsilon")),
                                    total=lang.num(total))
    return text


def privacy_unit_line(result: Mapping[str, Any], lang: Lang) -> str:
    """What the DP generators' epsilon protects (each row, or each person) and what the attacks
    count (``results.json["privacy_unit"]``; empty for older results)."""
    unit = as_map(result.get("privacy_unit"))
    if not unit:
        return ""
    column = as_text(unit.get("person_column"))
    if not column:
        return lang.gettext("ε protects each row; the attacks count rows (no person column "
                            "declared)")
    people = lang.count(unit.get("people"))
    if as_text(unit.get("epsilon_protects")) == "per person":
        return lang.gettext("ε protects each person (%(people)s people in training, by column "
                            "%(column)s); the attacks count people", people=people,
                            column=column)
    return lang.gettext("ε protects each row: a person with k rows is protected at about k × ε "
                        "(here up to %(k)s rows per person); the attacks count people "
                        "(%(people)s in training, by column %(column)s)",
                        k=lang.count(unit.get("max_rows_per_person")), people=people,
                        column=column)


__all__ = ["findings_view", "ledger_line", "privacy_unit_line", "released_view",
           "utility_view"]
