"""Error types that map to privgate's exit codes.

Exit codes (the CLI contract CI pipelines rely on):

* 0 -- every gated check passed;
* 1 -- a policy check failed or could not be certified;
* 2 -- bad input or usage (config, table, schema, unknown plugin name);
* 3 -- an internal or plugin error (the gate fails closed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

EXIT_PASS = 0
EXIT_POLICY_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL_ERROR = 3


#: A gettext function: a msgid in, its translation out.
Gettext = Callable[[str], str]


def N_(message: str) -> str:  # noqa: N802 -- gettext's name for a marker
    """Mark ``message`` for the command line's catalog (``privgate-cli``); it is translated
    where it is shown (:class:`Text`, :meth:`privgate.i18n.Translator.message`)."""
    return message


class _Frozen:
    """A value of a message as the message shows it, kept as text: ``str`` for ``%s`` (what
    an f-string's ``{value}`` writes) and ``repr`` for ``%r``; picklable whatever it was. A
    privgate error keeps its message (:class:`Text`) too, to be shown in another language."""

    __slots__ = ("rep", "shown", "text")

    def __init__(self, value: Any) -> None:
        self.shown, self.rep = format(value, ""), repr(value)
        text = getattr(value, "text", None) if isinstance(value, PrivgateError) else None
        self.text: Text | None = text if isinstance(text, Text) and text == self.shown else None

    def __str__(self) -> str:
        return self.shown

    def __repr__(self) -> str:
        return self.rep

    def __format__(self, spec: str) -> str:
        return format(self.shown, spec)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Frozen) and (self.shown, self.rep) == (other.shown, other.rep)

    def __hash__(self) -> int:
        return hash((self.shown, self.rep))

    def __getstate__(self) -> tuple[str, str, Text | None]:
        return self.shown, self.rep, self.text

    def __setstate__(self, state: tuple[str, str, Text | None]) -> None:
        self.shown, self.rep, self.text = state


class _Shown:
    """A value while a message is filled in: a :class:`Text` (or a privgate error's) is
    rendered through ``gettext`` (``None``: in English), anything else as an f-string shows
    it (``%s``) or as ``repr`` (``%r``)."""

    __slots__ = ("gettext", "value")

    def __init__(self, value: Any, gettext: Gettext | None) -> None:
        self.value, self.gettext = value, gettext

    def __str__(self) -> str:
        if self.gettext is not None:
            if isinstance(self.value, Text):
                return self.value.render(self.gettext)
            if isinstance(self.value, _Frozen) and self.value.text is not None:
                return self.value.text.render(self.gettext)
        return format(self.value, "")

    def __repr__(self) -> str:
        return repr(self.value)


_KEPT = (str, int, float, type(None))


def render(msgid: str, params: dict[str, Any], gettext: Gettext | None = None) -> str:
    """``msgid`` (translated through ``gettext``, if given) with its ``%(name)s`` filled from
    ``params``; without ``params`` the text is returned as it is (a ``%`` stays a ``%``).
    A translation whose placeholders do not fit falls back to the English."""
    text = msgid if gettext is None else gettext(msgid)
    if not params:
        return text
    try:
        return text % {k: _Shown(v, gettext) for k, v in params.items()}
    except (KeyError, ValueError, TypeError):
        if gettext is None:
            raise
        return render(msgid, params)


class Text(str):
    """An English message that can also be shown in another language.

    ``Text(N_("column %(column)r is not in the table"), column=name)`` *is* the English text
    (a ``str``: ``column 'age' is not in the table``) and remembers its msgid and values, so
    that :meth:`render` gives it in another language of the ``privgate-cli`` catalog. Values
    are never translated, except a value that is itself a :class:`Text` or a privgate error
    (a message inside a message). ``%(name)s`` shows a value as an f-string's ``{name}``
    does, ``%(name)r`` as ``{name!r}``; with values, a literal ``%`` is written ``%%``.
    Joined to other strings or sliced it becomes a plain (English) ``str``.
    """

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, /, **params: Any) -> Text:
        kept = {k: v if isinstance(v, _KEPT) else _Frozen(v) for k, v in params.items()}
        self = super().__new__(cls, render(msgid, kept))
        self.msgid, self.params = str(msgid), kept
        return self

    def render(self, gettext: Gettext | None = None) -> str:
        """The message in the language of ``gettext`` (English without one)."""
        return render(self.msgid, self.params, gettext)


def joined(sep: str, parts: list[str]) -> Text:
    """``sep.join(parts)`` as a :class:`Text`: each part that is one is still translated."""
    names = {f"p{i}": part for i, part in enumerate(parts)}
    return Text(sep.replace("%", "%%").join(f"%({name})s" for name in names), **names)


#: How messages name a plugin of each kind (:func:`plugin_named`).
_NAMED = {"generator": N_("generator %(name)r"), "attack": N_("attack %(name)r"),
          "metric": N_("metric %(name)r"), "policy": N_("policy %(name)r"),
          "reporter": N_("reporter %(name)r")}


def plugin_named(kind: str, name: Any) -> Text:
    """How messages name a plugin: ``generator 'gmm'`` (``f"{kind} {name!r}"``), translated
    where shown."""
    if kind in _NAMED:
        return Text(_NAMED[kind], name=name)
    return Text(N_("%(kind)s %(name)r"), kind=kind, name=name)


class PrivgateError(Exception):
    """Base class of every error privgate raises on purpose.

    The message is English (``str(exc)``, ``exc.args[0]``); given as a msgid marked with
    :func:`N_` and its values -- ``InputError(N_("%(path)s: file not found"), path=p)`` -- or
    as a :class:`Text`, it can also be shown in another language (:meth:`render`; the
    command line does under ``--lang``). A plain string (a plugin's own message) is looked up
    as it is: shown in English unless the catalog holds that exact text.
    """

    exit_code = EXIT_INTERNAL_ERROR
    text: Text

    def __init__(self, message: Any = None, /, **params: Any) -> None:
        if message is None and not params:
            super().__init__()
            self.text = Text("")
            return
        if not isinstance(message, str):
            super().__init__(message)
            self.text = Text(str(message))
            return
        self.text = message if isinstance(message, Text) and not params else Text(message,
                                                                                    **params)
        super().__init__(str.__str__(self.text))

    def render(self, gettext: Gettext | None = None) -> str:
        """The message in the language of ``gettext`` (English without one)."""
        text = getattr(self, "text", None)
        if not isinstance(text, Text) or text != str(self):  # changed after it was made
            return str(self)
        return text.render(gettext)


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
