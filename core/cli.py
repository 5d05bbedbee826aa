"""The ``privgate`` command line.

Exit codes: 0 pass, 1 a policy check failed or could not be certified, 2 bad input or usage,
3 an internal or plugin error. Errors are one clear message on stderr, never a traceback
(set ``PRIVGATE_DEBUG=1`` to see one).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from privgate.cli_audit import cmd_audit, cmd_demo
from privgate.cli_commands import cmd_ledger, cmd_plugins, cmd_report, cmd_synth
from privgate.cli_parser import argv_lang, build_parser, parser_language
from privgate.cli_plan import cmd_plan
from privgate.cli_sign import cmd_keygen, cmd_sign, cmd_verify, translator
from privgate.errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERNAL_ERROR,
    N_,
    PrivgateError,
)
from privgate.schema_draft import cmd_schema

COMMANDS = {"demo": cmd_demo, "audit": cmd_audit, "synth": cmd_synth, "plugins": cmd_plugins,
            "report": cmd_report, "verify": cmd_verify, "ledger": cmd_ledger,
            "keygen": cmd_keygen, "sign": cmd_sign, "schema": cmd_schema, "plan": cmd_plan}


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
    with parser_language(argv_lang(sys.argv[1:] if argv is None else argv)):
        args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except PrivgateError as exc:
        if os.environ.get("PRIVGATE_DEBUG"):
            raise
        tr = translator(_lang(args))
        line = (N_("privgate: error: %(message)s") if exc.exit_code == EXIT_BAD_INPUT
                else N_("privgate: plugin or internal error: %(message)s"))
        print(tr.gettext(line, message=tr.message(exc)), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(translator(_lang(args)).gettext(N_("privgate: interrupted")), file=sys.stderr)
        return EXIT_INTERNAL_ERROR
    except Exception as exc:  # fail closed, without a traceback
        if os.environ.get("PRIVGATE_DEBUG"):
            raise
        print(translator(_lang(args)).gettext(
            N_("privgate: internal error: %(type)s: %(error)s (set PRIVGATE_DEBUG=1 for a "
               "traceback)"), type=type(exc).__name__, error=exc), file=sys.stderr)
        return EXIT_INTERNAL_ERROR


def _lang(args: argparse.Namespace) -> str | None:
    """The language of the command's messages: ``--lang``, else the config's ``[report] lang``
    once the command has read its config (audit, demo, synth, plan: ``args.config_lang``)."""
    return getattr(args, "lang", None) or getattr(args, "config_lang", None)


if __name__ == "__main__":
    sys.exit(main())
