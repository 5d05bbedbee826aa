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
from typing import Any, ClassVar

from privgate.errors import N_, InputError
from privgate.reporting import Reporter, ReportSection
from privgate.reports import svg
from privgate.reports.common import (
    as_list,
    as_map,
    as_number,
    as_text,
    render_page,
    result_lang,
    status_view,
)
from privgate.reports.i18n import LANGS, Lang
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
    return (as_text(check.get("policy"), "?"), as_text(check.get("generator"), "?"),
            as_text(check.get("attack"), "?"))


def _direction(old: Any, new: Any, lang: Lang) -> dict[str, str]:
    """Arrow, word and CSS class for a change of a risk from ``old`` to ``new``."""
    a, b = as_number(old), as_number(new)
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
    return [as_text(as_map(x).get(field), "?") for x in as_list(result.get(key))]


def _attack_names(result: Mapping[str, Any]) -> list[str]:
    names: set[str] = set()
    for gen in as_list(result.get("generators")):
        attacks = as_list(as_map(gen).get("attacks"))
        names.update(as_text(as_map(a).get("attack"), "?") for a in attacks)
    return sorted(names)


def _added_removed(old: list[str], new: list[str]) -> tuple[list[str], list[str]]:
    return sorted(set(new) - set(old)), sorted(set(old) - set(new))


def _epsilons(result: Mapping[str, Any]) -> dict[str, Any]:
    return {as_text(as_map(g).get("name"), "?"): as_map(as_map(g).get("spent")).get("epsilon")
            for g in as_list(result.get("generators"))}


def build_comparison(doc: Mapping[str, Any], lang: Lang) -> dict[str, Any]:
    """The comparison template's view model."""
    comp = as_map(doc.get("comparison"))
    old, new = as_map(comp.get("old")), as_map(comp.get("new"))
    old_checks = {_key(as_map(c)): as_map(c) for c in as_list(old.get("checks"))}
    new_checks = {_key(as_map(c)): as_map(c) for c in as_list(new.get("checks"))}
    rows: list[dict[str, Any]] = []
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
    for what, section, field in ((lang.gettext("Generators"), "generators", "name"),
                                 (lang.gettext("Policies"), "policies", "name")):
        added, removed = _added_removed(_names(old, section, field),
                                        _names(new, section, field))
        changes.append({"what": what, "added": added, "removed": removed})
    added, removed = _added_removed(_attack_names(old), _attack_names(new))
    changes.append({"what": lang.gettext("Attacks"), "added": added, "removed": removed})
    eps_old, eps_new = _epsilons(old), _epsilons(new)
    budgets = [{"generator": g, "old": lang.num(eps_old.get(g)), "new": lang.num(eps_new.get(g)),
                "dir": _direction(eps_old.get(g), eps_new.get(g), lang)}
               for g in sorted(set(eps_old) | set(eps_new))]
    v_old, v_new = status_view(old.get("verdict"), lang), status_view(new.get("verdict"), lang)
    policies = []
    pol_old = {as_text(as_map(p).get("name")): as_map(p) for p in as_list(old.get("policies"))}
    for p in as_list(new.get("policies")):
        p = as_map(p)
        prev = pol_old.get(as_text(p.get("name")))
        policies.append({"name": as_text(p.get("title"), as_text(p.get("name"), "?")),
                         "old": status_view(prev.get("verdict"), lang) if prev else None,
                         "new": status_view(p.get("verdict"), lang)})
    return {
        "lang": lang.code, "old_label": as_text(comp.get("old_label"), "OLD"),
        "new_label": as_text(comp.get("new_label"), "NEW"),
        "old_title": as_text(old.get("title"), "?"), "new_title": as_text(new.get("title"), "?"),
        "old_date": lang.datetime(as_map(old.get("timestamps")).get("finished_at")),
        "new_date": lang.datetime(as_map(new.get("timestamps")).get("finished_at")),
        "old_sha": as_text(comp.get("old_sha256")) or result_sha256(old),
        "new_sha": as_text(comp.get("new_sha256")) or result_sha256(new),
        "verdict_old": v_old, "verdict_new": v_new,
        "verdict_changed": v_old["status"] != v_new["status"],
        "policies": policies, "rows": rows, "changes": changes, "budgets": budgets,
        "n_up": sum(r["dir"]["cls"] == "dir-up" for r in rows),
        "n_down": sum(r["dir"]["cls"] == "dir-down" for r in rows),
        "n_status": sum(r["status_changed"] for r in rows),
        "same_data": as_text(as_map(old.get("dataset")).get("sha256")) == as_text(
            as_map(new.get("dataset")).get("sha256")),
        # the newer audit's own time, not the wall clock: the same inputs give the same bytes
        "generated": lang.datetime(as_map(new.get("timestamps")).get("finished_at")),
    }


def render_comparison(doc: Mapping[str, Any], lang: str | None = None) -> str:
    """The comparison page's HTML."""
    comp = as_map(doc.get("comparison"))
    if not as_map(comp.get("old")) or not as_map(comp.get("new")):
        raise InputError(N_("the compare report needs two results.json files: run `privgate "
                            "report --compare OLD.json NEW.json`"))
    language = Lang.get(lang or result_lang(as_map(comp.get("new"))))
    svg.restart_ids()
    return render_page("compare.html.j2", language, build_comparison(doc, language))


class ComparisonReporter(Reporter):
    """What changed between two audits, as one self-contained HTML page."""

    format = "compare"
    filename = "comparison.html"
    description = ("Comparison of two audits (privgate report --compare OLD.json NEW.json): "
                   "risk up or down per check, verdict changes.")
    on_audit: ClassVar[bool] = False
    languages: ClassVar[tuple[str, ...]] = LANGS

    @classmethod
    def contract_document(cls, result: Mapping[str, Any]) -> dict[str, Any]:
        """What the contract kit (``privgate.testing.check_reporter``) renders: an audit's
        result document compared with itself."""
        return comparison_document(result, result, "old", "new")

    def render(self, result: Mapping[str, Any], sections: Sequence[ReportSection]) -> str:
        """The comparison HTML of a :func:`comparison_document`."""
        return render_comparison(result, self.lang)
