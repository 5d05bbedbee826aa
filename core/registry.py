"""The plugin manager and the registry of everything plugins provide.

privgate loads every plugin -- its own built-ins included -- from the ``privgate`` entry-point
group, then asks each plugin's hooks what it provides. Each name (a generator, attack, metric,
policy or report format) must be unique across plugins; a clash names both plugins.

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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

import pluggy

from privgate import hookspecs
from privgate.attack import Attack
from privgate.errors import PluginClashError, PluginError, UnknownPluginError
from privgate.generator import Generator
from privgate.metric import Metric
from privgate.policy import Policy
from privgate.reporting import Paragraph, Reporter, ReportSection, Table
from privgate.views import readonly

ENTRY_POINT_GROUP = "privgate"
BUILTIN_DISTRIBUTION = "privgate"
ENV_LOAD = "PRIVGATE_LOAD_PLUGINS"
ENV_DISABLE = "PRIVGATE_DISABLE_PLUGINS"
ENV_TRACE = "PRIVGATE_TRACE_PLUGINS"

T = TypeVar("T")

SINGULAR = {"generators": "generator", "attacks": "attack", "metrics": "metric",
            "policies": "policy", "reporters": "report format"}


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
        raise UnknownPluginError(
            f"--disable-plugin {unknown[0]!r}: no installed plugin has that entry-point or "
            f"distribution name, so nothing would be disabled; installed entry points: "
            f"{entry_points}; distributions: {distributions} (see privgate plugins)")


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
        raise PluginError(f"plugin validation failed: {exc}") from exc
    if tracing_enabled():
        pm.add_hookcall_monitoring(_before_hook, _after_hook)
    return pm


def _before_hook(hook_name: str, impls: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
    trace(f"hook {hook_name} -> {', '.join(i.plugin_name for i in impls) or 'no plugin'}")


def _after_hook(outcome: Any, hook_name: str, impls: Sequence[Any],
                kwargs: Mapping[str, Any]) -> None:
    trace(f"hook {hook_name} done")


def _distributions(pm: pluggy.PluginManager) -> dict[int, tuple[str, str]]:
    out: dict[int, tuple[str, str]] = {}
    for plugin, dist in pm.list_plugin_distinfo():
        out[id(plugin)] = (dist.project_name, dist.version)
    for name, origin in getattr(pm, "origins", {}).items():
        plugin = pm.get_plugin(name)
        if plugin is not None:
            out[id(plugin)] = origin
    return out


def call_traced(hook_name: str, plugin: str, origin: tuple[str | None, str | None],
                fn: Callable[..., T], **kwargs: Any) -> T:
    """Call one plugin's hook implementation, logging plugin and duration when tracing."""
    if not tracing_enabled():
        return fn(**kwargs)
    started = time.perf_counter()
    status = "ok"
    try:
        return fn(**kwargs)
    except BaseException as exc:
        status = f"raised {type(exc).__name__}"
        raise
    finally:
        dist = f"{origin[0]} {origin[1]}" if origin[0] else "not installed"
        trace(f"hook {hook_name} plugin={plugin!r} ({dist}) "
              f"{(time.perf_counter() - started) * 1000:.1f} ms {status}")


@dataclass(frozen=True)
class Provided(Generic[T]):
    """One named object a plugin provides, and where it came from."""

    name: str
    obj: T
    plugin: str
    distribution: str | None
    version: str | None

    @property
    def origin(self) -> str:
        dist = f"{self.distribution} {self.version}" if self.distribution else "not installed"
        return f"plugin {self.plugin!r} ({dist})"


