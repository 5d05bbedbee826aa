"""``privgate audit`` and ``privgate demo``: run the audit, write the reports and the released
synthetic tables, sign them when asked (``--sign KEY --signer NAME``), print the verdict
(recomputed by core from the checks) in the report's language and return the exit code."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from privgate.cli_config import config_from_args, demo_config, registry_for
from privgate.config import (
    AuditConfig,
)
from privgate.errors import (
    N_,
    InputError,
)
from privgate.errors import Text as Message
from privgate.i18n import Translator
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
        raise InputError(N_("%(what)s: %(lang)r is not a language the report writers write; "
                            "choose one of %(langs)s"),
                         what=what, lang=lang,
                         langs=', '.join(offered) or Message(N_("(none registered)")))


def _audit_lang(args: argparse.Namespace) -> None:
    """``--lang`` of an audit or the demo, against the reporters written after an audit."""
    if getattr(args, "lang", None):
        registry = registry_for(args)
        check_lang(args.lang, [p.obj for p in registry.reporters.values()
                                if getattr(p.obj, "on_audit", True)])


def _policy_label(policy: dict[str, Any], tr: Translator) -> str:
    """A policy's name, marked when it comes from another distribution than privgate."""
    name = str(policy.get("name"))
    if policy.get("builtin", True):
        return name
    return tr.gettext("%(name)s (third-party policy from %(dist)s %(version)s)", name=name,
                      dist=policy.get("distribution") or tr.gettext("not installed"),
                      version=policy.get("version") or "").replace(" )", ")")


def _plain(value: Any) -> Text:
    """Text that may come from a plugin or the data: no rich markup, no control sequences."""
    from privgate.redact import strip_controls

    return Text(strip_controls(str(value)))


def _status_word(status: str, tr: Translator) -> str:
    words = {"pass": tr.gettext("pass"), "fail": tr.gettext("fail"),
             "cannot-certify": tr.gettext("cannot certify"), "error": tr.gettext("error")}
    return words.get(status, status)


def _policy_table(result: dict[str, Any], policy: dict[str, Any], tr: Translator) -> Table:
    """One policy's checks as a table (baselines dimmed)."""
    status = str(policy["verdict"])
    table = Table(title=_plain(f"{_policy_label(policy, tr)}: "
                               f"{_status_word(status, tr).upper()}"),
                  title_justify="left", title_style=STATUS_STYLE.get(status, ""))
    heads = (("generator", tr.gettext("generator")), ("attack", tr.gettext("attack")),
             ("risk", tr.gettext("risk")), ("interval", tr.gettext("interval")),
             ("threshold", tr.gettext("threshold")), ("status", tr.gettext("status")))
    for key, col in heads:
        table.add_column(col, justify="right" if key in ("risk", "threshold") else "left",
                         no_wrap=key != "status")
    for c in result["checks"]:
        if c["policy"] != policy["name"]:
            continue
        risk = "-" if c["risk"] is None else f"{c['risk']:.4f}"
        interval = "-" if c["ci_low"] is None else f"[{c['ci_low']:.4f}, {c['ci_high']:.4f}]"
        text = _status_word(c["status"], tr) + ("" if c["gated"] else
                                                 " " + tr.gettext("(baseline)"))
        table.add_row(_plain(c["generator"]), _plain(c["attack"]), risk, interval,
                      f"{c['threshold']:.4g}", _plain(text), style=None if c["gated"] else "dim")
    return table


def _generator_line(g: dict[str, Any], tr: Translator) -> str:
    """The privacy spent by one generator, in words."""
    spent = g.get("spent") or {}
    eps = spent.get("epsilon")
    if g["status"] == "error":
        return tr.gettext("ERROR: %(error)s", error=g["error"])
    if not g.get("is_private"):
        return tr.gettext("not differentially private")
    if eps is None:
        return tr.gettext("no accounting")
    return tr.gettext("epsilon spent %(eps)s (delta %(delta)s, %(accountant)s)",
                      eps=f"{eps:.3f}", delta=f"{spent.get('delta'):.0e}",
                      accountant=spent.get("accountant"))


