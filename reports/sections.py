"""privgate's built-in report sections: data-dependent preprocessing and the schema.

Sections hold names, kinds and roles only, never data rows. Category values are listed only
when the schema was *declared* (a public code book) and the column's domain was not read from
the data; for inferred schemas or data-dependent columns, values may be rare real values, so
only their count is shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from privgate import hookimpl
from privgate.reporting import KeyValues, Paragraph, ReportSection, Table
from privgate.reports.i18n import Lang

#: Most category values listed for one column (longer lists are summarised).
MAX_CATEGORIES = 12


def _columns(result: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The schema's column records (empty when absent or malformed)."""
    schema = result.get("schema")
    cols = schema.get("columns") if isinstance(schema, Mapping) else None
    return [c for c in cols or [] if isinstance(c, Mapping)]


def _plain(value: Any) -> str:
    """A bound as text, without a trailing '.0' on whole numbers."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _date(value: Any) -> str:
    """Seconds since the epoch as an ISO date (the value itself if it is not a number)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC).date().isoformat()
        except (OverflowError, OSError, ValueError):
            pass
    return str(value)


def _lang(result: Mapping[str, Any]) -> Lang:
    """The report language the result asks for (``lang``, else ``config.report.lang``)."""
    config = result.get("config")
    report = config.get("report") if isinstance(config, Mapping) else None
    code = result.get("lang") or (report.get("lang") if isinstance(report, Mapping) else None)
    return Lang.get(code)


def _domain(col: Mapping[str, Any], declared: bool, lang: Lang) -> str:
    """A column's domain as text, hiding values that may come from the data."""
    cats = col.get("categories")
    bounds = col.get("bounds")
    public = declared and not col.get("data_dependent", False)
    n_cats = col.get("n_categories")
    if isinstance(n_cats, int) and not isinstance(n_cats, bool):
        return lang.gettext("%(n)s categories (values not shown: read from the data)", n=n_cats)
    if col.get("bounds_read_from_data"):
        return lang.gettext("range read from the data (not shown)")
    if isinstance(cats, list | tuple):
        if not public:
            return lang.gettext("%(n)s categories (values not shown: read from the data)",
                                n=len(cats))
        shown = ", ".join(str(c) for c in cats[:MAX_CATEGORIES])
        more = (", " + lang.gettext("… (%(n)s in all)", n=len(cats))
                if len(cats) > MAX_CATEGORIES else "")
        return f"{shown}{more}"
    if isinstance(bounds, list | tuple) and len(bounds) == 2:
        if not public:
            return lang.gettext("range read from the data (not shown)")
        if col.get("kind") == "datetime":
            return lang.gettext("%(low)s to %(high)s", low=_date(bounds[0]),
                                high=_date(bounds[1]))
        return lang.gettext("%(low)s to %(high)s", low=_plain(bounds[0]),
                            high=_plain(bounds[1]))
    return lang.gettext("not stated")


def data_dependent_section(result: Mapping[str, Any]) -> ReportSection:
    """Which column domains were read from the data, and what that means."""
    lang = _lang(result)
    dd = [str(c) for c in result.get("data_dependent_domains") or []]
    if not dd:
        blocks: list[Any] = [Paragraph(lang.gettext(
            "Every column's categories and value ranges were declared in advance (from public "
            "information), so no part of the preprocessing looked at the real data outside "
            "the privacy-protected training."))]
    else:
        blocks = [
            Paragraph(lang.gettext(
                "Before training, a generator needs to know each column's possible values "
                "(its categories, or its lowest and highest value). For the columns below these "
                "were read from the real data instead of being declared from public "
                "information. That step is not covered by the privacy budget: the synthetic "
                "data can reveal, for example, that a rare category or an extreme value exists "
                "in the real data.")),
            Paragraph(lang.gettext(
                "To remove this risk, declare these columns' categories and bounds in the "
                "schema from a public code book or from domain knowledge, then re-run the "
                "audit.")),
            Table(headers=(lang.gettext("Column"), lang.gettext("Domain read from the data")),
                  rows=[(c, _domain_kind(result, c, lang)) for c in dd],
                  caption=lang.gettext("Columns whose domains were read from the data")),
        ]
    return ReportSection(id="data-dependent", title=lang.gettext("Data-dependent preprocessing"),
                         blocks=tuple(blocks), order=10, plugin="privgate")


def _domain_kind(result: Mapping[str, Any], name: str, lang: Lang) -> str:
    """'categories' or 'bounds' for a data-dependent column, from the schema."""
    for col in _columns(result):
        if str(col.get("name")) == name:
            if col.get("categories") is not None or col.get("n_categories") is not None:
                return lang.gettext("categories")
            if col.get("bounds") is not None or col.get("bounds_read_from_data"):
                return lang.gettext("bounds")
    return lang.gettext("domain")


def schema_section(result: Mapping[str, Any]) -> ReportSection | None:
    """The schema: per column its kind, role and (when public) domain."""
    cols = _columns(result)
    if not cols:
        return None
    lang = _lang(result)
    schema = result.get("schema")
    source = str(schema.get("source", "unknown")) if isinstance(schema, Mapping) else "unknown"
    declared = source == "declared"
    rows = [(str(c.get("name", "?")), str(c.get("kind", "?")), str(c.get("role", "?")),
             lang.gettext("yes") if c.get("nullable") else lang.gettext("no"),
             lang.gettext("read from data") if c.get("data_dependent") or not declared
             else lang.gettext("declared"), _domain(c, declared, lang)) for c in cols]
    dataset: Mapping[str, Any] = (result["dataset"] if isinstance(result.get("dataset"), Mapping)
                                  else {})
    dropped = [str(c) for c in dataset.get("dropped_columns") or []]
    intro = (lang.gettext("The schema was declared by the data owner.") if declared else
             lang.gettext("The schema was inferred from the data; category values are "
                          "therefore not shown."))
    roles = lang.gettext("Roles say what a column means for privacy: quasi-identifiers could "
                         "help recognise a person, sensitive columns are what an attacker wants "
                         "to learn.")
    return ReportSection(
        id="schema", title=lang.gettext("Schema of the audited table"), order=20,
        plugin="privgate",
        blocks=(
            Paragraph(intro + " " + roles),
            KeyValues(items=((lang.gettext("Schema source"), source),
                             (lang.gettext("Columns"), len(cols)),
                             (lang.gettext("Removed before training (identifiers)"),
                              ", ".join(dropped) if dropped else lang.gettext("none")))),
            Table(headers=(lang.gettext("Column"), lang.gettext("Kind"), lang.gettext("Role"),
                           lang.gettext("Missing values allowed"), lang.gettext("Domain"),
                           lang.gettext("Values")),
                  rows=rows, caption=lang.gettext("Columns, kinds and roles")),
        ))


@hookimpl
def privgate_report_sections(result: Mapping[str, Any]) -> Sequence[ReportSection] | None:
    """privgate's built-in sections (data-dependent preprocessing, schema)."""
    out = [data_dependent_section(result)]
    schema = schema_section(result)
    if schema is not None:
        out.append(schema)
    return out
