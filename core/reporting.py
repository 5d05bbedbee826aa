"""The reporter and report-section contracts.

Reporters turn an audit's result document (the dict written to ``results.json``) into files.
They see only that document and the sections contributed through the
``privgate_report_sections`` hook, so a report can always be re-rendered from
``results.json`` alone (``privgate report results.json``).

Sections are structured data, not HTML: paragraphs, tables, key-value lists and the charts of
:mod:`privgate.figures`. The HTML reporter renders them with autoescaping, so no string from
data or plugins reaches the page unescaped.

A reporter's options go through its constructor, declared here for every reporter: ``lang``
(one of the reporter's :attr:`Reporter.languages`) and ``results_sha256`` (the hash of the
``results.json`` file being re-rendered, for the seal). The command line passes them to any
reporter, built-in or not, and checks ``--lang`` against the languages the registered reporters
declare.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from privgate.figures import (
    BarChart,
    Block,
    Figure,
    HeatMap,
    KeyValues,
    LineChart,
    Paragraph,
    Series,
    Table,
)

__all__ = ["BarChart", "Block", "Figure", "HeatMap", "KeyValues", "LineChart", "Paragraph",
           "ReportSection", "Reporter", "Series", "Table"]


@dataclass(frozen=True)
class ReportSection:
    """A section of the HTML report contributed by a plugin.

    Attributes:
        id: a stable identifier (used as the HTML anchor).
        title: the section heading.
        blocks: paragraphs, tables, key-value lists and charts (:mod:`privgate.figures`),
            rendered in order; every string is escaped.
        order: sections are sorted by this number (built-ins use multiples of 10).
        plugin: filled in by privgate with the name of the plugin that contributed it.
    """

    id: str
    title: str
    blocks: Sequence[Block] = field(default_factory=tuple)
    order: int = 100
    plugin: str = ""


class Reporter(ABC):
    """Writes one output format of an audit (``html``, ``junit``, ...).

    Subclasses set ``format`` and ``filename`` and implement :meth:`render`; :meth:`write`
    puts the text into ``out_dir / filename``. A reporter that writes something other than
    one text file overrides :meth:`write` instead. A subclass that takes more options
    declares them as keyword arguments and passes ``lang`` and ``results_sha256`` on to this
    constructor.
    """

    format: ClassVar[str]
    filename: ClassVar[str]
    description: ClassVar[str] = ""
    #: Written after every audit; False for reporters of something else (e.g. comparisons).
    on_audit: ClassVar[bool] = True
    #: The languages the reporter writes (``--lang`` / ``[report] lang``); empty for a
    #: reporter whose output has no language (JUnit XML).
    languages: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, lang: str | None = None, results_sha256: str | None = None) -> None:
        """``lang``: the language to write, overriding the result document's own (``None``:
        the document's); ``results_sha256``: the SHA-256 of the results.json file being
        re-rendered (``None``: of the document's canonical serialisation)."""
        self.lang = lang
        self.results_sha256 = results_sha256

    @abstractmethod
    def render(self, result: Mapping[str, Any], sections: Sequence[ReportSection]) -> str:
        """The report's text for ``result`` (and, where the format shows them, ``sections``)."""

    def write(self, result: Mapping[str, Any], sections: Sequence[ReportSection],
              out_dir: Path) -> Path:
        """Write the report for ``result`` into ``out_dir`` and return the file's path."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / self.filename
        # errors="replace": a lone surrogate in a plugin's string must not lose the report
        path.write_text(self.render(result, sections), encoding="utf-8", errors="replace")
        return path
