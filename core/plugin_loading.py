"""Loading plugins: the ``privgate`` entry-point group, one plugin at a time.

privgate loads every plugin -- its own built-ins included -- from the ``privgate`` entry-point
group into a pluggy plugin manager; :func:`privgate.registry.build_registry` then asks each
plugin's hooks what it provides.
Loading is isolated per plugin: an entry point that fails to import, declares an incompatible
plugin API (``PRIVGATE_PLUGIN_API``) or implements a hook no specification knows (a typo) is
not registered; it is recorded in :attr:`PrivgatePluginManager.problems` with its distribution
and the reason, shown by ``privgate plugins``, and named when an audit asks for something it
would have provided (exit 2). The other plugins load normally.

Operator controls (environment, or the CLI's ``--disable-plugin``):

* ``PRIVGATE_LOAD_PLUGINS=name,...`` -- an allow-list of *third-party* plugins (entry-point
  names or distribution names). When set, only listed third-party plugins load; privgate's own
  built-ins always load (they provide the reporters and policies every audit needs; switch one
  off with the disable list). Unset means every installed plugin loads.
* ``PRIVGATE_DISABLE_PLUGINS=name,...`` / ``--disable-plugin NAME`` -- never load these
  (entry-point or distribution names; built-ins included), like pytest's ``-p no:NAME``.
* ``PRIVGATE_TRACE_PLUGINS=1`` -- log every hook call and plugin call (fit, sample, attack,
  metric) to stderr with its plugin, distribution and duration.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pluggy

from privgate import hookspecs
from privgate.errors import N_, PluginError, UnknownPluginError

ENTRY_POINT_GROUP = "privgate"
#: The distribution of privgate's own plugins (always loaded unless disabled by name).
BUILTIN_DISTRIBUTION = "privgate"
ENV_LOAD = "PRIVGATE_LOAD_PLUGINS"
ENV_DISABLE = "PRIVGATE_DISABLE_PLUGINS"
ENV_TRACE = "PRIVGATE_TRACE_PLUGINS"


def _env_names(var: str) -> frozenset[str] | None:
    raw = os.environ.get(var)
    if raw is None:
        return None
    return frozenset(n.strip() for n in raw.split(",") if n.strip())


def tracing_enabled() -> bool:
    """Whether ``PRIVGATE_TRACE_PLUGINS`` asks for a log of every plugin call."""
    return os.environ.get(ENV_TRACE, "").strip().lower() not in ("", "0", "false", "no", "off")


def trace(message: str) -> None:
    """Write one trace line to stderr (only when tracing is enabled)."""
    if tracing_enabled():
        print(f"privgate trace: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class LoadControls:
    """Which entry-point plugins to load.

    Attributes:
        allow: third-party plugins (entry-point or distribution names) allowed to load; ``None``
            allows all. Built-ins (distribution ``privgate``) are never filtered by it.
        disable: plugins (entry-point or distribution names) never loaded, built-ins included.
    """

    allow: frozenset[str] | None = None
    disable: frozenset[str] = frozenset()

    @classmethod
    def from_env(cls, disable: Iterable[str] = ()) -> LoadControls:
        """Controls from ``PRIVGATE_LOAD_PLUGINS``/``PRIVGATE_DISABLE_PLUGINS`` plus ``disable``."""
        env_disable = _env_names(ENV_DISABLE) or frozenset()
        return cls(allow=_env_names(ENV_LOAD),
                   disable=env_disable | frozenset(n.strip() for n in disable if n.strip()))

    def decide(self, entry_point: str, distribution: str | None) -> str | None:
        """Why the plugin is skipped (``"disabled"``, ``"not-allowed"``) or ``None`` to load."""
        keys = {entry_point, distribution} - {None}
        if keys & self.disable:
            return "disabled"
        if (self.allow is not None and distribution != BUILTIN_DISTRIBUTION
                and not keys & self.allow):
            return "not-allowed"
        return None


@dataclass(frozen=True)
class PluginProblem:
    """An entry-point plugin that was not loaded, and why.

    ``state`` is ``"broken"`` (failed to import, incompatible API, misspelt hook, duplicate
    entry-point name), ``"disabled"`` or ``"not-allowed"`` (operator controls).
    """

    plugin: str
    distribution: str | None
    version: str | None
    state: str
    reason: str

    @property
    def origin(self) -> str:
        dist = f"{self.distribution} {self.version}" if self.distribution else "not installed"
        return f"plugin {self.plugin!r} ({dist})"

    def to_dict(self) -> dict[str, Any]:
        return {"plugin": self.plugin, "distribution": self.distribution,
                "version": self.version, "state": self.state, "reason": self.reason}


class PrivgatePluginManager(pluggy.PluginManager):
    """pluggy's manager plus what privgate records about each plugin's origin."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        #: plugin name -> (distribution, version), for entry-point plugins.
        self.origins: dict[str, tuple[str, str]] = {}
        #: plugins that were not loaded (broken, disabled, not allowed).
        self.problems: list[PluginProblem] = []
        self.controls = LoadControls()


