"""The HTML reporter: one self-contained, printable ``report.html`` a compliance officer can sign.

The page is rendered by Jinja2 with autoescaping on, from ``templates/report.html.j2`` (and the
templates it includes) with ``templates/report.css`` inlined in a ``<style>`` element. It has no
JavaScript, loads nothing (a Content-Security-Policy forbids it) and shows charts as inline SVG
(:mod:`privgate.reports.charts`, :mod:`privgate.reports.plots`), the only markup that bypasses
autoescaping. Every sentence is a gettext message (:mod:`privgate.reports.i18n`), so the report
exists in English and Korean.

This module assembles the template's *view model* (plain dicts of already-formatted strings and
numbers) from the views of the checks (:mod:`.view_checks`), the attacks (:mod:`.view_attacks`)
and the generators (:mod:`.view_generators`). The report only ever shows what the result
document holds, and draws every attack and metric from the typed evidence and figures of the
result contract, never from a plugin's name or private details. It never reads data. Counts
over real records below the minimum cell size are suppressed.

The finished page is sealed (:func:`privgate.verify.seal_html`): it carries the SHA-256 of the
``results.json`` it came from and of itself, which ``privgate verify`` checks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from markupsafe import Markup

from privgate.reporting import Reporter, ReportSection
from privgate.reports import svg
from privgate.reports.blocks import section_view
from privgate.reports.common import (
    as_list,
    as_map,
    as_number,
    as_text,
    min_cell_size,
    render_page,
    result_lang,
    status_view,
)
from privgate.reports.i18n import LANGS, Lang
from privgate.reports.view_attacks import families, methodology
from privgate.reports.view_checks import (
    check_view,
    kind_label,
    policies_view,
    verdict_sentence,
    warnings,
)
from privgate.reports.view_front import (
    findings_view,
    ledger_line,
    privacy_unit_line,
    released_view,
    utility_view,
)
from privgate.reports.view_generators import generator_view, ledger_view, vulnerability_view
from privgate.reports.words import column_values
from privgate.results import result_sha256
from privgate.signing import SIGNATURE_META
from privgate.verify import (
    AUDIT_META,
    RELEASED_META,
    REPORT_META,
    RESULTS_META,
    audit_id,
    seal_html,
)


def css_string(text: str) -> str:
    """``text`` as a CSS string literal, safe inside a ``<style>`` element."""
    out = []
    for ch in text:
        if ch.isalnum() or ch in " .,:;·-_()[]/@#%+=!?'’" or ord(ch) > 0x7f:
            out.append(ch)
        else:
            out.append(f"\\{ord(ch):x} ")
    return '"' + "".join(out) + '"'


def page_css(lang: Lang, marking: str, audit: str) -> Markup:
    """The printed page's margin boxes: audit id and marking on top, page numbers below."""
    parts = []
    for piece in re.split(r"(%\(page\)s|%\(pages\)s)",
                          lang.gettext("Page %(page)s of %(pages)s", page="%(page)s",
                                       pages="%(pages)s")):
        if piece == "%(page)s":
            parts.append("counter(page)")
        elif piece == "%(pages)s":
            parts.append("counter(pages)")
        elif piece:
            parts.append(css_string(piece))
    head = css_string(lang.gettext("privgate audit %(id)s", id=audit))
    return Markup(
        "@media print { @page { @top-left { content: " + head + "; } "
        "@top-right { content: " + css_string(marking) + "; } "
        "@bottom-right { content: " + " ".join(parts) + "; } } }")


def _step(key: str, lang: Lang) -> str:
    """An audit step's name ("attack:GENERATOR:ATTACK") in words."""
    parts = key.split(":")
    if parts[0] == "load":
        return lang.gettext("loading and checking the data")
    if parts[0] == "fit" and len(parts) == 2:
        return lang.gettext("training %(generator)s", generator=parts[1])
    if parts[0] in ("attack", "metric") and len(parts) == 3:
        what = (lang.gettext("attack %(name)s on %(generator)s", name=parts[2],
                             generator=parts[1]) if parts[0] == "attack" else
                lang.gettext("metric %(name)s on %(generator)s", name=parts[2],
                             generator=parts[1]))
        return what
    return key


