"""Fault isolation and operator controls: a misbehaving plugin becomes a named ``error`` (exit 3)
while the other checks finish; a plugin that cannot load is listed with its reason and an audit
that needs it exits 2; allow-list, disable switch and tracing work as documented."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import tomllib
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from privgate import Attack, AttackContext, AttackResult, Metric, hookimpl
from privgate.cli import main
from privgate.config import parse_config
from privgate.errors import PluginClashError, UnknownPluginError
from privgate.pipeline import run_audit
from privgate.plugin_loading import get_plugin_manager
from privgate.registry import build_registry

CONFIG = """
seed = 3
attacks = {attacks}
[data]
path = "data.csv"
[schema.columns.age]
kind = "integer"
role = "quasi-identifier"
bounds = [18, 90]
[schema.columns.sex]
kind = "categorical"
role = "quasi-identifier"
categories = ["f", "m"]
[schema.columns.disease]
kind = "categorical"
role = "sensitive"
categories = ["no", "yes"]
[[generators]]
name = "gmm"
params = {{ n_components = 2 }}
"""

RELEASE = threading.Event()  # lets the deliberately stuck attack finish after its test


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for var in ("PRIVGATE_LOAD_PLUGINS", "PRIVGATE_DISABLE_PLUGINS", "PRIVGATE_TRACE_PLUGINS",
                "PRIVGATE_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    RELEASE.clear()
    yield
    RELEASE.set()


def _project(tmp_path: Path, attacks: list[str]) -> Path:
    rng = np.random.default_rng(0)
    n = 120
    age = rng.integers(18, 90, n)
    pd.DataFrame({"age": age, "sex": rng.choice(["f", "m"], n),
                  "disease": np.where(age > 60, "yes", "no")}).to_csv(tmp_path / "data.csv",
                                                                       index=False)
    cfg = tmp_path / "gate.toml"
    cfg.write_text(CONFIG.format(attacks=json.dumps(attacks)), encoding="utf-8")
    return cfg


# -- plugins that misbehave at run time ------------------------------------------------------


class Honest(Attack):
    name = "honest"
    risk_kind = "membership"

    def run(self, context: AttackContext) -> AttackResult:
        return AttackResult(self.name, self.risk_kind, 0.01, 0.0, 0.02, 0.95, "fixed", 0.0,
                            "nobody", 5000)


class Boom(Honest):
    name = "boom"

    def run(self, context: AttackContext) -> AttackResult:
        raise RuntimeError("kaboom")


class Malformed(Honest):
    name = "malformed"

    def run(self, context: AttackContext) -> Any:
        return {"risk": 0.1}


class Stuck(Honest):
    name = "stuck"

    def run(self, context: AttackContext) -> AttackResult:
        RELEASE.wait(30)
        return super().run(context)


class BadMetric(Metric):
    name = "bad-metric"

    def compute(self, context: AttackContext) -> Any:
        raise ZeroDivisionError("metric bug")


def _vendor() -> types.ModuleType:
    mod = types.ModuleType("vendor")
    mod.privgate_attacks = hookimpl(lambda: [Honest, Boom, Malformed, Stuck])  # type: ignore
    mod.privgate_metrics = hookimpl(lambda: [BadMetric])  # type: ignore
    return mod


def test_raising_malformed_and_slow_plugins_become_errors_and_the_rest_finish(
        tmp_path: Path) -> None:
    cfg = _project(tmp_path, ["honest", "boom", "malformed", "stuck"])
    raw = {**tomllib.loads(cfg.read_text()), "metrics": ["bad-metric"],
           "execution": {"plugin_timeout_s": 1.0, "backend": "inline"}}
    config = parse_config(raw, where="gate.toml", base_dir=tmp_path)
    registry = build_registry(get_plugin_manager([_vendor()]))
    result = run_audit(config, registry, where="gate.toml")
    assert result["verdict"] == "error" and result["exit_code"] == 3
    (gen,) = result["generators"]
    assert gen["status"] == "ok"  # the generator's fit was not affected
    by_name = {a["attack"]: a for a in gen["attacks"]}
    assert by_name["honest"]["status"] == "ok" and by_name["honest"]["risk"] == 0.01
    kinds = {n: by_name[n]["error_detail"]["kind"] for n in ("boom", "malformed", "stuck")}
    assert kinds == {"boom": "exception", "malformed": "malformed", "stuck": "timeout"}
    assert "kaboom" in by_name["boom"]["error_detail"]["message"]
    assert "1 s" in by_name["stuck"]["error_detail"]["message"]
    assert by_name["boom"]["error_detail"]["plugin"] == "vendor"
    assert "kaboom" in by_name["boom"]["error"]  # the text reports show
    (metric,) = gen["metrics"]
    assert metric["status"] == "error" and metric["error_detail"]["kind"] == "exception"
    errored = {c["attack"]: c for c in result["checks"] if c["status"] == "error"}
    assert set(errored) == {"boom", "malformed", "stuck"}
    assert errored["stuck"]["error_detail"]["kind"] == "timeout"
    json.dumps(result, allow_nan=False)  # still a valid results.json


# -- entry-point plugins from (fake) installed distributions ---------------------------------


def _install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dist: str, version: str,
             modules: dict[str, str], entry_points: dict[str, str]) -> None:
    """Lay out ``dist`` as pip would (module files + a .dist-info with entry_points.txt) in a
    folder on sys.path, so importlib.metadata finds its privgate entry points."""
    site = tmp_path / f"site-{dist}"
    site.mkdir()
    for name, code in modules.items():
        (site / f"{name}.py").write_text(textwrap.dedent(code), encoding="utf-8")
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    eps = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[privgate]\n{eps}\n")
    monkeypatch.syspath_prepend(str(site))


CRASHING_ATTACK = """
from privgate import Attack, hookimpl

