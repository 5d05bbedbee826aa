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

from privgate.cli_config import config_from_args, registry_for
from privgate.errors import EXIT_PASS, EXIT_POLICY_FAILED
from privgate.planning import PlanReport, plan_checks, suggest
from privgate.progress import ConsoleProgress
from privgate.redact import strip_controls


def cmd_plan(args: argparse.Namespace) -> int:
    """``privgate plan``: plan the config's checks; 0 all certifiable, 1 not, 2 bad input."""
    config, raw, where, base = config_from_args(args, "plan")
    registry = registry_for(args)
    progress = ConsoleProgress(Console(stderr=True, highlight=False))
    with progress.step("plan", "planning the checks (no generator is fitted)"):
        report = plan_checks(config, registry, where)
    if report.blocked and not args.no_suggestions:
        with progress.step("suggest", "re-checking suggestions"):
            report.suggestions = suggest(report, raw, registry, where, base)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        show(report, config.policies, Console(highlight=False, width=120))
    return EXIT_PASS if report.certifiable else EXIT_POLICY_FAILED


def _cell(value: Any, fmt: str = ",") -> str:
    return "-" if value is None else format(value, fmt)


def show(report: PlanReport, policies: list[str], console: Console) -> None:
    """The plan in words and tables (every plugin string printed as plain text)."""
    def plain(value: Any) -> Text:
        return Text(strip_controls(str(value)))

    console.print(plain(f"{report.n_rows:,} rows: {report.n_train:,} training, "
                        f"{report.n_control:,} control (no generator fitted)"))
    for policy in policies:
        table = Table(title=plain(policy), title_justify="left")
        for col in ("attack", "threshold", "trials available", "trials needed", "power",
                    "certifiable"):
            table.add_column(col, justify="left" if col in ("attack", "certifiable")
                             else "right")
        for c in (c for c in report.checks if c.policy == policy):
            verdict = {True: "yes", False: "NO", None: "unknown"}[c.certifiable]
            if c in report.weak:
                verdict = "yes, low power"
            table.add_row(plain(c.attack), f"{c.threshold:.4g}", _cell(c.trials_available),
                          _cell(c.trials_needed), _cell(c.power, ".0%"), verdict)
        console.print(table)
        rows = report.rows_needed(policy)
        blocked = [c for c in report.blocked if c.policy == policy]
        if not blocked:
            console.print(plain(f"{policy}: every check can be certified on this table"))
        elif rows is None:
            console.print(plain(f"{policy}: {len(blocked)} check(s) cannot be certified on "
                                "any table of this kind (see the reasons below)"))
        else:
            console.print(plain(f"{policy}: {len(blocked)} check(s) cannot be certified on "
                                f"this table; a table of about {rows:,} rows (same control "
                                "fraction) would certify every check"))
    for c in report.checks:
        for note in c.notes:
            console.print(plain(f"  baseline ({c.attack}): {note}"))
    for line in report.warnings():
        console.print(plain(f"  warning: {line}"))
    if report.suggestions:
        console.print("suggestions (each re-checked by planning the changed config):")
    for s in report.suggestions:
        done = "every check can then be certified" if s.complete else "some still cannot"
        console.print(plain(f"  # {s.why}: certifies {', '.join(s.fixes)}; {done}"))
        for line in s.toml.splitlines():
            console.print(plain(f"  {line}"))
