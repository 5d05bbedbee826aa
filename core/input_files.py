"""Input files: refuse what is not a readable regular file, tell a table file's format from
its content, and check a CSV's structure before pandas reads it.

Every problem is an :class:`~privgate.errors.InputError` that names the file and says what to
do. :func:`check_input_file` runs before any file is opened (a named pipe would block forever);
:func:`sniff` reads the first bytes (content decides the format, and the name must agree);
:func:`csv_structure` checks that every row has one field per column.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import itertools
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pandas as pd

from privgate.errors import N_, InputError, Text


def _file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return Text(N_("a named pipe (FIFO)"))
    if stat.S_ISSOCK(mode):
        return Text(N_("a socket"))
    if stat.S_ISCHR(mode):
        return Text(N_("a character device"))
    if stat.S_ISBLK(mode):
        return Text(N_("a block device"))
    return Text(N_("not a regular file"))


#: How messages name a file by its part (``what``) and what to give instead (``give``):
#: English, translated where a message shows them.
FILE_WORDS: dict[str, str] = {
    "data": Text(N_("data")), "training": Text(N_("training")), "train": Text(N_("train")),
    "control": Text(N_("control")), "synthetic": Text(N_("synthetic")),
    "config": Text(N_("config")), "a CSV file": Text(N_("a CSV file")),
    "a TOML file": Text(N_("a TOML file")), "report": Text(N_("report")),
    "results file": Text(N_("results file")), "private key": Text(N_("private key")),
    "public key": Text(N_("public key"))}


def file_word(what: str) -> str:
    """``what`` as messages name it: a :class:`Text` for the words privgate uses."""
    return FILE_WORDS.get(str.__str__(what), what) if not isinstance(what, Text) else what


def check_input_file(path: Path | str, what: str, give: str = "a CSV file") -> Path:
    """``path`` if it is an existing, readable regular file; else an :class:`InputError`.

    Called before any file is opened: opening a named pipe blocks forever, and a device such
    as ``/dev/zero`` never ends. Symbolic links are followed (a loop is refused).

    Args:
        what: how messages name the file ("data", "training", "config", ...).
        give: what the user should give instead ("a CSV file", "a TOML file").
    """
    path, what, give = Path(path), file_word(what), file_word(give)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(N_("%(path)s: %(what)s file not found"), path=path, what=what) from None
    except NotADirectoryError:
        raise InputError(N_("%(path)s: %(what)s file not found (a part of the path is a file, "
                            "not a folder)"), path=path, what=what) from None
    except PermissionError:
        raise InputError(N_("%(path)s: the %(what)s file cannot be read (permission denied on "
                            "it or on a folder above it); fix the permissions"),
                         path=path, what=what) from None
    except ValueError:
        raise InputError(N_("%(path)s: the %(what)s path contains a NUL character"),
                         path=f"{path!s:.200}", what=what) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(N_("%(path)s: the %(what)s path is a symbolic link that loops; "
                                "point it at %(give)s"), path=path, what=what, give=give) from None
        raise InputError(N_("%(path)s: the %(what)s file cannot be read: %(reason)s"),
                         path=path, what=what, reason=exc.strerror) from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(N_("%(path)s: %(what)s path is a folder; give %(give)s"),
                         path=path, what=what, give=give)
    if not stat.S_ISREG(st.st_mode):
        raise InputError(N_("%(path)s: the %(what)s path is %(file_kind)s, not a regular file; "
                            "privgate reads only regular files: save the content to %(give)s "
                            "and give that"),
                         path=path, what=what, file_kind=_file_kind(st.st_mode), give=give)
    if not os.access(path, os.R_OK):
        raise InputError(N_("%(path)s: the %(what)s file cannot be read (permission denied); "
                            "fix its permissions"), path=path, what=what)
    return path


#: Leading bytes of the file formats privgate recognises (content decides, not the name).
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"), (b"BZh", "bz2"), (b"\xfd7zXZ\x00", "xz"), (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"), (b"(\xb5/\xfd", "zstd"), (b"PAR1", "parquet"),
    (b"7z\xbc\xaf'\x1c", "7z"), (b"Rar!\x1a\x07", "rar"), (b"\x04\x22\x4d\x18", "lz4"),
    (b"\x1f\x9d", "compress"), (b"SQLite format 3\x00", "sqlite"), (b"%PDF", "pdf"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"), (b"\x7fELF", "elf"),
)
_SUFFIXES = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip",
             ".zst": "zstd", ".parquet": "parquet", ".pq": "parquet", ".tar": "tar",
             ".tgz": "tar", ".7z": "7z", ".rar": "rar", ".lz4": "lz4", ".z": "compress",
             ".xlsx": "spreadsheet", ".xls": "spreadsheet", ".ods": "spreadsheet",
             ".sqlite": "sqlite", ".db": "sqlite", ".pdf": "pdf"}
_NAMES: dict[str, str] = {
    "plain": Text(N_("plain text")), "gzip": Text(N_("gzip-compressed")),
    "bz2": Text(N_("bzip2-compressed")), "xz": Text(N_("xz-compressed")),
    "zip": Text(N_("a zip archive")), "zstd": Text(N_("Zstandard-compressed")),
    "parquet": Text(N_("a Parquet file")), "tar": Text(N_("a tar archive")),
    "7z": Text(N_("a 7-Zip archive")), "rar": Text(N_("a RAR archive")),
    "lz4": Text(N_("LZ4-compressed")), "compress": Text(N_("Unix-compress (.Z) compressed")),
    "sqlite": Text(N_("an SQLite database")), "pdf": Text(N_("a PDF document")),
    "ole": Text(N_("a legacy Office document")), "elf": Text(N_("an executable program")),
    "spreadsheet": Text(N_("a spreadsheet"))}
_EXTENSIONS = {"gzip": ".gz", "bz2": ".bz2", "xz": ".xz", "zip": ".zip", "zstd": ".zst",
               "parquet": ".parquet"}
_READABLE = Text(N_("a CSV file (UTF-8, comma-separated, with a header row; optionally "
                    "compressed as .gz, .bz2, .xz or a one-file .zip) or a .parquet file"))
#: A cell longer than this (characters) is refused: privgate audits tables, not documents.
MAX_CELL_CHARS = 131_072


def _content_kind(head: bytes) -> str:
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[257:262] == b"ustar":
        return "tar"
    return "plain"


def _named_kind(path: Path) -> str:
    suffixes = [x.lower() for x in path.suffixes]
    if ".tar" in suffixes:
        return "tar"
    return _SUFFIXES.get(path.suffix.lower(), "plain")


def _zstd_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("zstandard") is not None


@contextlib.contextmanager
def _open_text(path: Path, kind: str) -> Iterator[IO[str]]:
    """A UTF-8 text stream of the (decompressed) file; a BOM is skipped as pandas does."""
    import bz2
    import gzip
    import lzma
    import zipfile

    with contextlib.ExitStack() as stack:
        raw: Any
        if kind == "gzip":
            raw = stack.enter_context(gzip.open(path, "rb"))
        elif kind == "bz2":
            raw = stack.enter_context(bz2.open(path, "rb"))
        elif kind == "xz":
            raw = stack.enter_context(lzma.open(path, "rb"))
        elif kind == "zstd":
            import zstandard

            raw = stack.enter_context(zstandard.open(path, "rb"))
        elif kind == "zip":
            archive = stack.enter_context(zipfile.ZipFile(path))
            (member,) = [m for m in archive.infolist() if not m.is_dir()]
            raw = stack.enter_context(archive.open(member))
        else:
            raw = stack.enter_context(open(path, "rb"))
        yield stack.enter_context(io.TextIOWrapper(raw, encoding="utf-8-sig", newline=""))


def _check_zip(path: Path, what: str) -> None:
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise InputError(N_("%(path)s: the %(what)s file is a corrupt or truncated zip archive "
                            "(%(exc)s); re-create it"), path=path, what=what, exc=exc) from None
    if len(members) != 1:
        names = f" ({', '.join(m.filename for m in members[:5])})" if members else ""
        raise InputError(N_("%(path)s: the %(what)s zip archive holds %(n_members)s "
                            "files%(names)s; a .zip must hold exactly one CSV file (unpack it "
                            "and give the CSV)"),
                         path=path, what=what, n_members=len(members), names=names)
    if members[0].flag_bits & 0x1:
        raise InputError(N_("%(path)s: the %(what)s zip archive is password-protected; unpack "
                            "it and give the CSV"), path=path, what=what)


def sniff(path: Path, what: str) -> str:
    """Which format the file is in (from its first bytes), refusing what cannot be read."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(65536)
    except PermissionError:
        raise InputError(N_("%(path)s: the %(what)s file cannot be read (permission denied); "
                            "fix its permissions"), path=path, what=what) from None
    except OSError as exc:
        raise InputError(N_("%(path)s: the %(what)s file cannot be read: %(reason)s"),
                         path=path, what=what, reason=exc.strerror) from None
    if not head:
        raise InputError(N_("%(path)s: the %(what)s file is empty (no header, no rows)"),
                         path=path, what=what)
    content, named = _content_kind(head), _named_kind(path)
    if "tar" in (content, named):
        raise InputError(N_("%(path)s: the %(what)s file is a tar archive; privgate reads one "
                            "table per file: extract the CSV (tar -xf) and give that, as "
                            "%(readable)s"), path=path, what=what, readable=_READABLE)
    readable = {"plain", "gzip", "bz2", "xz", "zip", "parquet"}
    if content == "zstd" and not _zstd_available():
        raise InputError(N_("%(path)s: the %(what)s file is Zstandard-compressed, which needs "
                            "the 'zstandard' package (pip install zstandard); or decompress it "
                            "(zstd -d) and give the CSV"), path=path, what=what)
    readable.add("zstd")
    if content not in readable or (named not in readable and named != content):
        kind = content if content not in readable else named
        raise InputError(N_("%(path)s: the %(what)s file is %(names)s, which privgate cannot "
                            "read; give %(readable)s"),
                         path=path, what=what, names=_NAMES[kind], readable=_READABLE)
    if content != named:
        ext = path.suffix or "(no extension)"
        if content == "plain":
            raise InputError(N_("%(path)s: the name ends in %(ext)s but the %(what)s file is "
                                "not %(names)s (its content is plain text); rename it to match "
                                "its content (e.g. drop %(ext)s) or re-create it as %(names)s"),
                             path=path, ext=ext, what=what, names=_NAMES[named])
        raise InputError(N_("%(path)s: the %(what)s file is %(names)s but its name ends in "
                            "%(ext)s; rename it to end in %(extensions)s so that what it holds "
                            "is clear"),
                         path=path, what=what, names=_NAMES[content], ext=ext,
                         extensions=_EXTENSIONS[content])
    if content == "zip":
        _check_zip(path, what)
    return content


