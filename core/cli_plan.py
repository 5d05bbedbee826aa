"""``privgate plan CONFIG``: what the chosen policies can certify on this table, before any
generator is fitted or any budget reserved (:mod:`privgate.planning`).

Prints one table per policy (trials available and needed, the power to certify an honest
generator, whether the table can certify each check), the baselines measured without a
generator, how many rows would certify the checks that cannot be, and suggestions as TOML lines
that parse, each re-checked by planning the changed config. Exit code 0 when every check can be
certified, 1 when some cannot, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from privgate.cli_audit import check_lang
from privgate.cli_config import config_from_args, registry_for
from privgate.errors import EXIT_PASS, EXIT_POLICY_FAILED
from privgate.i18n import Translator
from privgate.planning import PlanReport, plan_checks, suggest
from privgate.progress import N_, ConsoleProgress
from privgate.redact import strip_controls


def cmd_plan(args: argparse.Namespace) -> int:
    """``privgate plan``: plan the config's checks; 0 all certifiable, 1 not, 2 bad input."""
    config, raw, where, base = config_from_args(args, "plan")
    registry = registry_for(args)
    check_lang(getattr(args, "lang", None), [p.obj for p in registry.reporters.values()])
    lang = config.report.lang  # --lang or the config's [report] lang
    progress = ConsoleProgress(Console(stderr=True, highlight=False), lang)
    with progress.step("plan", N_("planning the checks (no generator is fitted)")):
        report = plan_checks(config, registry, where)
    if report.blocked and not args.no_suggestions:
        with progress.step("suggest", N_("re-checking suggestions")):
            report.suggestions = suggest(report, raw, registry, where, base)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        show(report, config.policies, Console(highlight=False, width=120), progress.tr)
    return EXIT_PASS if report.certifiable else EXIT_POLICY_FAILED


def _cell(value: Any, tr: Translator, fmt: str = "") -> str:
    return "-" if value is None else format(value, fmt) if fmt else tr.num(value)


#: The plan table's columns (the first and last left-aligned).
COLUMNS = (N_("attack"), N_("threshold"), N_("trials available"), N_("trials needed"),
           N_("power"), N_("certifiable"))
#: The certifiable column's words.
VERDICTS = {True: N_("yes"), False: N_("NO"), None: N_("unknown")}


def show(report: PlanReport, policies: list[str], console: Console,
         tr: Translator | None = None) -> None:
    """The plan in words and tables, in ``tr``'s language (every plugin string printed as
    plain text)."""
    tr = tr or Translator()

    def plain(value: Any) -> Text:
        return Text(strip_controls(str(value)))

    console.print(plain(tr.gettext(N_("%(rows)s rows: %(train)s training, %(control)s control "
                                      "(no generator fitted)"), rows=tr.num(report.n_rows),
                                   train=tr.num(report.n_train),
                                   control=tr.num(report.n_control))))
    if report.people is not None:
        console.print(plain(tr.gettext(N_(
            "per person: %(train)s people in training, %(control)s in control (split by "
            "person; the attacks count people)"), train=tr.num(report.people[0]),
            control=tr.num(report.people[1]))))
    for policy in policies:
        table = Table(title=plain(policy), title_justify="left")
        for col in COLUMNS:
            table.add_column(tr.gettext(col), justify="left" if col in COLUMNS[::5]
                             else "right")
        for c in (c for c in report.checks if c.policy == policy):
            verdict = tr.gettext(N_("yes, low power") if c in report.weak
                                 else VERDICTS[c.certifiable])
            table.add_row(plain(c.attack), f"{c.threshold:.4g}",
                          _cell(c.trials_available, tr), _cell(c.trials_needed, tr),
                          _cell(c.power, tr, ".0%"), verdict)
        console.print(table)
        rows = report.rows_needed(policy)
        n = len([c for c in report.blocked if c.policy == policy])
        if not n:
            line = tr.gettext(N_("%(policy)s: every check can be certified on this table"),
                              policy=policy)
        elif rows is None:
            line = tr.gettext(N_("%(policy)s: %(n)s check(s) cannot be certified on any table "
                                 "of this kind (see the reasons below)"), policy=policy, n=n)
        else:
            line = tr.gettext(N_("%(policy)s: %(n)s check(s) cannot be certified on this "
                                 "table; a table of about %(rows)s rows (same control "
                                 "fraction) would certify every check"), policy=policy, n=n,
                              rows=tr.num(rows))
        console.print(plain(line))
    for c in report.checks:
        for note in c.notes:
            console.print(plain("  " + tr.gettext(N_("baseline (%(attack)s): %(note)s"),
                                                  attack=c.attack, note=tr.plugin(note))))
    for line in report.warnings(tr):
        console.print(plain("  " + tr.gettext(N_("warning: %(text)s"), text=line)))
    if report.suggestions:
        console.print(plain(tr.gettext(N_("suggestions (each re-checked by planning the "
                                          "changed config):"))))
    for s in report.suggestions:
        console.print(plain("  # " + tr.gettext(
            N_("%(why)s: certifies %(fixes)s; every check can then be certified")
            if s.complete else N_("%(why)s: certifies %(fixes)s; some still cannot"),
            why=s.why_in(tr), fixes=", ".join(s.fixes))))
        for line in s.toml.splitlines():
            console.print(plain(f"  {line}"))
