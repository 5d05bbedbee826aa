"""The ``privgate`` command line's arguments: every subcommand, flag and its check.

Under ``--lang ko`` a usage error or ``--help`` speaks Korean: argparse's own words
("usage:", "the following arguments are required: ...") come from gettext's ``argparse``
domain, which :func:`parser_language` points at privgate's catalog
``locale/<lang>/LC_MESSAGES/argparse.po`` while the command line is parsed (``--lang`` is
looked up in ``argv`` first, :func:`argv_lang`: parsing is what fails). The flags' own help
texts stay English.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from privgate.config import (
    ALLOW_OUTSIDE_FLAG,
)
from privgate.errors import (
    EXIT_BAD_INPUT,
    N_,
    Text,
)
from privgate.i18n import Translator
from privgate.limits import RULES, in_range

#: The gettext domain of argparse's own messages (Python's ``argparse`` module).
ARGPARSE_DOMAIN = "argparse"
_parsing_lang: list[str | None] = [None]  # the language of the parse under way


def argv_lang(argv: Sequence[str]) -> str | None:
    """The value of ``--lang`` in ``argv`` (``--lang ko`` or ``--lang=ko``), read before
    argparse runs; ``None`` without one."""
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--lang" and i + 1 < len(argv):
            return str(argv[i + 1])
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    return None


def _translator() -> Translator:
    from privgate.cli_sign import translator

    return translator(_parsing_lang[-1])


@contextmanager
def parser_language(lang: str | None) -> Iterator[None]:
    """argparse's own messages and privgate's usage errors in ``lang`` while the command line
    is parsed (English, and nothing replaced, for English or an unknown language)."""
    tr = Translator.for_package("privgate", ARGPARSE_DOMAIN, lang)
    if tr.lang == "en":
        yield
        return
    names = vars(argparse)  # argparse looks up its module's _ and ngettext when it speaks
    saved = names["_"], names["ngettext"]
    names["_"], names["ngettext"] = tr.t.gettext, tr.t.ngettext
    _parsing_lang.append(tr.lang)
    try:
        yield
    finally:
        _parsing_lang.pop()
        names["_"], names["ngettext"] = saved


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # usage errors: exit 2 with a hint
        self.print_usage(sys.stderr)
        tr = _translator()
        self.exit(EXIT_BAD_INPUT,
                  tr.gettext(N_("privgate: error: %(message)s"), message=message) + "\n"
                  + tr.gettext(N_("Run '%(prog)s --help' for the options."), prog=self.prog)
                  + "\n")


def _ranged(rule: str, kind: type[int] | type[float]) -> Any:
    """An argparse ``type`` that parses ``kind`` and enforces ``privgate.limits.RULES[rule]``
    (the config's own rule; 'nan', 'inf' and '1e999' are refused, naming the flag)."""
    def parse(text: str) -> int | float:
        refused = Text(N_("%(rule)s, got %(value)r"), rule=RULES[rule], value=text)
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(_translator().message(refused)) from None
        if not in_range(rule, value):
            raise argparse.ArgumentTypeError(_translator().message(refused))
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
                   help="audit a seeded random sample of N rows (quick runs; with "
                   "--person-id, whole people holding at most N rows)")
    p.add_argument("--lang", metavar="LANG", help="language of report.html, one the registered "
                   "reporters write, e.g. en or ko (default: the config's [report] lang, else "
                   "en)")
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
    roles.add_argument("--person-id", metavar="COL", help="the column naming the person each "
                       "row belongs to (never modelled; splits, attacks and the ledger count "
                       "people)")


