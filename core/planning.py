"""Power before spending budget: what the chosen policies can certify on this table.

``privgate plan`` (and the first step of every audit) loads and checks the data -- no generator
is fitted, no budget reserved -- and asks each attack what a leak-free result would look like on
this table (:meth:`privgate.attack.Attack.plan`: the trials it can run and the baselines it can
measure without a generator, such as how often a control row's secret is guessed from its
quasi-identifiers). Core turns each into the check it will make after the audit
(:func:`privgate.certification.assess` on the leak-free counts): the trials available and
needed, the power to certify an honest generator, and whether this table can certify the
threshold at all.

When it cannot, the plan says what would, as configuration lines that parse, each re-checked by
planning the changed config (:func:`suggest`): a larger control fraction, fewer secret columns
(the attack's :meth:`~privgate.attack.Attack.params_without`), more trials where the table has
them but an attack runs fewer by default (:meth:`~privgate.attack.Attack.params_for_trials`),
another policy, and, in words, how many rows a table would need. A plan is advice: an audit
prints its warnings and goes on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from privgate.attack import Attack, AttackContext, AttackPlan, AttackResult
from privgate.attack_plans import attack_plans
from privgate.audit_plan import resolve_attacks
from privgate.certification import Assessment, assess
from privgate.config import AuditConfig, PluginRef, parse_config
from privgate.errors import InputError
from privgate.evidence import counts_from_plain
from privgate.executor import Executor
from privgate.i18n import Translator
from privgate.persons import PER_PERSON, PER_ROW
from privgate.policy import gated_attacks
from privgate.progress import N_
from privgate.registry import Registry
from privgate.sources import AuditData, load
from privgate.tomlish import attacks_line
from privgate.tomlish import value as toml_value

#: Control fractions a plan tries when a larger one could help.
CONTROL_FRACTIONS = (0.4, 0.5)
#: A suggested number of trials is this many times the least a leak-free result needs to
#: certify (at that least half the leak-free results do; the power of MIN_POWER takes about
#: 3.3 times as many for the membership attacks' distribution-free bounds).
TRIALS_MARGIN = 4
#: Below this power to certify an honest generator, a certifiable check is flagged as weak.
MIN_POWER = 0.9
#: A suggestion before re-planning: TOML, why (a msgid and its values), the changed config.
_Candidate = tuple[str, tuple[str, dict[str, str]], dict[str, Any]]


@dataclass(frozen=True)
class PlannedCheck:
    """One check the audit will make, as this table allows it before any generator runs."""

    policy: str
    attack: str
    risk_kind: str
    threshold: float
    #: ``True``/``False`` when known; ``None`` when the attack gives no plan
    certifiable: bool | None
    trials_available: int | None = None
    trials_needed: int | None = None
    power: float | None = None
    null_upper: float | None = None
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    #: labels of the comparisons this table cannot certify (e.g. "secret ct_result")
    blocking: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, "attack": self.attack, "risk_kind": self.risk_kind,
                "threshold": self.threshold, "certifiable": self.certifiable,
                "trials_available": self.trials_available,
                "trials_needed": self.trials_needed, "power": self.power,
                "null_upper": self.null_upper, "reasons": list(self.reasons),
                "notes": list(self.notes), "blocking": list(self.blocking)}


@dataclass(frozen=True)
class Suggestion:
    """A configuration change, as TOML that parses, and what re-planning with it showed."""

    toml: str
    why: str
    #: attacks whose checks it makes certifiable
    fixes: tuple[str, ...]
    #: every check of the changed config can be certified
    complete: bool
    #: ``why`` as a msgid of the command line's catalog and its values (for ``--lang``)
    said: tuple[str, dict[str, str]] | None = None

    def why_in(self, tr: Translator) -> str:
        """``why`` in ``tr``'s language."""
        return tr.gettext(self.said[0], **self.said[1]) if self.said else tr.plugin(self.why)

    def to_dict(self) -> dict[str, Any]:
        return {"toml": self.toml, "why": self.why, "fixes": list(self.fixes),
                "complete": self.complete}


