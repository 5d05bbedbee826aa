"""The attacks as the report shows them: one section per risk kind (attack family), each attack
with its estimate, interval, baseline and thresholds per generator, and its typed evidence drawn
the same way for every attack, built-in or not: the ROC curve, the AUROC with its interval, TPR
at fixed false-positive rates, trials planned and run, and the figures it returned.

Evidence is rebuilt from the result document with the checks of :mod:`privgate.evidence`; what
does not fit is left out. Documents written before results schema 1.1 carried the evidence in
``details`` under the keys ``roc``, ``auroc``, ``auroc_ci`` and ``tpr_at_fpr``; those keys are
read only for such documents (:func:`attack_evidence`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from privgate.evidence import (
    Estimate,
    Interval,
    RocCurve,
    probability_estimate,
    tpr_at_fpr_from_plain,
)
from privgate.plain import PlainError
from privgate.reports import charts
from privgate.reports.blocks import figures_view
from privgate.reports.common import (
    as_list,
    as_map,
    as_number,
    as_text,
    detail_value,
)
from privgate.reports.i18n import Lang
from privgate.reports.view_checks import check_view
from privgate.reports.words import column_values, on_this_table, plugin_text

#: Results schema versions whose attacks kept their evidence in ``details``.
LEGACY_SCHEMAS = ("1.0",)


def _(message: str) -> str:
    """Marks ``message`` for the catalogs (see :mod:`privgate.reports.i18n`); translated when
    the report is rendered."""
    return message


#: Per risk kind, in the order of the report's attack families (kinds not listed follow,
#: sorted): title, plain-language paragraph, and what the attacker is assumed to know.
FAMILIES: dict[str, tuple[str, str, str]] = {
    "singling-out": (_("Singling out"), _(
        "Could someone use the synthetic data to describe exactly one real person (for "
        "example 'the only 87-year-old man in this town') and be right? The risk is the "
        "share of such descriptions that hit a real training record, beyond what hits "
        "people who were never used for training."), _(
        "The attacker sees only the synthetic data. Success is measured against the "
        "training records and corrected by the same attack on held-back control records.")),
    "linkability": (_("Linkability"), _(
        "If an attacker holds two separate pieces of information about the same people, "
        "can the synthetic data help them join the two pieces together, and so learn more "
        "about each person?"), _(
        "The attacker knows two disjoint sets of columns of some training records; "
        "nearest neighbours in the synthetic data link them. Control records give the "
        "chance level.")),
    "inference": (_("Attribute inference"), _(
        "Knowing some facts about a person (such as age and sex), can an attacker guess a "
        "sensitive fact about them (such as a test result) better from the synthetic data "
        "than from general knowledge about the population?"), _(
        "The attacker knows the quasi-identifiers of a target and guesses the sensitive "
        "column from the closest synthetic record; the control records show what is "
        "guessable for anyone.")),
    "membership": (_("Membership inference"), _(
        "Can an attacker tell whether a particular person's record was used to train the "
        "generator? Knowing that someone is in a hospital's data can itself be "
        "sensitive."), _(
        "The attacker holds a full record and the synthetic data (some attacks also "
        "real records it knows were not used for training) and scores how likely the "
        "record is to have been a member; each attack's own description says how. "
        "Training records are members, control records non-members; the ROC curve shows "
        "every trade-off between hits and false alarms.")),
    "identity-disclosure": (_("Identity disclosure"), _(
        "Could an attacker match synthetic records back to real individuals and so learn "
        "who is in the data and what is recorded about them?"), _(
        "The attacker matches records on quasi-identifiers; how many matches are correct "
        "is measured on the training records against control records.")),
    "verbatim-copy": (_("Verbatim copies"), _(
        "Does the synthetic data contain exact copies of real training records, beyond what "
        "chance gives? A copy of a record that is unique gives that whole person away."), _(
        "The attacker looks for synthetic rows identical, in every column, to a training "
        "record no other training record shares; control records show how often that "
        "happens by chance.")),
    "membership-low-fpr": (_("Membership at few false alarms"), _(
        "Can an attacker pick out some training members while almost never wrongly accusing "
        "an outsider? An attack that is rarely but surely right harms the few it finds, even "
        "when its average advantage is small."), _(
        "The attacker sets its bar on control records so that about 1 outsider in 1,000 is "
        "flagged, then counts the training members and the other outsiders above it.")),
    "canary-membership": (_("Canary audit of the claimed ε"), _(
        "Does the generator keep the privacy promise it states? Planted test records, each "
        "shown to the generator on a coin toss, are looked for in its output; right guesses "
        "beyond chance put a lower bound on the true ε, held against the claim in the "
        "dp-claim check."), _(
        "The attacker knows the planted records and the synthetic output of one extra "
        "training run, never the coin tosses; it guesses only where its evidence is "
        "strongest.")),
    "distinguishability": (_("Distinguishability"), _(
        "How easily can a computer tell real rows from synthetic ones? A score near zero "
        "means the synthetic rows look like real ones; this measures realism more than "
        "privacy."), _(
        "A classifier is trained to separate real from synthetic rows and scored on rows "
        "it did not see; a score at chance level means the two cannot be told apart.")),
}


def family_text(kind: str, lang: Lang) -> tuple[str, str, str]:
    """Title, plain-language paragraph and assumptions of an attack family (risk kind)."""
    if kind in FAMILIES:
        title, text, assumptions = (lang.gettext(m) for m in FAMILIES[kind])
        return title, text, assumptions
    return (kind or lang.gettext("Other risks"), lang.gettext(
        "A kind of risk reported by a plugin; see each attack's own explanation below."),
        lang.gettext("See the attack's own description and references."))


def legacy(result: Mapping[str, Any]) -> bool:
    """Whether ``result`` was written before attacks had typed evidence (schema 1.0)."""
    return as_text(result.get("schema_version")) in LEGACY_SCHEMAS


def _parsed(build: Any, *args: Any) -> Any:
    try:
        return build(*args)
    except PlainError:
        return None


def attack_evidence(att: Mapping[str, Any], old: bool
                    ) -> tuple[RocCurve | None, Estimate | None, dict[float, float]]:
    """The ROC curve, AUROC and TPR at FPR of an attack document, each checked (``None`` or
    empty when absent or malformed). ``old``: read them from a 1.0 document's ``details``."""
    if not old:
        roc = att.get("roc")
        return (None if roc is None else _parsed(RocCurve.from_plain, roc),
                _parsed(probability_estimate, att.get("auroc"), "auroc"),
                _parsed(tpr_at_fpr_from_plain, att.get("tpr_at_fpr")) or {})
    details = as_map(att.get("details"))
    roc = details.get("roc")
    auroc, ci = as_number(details.get("auroc")), as_list(details.get("auroc_ci"))
    level = as_number(att.get("confidence_level"))
    interval = (_parsed(Interval, ci[0], ci[1], level, "") if len(ci) == 2 and level else None)
    return (None if roc is None else _parsed(RocCurve.from_plain, roc),
            None if auroc is None else _parsed(Estimate, auroc, interval),
            _parsed(tpr_at_fpr_from_plain, details.get("tpr_at_fpr")) or {})


