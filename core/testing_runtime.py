"""The contract kit's runtime (part of :mod:`privgate.testing`): :class:`ContractViolation`,
the per-check time limit and where in a plugin's own code an exception was raised.

Time limit: each check runs in a daemon worker thread and the kit stops *waiting* for it after
the limit (Python cannot kill a thread; the abandoned call finishes in the background, as in
:mod:`privgate.isolation`). Tracebacks: a violation caused by plugin code names the innermost
frame of the plugin's own code and is chained to the original exception.
"""

from __future__ import annotations

import contextvars
import os
import sys
import sysconfig
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

#: Seconds one check may run (``PRIVGATE_CONTRACT_TIMEOUT``, ``--privgate-contract-timeout``).
DEFAULT_TIMEOUT_S = 600.0
TIMEOUT_ENV = "PRIVGATE_CONTRACT_TIMEOUT"
#: privgate's own package folder: core and the contract kit.
KIT_DIR = Path(__file__).resolve().parent
_LIBRARY_DIRS = tuple({Path(p).resolve() for k in ("stdlib", "platstdlib", "purelib", "platlib")
                       if (p := sysconfig.get_paths().get(k))})
#: The plugin under check (class, function or module), for finding its frames in tracebacks.
_PLUGIN: contextvars.ContextVar[object] = contextvars.ContextVar("privgate_contract_plugin",
                                                                default=None)


class ContractViolation(AssertionError):
    """A plugin broke privgate's plugin contract; the message says which rule and how."""


ContractViolation.__module__ = "privgate.testing"  # where plugin authors import it from


def violation(owner: str, message: str) -> ContractViolation:
    return ContractViolation(f"{owner}: {message}")


def instantiate(cls: type, params: Mapping[str, Any] | None) -> Any:
    """``cls(**params)``; without ``params``, ``cls(**cls.contract_params)`` (fast parameters)."""
    given = dict(getattr(cls, "contract_params", {}) if params is None else params)
    return cls(**given)


def label(kind: str, obj: object) -> str:
    return f"{kind} {getattr(obj, 'name', getattr(obj, '__name__', repr(obj)))!r}"


def contract_timeout(timeout_s: float | None = None) -> float | None:
    """Seconds a check may run: ``timeout_s``, else ``PRIVGATE_CONTRACT_TIMEOUT``, else
    :data:`DEFAULT_TIMEOUT_S`; ``None`` (no limit) for 0 or less."""
    if timeout_s is None:
        raw = os.environ.get(TIMEOUT_ENV, "").strip()
        try:
            timeout_s = float(raw) if raw else DEFAULT_TIMEOUT_S
        except ValueError:
            raise ValueError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds") from None
    return timeout_s if timeout_s > 0 else None


def under(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == r or r in path.parents for r in roots)


def _plugin_paths(plugin: object) -> tuple[Path | None, Path | None]:
    """The plugin's module file and its package's folder (None for privgate's core)."""
    name = plugin.__name__ if isinstance(plugin, type(sys)) else getattr(plugin, "__module__", "")
    file = getattr(sys.modules.get(str(name)), "__file__", None)
    if not file:
        return None, None
    path = Path(file).resolve()
    package = getattr(sys.modules.get(str(name)), "__package__", None)
    return path, (path.parent if package and path.parent != KIT_DIR else None)


def _pick(frames: Sequence[traceback.FrameSummary]) -> traceback.FrameSummary | None:
    """The innermost frame of the plugin's own code: in its module, else in its package, else
    outside privgate and installed libraries, else outside privgate, else outside the kit."""
    module, package = _plugin_paths(_PLUGIN.get())
    paths = [Path(f.filename).resolve() for f in frames]
    tiers: list[Callable[[Path], bool]] = [
        lambda p: p == module,
        lambda p: package is not None and under(p, [package]),
        lambda p: not under(p, [KIT_DIR, *_LIBRARY_DIRS]),
        lambda p: not under(p, [KIT_DIR]),
    ]
    for tier in tiers:
        hits = [f for f, p in zip(frames, paths) if tier(p)]
        if hits:
            return hits[-1]
    return None


def _at(frame: traceback.FrameSummary | None) -> str:
    if frame is None:
        return ""
    path = frame.filename
    try:
        rel = os.path.relpath(path)
        path = rel if not rel.startswith("..") else path
    except ValueError:  # another drive (Windows)
        pass
    line = f": {frame.line.strip()}" if frame.line else ""
    return f" [at {path}:{frame.lineno} in {frame.name}{line}]"


def where(exc: BaseException) -> str:
    """``" [at FILE:LINE in FUNCTION: SOURCE]"`` for the plugin code that raised ``exc``."""
    return _at(_pick(traceback.extract_tb(exc.__traceback__)))


def plugin_call(owner: str, what: str, fn: Callable[[], T]) -> T:
    """Call plugin code; an exception becomes a violation chained to it, naming where."""
    __tracebackhide__ = True
    try:
        return fn()
    except ContractViolation:
        raise
    except Exception as exc:
        raise violation(owner, f"{what} raised {type(exc).__name__}: {exc}{where(exc)}") from exc


def within_limit(owner: str, check: str, plugin: object, timeout_s: float | None,
                 fn: Callable[[], None]) -> None:
    """Run one check in a worker thread; past the time limit, a violation names the plugin,
    the check, the limit and where the plugin's code was when the kit stopped waiting."""
    __tracebackhide__ = True
    limit = contract_timeout(timeout_s)
    outcome: list[BaseException] = []

    def target() -> None:
        token = _PLUGIN.set(plugin)
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 -- handed to the waiting thread
            outcome.append(exc)
        finally:
            _PLUGIN.reset(token)

    if limit is None:
        target()
    else:
        worker = threading.Thread(target=target, name=f"privgate-contract:{check}", daemon=True)
        worker.start()
        worker.join(limit)
        if worker.is_alive():
            frame = sys._current_frames().get(worker.ident or -1)
            at = _at(_pick(traceback.extract_stack(frame))) if frame is not None else ""
            raise violation(owner, f"{check} did not finish within the contract time limit of "
                                   f"{limit:g} s{at} (timeout_s=, --privgate-contract-timeout, "
                                   f"{TIMEOUT_ENV}); keep the plugin quick on the kit's small "
                                   "tables, e.g. with contract_params")
    if outcome:
        raise outcome[0]
