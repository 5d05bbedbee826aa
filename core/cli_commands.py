"""The other ``privgate`` commands: ``synth``, ``plugins``, ``report`` (and ``--compare``)
and ``ledger`` (``verify``, ``sign`` and ``keygen``: :mod:`privgate.cli_sign`)."""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from privgate.cli_audit import check_lang
from privgate.cli_config import COMMAND_LINE, raw_config, registry_for, remember_lang
from privgate.config import (
    check_paths_inside,
    config_paths,
    parse_config,
)
from privgate.errors import (
    EXIT_PASS,
    InputError,
)
from privgate.progress import N_, ConsoleProgress
from privgate.registry import SINGULAR


def cmd_synth(args: argparse.Namespace) -> int:
    """``privgate synth``: fit one generator, check its output and spend, write the rows."""
    from privgate.attacking import origin_of as _origin
    from privgate.fitting import fit_booked
    from privgate.generator import PrivacyBudget
    from privgate.isolation import PluginFault
    from privgate.ledger import PlannedFit, open_audit_ledger
    from privgate.outputs import write_atomic
    from privgate.persons import PER_PERSON, PER_ROW, checked_ids, person_column, with_person_id
    from privgate.redact import DataGuard
    from privgate.sources import SCHEMA_HINT, _schema_for, with_target
    from privgate.tables import conform, fingerprint, read_table

    data_path, out = Path(args.data), Path(args.out)
    for src in [data_path] + ([Path(args.config)] if args.config else []):
        if _same_file(out, src):
            raise InputError(N_("%(out)s: --out names an input file (%(src)s); writing the "
                                "synthetic rows there would destroy it; choose another path"),
                             out=out, src=src)
    if out.is_dir():
        raise InputError(N_("%(out)s: --out is a folder; give a file name such as synthetic.csv"),
                         out=out)
    if not out.parent.is_dir():
        raise InputError(N_("%(out)s: the folder %(parent)s does not exist; create it or choose "
                            "another --out"), out=out, parent=out.parent)
    person_flag = getattr(args, "person_id", None)
    base = parse_config(with_person_id(with_target({}, args.target), person_flag),
                        where=COMMAND_LINE)
    if args.config:
        raw, where, folder = raw_config(args.config)
        if not args.allow_paths_outside_config:  # synth uses only the config's ledger path
            check_paths_inside({k: v for k, v in config_paths(raw).items()
                                if k == "ledger.path"}, where=where, base_dir=folder)
        base = parse_config(with_person_id(with_target(raw, args.target), person_flag), where=where,
                            base_dir=folder)
    remember_lang(args, base)
    registry = registry_for(args)
    check_lang(getattr(args, "lang", None), [p.obj for p in registry.reporters.values()])
    progress = ConsoleProgress(lang=getattr(args, "lang", None) or base.report.lang)
    tr = progress.tr  # --lang, else the config's [report] lang
    cls = registry.generator(args.generator)
    df = read_table(data_path)
    schema = _schema_for(base, df, args.config or COMMAND_LINE)
    if schema.source == "inferred":
        print(tr.gettext("note: %(text)s", text=tr.gettext(SCHEMA_HINT, data=args.data)),
              file=sys.stderr)
    df = conform(df, schema, where=args.data)
    person = person_column(schema, args.data)
    ids = None if person is None else checked_ids(df, person, args.data)  # none missing
    modelled = [c.name for c in schema.modelled]
    budget = None
    if cls.is_private:
        if args.epsilon is None:
            raise InputError(N_("--epsilon is required for the private generator %(generator)r"),
                             generator=args.generator)
        budget = PrivacyBudget(args.epsilon, args.delta)
    gen = cls()
    gen.check_schema(schema.select(modelled))
    guard = DataGuard([df[modelled]], schema)
    fit_rows = df[modelled]
    if budget is not None and ids is not None:  # person-level DP: one row per person
        import pandas as pd

        from privgate.dp.contribution import one_row_per_person

        fit_rows = one_row_per_person(fit_rows, pd.factorize(ids, sort=True)[0], args.seed)
    # The privacy ledger (config [ledger], $PRIVGATE_LEDGER): reserved before the fit.
    ledger = open_audit_ledger(base, fingerprint(df), data_path.stem, [PlannedFit(
        args.generator, None if budget is None else budget.epsilon,
        0.0 if budget is None else budget.delta,
        unit=PER_ROW if ids is None else PER_PERSON)])
    try:
        with progress.step("fit", N_("training %(name)s on %(rows)s rows"),
                           name=args.generator, rows=tr.num(len(df))):
            syn, spent = fit_booked(args.generator, gen, budget, fit_rows,
                                    schema.select(modelled), args.rows or len(df),
                                    seed=args.seed, timeout_s=None, ledger=ledger,
                                    origin=_origin(registry, "generators", args.generator))
    except InputError as exc:  # plugin text: no real value may reach the console
        raise guard.error(exc) from None
    except PluginFault as fault:
        raise PluginFault(fault.origin, fault.kind, guard.text(fault.message)) from None
    finally:
        if ledger is not None:
            ledger.close()
    write_atomic(out, syn.to_csv(index=False).encode("utf-8"))
    values = {"rows": tr.num(len(syn)), "out": out, "person": person,
              "eps": f"{spent.epsilon:.3f}" if spent.epsilon is not None else "",
              "delta": f"{spent.delta:g}", "accountant": spent.accountant}
    print(tr.gettext(N_("wrote %(rows)s synthetic rows to %(out)s; privacy spent: not "
                        "private"), **values) if not spent.is_private else
          tr.gettext(N_("wrote %(rows)s synthetic rows to %(out)s; privacy spent: epsilon "
                        "%(eps)s, delta %(delta)s (%(accountant)s); epsilon protects each row"),
                     **values) if ids is None else
          tr.gettext(N_("wrote %(rows)s synthetic rows to %(out)s; privacy spent: epsilon "
                        "%(eps)s, delta %(delta)s (%(accountant)s); epsilon protects each "
                        "person (one row per person of %(person)s was used)"), **values))
    if schema.data_dependent_columns:
        names = ", ".join(schema.data_dependent_columns)
        if spent.is_private:
            print(tr.gettext(N_("note: domains of %(names)s were not declared; the generator "
                                "estimated them under DP from its budget (included in the "
                                "epsilon above); declare them in the schema to spend the "
                                "whole budget on training"), names=names), file=sys.stderr)
        else:
            print(tr.gettext(N_("warning: domains of %(names)s were read off the data and "
                                "are not privacy-protected"), names=names), file=sys.stderr)
    return EXIT_PASS


