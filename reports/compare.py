"""The comparison reporter: what changed between two audits (``privgate report --compare``).

For release-over-release gates: given an older and a newer ``results.json``, it shows the
overall verdict change, per check (policy, generator, attack) the risk and its upper bound
before and after with the change in words and arrows (never colour alone), status changes, and
generators, policies and attacks added or removed.

It is a :class:`~privgate.reporting.Reporter` registered through the ``privgate_reporters``
hook like the others (format ``compare``), but it renders a *comparison document*
(:func:`comparison_document`) rather than one audit, so it sets ``on_audit = False`` and is not
run after an audit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any, ClassVar

from markupsafe import Markup

from privgate.errors import InputError
from privgate.redact import strip_controls
from privgate.reporting import Reporter, ReportSection
from privgate.reports import charts
from privgate.reports.html import (
    TEMPLATE_PACKAGE,
    _d,
    _l,
    _num,
    _s,
    environment,
    result_lang,
    status_view,
)
from privgate.reports.i18n import Lang
from privgate.results import result_sha256

#: Changes in a risk smaller than this are "unchanged" (float noise, not a real change).
TOLERANCE = 1e-9


def comparison_document(old: Mapping[str, Any], new: Mapping[str, Any], old_label: str,
                        new_label: str, old_sha256: str = "", new_sha256: str = ""
                        ) -> dict[str, Any]:
    """The document the comparison reporter renders: both results, how to name them and the
    SHA-256 of their files (default: of their canonical text)."""
    return {"comparison": {"old": dict(old), "new": dict(new), "old_label": old_label,
                           "new_label": new_label, "old_sha256": old_sha256,
                           "new_sha256": new_sha256}}


def _key(check: Mapping[str, Any]) -> tuple[str, str, str]:
    return (_s(check.get("policy"), "?"), _s(check.get("generator"), "?"),
            _s(check.get("attack"), "?"))


def _direction(old: Any, new: Any, lang: Lang) -> dict[str, str]:
    """Arrow, word and CSS class for a change of a risk from ``old`` to ``new``."""
    a, b = _num(old), _num(new)
    if a is None or b is None:
        return {"arrow": "–", "word": lang.gettext("not comparable"), "cls": "dir-none",
                "delta": lang.gettext("n/a")}
    delta = b - a
    sign = "+" if delta > 0 else ""
    text = sign + lang.num(delta)
    if abs(delta) <= TOLERANCE:
        return {"arrow": "=", "word": lang.gettext("unchanged"), "cls": "dir-same",
                "delta": lang.num(0)}
    if delta > 0:
        return {"arrow": "▲", "word": lang.gettext("risk up"), "cls": "dir-up", "delta": text}
    return {"arrow": "▼", "word": lang.gettext("risk down"), "cls": "dir-down", "delta": text}


def _names(result: Mapping[str, Any], key: str, field: str) -> list[str]:
    return [_s(_d(x).get(field), "?") for x in _l(result.get(key))]


def _attack_names(result: Mapping[str, Any]) -> list[str]:
    names: set[str] = set()
    for gen in _l(result.get("generators")):
        names.update(_s(_d(a).get("attack"), "?") for a in _l(_d(gen).get("attacks")))
    return sorted(names)


def _added_removed(old: list[str], new: list[str]) -> tuple[list[str], list[str]]:
    return sorted(set(new) - set(old)), sorted(set(old) - set(new))


def _epsilons(result: Mapping[str, Any]) -> dict[str, Any]:
    return {_s(_d(g).get("name"), "?"): _d(_d(g).get("spent")).get("epsilon")
            for g in _l(result.get("generators"))}


def build_comparison(doc: Mapping[str, Any], lang: Lang) -> dict[str, Any]:
    """The comparison template's view model."""
    comp = _d(doc.get("comparison"))
    old, new = _d(comp.get("old")), _d(comp.get("new"))
    old_checks = {_key(_d(c)): _d(c) for c in _l(old.get("checks"))}
    new_checks = {_key(_d(c)): _d(c) for c in _l(new.get("checks"))}
    rows = []
    for key in sorted(set(old_checks) | set(new_checks)):
        o, n = old_checks.get(key), new_checks.get(key)
        presence = ("both" if o is not None and n is not None else
                    "added" if n is not None else "removed")
        o, n = o or {}, n or {}
        st_o = status_view(o.get("status"), lang) if presence != "added" else None
        st_n = status_view(n.get("status"), lang) if presence != "removed" else None
        rows.append({
            "policy": key[0], "generator": key[1], "attack": key[2], "presence": presence,
            "old_risk": lang.num(o.get("risk")), "new_risk": lang.num(n.get("risk")),
            "old_high": lang.num(o.get("ci_high")), "new_high": lang.num(n.get("ci_high")),
            "threshold": lang.num(n.get("threshold", o.get("threshold"))),
            "dir": _direction(o.get("risk"), n.get("risk"), lang),
            "dir_high": _direction(o.get("ci_high"), n.get("ci_high"), lang),
            "old_st": st_o, "new_st": st_n,
            "status_changed": bool(st_o and st_n and st_o["status"] != st_n["status"]),
        })
    changes = []
    for what, key, field in ((lang.gettext("Generators"), "generators", "name"),
                             (lang.gettext("Policies"), "policies", "name")):
        added, removed = _added_removed(_names(old, key, field), _names(new, key, field))
        changes.append({"what": what, "added": added, "removed": removed})
    added, removed = _added_removed(_attack_names(old), _attack_names(new))
    changes.append({"what": lang.gettext("Attacks"), "added": added, "removed": removed})
    eps_old, eps_new = _epsilons(old), _epsilons(new)
    budgets = [{"generator": g, "old": lang.num(eps_old.get(g)), "new": lang.num(eps_new.get(g)),
                "dir": _direction(eps_old.get(g), eps_new.get(g), lang)}
               for g in sorted(set(eps_old) | set(eps_new))]
    v_old, v_new = status_view(old.get("verdict"), lang), status_view(new.get("verdict"), lang)
    policies = []
    pol_old = {_s(_d(p).get("name")): _d(p) for p in _l(old.get("policies"))}
    for p in _l(new.get("policies")):
        p = _d(p)
        prev = pol_old.get(_s(p.get("name")))
        policies.append({"name": _s(p.get("title"), _s(p.get("name"), "?")),
                         "old": status_view(prev.get("verdict"), lang) if prev else None,
                         "new": status_view(p.get("verdict"), lang)})
    return {
        "lang": lang.code, "old_label": _s(comp.get("old_label"), "OLD"),
        "new_label": _s(comp.get("new_label"), "NEW"),
        "old_title": _s(old.get("title"), "?"), "new_title": _s(new.get("title"), "?"),
        "old_date": lang.datetime(_d(old.get("timestamps")).get("finished_at")),
        "new_date": lang.datetime(_d(new.get("timestamps")).get("finished_at")),
        "old_sha": _s(comp.get("old_sha256")) or result_sha256(old),
        "new_sha": _s(comp.get("new_sha256")) or result_sha256(new),
        "verdict_old": v_old, "verdict_new": v_new,
        "verdict_changed": v_old["status"] != v_new["status"],
        "policies": policies, "rows": rows, "changes": changes, "budgets": budgets,
        "n_up": sum(r["dir"]["cls"] == "dir-up" for r in rows),
        "n_down": sum(r["dir"]["cls"] == "dir-down" for r in rows),
        "n_status": sum(r["status_changed"] for r in rows),
        "same_data": _s(_d(old.get("dataset")).get("sha256")) == _s(
            _d(new.get("dataset")).get("sha256")),
        # the newer audit's own time, not the wall clock: the same inputs give the same bytes
        "generated": lang.datetime(_d(new.get("timestamps")).get("finished_at")),
    }


