"""An audit over a Ray cluster of two nodes (``--backend ray --ray-address``), a local
multi-process cluster (``ray.cluster_utils.Cluster``: a head and one worker node, one CPU
each): the fits, the attacks, anonymeter-inference's secrets and shadow-membership's shadow
fits run as Ray tasks on both nodes, and the result document -- verdicts, estimates,
intervals, faults, ledger bookings -- is the inline audit's for the same seed. An attack that
raises on a worker is the same ``error`` as in the driver; an attack whose module only the
driver can import runs there, with a note.

The fixture plugins (``tests/fixtures/spread_plugin``) reach Ray's workers through
``PYTHONPATH``, set before the cluster starts.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import os
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from test_spread import FIXTURE, audit, comparable, config, ledger_entries

from privgate.plugin_loading import get_plugin_manager
from privgate.registry import build_registry

pytestmark = [pytest.mark.slow,  # a cluster of two nodes and two audits: about a minute
              pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                                 reason="ray is not installed (pip install privgate[ray])")]

#: Each node's object store (Ray's minimum is 75 MiB).
OBJECT_STORE = 80 * 1024 * 1024

HERE_ONLY = '''
from typing import ClassVar

from privgate import hookimpl
from privgate.attacks.dcr_membership import DCRMembership


class HereOnlyDcr(DCRMembership):
    """dcr-membership under another name, in a module Ray's workers cannot import."""

    name: ClassVar[str] = "here-only-dcr"
    default: ClassVar[bool] = False


@hookimpl
def privgate_attacks():
    return [HereOnlyDcr]
'''


@pytest.fixture(scope="module")
def cluster(one_ray_at_a_time: None) -> Iterator[Any]:
    """A head and one worker node on this machine, one CPU each; shut down afterwards."""
    import ray
    from ray.cluster_utils import Cluster

    if ray.is_initialized():  # pragma: no cover -- another test left one running
        ray.shutdown()
    started = None
    with pytest.MonkeyPatch.context() as patch:  # the workers import the fixture plugins
        patch.setenv("PYTHONPATH", os.pathsep.join(
            [str(FIXTURE), *filter(None, [os.environ.get("PYTHONPATH")])]))
        try:
            started = Cluster(initialize_head=True, head_node_args={
                "num_cpus": 1, "object_store_memory": OBJECT_STORE,
                "include_dashboard": False})
            started.add_node(num_cpus=1, object_store_memory=OBJECT_STORE)
            started.wait_for_nodes()
            yield started
        finally:
            if ray.is_initialized():
                ray.shutdown()
            if started is not None:
                started.shutdown()


def test_an_audit_on_two_nodes_is_the_inline_audit(
        cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ray

    monkeypatch.syspath_prepend(str(FIXTURE))
    here_only = tmp_path / "here_only"  # on this process's path only: not the workers'
    here_only.mkdir()
    (here_only / "here_only_privgate.py").write_text(HERE_ONLY)
    monkeypatch.syspath_prepend(str(here_only))
    plugins: list[types.ModuleType] = [importlib.import_module(m) for m in (
        "spread_privgate", "here_only_privgate")]
    registry = build_registry(get_plugin_manager(plugins))
    kwargs: dict[str, Any] = {
        "generators": [{"name": "gmm", "params": {"n_components": 3}}],
        "attacks": ["dcr-membership", "anonymeter-inference",
                    {"name": "shadow-membership",
                     "params": {"n_targets": 20, "n_shadows": 4, "shadow_rows": 100}},
                    "crashing-attack", "refusing-attack", "here-only-dcr"]}
    inline = audit(config(tmp_path / "inline", **kwargs), registry)
    said = io.StringIO()
    spread = audit(config(tmp_path / "ray", **kwargs, backend="ray",
                          ray_address=cluster.address), registry,
                   console=Console(file=said, width=400))
    assert not ray.is_initialized()  # the audit left the cluster
    assert comparable(spread) == comparable(inline)
    ran = spread["environment"]["executor"]
    assert ran["backend"] == "ray" and ran["address"] == cluster.address
    assert ran["cluster_cpus"] == 2
    assert len(ran["tasks_per_node"]) == 2  # both nodes ran some of the fits and attacks
    # the 6 attacks' plans, the fit, then the 6 attacks (here-only-dcr too, plan and run:
    # it came back unopened) and hellinger
    assert sum(ran["tasks_per_node"].values()) == 6 + 1 + 6 + 1
    gmm = spread["generators"][0]
    status = {a["attack"]: a["status"] for a in gmm["attacks"]}
    assert status["shadow-membership"] == status["anonymeter-inference"] == "ok"
    assert status["here-only-dcr"] == status["dcr-membership"] == "ok"
    crashed = next(a for a in gmm["attacks"] if a["attack"] == "crashing-attack")
    assert crashed["error_detail"]["kind"] == "exception"
    assert "RuntimeError: crashed on" in crashed["error_detail"]["message"]
    assert ledger_entries(spread) == ledger_entries(inline)
    console = said.getvalue()
    assert "attack 'here-only-dcr' on gmm runs in this process: a worker cannot take it" in (
        console)
    assert "No module named 'here_only_privgate'" in console
