"""Languages of the HTML reports: message catalogs (gettext) and locale-aware numbers and dates.

Every sentence the reports show is a msgid looked up in a gettext catalog, never assembled by
string concatenation: ``{{ _("...%(name)s...", name=x) }}`` in templates and
``lang.gettext("...%(name)s...", name=x)`` in Python, so that a translator sees whole sentences
with named placeholders. English is the source language (msgids are English); Korean lives in
``reports/locale/ko/LC_MESSAGES/privgate.po``.

The catalogs are read and compiled by :mod:`privgate.i18n` (shared with the command line);
Korean particles are chosen by the final syllable of the word before them
(:mod:`privgate.particles`), so a translation writes ``%(value)s이(가)``. Numbers, percentages
and dates go through :mod:`babel.numbers` and :mod:`babel.dates` for the report's locale.
Plugin-provided text (attack explanations, policy descriptions, captions) is translated through
the plugin catalogs (:meth:`Lang.plugin`, the ``PRIVGATE_TRANSLATIONS`` contract of
:mod:`privgate.i18n`); privgate's own built-in plugins' texts are in
``reports/locale/<lang>/LC_MESSAGES/privgate-plugins.po``.
"""

from __future__ import annotations

import gettext as _gettext
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.dates import format_date, format_time
from babel.numbers import format_decimal, format_percent, format_scientific

from privgate import i18n as core_i18n
from privgate.i18n import DEFAULT_LANG, TextCatalog, known_lang, plugin_catalog
from privgate.particles import resolve_particles

#: Magnitudes :meth:`Lang.num` writes out in full; outside them (an absurd epsilon such as
#: 1e300 in an old ledger row, or 1e-300) it uses scientific notation, which never overflows.
SMALLEST_PLAIN, LARGEST_PLAIN = 1e-6, 1e15

#: Languages the reports are translated into (``[report] lang`` / ``--lang``).
LANGS = core_i18n.LANGS
DOMAIN = "privgate"
#: privgate's own translations of its built-in plugins' texts (attack explanations, policy
#: and metric texts, captions), keyed by the exact English: ``locale/<lang>/LC_MESSAGES/``
#: ``privgate-plugins.po``, shipped through the plugin contract by :mod:`.reporters`.
PLUGIN_DOMAIN = "privgate-plugins"
PACKAGE = "privgate.reports"

#: Babel keywords that mark translatable strings (templates and Python), for extraction.
KEYWORDS = core_i18n.KEYWORDS


def po_path(lang: str, domain: str = DOMAIN) -> Any:
    """The ``.po`` catalog of ``lang`` inside the installed package (a Traversable)."""
    return core_i18n.po_path(PACKAGE, lang, domain)


def read_catalog(lang: str, domain: str = DOMAIN) -> Any:
    """The Babel catalog of ``lang`` as written in its ``.po`` file."""
    return core_i18n.read_catalog(PACKAGE, lang, domain)


def translations(lang: str) -> _gettext.NullTranslations:
    """gettext translations for ``lang`` (English: the msgids themselves)."""
    return core_i18n.translations(PACKAGE, lang, DOMAIN)


@lru_cache(maxsize=8)
def plugin_texts(lang: str) -> TextCatalog:
    """Translations of plugin-provided texts for ``lang``: privgate's own catalog of its
    built-in plugins' texts first, then those of every loaded plugin
    (:data:`privgate.i18n.TRANSLATIONS_ATTR`)."""
    from privgate.reports import reporters

    return plugin_catalog(lang, first=[reporters])


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
        text = known_lang(code)
        return cls(text, translations(text))

    # -- messages -------------------------------------------------------------------------

    def gettext(self, message: str, **values: Any) -> str:
        """``message`` translated, ``%(name)s`` filled from ``values``, Korean particles
        chosen by the word before them (:mod:`privgate.particles`)."""
        return self.finish(self._t.gettext(message) % values)

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        """Singular or plural form for ``n`` (available as ``%(num)s``), translated."""
        values.setdefault("num", self.num(n))
        return self.finish(self._t.ngettext(singular, plural, n) % values)

    def finish(self, text: str) -> str:
        """``text`` with its Korean particles resolved (unchanged in other languages)."""
        return resolve_particles(text) if self.code == "ko" else text

    def plugin(self, text: Any) -> str:
        """A text a plugin supplied, translated when a catalog has it, else as given."""
        english = "" if text is None else str(text)
        if not english:
            return english
        found = plugin_texts(self.code).lookup(english)
        return english if found is None else self.finish(found)

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
        """An ISO timestamp for the locale, in UTC when it has a zone ('unknown' if absent):
        the locale's long date and short time, the day period written out (오후, not PM)."""
        if not value:
            return self.gettext("unknown")
        try:
            stamp = datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
        zone = stamp.tzinfo is not None
        if zone:
            stamp = stamp.astimezone(UTC)
        locale = Locale.parse(self.code)
        pattern = locale.time_formats["short"].pattern.replace("a", "aaaa")
        time = format_time(stamp, pattern, tzinfo=UTC if zone else None, locale=self.code)
        day = format_date(stamp.date(), "long", locale=self.code)
        text = str(locale.datetime_formats["medium"]).format(time, day)
        return f"{text} UTC" if zone else text

    def date(self, value: Any) -> str:
        """The date of an ISO timestamp for the locale ('unknown' if absent)."""
        try:
            return format_date(datetime.fromisoformat(str(value)).date(), "long",
                               locale=self.code)
        except ValueError:
            return self.gettext("unknown") if not value else str(value)

    @property
    def display_name(self) -> str:
        """The language's own name (English, 한국어)."""
        return str(Locale.parse(self.code).display_name)


#: Files whose messages the catalogs must cover (relative to the reports package).
SOURCES = ("html.py", "common.py", "svg.py", "charts.py", "plots.py", "blocks.py",
           "view_checks.py", "view_attacks.py", "view_generators.py", "view_front.py",
           "sections.py", "compare.py", "i18n.py", "words.py", "templates/report.html.j2",
           "templates/_macros.html.j2", "templates/_front.html.j2", "templates/_attacks.html.j2",
           "templates/_generators.html.j2", "templates/_closing.html.j2",
           "templates/compare.html.j2")


def extract_messages() -> dict[str | tuple[str, str], list[str]]:
    """Every msgid used by the reports' Python modules and templates, with where it is used
    (:func:`privgate.i18n.extract_messages`). Used to build the catalogs and by the test that
    no English leaks into a translated report."""
    return core_i18n.extract_messages(PACKAGE, SOURCES)


def update_catalog(lang: str, path: str | None = None) -> list[str | tuple[str, str]]:
    """Rewrite ``lang``'s ``.po`` from the messages in use, keeping existing translations;
    returns the untranslated msgids. Run from a source checkout::

        .venv/bin/python -c "from privgate.reports.i18n import update_catalog as u; print(u('ko'))"
    """
    return core_i18n.update_catalog(PACKAGE, lang, DOMAIN, SOURCES, path)