def _trials(att: Mapping[str, Any], lang: Lang) -> str:
    """'400 attack trials', or '400 attack trials of 500 planned' when fewer ran."""
    run, planned = as_number(att.get("n_trials")), as_number(att.get("trials_planned"))
    if run is not None and planned is not None and planned > run:
        return lang.gettext("%(run)s attack trials of %(planned)s planned",
                            run=lang.count(run), planned=lang.count(planned))
    return lang.gettext("%(run)s attack trials", run=lang.count(run))


def attack_entry(att: Mapping[str, Any], gen_name: str, checks: list[Mapping[str, Any]],
                 lang: Lang, minimum: int, old: bool) -> dict[str, Any]:
    """One attack on one generator: estimate, interval, thresholds, evidence and details."""
    name = as_text(att.get("attack"), "?")
    ok = as_text(att.get("status"), "ok") == "ok" and "error" not in att
    roc, auroc, tpr_at = attack_evidence(att, old) if ok else (None, None, {})
    level = as_number(att.get("confidence_level"))
    shown = []
    for key, value in as_map(att.get("details")).items():
        if old and key == "roc":
            value = lang.gettext("%(n)s points (drawn above, thinned for display)",
                                 n=lang.count(len(as_list(as_map(value).get("fpr")))))
        shown.append((as_text(key), detail_value(key, value, lang, minimum)))
    mine = [c for c in checks if as_text(c.get("generator")) == gen_name
            and as_text(c.get("attack")) == name]
    return {
        "generator": gen_name, "ok": ok, "error": as_text(att.get("error"), lang.gettext(
            "unknown error")),
        "risk": lang.num(att.get("risk")), "risk_pct": lang.pct(att.get("risk")),
        "interval": lang.interval(att.get("ci_low"), att.get("ci_high"), level),
        "interval_method": lang.plugin(as_text(att.get("interval_method")))
        or lang.gettext("not stated"),
        "baseline": lang.num(att.get("baseline")),
        "baseline_description": lang.plugin(as_text(att.get("baseline_description"))),
        "trials": _trials(att, lang),
        "has_auroc": auroc is not None,
        "auroc": "" if auroc is None else lang.num(auroc.value),
        "auroc_ci": ("" if auroc is None or auroc.interval is None else lang.interval(
            auroc.interval.low, auroc.interval.high, auroc.interval.level)),
        "tpr_at_fpr": [(lang.pct(f), lang.pct(t)) for f, t in tpr_at.items()],
        "roc_chart": None if roc is None else charts.roc_chart(
            roc, lang.gettext("ROC curve of %(attack)s on %(generator)s", attack=name,
                              generator=gen_name), auroc, lang),
        "figures": figures_view(att.get("figures"), lang, minimum) if ok else [],
        "details": shown, "checks": [check_view(c, lang) for c in mine],
    }


