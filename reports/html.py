"""The HTML reporter: one self-contained, printable ``report.html`` a compliance officer can sign.

The page is rendered by Jinja2 with autoescaping on, from ``templates/report.html.j2`` with
``templates/report.css`` inlined in a ``<style>`` element. It has no JavaScript, loads nothing
(a Content-Security-Policy forbids it) and shows charts as inline SVG built by
:mod:`privgate.reports.charts`, the only markup that bypasses autoescaping. Every sentence is a
gettext message (:mod:`privgate.reports.i18n`), so the report exists in English and Korean.

This module turns the result document into a *view model* (plain dicts of already-formatted
strings and numbers) so that the template stays declarative. Every lookup is defensive: plugin
attacks and metrics may add or omit keys, and an error anywhere must still produce a report.
The report only ever shows what the result document holds; it never reads data. Counts over
real records below the minimum cell size are suppressed.

The finished page is sealed (:func:`privgate.verify.seal_html`): it carries the SHA-256 of the
``results.json`` it came from and of itself, which ``privgate verify`` checks.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from privgate.redact import strip_controls
from privgate.reporting import KeyValues, Paragraph, Reporter, ReportSection, Table
from privgate.reports import charts
from privgate.reports.charts import STATUS_LABELS, status_label
from privgate.reports.i18n import Lang
from privgate.results import result_sha256
from privgate.verify import AUDIT_META, REPORT_META, RESULTS_META, audit_id, seal_html

TEMPLATE_PACKAGE = "privgate.reports.templates"

#: Symbols shown next to each status so that colour is never the only signal.
STATUS_SYMBOLS = {"pass": "✓", "fail": "✗", "cannot-certify": "?", "error": "!"}

#: Default smallest count over real records that a report may show.
DEFAULT_MIN_CELL_SIZE = 10

#: Longest rendering of one technical detail value before it is cut (keeps the file small).
MAX_DETAIL_CHARS = 600

#: References of the built-in utility metrics (used when the catalog gives none).
METRIC_REFERENCES = {
    "hellinger": ("E. Hellinger, Neue Begründung der Theorie quadratischer Formen von "
                  "unendlichvielen Veränderlichen, J. reine angew. Math. 136 (1909).",),
    "correlation": ("H. Cramér, Mathematical Methods of Statistics, Princeton (1946).",),
    "tstr": ("C. Esteban, S. L. Hyland, G. Rätsch, Real-valued (Medical) Time Series Generation "
             "with Recurrent Conditional GANs, arXiv:1706.02633 (2017).",),
}

#: Order of the attack families in the report; kinds not listed follow, sorted.
FAMILY_ORDER = ("singling-out", "linkability", "inference", "membership",
                "identity-disclosure", "distinguishability")


def _d(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def _l(value: Any) -> list[Any]:
    """``value`` as a list if it is a list or tuple, else an empty list."""
    return list(value) if isinstance(value, list | tuple) else []


def _s(value: Any, default: str = "") -> str:
    """``value`` as text; ``default`` when missing."""
    return default if value is None else str(value)


def _num(value: Any) -> float | None:
    return charts._num(value)


def _status(value: Any) -> str:
    """A known status string; anything else counts as ``error``."""
    text = _s(value, "error")
    return text if text in STATUS_LABELS else "error"


def status_view(value: Any, lang: Lang) -> dict[str, str]:
    """Label, symbol and CSS class of a status."""
    status = _status(value)
    return {"status": status, "label": status_label(status, lang),
            "symbol": STATUS_SYMBOLS[status], "cls": f"st-{status}"}


def verdict_sentence(status: str, lang: Lang) -> str:
    """What the overall verdict means, in one or two plain sentences."""
    if status == "pass":
        return lang.gettext(
            "Every gated privacy check passed: for each attack, even the pessimistic end of "
            "the estimated risk (the upper bound of its confidence interval) is at or below the "
            "policy's threshold.")
    if status == "fail":
        return lang.gettext(
            "At least one gated privacy check failed: the measured risk is above the policy's "
            "threshold. This synthetic data should not be released as it is.")
    if status == "cannot-certify":
        return lang.gettext(
            "The audit could not show that the risk is below the threshold, usually because "
            "the attacks ran too few trials to be sure. This is not a pass: do not release "
            "without further evidence.")
    return lang.gettext(
        "The audit did not complete: at least one generator or attack failed to run, so no "
        "conclusion can be drawn. Do not release on the basis of this report.")


def family_text(kind: str, lang: Lang) -> tuple[str, str, str]:
    """Title, plain-language paragraph and assumptions of an attack family (risk kind)."""
    if kind == "singling-out":
        return (lang.gettext("Singling out"), lang.gettext(
            "Could someone use the synthetic data to describe exactly one real person (for "
            "example 'the only 87-year-old man in this town') and be right? The risk is the "
            "share of such descriptions that hit a real training record, beyond what hits "
            "people who were never used for training."), lang.gettext(
            "The attacker sees only the synthetic data. Success is measured against the "
            "training records and corrected by the same attack on held-back control records."))
    if kind == "linkability":
        return (lang.gettext("Linkability"), lang.gettext(
            "If an attacker holds two separate pieces of information about the same people, "
            "can the synthetic data help them join the two pieces together, and so learn more "
            "about each person?"), lang.gettext(
            "The attacker knows two disjoint sets of columns of some training records; "
            "nearest neighbours in the synthetic data link them. Control records give the "
            "chance level."))
    if kind == "inference":
        return (lang.gettext("Attribute inference"), lang.gettext(
            "Knowing some facts about a person (such as age and sex), can an attacker guess a "
            "sensitive fact about them (such as a test result) better from the synthetic data "
            "than from general knowledge about the population?"), lang.gettext(
            "The attacker knows the quasi-identifiers of a target and guesses the sensitive "
            "column from the closest synthetic record; the control records show what is "
            "guessable for anyone."))
    if kind == "membership":
        return (lang.gettext("Membership inference"), lang.gettext(
            "Can an attacker tell whether a particular person's record was used to train the "
            "generator? Knowing that someone is in a hospital's data can itself be "
            "sensitive."), lang.gettext(
            "The attacker holds a full record and the synthetic data, and scores how close "
            "the synthetic rows come to it. Training records are members, control records "
            "non-members; the ROC curve shows every trade-off between hits and false "
            "alarms."))
    if kind == "identity-disclosure":
        return (lang.gettext("Identity disclosure"), lang.gettext(
            "Could an attacker match synthetic records back to real individuals and so learn "
            "who is in the data and what is recorded about them?"), lang.gettext(
            "The attacker matches records on quasi-identifiers; how many matches are correct "
            "is measured on the training records against control records."))
    if kind == "distinguishability":
        return (lang.gettext("Distinguishability"), lang.gettext(
            "How easily can a computer tell real rows from synthetic ones? A score near zero "
            "means the synthetic rows look like real ones; this measures realism more than "
            "privacy."), lang.gettext(
            "A classifier is trained to separate real from synthetic rows and scored on rows "
            "it did not see; a score at chance level means the two cannot be told apart."))
    return (kind or lang.gettext("Other risks"), lang.gettext(
        "A kind of risk reported by a plugin; see each attack's own explanation below."),
        lang.gettext("See the attack's own description and references."))


def metric_text(name: str, lang: Lang) -> tuple[str, str]:
    """Title and assumptions of a built-in utility metric (the name itself for others)."""
    if name == "hellinger":
        return (lang.gettext("Column distributions (Hellinger distance, average)"),
                lang.gettext("Compares each column on its own; says nothing about how columns "
                             "relate. Numbers are binned, so fine detail is not compared."))
    if name == "correlation":
        return (lang.gettext("Relationships between columns (correlation difference)"),
                lang.gettext("Pairwise associations only (Pearson or Spearman, Cramér's V, "
                             "correlation ratio); relations among three or more columns are "
                             "not compared."))
    if name == "tstr":
        return (lang.gettext("Usefulness for machine learning (TSTR AUROC)"),
                lang.gettext("One prediction task on one target column with one model type; "
                             "other analyses may fare better or worse."))
    return name, lang.gettext("See the metric's description.")


def fmt_detail(value: Any, lang: Lang) -> str:
    """A technical detail value as short text (compact JSON for nested values)."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool) or value is None:
        text = json.dumps(value)
    elif isinstance(value, int | float):
        text = lang.num(value, 4)
    else:
        try:
            text = json.dumps(value, default=str, ensure_ascii=False)
        except (TypeError, ValueError):
            text = str(value)
    if len(text) > MAX_DETAIL_CHARS:
        text = text[:MAX_DETAIL_CHARS] + lang.gettext(
            "… (%(n)s characters, cut)", n=lang.count(len(text)))
    return text