def cmd_plugins(args: argparse.Namespace) -> int:
    import json

    registry = registry_for(args)
    problems = [{**p.to_dict(), "provides": {}} for p in registry.problems]
    if args.json:  # loaded plugins ("state": "loaded"), then those that were not loaded
        loaded = [{**p, "state": "loaded", "reason": None} for p in registry.plugins()]
        print(json.dumps(loaded + problems, indent=2))
        return EXIT_PASS
    console = Console(highlight=False)
    table = Table(title="privgate plugins", title_justify="left")
    for col in ("kind", "name", "plugin", "distribution"):
        table.add_column(col)
    for kind in registry.KINDS:
        for name, item in sorted(getattr(registry, kind).items()):
            dist = f"{item.distribution} {item.version}" if item.distribution else "-"
            table.add_row(SINGULAR[kind], name, item.plugin, dist)
    console.print(table)
    if problems:
        bad = Table(title="plugins not loaded", title_justify="left", title_style="bold red")
        for col in ("plugin", "distribution", "state", "reason"):
            bad.add_column(col, overflow="fold")
        for p in problems:
            dist = f"{p['distribution']} {p['version']}" if p["distribution"] else "-"
            bad.add_row(p["plugin"], dist, p["state"], p["reason"])
        console.print(bad)
    return EXIT_PASS


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def _html_target(out: str | None, default: Path, inputs: Sequence[Path], name: str) -> Path:
    """Exactly where to write: ``--out`` (a folder gets ``name`` inside it), never an input."""
    target = default if out is None else Path(out)
    for src in inputs:
        if _same_file(target, src):
            raise InputError(N_("%(target)s: --out names an input file (%(src)s); writing there "
                                "would destroy it; choose another path"), target=target, src=src)
    html = target.suffix.lower() in (".html", ".htm")
    if target.is_dir():
        target = target / name
    elif not html:
        if target.exists():
            raise InputError(N_("%(target)s: --out must be a .html file or a folder; it names "
                                "an existing file that is not HTML, which would be overwritten"),
                             target=target)
        try:
            target.mkdir(parents=True)
        except OSError as exc:
            raise InputError(N_("%(target)s: cannot create the folder (%(reason)s); choose "
                                "another --out"), target=target, reason=exc.strerror) from None
        target = target / name
    for src in inputs:  # again: a folder's report.html may itself be an input
        if _same_file(target, src):
            raise InputError(N_("%(target)s: --out names an input file (%(src)s); writing there "
                                "would destroy it; choose another path"), target=target, src=src)
    if not target.parent.is_dir():
        raise InputError(N_("%(target)s: the folder %(parent)s does not exist; create it or "
                            "choose another --out"), target=target, parent=target.parent)
    return target