def families(result: Mapping[str, Any], checks: list[Mapping[str, Any]], lang: Lang,
             minimum: int) -> list[dict[str, Any]]:
    """Attack results grouped by risk kind, then attack, then generator."""
    old = legacy(result)
    values = column_values(result, lang)
    catalog = as_map(as_map(result.get("catalog")).get("attacks"))
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for g_index, gen in enumerate(as_list(result.get("generators"))):
        gen = as_map(gen)
        gname = as_text(gen.get("name"), lang.gettext("generator %(n)s", n=g_index + 1))
        for att in as_list(gen.get("attacks")):
            att = as_map(att)
            name = as_text(att.get("attack"), "?")
            info = as_map(catalog.get(name))
            kind = as_text(att.get("risk_kind") or info.get("risk_kind"), "")
            attacks = by_kind.setdefault(kind, {})
            entry = attacks.setdefault(name, {
                "name": name, "description": plugin_text(info.get("description"), lang, values),
                "explanation": plugin_text(info.get("explanation"), lang, values),
                "references": [as_text(r) for r in as_list(info.get("references"))], "runs": []})
            entry["runs"].append(attack_entry(att, gname, checks, lang, minimum, old))
    order = [k for k in FAMILIES if k in by_kind] + sorted(
        k for k in by_kind if k not in FAMILIES)
    out = []
    for i, kind in enumerate(order):
        title, text, assumptions = family_text(kind, lang)
        out.append({"kind": kind, "anchor": f"family-{i}", "title": title, "text": text,
                    "on_table": on_this_table(kind, lang, values),
                    "assumptions": assumptions, "attacks": list(by_kind[kind].values())})
    return out


def methodology(result: Mapping[str, Any], families: list[dict[str, Any]], lang: Lang
                 ) -> dict[str, Any]:
    """Per attack and metric: what it assumes, how its interval is made, references."""
    attacks = []
    for fam in families:
        for att in fam["attacks"]:
            methods = sorted({r["interval_method"] for r in att["runs"] if r["ok"]})
            baselines = sorted({r["baseline_description"] for r in att["runs"]
                                if r["baseline_description"]})
            attacks.append({"name": att["name"], "family": fam["title"],
                            "description": att["description"],
                            "assumptions": fam["assumptions"],
                            "methods": "; ".join(methods) or lang.gettext("not stated"),
                            "baselines": "; ".join(baselines) or lang.gettext("not stated"),
                            "references": att["references"]})
    metrics = []
    values = column_values(result, lang)
    for name, info in as_map(as_map(result.get("catalog")).get("metrics")).items():
        info = as_map(info)
        metrics.append({"name": as_text(name),
                        "title": plugin_text(as_text(info.get("title")) or name, lang, values),
                        "description": plugin_text(info.get("description"), lang, values),
                        "assumptions": plugin_text(info.get("assumptions"), lang, values)
                        or lang.gettext("See the metric's description."),
                        "references": [as_text(r) for r in as_list(info.get("references"))]})
    return {"attacks": attacks, "metrics": metrics}