def _demo(sub: Any) -> None:
    demo = sub.add_parser("demo", help="audit a DP-SGD generator on a real hospital table "
                          "shipped with privgate's dependencies (no files needed)")
    demo.add_argument("--out", metavar="DIR", default=None,
                      help="output folder (default: privgate-demo)")
    demo.add_argument("--seed", type=_ranged("seed", int), default=None)
    demo.add_argument("--max-rows", type=_ranged("rows", int), metavar="N",
                      help="use a seeded sample of N rows (a quicker demo)")
    demo.add_argument("--epochs", type=_ranged("epochs", int), metavar="N",
                      help="DP-SGD training epochs")
    demo.add_argument("--lang", metavar="LANG", help="language of report.html, one the "
                      "registered reporters write, e.g. en or ko (default en)")
    demo.add_argument("--overwrite", action="store_true", help="replace the report an earlier "
                      "run left in the output folder")


def _audit(sub: Any) -> None:
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
    audit.add_argument("--sign", metavar="KEY.pem", help="sign the report, results.json and "
                       "the released synthetic files with this Ed25519 private key (see "
                       "privgate keygen); needs --signer")
    audit.add_argument("--signer", metavar="NAME", help="the name of the person who signs")


def _synth(sub: Any) -> None:
    synth = sub.add_parser("synth", help="fit a generator and write synthetic rows (no audit)")
    synth.add_argument("--data", metavar="CSV", required=True)
    synth.add_argument("--generator", metavar="NAME", required=True)
    synth.add_argument("--epsilon", type=_ranged("epsilon", float))
    synth.add_argument("--delta", type=_ranged("delta", float), default=1e-5)
    synth.add_argument("--rows", type=_ranged("rows", int), metavar="N", help="rows to sample "
                       "(default: as many as the input)")
    synth.add_argument("--seed", type=_ranged("seed", int), default=0)
    synth.add_argument("--config", metavar="TOML", help="take the schema from this config")
    synth.add_argument("--target", metavar="COL", help="prediction target (a conditional "
                       "generator conditions on it; for a schema inferred from --data)")
    synth.add_argument("--person-id", metavar="COL", help="the column naming the person each "
                       "row belongs to (never modelled; for a schema inferred from --data)")
    synth.add_argument(ALLOW_OUTSIDE_FLAG, action="store_true", help="let --config name a "
                       "ledger path outside its own folder")
    synth.add_argument("--out", metavar="CSV", required=True)
    synth.add_argument("--lang", metavar="LANG", help="language of the messages (en, ko; "
                       "default: the config's [report] lang, else en)")


def _report(sub: Any) -> None:
    report = sub.add_parser("report", help="re-render the reports of a results.json, or "
                            "compare two (--compare OLD.json NEW.json)")
    report.add_argument("results", metavar="RESULTS.json", nargs="?")
    report.add_argument("--out", metavar="HTML", help="exactly where to write the HTML report: "
                        "a .html path, or a folder for report.html (default: report.html beside "
                        "the results); with --compare, a .html path or a folder for "
                        "comparison.html (default: beside NEW.json). Never an input file")
    report.add_argument("--compare", nargs=2, metavar=("OLD.json", "NEW.json"),
                        help="render what changed between two audits")
    report.add_argument("--lang", metavar="LANG", help="report language, one the reporter "
                        "writes, e.g. en or ko (default: the one "
                        "the audit used)")
    report.add_argument("--key", metavar="PUB.pem", help="refuse results whose report beside "
                        "them is not signed with this Ed25519 public key")


def _inspect(sub: Any) -> None:
    plugins = sub.add_parser("plugins", help="list registered generators, attacks, metrics, "
                             "policies and report formats, and which plugin provides each")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")
    verify = sub.add_parser("verify", help="confirm that a report.html, its results.json and "
                            "the synthetic files it released belong together and none was "
                            "edited; with --key, that it was signed by that key")
    verify.add_argument("report_html", metavar="REPORT.html")
    verify.add_argument("results_json", metavar="RESULTS.json", nargs="?")
    verify.add_argument("--synthetic", metavar="FILE", action="append", help="a synthetic "
                        "file the audit released (repeatable)")
    verify.add_argument("--key", metavar="PUB.pem", help="the signer's Ed25519 public key: "
                        "the report must be signed with it")
    verify.add_argument("--lang", metavar="LANG", help="language of the messages (en, ko)")
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
    ledger.add_argument("--lang", metavar="LANG", help="language of the table (en, ko; --json "
                        "keeps English keys)")