#: Count-like detail names that are settings or synthetic-side sizes, not counts of records.
NOT_RECORD_COUNTS = frozenset({
    "n_cols", "n_columns", "n_neighbors", "n_components", "n_jobs", "n_estimators", "n_bins",
    "n_pairs", "n_pairs_undefined", "n_classes", "n_splits", "n_folds", "n_resamples",
    "n_shadow", "n_queries_generated", "n_synthetic", "n_synthetic_density"})


def _is_count(key: Any) -> bool:
    """Whether a detail's name says it counts records (``n_success``, ``match_count``, ...)."""
    name = str(key).lower()
    if name in NOT_RECORD_COUNTS:
        return False
    return name.startswith("n_") or name.endswith("count") or name.endswith("_counts")


def detail_value(key: Any, value: Any, lang: Lang, minimum: int) -> str:
    """A technical detail as text; a small count (below the minimum cell size) suppressed.

    Attack and metric details may hold counts over real records (successful attacks,
    matches); any whole number under a count-like name below ``minimum`` is shown as 'fewer
    than N', failing closed for counts that are not about records.
    """
    x = _num(value)
    if _is_count(key) and x is not None and x.is_integer():
        return suppressed_count(x, minimum, lang)
    return fmt_detail(value, lang)


def min_cell_size(result: Mapping[str, Any]) -> int:
    """The smallest count over real records the report may show (config ``[report]``)."""
    for value in (result.get("min_cell_size"),
                  _d(_d(result.get("config")).get("report")).get("min_cell_size")):
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
    return DEFAULT_MIN_CELL_SIZE


def result_lang(result: Mapping[str, Any]) -> str:
    """The report language the result document asks for (English by default)."""
    return _s(result.get("lang") or _d(_d(result.get("config")).get("report")).get("lang"),
              "en")


def suppressed_count(value: Any, minimum: int, lang: Lang) -> str:
    """A count over real records, or 'fewer than N' when it is below the minimum cell size."""
    x = _num(value)
    if x is None:
        return lang.gettext("n/a")
    if 0 < x < minimum:
        return lang.gettext("fewer than %(n)s", n=lang.count(minimum))
    return lang.count(x)


