"""The reporter and report-section contracts.

Reporters turn an audit's result document (the dict written to ``results.json``) into files.
They see only that document and the sections contributed through the
``privgate_report_sections`` hook, so a report can always be re-rendered from
``results.json`` alone (``privgate report results.json``).

Sections are structured data, not HTML: the HTML reporter renders them with autoescaping, so no
string from data or plugins reaches the page unescaped.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    """A table with header cells; every cell is shown as text."""

    headers: Sequence[str]
    rows: Sequence[Sequence[Any]]
    caption: str = ""


@dataclass(frozen=True)
class KeyValues:
    """A two-column definition list."""

    items: Sequence[tuple[str, Any]]


Block = Paragraph | Table | KeyValues


@dataclass(frozen=True)
class ReportSection:
    """A section of the HTML report contributed by a plugin.

    Attributes:
        id: a stable identifier (used as the HTML anchor).
        title: the section heading.
        blocks: paragraphs, tables and key-value lists, rendered in order as escaped text.
        order: sections are sorted by this number (built-ins use multiples of 10).
        plugin: filled in by privgate with the name of the plugin that contributed it.
    """

    id: str
    title: str
    blocks: Sequence[Block] = field(default_factory=tuple)
    order: int = 100
    plugin: str = ""


class Reporter(ABC):
    """Writes one output format of an audit (``html``, ``json``, ``junit``, ...).

    Subclasses set ``format`` and ``filename`` and implement :meth:`render`; :meth:`write`
    puts the text into ``out_dir / filename``. A reporter that writes something other than
    one text file overrides :meth:`write` instead.
    """

    format: ClassVar[str]
    filename: ClassVar[str]
    description: ClassVar[str] = ""
    #: Written after every audit; False for reporters of something else (e.g. comparisons).
    on_audit: ClassVar[bool] = True

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
