"""Registers privgate's built-in reporters (HTML, JUnit, comparison) through the plugin hook.

``results.json`` is not a reporter's: core writes its own serialisation of the result document
(:func:`privgate.outputs.write_reports`), so no plugin can alter the record."""

from __future__ import annotations

from privgate import hookimpl
from privgate.reporting import Reporter
from privgate.reports.compare import ComparisonReporter
from privgate.reports.html import HtmlReporter
from privgate.reports.junit import JUnitReporter


@hookimpl
def privgate_reporters() -> list[type[Reporter]]:
    """privgate's built-in output formats."""
    return [HtmlReporter, JUnitReporter, ComparisonReporter]


#: privgate's translations of its built-in plugins' texts (attack explanations, policy, metric
#: and generator texts, captions), keyed by the exact English: the gettext catalogs
#: ``locale/<lang>/LC_MESSAGES/privgate-plugins.po`` of this package, declared through the
#: same ``PRIVGATE_TRANSLATIONS`` contract a third-party plugin uses (:mod:`privgate.i18n`).
PRIVGATE_TRANSLATIONS = ("locale", "privgate-plugins")
