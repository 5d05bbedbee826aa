"""Error types that map to privgate's exit codes.

Exit codes (the CLI contract CI pipelines rely on):

* 0 -- every gated check passed;
* 1 -- a policy check failed or could not be certified;
* 2 -- bad input or usage (config, table, schema, unknown plugin name);
* 3 -- an internal or plugin error (the gate fails closed).
"""

from __future__ import annotations

EXIT_PASS = 0
EXIT_POLICY_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL_ERROR = 3


class PrivgateError(Exception):
    """Base class of every error privgate raises on purpose."""

    exit_code = EXIT_INTERNAL_ERROR


class InputError(PrivgateError):
    """The user's input (config, table, schema, flags) is wrong.

    The message names the file, column or field at fault and what to do about it.

    ``spent_epsilon``: raised by a generator's ``fit``, the epsilon that differentially private
    mechanisms had already spent on the data before the input was refused (e.g. a DP domain
    estimate that released nothing); the privacy ledger keeps that much and releases the rest
    of the reservation. 0 means the data was not touched.
    """

    exit_code = EXIT_BAD_INPUT
    spent_epsilon: float = 0.0


class PluginError(PrivgateError):
    """A plugin is missing, clashes with another, or misbehaved."""

    exit_code = EXIT_INTERNAL_ERROR


class UnknownPluginError(InputError):
    """A config or flag names a generator, attack, metric, policy or reporter nobody registered."""


class PluginClashError(PluginError):
    """Two plugins registered the same name for the same kind of object."""


class BudgetError(InputError):
    """A privacy budget is malformed or cannot be met."""
