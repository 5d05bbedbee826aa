"""What an audit will run, resolved before any slow work: every generator, attack, metric
and policy named, instantiated with its parameters and checked against the table's schema.

Mistakes the user made exit 2 here, before any budget is reserved or any generator trained:
unknown names, bad parameters, a private generator without epsilon, an attack that needs the
generator given a synthetic file, an attack the user named that cannot run on this table. A
*default* attack that the table's shape cannot support is planned as not applicable (its checks
are cannot-certify).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from privgate.attack import Attack, AttackResult
from privgate.config import AuditConfig, PluginRef
from privgate.errors import N_, InputError, Text
from privgate.generator import Generator, PrivacyBudget, PrivacySpent
from privgate.metric import Metric, MetricResult
from privgate.redact import strip_controls
from privgate.registry import Registry
from privgate.schema import Schema
from privgate.sources import AuditData

EXTERNAL = "external"


@dataclass
class GeneratorRun:
    """What happened to one generator (or one externally made synthetic table)."""

    name: str
    gated: bool
    generator: Generator | None
    params: dict[str, Any]
    budget: PrivacyBudget | None
    description: str = ""
    is_private: bool | None = None
    synthetic: pd.DataFrame | None = None
    error: str | None = None
    #: the spend as core read and checked it (``None`` until the fit succeeded)
    spent: PrivacySpent | None = None
    attacks: list[tuple[str, AttackResult | None, str | None]] = field(default_factory=list)
    metrics: list[tuple[str, MetricResult | None, str | None]] = field(default_factory=list)
    #: attacks that could not run on this table's shape: name -> reason (cannot-certify)
    not_applicable: dict[str, str] = field(default_factory=dict)
    #: structured plugin failures: "generator", "attack:NAME", "metric:NAME" -> error_detail
    faults: dict[str, dict[str, Any]] = field(default_factory=dict)


def _instantiate(cls: type, params: dict[str, Any], what: str) -> Any:
    try:
        return cls(**params)
    except InputError as exc:
        raise InputError(N_("%(what)s: %(exc)s"), what=what, exc=exc) from None
    except TypeError as exc:
        raise InputError(N_("%(what)s: bad parameters %(params)s: %(exc)s"),
                         what=what, params=sorted(params), exc=exc) from None
    except Exception as exc:  # noqa: BLE001 -- a plugin constructor failing on user params
        raise InputError(N_("%(what)s: the parameters %(params)s were refused (%(type)s: "
                            "%(error)s)"),
                         what=what, params=sorted(params), type=type(exc).__name__,
                         error=strip_controls(str(exc))) from None


def _checked(what: str, fn: Any, schema: Schema) -> None:
    """Run a plugin's ``check_schema``: InputError is the user's (exit 2); a crash is not."""
    try:
        fn(schema)
    except InputError as exc:
        raise InputError(N_("%(what)s: %(exc)s"), what=what, exc=exc) from None
    except Exception as exc:  # noqa: BLE001 -- fail before training, naming the plugin
        raise InputError(N_("%(what)s: cannot check its parameters against this table "
                            "(%(type)s: %(error)s)"),
                         what=what, type=type(exc).__name__,
                         error=strip_controls(str(exc))) from None


@dataclass
class Plan:
    """What an audit will run, resolved before any slow work."""

    runs: list[GeneratorRun]
    attacks: list[tuple[str, Attack]]
    metrics: list[tuple[str, Metric]]
    #: default attacks (not named by the user) that cannot run on this table's shape:
    #: name -> reason; their checks are cannot-certify
    inapplicable: dict[str, str] = field(default_factory=dict)


def plan_audit(config: AuditConfig, registry: Registry, where: str, data: AuditData) -> Plan:
    """Resolve every name and parameter before any slow work, so mistakes exit 2 at once.

    An attack the user named that cannot run on this input is refused (exit 2); a default
    attack that cannot run on this table's shape (say, a one-column table) is planned as
    not applicable, and its checks are cannot-certify.
    """
    schema = data.schema.select(list(data.train.columns))
    has_external = data.synthetic is not None
    runs: list[GeneratorRun] = []
    for i, g in enumerate(config.generators):
        at = f"{where}: generators[{i}] ({g.name})"
        cls = registry.generator(g.name)
        budget = None
        if cls.is_private:
            if g.epsilon is None:
                raise InputError(N_("%(at)s: 'epsilon' is required for the private generator "
                                    "%(name)r (e.g. epsilon = 1.0)"), at=at, name=g.name)
            try:
                budget = PrivacyBudget(g.epsilon, g.delta)
            except InputError as exc:
                raise InputError(N_("%(at)s: %(exc)s"), at=at, exc=exc) from None
        generator = _instantiate(cls, g.params, at)
        _checked(at, generator.check_schema, schema)
        runs.append(GeneratorRun(g.name, g.gate, generator, g.params, budget, cls.description,
                                 cls.is_private))
    if has_external:
        runs.append(GeneratorRun(EXTERNAL, True, None, {}, None,
                                 "a synthetic table made outside privgate", None))
    if not runs:
        raise InputError(N_("%(where)s: no generator configured and no synthetic table given; "
                            "add a [[generators]] table or pass --generator NAME or --synthetic "
                            "CSV"), where=where)
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise InputError(N_("%(where)s: a generator is listed twice: %(names)s"),
                         where=where, names=names)
    attacks, inapplicable = resolve_attacks(config, registry, where, schema, has_external)
    metric_refs = config.refs("metrics")
    metrics = [(ref.name, _instantiate(registry.metric(ref.name), ref.params,
                                       f"{where}: metric {ref.name!r}"))
               for ref in (_all(registry.metrics) if metric_refs is None else metric_refs)]
    for p in config.policies:
        registry.policy(p)
    return Plan(runs, attacks, metrics, inapplicable)


def resolve_attacks(config: AuditConfig, registry: Registry, where: str, schema: Schema,
                    has_external: bool = False
                    ) -> tuple[list[tuple[str, Attack]], dict[str, str]]:
    """Every attack the config names (or every default one), instantiated and checked against
    the schema, and the default attacks that cannot run on this table's shape (name ->
    reason). An attack the user named that cannot run is refused (exit 2), as is an empty
    list."""
    refs = config.refs("attacks")
    attacks: list[tuple[str, Attack]] = []
    inapplicable: dict[str, str] = {}
    for ref in _all(registry.attacks) if refs is None else refs:
        at = Text(N_("%(where)s: attack %(name)r"), where=where, name=ref.name)
        attack_cls = registry.attack(ref.name)
        if getattr(attack_cls, "requires_generator", False) and has_external:
            raise InputError(N_("%(at)s trains copies of the generator, so it cannot audit a "
                                "synthetic table made elsewhere (--synthetic / data.synthetic); "
                                "remove it or audit a generator privgate fits"), at=at)
        attack = _instantiate(attack_cls, ref.params, at)
        try:
            _checked(at, attack.check_schema, schema)
        except InputError as exc:
            if refs is not None:  # the user named it: say so now
                raise
            inapplicable[ref.name] = strip_controls(str(exc))
        attacks.append((ref.name, attack))
    if refs is not None and not attacks:
        raise InputError(N_("%(where)s: 'attacks' is an empty list, which would certify "
                            "nothing; omit it to run every default attack"), where=where)
    return attacks, inapplicable


def _all(table: dict[str, Any]) -> list[PluginRef]:
    """Every registered plugin of a kind that runs by default (``default = False`` opts out)."""
    return [PluginRef(name=n) for n in sorted(table)
            if getattr(table[n].obj, "default", True) is not False]


__all__ = ["EXTERNAL", "GeneratorRun", "Plan", "plan_audit", "resolve_attacks"]