def read_error(path: Path, what: str, kind: str, exc: BaseException) -> InputError:
    """The :class:`InputError` for an exception raised while reading a table file."""
    import lzma
    import zipfile
    import zlib

    if isinstance(exc, pd.errors.EmptyDataError):
        return InputError(N_("%(path)s: the %(what)s file is empty (no header, no rows)"),
                          path=path, what=what)
    if isinstance(exc, UnicodeDecodeError):
        return InputError(N_("%(path)s: the %(what)s file is not UTF-8 text (byte 0x%(byte)s "
                             "at position %(start)s); re-save it as UTF-8 (e.g. iconv -f latin1 "
                             "-t utf-8 FILE > FILE.utf8.csv)"),
                          path=path, what=what, byte=f"{exc.object[exc.start]:02x}",
                          start=exc.start)
    if isinstance(exc, PermissionError):
        return InputError(N_("%(path)s: the %(what)s file cannot be read (permission denied)"),
                          path=path, what=what)
    if kind not in ("plain", "parquet") and isinstance(
            exc, EOFError | zlib.error | lzma.LZMAError | zipfile.BadZipFile | OSError):
        return InputError(N_("%(path)s: the %(what)s file is corrupt or truncated (%(names)s: "
                             "%(exc)s); re-create or re-download it"),
                          path=path, what=what, names=_NAMES[kind], exc=exc)
    if kind == "parquet":
        return InputError(N_("%(path)s: the %(what)s file is not a readable Parquet file "
                             "(%(type)s: %(exc)s); re-export it"),
                          path=path, what=what, type=type(exc).__name__, exc=str(exc)[:200])
    if isinstance(exc, pd.errors.ParserError):
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        detail = (f"line {found.group(2)} has {found.group(3)} fields, the header has "
                  f"{found.group(1)}" if found else str(exc).strip()[:200])
        return InputError(N_("%(path)s: the %(what)s file is not a well-formed CSV "
                             "(%(detail)s); every row needs one comma-separated field per column"),
                          path=path, what=what, detail=detail)
    return InputError(N_("%(path)s: cannot read the %(what)s file as CSV: %(exc)s"),
                      path=path, what=what, exc=str(exc)[:200])