@dataclass
class PlanReport:
    """Every planned check, the suggestions, and the table's size."""

    checks: list[PlannedCheck]
    n_rows: int
    n_train: int
    n_control: int
    suggestions: list[Suggestion] = field(default_factory=list)
    #: people in the training and control parts when a person-id column is declared (the
    #: attacks then count people: privgate.persons); ``None`` counts rows
    people: tuple[int, int] | None = None

    @property
    def blocked(self) -> list[PlannedCheck]:
        """Checks this table cannot certify."""
        return [c for c in self.checks if c.certifiable is False]

    @property
    def weak(self) -> list[PlannedCheck]:
        """Checks this table can certify, but that an honest generator passes with probability
        below :data:`MIN_POWER`."""
        return [c for c in self.checks if c.certifiable and c.power is not None
                and c.power < MIN_POWER]

    @property
    def certifiable(self) -> bool:
        """No check is known to be uncertifiable on this table."""
        return not self.blocked

    def rows_needed(self, policy: str) -> int | None:
        """About how many rows (same control fraction) would let every check of ``policy``
        be certified, scaling the trials with the rows; ``None`` when none would."""
        worst = 1.0
        for c in self.checks:
            if c.policy != policy or c.certifiable is not False:
                continue
            if c.trials_needed is None or not c.trials_available:
                return None
            worst = max(worst, c.trials_needed / c.trials_available)
        return math.ceil(self.n_rows * worst)

    def warnings(self, tr: Translator | None = None) -> list[str]:
        """One plain line per check this table cannot certify or that gives no plan, in
        ``tr``'s language (English by default; core's reasons through :meth:`Translator
        .plugin`)."""
        tr = tr or Translator()
        out = []
        for c in self.checks:
            who = {"policy": c.policy, "attack": c.attack,
                   "reasons": "; ".join(tr.plugin(r) for r in c.reasons),
                   "needed": tr.num(c.trials_needed or 0),
                   "available": tr.num(c.trials_available or 0)}
            if c.certifiable is False:
                out.append(tr.gettext(
                    N_("%(policy)s / %(attack)s: cannot be certified on this table: "
                       "%(reasons)s; no number of trials can") if c.trials_needed is None else
                    N_("%(policy)s / %(attack)s: cannot be certified on this table: "
                       "%(reasons)s; about %(needed)s trials would (the table allows "
                       "%(available)s)"), **who))
            elif c.certifiable is None:
                out.append(tr.gettext(N_("%(policy)s / %(attack)s: %(reasons)s"), **who)
                           if c.reasons else
                           tr.gettext(N_("%(policy)s / %(attack)s: no plan"), **who))
            elif c in self.weak:
                out.append(tr.gettext(N_(
                    "%(policy)s / %(attack)s: can be certified, but a generator that leaks "
                    "nothing passes it with probability %(power)s only (about %(needed)s "
                    "trials are the least that certify it; the table allows %(available)s)"),
                    power=f"{c.power:.0%}", **who))
        return out

    def to_dict(self) -> dict[str, Any]:
        policies = sorted({c.policy for c in self.checks})
        return {"certifiable": self.certifiable, "min_power": MIN_POWER, "n_rows": self.n_rows,
                "n_train": self.n_train, "n_control": self.n_control,
                "unit": PER_ROW if self.people is None else PER_PERSON,
                "n_train_people": None if self.people is None else self.people[0],
                "n_control_people": None if self.people is None else self.people[1],
                "checks": [c.to_dict() for c in self.checks],
                "rows_needed": {p: self.rows_needed(p) for p in policies},
                "suggestions": [s.to_dict() for s in self.suggestions],
                "warnings": self.warnings()}


