"""Keep real values out of what plugins say: the guard every plugin string passes through.

Plugins write free text (descriptions, explanations, interval methods, error messages, report
sections) and free data (``details``). None of it may carry training or control values into
``results.json``, ``report.html`` or the console. :class:`DataGuard` is built from the real
tables once per audit and applied by core to every plugin-supplied string and ``details`` tree
before anything is written.

What it withholds (the whole string is replaced by :data:`WITHHELD`; a number in ``details``
becomes ``None``):

* a **rare** real value -- held by fewer than ``min_count`` real records (the report's
  ``min_cell_size``): text values of three or more characters, matched as whole words
  (case-insensitive), and numbers with three or more significant digits, matched by value (so
  ``77516``, ``77516.0`` and ``77,516`` all match);
* a **row**: values of three or more different columns that occur together in one real record,
  even when each is common (a record's quasi-identifier tuple).

Exempt: column names, declared (public) categories, and the figures core itself publishes
(row counts). Terminal control sequences, other control characters and bidirectional-override
characters are stripped from every plugin string (they could rewrite the console or disguise
text in the report).

Why hand-written: no library matches free text against the cell values of a table; an
Aho-Corasick package would only replace the first-token index below, at the cost of a
dependency.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from privgate.encoding import to_numeric
from privgate.errors import InputError
from privgate.schema import NUMERIC_KINDS, Kind, Schema

WITHHELD = ("[withheld by privgate: this text from a plugin contained values from the real "
            "data]")
#: Text values shorter than this are never treated as identifying on their own.
MIN_TEXT_CHARS = 3
#: Numbers with fewer significant digits than this are never identifying on their own.
MIN_DIGITS = 3
#: Distinct columns of one record that make a row leak.
ROW_COLUMNS = 3

_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"            # CSI sequences (colours, cursor moves, erase)
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC sequences (window titles, hyperlinks)
    r"|\x1b[@-Z\\-_]"                     # other two-byte escapes
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"     # C0/C1 controls except tab and newline
    r"|[\u200b-\u200f\u202a-\u202e\u2066-\u2069]")  # zero-width and bidi overrides
_WORD = re.compile(r"[^\W_]+")
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?"
                     r"(?![\w])")


def strip_controls(text: str) -> str:
    """``text`` without terminal escape sequences, control and bidi-override characters."""
    return _CONTROL.sub("", text)


def _words(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(text.casefold()))


def _digits(value: float) -> int:
    """Significant digits of a number as usually written (``77516.0`` -> 5, ``0.0123`` -> 3)."""
    text = f"{abs(value):.12g}".replace(".", "").lstrip("0")
    return len(text.split("e")[0])


@dataclass(frozen=True)
class _TextValue:
    words: tuple[str, ...]
    column: int
    value: str
    rare: bool


class DataGuard:
    """The real values a plugin must not repeat, indexed for fast matching.

    Args:
        frames: the real tables (training and control rows).
        schema: their schema (column kinds; declared categories are public).
        min_count: values held by fewer records are rare (identifying on their own).
        public_numbers: figures core publishes anyway (row counts), never withheld.
    """

    def __init__(self, frames: Sequence[pd.DataFrame], schema: Schema, min_count: int = 10,
                 public_numbers: Iterable[float] = ()) -> None:
        self.min_count = max(1, int(min_count))
        self.public_numbers = {float(x) for x in public_numbers}
        columns = [c for c in schema.modelled if all(c.name in f.columns for f in frames)]
        self._columns = columns
        self._names = [c.name for c in columns]
        self._frames = frames
        public = {_words(c.name) for c in schema.columns}
        for c in columns:
            if c.categories is not None and not c.data_dependent:
                public |= {_words(str(v)) for v in c.categories}
        self._text: dict[str, list[_TextValue]] = {}
        #: per numeric column: sorted distinct values and their counts
        self._numbers: dict[int, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]] = {}
        #: per (column, as text): the real rows' codes and each distinct value's code
        self._codes: dict[tuple[int, bool], Any] = {}
        for i, col in enumerate(columns):
            series = pd.concat([f[col.name] for f in frames], ignore_index=True)
            if col.kind in NUMERIC_KINDS:
                vals = to_numeric(series, col).to_numpy(dtype=float)
                vals = vals[np.isfinite(vals)]
                uniq, counts = np.unique(vals, return_counts=True)
                self._numbers[i] = (uniq, counts)
                if col.kind is Kind.DATETIME:  # dates are also matched as written
                    self._index_text(i, series.dropna().astype(str), public)
            else:
                self._index_text(i, series.dropna().astype(str), public)

    def _index_text(self, column: int, values: pd.Series, public: set[tuple[str, ...]]) -> None:
        counts = values.value_counts()
        for value, count in counts.items():
            words = _words(str(value))
            if not words or words in public:
                continue
            entry = _TextValue(words, column, str(value),
                               int(count) < self.min_count
                               and sum(map(len, words)) >= MIN_TEXT_CHARS)
            self._text.setdefault(words[0], []).append(entry)

    # -- matching ---------------------------------------------------------------------------

    def _number_hits(self, value: float) -> list[tuple[int, bool]]:
        """(column, rare) for every numeric column that holds ``value``."""
        if value in self.public_numbers:
            return []
        hits = []
        for col, (uniq, counts) in self._numbers.items():
            pos = int(np.searchsorted(uniq, value))
            if pos < len(uniq) and uniq[pos] == value:
                rare = counts[pos] < self.min_count and _digits(value) >= MIN_DIGITS
                hits.append((col, bool(rare)))
        return hits

    def _leaks(self, text: str) -> bool:
        """Whether ``text`` holds a rare real value or a real record's tuple."""
        matched: dict[int, list[Any]] = {}
        words = _words(text)
        for i, w in enumerate(words):
            for entry in self._text.get(w, ()):
                if words[i:i + len(entry.words)] == entry.words:
                    if entry.rare:
                        return True
                    matched.setdefault(entry.column, []).append(entry.value)
        for raw in _NUMBER.findall(text):
            try:
                value = float(raw.replace(",", ""))
            except ValueError:
                continue
            for col, rare in self._number_hits(value):
                if rare:
                    return True
                if _digits(value) >= 2:
                    matched.setdefault(col, []).append(value)
        return len(matched) >= ROW_COLUMNS and self._co_occur(matched)

    def _co_occur(self, matched: Mapping[int, list[Any]]) -> bool:
        """Whether one real record holds matched values in ROW_COLUMNS or more columns."""
        hits: np.ndarray[Any, Any] | None = None
        for col, values in matched.items():
            codes, index = self._cells(col)
            wanted = [index[v] for v in set(values) if v in index]
            mask = np.isin(codes, np.asarray(wanted, dtype=codes.dtype))
            if col in self._numbers:  # also as written (a date, a code with leading zeros)
                text_codes, text_index = self._cells(col, as_text=True)
                written = [text_index[v] for v in values
                           if isinstance(v, str) and v in text_index]
                if written:
                    mask |= np.isin(text_codes, np.asarray(written, dtype=text_codes.dtype))
            hits = mask.astype(np.int32) if hits is None else hits + mask
        return hits is not None and int(hits.max(initial=0)) >= ROW_COLUMNS

    def _cells(self, col: int, *, as_text: bool = False) -> tuple[np.ndarray[Any, Any],
                                                                 dict[Any, int]]:
        """Column ``col`` of every real row as codes into its distinct values, and each
        value's code: numbers (a numeric column) or the cells as written (``as_text``, and
        every other column). Made once per column and kept: a report matches thousands of
        strings, and re-reading a column of a large table for each took most of a report's
        writing time."""
        key = (col, as_text or col not in self._numbers)
        if key not in self._codes:
            series = pd.concat([f[self._names[col]] for f in self._frames], ignore_index=True)
            cells: Any = (series.astype(str) if key[1] else
                          to_numeric(series, self._columns[col]).to_numpy(dtype=float))
            codes, uniques = pd.factorize(cells)
            self._codes[key] = (codes, {v: i for i, v in enumerate(uniques.tolist())})
        found: tuple[np.ndarray[Any, Any], dict[Any, int]] = self._codes[key]
        return found

    # -- applying ---------------------------------------------------------------------------

    def text(self, value: Any) -> Any:
        """A plugin string made safe: controls stripped, withheld if it carries real values."""
        if not isinstance(value, str):
            return value
        clean = strip_controls(value)
        return WITHHELD if self._leaks(clean) else clean

    def error(self, exc: InputError) -> InputError:
        """``exc`` made safe as :meth:`text` makes its message safe; a message that passes
        unchanged keeps its msgid, so that it is still shown in the command's language."""
        english = str(exc)
        safe = self.text(english)
        same = safe == english and getattr(exc, "text", None) == english
        return InputError(exc.text if same else safe)

    def data(self, value: Any) -> Any:
        """A plugin's JSON data made safe: every string and key checked; a number that is a
        rare real value becomes ``None``."""
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for k, v in value.items():
                key = self.text(str(k))
                if key == WITHHELD:
                    key = f"withheld-{len(out)}"
                out[key] = self.data(v)
            return out
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        if (isinstance(value, int | float) and not isinstance(value, bool)
                and math.isfinite(value)
                and any(rare for _, rare in self._number_hits(float(value)))):
            return None
        return value


class NoGuard(DataGuard):
    """Strips control characters only (when no real table is at hand, e.g. re-rendering)."""

    def __init__(self) -> None:  # noqa: D107 -- nothing to index
        self.public_numbers = set()
        self._text = {}
        self._numbers = {}

    def _leaks(self, text: str) -> bool:
        return False


__all__ = ["WITHHELD", "DataGuard", "NoGuard", "strip_controls"]
