"""``privgate audit`` and ``privgate demo``: run the audit, write the reports, print the
verdict (recomputed by core from the checks) and return the exit code."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from privgate.cli_config import apply_flags, demo_config, raw_config, registry_for
from privgate.config import (
    AuditConfig,
    check_paths_inside,
    config_paths,
    parse_config,
)
from privgate.errors import (
    InputError,
)
from privgate.progress import ConsoleProgress

STATUS_STYLE = {"pass": "bold green", "fail": "bold red", "cannot-certify": "bold yellow",
                "error": "bold magenta"}


def check_lang(lang: str | None, reporters: Sequence[Any], what: str = "--lang") -> None:
    """Refuse a language that none of ``reporters`` declares in its ``languages`` (the
    Reporter contract; exit 2 naming the flag or key and the languages on offer)."""
    if lang is None:
        return
    offered = sorted({str(x) for cls in reporters for x in getattr(cls, "languages", ())})
    if lang not in offered:
        raise InputError(f"{what}: {lang!r} is not a language the report writers write; "
                         f"choose one of {', '.join(offered) or '(none registered)'}")


def _audit_lang(args: argparse.Namespace) -> None:
    """``--lang`` of an audit or the demo, against the reporters written after an audit."""
    if getattr(args, "lang", None):
        registry = registry_for(args)
        check_lang(args.lang, [p.obj for p in registry.reporters.values()
                                if getattr(p.obj, "on_audit", True)])


def _policy_label(policy: dict[str, Any]) -> str:
    """A policy's name, marked when it comes from another distribution than privgate."""
    name = str(policy.get("name"))
    if policy.get("builtin", True):
        return name
    dist = policy.get("distribution") or "not installed"
    return f"{name} (third-party policy from {dist} {policy.get('version') or ''})".rstrip()


def _print_verdict(result: dict[str, Any], written: dict[str, Path], console: Console, *,
                   verdict: str, exit_code: int) -> None:
    """One verdict table per policy, the privacy spent per generator, and the files.

    Every string that may come from a plugin or the data is printed as plain text (no rich
    markup) after terminal control sequences were stripped.
    """
    from privgate.redact import strip_controls

    def plain(value: Any) -> Text:
        return Text(strip_controls(str(value)))

    console.print(plain(result.get("title", "privgate audit")), style="bold")
    for policy in result["policies"]:
        name = policy["name"]
        status = str(policy["verdict"])
        table = Table(title=plain(f"{_policy_label(policy)}: {status.upper()}"),
                      title_justify="left", title_style=STATUS_STYLE.get(status, ""))
        for col in ("generator", "attack", "risk", "interval", "threshold", "status"):
            table.add_column(col, justify="right" if col in ("risk", "threshold") else "left",
                             no_wrap=col != "status")
        for c in result["checks"]:
            if c["policy"] != name:
                continue
            risk = "-" if c["risk"] is None else f"{c['risk']:.4f}"
            interval = ("-" if c["ci_low"] is None else
                        f"[{c['ci_low']:.4f}, {c['ci_high']:.4f}]")
            status_text = c["status"] + ("" if c["gated"] else " (baseline)")
            table.add_row(plain(c["generator"]), plain(c["attack"]), risk, interval,
                          f"{c['threshold']:.4g}", plain(status_text),
                          style=None if c["gated"] else "dim")
        console.print(table)
    levels = {c["confidence_level"] for c in result["checks"] if c["confidence_level"]}
    if levels:
        console.print("intervals: " + ", ".join(f"{lv:.0%}" for lv in sorted(levels)) +
                      " confidence; a check passes when the upper bound is at or below the "
                      "threshold; baselines are reported, not gated", markup=False)
    for g in result["generators"]:
        spent = g.get("spent") or {}
        eps = spent.get("epsilon")
        budget = "not differentially private" if not g.get("is_private") else (
            f"epsilon spent {eps:.3f} (delta {spent.get('delta'):.0e}, "
            f"{spent.get('accountant')})" if eps is not None else "no accounting")
        if g["status"] == "error":
            budget = f"ERROR: {g['error']}"
        console.print(plain(f"  {g['name']}: {budget}"))
    if result.get("data_dependent_domains"):
        console.print(plain(
            "  warning: domains of " + ", ".join(result["data_dependent_domains"]) +
            " were read off the data and are not privacy-protected (DP generators "
            "re-estimate them under DP from their budget; non-private baselines and "
            "the attacks use them as read); declare them in the schema"))
    console.print(f"verdict: [{STATUS_STYLE.get(verdict, '')}]{verdict.upper()}[/] "
                  f"(exit code {exit_code})")
    for fmt, path in written.items():
        console.print(plain(f"  {fmt}: {path}"))
    vuln = result.get("vulnerability") or {}
    if vuln.get("file") and "json" in written:
        csv = written["json"].parent / str(vuln["file"])
        console.print(plain(f"  PERSONAL DATA: {csv} ranks the most exposed training records "
                            "(owner-only permissions); keep it as private as the training "
                            "data"))


