"""The output folder of an audit, and writing the reports into it without losing anything.

Rules (what a user relies on):

* The folder is *checked* before any input is read (it must be creatable and writable, and it
  must not already hold a privgate report unless ``--overwrite`` is given), and *created* only
  after the inputs were checked and before any budget is reserved: a mistake in the inputs
  leaves nothing behind, an unwritable folder is found before minutes of training.
* ``results.json`` is core's record. Core serialises its own copy of the result document and
  writes it; no plugin writes it.
* The synthetic table each gated generator produced -- what the verdict is about, and what
  would be released -- is written beside the reports as ``synthetic-<generator>.csv`` and
  ``.parquet`` (:func:`write_released`), each with its SHA-256 in ``results.json``
  (``released``) and in the report, so ``privgate verify --synthetic FILE`` tells whether a
  file is the one that was audited. Until the verdict is a pass they are owner-only.
* Every reporter -- built-in or third-party -- receives a fresh read-only copy of the document
  (:func:`privgate.views.readonly`) and writes into its own empty staging folder. Core then
  moves each file into the output folder, refusing a file name another writer already
  claimed (an error naming both), so no reporter can overwrite another's file or
  ``results.json``. Afterwards ``report.html`` must still verify against ``results.json``.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from privgate.errors import N_, InputError, PluginError
from privgate.figures import map_block
from privgate.redact import DataGuard, NoGuard
from privgate.registry import Registry
from privgate.reporting import ReportSection
from privgate.results import dumps
from privgate.views import readonly

if TYPE_CHECKING:
    from privgate.audit_plan import GeneratorRun

RESULTS_NAME = "results.json"
#: Files an audit writes into its folder; one of them present means "holds a report".
REPORT_FILES = ("results.json", "report.html", "junit.xml")
CORE = "privgate core"


def _nearest_existing(path: Path) -> Path:
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_output_dir(out_dir: Path, *, overwrite: bool = False, flag: str = "--out") -> None:
    """Say now (exit 2) why ``out_dir`` cannot take this audit's reports; create nothing.

    Refused: a path that exists and is not a folder; a folder that already holds a privgate
    report (unless ``overwrite``); a folder that cannot be created or written (probed with a
    temporary file in the nearest existing folder, removed at once).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(N_("%(out_dir)s: %(flag)s names a file, not a folder; choose a folder "
                            "for the reports"), out_dir=out_dir, flag=flag)
    if out_dir.is_dir() and not overwrite:
        held = [name for name in REPORT_FILES if (out_dir / name).exists()]
        if held:
            raise InputError(N_("%(out_dir)s: %(flag)s already holds a privgate report "
                                "(%(held)s); pass --overwrite to replace it, or choose another "
                                "folder"), out_dir=out_dir, flag=flag, held=', '.join(held))
    base = _nearest_existing(out_dir)
    if not base.is_dir():
        raise InputError(N_("%(out_dir)s: cannot create the output folder (%(base)s is a file); "
                            "choose another %(flag)s"), out_dir=out_dir, base=base, flag=flag)
    try:
        fd, probe = tempfile.mkstemp(prefix=".privgate-probe-", dir=base)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(N_("%(out_dir)s: the output folder is not writable (%(reason)s); "
                            "choose another %(flag)s"),
                         out_dir=out_dir, reason=exc.strerror, flag=flag) from None


def prepare_output_dir(out_dir: Path) -> None:
    """Create the output folder (after the inputs were checked), or say why not (exit 2)."""
    try:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(N_("%(out_dir)s: cannot create the output folder (%(reason)s); choose "
                            "another --out"), out_dir=out_dir, reason=exc.strerror) from None