def _signing(sub: Any) -> None:
    keygen = sub.add_parser("keygen", help="make an Ed25519 key pair for signing reports "
                            "(encrypted with $PRIVGATE_KEY_PASSPHRASE when set)")
    keygen.add_argument("--private", metavar="KEY.pem", required=True,
                        help="where to write the private key (owner-only; never overwritten)")
    keygen.add_argument("--public", metavar="PUB.pem", required=True,
                        help="where to write the public key (give it to whoever verifies)")
    keygen.add_argument("--lang", metavar="LANG", help="language of the messages (en, ko)")
    sign = sub.add_parser("sign", help="sign an audit folder's report.html, results.json and "
                          "released synthetic files with an Ed25519 key")
    sign.add_argument("folder", metavar="OUT_DIR", help="the audit's output folder")
    sign.add_argument("--key", metavar="KEY.pem", required=True, help="the private key")
    sign.add_argument("--signer", metavar="NAME", required=True, help="who signs")
    sign.add_argument("--lang", metavar="LANG", help="language of the messages (en, ko)")


def _schema(sub: Any) -> None:
    schema = sub.add_parser("schema", help="draft a schema (a TOML audit config) from a table")
    actions = schema.add_subparsers(dest="schema_command", required=True,
                                    parser_class=type(schema))
    draft = actions.add_parser("draft", help="write a TOML audit config whose schema is read "
                               "off DATA: roles guessed, every domain marked for review")
    draft.add_argument("data", metavar="DATA", help="the table (CSV or Parquet)")
    draft.add_argument("--target", metavar="COL", help="the prediction target column")
    draft.add_argument("--out", metavar="TOML", help="write here (default: stdout)")
    draft.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    draft.add_argument("--max-categories", type=int, default=50, metavar="N", help="a text "
                       "column with more distinct values, nearly one per row, is an "
                       "identifier (default 50)")


def _plan(sub: Any) -> None:
    plan = sub.add_parser("plan", help="say which checks of the chosen policies this table can "
                          "certify, before any generator is fitted or budget spent, and what "
                          "would change that")
    plan.add_argument("config", nargs="?", help="audit config (TOML)")
    _audit_flags(plan)
    plan.add_argument("--train", metavar="CSV", help="the rows a generator would be fitted on")
    plan.add_argument("--control", metavar="CSV", help="real rows held out from it")
    plan.add_argument(ALLOW_OUTSIDE_FLAG, action="store_true", help="let the config file name "
                      "paths outside its own folder")
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    plan.add_argument("--no-suggestions", action="store_true", help="do not re-plan changed "
                      "configs to suggest what would certify the checks (quicker)")


#: The subcommands, in the order ``privgate --help`` lists them.
SUBCOMMANDS = (_demo, _audit, _synth, _inspect, _report, _signing, _schema, _plan)


def build_parser() -> argparse.ArgumentParser:
    """The ``privgate`` argument parser: every subcommand, plus ``--disable-plugin`` on each."""
    parser = _Parser(prog="privgate", description="Decide whether a synthetic data set is "
                     "safe to release.")
    from privgate import __version__
    parser.add_argument("--version", action="version", version=f"privgate {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in SUBCOMMANDS:
        add(sub)
    for command in sub.choices.values():  # operator control, like pytest's -p no:NAME
        command.add_argument("--disable-plugin", metavar="NAME", action="append", default=[],
                             help="do not load this plugin (entry-point or distribution "
                             "name; repeatable; also PRIVGATE_DISABLE_PLUGINS=a,b)")
    return parser