def _epsilon_text(spent: Mapping[str, Any], budget: Mapping[str, Any], private: bool,
                  lang: Lang) -> str:
    """Plain words for the privacy budget of one generator."""
    if not private:
        return lang.gettext("not differentially private (no privacy guarantee)")
    eps, target = _num(spent.get("epsilon")), _num(budget.get("epsilon"))
    delta = spent.get("delta", budget.get("delta"))
    if eps is None:
        text = lang.gettext("ε spent unknown")
    elif target is not None:
        text = lang.gettext("ε = %(eps)s spent of a target of %(target)s", eps=lang.num(eps),
                            target=lang.num(target))
    else:
        text = lang.gettext("ε = %(eps)s spent", eps=lang.num(eps))
    if _num(delta) is not None:
        text += " " + lang.gettext("(δ = %(delta)s)", delta=lang.num(delta))
    return text


def check_message(check: Mapping[str, Any], lang: Lang) -> str:
    """Why a check has its status, in the report's language (built from the numbers)."""
    status = _status(check.get("status"))
    level = lang.level(check.get("confidence_level"))
    hi, thr = lang.num(check.get("ci_high")), lang.num(check.get("threshold"))
    cert = _d(check.get("certification"))
    if status == "pass":
        return lang.gettext("pass: the upper %(level)s bound %(high)s is at or below the "
                            "threshold %(thr)s", level=level, high=hi, thr=thr)
    if status == "fail":
        return lang.gettext("fail: even the lower bound %(low)s is above the threshold "
                            "%(thr)s", low=lang.num(check.get("ci_low")), thr=thr) \
            if (_num(check.get("ci_low")) or 0) > (_num(check.get("threshold")) or 0) else \
            lang.gettext("fail: the upper %(level)s bound %(high)s is above the threshold "
                         "%(thr)s", level=level, high=hi, thr=thr)
    if status == "cannot-certify":
        need = cert.get("trials_needed", check.get("trials_needed"))
        have = cert.get("trials_available", check.get("n_trials"))
        if _num(need) is not None and _num(have) is not None and _num(need) > _num(have):
            return lang.gettext(
                "cannot certify: the upper %(level)s bound %(high)s is above the threshold "
                "%(thr)s, and with %(have)s trials no result could get below it; it needs "
                "about %(need)s records", level=level, high=hi, thr=thr,
                have=lang.count(have), need=lang.count(need))
        return lang.gettext("cannot certify: the upper %(level)s bound %(high)s is above the "
                            "threshold %(thr)s", level=level, high=hi, thr=thr)
    message = _s(check.get("message"))
    return message or lang.gettext("the check could not be evaluated")


def _check_view(check: Mapping[str, Any], lang: Lang) -> dict[str, Any]:
    """One check, formatted."""
    return {
        "policy": _s(check.get("policy"), "?"), "generator": _s(check.get("generator"), "?"),
        "attack": _s(check.get("attack"), "?"), "risk_kind": _s(check.get("risk_kind")),
        "risk": lang.num(check.get("risk")),
        "interval": lang.interval(check.get("ci_low"), check.get("ci_high"),
                                  check.get("confidence_level")),
        "threshold": lang.num(check.get("threshold")), "n_trials": lang.count(
            check.get("n_trials")),
        "message": check_message(check, lang), "gated": bool(check.get("gated", True)),
        "st": status_view(check.get("status"), lang),
    }


def _margin(check: Mapping[str, Any]) -> float:
    """How close a check came to its threshold (upper bound / threshold; larger = closer)."""
    hi, thr = _num(check.get("ci_high")), _num(check.get("threshold"))
    if hi is None or thr is None:
        return math.inf
    return hi / thr if thr > 0 else (math.inf if hi > 0 else 0.0)


def _deciding(result: Mapping[str, Any], checks: list[Mapping[str, Any]], lang: Lang
              ) -> dict[str, Any]:
    """Which one or two checks decided the verdict, in words and as a list."""
    verdict = _status(result.get("verdict"))
    gated = [c for c in checks if c.get("gated", True)]
    if not gated:
        return {"text": lang.gettext("No gated check was run, so nothing could be certified."),
                "checks": []}
    if verdict == "pass":
        closest = max(gated, key=_margin)
        return {"text": lang.ngettext(
            "The one gated check passed:",
            "All %(num)s gated checks passed. The closest to its threshold was:", len(gated)),
            "checks": [_check_view(closest, lang)]}
    deciding = [c for c in gated if _status(c.get("status")) == verdict]
    if not deciding:
        deciding = [c for c in gated if _status(c.get("status")) != "pass"]
    deciding.sort(key=_margin, reverse=True)
    text = lang.gettext("%(num)s of %(total)s gated checks decided this verdict",
                        num=lang.count(len(deciding)), total=lang.count(len(gated)))
    if len(deciding) > 2:
        text += lang.gettext("; the two furthest above their thresholds:")
    else:
        text += lang.gettext(":")
    return {"text": text, "checks": [_check_view(c, lang) for c in deciding[:2]]}