def _api_problem(plugin: object) -> str | None:
    declared = getattr(plugin, "PRIVGATE_PLUGIN_API", None)
    if declared is None:
        return None  # undeclared: written for API 1, the first and current one
    ours = hookspecs.PLUGIN_API_VERSION.split(".")[0]
    theirs = str(declared).split(".")[0]
    if theirs != ours:
        return (f"declares plugin API {declared!s} (PRIVGATE_PLUGIN_API), but this privgate "
                f"implements plugin API {hookspecs.PLUGIN_API_VERSION}; install a version of "
                "the plugin made for it")
    return None


def _unknown_hooks(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    """Hook implementations of ``plugin`` that match no specification (typos)."""
    unknown = []
    for name in list(pm.hook.__dict__):
        if name.startswith("_"):
            continue
        caller: pluggy.HookCaller = getattr(pm.hook, name)
        if caller.has_spec():
            continue
        if any(impl.plugin is plugin and not impl.optionalhook
               for impl in caller.get_hookimpls()):
            unknown.append(name)
    return sorted(unknown)


def _distribution_entry_points() -> list[tuple[importlib.metadata.EntryPoint, str, str]]:
    """(entry point, distribution, version) of the group, one copy of each distribution."""
    found = []
    seen_dists: set[str] = set()
    for dist in importlib.metadata.distributions():
        dname = dist.metadata["Name"]
        if dname is None or dname.lower() in seen_dists:
            continue  # the same distribution twice on sys.path: the first one wins
        seen_dists.add(dname.lower())
        for ep in dist.entry_points:
            if ep.group == ENTRY_POINT_GROUP:
                found.append((ep, str(dname), str(dist.version)))
    return sorted(found, key=lambda t: (t[1] != BUILTIN_DISTRIBUTION, t[0].name, t[1]))


def _load_entrypoints(pm: PrivgatePluginManager) -> None:
    """Register each entry-point plugin on its own; problems are recorded, not raised."""
    owners: dict[str, str] = {}
    for ep, dist, version in _distribution_entry_points():

        def problem(state: str, reason: str, ep: Any = ep, dist: str = dist,
                    version: str = version) -> None:
            pm.problems.append(PluginProblem(ep.name, dist, version, state, reason))
            trace(f"plugin {ep.name!r} ({dist} {version}) not loaded: {state}: {reason}")

        skip = pm.controls.decide(ep.name, dist)
        if skip == "disabled":
            problem(skip, f"disabled by the operator ({ENV_DISABLE} or --disable-plugin)")
            continue
        if skip == "not-allowed":
            problem(skip, f"not in the allow-list {ENV_LOAD}")
            continue
        if ep.name in owners:
            problem("broken", f"entry-point name {ep.name!r} is also used by distribution "
                              f"{owners[ep.name]!r}; uninstall or disable one of the two")
            continue
        started = time.perf_counter()
        try:
            plugin = ep.load()
        except Exception as exc:  # noqa: BLE001 -- any import failure is reported, not raised
            problem("broken", f"failed to import {ep.value}: {type(exc).__name__}: {exc}")
            continue
        api = _api_problem(plugin)
        if api:
            problem("broken", api)
            continue
        try:
            pm.register(plugin, name=ep.name)
        except (ValueError, pluggy.PluginValidationError) as exc:
            problem("broken", f"cannot be registered: {exc}")
            continue
        unknown = _unknown_hooks(pm, plugin)
        if unknown:
            pm.unregister(plugin)
            problem("broken", f"implements {', '.join(unknown)}, which match(es) no privgate "
                              "hook specification (misspelt? see docs/plugins.md)")
            continue
        owners[ep.name] = dist
        pm.origins[ep.name] = (dist, version)
        trace(f"loaded plugin {ep.name!r} ({dist} {version}) from {ep.value} in "
              f"{(time.perf_counter() - started) * 1000:.1f} ms")


def _check_disable_names(names: Iterable[str]) -> None:
    """Each ``--disable-plugin`` name must name an installed plugin: a typo would otherwise
    disable nothing, silently. (Names in ``PRIVGATE_DISABLE_PLUGINS`` / ``PRIVGATE_LOAD_PLUGINS``
    are not checked: they may name plugins that are not installed yet.)"""
    wanted = [n.strip() for n in names]
    if not wanted:
        return
    found = _distribution_entry_points()
    entry_points = sorted({ep.name for ep, _, _ in found})
    distributions = sorted({dist for _, dist, _ in found})
    unknown = [n for n in wanted if n not in entry_points and n not in distributions]
    if unknown:
        raise UnknownPluginError(N_("--disable-plugin %(unknown)r: no installed plugin has that "
                                    "entry-point or distribution name, so nothing would be "
                                    "disabled; installed entry points: %(entry_points)s; "
                                    "distributions: %(distributions)s (see privgate plugins)"),
                                 unknown=unknown[0], entry_points=entry_points,
                                 distributions=distributions)


def get_plugin_manager(extra_plugins: Iterable[object] = (), *,
                       load_entrypoints: bool = True,
                       disable: Iterable[str] = ()) -> PrivgatePluginManager:
    """A plugin manager with privgate's hook specs and every installed plugin.

    Args:
        extra_plugins: plugin objects (usually modules) to register in addition, e.g. in tests.
            Unlike entry-point plugins, a misspelt hook among these raises at once.
        load_entrypoints: load the ``privgate`` entry-point group (built-ins and third-party),
            honouring ``PRIVGATE_LOAD_PLUGINS`` and ``PRIVGATE_DISABLE_PLUGINS``.
        disable: more plugin or distribution names not to load (the CLI's ``--disable-plugin``).
    """
    pm = PrivgatePluginManager()
    pm.add_hookspecs(hookspecs)
    pm.controls = LoadControls.from_env(disable)
    if load_entrypoints:
        _check_disable_names(disable)
        _load_entrypoints(pm)
    for plugin in extra_plugins:
        pm.register(plugin)
    # A hook implementation whose name matches no spec (a typo) is an error, as in tox.
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(N_("plugin validation failed: %(exc)s"), exc=exc) from exc
    if tracing_enabled():
        pm.add_hookcall_monitoring(_before_hook, _after_hook)
    return pm


def _before_hook(hook_name: str, impls: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
    trace(f"hook {hook_name} -> {', '.join(i.plugin_name for i in impls) or 'no plugin'}")


def _after_hook(outcome: Any, hook_name: str, impls: Sequence[Any],
                kwargs: Mapping[str, Any]) -> None:
    trace(f"hook {hook_name} done")