@dataclass
class Registry:
    """Everything the installed plugins provide, by kind and name, and what failed to load."""

    generators: dict[str, Provided[type[Generator]]] = field(default_factory=dict)
    attacks: dict[str, Provided[type[Attack]]] = field(default_factory=dict)
    metrics: dict[str, Provided[type[Metric]]] = field(default_factory=dict)
    policies: dict[str, Provided[Policy]] = field(default_factory=dict)
    reporters: dict[str, Provided[type[Reporter]]] = field(default_factory=dict)
    pm: pluggy.PluginManager | None = None
    #: plugins that were not loaded or whose registration failed (see :class:`PluginProblem`).
    problems: list[PluginProblem] = field(default_factory=list)

    KINDS = ("generators", "attacks", "metrics", "policies", "reporters")

    def get(self, kind: str, name: str) -> Any:
        table: dict[str, Provided[Any]] = getattr(self, kind)
        try:
            return table[name].obj
        except KeyError:
            singular = SINGULAR[kind]
            known = ", ".join(sorted(table)) or "none"
            hint = ""
            if self.problems:
                hint = (" These plugins were not loaded and may provide it: " + "; ".join(
                    f"{p.origin}: {p.state}: {p.reason}" for p in self.problems) + ".")
            raise UnknownPluginError(
                f"unknown {singular} {name!r}; registered {kind}: {known}.{hint} "
                "Run 'privgate plugins' to list what is installed.") from None

    def provided(self, kind: str, name: str) -> Provided[Any] | None:
        """The registration of ``name`` (with its plugin, distribution and version), if any."""
        table: dict[str, Provided[Any]] = getattr(self, kind)
        return table.get(name)

    def generator(self, name: str) -> type[Generator]:
        return self.get("generators", name)

    def attack(self, name: str) -> type[Attack]:
        return self.get("attacks", name)

    def metric(self, name: str) -> type[Metric]:
        return self.get("metrics", name)

    def policy(self, name: str) -> Policy:
        return self.get("policies", name)

    def plugins(self) -> list[dict[str, Any]]:
        """Plugins with what each provides (for ``privgate plugins`` and provenance)."""
        by_plugin: dict[str, dict[str, Any]] = {}
        for kind in self.KINDS:
            for item in getattr(self, kind).values():
                entry = by_plugin.setdefault(item.plugin, {
                    "plugin": item.plugin, "distribution": item.distribution,
                    "version": item.version, "provides": {}})
                entry["provides"].setdefault(kind, []).append(item.name)
        return [by_plugin[k] for k in sorted(by_plugin)]

    def sections(self, result: Mapping[str, Any]) -> list[ReportSection]:
        """Report sections from every plugin, sorted by ``order`` then title."""
        if self.pm is None:
            return []
        dists = _distributions(self.pm)
        sections: list[ReportSection] = []
        failed: list[tuple[str, str, str, str]] = []
        for impl in self.pm.hook.privgate_report_sections.get_hookimpls():
            origin = dists.get(id(impl.plugin), (None, None))
            label = (impl.plugin_name if origin[0] is None
                     else f"{impl.plugin_name} ({origin[0]})")
            try:
                # each plugin gets its own read-only copy: it cannot change core's document
                # or what the next plugin sees
                raw: Any = call_traced("privgate_report_sections", impl.plugin_name, origin,
                                       impl.function, result=readonly(result))
                contributed = list(raw or ())
                bad = [s for s in contributed if not isinstance(s, ReportSection)]
                if bad:
                    raise TypeError(f"returned {type(bad[0]).__name__}, expected ReportSection")
            except Exception as exc:  # noqa: BLE001 -- one broken section never loses a report
                failed.append((impl.plugin_name, origin[0] or "-", origin[1] or "-",
                               f"{type(exc).__name__}: {exc}"))
                continue
            sections.extend(replace(section, plugin=label) for section in contributed)
        if failed:
            sections.append(ReportSection(
                "plugin-section-errors", "Report sections that failed", (
                    Paragraph("These plugins failed to contribute their report sections; the "
                              "rest of the report is complete."),
                    Table(("plugin", "distribution", "version", "error"), failed)),
                order=10_000, plugin="privgate"))
        return sorted(sections, key=lambda s: (s.order, s.title))


def _collect(pm: pluggy.PluginManager, hook_name: str, kind: str,
             name_of: Callable[[Any], str], check: Callable[[Any], bool],
             dists: Mapping[int, tuple[str, str]], problems: list[PluginProblem],
             ) -> dict[str, Provided[Any]]:
    table: dict[str, Provided[Any]] = {}
    # Each implementation is called on its own so that every name is attributed to the plugin
    # that provides it (pluggy's combined call would lose that), and so that one plugin's
    # failure is recorded against it while the others still register.
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        dist, version = dists.get(id(impl.plugin), (None, None))
        try:
            items: Sequence[Any] = list(call_traced(hook_name, impl.plugin_name, (dist, version),
                                                    impl.function) or ())
        except Exception as exc:  # noqa: BLE001 -- recorded against the plugin
            problems.append(PluginProblem(impl.plugin_name, dist, version, "broken",
                                          f"{hook_name} raised {type(exc).__name__}: {exc}"))
            continue
        accepted: list[Provided[Any]] = []
        for obj in items:
            try:
                name = name_of(obj) if check(obj) else None
            except AttributeError:  # a contract class that forgot its ``name``
                name = None
            if not isinstance(name, str) or not name:
                problems.append(PluginProblem(
                    impl.plugin_name, dist, version, "broken",
                    f"{hook_name} returned {obj!r}, which is not a valid {SINGULAR[kind]} "
                    "(a subclass of the contract with a non-empty name)"))
                accepted = []
                break
            accepted.append(Provided(name, obj, impl.plugin_name, dist, version))
        for provided in accepted:
            if provided.name in table:
                raise PluginClashError(
                    f"{SINGULAR[kind]} name {provided.name!r} is registered twice: by "
                    f"{table[provided.name].origin} and by {provided.origin}; uninstall one or "
                    "disable it with --disable-plugin / PRIVGATE_DISABLE_PLUGINS")
            table[provided.name] = provided
    return table


def _is_subclass(base: type) -> Callable[[Any], bool]:
    return lambda obj: isinstance(obj, type) and issubclass(obj, base)


def build_registry(pm: pluggy.PluginManager | None = None) -> Registry:
    """Ask every plugin what it provides.

    Raises :class:`PluginClashError` when two plugins register the same name. A plugin whose
    registration hook raises or returns something that is not a contract class is recorded in
    :attr:`Registry.problems` (its names are then unknown, and asking for one says why).
    """
    pm = pm or get_plugin_manager()
    dists = _distributions(pm)
    problems: list[PluginProblem] = list(getattr(pm, "problems", []))
    return Registry(
        generators=_collect(pm, "privgate_generators", "generators", lambda c: c.name,
                            _is_subclass(Generator), dists, problems),
        attacks=_collect(pm, "privgate_attacks", "attacks", lambda c: c.name,
                         _is_subclass(Attack), dists, problems),
        metrics=_collect(pm, "privgate_metrics", "metrics", lambda c: c.name,
                         _is_subclass(Metric), dists, problems),
        policies=_collect(pm, "privgate_policies", "policies", lambda p: p.name,
                          lambda p: isinstance(p, Policy), dists, problems),
        reporters=_collect(pm, "privgate_reporters", "reporters", lambda c: c.format,
                           _is_subclass(Reporter), dists, problems),
        pm=pm,
        problems=problems,
    )