def write_atomic(path: Path, data: bytes, mode: int | None = None) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def released_name(generator: str, fmt: str) -> str:
    """The file name of a generator's released table: ``synthetic-<generator>.<fmt>``, the
    generator's name reduced to letters, digits, dots, dashes and underscores."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", generator).strip(".-") or "generator"
    return f"synthetic-{safe}.{fmt}"


def write_released(runs: Sequence[GeneratorRun], out_dir: Path, *, private: bool = True
                   ) -> list[dict[str, Any]]:
    """Write the synthetic table of every gated generator that produced one, as CSV and as
    Parquet, into ``out_dir``; return the ``released`` block of the result document (per
    file: generator, file name, format, SHA-256, rows and columns). ``private``: owner-only
    permissions (the verdict is not a pass)."""
    out: list[dict[str, Any]] = []
    for run in runs:
        if not run.gated or run.synthetic is None or run.error:
            continue
        table = run.synthetic
        for fmt in ("csv", "parquet"):
            if fmt == "csv":
                data = table.to_csv(index=False).encode("utf-8")
            else:
                buf = io.BytesIO()
                table.to_parquet(buf, index=False)
                data = buf.getvalue()
            name = released_name(run.name, fmt)
            try:
                write_atomic(Path(out_dir) / name, data, mode=0o600 if private else 0o644)
            except OSError as exc:
                raise InputError(N_("%(out_dir)s: cannot write %(name)s (%(reason)s); choose "
                                    "another --out"),
                                 out_dir=out_dir, name=name, reason=exc.strerror) from None
            out.append({"generator": run.name, "file": name, "format": fmt,
                        "sha256": hashlib.sha256(data).hexdigest(), "rows": len(table),
                        "columns": len(table.columns)})
    return out


def guard_sections(sections: Iterable[ReportSection], guard: DataGuard) -> list[ReportSection]:
    """Sections with every string and number passed through ``guard`` (controls stripped,
    real values withheld), charts included (:func:`privgate.figures.map_block`)."""
    return [ReportSection(guard.text(s.id), guard.text(s.title),
                          tuple(map_block(b, guard.text, guard.data) for b in s.blocks),
                          s.order, s.plugin)
            for s in sections]


def write_reports(result: Mapping[str, Any], registry: Registry, out_dir: Path, *,
                  guard: DataGuard | None = None,
                  formats: Sequence[str] | None = None) -> dict[str, Path]:
    """Write ``results.json`` (core) and every report format into ``out_dir``.

    Returns ``{format: path}`` with ``"json"`` for ``results.json``. A reporter that raises,
    writes nothing, or writes a file name already taken is a :class:`PluginError` (exit 3)
    naming it, raised after the other reporters have written theirs.
    """
    out_dir = Path(out_dir)
    prepare_output_dir(out_dir)
    text = dumps(result)  # core's own serialisation of core's own copy
    written: dict[str, Path] = {"json": write_atomic(out_dir / RESULTS_NAME, text.encode())}
    claimed: dict[str, str] = {RESULTS_NAME: CORE}
    for name in ("vulnerable_records.csv", "vulnerable_records.README.txt"):
        claimed[name] = CORE
    for item in result.get("released") or []:  # the synthetic tables: core's, not a plugin's
        claimed[str(item.get("file"))] = CORE
    sections = guard_sections(registry.sections(result), guard or NoGuard())
    on_audit = [f for f, p in registry.reporters.items() if getattr(p.obj, "on_audit", True)]
    problems: list[str] = []
    staging = Path(tempfile.mkdtemp(prefix=".privgate-staging-", dir=out_dir))
    def builtin_first(fmt: str) -> tuple[bool, str]:  # privgate's own names are reserved
        item = registry.provided("reporters", fmt)
        return (item is None or not item.builtin, fmt)

    try:
        for fmt in sorted(formats or on_audit, key=builtin_first):
            item = registry.provided("reporters", fmt)
            label = f"reporter {fmt!r}" + (f" ({item.origin})" if item is not None else "")
            stage = staging / fmt
            stage.mkdir()
            try:
                path = Path(registry.get("reporters", fmt)().write(readonly(result), sections,
                                                                    stage))
            except Exception as exc:  # noqa: BLE001 -- recorded, reported after the others
                problems.append(f"{label} failed: {type(exc).__name__}: {exc}")
                continue
            files = sorted(f for f in stage.rglob("*") if f.is_file())
            if not files:
                problems.append(f"{label} wrote no file into the folder it was given")
                continue
            taken = [str(f.relative_to(stage)) for f in files
                     if str(f.relative_to(stage)) in claimed]
            if taken:
                problems.append(f"{label} tried to write " + ", ".join(
                    f"{name} (already written by {claimed[name]})" for name in taken)
                    + "; a reporter may not overwrite another's file")
                continue
            for f in files:
                rel = f.relative_to(stage)
                claimed[str(rel)] = label
                (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
                os.replace(f, out_dir / rel)
            try:
                written[fmt] = out_dir / path.resolve().relative_to(stage.resolve())
            except ValueError:
                written[fmt] = out_dir / files[0].relative_to(stage)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if "html" in written and written["html"].suffix == ".html":
        from privgate.verify import verify

        outcome = verify(written["html"], written["json"])
        if not outcome.ok:
            problems.append(f"report.html no longer matches results.json ({outcome.reason})")
    if problems:
        raise PluginError("; ".join(problems))
    return written


__all__ = ["REPORT_FILES", "RESULTS_NAME", "check_output_dir", "guard_sections",
           "prepare_output_dir", "released_name", "write_atomic", "write_released",
           "write_reports"]
