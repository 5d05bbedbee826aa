"""The plugin manager and the registry of everything plugins provide.

privgate loads every plugin -- its own built-ins included -- from the ``privgate`` entry-point
group, then asks each plugin's hooks what it provides. Each name (a generator, attack, metric,
policy or report format) must be unique across plugins; a clash names both plugins.
"""

from __future__ import annotations

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
from privgate.reporting import Reporter, ReportSection

ENTRY_POINT_GROUP = "privgate"

T = TypeVar("T")

SINGULAR = {"generators": "generator", "attacks": "attack", "metrics": "metric",
            "policies": "policy", "reporters": "report format"}


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


def get_plugin_manager(extra_plugins: Iterable[object] = (), *,
                       load_entrypoints: bool = True) -> pluggy.PluginManager:
    """A plugin manager with privgate's hook specs and every installed plugin.

    Args:
        extra_plugins: plugin objects (usually modules) to register in addition, e.g. in tests.
        load_entrypoints: load the ``privgate`` entry-point group (built-ins and third-party).
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    if load_entrypoints:
        try:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        except Exception as exc:  # an entry point that fails to import
            raise PluginError(f"a privgate plugin failed to load: {exc!r}") from exc
    for plugin in extra_plugins:
        pm.register(plugin)
    # A hook implementation whose name matches no spec (a typo) is an error, as in tox.
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin validation failed: {exc}") from exc
    return pm


def _distributions(pm: pluggy.PluginManager) -> dict[int, tuple[str, str]]:
    out: dict[int, tuple[str, str]] = {}
    for plugin, dist in pm.list_plugin_distinfo():
        out[id(plugin)] = (dist.project_name, dist.version)
    return out


@dataclass
class Registry:
    """Everything the installed plugins provide, by kind and name."""

    generators: dict[str, Provided[type[Generator]]] = field(default_factory=dict)
    attacks: dict[str, Provided[type[Attack]]] = field(default_factory=dict)
    metrics: dict[str, Provided[type[Metric]]] = field(default_factory=dict)
    policies: dict[str, Provided[Policy]] = field(default_factory=dict)
    reporters: dict[str, Provided[type[Reporter]]] = field(default_factory=dict)
    pm: pluggy.PluginManager | None = None

    KINDS = ("generators", "attacks", "metrics", "policies", "reporters")

    def get(self, kind: str, name: str) -> Any:
        table: dict[str, Provided[Any]] = getattr(self, kind)
        try:
            return table[name].obj
        except KeyError:
            singular = SINGULAR[kind]
            known = ", ".join(sorted(table)) or "none"
            raise UnknownPluginError(
                f"unknown {singular} {name!r}; registered {kind}: {known}. "
                "Run 'privgate plugins' to list what is installed.") from None

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
        for impl in self.pm.hook.privgate_report_sections.get_hookimpls():
            contributed: Any = impl.function(result=result)
            for section in contributed or ():
                if not isinstance(section, ReportSection):
                    raise PluginError(f"plugin {impl.plugin_name!r} returned "
                                      f"{type(section).__name__} from privgate_report_sections;"
                                      " expected ReportSection")
                dist = dists.get(id(impl.plugin))
                label = impl.plugin_name if dist is None else f"{impl.plugin_name} ({dist[0]})"
                sections.append(replace(section, plugin=label))
        return sorted(sections, key=lambda s: (s.order, s.title))


def _collect(pm: pluggy.PluginManager, hook_name: str, kind: str,
             name_of: Callable[[Any], str], check: Callable[[Any], bool],
             dists: Mapping[int, tuple[str, str]]) -> dict[str, Provided[Any]]:
    table: dict[str, Provided[Any]] = {}
    # Each implementation is called on its own so that every name is attributed to the plugin
    # that provides it (pluggy's combined call would lose that).
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        try:
            items: Sequence[Any] = list(impl.function() or ())  # plugin code
        except Exception as exc:
            raise PluginError(f"plugin {impl.plugin_name!r} failed in {hook_name}: {exc!r}"
                              ) from exc
        dist, version = dists.get(id(impl.plugin), (None, None))
        for obj in items:
            if not check(obj):
                raise PluginError(f"plugin {impl.plugin_name!r} returned {obj!r} from "
                                  f"{hook_name}, which is not a valid {SINGULAR[kind]}")
            name = name_of(obj)
            if not isinstance(name, str) or not name:
                raise PluginError(f"plugin {impl.plugin_name!r}: a {SINGULAR[kind]} has no name")
            provided = Provided(name, obj, impl.plugin_name, dist, version)
            if name in table:
                raise PluginClashError(
                    f"{SINGULAR[kind]} name {name!r} is registered twice: by "
                    f"{table[name].origin} and by {provided.origin}; uninstall or disable one")
            table[name] = provided
    return table


def _is_subclass(base: type) -> Callable[[Any], bool]:
    return lambda obj: isinstance(obj, type) and issubclass(obj, base)


def build_registry(pm: pluggy.PluginManager | None = None) -> Registry:
    """Ask every plugin what it provides; raises on name clashes and malformed registrations."""
    pm = pm or get_plugin_manager()
    dists = _distributions(pm)
    return Registry(
        generators=_collect(pm, "privgate_generators", "generators", lambda c: c.name,
                            _is_subclass(Generator), dists),
        attacks=_collect(pm, "privgate_attacks", "attacks", lambda c: c.name,
                         _is_subclass(Attack), dists),
        metrics=_collect(pm, "privgate_metrics", "metrics", lambda c: c.name,
                         _is_subclass(Metric), dists),
        policies=_collect(pm, "privgate_policies", "policies", lambda p: p.name,
                          lambda p: isinstance(p, Policy), dists),
        reporters=_collect(pm, "privgate_reporters", "reporters", lambda c: c.format,
                           _is_subclass(Reporter), dists),
        pm=pm,
    )
