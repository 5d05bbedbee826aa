"""The executor behind shadow fits and per-target work: inline, local processes (joblib), Ray.

Every backend must return results in the order of the items and re-raise a worker's exception
as the same type, naming the item; the factory rejects bad settings with exit-2 errors; the
audit records which executor ran the work.
"""

from __future__ import annotations

import importlib.util
import operator
import pickle
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privgate.cli_config import apply_flags as _apply_flags
from privgate.cli_parser import build_parser
from privgate.config import parse_config
from privgate.errors import InputError
from privgate.executor import (
    Executor,
    InlineExecutor,
    JoblibExecutor,
    RayExecutor,
    make_executor,
)
from privgate.ray_waits import plugin_waiter

HAS_RAY = importlib.util.find_spec("ray") is not None


def square_slowly(x: int) -> int:
    """Later items finish first in parallel workers (they sleep less): order must still hold."""
    import time

    time.sleep(0.02 * (3 - x % 3))
    return x * x


def square(x: int) -> int:
    return x * x


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError(f"bad item {x}")
    return x


def bad_input(x: int) -> int:
    raise InputError(f"column 'age' of item {x} is not numeric")


@given(st.lists(st.integers(-1000, 1000), max_size=30))
@settings(max_examples=30, deadline=None)
def test_inline_map_keeps_order(items: list[int]) -> None:
    assert InlineExecutor().map(square, items) == [x * x for x in items]


@pytest.mark.parametrize("executor", [InlineExecutor(), JoblibExecutor(n_jobs=2)],
                         ids=["inline", "joblib"])
def test_order_preserved_and_errors_name_the_item(executor: Executor) -> None:
    items = list(range(6))
    assert executor.map(square_slowly, items) == [x * x for x in items]
    assert executor.map(square_slowly, []) == []
    with pytest.raises(ValueError, match="bad item 3") as info:
        executor.map(fail_on_three, list(range(6)))
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "fail_on_three" in notes and "item 3 of 6" in notes
    assert f"({executor.name} executor)" in notes and "worker traceback" in notes
    # an InputError from a worker stays an InputError (exit code 2 in the CLI)
    with pytest.raises(InputError, match="column 'age'"):
        executor.map(bad_input, [1, 2])
    # as results come in: in order, the items before a failure first, then its error
    results = executor.imap(fail_on_three, list(range(6)))
    assert [next(results) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(ValueError, match="bad item 3"):
        next(results)


def test_factory_builds_each_backend_and_rejects_bad_settings() -> None:
    assert isinstance(make_executor("inline"), InlineExecutor)
    joblib = make_executor("joblib", n_jobs=2)
    assert isinstance(joblib, JoblibExecutor)
    assert joblib.describe() == {"backend": "joblib", "n_jobs": 2}
    with pytest.raises(InputError, match="unknown; choose one of"):
        make_executor("dask")
    with pytest.raises(InputError, match="n_jobs"):
        make_executor("joblib", n_jobs=0)
    with pytest.raises(InputError, match="--backend ray"):
        make_executor("joblib", ray_address="auto")


def test_only_ray_is_distributed_and_shared_values_travel_with_the_items() -> None:
    """Whole plugin calls go only to an executor whose workers may be elsewhere (Ray); on
    one machine a shared value is the value itself."""
    assert not InlineExecutor().distributed and not JoblibExecutor(2).distributed
    shared = JoblibExecutor(2).share({"rows": [1, 2]})
    assert pickle.loads(pickle.dumps(shared)).get() == {"rows": [1, 2]}
    assert plugin_waiter() is None  # not in a Ray task: a plain join


def test_only_a_large_tables_calls_go_to_local_processes_and_they_map_inline_there() -> None:
    """On one machine the joblib executor takes whole attack and metric calls only for a
    table large enough to repay the workers' start, and only with more than one worker; a
    call running there maps its own work inline (the cores are taken)."""
    from privgate.executor import CALLS_AT_ONCE, CALLS_IN_PROCESSES_FROM

    big, small = CALLS_IN_PROCESSES_FROM, CALLS_IN_PROCESSES_FROM - 1
    pool = JoblibExecutor(2).calls_pool(big)
    assert isinstance(pool, JoblibExecutor) and pool.n_jobs == 2
    assert JoblibExecutor(2).calls_pool(small) is None
    many = JoblibExecutor(CALLS_AT_ONCE + 8).calls_pool(big)  # each worker copies the tables
    assert isinstance(many, JoblibExecutor) and many.n_jobs == CALLS_AT_ONCE
    assert JoblibExecutor(1).calls_pool(10 * big) is None
    assert InlineExecutor().calls_pool(10 * big) is None
    assert isinstance(JoblibExecutor(2).for_calls(), InlineExecutor)
    inline = InlineExecutor()
    assert inline.for_calls() is inline
    assert JoblibExecutor(3).workers() == 3 and JoblibExecutor(-1).workers() >= 1


@pytest.mark.skipif(not HAS_RAY, reason="ray is not installed (pip install privgate[ray])")
def test_a_ray_executor_sent_to_a_worker_never_shuts_ray_down() -> None:
    executor = RayExecutor(num_cpus=1)
    assert executor.distributed
    executor._started_here, executor._per_node = True, {"node": 3}
    copy = pickle.loads(pickle.dumps(executor))
    assert copy._started_here is False and copy._per_node == {}
    assert (copy.address, copy.num_cpus) == (None, 1)


def test_ray_missing_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "ray" else real(name, *a))
    with pytest.raises(InputError, match=r"pip install privgate\[ray\]"):
        make_executor("ray")


