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

from privgate.config import AuditConfig, load_config, parse_config, read_toml
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


def _audit_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", metavar="CSV", help="real table; split into train and control")
    p.add_argument("--generator", metavar="NAME", action="append",
                   help="generator to fit and audit (repeatable; replaces the config's)")
    p.add_argument("--epsilon", type=float, help="privacy budget epsilon for every generator")
    p.add_argument("--delta", type=float, help="privacy budget delta (default 1e-5)")
    p.add_argument("--policy", metavar="NAME", action="append",
                   help="policy to apply (repeatable; default expert-determination-0.09)")
    p.add_argument("--attack", metavar="NAME", action="append",
                   help="attack to run (repeatable; default: every registered attack)")
    p.add_argument("--seed", type=int, help="seed for split, training and attacks")
    p.add_argument("--out", metavar="DIR", help="output folder for report.html, results.json, "
                   "junit.xml")
    p.add_argument("--max-rows", type=int, metavar="N",
                   help="audit a seeded random sample of N rows (quick runs)")
    p.add_argument("--lang", choices=LANGS, help="language of report.html (default: the "
                   "config's [report] lang, else en)")
    p.add_argument("--plugin-timeout", type=float, metavar="SECONDS",
                   help="time limit for one plugin call (fit+sample, an attack, a metric); "
                   "past it the check is 'error' (default: [execution] plugin_timeout_s, 1800)")
    p.add_argument("--backend", choices=("inline", "joblib", "ray"),
                   help="where heavy attack work (shadow fits, per-target jobs) runs: inline, "
                   "local processes (joblib, default) or Ray (pip install privgate[ray])")
    p.add_argument("--ray-address", metavar="ADDR",
                   help="join an existing Ray cluster (e.g. auto or ray://head:10001); "
                   "implies --backend ray")
    p.add_argument("--jobs", type=int, metavar="N",
                   help="worker processes (joblib) or local Ray CPUs; -1 = all cores")
    ledger = p.add_argument_group("privacy ledger (every fit recorded per data set)")
    ledger.add_argument("--ledger", metavar="PATH", help="ledger file (default: [ledger] "
                        "path, else $PRIVGATE_LEDGER, else the user data dir)")
    ledger.add_argument("--no-ledger", action="store_true", help="do not record or limit "
                        "this audit's fits")
    ledger.add_argument("--total-epsilon", type=float, metavar="EPS", help="total epsilon "
                        "this data set may ever spend; a fit past it is refused (exit 2)")
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
    demo.add_argument("--seed", type=int, default=None)
    demo.add_argument("--max-rows", type=int, metavar="N",
                      help="use a seeded sample of N rows (a quicker demo)")
    demo.add_argument("--epochs", type=int, metavar="N", help="DP-SGD training epochs")
    demo.add_argument("--lang", choices=LANGS, help="language of report.html (default en)")

    audit = sub.add_parser("audit", help="audit generators (or a synthetic table) against "
                           "policies")
    audit.add_argument("config", nargs="?", help="audit config (TOML)")
    _audit_flags(audit)
    audit.add_argument("--synthetic", metavar="CSV", help="audit a synthetic table made "
                       "elsewhere (needs --train and --control)")
    audit.add_argument("--train", metavar="CSV", help="the rows the synthetic table's "
                       "generator was fitted on")
    audit.add_argument("--control", metavar="CSV", help="real rows that generator never saw")

    synth = sub.add_parser("synth", help="fit a generator and write synthetic rows (no audit)")
    synth.add_argument("--data", metavar="CSV", required=True)
    synth.add_argument("--generator", metavar="NAME", required=True)
    synth.add_argument("--epsilon", type=float)
    synth.add_argument("--delta", type=float, default=1e-5)
    synth.add_argument("--rows", type=int, metavar="N", help="rows to sample (default: as "
                       "many as the input)")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--config", metavar="TOML", help="take the schema from this config")
    synth.add_argument("--out", metavar="CSV", required=True)

    plugins = sub.add_parser("plugins", help="list registered generators, attacks, metrics, "
                             "policies and report formats, and which plugin provides each")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")

    report = sub.add_parser("report", help="re-render the reports of a results.json, or "
                            "compare two (--compare OLD.json NEW.json)")
    report.add_argument("results", metavar="RESULTS.json", nargs="?")
    report.add_argument("--out", metavar="HTML", help="where to write the HTML report "
                        "(default: report.html beside the results); with --compare, a folder "
                        "for comparison.html or a .html path (default: beside NEW.json)")
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


