"""The contract kit's checks for reporters and report sections (part of
:mod:`privgate.testing`, which re-exports :func:`check_reporter` and
:func:`check_report_sections`; use them from there).

Both run on a realistic result document: by default the one a tiny real audit produces (200
rows, the ``gmm`` generator, the ``dcr-membership`` attack and the ``hellinger`` metric, no
privacy ledger), made once per process (:func:`contract_result`, in
:mod:`privgate.testing_documents`), or the caller's ``result=``. Plugins get it as core hands it
to them: a read-only view (:func:`privgate.views.readonly`).
"""

from __future__ import annotations

import fnmatch
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from privgate.figures import BarChart, from_plain, map_block
from privgate.plain import PlainError
from privgate.reporting import KeyValues, Paragraph, Reporter, ReportSection, Table
from privgate.testing_documents import (
    CONTROL_CHARACTERS,
    DATA_VALUES,
    HOSTILE,
    RAW_MARKUP,
    contract_result,
    data_read,
    guarded,
    hostile_result,
)
from privgate.testing_runtime import ContractViolation, instantiate, plugin_call, within_limit
from privgate.testing_runtime import violation as _fail
from privgate.views import mutable_copy

__all__ = ["CONTROL_CHARACTERS", "DATA_VALUES", "HOSTILE", "RAW_MARKUP", "check_report_sections",
           "check_reporter", "contract_result", "hostile_result"]

HTML_SUFFIXES = (".html", ".htm", ".xhtml")


# -- reporters -------------------------------------------------------------------------------


def _sections() -> tuple[ReportSection, ...]:
    return (ReportSection("contract-kit", "Contract kit section", (
        Paragraph("A paragraph contributed by a plugin."),
        Table(("column", "value"), (("a", 1), ("b", 2.5)), caption="A small table"),
        KeyValues((("key", "value"),)),
        BarChart("A small bar chart", ("a", "b"), (0.25, 0.5), caption="Two bars")),
        order=50, plugin="privgate-contract"),)


def _hostile_section() -> ReportSection:
    return ReportSection(f"contract-hostile {HOSTILE}", HOSTILE, (
        Paragraph(HOSTILE), Table((HOSTILE, "b"), ((HOSTILE, 1),), caption=HOSTILE),
        KeyValues(((HOSTILE, HOSTILE),)),
        BarChart(HOSTILE, (HOSTILE, "b"), (0.5, 1.0), caption=HOSTILE, axis_label=HOSTILE)),
        order=60, plugin=HOSTILE)


def _plain_name(name: str) -> bool:
    return (name.strip() == name and name not in (".", "..") and "\x00" not in name
            and not any(sep in name for sep in ("/", "\\", ":")))


def _document(owner: str, cls: type[Reporter], result: Mapping[str, Any]) -> dict[str, Any]:
    """The document this reporter renders: ``result``, or what its ``contract_document``
    builds from it (e.g. the ``compare`` reporter's comparison of two audits)."""
    maker = getattr(cls, "contract_document", None)
    if maker is None:
        copied: dict[str, Any] = mutable_copy(result)
        return copied
    doc = plugin_call(owner, "contract_document()", lambda: maker(mutable_copy(result)))
    if not isinstance(doc, Mapping):
        raise _fail(owner, f"contract_document() returned {type(doc).__name__}, not a mapping")
    made: dict[str, Any] = mutable_copy(doc)
    return made


def _render(owner: str, cls: type[Reporter], params: Mapping[str, Any] | None,
            doc: Mapping[str, Any], sections: Sequence[ReportSection], what: str) -> str:
    reporter = plugin_call(owner, "the constructor", lambda: instantiate(cls, params))
    text = guarded(owner, what, lambda view: reporter.render(view, sections), doc)
    if not isinstance(text, str):
        raise _fail(owner, f"{what} returned {type(text).__name__}, not str")
    return text