def _attack_entry(att: Mapping[str, Any], gen_name: str, checks: list[Mapping[str, Any]],
                  lang: Lang, minimum: int) -> dict[str, Any]:
    """One attack on one generator: estimate, interval, thresholds, ROC and details."""
    name = _s(att.get("attack"), "?")
    details = _d(att.get("details"))
    ok = _s(att.get("status"), "ok") == "ok" and "error" not in att
    roc_chart = None
    roc = _d(details.get("roc"))
    if ok and roc:
        roc_chart = charts.roc_curve(
            roc, lang.gettext("ROC curve of %(attack)s on %(generator)s", attack=name,
                              generator=gen_name), auroc=details.get("auroc"), lang=lang)
    tpr_at = []
    for k, v in _d(details.get("tpr_at_fpr")).items():
        fpr = _safe_float(k)
        tpr_at.append((lang.pct(fpr) if fpr is not None else _s(k), lang.pct(v)))
    shown = []
    for key, value in details.items():
        if key == "roc":
            n = len(_l(_d(value).get("fpr")))
            value = lang.gettext("%(n)s points (drawn above, thinned for display)",
                                 n=lang.count(n))
        shown.append((_s(key), detail_value(key, value, lang, minimum)))
    mine = [c for c in checks if _s(c.get("generator")) == gen_name
            and _s(c.get("attack")) == name]
    level = _num(att.get("confidence_level"))
    auroc_ci = _l(details.get("auroc_ci"))
    return {
        "generator": gen_name, "ok": ok, "error": _s(att.get("error"), lang.gettext(
            "unknown error")),
        "risk": lang.num(att.get("risk")), "risk_pct": lang.pct(att.get("risk")),
        "interval": lang.interval(att.get("ci_low"), att.get("ci_high"), level),
        "interval_method": _s(att.get("interval_method"), lang.gettext("not stated")),
        "baseline": lang.num(att.get("baseline")),
        "baseline_description": _s(att.get("baseline_description")),
        "n_trials": lang.count(att.get("n_trials")),
        "auroc": lang.num(details.get("auroc")),
        "auroc_ci": (lang.interval(auroc_ci[0], auroc_ci[1], level)
                     if len(auroc_ci) >= 2 else ""),
        "has_auroc": _num(details.get("auroc")) is not None,
        "tpr_at_fpr": tpr_at, "details": shown, "roc_chart": roc_chart,
        "checks": [_check_view(c, lang) for c in mine],
    }


def _safe_float(text: Any) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _families(result: Mapping[str, Any], checks: list[Mapping[str, Any]], lang: Lang,
              minimum: int) -> list[dict[str, Any]]:
    """Attack results grouped by risk kind, then attack, then generator."""
    catalog = _d(_d(result.get("catalog")).get("attacks"))
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for g_index, gen in enumerate(_l(result.get("generators"))):
        gen = _d(gen)
        gname = _s(gen.get("name"), lang.gettext("generator %(n)s", n=g_index + 1))
        for att in _l(gen.get("attacks")):
            att = _d(att)
            name = _s(att.get("attack"), "?")
            info = _d(catalog.get(name))
            kind = _s(att.get("risk_kind") or info.get("risk_kind"), "")
            attacks = by_kind.setdefault(kind, {})
            entry = attacks.setdefault(name, {
                "name": name, "description": _s(info.get("description")),
                "explanation": _s(info.get("explanation")),
                "references": [_s(r) for r in _l(info.get("references"))], "runs": []})
            entry["runs"].append(_attack_entry(att, gname, checks, lang, minimum))
    order = [k for k in FAMILY_ORDER if k in by_kind] + sorted(
        k for k in by_kind if k not in FAMILY_ORDER)
    out = []
    for i, kind in enumerate(order):
        title, text, assumptions = family_text(kind, lang)
        out.append({"kind": kind, "anchor": f"family-{i}", "title": title, "text": text,
                    "assumptions": assumptions, "attacks": list(by_kind[kind].values())})
    return out