def _provenance(result: Mapping[str, Any], lang: Lang) -> dict[str, Any]:
    """What the provenance appendix shows: versions, environment, plugins, configuration."""
    env = as_map(result.get("environment"))
    stamps = as_map(result.get("timestamps"))
    return {
        "started": lang.datetime(stamps.get("started_at")),
        "finished": lang.datetime(stamps.get("finished_at")),
        "durations": [(_step(as_text(k), lang), lang.num(v))
                      for k, v in as_map(stamps.get("durations_s")).items()],
        # the audit's own time, not the wall clock: re-rendering gives the same bytes
        "generated": lang.datetime(stamps.get("finished_at")),
        "config_json": json.dumps(result.get("config", {}), indent=2, sort_keys=True,
                                  default=str, ensure_ascii=False),
        "config_sha256": as_text(result.get("config_sha256"), lang.gettext("unknown")),
        "seed": as_text(result.get("seed"), lang.gettext("n/a")),
        "privgate_version": as_text(result.get("privgate_version"), lang.gettext("unknown")),
        "schema_version": as_text(result.get("schema_version"), lang.gettext("unknown")),
        "python": as_text(env.get("python"), lang.gettext("unknown")),
        "platform": as_text(env.get("platform"), ""),
        "packages": [(as_text(k), as_text(v)) for k, v in as_map(env.get("packages")).items()],
        "plugins": [{"plugin": as_text(as_map(p).get("plugin"), "?"),
                     "distribution": as_text(as_map(p).get("distribution")),
                     "version": as_text(as_map(p).get("version")),
                     "provides": "; ".join(f"{k}: {', '.join(as_text(x) for x in as_list(v))}"
                                           for k, v in as_map(as_map(p).get("provides")).items())}
                    for p in as_list(env.get("plugins"))],
    }


def _dataset(result: Mapping[str, Any], lang: Lang) -> dict[str, Any]:
    dataset = as_map(result.get("dataset"))
    return {
        "name": as_text(dataset.get("name"), lang.gettext("unknown")),
        "source": as_text(dataset.get("source")),
        "sha256": as_text(dataset.get("sha256"), lang.gettext("unknown")),
        "n_rows": lang.count(dataset.get("n_rows")),
        "n_train": lang.count(dataset.get("n_train")),
        "n_control": lang.count(dataset.get("n_control")),
        "n_columns": lang.count(len(as_list(dataset.get("columns")))),
        "dropped": [as_text(c) for c in as_list(dataset.get("dropped_columns"))]}


def _summaries(result: Mapping[str, Any], families_: list[dict[str, Any]],
               gens: list[dict[str, Any]], lang: Lang) -> dict[str, str]:
    """One line per appendix: what printing folds away."""
    n_attacks = sum(len(f["attacks"]) for f in families_)
    return {
        "attacks_summary": lang.gettext(
            "%(n)s attacks in %(k)s families, each on every generator: what it assumes, its "
            "estimate with interval, baseline, ROC curve and technical details.",
            n=lang.count(n_attacks), k=lang.count(len(families_))),
        "generators_summary": "; ".join(f"{g['name']}: {g['budget_text']}" for g in gens)
        or lang.gettext("No generators were audited."),
    }