def _stand_in(name: str, attack: Attack, plan: AttackPlan, level: float) -> AttackResult:
    """The result a leak-free generator would give, for :func:`assess`."""
    counts = counts_from_plain(plan.counts)
    n = max([c.trials for c in counts if not c.supplementary] or [1])
    if counts:
        return AttackResult(name, attack.risk_kind, 0.0, 0.0, 1.0, level, "plan", 0.0, "plan",
                            max(n, 1), counts=counts,
                            trials_available=max(plan.trials_available, n, 1))
    null = 1.0 if plan.null_upper is None else min(1.0, float(plan.null_upper))
    available = max(plan.trials_available, 1)
    run = min(plan.trials_run or available, available)  # checked by checked_plan
    return AttackResult(name, attack.risk_kind, 0.0, 0.0, 1.0, level, "plan", 0.0, "plan",
                        run, null_upper=null, upper_bound=null, lower_bound=0.0,
                        bound_method="plan", null_bounds=tuple(plan.null_bounds),
                        trials_available=available)


def _planned(policy: str, name: str, kind: str, threshold: float, a: Assessment,
             plan: AttackPlan) -> PlannedCheck:
    blocking = tuple(r["label"] for r in a.comparisons if r["gated"] and (
        r["null_upper"] > threshold or r.get("power", 1.0) < MIN_POWER))
    return PlannedCheck(policy, name, kind, threshold, a.certifiable, a.trials_available,
                        a.trials_needed, a.power, a.null_upper, a.reasons, tuple(plan.notes),
                        blocking)


def plan_checks(config: AuditConfig, registry: Registry, where: str,
                data: AuditData | None = None, executor: Executor | None = None) -> PlanReport:
    """Plan every check of ``config``'s policies on its data (loaded unless given); the
    attacks' plans side by side on ``executor``'s workers where it takes a table this large
    (:meth:`~privgate.executor.Executor.calls_pool`), else one after another here."""
    data = data if data is not None else load(config, where=where)
    schema = data.schema.select(list(data.train.columns))
    attacks, inapplicable = resolve_attacks(config, registry, where, schema,
                                            data.synthetic is not None)
    level = config.confidence_level
    context = AttackContext(data.train.copy(), data.control.copy(), data.train.copy(), schema,
                            config.seed, level, persons=data.persons)
    plans = attack_plans(attacks, inapplicable, context, executor)
    checks = []
    for policy_name in config.policies:
        policy = registry.policy(policy_name)
        mine, uncovered = gated_attacks(policy, attacks)
        for name, attack in mine:
            kind = attack.risk_kind
            threshold = policy.thresholds[kind]
            plan = plans[name]
            if isinstance(plan, str):
                certifiable = False if name in inapplicable else None
                checks.append(PlannedCheck(policy_name, name, kind, threshold, certifiable,
                                           reasons=(plan,)))
                continue
            a = assess(_stand_in(name, attack, plan, level), threshold)
            checks.append(_planned(policy_name, name, kind, threshold, a, plan))
        for kind in uncovered:
            checks.append(PlannedCheck(policy_name, "(none)", kind, policy.thresholds[kind],
                                       False, reasons=(f"no configured attack measures {kind} "
                                                       "risk; add one",)))
    people = None if data.persons is None else (data.persons.n_train, data.persons.n_control)
    return PlanReport(checks, data.n_rows, len(data.train), len(data.control), people=people)


def suggest(report: PlanReport, raw: dict[str, Any], registry: Registry, where: str,
            base_dir: Any, data: AuditData | None = None) -> list[Suggestion]:
    """Configuration changes that would let more checks be certified, each re-checked by
    planning the changed config. ``raw`` is the config mapping the plan was made from and
    ``data`` its loaded tables (reused when a change leaves the data as it is).

    A check counts as fixed when its attack is certifiable, with a power of at least
    :data:`MIN_POWER`, under every policy of the changed config (so switching to another
    policy fixes only what that policy can certify).
    """
    blocked = {c.attack for c in report.blocked + report.weak}
    if not blocked:
        return []
    out = []
    for toml, why, changed in _candidates(report, raw, registry, where, base_dir):
        same_data = changed.get("data") == raw.get("data")
        try:
            again = plan_checks(parse_config(changed, where=where, base_dir=base_dir),
                                registry, where, data if same_data else None)
        except InputError:
            continue
        fixes = tuple(sorted(blocked - {c.attack for c in again.blocked + again.weak}))
        if fixes:
            out.append(Suggestion(toml, why[0] % why[1], fixes, again.certifiable, why))
    return out


