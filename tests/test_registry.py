"""The plugin manager: built-ins arrive through the entry-point group, names never clash."""

from __future__ import annotations

import types

import pandas as pd
import pytest

from privgate import Generator, PrivacySpent, hookimpl
from privgate.errors import PluginClashError, PluginError, UnknownPluginError
from privgate.plugin_loading import get_plugin_manager
from privgate.registry import build_registry


class _Echo(Generator):
    name = "echo"
    is_private = False

    def fit(self, data, schema, budget, *, seed=0):  # type: ignore[no-untyped-def]
        self.data_ = data
        return self

    def sample(self, n: int, *, seed: int = 0) -> pd.DataFrame:
        return self.data_.sample(n, replace=True, random_state=seed)

    @property
    def privacy_spent(self) -> PrivacySpent:
        return PrivacySpent(float("inf"), 1.0, "none")


def _plugin(name: str, **hooks: object) -> types.ModuleType:
    mod = types.ModuleType(name)
    for hook, fn in hooks.items():
        setattr(mod, hook, fn)
    return mod


def test_builtins_register_through_the_entry_point_group() -> None:
    registry = build_registry()
    assert {"dpsgd-vae", "gmm"} <= set(registry.generators)
    assert {"distinguishability", "dcr-membership", "anonymeter-singling-out",
            "anonymeter-linkability", "anonymeter-inference"} <= set(registry.attacks)
    assert {"hellinger", "correlation", "tstr"} <= set(registry.metrics)
    assert {"expert-determination-0.09", "strict-0.04pct"} <= set(registry.policies)
    assert {"html", "junit", "compare"} <= set(registry.reporters)
    assert "json" not in registry.reporters  # results.json is core's, not a plugin's
    for kind in registry.KINDS:
        for item in getattr(registry, kind).values():
            assert item.distribution == "privgate", (kind, item.name, item.plugin)


def test_a_name_clash_names_both_plugins() -> None:
    first = _plugin("vendor_a", privgate_generators=hookimpl(lambda: [_Echo]))
    second = _plugin("vendor_b", privgate_generators=hookimpl(lambda: [_Echo]))
    pm = get_plugin_manager([first, second], load_entrypoints=False)
    with pytest.raises(PluginClashError, match="'echo' is registered twice.*vendor_"):
        build_registry(pm)


def test_a_clash_with_a_builtin_is_an_error() -> None:
    class Fake(_Echo):
        name = "gmm"

    pm = get_plugin_manager([_plugin("vendor", privgate_generators=hookimpl(lambda: [Fake]))])
    with pytest.raises(PluginClashError, match="'gmm'.*privgate"):
        build_registry(pm)


def test_misspelt_hook_is_an_error() -> None:
    typo = _plugin("typo", privgate_generator=hookimpl(lambda: [_Echo]))
    with pytest.raises(PluginError, match="privgate_generator"):
        get_plugin_manager([typo], load_entrypoints=False)


def test_malformed_registration_is_recorded_and_named_when_needed() -> None:
    bad = _plugin("bad", privgate_generators=hookimpl(lambda: ["not a class"]))
    good = _plugin("good", privgate_generators=hookimpl(lambda: [_Echo]))
    registry = build_registry(get_plugin_manager([bad, good], load_entrypoints=False))
    assert set(registry.generators) == {"echo"}  # the well-behaved plugin still registers
    (problem,) = registry.problems
    assert problem.plugin == "bad" and problem.state == "broken"
    assert "not a valid generator" in problem.reason
    with pytest.raises(UnknownPluginError, match="unknown generator 'x'.*'bad'.*not a valid"):
        registry.generator("x")


def test_unknown_name_lists_what_is_registered() -> None:
    registry = build_registry()
    with pytest.raises(UnknownPluginError, match="unknown generator 'vae'.*dpsgd-vae"):
        registry.generator("vae")


def test_third_party_plugin_is_listed_with_what_it_provides() -> None:
    pm = get_plugin_manager([_plugin("vendor", privgate_generators=hookimpl(lambda: [_Echo]))])
    registry = build_registry(pm)
    listed = {p["plugin"]: p for p in registry.plugins()}
    assert listed["vendor"]["provides"] == {"generators": ["echo"]}