def _write(owner: str, cls: type[Reporter], params: Mapping[str, Any] | None,
           doc: Mapping[str, Any], sections: Sequence[ReportSection], what: str) -> str:
    """Write into a fresh output folder; check the files; the main file's text."""
    reporter = plugin_call(owner, "the constructor", lambda: instantiate(cls, params))
    declared = getattr(cls, "contract_files", None)
    with tempfile.TemporaryDirectory(prefix="privgate-contract-") as tmp:
        sandbox = Path(tmp).resolve()
        out_dir = sandbox / "out"
        out_dir.mkdir()
        returned = guarded(owner, what, lambda view: reporter.write(view, sections, out_dir),
                            doc)
        if not isinstance(returned, str | os.PathLike):
            raise _fail(owner, f"{what} returned {type(returned).__name__}, not the path of the "
                               "file it wrote")
        path = Path(returned).resolve()
        written = sorted(p.resolve() for p in sandbox.rglob("*") if p.is_file())
        outside = [str(p.relative_to(sandbox)) for p in written if out_dir not in p.parents]
        if outside:
            raise _fail(owner, f"{what} wrote outside the output folder it was given: "
                               f"{outside}")
        names = [p.relative_to(out_dir).as_posix() for p in written]
        if path not in written:
            raise _fail(owner, f"{what} returned {str(returned)!r}, which is not a file it wrote "
                               f"in the output folder (it wrote {names})")
        if declared is None:
            expected = [str(getattr(reporter, "filename", ""))]
            if names != expected:
                raise _fail(owner, f"{what} must write exactly one file, out_dir/{expected[0]} "
                                   f"(its filename), and return its path; it wrote {names} (a "
                                   "reporter that writes more lists them in contract_files)")
        else:
            extra = [n for n in names if not any(fnmatch.fnmatchcase(n, pattern)
                                                 for pattern in declared)]
            if extra:
                raise _fail(owner, f"{what} wrote {extra}, not in its contract_files "
                                   f"{list(declared)}")
        return path.read_bytes().decode("utf-8", errors="replace")


def _check_options(owner: str, cls: type[Reporter], options: dict[str, Any],
                   doc: Mapping[str, Any]) -> None:
    """The reporter built with the Reporter options (``lang``, ``results_sha256``) renders."""
    plugin_call(owner, f"the constructor with the Reporter options lang={options['lang']!r} "
                       "and results_sha256=...", lambda: instantiate(cls, options))
    _render(owner, cls, options, doc, _sections(), f"render() in language {options['lang']!r}")


def _check_escaped(owner: str, text: str, where: str) -> None:
    raw = [m for m in RAW_MARKUP if m in text]
    if raw:
        raise _fail(owner, f"{where} shows {raw[0]!r} unescaped: a string from a plugin or the "
                           "data (planted in the document's text fields and in a report "
                           "section) reached the HTML as markup; escape every string (jinja2 "
                           "autoescape, markupsafe.escape or html.escape)")
    controls = [f"U+{ord(c):04X}" for c in CONTROL_CHARACTERS if c in text]
    if controls:
        raise _fail(owner, f"{where} contains the raw control character(s) "
                           f"{', '.join(controls)} planted in the document's text fields; "
                           "HTML cannot escape them (character references to them are invalid "
                           "too), so drop or replace them (e.g. by U+FFFD)")


def _differences(a: str, b: str) -> str:
    """The first three lines that differ (a seal or hash line alone would not say why)."""
    lines = [f"line {i}: {x[:160]!r} vs {y[:160]!r}"
             for i, (x, y) in enumerate(zip(a.splitlines(), b.splitlines()), start=1) if x != y]
    return "; ".join(lines[:3]) or f"in length ({len(a)} vs {len(b)} characters)"