def _metric_view(metric: Mapping[str, Any], catalog: Mapping[str, Any], gen_name: str,
                 lang: Lang, minimum: int = DEFAULT_MIN_CELL_SIZE) -> dict[str, Any]:
    """One utility metric, formatted by kind (hellinger, correlation, tstr, other)."""
    name = _s(metric.get("metric"), "?")
    details = _d(metric.get("details"))
    view: dict[str, Any] = {
        "name": name, "title": metric_text(name, lang)[0], "kind": "other",
        "value": lang.num(metric.get("value")),
        "description": _s(metric.get("description") or _d(catalog.get(name)).get("description")),
        "error": _s(metric.get("error")) if metric.get("error") else "",
        "details": [(_s(k), detail_value(k, v, lang, minimum)) for k, v in details.items()],
    }
    if name == "hellinger" and _d(details.get("per_column")):
        view["kind"] = "hellinger"
        view["chart"] = charts.bar_chart(
            _d(details.get("per_column")),
            lang.gettext("Hellinger distance per column, %(generator)s (0 = identical "
                         "distributions)", generator=gen_name), xmax=None, lang=lang)
    elif name == "correlation" and _l(details.get("abs_diff")):
        view["kind"] = "correlation"
        cols = [_s(c) for c in _l(details.get("columns"))]
        pairs = []
        matrix = [_l(r) for r in _l(details.get("abs_diff"))]
        for i, row in enumerate(matrix):
            for j in range(i + 1, len(row)):
                v = _num(row[j])
                if v is not None:
                    a = cols[i] if i < len(cols) else f"#{i}"
                    b = cols[j] if j < len(cols) else f"#{j}"
                    pairs.append((v, a, b))
        pairs.sort(key=lambda p: -p[0])
        vals = [p[0] for p in pairs]
        view["n_pairs"] = lang.count(len(pairs))
        view["max_diff"] = lang.num(max(vals)) if vals else lang.gettext("n/a")
        view["mean_diff"] = lang.num(sum(vals) / len(vals)) if vals else lang.gettext("n/a")
        view["top_pairs"] = [(a, b, lang.num(v)) for v, a, b in pairs[:5]]
        names = cols + [f"#{i}" for i in range(len(cols), len(matrix))]
        view["chart"] = charts.heatmap(
            names, matrix, lang.gettext("Difference between real and synthetic correlations, "
                                        "%(generator)s (darker = larger)", generator=gen_name),
            lang=lang)
    elif name == "tstr" and (_d(details.get("tstr")) or _d(details.get("trtr"))):
        view["kind"] = "tstr"
        tstr, trtr = _d(details.get("tstr")), _d(details.get("trtr"))
        rows = []
        for key, label in (("accuracy", lang.gettext("Accuracy")), ("auroc", "AUROC")):
            if key not in tstr and key not in trtr:
                continue
            ci_s, ci_r = _l(tstr.get(f"{key}_ci")), _l(trtr.get(f"{key}_ci"))
            diff = (_num(tstr.get(key)), _num(trtr.get(key)))
            rows.append({
                "label": label, "tstr": lang.num(tstr.get(key)), "trtr": lang.num(trtr.get(key)),
                "tstr_ci": lang.interval(ci_s[0], ci_s[1]) if len(ci_s) >= 2 else "",
                "trtr_ci": lang.interval(ci_r[0], ci_r[1]) if len(ci_r) >= 2 else "",
                "gap": (lang.num(diff[0] - diff[1]) if diff[0] is not None
                        and diff[1] is not None else lang.gettext("n/a"))})
        view["target"] = _s(details.get("target"), "?")
        view["rows"] = rows
    elif name == "augmentation" and _d(details.get("arms")):
        view["kind"] = "augmentation"
        labels = {"real": lang.gettext("Real rows only"),
                  "real+smote": lang.gettext("Real rows + SMOTE rows"),
                  "real+generator": lang.gettext("Real rows + generated minority rows")}
        arms = []
        given = _d(details.get("arms"))
        order = [k for k in ("real", "real+smote", "real+generator") if k in given]
        for key in order + [k for k in given if k not in order]:
            arm = _d(given[key])
            cells = []
            for measure in ("recall", "precision", "f1", "auroc", "accuracy"):
                ci = _l(arm.get(f"{measure}_ci"))
                cells.append({"value": lang.num(arm.get(measure)),
                              "ci": lang.interval(ci[0], ci[1]) if len(ci) >= 2 else ""})
            arms.append({"label": labels.get(_s(key), _s(key)), "cells": cells,
                         "skipped": _s(arm.get("skipped")) if arm.get("skipped") else ""})
        view["arms"] = arms
        view["target"] = _s(details.get("target"), "?")
        view["minority"] = _s(details.get("minority_class"), "?")
    return view


def _generator_view(gen: Mapping[str, Any], result: Mapping[str, Any], index: int,
                    lang: Lang, minimum: int = DEFAULT_MIN_CELL_SIZE) -> dict[str, Any]:
    """One generator: budget, settings, metrics."""
    catalog = _d(result.get("catalog"))
    name = _s(gen.get("name"), lang.gettext("generator %(n)s", n=index + 1))
    spent, budget = _d(gen.get("spent")), _d(gen.get("budget"))
    private = bool(gen.get("is_private", spent.get("is_private", False))) and \
        spent.get("is_private", True) is not False
    sdet = _d(spent.get("details"))
    none = lang.gettext("none")
    budget_rows = [
        (lang.gettext("Differentially private"),
         lang.gettext("yes") if private else lang.gettext("NO")),
        (lang.gettext("Target ε (epsilon)"), lang.num(budget.get("epsilon")) if budget else none),
        (lang.gettext("Spent ε (epsilon)"),
         lang.num(spent.get("epsilon")) if private else lang.gettext("unbounded (∞)")),
        (lang.gettext("Target δ (delta)"), lang.num(budget.get("delta")) if budget else none),
        (lang.gettext("Spent δ (delta)"), lang.num(spent.get("delta"))),
        (lang.gettext("Accountant"), _s(spent.get("accountant"), lang.gettext("n/a"))),
        (lang.gettext("Noise multiplier"), lang.num(sdet.get("noise_multiplier"))),
    ]
    for key, value in sdet.items():
        if key != "noise_multiplier":
            budget_rows.append((_s(key), fmt_detail(value, lang)))
    verdicts = [(_s(p), status_view(s, lang)) for p, s in _d(gen.get("verdicts")).items()]
    return {
        "index": index, "anchor": f"gen-{index}", "name": name,
        "description": _s(gen.get("description")), "gated": bool(gen.get("gated", True)),
        "private": private, "status": _s(gen.get("status"), "ok"),
        "error": _s(gen.get("error")) if gen.get("error") else "",
        "n_synthetic": lang.count(gen.get("n_synthetic")),
        "budget_text": _epsilon_text(spent, budget, private, lang),
        "budget_rows": budget_rows,
        "params": [(_s(k), fmt_detail(v, lang)) for k, v in _d(gen.get("params")).items()],
        "verdicts": verdicts,
        "failed_attacks": [_s(_d(a).get("attack"), "?") for a in _l(gen.get("attacks"))
                           if _s(_d(a).get("status"), "ok") != "ok" or "error" in _d(a)],
        "metrics": [_metric_view(_d(m), _d(catalog.get("metrics")), name, lang, minimum)
                    for m in _l(gen.get("metrics"))],
    }


