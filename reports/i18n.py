"""Languages of the HTML reports: message catalogs (gettext) and locale-aware numbers and dates.

Every sentence the reports show is a msgid looked up in a gettext catalog, never assembled by
string concatenation: ``{{ _("...%(name)s...", name=x) }}`` in templates and
``lang.gettext("...%(name)s...", name=x)`` in Python, so that a translator sees whole sentences
with named placeholders. English is the source language (msgids are English); Korean lives in
``reports/locale/ko/LC_MESSAGES/privgate.po``.

The ``.po`` file is read with Babel and compiled to an in-memory ``.mo`` when first needed. We
ship only the text ``.po`` (no compiled binary to keep in sync); compiling one small catalog
takes milliseconds. Numbers, percentages and dates go through :mod:`babel.numbers` and
:mod:`babel.dates` for the report's locale. Plugin-provided text (attack explanations, policy
descriptions) is shown as the plugin gave it.
"""

from __future__ import annotations

import gettext as _gettext
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from io import BytesIO
from typing import Any

from babel import Locale
from babel.dates import format_datetime
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent, format_scientific

#: Magnitudes :meth:`Lang.num` writes out in full; outside them (an absurd epsilon such as
#: 1e300 in an old ledger row, or 1e-300) it uses scientific notation, which never overflows.
SMALLEST_PLAIN, LARGEST_PLAIN = 1e-6, 1e15

#: Languages the reports are translated into (``[report] lang`` / ``--lang``).
LANGS = ("en", "ko")
DEFAULT_LANG = "en"
DOMAIN = "privgate"
PACKAGE = "privgate.reports"

#: Babel keywords that mark translatable strings (templates and Python), for extraction.
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}


def po_path(lang: str) -> Any:
    """The ``.po`` catalog of ``lang`` inside the installed package (a Traversable)."""
    return resources.files(PACKAGE).joinpath("locale", lang, "LC_MESSAGES", f"{DOMAIN}.po")


def read_catalog(lang: str) -> Catalog:
    """The Babel catalog of ``lang`` as written in its ``.po`` file."""
    with po_path(lang).open("rb") as fh:
        return read_po(fh, locale=lang, domain=DOMAIN)


@lru_cache(maxsize=8)
def translations(lang: str) -> _gettext.NullTranslations:
    """gettext translations for ``lang`` (English: the msgids themselves)."""
    if lang == DEFAULT_LANG:
        return _gettext.NullTranslations()
    buf = BytesIO()
    write_mo(buf, read_catalog(lang), use_fuzzy=False)
    buf.seek(0)
    return _gettext.GNUTranslations(buf)


def _num(value: Any) -> float | None:
    """A finite float, or None (missing, NaN, strings, booleans)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class Lang:
    """One report language: translated messages plus number and date formatting."""

    code: str = DEFAULT_LANG
    _t: _gettext.NullTranslations = field(default_factory=_gettext.NullTranslations,
                                         repr=False, compare=False)

    @classmethod
    def get(cls, code: Any) -> Lang:
        """The language ``code``; English for anything unknown (older results, typos)."""
        text = str(code) if code else DEFAULT_LANG
        text = text if text in LANGS else DEFAULT_LANG
        return cls(text, translations(text))

    # -- messages -------------------------------------------------------------------------

    def gettext(self, message: str, **values: Any) -> str:
        """``message`` translated, with ``%(name)s`` placeholders filled from ``values``."""
        return self._t.gettext(message) % values

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        """Singular or plural form for ``n`` (available as ``%(num)s``), translated."""
        values.setdefault("num", self.num(n))
        return self._t.ngettext(singular, plural, n) % values

    # -- numbers and dates ----------------------------------------------------------------

    def num(self, value: Any, digits: int = 3) -> str:
        """A number with ``digits`` significant figures for the locale ('n/a' when missing)."""
        x = _num(value)
        if x is None:
            return self.gettext("n/a") if value is None else str(value)
        if x == 0:
            return format_decimal(0, locale=self.code)
        if not SMALLEST_PLAIN <= abs(x) < LARGEST_PLAIN:  # 1e300 (a ledger row), 1e-300, ...
            return format_scientific(x, format="0." + "#" * max(digits - 1, 0) + "E0",
                                     locale=self.code)
        if abs(x) >= 1000 and x.is_integer():
            return format_decimal(int(x), format="#,##0", locale=self.code)
        decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
        rounded = round(x, decimals)
        pattern = "#,##0" + ("." + "#" * decimals if decimals else "")
        return format_decimal(rounded, format=pattern, locale=self.code)

    def pct(self, value: Any, digits: int = 3) -> str:
        """A proportion as a percentage with up to ``digits`` significant figures."""
        x = _num(value)
        if x is None:
            return self.gettext("n/a")
        if x == 0:
            return format_percent(0, locale=self.code)
        decimals = max(0, digits - 1 - math.floor(math.log10(abs(x * 100))))
        pattern = "#,##0" + ("." + "#" * decimals if decimals else "") + "%"
        return format_percent(x, format=pattern, locale=self.code)

    def level(self, value: Any) -> str:
        """A confidence level such as 0.95 as '95%'."""
        x = _num(value)
        return self.gettext("n/a") if x is None else format_percent(x, locale=self.code)

    def count(self, value: Any) -> str:
        """A whole count with grouping ('n/a' when missing)."""
        x = _num(value)
        if x is None:
            return self.gettext("n/a")
        return format_decimal(int(round(x)), format="#,##0", locale=self.code)

    def interval(self, low: Any, high: Any, level: Any = None) -> str:
        """'[low, high] (95%)'."""
        if _num(low) is None and _num(high) is None:
            return self.gettext("n/a")
        text = self.gettext("[%(low)s, %(high)s]", low=self.num(low), high=self.num(high))
        if _num(level) is not None:
            text += " (" + self.level(level) + ")"
        return text

    def datetime(self, value: Any) -> str:
        """An ISO timestamp for the locale, in UTC when it has a zone ('unknown' if absent)."""
        if not value:
            return self.gettext("unknown")
        try:
            stamp = datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
        if stamp.tzinfo is None:
            return format_datetime(stamp, "long", locale=self.code).replace(" +0000", "")
        return format_datetime(stamp.astimezone(UTC), "long", tzinfo=UTC, locale=self.code)

    @property
    def display_name(self) -> str:
        """The language's own name (English, 한국어)."""
        return str(Locale.parse(self.code).display_name)


