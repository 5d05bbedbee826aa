"""Registers privgate's built-in reporters (HTML, JSON, JUnit, comparison) through the plugin
hook."""

from __future__ import annotations

from privgate import hookimpl
from privgate.reporting import Reporter
from privgate.reports.compare import ComparisonReporter
from privgate.reports.html import HtmlReporter
from privgate.reports.json_report import JsonReporter
from privgate.reports.junit import JUnitReporter


@hookimpl
def privgate_reporters() -> list[type[Reporter]]:
    """privgate's built-in output formats."""
    return [HtmlReporter, JsonReporter, JUnitReporter, ComparisonReporter]
