"""The HTML reporter: one self-contained, printable ``report.html`` a compliance officer can sign.

The page is rendered by Jinja2 with autoescaping on, from ``templates/report.html.j2`` with
``templates/report.css`` inlined in a ``<style>`` element. It has no JavaScript, loads nothing
(a Content-Security-Policy forbids it) and shows charts as inline SVG built by
:mod:`privgate.reports.charts`, the only markup that bypasses autoescaping.

This module turns the result document into a *view model* (plain dicts of already-formatted
strings and numbers) so that the template stays declarative. Every lookup is defensive: plugin
attacks and metrics may add or omit keys, and an error anywhere must still produce a report.
The report only ever shows what the result document holds; it never reads data.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

from privgate.reporting import KeyValues, Paragraph, Reporter, ReportSection, Table
from privgate.reports import charts
from privgate.reports.charts import STATUS_LABELS, fmt

TEMPLATE_PACKAGE = "privgate.reports.templates"

#: Symbols shown next to each status so that colour is never the only signal.
STATUS_SYMBOLS = {"pass": "✓", "fail": "✗", "cannot-certify": "?", "error": "!"}

VERDICT_SENTENCES = {
    "pass": ("Every gated privacy check passed: for each attack, even the pessimistic end of "
             "the estimated risk (the upper bound of its confidence interval) is at or below "
             "the policy's threshold."),
    "fail": ("At least one gated privacy check failed: the measured risk is above the "
             "policy's threshold. This synthetic data should not be released as it is."),
    "cannot-certify": ("The audit could not show that the risk is below the threshold, "
                       "usually because the attacks ran too few trials to be sure. This is "
                       "not a pass: do not release without further evidence."),
    "error": ("The audit did not complete: at least one generator or attack failed to run, "
              "so no conclusion can be drawn. Do not release on the basis of this report."),
}

#: Plain-language headings of the built-in metrics.
METRIC_TITLES = {
    "hellinger": "Column distributions (Hellinger distance, average)",
    "correlation": "Relationships between columns (largest correlation difference)",
    "tstr": "Usefulness for machine learning (TSTR AUROC)",
}

#: Longest rendering of one technical detail value before it is cut (keeps the file small).
MAX_DETAIL_CHARS = 600


def _d(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def _l(value: Any) -> list[Any]:
    """``value`` as a list if it is a list or tuple, else an empty list."""
    return list(value) if isinstance(value, list | tuple) else []


def _s(value: Any, default: str = "") -> str:
    """``value`` as text; ``default`` when missing."""
    return default if value is None else str(value)


def _status(value: Any) -> str:
    """A known status string; anything else counts as ``error``."""
    text = _s(value, "error")
    return text if text in STATUS_LABELS else "error"


def status_view(value: Any) -> dict[str, str]:
    """Label, symbol and CSS class of a status."""
    status = _status(value)
    return {"status": status, "label": STATUS_LABELS[status],
            "symbol": STATUS_SYMBOLS[status], "cls": f"st-{status}"}


def fmt_pct(value: Any) -> str:
    """A proportion as a percentage with up to 3 significant figures ('n/a' when missing)."""
    x = charts._num(value)
    return "n/a" if x is None else f"{x * 100:.3g}%"


def fmt_interval(low: Any, high: Any, level: Any) -> str:
    """'[low, high] (95%)'."""
    if charts._num(low) is None and charts._num(high) is None:
        return "n/a"
    lvl = charts._num(level)
    suffix = f" ({lvl:.0%})" if lvl is not None else ""
    return f"[{fmt(low)}, {fmt(high)}]{suffix}"


def fmt_time(value: Any) -> str:
    """An ISO timestamp as '23 November 2025, 10:41 UTC' (the raw text if it does not parse)."""
    if not value:
        return "unknown"
    try:
        stamp = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(UTC)
        return f"{stamp.day} {stamp:%B %Y, %H:%M} UTC"
    return f"{stamp.day} {stamp:%B %Y, %H:%M}"


def fmt_detail(value: Any) -> str:
    """A technical detail value as short text (compact JSON for nested values)."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool) or value is None:
        text = json.dumps(value)
    elif isinstance(value, int | float):
        text = fmt(value, 4)
    else:
        try:
            text = json.dumps(value, default=str, ensure_ascii=False)
        except (TypeError, ValueError):
            text = str(value)
    if len(text) > MAX_DETAIL_CHARS:
        text = text[:MAX_DETAIL_CHARS] + f"… ({len(text):,} characters, cut)"
    return text