def _run_and_report(config: AuditConfig, where: str, args: argparse.Namespace | None = None,
                    registry: Any = None) -> int:
    from privgate.outputs import check_output_dir, write_reports
    from privgate.pipeline import audit
    from privgate.results import recompute_verdict

    registry = registry if registry is not None else registry_for(args)
    check_lang(config.report.lang, [p.obj for p in registry.reporters.values()
                                     if getattr(p.obj, "on_audit", True)],
                f"{where}: 'report.lang'")
    out = Path(config.output)
    # checked now (nothing created), created once the inputs are checked, before any training
    check_output_dir(out, overwrite=bool(getattr(args, "overwrite", False)))
    stderr = Console(stderr=True, highlight=False)
    stderr.print(f"privgate: auditing ({where}); writing to {out}", markup=False)
    run = audit(config, registry, where=where, progress=ConsoleProgress(stderr), out_dir=out)
    # plugins (reporters, report sections) only ever see read-only copies of run.result; the
    # verdict and the exit code are recomputed here from core's own checks
    verdict, exit_code = recompute_verdict(run.result)
    written = write_reports(run.result, registry, out, guard=run.guard)
    stdout = Console(highlight=False)
    if not stdout.is_terminal:
        stdout = Console(highlight=False, width=120)
    _print_verdict(run.result, written, stdout, verdict=verdict, exit_code=exit_code)
    return exit_code


def cmd_demo(args: argparse.Namespace) -> int:
    _audit_lang(args)
    registry = registry_for(args)
    return _run_and_report(demo_config(args, registry), "demo", args, registry)


def cmd_audit(args: argparse.Namespace) -> int:
    if args.synthetic and not (args.train and args.control):
        raise InputError("--synthetic needs --train (the rows its generator was fitted on) "
                         "and --control (real rows it never saw)")
    if bool(args.train) != bool(args.control):
        raise InputError(f"{'--train' if args.train else '--control'} needs "
                         f"{'--control' if args.train else '--train'}: give both the rows the "
                         "generator was fitted on and real rows it never saw")
    if args.data and args.train:
        raise InputError("give either --data (split into train and control) or --train and "
                         "--control, not both")
    for flag in ("drop", "quasi_identifiers", "sensitive", "target"):
        value = getattr(args, flag)
        if value is not None and not [c for c in value.split(",") if c.strip()]:
            raise InputError(f"--{flag.replace('_', '-')}: give column name(s), got "
                             f"{value!r}")
    _audit_lang(args)
    raw, where, base = raw_config(args.config)
    if args.config is None and not (args.data or args.train):
        raise InputError("give a config file (privgate audit gate.toml) or --data CSV")
    from_file = config_paths(raw)
    raw = apply_flags(raw, args)
    if args.config is not None and not args.allow_paths_outside_config:
        # only the paths the file itself names: command-line paths are the user's own
        merged = config_paths(raw)
        check_paths_inside({k: v for k, v in from_file.items() if merged.get(k) == v},
                           where=where, base_dir=base)
    config = parse_config(raw, where=where, base_dir=base)
    return _run_and_report(config, where, args)