def _cli_config(argv: list[str], tmp_path: Path) -> Any:
    args = build_parser().parse_args(["audit", "--data", str(tmp_path / "x.csv"), *argv])
    return parse_config(_apply_flags({}, args), where="command line", base_dir=tmp_path)


def test_cli_flags_reach_the_execution_config(tmp_path: Path) -> None:
    c = _cli_config(["--backend", "inline", "--jobs", "3"], tmp_path)
    assert (c.execution.backend, c.execution.n_jobs, c.execution.ray_address) == (
        "inline", 3, None)
    c = _cli_config(["--ray-address", "ray://head:10001"], tmp_path)
    assert (c.execution.backend, c.execution.ray_address) == ("ray", "ray://head:10001")
    assert _cli_config([], tmp_path).execution.backend == "joblib"
    with pytest.raises(InputError, match="execution.backend"):
        parse_config({"execution": {"backend": "spark"}}, where="gate.toml")


def test_audit_records_the_executor(tmp_path: Path) -> None:
    """A tiny audit on an external synthetic table: provenance names the backend."""
    from privgate.pipeline import run_audit
    from privgate.registry import build_registry

    rows = pd.DataFrame({"age": [20 + i % 50 for i in range(120)],
                         "sex": ["f", "m", "m"] * 40})
    for name, part in (("train", rows.iloc[:60]), ("control", rows.iloc[60:]),
                       ("synthetic", rows.iloc[:60])):
        part.to_csv(tmp_path / f"{name}.csv", index=False)
    raw = {"output": str(tmp_path / "out"), "attacks": ["dcr-membership"], "metrics": [],
           "ledger": {"enabled": False},
           "data": {k: str(tmp_path / f"{k}.csv") for k in ("train", "control", "synthetic")},
           "schema": {"columns": {
               "age": {"kind": "integer", "role": "quasi-identifier", "bounds": [0, 120]},
               "sex": {"kind": "categorical", "role": "quasi-identifier",
                       "categories": ["f", "m"]}}},
           "execution": {"backend": "inline"}}
    result = run_audit(parse_config(raw, where="test", base_dir=tmp_path), build_registry())
    assert result["environment"]["executor"] == {"backend": "inline"}


@pytest.mark.skipif(not HAS_RAY, reason="ray is not installed (pip install privgate[ray])")
def test_ray_local_instance_order_errors_and_shutdown(one_ray_at_a_time: None) -> None:
    import ray

    if ray.is_initialized():  # pragma: no cover -- another test left one running
        ray.shutdown()
    executor = make_executor("ray", n_jobs=2)
    assert isinstance(executor, RayExecutor)
    try:
        # builtins: Ray workers import functions by module, and tests/ is not importable there
        items = [-3, 5, -7, 2, 0, -1, 9, -4]
        assert executor.map(abs, items) == [abs(x) for x in items]
        described = executor.describe()
        assert described["backend"] == "ray" and described["address"] == "local"
        assert described["cluster_cpus"] == 2
        assert sum(described["tasks_per_node"].values()) == len(items)  # one node here
        shared = executor.share(list(range(5)))  # in the object store once, read by each task
        assert executor.map(operator.methodcaller("get"), [shared] * 3) == [list(range(5))] * 3
        with pytest.raises(ValueError, match="invalid literal") as info:
            executor.map(int, ["1", "2", "3", "x", "5"])
        assert "item 3 of 5 (ray executor)" in "\n".join(info.value.__notes__)
    finally:
        executor.close()
    assert not ray.is_initialized()