def _epsilon_text(spent: Mapping[str, Any], budget: Mapping[str, Any], private: bool) -> str:
    """Plain words for the privacy budget of one generator."""
    if not private:
        return "not differentially private (no privacy guarantee)"
    eps = charts._num(spent.get("epsilon"))
    target = charts._num(budget.get("epsilon"))
    parts = [f"ε = {fmt(eps)} spent" if eps is not None else "ε spent unknown"]
    if target is not None:
        parts.append(f"of a target of {fmt(target)}")
    delta = spent.get("delta", budget.get("delta"))
    if charts._num(delta) is not None:
        parts.append(f"(δ = {fmt(delta)})")
    return " ".join(parts)


def _check_view(check: Mapping[str, Any]) -> dict[str, Any]:
    """One check, formatted."""
    return {
        "policy": _s(check.get("policy"), "?"), "generator": _s(check.get("generator"), "?"),
        "attack": _s(check.get("attack"), "?"), "risk_kind": _s(check.get("risk_kind")),
        "risk": fmt(check.get("risk")),
        "interval": fmt_interval(check.get("ci_low"), check.get("ci_high"),
                                 check.get("confidence_level")),
        "threshold": fmt(check.get("threshold")), "n_trials": fmt(check.get("n_trials")),
        "trials_needed": fmt(check.get("trials_needed")),
        "message": _s(check.get("message")), "gated": bool(check.get("gated", True)),
        "st": status_view(check.get("status")),
    }


def _margin(check: Mapping[str, Any]) -> float:
    """How close a check came to its threshold (upper bound / threshold; larger = closer)."""
    hi, thr = charts._num(check.get("ci_high")), charts._num(check.get("threshold"))
    if hi is None or thr is None:
        return math.inf
    return hi / thr if thr > 0 else (math.inf if hi > 0 else 0.0)


