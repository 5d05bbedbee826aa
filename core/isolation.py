"""Fault isolation for plugin calls: exceptions, malformed output and time limits.

Every call into plugin code during an audit (a generator's fit and sample, an attack's run, a
metric's compute) goes through :func:`call_plugin`. A failure becomes a :class:`PluginFault`
naming the plugin, its distribution and version, the message and the kind (``"exception"``,
``"timeout"`` or ``"malformed"``); the pipeline records it as ``error`` and carries on with the
other checks, and the verdict becomes ``error`` (exit code 3).

Time limits: Python cannot kill a thread, and a subprocess per call would have to pickle the
training table and the fitted generator across a process boundary for every attack (slow for
large tables, and plugin objects need not be picklable). So each call runs in a daemon worker
thread and the audit stops *waiting* for it after the limit. The abandoned thread keeps running
in the background until the process ends; :func:`abandoned` tells the CLI to leave with
``os._exit`` after writing the reports, so a stuck plugin can never hold the gate open.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from privgate.errors import InputError, PluginError
from privgate.plugin_loading import trace

T = TypeVar("T")

KINDS = ("exception", "timeout", "malformed")

_abandoned: list[threading.Thread] = []


@dataclass(frozen=True)
class Origin:
    """Who provides a component: its plugin (entry-point name), distribution and version."""

    component: str
    plugin: str | None = None
    distribution: str | None = None
    version: str | None = None

    @property
    def label(self) -> str:
        dist = (f"{self.distribution} {self.version}" if self.distribution
                else "not installed")
        return f"{self.component} (plugin {self.plugin or '?'}, {dist})"


class PluginFault(PluginError):
    """A plugin call failed: it raised, returned malformed output or ran past its time limit."""

    def __init__(self, origin: Origin, kind: str, message: str) -> None:
        super().__init__(f"{origin.label}: {kind}: {message}")
        self.origin = origin
        self.kind = kind
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        """The ``error_detail`` object in ``results.json``."""
        return {"plugin": self.origin.plugin, "component": self.origin.component,
                "distribution": self.origin.distribution, "version": self.origin.version,
                "message": self.message, "kind": self.kind}

    def summary(self) -> str:
        """One line for the ``error`` text of results and reports."""
        dist = (f"{self.origin.distribution} {self.origin.version}"
                if self.origin.distribution else "not installed")
        return f"[{self.kind}] {self.message} (plugin {self.origin.plugin!r}, {dist})"


def malformed(origin: Origin, message: str) -> PluginFault:
    """A fault for output that breaks the contract (wrong type, rows, columns, fields)."""
    return PluginFault(origin, "malformed", message)


#: How the calling thread waits for a plugin's thread: ``waiter(thread, timeout_s)`` returns
#: once the thread ended (``True``) or the time is up (``False``).
Waiter = Callable[[threading.Thread, float], bool]


def _join(thread: threading.Thread, timeout_s: float) -> bool:
    thread.join(timeout_s)
    return not thread.is_alive()


def call_plugin(origin: Origin, what: str, fn: Callable[..., T], *args: Any,
                timeout_s: float | None = None, waiter: Waiter | None = None,
                **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` -- plugin code -- under a time limit.

    Returns what ``fn`` returns. :class:`InputError` passes through unchanged (the user's
    input is at fault, exit 2); any other exception becomes a :class:`PluginFault` of kind
    ``"exception"``, and running past ``timeout_s`` seconds one of kind ``"timeout"``.
    ``waiter``: how this thread waits for the plugin's (default: a join); a Ray task's main
    thread must do the plugin's waiting for Ray meanwhile
    (:func:`privgate.executor.plugin_waiter`).
    """
    started = time.perf_counter()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 -- handed to the waiting thread
            outcome["error"] = exc

    if timeout_s is None:
        target()
    else:
        worker = threading.Thread(target=target, name=f"privgate-plugin:{origin.component}",
                                  daemon=True)
        worker.start()
        if not (waiter or _join)(worker, timeout_s):
            _abandoned.append(worker)
            trace(f"{what} {origin.label}: timed out after {timeout_s:g} s")
            raise PluginFault(origin, "timeout",
                              f"{what} did not finish within the per-plugin time limit of "
                              f"{timeout_s:g} s ([execution] plugin_timeout_s / "
                              "--plugin-timeout)")
    elapsed = (time.perf_counter() - started) * 1000
    error = outcome.get("error")
    trace(f"{what} {origin.label}: {elapsed:.1f} ms "
          f"{'ok' if error is None else 'raised ' + type(error).__name__}")
    if error is not None:
        if isinstance(error, InputError | PluginFault):
            raise error
        if isinstance(error, KeyboardInterrupt | SystemExit):
            raise error
        raise PluginFault(origin, "exception",
                          f"{what} raised {type(error).__name__}: {error}") from error
    value: T = outcome["value"]
    return value


def abandoned() -> bool:
    """Whether a timed-out plugin call is still running in the background."""
    return any(t.is_alive() for t in _abandoned)