def _print_verdict(result: dict[str, Any], written: dict[str, Path], console: Console) -> None:
    """One verdict table per policy, the privacy spent per generator, and the files."""
    console.print(result.get("title", "privgate audit"), style="bold", markup=False)
    for policy in result["policies"]:
        name = policy["name"]
        verdict = policy["verdict"]
        table = Table(title=f"{name}: {verdict.upper()}", title_justify="left",
                      title_style=STATUS_STYLE.get(verdict, ""))
        for col in ("generator", "attack", "risk", "interval", "threshold", "status"):
            table.add_column(col, justify="right" if col in ("risk", "threshold") else "left",
                             no_wrap=col != "status")
        for c in result["checks"]:
            if c["policy"] != name:
                continue
            risk = "-" if c["risk"] is None else f"{c['risk']:.4f}"
            interval = ("-" if c["ci_low"] is None else
                        f"[{c['ci_low']:.4f}, {c['ci_high']:.4f}]")
            status = c["status"] + ("" if c["gated"] else " (baseline)")
            table.add_row(c["generator"], c["attack"], risk, interval, f"{c['threshold']:.4g}",
                          status, style=None if c["gated"] else "dim")
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
        console.print(f"  {g['name']}: {budget}", markup=False, highlight=False)
    if result.get("data_dependent_domains"):
        console.print("  warning: domains of " + ", ".join(result["data_dependent_domains"]) +
                      " were read off the data and are not privacy-protected (DP generators "
                      "re-estimate them under DP from their budget; non-private baselines and "
                      "the attacks use them as read); declare them in the schema",
                      markup=False)
    verdict = result["verdict"]
    console.print(f"verdict: [{STATUS_STYLE.get(verdict, '')}]{verdict.upper()}[/] "
                  f"(exit code {result['exit_code']})")
    for fmt, path in written.items():
        console.print(f"  {fmt}: {path}", markup=False, highlight=False)


def _run_and_report(config: AuditConfig, where: str,
                    args: argparse.Namespace | None = None) -> int:
    from privgate.pipeline import run_audit
    from privgate.results import ensure_output_dir, write_reports

    registry = _registry(args)
    out = Path(config.output)
    ensure_output_dir(out)  # before minutes of training, not after
    stderr = Console(stderr=True, highlight=False)
    stderr.print(f"privgate: auditing ({where}); writing to {out}", markup=False)
    result = run_audit(config, registry, where=where, progress=ConsoleProgress(stderr),
                       out_dir=out)
    written = write_reports(result, registry, out)
    stdout = Console(highlight=False)
    if not stdout.is_terminal:
        stdout = Console(highlight=False, width=120)
    _print_verdict(result, written, stdout)
    return int(result["exit_code"])


def cmd_demo(args: argparse.Namespace) -> int:
    return _run_and_report(demo_config(args), "demo", args)


def cmd_audit(args: argparse.Namespace) -> int:
    if args.synthetic and not (args.train and args.control):
        raise InputError("--synthetic needs --train (the rows its generator was fitted on) "
                         "and --control (real rows it never saw)")
    raw, where, base = _raw_config(args.config)
    if args.config is None and not (args.data or args.train):
        raise InputError("give a config file (privgate audit gate.toml) or --data CSV")
    raw = _apply_flags(raw, args)
    config = parse_config(raw, where=where, base_dir=base)
    return _run_and_report(config, where, args)