def _ledger_view(result: Mapping[str, Any], lang: Lang) -> dict[str, Any] | None:
    """The privacy ledger: spending over time, when a ledger is in use."""
    ledger = _d(result.get("ledger"))
    if not ledger:
        return None
    entries = [_d(e) for e in _l(ledger.get("entries"))]
    total = ledger.get("total_epsilon")
    spent = ledger.get("spent_epsilon")
    rows = [(lang.datetime(e.get("time")), _s(e.get("generator"), "?"),
             lang.num(e.get("epsilon")), lang.num(e.get("delta")), _s(e.get("accountant")),
             _s(e.get("status"))) for e in entries]
    # Since entries carry this_audit, operator and host, this audit's fits and every other fit
    # on the data set (earlier audits, other people's) are shown in separate tables.
    marked = any("this_audit" in e for e in entries)

    def who(e: Mapping[str, Any]) -> tuple[str, str, str]:
        return (_s(e.get("operator"), lang.gettext("unknown")),
                _s(e.get("host"), lang.gettext("unknown")), _s(e.get("audit_id"), "-")[:8])

    this_rows = [row + who(e)[:2] for row, e in zip(rows, entries, strict=True)
                 if e.get("this_audit") is True]
    other_rows = [row + who(e) for row, e in zip(rows, entries, strict=True)
                  if e.get("this_audit") is not True]
    split = lang.gettext("This audit spent ε %(this)s; other fits on this data set (earlier "
                         "audits, other people) spent ε %(others)s.",
                         this=lang.num(ledger.get("this_audit_epsilon")),
                         others=lang.num(ledger.get("others_epsilon"))) if marked else ""
    total_v, spent_v = _num(total), _num(spent)
    if total_v is not None and spent_v is not None:
        summary = lang.gettext("ε %(spent)s spent of a total of %(total)s (remaining "
                               "%(remaining)s)", spent=lang.num(spent_v),
                               total=lang.num(total_v), remaining=lang.num(total_v - spent_v))
    else:
        summary = lang.gettext("ε %(spent)s spent in all (no total budget is set)",
                               spent=lang.num(spent))
    return {
        "path": _s(ledger.get("path")), "fingerprint": _s(ledger.get("fingerprint")),
        "summary": summary, "rows": rows, "marked": marked, "this_rows": this_rows,
        "other_rows": other_rows, "split": split,
        "chart": charts.ledger_chart(entries, total, lang.gettext(
            "Privacy budget spent over time (cumulative ε)"), lang=lang),
    }


def _vulnerability_view(result: Mapping[str, Any], lang: Lang, minimum: int
                        ) -> dict[str, Any] | None:
    """Counts and combinations of the most exposed records; never a record itself.

    Combinations describing fewer than ``minimum`` records, or covering every
    quasi-identifier (a whole quasi-identifier tuple), are left out defensively.
    """
    vul = _d(result.get("vulnerability"))
    if not vul:
        return None
    qis = {_s(c.get("name")) for c in (_d(x) for x in _l(_d(result.get("schema"))
                                                          .get("columns")))
           if _s(c.get("role")) == "quasi-identifier"}
    combos, dropped = [], 0
    for combo in _l(vul.get("standout_combinations")):
        combo = _d(combo)
        n = _num(combo.get("n_records"))
        cols = [_s(c) for c in _l(combo.get("columns"))]
        if n is None or n < minimum or (qis and qis <= set(cols)):
            dropped += 1
            continue
        values = [lang.gettext("missing") if v is None else
                  lang.num(v, 6) if _num(v) is not None else _s(v)
                  for v in _l(combo.get("values"))]
        combos.append({"pairs": [(c, values[i] if i < len(values) else "?")
                                 for i, c in enumerate(cols)], "n": lang.count(n)})
    return {
        "file": _s(vul.get("file"), "vulnerable_records.csv"),
        "n_ranked": suppressed_count(vul.get("n_records_ranked"), minimum, lang),
        "n_high": suppressed_count(vul.get("n_high_risk"), minimum, lang),
        "rule": _s(vul.get("rule")), "combos": combos, "dropped": dropped,
    }