def check_reporter(cls: type[Reporter], params: Mapping[str, Any] | None = None, *,
                   result: Mapping[str, Any] | None = None,
                   timeout_s: float | None = None) -> None:
    """The reporter contract, on a read-only view of a result document (default: the kit's
    reference audit, :func:`contract_result`; a reporter that renders another kind of
    document declares ``contract_document(result)`` building one from an audit's).

    Rules: ``format`` and ``filename`` are non-empty, the filename a plain file name;
    ``languages`` is a tuple of language codes and the constructor takes ``lang=`` (each of
    them) and ``results_sha256=`` (:class:`~privgate.reporting.Reporter`'s options); ``render``
    returns a string and ``write`` writes exactly ``out_dir/filename`` (or only the files its
    ``contract_files`` patterns name) and returns its path, neither of them raising nor
    changing the document; both work on a document whose plugin-provided texts hold hostile
    strings (markup, quotes, control characters, a lone surrogate) and, for an HTML filename,
    the written file shows none of them raw; the same document renders to the same text.
    """
    __tracebackhide__ = True
    if not (isinstance(cls, type) and issubclass(cls, Reporter)):
        raise ContractViolation(f"{cls!r} is not a privgate.reporting.Reporter subclass")
    owner = f"reporter {getattr(cls, 'format', cls.__name__)!r}"
    within_limit(owner, "check_reporter", cls, timeout_s,
                 lambda: _check_reporter(owner, cls, params, result))


def _check_reporter(owner: str, cls: type[Reporter], params: Mapping[str, Any] | None,
                    result: Mapping[str, Any] | None) -> None:
    fmt, filename = getattr(cls, "format", None), getattr(cls, "filename", None)
    if not (isinstance(fmt, str) and fmt.strip()):
        raise _fail(owner, f"format must be a non-empty string, got {fmt!r}")
    if not (isinstance(filename, str) and filename.strip()):
        raise _fail(owner, f"filename must be a non-empty string, got {filename!r}")
    if not _plain_name(filename):
        raise _fail(owner, f"filename {filename!r} must be a plain file name (no folder, not "
                           "'.' or '..'): write() puts it inside the output folder")
    languages = getattr(cls, "languages", ())
    if not (isinstance(languages, tuple) and all(
            isinstance(x, str) and x.strip() for x in languages)):
        raise _fail(owner, f"languages must be a tuple of language codes, got {languages!r}")
    base = contract_result() if result is None else mutable_copy(result)
    doc = _document(owner, cls, base)
    text = _render(owner, cls, params, doc, _sections(), "render()")
    given = dict(getattr(cls, "contract_params", {}) if params is None else params)
    for lang in languages or (None,):  # the options every reporter takes (Reporter.__init__)
        _check_options(owner, cls, {**given, "lang": lang, "results_sha256": "0" * 64}, doc)
    _write(owner, cls, params, doc, _sections(), "write()")
    hostile = _document(owner, cls, hostile_result(base))
    sections = (*_sections(), _hostile_section())
    rendered = _render(owner, cls, params, hostile, sections,
                       "render() on a document with hostile strings")
    written = _write(owner, cls, params, hostile, sections,
                     "write() on a document with hostile strings")
    if filename.lower().endswith(HTML_SUFFIXES):
        _check_escaped(owner, rendered, "render() on a document with hostile strings")
        _check_escaped(owner, written, f"the {filename} written from a document with hostile "
                                       "strings")
    again = _render(owner, cls, params, doc, _sections(), "render() (again)")
    if again != text:
        raise _fail(owner, "render() is not deterministic: two renders of the same document "
                           f"differ: {_differences(text, again)}")


# -- report sections ---------------------------------------------------------------------------


def _texts(section: ReportSection) -> list[str]:
    """Every string of the section and every cell or value of its blocks, as text."""
    seen = [str(section.id), str(section.title)]

    def keep(value: Any) -> Any:
        seen.append(str(value))
        return value

    for block in section.blocks:
        map_block(block, keep, keep)
    return seen