def cmd_synth(args: argparse.Namespace) -> int:
    from privgate.generator import PrivacyBudget
    from privgate.sources import _schema_for
    from privgate.tables import conform, read_table

    registry = _registry(args)
    cls = registry.generator(args.generator)
    base = load_config(args.config) if args.config else parse_config({}, where="command line")
    df = read_table(Path(args.data))
    schema = _schema_for(base, df, args.config or "command line")
    df = conform(df, schema, where=args.data)
    modelled = [c.name for c in schema.modelled]
    budget = None
    if cls.is_private:
        if args.epsilon is None:
            raise InputError(f"--epsilon is required for the private generator {args.generator!r}")
        budget = PrivacyBudget(args.epsilon, args.delta)
    progress = ConsoleProgress()
    gen = cls()
    from privgate.ledger import PlannedFit, open_audit_ledger
    from privgate.tables import fingerprint

    # The privacy ledger (config [ledger], $PRIVGATE_LEDGER): reserved before the fit.
    ledger = open_audit_ledger(base, fingerprint(df), Path(args.data).stem, [PlannedFit(
        args.generator, None if budget is None else budget.epsilon,
        0.0 if budget is None else budget.delta)])
    try:
        if ledger is not None:
            ledger.started(args.generator)
        with progress.step("fit", f"training {args.generator} on {len(df):,} rows"):
            gen.fit(df[modelled], schema.select(modelled), budget, seed=args.seed)
            if ledger is not None:
                ledger.finished(args.generator, gen)
            syn = gen.sample(args.rows or len(df), seed=args.seed)
    finally:
        if ledger is not None:
            ledger.close()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    syn.to_csv(out, index=False)
    spent = gen.privacy_spent
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


def cmd_report(args: argparse.Namespace) -> int:
    from privgate.results import load_result

    registry = _registry(args)
    if args.compare:
        return _compare(args, registry)
    if not args.results:
        raise InputError("give a results.json to re-render, or --compare OLD.json NEW.json")
    path = Path(args.results)
    result = load_result(path)
    out = Path(args.out) if args.out else path.parent / "report.html"
    # the language override reaches sections through a copy: results.json's hash is unchanged
    sections = registry.sections({**result, "lang": args.lang} if args.lang else result)
    reporter = registry.get("reporters", "html")()
    if args.lang and hasattr(reporter, "lang"):
        reporter.lang = args.lang
    if hasattr(reporter, "results_sha256"):  # seal to the file's bytes, canonical or not
        reporter.results_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    written = reporter.write(result, sections, out.parent)
    if written.resolve() != out.resolve():
        written.replace(out)
    print(f"wrote {out}")
    return EXIT_PASS


def _compare(args: argparse.Namespace, registry: Any) -> int:
    """``privgate report --compare OLD.json NEW.json``: the compare reporter's page."""
    from privgate.results import load_result

    old_path, new_path = (Path(p) for p in args.compare)
    old, new = load_result(old_path), load_result(new_path)
    doc = {"comparison": {"old": old, "new": new, "old_label": str(old_path),
                          "new_label": str(new_path),
                          "old_sha256": hashlib.sha256(old_path.read_bytes()).hexdigest(),
                          "new_sha256": hashlib.sha256(new_path.read_bytes()).hexdigest()}}
    reporter = registry.get("reporters", "compare")()
    if args.lang and hasattr(reporter, "lang"):
        reporter.lang = args.lang
    out = Path(args.out) if args.out else new_path.parent
    folder = out.parent if out.suffix.lower() in (".html", ".htm") else out
    written = reporter.write(doc, [], folder)
    if folder is not out and written.resolve() != out.resolve():
        written = written.replace(out)
    print(f"wrote {written}")
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

    return show_ledger(args.ledger, args.fingerprint, as_json=args.json)


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