def render_comparison(doc: Mapping[str, Any], lang: str | None = None) -> str:
    """The comparison page's HTML."""
    comp = _d(doc.get("comparison"))
    if not _d(comp.get("old")) or not _d(comp.get("new")):
        raise InputError("the compare report needs two results.json files: run "
                         "`privgate report --compare OLD.json NEW.json`")
    language = Lang.get(lang or result_lang(_d(comp.get("new"))))
    env = environment(language)
    css = resources.files(TEMPLATE_PACKAGE).joinpath("report.css").read_text(encoding="utf-8")
    charts.restart_ids()
    context = build_comparison(doc, language)
    html = env.get_template("compare.html.j2").render(css=Markup(css), **context)
    # control characters cannot be escaped in HTML: they are removed
    return strip_controls(html.encode("utf-8", errors="replace").decode("utf-8"))


class ComparisonReporter(Reporter):
    """What changed between two audits, as one self-contained HTML page."""

    format = "compare"
    filename = "comparison.html"
    description = ("Comparison of two audits (privgate report --compare OLD.json NEW.json): "
                   "risk up or down per check, verdict changes.")
    on_audit: ClassVar[bool] = False

    def __init__(self, lang: str | None = None) -> None:
        self.lang = lang

    @classmethod
    def contract_document(cls, result: Mapping[str, Any]) -> dict[str, Any]:
        """What the contract kit (``privgate.testing.check_reporter``) renders: an audit's
        result document compared with itself."""
        return comparison_document(result, result, "old", "new")

    def render(self, result: Mapping[str, Any], sections: Sequence[ReportSection]) -> str:
        """The comparison HTML of a :func:`comparison_document`."""
        return render_comparison(result, self.lang)