def _check_sections(owner: str, out: object, what: str) -> list[ReportSection]:
    if out is None:
        return []
    if isinstance(out, str | bytes | Mapping) or not isinstance(out, Sequence):
        raise _fail(owner, f"{what} returned {type(out).__name__}; the hook returns a sequence "
                           "(list or tuple) of privgate.reporting.ReportSection, or None")
    ids: list[str] = []
    for section in out:
        if not isinstance(section, ReportSection):
            raise _fail(owner, f"{what} returned a {type(section).__name__} among its sections, "
                               "not a ReportSection")
        if not (isinstance(section.id, str) and section.id.strip()):
            raise _fail(owner, f"{what} returned a section with an empty id {section.id!r} (ids "
                               "are the sections' HTML anchors)")
        if not (isinstance(section.title, str) and section.title.strip()):
            raise _fail(owner, f"section {section.id!r} has no title")
        if isinstance(section.order, bool) or not isinstance(section.order, int):
            raise _fail(owner, f"section {section.id!r}: order must be an int, got "
                               f"{section.order!r}")
        for i, block in enumerate(section.blocks):
            try:
                from_plain(block, f"section {section.id!r} block {i}")
            except PlainError as exc:
                raise _fail(owner, str(exc)) from None
        ids.append(section.id)
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise _fail(owner, f"{what} returned section ids {twice} more than once; ids must be "
                           "unique (they are HTML anchors)")
    return list(out)


def _shows(sections: Sequence[ReportSection], value: object) -> ReportSection | None:
    for section in sections:
        for text in _texts(section):
            if (value in text) if isinstance(value, str) else text == str(value):
                return section
    return None


def check_report_sections(hook: Callable[..., Any] | ModuleType | object, *,
                          result: Mapping[str, Any] | None = None,
                          forbidden: Sequence[object] = (),
                          timeout_s: float | None = None) -> None:
    """The report-section contract for a ``privgate_report_sections`` implementation (the
    function, or the plugin module or object that has it), on read-only views of a result
    document (default: the kit's reference audit).

    Rules: the hook returns ``None`` or a sequence of :class:`ReportSection` with non-empty,
    unique ids, titles, int orders and Paragraph/Table/KeyValues blocks; it does not change the
    document; it works on a document whose texts hold hostile strings; and no section shows a
    value from ``forbidden`` (strings: anywhere in a text; other values: as a whole cell) or a
    category value that the document says was read from the real data (a data-dependent
    column, or an inferred schema) -- sections must never show raw data.
    """
    __tracebackhide__ = True
    fn = hook if callable(hook) and not isinstance(hook, ModuleType | type) else getattr(
        hook, "privgate_report_sections", None)
    if not callable(fn):
        raise ContractViolation(f"{hook!r} has no privgate_report_sections hook")
    owner = f"report sections of {getattr(fn, '__module__', None) or repr(hook)!r}"
    within_limit(owner, "check_report_sections", fn, timeout_s,
                 lambda: _check_report_sections(owner, fn, result, forbidden))


def _check_report_sections(owner: str, fn: Callable[..., Any],
                           result: Mapping[str, Any] | None,
                           forbidden: Sequence[object]) -> None:
    base = contract_result() if result is None else mutable_copy(result)
    cases: list[tuple[str, dict[str, Any], Sequence[str]]] = [
        ("the result document", base, ()),
        ("a document with hostile strings", hostile_result(base), ()),
        ("a document with a data-dependent column", data_read(base, "declared"), DATA_VALUES),
        ("a document with an inferred schema", data_read(base, "inferred"), DATA_VALUES)]
    for name, doc, planted in cases:
        what = f"the hook on {name}"
        sections = _check_sections(owner, guarded(owner, what, lambda v: fn(result=v), doc),
                                   what)
        for value in planted:
            if (hit := _shows(sections, value)) is not None:
                raise _fail(owner, f"section {hit.id!r} shows {value!r}, a category value the "
                                   "document says was read from the real data: sections must "
                                   "never show values from training or control rows")
        for item in forbidden:
            if (hit := _shows(sections, item)) is not None:
                raise _fail(owner, f"section {hit.id!r} shows {item!r}, a forbidden value "
                                   "(raw data must never appear in a report section)")