#: Files whose messages the catalogs must cover (relative to the reports package).
SOURCES = ("html.py", "common.py", "svg.py", "charts.py", "plots.py", "blocks.py",
           "view_checks.py", "view_attacks.py", "view_generators.py", "sections.py",
           "compare.py", "i18n.py", "templates/report.html.j2", "templates/_macros.html.j2",
           "templates/_attacks.html.j2", "templates/_generators.html.j2",
           "templates/_closing.html.j2", "templates/compare.html.j2")


def extract_messages() -> dict[str | tuple[str, str], list[str]]:
    """Every msgid used by the reports' Python modules and templates, with where it is used.

    Plural messages are ``(singular, plural)`` tuples. Used to build the catalogs and by the
    test that no English leaks into a translated report.
    """
    from babel.messages.extract import extract_from_file

    root = resources.files(PACKAGE)
    found: dict[str | tuple[str, str], list[str]] = {}
    for rel in SOURCES:
        path = str(root.joinpath(rel))
        method = "jinja2.ext:babel_extract" if rel.endswith(".j2") else "python"
        options = {"extensions": "jinja2.ext.i18n", "trim_blocks": "true",
                   "lstrip_blocks": "true"} if method != "python" else {}
        for lineno, message, _comments, _ctx in extract_from_file(
                method, path, keywords=KEYWORDS, options=options):
            key: str | tuple[str, str] = message if isinstance(message, str) else (
                str(message[0]), str(message[1]))
            if key:
                found.setdefault(key, []).append(f"{rel}:{lineno}")
    return found


def update_catalog(lang: str, path: str | None = None) -> list[str | tuple[str, str]]:
    """Rewrite ``lang``'s ``.po`` from the messages in use, keeping existing translations.

    Messages no longer used are dropped; new ones are added with an empty translation for a
    translator to fill in (the test suite fails until they are). Returns the untranslated
    msgids. Run from a source checkout::

        .venv/bin/python -c "from privgate.reports.i18n import update_catalog as u; print(u('ko'))"
    """
    from babel.messages.pofile import write_po

    target = path or str(po_path(lang))
    old = read_catalog(lang)
    have = {m.id: m.string for m in old if m.id}
    from importlib.metadata import version

    catalog = Catalog(locale=lang, domain=DOMAIN, project="privgate",
                      version=version("privgate"), copyright_holder="privgate contributors",
                      msgid_bugs_address="privgate contributors",
                      last_translator="privgate contributors",
                      language_team="privgate contributors",
                      revision_date=datetime.now(UTC), fuzzy=False,
                      header_comment=(f"# {Locale.parse(lang).english_name} messages of the "
                                      "privgate reports.\n# Source language: English (the "
                                      "msgids). Update with i18n.update_catalog()."))
    missing: list[str | tuple[str, str]] = []
    for msgid, where in extract_messages().items():
        text = have.get(msgid)
        if not text or (isinstance(text, tuple | list) and not all(text)):
            missing.append(msgid)
            text = ("", "") if isinstance(msgid, tuple) else ""
        locations = [(w.rsplit(":", 1)[0], int(w.rsplit(":", 1)[1])) for w in where]
        flags = ("python-format",) if "%(" in str(msgid) else ()
        catalog.add(msgid, tuple(text) if isinstance(msgid, tuple) else text,
                    locations=locations, flags=flags)
    with open(target, "wb") as fh:
        write_po(fh, catalog, width=100, sort_output=False)
    return missing