def _methodology(result: Mapping[str, Any], families: list[dict[str, Any]], lang: Lang
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
    catalog = _d(_d(result.get("catalog")).get("metrics"))
    for name, info in catalog.items():
        title, assumptions = metric_text(_s(name), lang)
        refs = [_s(r) for r in _l(_d(info).get("references"))] or list(
            METRIC_REFERENCES.get(_s(name), ()))
        metrics.append({"name": _s(name), "title": title,
                        "description": _s(_d(info).get("description")),
                        "assumptions": assumptions, "references": refs})
    return {"attacks": attacks, "metrics": metrics}


def _section_view(section: ReportSection, index: int, lang: Lang) -> dict[str, Any]:
    """A contributed section as a list of typed blocks of plain text."""
    blocks: list[dict[str, Any]] = []
    for block in section.blocks:
        if isinstance(block, Paragraph):
            blocks.append({"type": "p", "text": _s(block.text)})
        elif isinstance(block, Table):
            blocks.append({"type": "table", "caption": _s(block.caption),
                           "headers": [_s(h) for h in block.headers],
                           "rows": [[fmt_detail(c, lang) for c in row] for row in block.rows]})
        elif isinstance(block, KeyValues):
            blocks.append({"type": "kv",
                           "pairs": [(_s(k), fmt_detail(v, lang)) for k, v in block.items]})
        else:
            blocks.append({"type": "p", "text": _s(block)})
    return {"anchor": f"section-{index}", "title": _s(section.title),
            "plugin": _s(section.plugin), "blocks": blocks}


def _warnings(result: Mapping[str, Any], gens: list[dict[str, Any]], lang: Lang
              ) -> list[dict[str, Any]]:
    """What a reader must know before trusting the verdict."""
    warnings = []
    dd = [_s(c) for c in _l(result.get("data_dependent_domains"))]
    if dd:
        warnings.append({"title": lang.gettext("Some column domains were read from the data"),
                         "text": lang.gettext(
                             "These columns' categories or bounds were read from the real data "
                             "and are not privacy-protected: the synthetic data may reveal, for "
                             "example, that a rare category exists. Declare them in the schema "
                             "from public sources to fix this."), "names": dd})
    for g in gens:
        if not g["private"]:
            text = lang.gettext("This generator is not differentially private: its output "
                                "carries no formal privacy guarantee.") + " "
            text += (lang.gettext("It is gated, so the verdict depends on it.") if g["gated"]
                     else lang.gettext("It is a baseline for comparison only and does not "
                                       "affect the verdict."))
            warnings.append({"title": lang.gettext("Generator %(name)s is not private",
                                                   name=g["name"]), "text": text, "names": []})
        if g["status"] != "ok" or g["error"]:
            warnings.append({"title": lang.gettext("Generator %(name)s failed", name=g["name"]),
                             "text": g["error"] or lang.gettext(
                                 "The generator did not produce data."), "names": []})
        if g["failed_attacks"]:
            warnings.append({"title": lang.gettext("Attacks failed on %(name)s", name=g["name"]),
                             "text": lang.gettext("These attacks did not produce a result; a "
                                                  "failed gated attack makes the verdict "
                                                  "'error'."), "names": g["failed_attacks"]})
    return warnings


def third_party_label(policy: Mapping[str, Any], lang: Lang) -> str:
    """"third-party policy from DIST VERSION" for a policy privgate does not ship, else ""."""
    if policy.get("builtin", True) is not False:
        return ""
    return lang.gettext("third-party policy from %(dist)s %(version)s",
                        dist=_s(policy.get("distribution"), lang.gettext("unknown")),
                        version=_s(policy.get("version"), "")).strip()


def build_context(result: Mapping[str, Any], sections: Sequence[ReportSection],
                  lang: Lang | None = None, minimum: int | None = None,
                  results_sha256: str | None = None) -> dict[str, Any]:
    """The template's view model for ``result``.

    ``results_sha256`` is the SHA-256 of the ``results.json`` file the result was read from;
    by default that of its canonical serialisation (what the JSON reporter writes).
    """
    lang = lang or Lang.get(result_lang(result))
    minimum = minimum or min_cell_size(result)
    checks = [_d(c) for c in _l(result.get("checks"))]
    gens = [_generator_view(_d(g), result, i, lang, minimum)
            for i, g in enumerate(_l(result.get("generators")))]
    families = _families(result, checks, lang, minimum)
    dataset = _d(result.get("dataset"))
    verdict = status_view(result.get("verdict"), lang)
    policies = []
    for pol in _l(result.get("policies")):
        pol = _d(pol)
        pname = _s(pol.get("name"), "?")
        pchecks = [c for c in checks if _s(c.get("policy")) == pname]
        policies.append({
            "name": pname, "title": _s(pol.get("title"), pname),
            "third_party": third_party_label(pol, lang),
            "description": _s(pol.get("description")),
            "thresholds": [(_s(k), lang.num(v)) for k, v in _d(pol.get("thresholds")).items()],
            "references": [_s(r) for r in _l(pol.get("references"))],
            "st": status_view(pol.get("verdict"), lang),
            "forest": charts.forest_plot(pchecks, lang.gettext(
                "Risk estimates with confidence intervals against the thresholds of policy "
                "%(policy)s", policy=pname), lang=lang) if pchecks else None,
        })
    env = _d(result.get("environment"))
    stamps = _d(result.get("timestamps"))
    level = _num(result.get("confidence_level"))
    return {
        "lang": lang.code, "min_cell_size": lang.count(minimum),
        "title": _s(result.get("title"), lang.gettext("privgate audit")),
        "verdict": verdict, "verdict_sentence": verdict_sentence(verdict["status"], lang),
        "exit_code": _s(result.get("exit_code"), lang.gettext("n/a")),
        "deciding": _deciding(result, checks, lang),
        "dataset": {
            "name": _s(dataset.get("name"), lang.gettext("unknown")),
            "source": _s(dataset.get("source")),
            "sha256": _s(dataset.get("sha256"), lang.gettext("unknown")),
            "n_rows": lang.count(dataset.get("n_rows")),
            "n_train": lang.count(dataset.get("n_train")),
            "n_control": lang.count(dataset.get("n_control")),
            "n_columns": lang.count(len(_l(dataset.get("columns")))),
            "dropped": [_s(c) for c in _l(dataset.get("dropped_columns"))]},
        "schema": {"source": _s(_d(result.get("schema")).get("source"), lang.gettext("unknown")),
                   "n_columns": lang.count(len(_l(_d(result.get("schema")).get("columns"))))},
        "warnings": _warnings(result, gens, lang), "policies": policies,
        "checks": [_check_view(c, lang) for c in checks], "generators": gens,
        "families": families, "ledger": _ledger_view(result, lang),
        "vulnerability": _vulnerability_view(result, lang, minimum),
        "methodology": _methodology(result, families, lang),
        "sections": [_section_view(s, i, lang) for i, s in
                     enumerate(sorted(sections, key=lambda s: (s.order, s.title)))],
        "confidence": lang.level(level if level is not None else 0.95),
        "started": lang.datetime(stamps.get("started_at")),
        "finished": lang.datetime(stamps.get("finished_at")),
        "durations": [(_s(k), lang.num(v)) for k, v in _d(stamps.get("durations_s")).items()],
        # the audit's own time, not the wall clock: re-rendering gives the same bytes
        "generated": lang.datetime(stamps.get("finished_at")),
        "config_json": json.dumps(result.get("config", {}), indent=2, sort_keys=True,
                                  default=str, ensure_ascii=False),
        "config_sha256": _s(result.get("config_sha256"), lang.gettext("unknown")),
        "seed": _s(result.get("seed"), lang.gettext("n/a")),
        "privgate_version": _s(result.get("privgate_version"), lang.gettext("unknown")),
        "schema_version": _s(result.get("schema_version"), lang.gettext("unknown")),
        "python": _s(env.get("python"), lang.gettext("unknown")),
        "platform": _s(env.get("platform"), ""),
        "packages": [(_s(k), _s(v)) for k, v in _d(env.get("packages")).items()],
        "plugins": [{"plugin": _s(_d(p).get("plugin"), "?"),
                     "distribution": _s(_d(p).get("distribution")),
                     "version": _s(_d(p).get("version")),
                     "provides": "; ".join(f"{k}: {', '.join(_s(x) for x in _l(v))}"
                                           for k, v in _d(_d(p).get("provides")).items())}
                    for p in _l(env.get("plugins"))],
        "results_sha256": results_sha256 or result_sha256(result),
        "audit_id": audit_id(result),
        "meta": {"results": RESULTS_META, "report": REPORT_META, "audit": AUDIT_META},
    }


def environment(lang: Lang) -> jinja2.Environment:
    """The Jinja2 environment: package templates, autoescaping, i18n, strict undefined.

    One per language, kept for the process: compiling the templates is most of a render's cost.
    """
    return _environment(lang.code)


@lru_cache(maxsize=4)
def _environment(code: str) -> jinja2.Environment:
    lang = Lang.get(code)
    root = resources.files(TEMPLATE_PACKAGE)
    loader = jinja2.FunctionLoader(
        lambda name: root.joinpath(name).read_text(encoding="utf-8"))
    env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True,
                             extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(lang._t, newstyle=True)  # type: ignore[attr-defined]
    return env


def render(result: Mapping[str, Any], sections: Sequence[ReportSection] = (),
           lang: str | None = None, min_cells: int | None = None,
           results_sha256: str | None = None) -> str:
    """The report's HTML as a string, sealed (see :mod:`privgate.verify`).

    Args:
        result: the result document (what ``results.json`` holds).
        sections: contributed report sections.
        lang: report language; default the result's ``lang`` (English if absent).
        min_cells: smallest count over real records shown; default the result's.
        results_sha256: SHA-256 of the results.json file (default: of its canonical text).
    """
    language = Lang.get(lang or result_lang(result))
    env = environment(language)
    css = resources.files(TEMPLATE_PACKAGE).joinpath("report.css").read_text(encoding="utf-8")
    charts.restart_ids()  # the same document always renders to the same bytes
    context = build_context(result, sections, language, min_cells, results_sha256)
    html = env.get_template("report.html.j2").render(css=Markup(css), **context)
    # a lone surrogate from a plugin's string must not lose the report; control characters
    # (escape sequences, NUL, bidi overrides) cannot be escaped in HTML, so they are removed
    html = strip_controls(html.encode("utf-8", errors="replace").decode("utf-8"))
    return seal_html(html)


class HtmlReporter(Reporter):
    """A self-contained HTML report for people: verdict first, then the evidence.

    ``lang`` and ``min_cell_size`` override the result document's settings (``privgate report
    --lang``); by default the report uses what the audit's ``[report]`` config said.
    ``results_sha256`` is the hash of the results.json file being re-rendered, when known.
    """

    format = "html"
    filename = "report.html"
    description = "Self-contained, printable HTML report for compliance review."

    def __init__(self, lang: str | None = None, min_cell_size: int | None = None,
                 results_sha256: str | None = None) -> None:
        self.lang = lang
        self.min_cell_size = min_cell_size
        self.results_sha256 = results_sha256

    def render(self, result: Mapping[str, Any], sections: Sequence[ReportSection]) -> str:
        """The HTML text of the report."""
        return render(result, sections, self.lang, self.min_cell_size, self.results_sha256)

    def write(self, result: Mapping[str, Any], sections: Sequence[ReportSection],
              out_dir: Path) -> Path:
        """Write the report as the exact bytes that were sealed (no newline translation)."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / self.filename
        path.write_bytes(self.render(result, sections).encode("utf-8"))
        return path
