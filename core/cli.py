"""The ``privgate`` command line.

Exit codes: 0 pass, 1 a policy check failed or could not be certified, 2 bad input or usage,
3 an internal or plugin error. Errors are one clear message on stderr, never a traceback
(set ``PRIVGATE_DEBUG=1`` to see one).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.resources
import os
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from privgate.config import (
    ALLOW_OUTSIDE_FLAG,
    RULES,
    AuditConfig,
    check_paths_inside,
    config_paths,
    in_range,
    parse_config,
    read_toml,
)
from privgate.errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERNAL_ERROR,
    EXIT_PASS,
    InputError,
    PrivgateError,
)
from privgate.progress import ConsoleProgress
from privgate.registry import SINGULAR

#: Report languages (kept in step with privgate.reports.i18n.LANGS; core cannot import it).
LANGS = ("en", "ko")

STATUS_STYLE = {"pass": "bold green", "fail": "bold red", "cannot-certify": "bold yellow",
                "error": "bold magenta"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # usage errors: exit 2 with a hint
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"privgate: error: {message}\n"
                                  f"Run '{self.prog} --help' for the options.\n")


def _ranged(rule: str, kind: type[int] | type[float]) -> Any:
    """An argparse ``type`` that parses ``kind`` and enforces ``privgate.config.RULES[rule]``
    (the config's own rule; 'nan', 'inf' and '1e999' are refused, naming the flag)."""
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{RULES[rule]}, got {text!r}") from None
        if not in_range(rule, value):
            raise argparse.ArgumentTypeError(f"{RULES[rule]}, got {text!r}")
        return value
    parse.__name__ = rule  # what argparse names in "invalid <type> value"
    return parse


def _audit_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", metavar="CSV", help="real table; split into train and control")
    p.add_argument("--generator", metavar="NAME", action="append",
                   help="generator to fit and audit (repeatable; replaces the config's)")
    p.add_argument("--epsilon", type=_ranged("epsilon", float), help="privacy budget epsilon "
                   "for every generator (0 < epsilon <= privgate.generator.MAX_EPSILON)")
    p.add_argument("--delta", type=_ranged("delta", float), help="privacy budget delta "
                   "(default 1e-5)")
    p.add_argument("--policy", metavar="NAME", action="append",
                   help="policy to apply (repeatable; default expert-determination-0.09)")
    p.add_argument("--attack", metavar="NAME", action="append",
                   help="attack to run (repeatable; default: every registered attack)")
    p.add_argument("--seed", type=_ranged("seed", int), help="seed for split, training and "
                   "attacks (0 <= seed < 2**32)")
    p.add_argument("--out", metavar="DIR", help="output folder for report.html, results.json, "
                   "junit.xml")
    p.add_argument("--max-rows", type=_ranged("rows", int), metavar="N",
                   help="audit a seeded random sample of N rows (quick runs)")
    p.add_argument("--lang", choices=LANGS, help="language of report.html (default: the "
                   "config's [report] lang, else en)")
    p.add_argument("--plugin-timeout", type=_ranged("timeout", float), metavar="SECONDS",
                   help="time limit for one plugin call (fit+sample, an attack, a metric); "
                   "past it the check is 'error' (default: [execution] plugin_timeout_s, 1800; "
                   "at most 7 days)")
    p.add_argument("--backend", choices=("inline", "joblib", "ray"),
                   help="where heavy attack work (shadow fits, per-target jobs) runs: inline, "
                   "local processes (joblib, default) or Ray (pip install privgate[ray])")
    p.add_argument("--ray-address", metavar="ADDR",
                   help="join an existing Ray cluster (e.g. auto or ray://head:10001); "
                   "implies --backend ray")
    p.add_argument("--jobs", type=_ranged("jobs", int), metavar="N",
                   help="worker processes (joblib) or local Ray CPUs; -1 = all cores")
    ledger = p.add_argument_group("privacy ledger (every fit recorded per data set)")
    ledger.add_argument("--ledger", metavar="PATH", help="ledger file (default: [ledger] "
                        "path, else $PRIVGATE_LEDGER, else the user data dir)")
    ledger.add_argument("--ledger-url", metavar="URL", help="a shared PostgreSQL ledger, "
                        "postgresql://user@host/db (beats --ledger; default: [ledger] url, "
                        "else $PRIVGATE_LEDGER_URL); needs pip install privgate[postgres]")
    ledger.add_argument("--no-ledger", action="store_true", help="do not record or limit "
                        "this audit's fits")
    ledger.add_argument("--total-epsilon", type=_ranged("total_epsilon", float), metavar="EPS",
                        help="total epsilon this data set may ever spend; a fit past it is "
                        "refused (exit 2)")
    roles = p.add_argument_group("column roles (for a schema inferred from --data)")
    roles.add_argument("--drop", metavar="COLS", help="direct identifiers to drop, "
                       "comma-separated")
    roles.add_argument("--quasi-identifiers", metavar="COLS", help="quasi-identifiers, "
                       "comma-separated")
    roles.add_argument("--sensitive", metavar="COLS", help="sensitive columns, "
                       "comma-separated")
    roles.add_argument("--target", metavar="COL", help="prediction target (also sensitive)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="privgate", description="Decide whether a synthetic data set is "
                     "safe to release.")
    from privgate import __version__
    parser.add_argument("--version", action="version", version=f"privgate {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    demo = sub.add_parser("demo", help="audit a DP-SGD generator on a real hospital table "
                          "shipped with privgate's dependencies (no files needed)")
    demo.add_argument("--out", metavar="DIR", default=None,
                      help="output folder (default: privgate-demo)")
    demo.add_argument("--seed", type=_ranged("seed", int), default=None)
    demo.add_argument("--max-rows", type=_ranged("rows", int), metavar="N",
                      help="use a seeded sample of N rows (a quicker demo)")
    demo.add_argument("--epochs", type=_ranged("epochs", int), metavar="N",
                      help="DP-SGD training epochs")
    demo.add_argument("--lang", choices=LANGS, help="language of report.html (default en)")
    demo.add_argument("--overwrite", action="store_true", help="replace the report an earlier "
                      "run left in the output folder")

    audit = sub.add_parser("audit", help="audit generators (or a synthetic table) against "
                           "policies")
    audit.add_argument("config", nargs="?", help="audit config (TOML)")
    _audit_flags(audit)
    audit.add_argument("--synthetic", metavar="CSV", help="audit a synthetic table made "
                       "elsewhere (needs --train and --control)")
    audit.add_argument("--train", metavar="CSV", help="the rows the synthetic table's "
                       "generator was fitted on")
    audit.add_argument("--control", metavar="CSV", help="real rows that generator never saw")
    audit.add_argument(ALLOW_OUTSIDE_FLAG, action="store_true", help="let the config file "
                       "name paths outside its own folder (refused by default: configs can "
                       "come from untrusted pull requests); command-line paths are never "
                       "restricted")
    audit.add_argument("--overwrite", action="store_true", help="replace the report an earlier "
                       "audit left in the --out folder (refused otherwise)")

    synth = sub.add_parser("synth", help="fit a generator and write synthetic rows (no audit)")
    synth.add_argument("--data", metavar="CSV", required=True)
    synth.add_argument("--generator", metavar="NAME", required=True)
    synth.add_argument("--epsilon", type=_ranged("epsilon", float))
    synth.add_argument("--delta", type=_ranged("delta", float), default=1e-5)
    synth.add_argument("--rows", type=_ranged("rows", int), metavar="N", help="rows to sample "
                       "(default: as many as the input)")
    synth.add_argument("--seed", type=_ranged("seed", int), default=0)
    synth.add_argument("--config", metavar="TOML", help="take the schema from this config")
    synth.add_argument(ALLOW_OUTSIDE_FLAG, action="store_true", help="let --config name a "
                       "ledger path outside its own folder")
    synth.add_argument("--out", metavar="CSV", required=True)

    plugins = sub.add_parser("plugins", help="list registered generators, attacks, metrics, "
                             "policies and report formats, and which plugin provides each")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")

    report = sub.add_parser("report", help="re-render the reports of a results.json, or "
                            "compare two (--compare OLD.json NEW.json)")
    report.add_argument("results", metavar="RESULTS.json", nargs="?")
    report.add_argument("--out", metavar="HTML", help="exactly where to write the HTML report: "
                        "a .html path, or a folder for report.html (default: report.html beside "
                        "the results); with --compare, a .html path or a folder for "
                        "comparison.html (default: beside NEW.json). Never an input file")
    report.add_argument("--compare", nargs=2, metavar=("OLD.json", "NEW.json"),
                        help="render what changed between two audits")
    report.add_argument("--lang", choices=LANGS, help="report language (default: the one "
                        "the audit used)")

    verify = sub.add_parser("verify", help="confirm that a report.html and a results.json "
                            "belong together and neither was edited")
    verify.add_argument("report_html", metavar="REPORT.html")
    verify.add_argument("results_json", metavar="RESULTS.json")

    ledger = sub.add_parser("ledger", help="show the privacy ledger: every fit per data set "
                            "and the epsilon spent")
    ledger.add_argument("--ledger", metavar="PATH", help="ledger file (default: "
                        "$PRIVGATE_LEDGER, else the user data dir)")
    ledger.add_argument("--ledger-url", metavar="URL", help="a shared PostgreSQL ledger, "
                        "postgresql://user@host/db (beats --ledger; default: "
                        "$PRIVGATE_LEDGER_URL)")
    ledger.add_argument("--fingerprint", metavar="SHA256", help="only this data set (a "
                        "prefix is enough)")
    ledger.add_argument("--json", action="store_true", help="machine-readable output")
    for command in sub.choices.values():  # operator control, like pytest's -p no:NAME
        command.add_argument("--disable-plugin", metavar="NAME", action="append", default=[],
                             help="do not load this plugin (entry-point or distribution "
                             "name; repeatable; also PRIVGATE_DISABLE_PLUGINS=a,b)")
    return parser


# -- building the config from a file and flags ---------------------------------------------

def _raw_config(path: str | None) -> tuple[dict[str, Any], str, Path]:
    if path is None:
        return {}, "command line", Path.cwd()
    p = Path(path)
    return read_toml(p), str(p), p.resolve().parent


def _apply_flags(raw: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    raw = dict(raw)
    data = dict(raw.get("data", {}))
    cwd = str(Path.cwd())
    for flag in ("data", "train", "control", "synthetic"):
        value = getattr(args, flag, None)
        if value is None:
            continue
        if flag == "data":
            for k in ("path", "rdataset", "train", "control", "synthetic"):
                data.pop(k, None)
            data["path"] = str(Path(cwd, value))
        else:
            if flag in ("train", "control"):
                data.pop("path", None)
                data.pop("rdataset", None)
            data[flag] = str(Path(cwd, value))
    if args.max_rows is not None:
        data["max_rows"] = args.max_rows
    raw["data"] = data
    if args.generator:
        raw["generators"] = [{"name": g} for g in args.generator]
    if getattr(args, "synthetic", None) and not args.generator:
        raw["generators"] = []
    for g in raw.get("generators", []):
        if isinstance(g, dict):
            if args.epsilon is not None:
                g["epsilon"] = args.epsilon
            if args.delta is not None:
                g["delta"] = args.delta
    role_flags = {"direct_identifiers": args.drop, "quasi_identifiers": args.quasi_identifiers,
                  "sensitive": args.sensitive}
    if any(role_flags.values()) or args.target:
        schema = dict(raw.get("schema", {}))
        for key, value in role_flags.items():
            if value:
                schema[key] = [c.strip() for c in value.split(",") if c.strip()]
        if args.target:
            schema["target"] = args.target
        raw["schema"] = schema
    if args.policy:
        raw["policies"] = args.policy
    if args.attack:
        raw["attacks"] = args.attack
    if args.seed is not None:
        raw["seed"] = args.seed
    execution = dict(raw.get("execution", {}))
    if getattr(args, "plugin_timeout", None) is not None:
        execution["plugin_timeout_s"] = args.plugin_timeout
    if args.ray_address is not None:
        execution["ray_address"] = args.ray_address
        execution["backend"] = args.backend or "ray"
    if args.backend is not None:
        execution["backend"] = args.backend
    if args.jobs is not None:
        execution["n_jobs"] = args.jobs
    if execution:
        raw["execution"] = execution
    ledger = dict(raw.get("ledger", {}))
    if getattr(args, "ledger", None) is not None:
        ledger["path"] = str(Path(cwd, args.ledger))
        ledger.pop("url", None)  # the command line beats the file
    if getattr(args, "ledger_url", None) is not None:
        ledger["url"] = args.ledger_url
    if getattr(args, "no_ledger", False):
        ledger["enabled"] = False
    if getattr(args, "total_epsilon", None) is not None:
        ledger["total_epsilon"] = args.total_epsilon
    if ledger:
        raw["ledger"] = ledger
    if getattr(args, "lang", None):
        raw["report"] = {**raw.get("report", {}), "lang": args.lang}
    if args.out is not None:
        raw["output"] = str(Path(cwd, args.out))
    return raw


def demo_config(args: argparse.Namespace) -> AuditConfig:
    text = importlib.resources.files("privgate.data").joinpath("demo.toml").read_text("utf-8")
    raw = tomllib.loads(text)
    if args.out is not None:
        raw["output"] = str(Path.cwd() / args.out)
    else:
        raw["output"] = str(Path.cwd() / raw["output"])
    if args.seed is not None:
        raw["seed"] = args.seed
    if args.max_rows is not None:
        raw["data"]["max_rows"] = args.max_rows
    if args.epochs is not None:
        for g in raw["generators"]:
            if g["name"].startswith("dpsgd"):
                g.setdefault("params", {})["epochs"] = args.epochs
    if getattr(args, "lang", None):
        raw["report"] = {**raw.get("report", {}), "lang": args.lang}
    return parse_config(raw, where="demo.toml", base_dir=Path.cwd())


# -- commands --------------------------------------------------------------------------------

def _registry(args: argparse.Namespace | None = None) -> Any:
    from privgate.registry import build_registry, get_plugin_manager

    disabled = getattr(args, "disable_plugin", None) or ()
    return build_registry(get_plugin_manager(disable=disabled))


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


def _run_and_report(config: AuditConfig, where: str,
                    args: argparse.Namespace | None = None) -> int:
    from privgate.outputs import check_output_dir, write_reports
    from privgate.pipeline import audit
    from privgate.results import recompute_verdict

    registry = _registry(args)
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
    return _run_and_report(demo_config(args), "demo", args)


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
    raw, where, base = _raw_config(args.config)
    if args.config is None and not (args.data or args.train):
        raise InputError("give a config file (privgate audit gate.toml) or --data CSV")
    from_file = config_paths(raw)
    raw = _apply_flags(raw, args)
    if args.config is not None and not args.allow_paths_outside_config:
        # only the paths the file itself names: command-line paths are the user's own
        merged = config_paths(raw)
        check_paths_inside({k: v for k, v in from_file.items() if merged.get(k) == v},
                           where=where, base_dir=base)
    config = parse_config(raw, where=where, base_dir=base)
    return _run_and_report(config, where, args)


def cmd_synth(args: argparse.Namespace) -> int:
    """``privgate synth``: fit one generator, check its output and spend, write the rows."""
    from privgate.generator import PrivacyBudget
    from privgate.isolation import PluginFault
    from privgate.ledger import PlannedFit, open_audit_ledger
    from privgate.outputs import write_atomic
    from privgate.pipeline import _origin, claimed_epsilon, fit_checked
    from privgate.redact import DataGuard
    from privgate.sources import _schema_for
    from privgate.tables import conform, fingerprint, read_table

    data_path, out = Path(args.data), Path(args.out)
    for src in [data_path] + ([Path(args.config)] if args.config else []):
        if _same_file(out, src):
            raise InputError(f"{out}: --out names an input file ({src}); writing the synthetic "
                             "rows there would destroy it; choose another path")
    if out.is_dir():
        raise InputError(f"{out}: --out is a folder; give a file name such as synthetic.csv")
    if not out.parent.is_dir():
        raise InputError(f"{out}: the folder {out.parent} does not exist; create it or choose "
                         "another --out")
    base = parse_config({}, where="command line")
    if args.config:
        raw, where, folder = _raw_config(args.config)
        if not args.allow_paths_outside_config:  # synth uses only the config's ledger path
            check_paths_inside({k: v for k, v in config_paths(raw).items()
                                if k == "ledger.path"}, where=where, base_dir=folder)
        base = parse_config(raw, where=where, base_dir=folder)
    registry = _registry(args)
    cls = registry.generator(args.generator)
    df = read_table(data_path)
    schema = _schema_for(base, df, args.config or "command line")
    df = conform(df, schema, where=args.data)
    modelled = [c.name for c in schema.modelled]
    budget = None
    if cls.is_private:
        if args.epsilon is None:
            raise InputError(f"--epsilon is required for the private generator {args.generator!r}")
        budget = PrivacyBudget(args.epsilon, args.delta)
    gen = cls()
    gen.check_schema(schema.select(modelled))
    guard = DataGuard([df[modelled]], schema)
    # The privacy ledger (config [ledger], $PRIVGATE_LEDGER): reserved before the fit.
    ledger = open_audit_ledger(base, fingerprint(df), data_path.stem, [PlannedFit(
        args.generator, None if budget is None else budget.epsilon,
        0.0 if budget is None else budget.delta)])
    try:
        if ledger is not None:
            ledger.started(args.generator)
        with ConsoleProgress().step("fit", f"training {args.generator} on {len(df):,} rows"):
            try:
                syn, spent = fit_checked(gen, budget, df[modelled], schema.select(modelled),
                                         args.rows or len(df), seed=args.seed,
                                         origin=_origin(registry, "generators", args.generator),
                                         timeout_s=None)
            except InputError as exc:
                if ledger is not None:
                    ledger.refused(args.generator, str(exc),
                                   float(getattr(exc, "spent_epsilon", 0.0) or 0.0))
                raise InputError(guard.text(str(exc))) from None
            except PluginFault as fault:
                if ledger is not None:
                    ledger.failed(args.generator, fault.summary(),
                                  book_epsilon=claimed_epsilon(gen))
                raise PluginFault(fault.origin, fault.kind,
                                  guard.text(fault.message)) from None
        if ledger is not None:
            ledger.finished(args.generator, spent.epsilon if spent.is_private else None,
                            spent.delta, spent.accountant)
    finally:
        if ledger is not None:
            ledger.close()
    write_atomic(out, syn.to_csv(index=False).encode("utf-8"))
    eps = "not private" if not spent.is_private else f"epsilon {spent.epsilon:.3f}, delta " \
                                                      f"{spent.delta:g} ({spent.accountant})"
    print(f"wrote {len(syn):,} synthetic rows to {out}; privacy spent: {eps}")
    if schema.data_dependent_columns:
        names = ", ".join(schema.data_dependent_columns)
        if spent.is_private:
            print(f"note: domains of {names} were not declared; the generator estimated them "
                  "under DP from its budget (included in the epsilon above); declare them in "
                  "the schema to spend the whole budget on training", file=sys.stderr)
        else:
            print(f"warning: domains of {names} were read off the data and are not "
                  "privacy-protected", file=sys.stderr)
    return EXIT_PASS


def cmd_plugins(args: argparse.Namespace) -> int:
    import json

    registry = _registry(args)
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
            raise InputError(f"{target}: --out names an input file ({src}); writing there would "
                             "destroy it; choose another path")
    html = target.suffix.lower() in (".html", ".htm")
    if target.is_dir():
        target = target / name
    elif not html:
        if target.exists():
            raise InputError(f"{target}: --out must be a .html file or a folder; it names an "
                             "existing file that is not HTML, which would be overwritten")
        try:
            target.mkdir(parents=True)
        except OSError as exc:
            raise InputError(f"{target}: cannot create the folder ({exc.strerror}); choose "
                             "another --out") from None
        target = target / name
    for src in inputs:  # again: a folder's report.html may itself be an input
        if _same_file(target, src):
            raise InputError(f"{target}: --out names an input file ({src}); writing there would "
                             "destroy it; choose another path")
    if not target.parent.is_dir():
        raise InputError(f"{target}: the folder {target.parent} does not exist; create it or "
                         "choose another --out")
    return target


def cmd_report(args: argparse.Namespace) -> int:
    """``privgate report results.json``: re-render the HTML report to exactly ``--out``."""
    from privgate.outputs import write_atomic
    from privgate.results import load_result
    from privgate.views import readonly

    registry = _registry(args)
    if args.compare:
        return _compare(args, registry)
    if not args.results:
        raise InputError("give a results.json to re-render, or --compare OLD.json NEW.json")
    path = Path(args.results)
    result = load_result(path)
    out = _html_target(args.out, path.parent / "report.html", [path], "report.html")
    # the language override reaches sections through a copy: results.json's hash is unchanged
    view = readonly({**result, "lang": args.lang} if args.lang else result)
    sections = registry.sections(view)
    reporter = registry.get("reporters", "html")()
    if args.lang and hasattr(reporter, "lang"):
        reporter.lang = args.lang
    if hasattr(reporter, "results_sha256"):  # seal to the file's bytes, canonical or not
        reporter.results_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    write_atomic(out, reporter.render(readonly(result), sections).encode("utf-8"))
    print(f"wrote {out}")
    return EXIT_PASS


def _compare(args: argparse.Namespace, registry: Any) -> int:
    """``privgate report --compare OLD.json NEW.json``: the compare reporter's page."""
    from privgate.outputs import write_atomic
    from privgate.results import load_result
    from privgate.views import readonly

    old_path, new_path = (Path(p) for p in args.compare)
    old, new = load_result(old_path), load_result(new_path)
    doc = {"comparison": {"old": old, "new": new, "old_label": str(old_path),
                          "new_label": str(new_path),
                          "old_sha256": hashlib.sha256(old_path.read_bytes()).hexdigest(),
                          "new_sha256": hashlib.sha256(new_path.read_bytes()).hexdigest()}}
    reporter = registry.get("reporters", "compare")()
    if args.lang and hasattr(reporter, "lang"):
        reporter.lang = args.lang
    out = _html_target(args.out, new_path.parent / reporter.filename, [old_path, new_path],
                       reporter.filename)
    write_atomic(out, reporter.render(readonly(doc), []).encode("utf-8"))
    print(f"wrote {out}")
    return EXIT_PASS


def cmd_verify(args: argparse.Namespace) -> int:
    """``privgate verify report.html results.json``: 0 match, 1 mismatch (why), 2 unreadable."""
    from privgate.verify import verify

    outcome = verify(Path(args.report_html), Path(args.results_json))
    print(outcome.reason, file=sys.stdout if outcome.ok else sys.stderr)
    return outcome.exit_code


def cmd_ledger(args: argparse.Namespace) -> int:
    """``privgate ledger``: the history of fits per data set, with totals."""
    from privgate.ledger_view import show_ledger

    return show_ledger(args.ledger, args.fingerprint, as_json=args.json,
                       url=args.ledger_url)


COMMANDS = {"demo": cmd_demo, "audit": cmd_audit, "synth": cmd_synth, "plugins": cmd_plugins,
            "report": cmd_report, "verify": cmd_verify, "ledger": cmd_ledger}


def main(argv: Sequence[str] | None = None) -> int:
    code = _main(argv)
    from privgate.isolation import abandoned

    if argv is None and abandoned():
        # A timed-out plugin call is still running in a thread that cannot be killed; the
        # reports are written, so leave now rather than wait for it (only for the real
        # command line: in-process callers pass argv and keep their interpreter).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except PrivgateError as exc:
        if os.environ.get("PRIVGATE_DEBUG"):
            raise
        kind = "error" if exc.exit_code == EXIT_BAD_INPUT else "plugin or internal error"
        print(f"privgate: {kind}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("privgate: interrupted", file=sys.stderr)
        return EXIT_INTERNAL_ERROR
    except Exception as exc:  # fail closed, without a traceback
        if os.environ.get("PRIVGATE_DEBUG"):
            raise
        print(f"privgate: internal error: {type(exc).__name__}: {exc} (set PRIVGATE_DEBUG=1 "
              "for a traceback)", file=sys.stderr)
        return EXIT_INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