def _print_verdict(result: dict[str, Any], written: dict[str, Path], console: Console, *,
                   verdict: str, exit_code: int, tr: Translator) -> None:
    """One verdict table per policy, the privacy spent per generator, the files written (the
    released synthetic tables with their SHA-256), all in the report's language.

    Every string that may come from a plugin or the data is printed as plain text (no rich
    markup) after terminal control sequences were stripped.
    """
    console.print(_plain(result.get("title", "privgate audit")), style="bold")
    for policy in result["policies"]:
        console.print(_policy_table(result, policy, tr))
    levels = {c["confidence_level"] for c in result["checks"] if c["confidence_level"]}
    if levels:
        console.print(tr.gettext(
            "intervals: %(levels)s confidence; a check passes when the upper bound is at or "
            "below the threshold; baselines are reported, not gated",
            levels=", ".join(f"{lv:.0%}" for lv in sorted(levels))), markup=False)
    for g in result["generators"]:
        console.print(_plain(f"  {g['name']}: {_generator_line(g, tr)}"))
    if result.get("data_dependent_domains"):
        console.print(_plain("  " + tr.gettext(
            "warning: domains of %(names)s were read off the data and are not "
            "privacy-protected (DP generators re-estimate them under DP from their budget; "
            "non-private baselines and the attacks use them as read); declare them in the "
            "schema", names=", ".join(result["data_dependent_domains"]))))
    word = _status_word(verdict, tr).upper()
    console.print(tr.gettext("verdict: %(verdict)s (exit code %(code)s)",
                             verdict=f"[{STATUS_STYLE.get(verdict, '')}]{word}[/]",
                             code=exit_code))
    for fmt, path in written.items():
        console.print(_plain(f"  {fmt}: {path}"))
    for item in result.get("released") or []:
        if "json" in written:
            console.print(_plain("  " + tr.gettext(
                "synthetic data audited: %(file)s (SHA-256 %(sha)s)",
                file=written["json"].parent / str(item["file"]), sha=item["sha256"])))
    vuln = result.get("vulnerability") or {}
    if vuln.get("file") and "json" in written:
        csv = written["json"].parent / str(vuln["file"])
        console.print(_plain("  " + tr.gettext(
            "PERSONAL DATA: %(file)s ranks the most exposed training records (owner-only "
            "permissions); keep it as private as the training data", file=csv)))


def _run_and_report(config: AuditConfig, where: str, args: argparse.Namespace | None = None,
                    registry: Any = None) -> int:
    from privgate.cli_sign import sign_folder, translator
    from privgate.outputs import check_output_dir, write_released, write_reports
    from privgate.pipeline import audit
    from privgate.results import recompute_verdict

    registry = registry if registry is not None else registry_for(args)
    check_lang(config.report.lang, [p.obj for p in registry.reporters.values()
                                     if getattr(p.obj, "on_audit", True)],
                f"{where}: 'report.lang'")
    tr = translator(config.report.lang)
    key = getattr(args, "sign", None)
    if key is not None:  # the key is read now, not after minutes of training
        from privgate.signing import load_private_key

        load_private_key(Path(key))
        if not (getattr(args, "signer", None) or "").strip():
            raise InputError(N_("--sign needs --signer NAME (who signs)"))
    out = config.resolve(config.output) or Path(config.output)  # relative: the config's folder
    # checked now (nothing created), created once the inputs are checked, before any training
    check_output_dir(out, overwrite=bool(getattr(args, "overwrite", False)))
    stderr = Console(stderr=True, highlight=False)
    stderr.print(tr.gettext("privgate: auditing (%(where)s); writing to %(out)s", where=where,
                            out=out), markup=False)
    run = audit(config, registry, where=where, progress=ConsoleProgress(stderr, config.report.lang),
                out_dir=out)
    # plugins (reporters, report sections) only ever see read-only copies of run.result; the
    # verdict and the exit code are recomputed here from core's own checks
    verdict, exit_code = recompute_verdict(run.result)
    run.result["released"] = write_released(run.runs, out, private=verdict != "pass")
    written = write_reports(run.result, registry, out, guard=run.guard)
    if key is not None:
        sign_folder(out, Path(key), args.signer, tr)  # type: ignore[union-attr]
        written["signature"] = out / "signature.json"
    stdout = Console(highlight=False)
    if not stdout.is_terminal:
        stdout = Console(highlight=False, width=120)
    _print_verdict(run.result, written, stdout, verdict=verdict, exit_code=exit_code, tr=tr)
    return exit_code


def cmd_demo(args: argparse.Namespace) -> int:
    _audit_lang(args)
    registry = registry_for(args)
    return _run_and_report(demo_config(args, registry), "demo", args, registry)


def cmd_audit(args: argparse.Namespace) -> int:
    if args.synthetic and not (args.train and args.control):
        raise InputError(N_("--synthetic needs --train (the rows its generator was fitted on) "
                            "and --control (real rows it never saw)"))
    if bool(args.train) != bool(args.control):
        raise InputError(N_("%(flag)s needs %(other)s: give both the rows the generator was "
                            "fitted on and real rows it never saw"),
                         flag='--train' if args.train else '--control',
                         other='--control' if args.train else '--train')
    if args.data and args.train:
        raise InputError(N_("give either --data (split into train and control) or --train and "
                            "--control, not both"))
    for flag in ("drop", "quasi_identifiers", "sensitive", "target", "person_id"):
        value = getattr(args, flag)
        if value is not None and not [c for c in value.split(",") if c.strip()]:
            raise InputError(N_("--%(flag)s: give column name(s), got %(value)r"),
                             flag=flag.replace('_', '-'), value=value)
    _audit_lang(args)
    config, _, where, _ = config_from_args(args, "audit")
    return _run_and_report(config, where, args)
