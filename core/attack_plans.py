"""Each attack's plan (:meth:`privgate.attack.Attack.plan`) for :mod:`privgate.planning`: made
here, or side by side on the executor's workers for a large table, and checked here either way.

A plan is advice: an attack whose plan raises, returns nothing or returns what is not a
well-formed :class:`~privgate.attack.AttackPlan` gets a sentence saying so instead
(:func:`raw_plan`, :func:`checked_plan`), never an error. On an executor that takes the table's
calls (:meth:`privgate.executor.Executor.calls_pool`) the plans are made in its workers from
one pickled context (:mod:`privgate.spread`'s packing), each read back and checked again in
the driver: a worker runs plugin code, so what it sends is trusted no more than a plugin's own
return. An attack or table a worker cannot rebuild is planned in the driver.
"""

from __future__ import annotations

import pickle
from dataclasses import replace

from privgate.attack import Attack, AttackContext, AttackPlan
from privgate.errors import InputError
from privgate.evidence import PlainError, counts_from_plain
from privgate.executor import Executor, Shared
from privgate.spread import fresh, pack


def attack_plans(attacks: list[tuple[str, Attack]], inapplicable: dict[str, str],
                  context: AttackContext, executor: Executor | None
                  ) -> dict[str, AttackPlan | str]:
    """Every attack's plan, or why there is none, in the attacks' order. On an executor that
    takes this table's calls the plans are made on its workers (:func:`_plan_job`), each
    checked here as one made here is; an attack a worker cannot take is planned here."""
    todo = [(name, attack) for name, attack in attacks if name not in inapplicable]
    made: dict[str, bytes] = {}
    pool = None if executor is None else executor.calls_pool(int(context.train.size))
    if pool is not None and len(todo) > 1:
        # the training rows stand in for the synthetic table: pickled once (the worker
        # copies each table before the plan reads it)
        blob, _ = pack(replace(context, synthetic=context.train, executor=pool.for_calls()))
        packed = {name: pack(attack)[0] for name, attack in todo}
        names = [name for name, _ in todo if packed[name] is not None]
        if blob is not None and names:
            shared = pool.share(blob)
            jobs = [(packed[name] or b"", shared) for name in names]
            for name, (state, value) in zip(names, pool.imap(_plan_job, jobs),
                                            strict=True):
                if state == "made":
                    made[name] = value
    plans: dict[str, AttackPlan | str] = {}
    for name, attack in attacks:
        if name in inapplicable:
            plans[name] = inapplicable[name]
        elif name in made:
            plans[name] = checked_plan(_unpacked_plan(made[name]))
        else:
            plans[name] = checked_plan(raw_plan(attack, context))
    return plans


def _plan_job(job: tuple[bytes, Shared[bytes]]) -> tuple[str, bytes]:
    """In a worker: ``("made", the pickled plan or why there is none)``, or ``("unsent",
    why)`` when the attack or its table cannot be rebuilt there (it is then planned in the
    driver)."""
    try:
        attack = pickle.loads(job[0])
        context = fresh(pickle.loads(job[1].get()))
    except Exception as exc:  # noqa: BLE001 -- nothing ran: the driver plans it
        return "unsent", f"{type(exc).__name__}: {exc}".encode()
    made = checked_plan(raw_plan(attack, context))  # checked again in the driver
    blob, why = pack(made)
    if blob is None:
        blob, _ = pack(f"the attack's plan cannot be sent back from the worker: {why}")
    return "made", blob or b""


def _unpacked_plan(blob: bytes) -> object:
    """What a worker made of an attack's plan (read back; anything unreadable is said)."""
    try:
        made: object = pickle.loads(blob)
    except Exception as exc:  # noqa: BLE001 -- whatever the plugin's objects do
        return f"the attack's plan cannot be read back from the worker ({type(exc).__name__})"
    return made


def raw_plan(attack: Attack, context: AttackContext) -> object:
    """What ``attack.plan`` returned, or why it gave nothing (a plan is advice: a failing plan
    is said, not raised)."""
    try:
        plan: object = attack.plan(context)
    except InputError as exc:
        return f"the attack cannot run on this table: {exc}"
    except Exception as exc:  # noqa: BLE001 -- advice only: the audit will tell
        return f"the attack's plan failed ({type(exc).__name__}: {exc})"
    if plan is None:
        return "the attack gives no plan; its check will say after the audit"
    return plan


def checked_plan(plan: object) -> AttackPlan | str:
    """``plan`` (from :func:`raw_plan`, here or in a worker) checked: an :class:`AttackPlan`
    with well-formed counts and trials, or why it is not one."""
    if isinstance(plan, str):
        return plan
    if not isinstance(plan, AttackPlan):
        return f"the attack's plan is a {type(plan).__name__}, not an AttackPlan"
    try:
        counts_from_plain(plan.counts)
    except PlainError as exc:
        return f"the attack's plan is malformed: {exc}"
    run = plan.trials_run
    if run is not None and (isinstance(run, bool) or not isinstance(run, int) or run < 1):
        return f"the attack's plan is malformed: trials_run is {run!r}, not a positive integer"
    return plan


__all__ = ["attack_plans", "checked_plan", "raw_plan"]
