"""An audit's plugin calls as executor tasks (``privgate.spread``, ``.training``,
``.attacking``): on a distributed executor every fit, attack and metric leaves as a task and
comes back with the figures, faults, refusals, time-outs and ledger bookings it has in the
driver; a call that cannot travel runs in the driver, with a note; a refused fit stops the audit
only once every fit is booked; anonymeter-inference maps its secrets over the executor with the
loop's figures.

The distributed executor here stands in for Ray in this process (:class:`Travelling`): every
item and every result is pickled on the way and the items run last first, so nothing can lean
on shared objects or on the order. ``tests/test_ray_cluster.py`` runs an audit on a real
two-node Ray cluster.
"""

from __future__ import annotations

import importlib
import io
import pickle
import time
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from privgate import AttackContext, AttackResult, Column, Kind, Role, Schema, hookimpl
from privgate.attacks.dcr_membership import DCRMembership
from privgate.config import parse_config
from privgate.errors import InputError
from privgate.executor import Executor
from privgate.plugin_loading import get_plugin_manager
from privgate.progress import ConsoleProgress
from privgate.registry import Registry, build_registry

T = TypeVar("T")
R = TypeVar("R")

FIXTURE = Path(__file__).parent / "fixtures" / "spread_plugin"
SCHEMA = {
    "age": {"kind": "integer", "role": "quasi-identifier", "bounds": [0, 120]},
    "sex": {"kind": "categorical", "role": "quasi-identifier", "categories": ["f", "m"]},
    "region": {"kind": "categorical", "role": "quasi-identifier", "categories": ["a", "b", "c"]},
    "dx": {"kind": "categorical", "role": "sensitive", "categories": ["x", "y", "z"]},
    "income": {"kind": "categorical", "role": "sensitive", "categories": ["lo", "mid", "hi"]},
}


#: What every :class:`Travelling` executor ran, copies in tasks included: (function, items).
maps: list[tuple[str, int]] = []


class Travelling(Executor):
    """A distributed executor in this process: items and results pickled, run last first;
    each map is logged in :data:`maps` (a copy inside a task logs there too)."""

    name = "travelling"
    distributed = True

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        maps.append((getattr(fn, "__name__", "?"), len(items)))
        out = [pickle.loads(pickle.dumps(fn(pickle.loads(pickle.dumps(item)))))
               for item in reversed(items)]
        return out[::-1]


def table(n: int = 500, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.integers(18, 90, n), "sex": rng.choice(["f", "m"], n),
                         "region": rng.choice(["a", "b", "c"], n),
                         "dx": rng.choice(["x", "y", "z"], n),
                         "income": rng.choice(["lo", "mid", "hi"], n)})


