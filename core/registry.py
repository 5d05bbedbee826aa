"""The registry of everything plugins provide, by kind and name.

:func:`build_registry` asks every loaded plugin (:mod:`privgate.plugin_loading`) what it
provides. Each name (a generator, attack, metric, policy or report format) must be unique
across plugins; a clash names both plugins. A plugin whose registration hook fails is recorded
against it, and asking for a name it would have provided says why (exit 2).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

import pluggy

from privgate.attack import Attack
from privgate.errors import N_, PluginClashError, Text, UnknownPluginError
from privgate.generator import Generator
from privgate.metric import Metric
from privgate.plugin_loading import (
    BUILTIN_DISTRIBUTION,
    PluginProblem,
    get_plugin_manager,
    trace,
    tracing_enabled,
)
from privgate.policy import Policy
from privgate.reporting import Paragraph, Reporter, ReportSection, Table
from privgate.views import readonly

T = TypeVar("T")

SINGULAR = {"generators": "generator", "attacks": "attack", "metrics": "metric",
            "policies": "policy", "reporters": "report format"}
#: The same words (one and several) as messages show them, translated where shown.
_WORDS: dict[str, tuple[str, str]] = {
    "generators": (Text(N_("generator")), Text(N_("generators"))),
    "attacks": (Text(N_("attack")), Text(N_("attacks"))),
    "metrics": (Text(N_("metric")), Text(N_("metrics"))),
    "policies": (Text(N_("policy")), Text(N_("policies"))),
    "reporters": (Text(N_("report format")), Text(N_("reporters")))}


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

    @property
    def builtin(self) -> bool:
        """Whether privgate's own distribution provides it (not a third-party plugin)."""
        return self.distribution == BUILTIN_DISTRIBUTION


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
        """What the plugins provide as ``kind`` (``"generators"``, ...) under ``name``; an
        :class:`UnknownPluginError` naming what is registered (and what failed to load)."""
        return self._find(getattr(self, kind), kind, name)

    def _find(self, table: Mapping[str, Provided[T]], kind: str, name: str) -> T:
        try:
            return table[name].obj
        except KeyError:
            singular, plural = _WORDS.get(kind, (SINGULAR.get(kind, kind), kind))
            known = ", ".join(sorted(table)) or Text(N_("none"))
            hint = ""
            if self.problems:
                hint = Text(N_(" These plugins were not loaded and may provide it: "
                               "%(problems)s."), problems="; ".join(
                    f"{p.origin}: {p.state}: {p.reason}" for p in self.problems))
            raise UnknownPluginError(N_("unknown %(singular)s %(name)r; registered %(kind)s: "
                                        "%(known)s.%(hint)s Run 'privgate plugins' to list what "
                                        "is installed."),
                                     singular=singular, name=name, kind=plural, known=known,
                                     hint=hint) from None

    def provided(self, kind: str, name: str) -> Provided[Any] | None:
        """The registration of ``name`` (with its plugin, distribution and version), if any."""
        table: dict[str, Provided[Any]] = getattr(self, kind)
        return table.get(name)

    def generator(self, name: str) -> type[Generator]:
        return self._find(self.generators, "generators", name)

    def attack(self, name: str) -> type[Attack]:
        return self._find(self.attacks, "attacks", name)

    def metric(self, name: str) -> type[Metric]:
        return self._find(self.metrics, "metrics", name)

    def policy(self, name: str) -> Policy:
        return self._find(self.policies, "policies", name)

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
                raise PluginClashError(N_("%(singular)s name %(name)r is registered twice: by "
                                          "%(origin)s and by %(origin2)s; uninstall one or "
                                          "disable it with --disable-plugin / "
                                          "PRIVGATE_DISABLE_PLUGINS"),
                                       singular=_WORDS[kind][0] if kind in _WORDS
                                       else SINGULAR[kind], name=provided.name,
                                       origin=table[provided.name].origin, origin2=provided.origin)
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