def _deciding(result: Mapping[str, Any], checks: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Which checks decided the verdict, in words and as a list."""
    verdict = _status(result.get("verdict"))
    gated = [c for c in checks if c.get("gated", True)]
    if not gated:
        return {"text": "No gated check was run, so nothing could be certified.", "checks": []}
    if verdict == "pass":
        closest = max(gated, key=_margin)
        return {"text": (f"All {len(gated)} gated checks passed. The closest to its threshold "
                         "was:"), "checks": [_check_view(closest)]}
    deciding = [c for c in gated if _status(c.get("status")) == verdict]
    if not deciding:
        deciding = [c for c in gated if _status(c.get("status")) != "pass"]
    noun = "check" if len(deciding) == 1 else "checks"
    return {"text": (f"{len(deciding)} of {len(gated)} gated {noun} decided this verdict:"),
            "checks": [_check_view(c) for c in deciding]}


def _attack_view(att: Mapping[str, Any], catalog: Mapping[str, Any], gen_name: str
                 ) -> dict[str, Any]:
    """One attack result of one generator, formatted, with its ROC chart if it has one."""
    name = _s(att.get("attack"), "?")
    info = _d(catalog.get(name))
    details = _d(att.get("details"))
    ok = _s(att.get("status"), "ok") == "ok" and "error" not in att
    roc_chart = None
    roc = _d(details.get("roc"))
    if ok and roc:
        roc_chart = charts.roc_curve(roc, f"ROC curve of {name} on {gen_name}",
                                     auroc=details.get("auroc"))
    tpr_at = [(k, fmt_pct(v)) for k, v in _d(details.get("tpr_at_fpr")).items()]
    shown = []
    for key, value in details.items():
        if key == "roc":
            n = len(_l(_d(value).get("fpr")))
            value = f"{n:,} points (drawn above, thinned for display)"
        shown.append((_s(key), fmt_detail(value)))
    level = charts._num(att.get("confidence_level"))
    return {
        "name": name, "risk_kind": _s(att.get("risk_kind") or info.get("risk_kind")),
        "ok": ok, "error": _s(att.get("error"), "unknown error"),
        "description": _s(info.get("description")),
        "explanation": _s(info.get("explanation")),
        "references": [_s(r) for r in _l(info.get("references"))],
        "risk": fmt(att.get("risk")), "risk_pct": fmt_pct(att.get("risk")),
        "interval": fmt_interval(att.get("ci_low"), att.get("ci_high"), level),
        "level": f"{level:.0%}" if level is not None else "n/a",
        "interval_method": _s(att.get("interval_method"), "not stated"),
        "baseline": fmt(att.get("baseline")),
        "baseline_description": _s(att.get("baseline_description")),
        "n_trials": fmt(att.get("n_trials")), "auroc": fmt(details.get("auroc")),
        "has_auroc": charts._num(details.get("auroc")) is not None,
        "tpr_at_fpr": tpr_at, "details": shown, "roc_chart": roc_chart,
    }


def _metric_view(metric: Mapping[str, Any], catalog: Mapping[str, Any], gen_name: str
                 ) -> dict[str, Any]:
    """One utility metric, formatted by kind (hellinger, correlation, tstr, other)."""
    name = _s(metric.get("metric"), "?")
    details = _d(metric.get("details"))
    view: dict[str, Any] = {
        "name": name, "title": METRIC_TITLES.get(name, name), "kind": "other",
        "value": fmt(metric.get("value")),
        "description": _s(metric.get("description") or _d(catalog.get(name)).get("description")),
        "error": _s(metric.get("error")) if metric.get("error") else "",
        "details": [(_s(k), fmt_detail(v)) for k, v in details.items()],
    }
    if name == "hellinger" and _d(details.get("per_column")):
        view["kind"] = "hellinger"
        view["chart"] = charts.bar_chart(
            _d(details.get("per_column")),
            f"Hellinger distance per column, {gen_name} (0 = identical distributions)",
            xmax=None)
    elif name == "correlation" and _l(details.get("abs_diff")):
        view["kind"] = "correlation"
        cols = [_s(c) for c in _l(details.get("columns"))]
        pairs = []
        matrix = [_l(r) for r in _l(details.get("abs_diff"))]
        for i, row in enumerate(matrix):
            for j in range(i + 1, len(row)):
                v = charts._num(row[j])
                if v is not None:
                    a = cols[i] if i < len(cols) else f"#{i}"
                    b = cols[j] if j < len(cols) else f"#{j}"
                    pairs.append((v, a, b))
        pairs.sort(key=lambda p: -p[0])
        vals = [p[0] for p in pairs]
        view["n_pairs"] = len(pairs)
        view["max_diff"] = fmt(max(vals)) if vals else "n/a"
        view["mean_diff"] = fmt(sum(vals) / len(vals)) if vals else "n/a"
        view["top_pairs"] = [(a, b, fmt(v)) for v, a, b in pairs[:5]]
    elif name == "tstr" and (_d(details.get("tstr")) or _d(details.get("trtr"))):
        view["kind"] = "tstr"
        tstr, trtr = _d(details.get("tstr")), _d(details.get("trtr"))
        rows = []
        for key, label in (("accuracy", "Accuracy"), ("auroc", "AUROC")):
            if key not in tstr and key not in trtr:
                continue
            ci_s, ci_r = _l(tstr.get(f"{key}_ci")), _l(trtr.get(f"{key}_ci"))
            diff = (charts._num(tstr.get(key)), charts._num(trtr.get(key)))
            rows.append({
                "label": label, "tstr": fmt(tstr.get(key)), "trtr": fmt(trtr.get(key)),
                "tstr_ci": fmt_interval(ci_s[0], ci_s[1], None) if len(ci_s) >= 2 else "",
                "trtr_ci": fmt_interval(ci_r[0], ci_r[1], None) if len(ci_r) >= 2 else "",
                "gap": (fmt(diff[0] - diff[1]) if diff[0] is not None and diff[1] is not None
                        else "n/a")})
        view["target"] = _s(details.get("target"), "?")
        view["rows"] = rows
    return view


def _generator_view(gen: Mapping[str, Any], result: Mapping[str, Any],
                    index: int) -> dict[str, Any]:
    """One generator: budget, attacks, metrics."""
    catalog = _d(result.get("catalog"))
    name = _s(gen.get("name"), f"generator {index + 1}")
    spent, budget = _d(gen.get("spent")), _d(gen.get("budget"))
    private = bool(gen.get("is_private", spent.get("is_private", False))) and \
        spent.get("is_private", True) is not False
    sdet = _d(spent.get("details"))
    budget_rows = [
        ("Differentially private", "yes" if private else "NO"),
        ("Target ε (epsilon)", fmt(budget.get("epsilon")) if budget else "none"),
        ("Spent ε (epsilon)", fmt(spent.get("epsilon")) if private else "unbounded (∞)"),
        ("Target δ (delta)", fmt(budget.get("delta")) if budget else "none"),
        ("Spent δ (delta)", fmt(spent.get("delta"))),
        ("Accountant", _s(spent.get("accountant"), "n/a")),
        ("Noise multiplier", fmt(sdet.get("noise_multiplier"))),
    ]
    for key, value in sdet.items():
        if key != "noise_multiplier":
            budget_rows.append((_s(key).replace("_", " ").capitalize(), fmt_detail(value)))
    return {
        "index": index, "anchor": f"gen-{index}", "name": name,
        "description": _s(gen.get("description")), "gated": bool(gen.get("gated", True)),
        "private": private, "status": _s(gen.get("status"), "ok"),
        "error": _s(gen.get("error")) if gen.get("error") else "",
        "n_synthetic": fmt(gen.get("n_synthetic")),
        "budget_text": _epsilon_text(spent, budget, private),
        "budget_rows": budget_rows,
        "params": [(_s(k), fmt_detail(v)) for k, v in _d(gen.get("params")).items()],
        "verdicts": [(_s(p), status_view(s)) for p, s in _d(gen.get("verdicts")).items()],
        "attacks": [_attack_view(_d(a), _d(catalog.get("attacks")), name)
                    for a in _l(gen.get("attacks"))],
        "metrics": [_metric_view(_d(m), _d(catalog.get("metrics")), name)
                    for m in _l(gen.get("metrics"))],
    }


def _schema_view(result: Mapping[str, Any]) -> dict[str, Any]:
    """Schema summary (never category values; the built-in section lists declared ones)."""
    schema = _d(result.get("schema"))
    return {"source": _s(schema.get("source"), "unknown"),
            "n_columns": len(_l(schema.get("columns")))}


def _section_view(section: ReportSection, index: int) -> dict[str, Any]:
    """A contributed section as a list of typed blocks of plain text."""
    blocks: list[dict[str, Any]] = []
    for block in section.blocks:
        if isinstance(block, Paragraph):
            blocks.append({"type": "p", "text": _s(block.text)})
        elif isinstance(block, Table):
            blocks.append({"type": "table", "caption": _s(block.caption),
                           "headers": [_s(h) for h in block.headers],
                           "rows": [[fmt_detail(c) for c in row] for row in block.rows]})
        elif isinstance(block, KeyValues):
            blocks.append({"type": "kv",
                           "pairs": [(_s(k), fmt_detail(v)) for k, v in block.items]})
        else:
            blocks.append({"type": "p", "text": _s(block)})
    return {"anchor": f"section-{index}", "title": _s(section.title),
            "plugin": _s(section.plugin), "blocks": blocks}


def build_context(result: Mapping[str, Any], sections: Sequence[ReportSection]
                  ) -> dict[str, Any]:
    """The template's view model for ``result``."""
    checks = [_d(c) for c in _l(result.get("checks"))]
    gens = [_generator_view(_d(g), result, i) for i, g in enumerate(_l(result.get("generators")))]
    dataset = _d(result.get("dataset"))
    verdict = status_view(result.get("verdict"))
    policies = []
    for pol in _l(result.get("policies")):
        pol = _d(pol)
        pname = _s(pol.get("name"), "?")
        pchecks = [c for c in checks if _s(c.get("policy")) == pname]
        policies.append({
            "name": pname, "title": _s(pol.get("title"), pname),
            "description": _s(pol.get("description")),
            "thresholds": [(_s(k), fmt(v)) for k, v in _d(pol.get("thresholds")).items()],
            "references": [_s(r) for r in _l(pol.get("references"))],
            "st": status_view(pol.get("verdict")),
            "forest": charts.forest_plot(
                pchecks, f"Risk estimates with confidence intervals against the thresholds "
                         f"of policy {pname}") if pchecks else None,
        })
    warnings = []
    dd = [_s(c) for c in _l(result.get("data_dependent_domains"))]
    if dd:
        warnings.append({"title": "Some column domains were read from the data",
                         "text": ("These columns' categories or bounds were read from the real "
                                  "data and are not privacy-protected: the synthetic data may "
                                  "reveal, for example, that a rare category exists. Declare "
                                  "them in the schema from public sources to fix this."),
                         "names": dd})
    for g in gens:
        if not g["private"]:
            text = ("This generator is not differentially private: its output carries no "
                    "formal privacy guarantee.")
            text += (" It is gated, so the verdict depends on it." if g["gated"] else
                     " It is a baseline for comparison only and does not affect the verdict.")
            warnings.append({"title": f"Generator {g['name']} is not private", "text": text,
                             "names": []})
        if g["status"] != "ok" or g["error"]:
            warnings.append({"title": f"Generator {g['name']} failed",
                             "text": g["error"] or "The generator did not produce data.",
                             "names": []})
        errs = [a["name"] for a in g["attacks"] if not a["ok"]]
        if errs:
            warnings.append({"title": f"Attacks failed on {g['name']}",
                             "text": "These attacks did not produce a result; a failed gated "
                                     "attack makes the verdict 'error'.", "names": errs})
    env = _d(result.get("environment"))
    stamps = _d(result.get("timestamps"))
    level = charts._num(result.get("confidence_level"))
    return {
        "title": _s(result.get("title"), "privgate audit"),
        "verdict": verdict, "verdict_sentence": VERDICT_SENTENCES[verdict["status"]],
        "exit_code": _s(result.get("exit_code"), "n/a"),
        "deciding": _deciding(result, checks),
        "dataset": {
            "name": _s(dataset.get("name"), "unknown"), "source": _s(dataset.get("source")),
            "sha256": _s(dataset.get("sha256"), "unknown"), "n_rows": fmt(dataset.get("n_rows")),
            "n_train": fmt(dataset.get("n_train")), "n_control": fmt(dataset.get("n_control")),
            "n_columns": len(_l(dataset.get("columns"))),
            "dropped": [_s(c) for c in _l(dataset.get("dropped_columns"))]},
        "schema": _schema_view(result),
        "warnings": warnings, "policies": policies,
        "checks": [_check_view(c) for c in checks], "generators": gens,
        "sections": [_section_view(s, i) for i, s in
                     enumerate(sorted(sections, key=lambda s: (s.order, s.title)))],
        "confidence": f"{level:.0%}" if level is not None else "95%",
        "started": fmt_time(stamps.get("started_at")),
        "finished": fmt_time(stamps.get("finished_at")),
        "durations": [(_s(k), fmt(v)) for k, v in _d(stamps.get("durations_s")).items()],
        "generated": fmt_time(datetime.now(UTC).isoformat()),
        "config_json": json.dumps(result.get("config", {}), indent=2, sort_keys=True,
                                  default=str, ensure_ascii=False),
        "config_sha256": _s(result.get("config_sha256"), "unknown"),
        "seed": _s(result.get("seed"), "n/a"),
        "privgate_version": _s(result.get("privgate_version"), "unknown"),
        "schema_version": _s(result.get("schema_version"), "unknown"),
        "python": _s(env.get("python"), "unknown"), "platform": _s(env.get("platform"), ""),
        "packages": [(_s(k), _s(v)) for k, v in _d(env.get("packages")).items()],
        "plugins": [{"plugin": _s(_d(p).get("plugin"), "?"),
                     "distribution": _s(_d(p).get("distribution")),
                     "version": _s(_d(p).get("version")),
                     "provides": "; ".join(f"{k}: {', '.join(_s(x) for x in _l(v))}"
                                           for k, v in _d(_d(p).get("provides")).items())}
                    for p in _l(env.get("plugins"))],
    }


def environment() -> jinja2.Environment:
    """The Jinja2 environment: package templates, autoescaping on, undefined is an error."""
    root = resources.files(TEMPLATE_PACKAGE)
    loader = jinja2.FunctionLoader(
        lambda name: root.joinpath(name).read_text(encoding="utf-8"))
    return jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True)


def render(result: Mapping[str, Any], sections: Sequence[ReportSection] = ()) -> str:
    """The report's HTML as a string."""
    env = environment()
    css = resources.files(TEMPLATE_PACKAGE).joinpath("report.css").read_text(encoding="utf-8")
    context = build_context(result, sections)
    return env.get_template("report.html.j2").render(css=Markup(css), **context)


class HtmlReporter(Reporter):
    """A self-contained HTML report for people: verdict first, then the evidence."""

    format = "html"
    filename = "report.html"
    description = "Self-contained, printable HTML report for compliance review."

    def render(self, result: Mapping[str, Any], sections: Sequence[ReportSection]) -> str:
        """The HTML text of the report."""
        return render(result, sections)