def config(folder: Path, *, generators: list[Any], attacks: list[Any],
           metrics: Sequence[str] = ("hellinger",), **execution: Any) -> Any:
    """An audit of :func:`table` (beside ``folder``) with its own ledger and output in
    ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder.parent / "rows.csv"
    if not data.exists():
        table().to_csv(data, index=False)
    return parse_config({
        "seed": 3, "output": str(folder / "out"), "data": {"path": str(data)},
        "schema": {"columns": SCHEMA}, "generators": generators, "attacks": attacks,
        "metrics": list(metrics), "ledger": {"path": str(folder / "ledger.sqlite")},
        "execution": {"backend": "inline", **execution}}, where="test")


def comparable(result: dict[str, Any]) -> dict[str, Any]:
    """The result document without what depends on where and when it ran (times, the
    executor, the ledger's ids and paths); this audit's ledger entries as their figures."""
    out = {k: v for k, v in result.items() if k not in ("timestamps", "ledger")}
    out["environment"] = {k: v for k, v in result["environment"].items() if k != "executor"}
    out["config"] = {k: v for k, v in result["config"].items()
                     if k not in ("execution", "output", "ledger")}
    out.pop("config_sha256", None)
    for gen in out["generators"]:
        for attack in gen["attacks"]:
            if isinstance(attack.get("details"), dict):
                attack["details"] = {k: v for k, v in attack["details"].items()
                                     if k != "executor"}
    out["ledger_entries"] = ledger_entries(result)
    return out


def ledger_entries(result: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sorted((e["generator"], e["epsilon"], e["status"], e["note"])
                  for e in (result["ledger"] or {"entries": []})["entries"] if e["this_audit"])


@pytest.fixture()
def plugins(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    monkeypatch.syspath_prepend(str(FIXTURE))
    return importlib.import_module("spread_privgate")


def audit(cfg: Any, registry: Registry, executor: Executor | None = None,
          console: Console | None = None) -> dict[str, Any]:
    """``run_audit``, on ``executor`` in place of the configured one when given."""
    from privgate import pipeline

    maps.clear()
    progress = None if console is None else ConsoleProgress(console)
    with pytest.MonkeyPatch.context() as patch:
        if executor is not None:
            patch.setattr(pipeline, "make_executor", lambda *a, **k: executor)
        return pipeline.run_audit(cfg, registry, progress=progress)


class _HereOnly(DCRMembership):
    """dcr-membership under another name, defined where pickle cannot find it."""

    name: ClassVar[str] = "here-only-dcr"
    default: ClassVar[bool] = False


def test_a_spread_audit_has_the_figures_faults_and_bookings_of_the_inline_audit(
        plugins: types.ModuleType, tmp_path: Path) -> None:
    local = type("HereOnly", (_HereOnly,), {"__qualname__": "not.importable"})
    extra = types.ModuleType("here_only_plugin")
    extra.privgate_attacks = hookimpl(lambda: [local])  # type: ignore[attr-defined]
    registry = build_registry(get_plugin_manager([plugins, extra]))
    attacks = ["vandal-attack", "dcr-membership", "anonymeter-inference", "crashing-attack",
               "refusing-attack", "here-only-dcr"]
    kwargs = {"generators": [{"name": "crashing-gmm"},
                             {"name": "gmm", "params": {"n_components": 3}}],
              "attacks": attacks}
    inline = audit(config(tmp_path / "inline", **kwargs), registry)
    said = io.StringIO()
    spread = audit(config(tmp_path / "spread", **kwargs), registry, Travelling(),
                   Console(file=said, width=400))
    assert comparable(spread) == comparable(inline)
    # the work did travel: the plans of every attack but the one that cannot be pickled,
    # both fits, then every call of gmm's but that one, plus hellinger; and
    # anonymeter-inference's nearest rows and secrets, from inside its task
    assert maps == [("_plan_job", len(attacks) - 1), ("run_call", 2),
                    ("run_call", len(attacks) - 1 + 1), ("find_neighbours", 1),
                    ("attack_secret", 2)]
    gmm = next(g for g in spread["generators"] if g["name"] == "gmm")
    faults = {a["attack"]: a.get("error_detail") for a in gmm["attacks"]}
    assert faults["crashing-attack"]["kind"] == "exception"
    assert "crashed on" in faults["crashing-attack"]["message"]
    assert faults["vandal-attack"]["kind"] == "exception"
    status = {a["attack"]: a["status"] for a in gmm["attacks"]}
    assert status["dcr-membership"] == status["here-only-dcr"] == "ok"  # tables whole again
    assert "refusing-attack" in {c["attack"] for c in spread["checks"]
                                 if c["status"] == "cannot-certify"}
    crashed = next(g for g in spread["generators"] if g["name"] == "crashing-gmm")
    assert "fit crashed on" in crashed["error"]
    entries = {e[0]: e[2] for e in ledger_entries(spread)}  # refits: spent, given back
    assert entries["gmm (crashing-attack refit 1/1)"] != entries[
        "gmm (refusing-attack refit 1/1)"]
    assert entries == {e[0]: e[2] for e in ledger_entries(inline)}
    console = said.getvalue()
    assert "attack 'here-only-dcr' on gmm runs in this process: a worker cannot take it" in (
        console)
    assert "training 2 generators on the travelling workers" in console
    assert "attack crashing-attack on gmm: done" in console


def test_the_joblib_executor_runs_a_large_tables_calls_side_by_side_with_the_same_figures(
        plugins: types.ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On one machine a large table's attacks and metrics run on local processes (real loky
    workers here, the threshold lowered to this small table): figures, faults, refusals and
    bookings as inline; the fits stay in this process; a plugin a worker cannot rebuild runs
    here with a note."""
    from privgate import executor as executor_module

    local = type("HereOnly", (_HereOnly,), {"__qualname__": "not.importable"})
    extra = types.ModuleType("here_only_plugin")
    extra.privgate_attacks = hookimpl(lambda: [local])  # type: ignore[attr-defined]
    registry = build_registry(get_plugin_manager([plugins, extra]))
    kwargs = {"generators": [{"name": "gmm", "params": {"n_components": 3}}],
              "attacks": ["vandal-attack", "dcr-membership", "crashing-attack",
                          "refusing-attack", "here-only-dcr", "anonymeter-linkability",
                          "forged-plan-attack", "crashing-plan-attack"]}
    inline = audit(config(tmp_path / "inline", **kwargs), registry)
    monkeypatch.setattr(executor_module, "CALLS_IN_PROCESSES_FROM", 1)
    said = io.StringIO()
    side = audit(config(tmp_path / "joblib", backend="joblib", n_jobs=2, **kwargs), registry,
                 console=Console(file=said, width=400))
    assert comparable(side) == comparable(inline)
    assert side["environment"]["executor"] == {"backend": "joblib", "n_jobs": 2}
    console = said.getvalue()
    assert "running 9 attacks and metrics on the joblib workers: done" in console
    assert "attack 'here-only-dcr' on gmm runs in this process: a worker cannot take it" in (
        console)
    assert "training gmm on 350 rows: done" in console  # the fit stayed here
    assert "attack crashing-attack on gmm: done" in console
    status = {a["attack"]: a["status"] for a in side["generators"][0]["attacks"]}
    assert status["dcr-membership"] == status["here-only-dcr"] == "ok"  # tables whole again
    # the plans were made on the workers too (the same as inline, compared above), a forged
    # one re-checked here and a crashing one said
    reasons = {c["attack"]: c["reasons"] for c in side["plan"]["checks"]}
    assert "not an AttackPlan" in reasons["forged-plan-attack"][0]
    assert "ValueError: no plan for 350 rows" in reasons["crashing-plan-attack"][0]
    assert side["plan"]["checks"] == inline["plan"]["checks"]
    monkeypatch.setattr(executor_module, "CALLS_IN_PROCESSES_FROM", 10**9)
    said = io.StringIO()
    audit(config(tmp_path / "small", backend="joblib", n_jobs=2, **kwargs), registry,
          console=Console(file=said, width=400))
    assert "on the joblib workers" not in said.getvalue()  # a small table: all here


def test_a_refused_fit_stops_the_audit_once_every_fit_is_booked(
        plugins: types.ModuleType, tmp_path: Path) -> None:
    """In parallel the later fits trained while the first was refused: they are booked as
    they ended (the driver alone stops at the refusal and gives the others' budget back)."""
    registry = build_registry(get_plugin_manager([plugins]))
    kwargs = {"generators": [{"name": "refusing-gmm"},
                             {"name": "gmm", "params": {"n_components": 3}}],
              "attacks": ["dcr-membership"]}
    with pytest.raises(InputError, match="rows are not enough"):
        audit(config(tmp_path / "spread", **kwargs), registry, Travelling())
    with pytest.raises(InputError, match="rows are not enough"):
        audit(config(tmp_path / "inline", **kwargs), registry)
    from privgate.ledger_rules import PrivacyLedger

    def statuses(folder: Path) -> dict[str, str]:
        return {e.generator: e.status
                for e in PrivacyLedger(folder / "ledger.sqlite", create=False).history()}

    spread, inline = statuses(tmp_path / "spread"), statuses(tmp_path / "inline")
    assert spread["refusing-gmm"] == inline["refusing-gmm"] == "released"
    assert inline["gmm"] == "released" and spread["gmm"] == "spent"


def test_a_synthetic_table_from_a_file_is_attacked_on_the_workers_too(tmp_path: Path) -> None:
    rows = table()
    for name, part in (("train", rows.iloc[:300]), ("control", rows.iloc[300:]),
                       ("synthetic", rows.iloc[:250])):
        part.to_csv(tmp_path / f"{name}.csv", index=False)

    def external(out: str) -> Any:
        return parse_config({
            "output": str(tmp_path / out), "attacks": ["dcr-membership"],
            "metrics": ["hellinger"], "ledger": {"enabled": False},
            "data": {k: str(tmp_path / f"{k}.csv") for k in ("train", "control", "synthetic")},
            "schema": {"columns": SCHEMA}, "execution": {"backend": "inline"}}, where="test")

    registry = build_registry()
    inline = audit(external("inline"), registry)
    spread = audit(external("spread"), registry, Travelling())
    assert comparable(spread) == comparable(inline)
    assert maps == [("run_call", 2)]  # no fit to send; the attack and the metric


def _context(schema: Schema, executor: Executor | None) -> AttackContext:
    rows = table(400, seed=1)
    train, control = rows.iloc[:200].reset_index(drop=True), rows.iloc[200:].reset_index(
        drop=True)
    synthetic = rows.sample(200, random_state=2).reset_index(drop=True)
    return AttackContext(train, control, synthetic, schema, seed=7, executor=executor)


@pytest.mark.parametrize("declared", [True, False], ids=["declared", "every-column"])
def test_secrets_mapped_over_the_executor_give_the_loops_figures(declared: bool) -> None:
    from privgate.attacks.anonymeter_inference import AnonymeterInference

    columns = [Column(name, Kind(c["kind"]), Role(c["role"]) if declared else Role.OTHER,
                      bounds=tuple(c["bounds"]) if "bounds" in c else None,
                      categories=tuple(c["categories"]) if "categories" in c else None)
               for name, c in SCHEMA.items()]
    schema = Schema(columns)
    here = AnonymeterInference().run(_context(schema, None))
    maps.clear()
    spread = AnonymeterInference().run(_context(schema, Travelling()))
    fields = ("risk", "ci_low", "ci_high", "counts", "details", "warnings", "n_trials")
    assert [getattr(spread, f) for f in fields] == [getattr(here, f) for f in fields]
    secrets = 2 if declared else len(SCHEMA)  # every column a secret: one shared search
    assert maps == [("find_neighbours", 1), ("attack_secret", secrets)]


def test_a_call_in_a_worker_ends_as_it_would_here_or_says_why_it_could_not(
        plugins: types.ModuleType) -> None:
    """:func:`privgate.spread.run_call`, as a worker runs it: a call it cannot rebuild ran
    nothing; a time-out is a ``timeout`` fault; a result that cannot be pickled back is a
    malformed result (the call ran: it is never run again)."""
    from privgate.executor import Shared
    from privgate.isolation import Origin, PluginFault, abandoned
    from privgate.spread import Call, run_call

    origin = Origin("x")
    one = Schema([Column("age", Kind.INTEGER, Role.OTHER, bounds=(0, 120))])
    context = Shared(pickle.dumps(_context(one, None)))

    def call(plugin: bytes, timeout_s: float | None = None) -> Call:
        return Call(plugin, "run", "run()", origin, timeout_s, context)

    unsent = run_call(call(b"\x80\x05not a pickle"))
    assert unsent.unsent is not None and unsent.value is None and unsent.fault is None
    done = run_call(call(pickle.dumps(DCRMembership())))
    assert isinstance(done.unwrap(origin), AttackResult) and done.seconds > 0
    late = run_call(call(pickle.dumps(plugins.SleepingAttack()), timeout_s=0.1))
    assert late.fault is not None and late.fault[0] == "timeout"
    with pytest.raises(PluginFault, match="per-plugin time limit of 0.1 s"):
        late.unwrap(origin)
    stuck = run_call(call(pickle.dumps(plugins.UnsendableAttack())))
    assert stuck.fault is not None and stuck.fault[0] == "malformed"
    with pytest.raises(PluginFault, match="cannot be sent back from the worker"):
        stuck.unwrap(origin)
    refused = run_call(call(pickle.dumps(plugins.RefusingAttack())))
    with pytest.raises(InputError, match="control rows are too few"):
        refused.unwrap(origin)
    while abandoned():  # the sleeping call, abandoned as in the driver, ends soon
        time.sleep(0.05)