class Crash(Attack):
    name = "acme-crash"
    risk_kind = "membership"

    def run(self, context):
        raise RuntimeError("acme internal failure")

@hookimpl
def privgate_attacks():
    return [Crash]
"""


def test_a_crashing_installed_plugin_makes_the_audit_exit_3_naming_its_distribution(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install(tmp_path, monkeypatch, "acme-attacks", "2.1.0", {"acme_crash": CRASHING_ATTACK},
             {"acme": "acme_crash"})
    cfg = _project(tmp_path, ["acme-crash", "dcr-membership"])
    out = tmp_path / "out"
    assert main(["audit", str(cfg), "--out", str(out), "--plugin-timeout", "300"]) == 3
    result = json.loads((out / "results.json").read_text())
    assert result["verdict"] == "error"
    attacks = {a["attack"]: a for a in result["generators"][0]["attacks"]}
    assert attacks["dcr-membership"]["status"] == "ok"  # the other check finished
    detail = attacks["acme-crash"]["error_detail"]
    assert detail == {"plugin": "acme", "component": "acme-crash",
                      "distribution": "acme-attacks", "version": "2.1.0",
                      "message": "run() raised RuntimeError: acme internal failure",
                      "kind": "exception"}
    assert result["config"]["execution"]["plugin_timeout_s"] == 300.0
    assert "acme-attacks 2.1.0" in attacks["acme-crash"]["error"]


def test_a_plugin_that_fails_to_import_is_listed_and_an_audit_needing_it_exits_2(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
        ) -> None:
    _install(tmp_path, monkeypatch, "acme-broken", "0.3",
             {"acme_broken": "import nonexistent_dep_xyz\n"}, {"acme-broken": "acme_broken"})
    assert main(["plugins", "--json"]) == 0
    listed = {p["plugin"]: p for p in json.loads(capsys.readouterr().out)}
    broken = listed["acme-broken"]
    assert broken["state"] == "broken" and broken["distribution"] == "acme-broken"
    assert "nonexistent_dep_xyz" in broken["reason"]
    assert listed["gmm"]["state"] == "loaded"  # the others load
    assert main(["plugins"]) == 0
    assert "acme-broken" in capsys.readouterr().out
    cfg = _project(tmp_path, ["acme-knn"])
    assert main(["audit", str(cfg), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "unknown attack 'acme-knn'" in err and "acme-broken" in err
    assert "nonexistent_dep_xyz" in err


def test_an_incompatible_api_version_and_a_misspelt_hook_are_not_loaded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    future = CRASHING_ATTACK + '\nPRIVGATE_PLUGIN_API = "2.0"\n'
    typo = "from privgate import hookimpl\n\n@hookimpl\ndef privgate_attack():\n    return []\n"
    _install(tmp_path, monkeypatch, "acme-future", "9.0", {"acme_future": future,
                                                           "acme_typo": typo},
             {"acme-future": "acme_future", "acme-typo": "acme_typo"})
    registry = build_registry()
    problems = {p.plugin: p for p in registry.problems}
    assert "plugin API 2.0" in problems["acme-future"].reason
    assert "implements privgate_attack" in problems["acme-typo"].reason
    assert "acme-crash" not in registry.attacks
    with pytest.raises(UnknownPluginError, match="acme-future.*plugin API 2.0"):
        registry.attack("acme-crash")


def test_two_distributions_registering_one_name_clash_naming_both(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install(tmp_path, monkeypatch, "acme-one", "1.0", {"acme_one": CRASHING_ATTACK},
             {"acme-one": "acme_one"})
    _install(tmp_path, monkeypatch, "acme-two", "1.0",
             {"acme_two": CRASHING_ATTACK.replace("Crash", "Other")}, {"acme-two": "acme_two"})
    with pytest.raises(PluginClashError, match="acme-crash.*acme-(one|two) 1.0.*acme-(one|two)"):
        build_registry()
    # The operator resolves it by disabling one of them.
    registry = build_registry(get_plugin_manager(disable=["acme-two"]))
    assert registry.attacks["acme-crash"].distribution == "acme-one"


def test_allow_list_loads_only_listed_third_party_plugins_and_all_builtins(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install(tmp_path, monkeypatch, "acme-one", "1.0", {"acme_one": CRASHING_ATTACK},
             {"acme-one": "acme_one"})
    monkeypatch.setenv("PRIVGATE_LOAD_PLUGINS", "something-else")
    registry = build_registry()
    assert "acme-crash" not in registry.attacks and "gmm" in registry.generators
    (problem,) = [p for p in registry.problems if p.plugin == "acme-one"]
    assert problem.state == "not-allowed"
    monkeypatch.setenv("PRIVGATE_LOAD_PLUGINS", "acme-one")  # by distribution name
    assert "acme-crash" in build_registry().attacks


def test_disable_switch_and_environment_variable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
        ) -> None:
    _install(tmp_path, monkeypatch, "acme-one", "1.0", {"acme_one": CRASHING_ATTACK},
             {"acme-one": "acme_one"})
    assert main(["plugins", "--json", "--disable-plugin", "acme-one"]) == 0
    listed = {p["plugin"]: p for p in json.loads(capsys.readouterr().out)}
    assert listed["acme-one"]["state"] == "disabled"
    monkeypatch.setenv("PRIVGATE_DISABLE_PLUGINS", "gmm")  # built-ins can be switched off too
    registry = build_registry()
    assert "gmm" not in registry.generators and "acme-crash" in registry.attacks
    with pytest.raises(UnknownPluginError, match="'gmm'.*disabled"):
        registry.generator("gmm")


def test_tracing_logs_every_hook_call_with_plugin_and_duration(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
        ) -> None:
    build_registry()
    assert "privgate trace" not in capsys.readouterr().err  # off by default
    monkeypatch.setenv("PRIVGATE_TRACE_PLUGINS", "1")
    registry = build_registry()
    err = capsys.readouterr().err
    assert "loaded plugin 'gmm' (privgate " in err
    for impl in registry.pm.hook.privgate_generators.get_hookimpls():  # type: ignore[union-attr]
        assert f"hook privgate_generators plugin={impl.plugin_name!r} (privgate " in err
    assert " ms ok" in err
    cfg = _project(tmp_path, ["dcr-membership"])
    assert main(["audit", str(cfg), "--out", str(tmp_path / "o")]) in (0, 1)
    err = capsys.readouterr().err
    assert "fit and sample gmm (plugin gmm, privgate" in err
    assert "run() dcr-membership (plugin dcr-membership, privgate" in err
    assert "hook privgate_report_sections plugin=" in err


STUCK_ATTACK = """
import time
from privgate import Attack, hookimpl

