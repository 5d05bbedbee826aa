"""What plugin isolation and the contract kit cost.

Run on demand::

    .venv/bin/python benchmarks/plugin_isolation.py

Measures

- ``call_overhead_us``: the extra time one isolated plugin call (``privgate.isolation.
  call_plugin`` with a time limit: a worker thread started and joined) adds over calling the
  function directly, median of 2,000 calls of a no-op;
- ``registry_build_s``: the second registry build in this process (entry points scanned and
  every hook called; plugin modules already imported, so import time is excluded);
- ``contract_kit_s``: wall time of the contract kit on each built-in (the same fast parameters
  and example counts as ``tests/test_contract_builtins.py``).

Writes ``benchmarks/results/plugin_isolation.json`` and ``.md``. Timings depend on what else
the machine runs: say so when quoting them.
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_contract_builtins import FALLBACK, GENERATOR_EXAMPLES  # noqa: E402

from privgate.isolation import Origin, call_plugin  # noqa: E402
from privgate.plugin_loading import BUILTIN_DISTRIBUTION  # noqa: E402
from privgate.registry import build_registry  # noqa: E402
from privgate.testing import (  # noqa: E402
    check_attack,
    check_generator,
    check_metric,
    check_policy,
)

OUT = ROOT / "benchmarks" / "results"


def call_overhead_us(n: int = 2000) -> float:
    origin = Origin("noop")
    direct, isolated = [], []
    for _ in range(n):
        t = time.perf_counter()
        (lambda: None)()
        direct.append(time.perf_counter() - t)
        t = time.perf_counter()
        call_plugin(origin, "noop", lambda: None, timeout_s=60.0)
        isolated.append(time.perf_counter() - t)
    return (statistics.median(isolated) - statistics.median(direct)) * 1e6


def kit_times() -> dict[str, float]:
    registry = build_registry()
    out: dict[str, float] = {}
    runs: list[tuple[str, Any]] = []
    for name, item in sorted(registry.generators.items()):
        runs.append((f"generator {name}", lambda c=item.obj: check_generator(
            c, None if hasattr(c, "contract_params") else FALLBACK.get(c.name),
            max_examples=GENERATOR_EXAMPLES)))
    for name, item in sorted(registry.attacks.items()):
        runs.append((f"attack {name}", lambda c=item.obj: check_attack(
            c, None if hasattr(c, "contract_params") else FALLBACK.get(c.name), n=200)))
    for name, item in sorted(registry.metrics.items()):
        runs.append((f"metric {name}", lambda c=item.obj: check_metric(c)))
    for name, item in sorted(registry.policies.items()):
        runs.append((f"policy {name}", lambda p=item.obj: check_policy(p, max_examples=5)))
    for label, fn in runs:
        if registry_item_dist(registry, label) != BUILTIN_DISTRIBUTION:
            continue
        t = time.perf_counter()
        fn()
        out[label] = round(time.perf_counter() - t, 2)
        print(f"{label}: {out[label]} s", flush=True)
    return out


def registry_item_dist(registry: Any, label: str) -> str | None:
    kind, name = label.split(" ", 1)
    table = {"generator": registry.generators, "attack": registry.attacks,
             "metric": registry.metrics, "policy": registry.policies}[kind]
    return table[name].distribution


def main() -> None:
    build_registry()
    t = time.perf_counter()
    build_registry()
    registry_s = time.perf_counter() - t
    overhead = call_overhead_us()
    print(f"isolated call overhead: {overhead:.0f} us; registry build {registry_s:.3f} s")
    kit = kit_times()
    doc = {"call_overhead_us": round(overhead, 1), "registry_build_s": round(registry_s, 4),
           "contract_kit_s": kit, "contract_kit_total_s": round(sum(kit.values()), 1),
           "python": platform.python_version(), "platform": platform.platform(),
           "note": "timings taken while other processes shared the machine's 2 cores"}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "plugin_isolation.json").write_text(json.dumps(doc, indent=2) + "\n")
    lines = ["# Plugin isolation and contract kit", "",
             f"- isolated plugin call overhead (thread start + join): {overhead:.0f} us",
             f"- registry build (modules already imported): {registry_s * 1000:.0f} ms",
             f"- contract kit on all built-ins: {doc['contract_kit_total_s']} s", "",
             "| check | seconds |", "| --- | --- |",
             *[f"| {k} | {v} |" for k, v in kit.items()], "", f"_{doc['note']}._", ""]
    (OUT / "plugin_isolation.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