def csv_structure(path: Path, what: str, kind: str) -> list[str]:
    """The header of a CSV file, after checking every row has one field per column."""
    header: list[str] | None = None
    row_no = 0
    try:
        with _open_text(path, kind) as stream:
            head = stream.read(65536)
            if "\x00" in head:
                raise InputError(N_("%(path)s: the %(what)s file is binary (it holds NUL "
                                    "bytes), not CSV text; give %(readable)s. (UTF-16 text must "
                                    "be re-saved as UTF-8.)"),
                                 path=path, what=what, readable=_READABLE)
            reader = csv.reader(itertools.chain(io.StringIO(head + stream.readline()), stream))
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # blank lines are skipped, as pandas does
                if header is None:
                    header = row
                    check_names(path, what, header)
                    continue
                row_no += 1
                if len(row) != len(header):
                    raise InputError(N_("%(path)s: the %(what)s file is not a well-formed CSV "
                                        "(data row %(row_no)s has %(n_row)s field(s), the "
                                        "header has %(n_header)s); every row needs one "
                                        "comma-separated field per column (empty fields are "
                                        "fine: 'a,,c')"),
                                     path=path, what=what, row_no=row_no, n_row=len(row),
                                     n_header=len(header))
    except InputError:
        raise
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise InputError(N_("%(path)s: the %(what)s file has a cell longer than "
                                "%(max_cell_chars)s characters (near data row %(row_no)s); "
                                "privgate audits tables of short values, not documents (an "
                                "unclosed quote also causes this)"),
                             path=path, what=what, max_cell_chars=f"{MAX_CELL_CHARS:,}",
                             row_no=row_no + 1) from None
        raise InputError(N_("%(path)s: the %(what)s file is not a well-formed CSV (%(exc)s, "
                            "near data row %(row_no)s)"),
                         path=path, what=what, exc=exc, row_no=row_no + 1) from None
    except Exception as exc:  # noqa: BLE001 -- decompression and decoding errors
        raise read_error(path, what, kind, exc) from None
    if header is None:
        raise InputError(N_("%(path)s: the %(what)s file is empty (no header, no rows)"),
                         path=path, what=what)
    return header


def check_names(path: Path, what: str, names: list[str]) -> None:
    for i, name in enumerate(names):
        if not name.strip():
            raise InputError(N_("%(path)s: column %(i)s of the %(what)s file's header has no "
                                "name (an empty or blank field, or a trailing comma); name "
                                "every column"), path=path, i=i + 1, what=what)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(N_("%(path)s: column name(s) %(twice)s appear twice; every column "
                            "needs a name of its own"), path=path, twice=twice)