def _candidates(report: PlanReport, raw: dict[str, Any], registry: Registry, where: str,
                base_dir: Any) -> list[_Candidate]:
    """(TOML, why -- a msgid and its values --, changed raw config) for every change worth
    re-checking."""
    out: list[_Candidate] = []
    data = dict(raw.get("data") or {})
    if data.get("path") is not None or data.get("rdataset") is not None:
        current = float(data.get("control_fraction", 0.3))
        for fraction in CONTROL_FRACTIONS:
            if fraction > current + 1e-9:
                out.append((f"[data]\ncontrol_fraction = {fraction}",
                            (N_("hold out %(percent)s of the rows as control rows (more "
                                "trials for the excess-over-control checks)"),
                             {"percent": f"{fraction:.0%}"}),
                            {**raw, "data": {**data, "control_fraction": fraction}}))
    config = parse_config(raw, where=where, base_dir=base_dir)
    refs = config.refs("attacks") or [
        PluginRef(name=n) for n in sorted(registry.attacks)
        if getattr(registry.attacks[n].obj, "default", True) is not False]
    schema = load(config, where=where).schema
    for check in report.blocked + report.weak:
        ref = next((r for r in refs if r.name == check.attack), None)
        if ref is None or not check.blocking:
            continue
        attack = registry.attack(ref.name)(**ref.params)
        params = attack.params_without(check.blocking,
                                       schema.select([c.name for c in schema.modelled]))
        if params is None:
            continue
        new_refs = _with_params(refs, ref.name, params)
        out.append((attacks_line(new_refs),
                    (N_("%(attack)s without %(blocking)s (this table cannot certify "
                        "them)"), {"attack": check.attack,
                                   "blocking": ", ".join(check.blocking)}),
                    {**raw, "attacks": new_refs}))
    for check in report.blocked + report.weak:  # a cap on the trials, not the table
        ref = next((r for r in refs if r.name == check.attack), None)
        if (ref is None or not check.trials_needed or not check.trials_available
                or check.trials_needed > check.trials_available):
            continue
        trials = min(check.trials_available, math.ceil(check.trials_needed * TRIALS_MARGIN))
        try:
            params = registry.attack(ref.name)(**ref.params).params_for_trials(trials)
        except Exception:  # noqa: BLE001 -- advice only: a plugin's failure suggests nothing
            continue
        if not isinstance(params, dict) or params == dict(ref.params):
            continue  # a malformed answer suggests nothing; re-planning checks the rest
        new_refs = _with_params(refs, ref.name, params)
        out.append((attacks_line(new_refs),
                    (N_("let %(attack)s run about %(trials)s trials (the table has them; "
                        "by default it runs fewer)"),
                     {"attack": check.attack, "trials": f"{trials:,}"}),
                    {**raw, "attacks": new_refs}))
    for name in sorted(registry.policies):
        if name not in config.policies:
            out.append((f"policies = [{toml_value(name)}]",
                        (N_("judge by %(policy)s instead"), {"policy": name}),
                        {**raw, "policies": [name]}))
    return _unique(out)


def _with_params(refs: list[PluginRef], name: str, params: dict[str, Any]
                 ) -> list[dict[str, Any]]:
    """The configured attacks as config entries, ``name``'s with ``params``."""
    return [{"name": r.name, **({"params": params} if r.name == name else
                                {"params": r.params} if r.params else {})} for r in refs]


def _unique(items: list[_Candidate]) -> list[_Candidate]:
    seen, out = set(), []
    for item in items:
        if item[0] not in seen:
            seen.add(item[0])
            out.append(item)
    return out


__all__ = ["PlanReport", "PlannedCheck", "Suggestion", "plan_checks", "suggest"]