def _refuse_signed(target: Path) -> None:
    """A re-render is always unsigned: it never replaces a signed report (exit 2)."""
    from privgate.signing import envelope_of

    if not target.is_file():
        return
    try:
        signed = envelope_of(target.read_text("utf-8", errors="replace")) is not None
    except ValueError:  # a damaged signature tag: still a signed report, not ours to replace
        signed = True
    if signed:
        raise InputError(N_("%(target)s: is a signed report; a re-render is unsigned and would "
                            "replace it. Write elsewhere with --out, e.g. --out %(suggestion)s"),
                         target=target,
                         suggestion=target.with_name(target.stem + '-rerendered.html'))


def cmd_report(args: argparse.Namespace) -> int:
    """``privgate report results.json``: re-render the HTML report to exactly ``--out``."""
    from privgate.outputs import write_atomic
    from privgate.results import load_result
    from privgate.views import readonly

    registry = registry_for(args)
    if args.compare:
        return _compare(args, registry)
    if not args.results:
        raise InputError(N_("give a results.json to re-render, or --compare OLD.json NEW.json"))
    path = Path(args.results)
    html = registry.get("reporters", "html")
    check_lang(args.lang, [html])
    result = load_result(path)
    from privgate.cli_sign import check_renderable  # contradictions, failed verification

    check_renderable(path, result, key=None if args.key is None else Path(args.key))
    out = _html_target(args.out, path.parent / "report.html", [path], "report.html")
    _refuse_signed(out)
    # the language override reaches sections through a copy: results.json's hash is unchanged
    view = readonly({**result, "lang": args.lang} if args.lang else result)
    sections = registry.sections(view)
    # options through the Reporter contract; the seal is to the file's bytes, canonical or not
    reporter = html(lang=args.lang, results_sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    write_atomic(out, reporter.render(readonly(result), sections).encode("utf-8"))
    print(f"wrote {out}")
    return EXIT_PASS


def _compare(args: argparse.Namespace, registry: Any) -> int:
    """``privgate report --compare OLD.json NEW.json``: the compare reporter's page."""
    from privgate.outputs import write_atomic
    from privgate.results import load_result
    from privgate.views import readonly

    old_path, new_path = (Path(p) for p in args.compare)
    compare = registry.get("reporters", "compare")
    check_lang(args.lang, [compare])
    old, new = load_result(old_path), load_result(new_path)
    from privgate.cli_sign import check_renderable  # each input must pass verification

    for p, doc in ((old_path, old), (new_path, new)):
        check_renderable(p, doc, key=None if args.key is None else Path(args.key))
    doc = {"comparison": {"old": old, "new": new, "old_label": str(old_path),
                          "new_label": str(new_path),
                          "old_sha256": hashlib.sha256(old_path.read_bytes()).hexdigest(),
                          "new_sha256": hashlib.sha256(new_path.read_bytes()).hexdigest()}}
    reporter = compare(lang=args.lang)
    out = _html_target(args.out, new_path.parent / reporter.filename, [old_path, new_path],
                       reporter.filename)
    write_atomic(out, reporter.render(readonly(doc), []).encode("utf-8"))
    print(f"wrote {out}")
    return EXIT_PASS


def cmd_ledger(args: argparse.Namespace) -> int:
    """``privgate ledger``: the history of fits per data set, with totals."""
    from privgate.i18n import LANGS
    from privgate.ledger_view import show_ledger

    if args.lang is not None and args.lang not in LANGS:
        raise InputError(N_("--lang: %(lang)r is not a language privgate speaks; choose one of "
                            "%(langs)s"), lang=args.lang, langs=", ".join(LANGS))
    return show_ledger(args.ledger, args.fingerprint, as_json=args.json,
                       url=args.ledger_url, lang=args.lang)