class Sleeper(Attack):
    name = "acme-sleeper"
    risk_kind = "membership"

    def run(self, context):
        time.sleep(600)

@hookimpl
def privgate_attacks():
    return [Sleeper]
"""


def test_the_command_line_exits_after_the_reports_while_a_timed_out_call_still_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install(tmp_path, monkeypatch, "acme-slow", "1.0", {"acme_slow": STUCK_ATTACK},
             {"acme-slow": "acme_slow"})
    cfg = _project(tmp_path, ["acme-sleeper"])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "privgate.cli", "audit", str(cfg), "--out",
                          str(tmp_path / "o"), "--plugin-timeout", "2"], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 3, out.stderr
    assert time.monotonic() - started < 300  # did not wait for the 600 s sleep
    result = json.loads((tmp_path / "o" / "results.json").read_text())
    (attack,) = result["generators"][0]["attacks"]
    assert attack["error_detail"]["kind"] == "timeout"
    assert attack["error_detail"]["distribution"] == "acme-slow"


def test_a_failing_report_section_is_listed_and_the_other_sections_remain() -> None:
    def broken_sections(result: Any) -> Any:
        raise RuntimeError("template bug")

    mod = types.ModuleType("vendor_sections")
    mod.privgate_report_sections = hookimpl(broken_sections)  # type: ignore[attr-defined]
    registry = build_registry(get_plugin_manager([mod]))
    sections = registry.sections({})
    (errors,) = [s for s in sections if s.id == "plugin-section-errors"]
    table = errors.blocks[1]
    assert [row[0] for row in table.rows] == ["vendor_sections"]  # type: ignore[union-attr]
    assert "template bug" in table.rows[0][3]  # type: ignore[union-attr]
    baseline = build_registry().sections({})
    assert {s.id for s in baseline} <= {s.id for s in sections}