def build_context(result: Mapping[str, Any], sections: Sequence[ReportSection],
                  lang: Lang | None = None, minimum: int | None = None,
                  results_sha256: str | None = None) -> dict[str, Any]:
    """The template's view model for ``result``.

    ``results_sha256`` is the SHA-256 of the ``results.json`` file the result was read from;
    by default that of its canonical serialisation (what the JSON reporter writes).
    """
    lang = lang or Lang.get(result_lang(result))
    minimum = minimum or min_cell_size(result)
    checks = [as_map(c) for c in as_list(result.get("checks"))]
    gens = [generator_view(as_map(g), result, i, lang, minimum)
            for i, g in enumerate(as_list(result.get("generators")))]
    attack_families = families(result, checks, lang, minimum)
    values = column_values(result, lang)
    verdict = status_view(result.get("verdict"), lang)
    level = as_number(result.get("confidence_level"))
    ident = audit_id(result)
    marking = lang.gettext("CONFIDENTIAL: describes how exposed real people's records are")
    released = released_view(result)
    views = [check_view(c, lang) for c in checks]
    for view in views:
        view["kind"] = kind_label(view["risk_kind"], lang)
    return {
        "lang": lang.code, "min_cell_size": lang.count(minimum),
        "title": as_text(result.get("title"), lang.gettext("privgate audit")),
        "verdict": verdict, "verdict_sentence": verdict_sentence(verdict["status"], lang),
        "exit_code": as_text(result.get("exit_code"), lang.gettext("n/a")),
        "findings": findings_view(result, checks, lang, values),
        "utility": utility_view(result, lang, values), "ledger_line": ledger_line(result, lang),
        "privacy_unit": privacy_unit_line(result, lang),
        "released": released, "released_sha256": " ".join(
            f["sha256"] for r in released for f in r["files"]),
        "dataset": _dataset(result, lang),
        "schema": {"source": as_text(as_map(result.get("schema")).get("source"),
                                     lang.gettext("unknown")),
                   "n_columns": lang.count(len(as_list(as_map(result.get("schema"))
                                                       .get("columns"))))},
        "warnings": warnings(result, gens, lang),
        "policies": policies_view(result, checks, lang),
        "checks": views, "gated_checks": [v for v in views if v["gated"]],
        "gated_generators": sorted({v["generator"] for v in views if v["gated"]}),
        "baseline_checks": [v for v in views if not v["gated"]], "generators": gens,
        "families": attack_families, "ledger": ledger_view(result, lang),
        "vulnerability": vulnerability_view(result, lang, minimum),
        "methodology": methodology(result, attack_families, lang),
        "sections": [section_view(s, i, lang, minimum) for i, s in
                     enumerate(sorted(sections, key=lambda s: (s.order, s.title)))],
        "confidence": lang.level(level if level is not None else 0.95),
        **_provenance(result, lang), **_summaries(result, attack_families, gens, lang),
        "results_sha256": results_sha256 or result_sha256(result),
        "audit_id": ident, "audit_short": ident[:16], "marking": marking,
        "page_css": page_css(lang, marking, ident[:16]),
        "meta": {"results": RESULTS_META, "report": REPORT_META, "audit": AUDIT_META,
                 "released": RELEASED_META, "signature": SIGNATURE_META},
    }


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
    svg.restart_ids()  # the same document always renders to the same bytes
    context = build_context(result, sections, language, min_cells, results_sha256)
    return seal_html(render_page("report.html.j2", language, context))


class HtmlReporter(Reporter):
    """A self-contained HTML report for people: verdict first, then the evidence.

    ``lang`` and ``min_cell_size`` override the result document's settings (``privgate report
    --lang``); by default the report uses what the audit's ``[report]`` config said.
    ``results_sha256`` is the hash of the results.json file being re-rendered, when known.
    """

    format = "html"
    filename = "report.html"
    description = "Self-contained, printable HTML report for compliance review."
    languages: ClassVar[tuple[str, ...]] = LANGS

    def __init__(self, *, lang: str | None = None, results_sha256: str | None = None,
                 min_cell_size: int | None = None) -> None:
        super().__init__(lang=lang, results_sha256=results_sha256)
        self.min_cell_size = min_cell_size

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
