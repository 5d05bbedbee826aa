"""The ``privgate`` command line.

Exit codes: 0 pass, 1 a policy check failed or could not be certified, 2 bad input or usage,
3 an internal or plugin error. Errors are one clear message on stderr, never a traceback
(set ``PRIVGATE_DEBUG=1`` to see one).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from privgate.cli_audit import cmd_audit, cmd_demo
from privgate.cli_commands import cmd_ledger, cmd_plugins, cmd_report, cmd_synth
from privgate.cli_parser import build_parser
from privgate.cli_plan import cmd_plan
from privgate.cli_sign import cmd_keygen, cmd_sign, cmd_verify
from privgate.errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERNAL_ERROR,
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
