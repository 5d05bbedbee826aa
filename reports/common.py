"""What every HTML page of the reports shares: defensive reading of the result document,
formatting of statuses, details and counts, and the Jinja2 environment that renders a page.

Every lookup is defensive: a result document may come from an older privgate, a plugin may add
or omit keys, and an error anywhere must still produce a report. Counts over real records below
the minimum cell size are suppressed wherever a name says it is a count.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

from privgate.redact import strip_controls
from privgate.reports import svg
from privgate.reports.i18n import Lang

TEMPLATE_PACKAGE = "privgate.reports.templates"

#: Symbols shown next to each status so that colour is never the only signal.
STATUS_SYMBOLS = {"pass": "✓", "fail": "✗", "cannot-certify": "?", "error": "!"}

#: Default smallest count over real records that a report may show.
DEFAULT_MIN_CELL_SIZE = 10

#: Longest rendering of one technical detail value before it is cut (keeps the file small).
MAX_DETAIL_CHARS = 600

#: Count-like names that are settings or synthetic-side sizes, not counts of records (any other
#: whole number under a count-like name below the minimum cell size is suppressed).
NOT_RECORD_COUNTS = frozenset({
    "n_cols", "n_columns", "n_neighbors", "n_components", "n_jobs", "n_estimators", "n_bins",
    "n_pairs", "n_pairs_undefined", "n_classes", "n_splits", "n_folds", "n_resamples",
    "n_synthetic"})


def as_map(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` as a list if it is a list or tuple, else an empty list."""
    return list(value) if isinstance(value, list | tuple) else []


def as_text(value: Any, default: str = "") -> str:
    """``value`` as text; ``default`` when missing."""
    return default if value is None else str(value)


def as_number(value: Any) -> float | None:
    """A finite float, or None for anything else (missing, NaN, strings, booleans)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def status_of(value: Any) -> str:
    """A known status string; anything else counts as ``error``."""
    text = as_text(value, "error")
    return text if text in svg.STATUS_LABELS else "error"


def status_view(value: Any, lang: Lang) -> dict[str, str]:
    """Label, symbol and CSS class of a status."""
    status = status_of(value)
    return {"status": status, "label": svg.status_label(status, lang),
            "symbol": STATUS_SYMBOLS[status], "cls": f"st-{status}"}


def _readable(value: Any, lang: Lang, depth: int = 0) -> str:
    """A nested detail as words, not JSON: ``key: value; key: value`` and ``a, b, c``."""
    if depth > 3:
        return "…"
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_readable(v, lang, depth + 1)}" for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        inner = ", ".join(_readable(v, lang, depth + 1) for v in value)
        return f"({inner})" if depth else inner
    if isinstance(value, bool) or value is None:
        return {True: lang.gettext("yes"), False: lang.gettext("no"),
                None: lang.gettext("none")}[value]
    if isinstance(value, int | float):
        return lang.num(value, 4)
    return str(value)


def fmt_detail(value: Any, lang: Lang) -> str:
    """A technical detail value as short text (nested values as words, never raw JSON)."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool) or value is None:
        text = _readable(value, lang)
    elif isinstance(value, int | float):
        text = lang.num(value, 4)
    else:
        text = _readable(value, lang)
    if len(text) > MAX_DETAIL_CHARS:
        text = text[:MAX_DETAIL_CHARS] + lang.gettext(
            "… (%(n)s characters, cut)", n=lang.count(len(text)))
    return text


def is_count(key: Any) -> bool:
    """Whether a name says it counts records (``n_success``, ``match_count``, ...)."""
    name = str(key).lower()
    if name in NOT_RECORD_COUNTS:
        return False
    return name.startswith("n_") or name.endswith("count") or name.endswith("_counts")


def small_count(key: Any, value: Any, minimum: int) -> bool:
    """Whether ``value`` under the name ``key`` is a count of records below ``minimum``."""
    x = as_number(value)
    return is_count(key) and x is not None and x.is_integer() and 0 < x < minimum


def suppressed_count(value: Any, minimum: int, lang: Lang) -> str:
    """A count over real records, or 'fewer than N' when it is below the minimum cell size."""
    x = as_number(value)
    if x is None:
        return lang.gettext("n/a")
    if 0 < x < minimum:
        return lang.gettext("fewer than %(n)s", n=lang.count(minimum))
    return lang.count(x)


def detail_value(key: Any, value: Any, lang: Lang, minimum: int) -> str:
    """A technical detail as text; a small count (below the minimum cell size) suppressed.

    Attack and metric details may hold counts over real records (successful attacks,
    matches); any whole number under a count-like name below ``minimum`` is shown as 'fewer
    than N', failing closed for counts that are not about records.
    """
    x = as_number(value)
    if is_count(key) and x is not None and x.is_integer():
        return suppressed_count(x, minimum, lang)
    return fmt_detail(value, lang)


def min_cell_size(result: Mapping[str, Any]) -> int:
    """The smallest count over real records the report may show (config ``[report]``)."""
    for value in (result.get("min_cell_size"),
                  as_map(as_map(result.get("config")).get("report")).get("min_cell_size")):
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
    return DEFAULT_MIN_CELL_SIZE


def result_lang(result: Mapping[str, Any]) -> str:
    """The report language the result document asks for (English by default)."""
    return as_text(result.get("lang")
                   or as_map(as_map(result.get("config")).get("report")).get("lang"), "en")


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
    env.globals.update(_=_template_gettext(lang), gettext=_template_gettext(lang))
    return env


def _template_gettext(lang: Lang) -> Any:
    """The templates' ``_()``: translated, placeholders escaped and filled (as Jinja's
    newstyle gettext does), then Korean particles chosen by the value before them."""
    def gettext(message: str, **values: Any) -> Markup:
        text = Markup(lang._t.gettext(message))
        return Markup(lang.finish(str(text % values)))
    return gettext


def render_page(template: str, lang: Lang, context: Mapping[str, Any]) -> str:
    """A page of the package's ``template`` with the stylesheet inlined.

    A lone surrogate from a plugin's string must not lose the page, and control characters
    (escape sequences, NUL, bidi overrides) cannot be escaped in HTML, so they are removed.
    Chart ids must have been restarted (:func:`privgate.reports.svg.restart_ids`) before the
    context was built, so that the same document always renders to the same bytes.
    """
    css = resources.files(TEMPLATE_PACKAGE).joinpath("report.css").read_text(encoding="utf-8")
    html = environment(lang).get_template(template).render(css=Markup(css), **context)
    return strip_controls(html.encode("utf-8", errors="replace").decode("utf-8"))
