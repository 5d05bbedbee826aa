"""privgate's own generators, attacks, metrics and policies pass the contract kit that
third-party plugins are held to (``privgate.testing``), whatever is registered.

Runtime is bounded by each class's ``contract_params`` (fast parameters for the kit's small
tables; see docs/plugins.md); ``FALLBACK`` covers built-ins that do not declare them yet, and a
few hypothesis examples per generator keep the DP-SGD models to seconds.
"""

from __future__ import annotations

from typing import Any

import pytest

from privgate.plugin_loading import BUILTIN_DISTRIBUTION
from privgate.registry import Provided, _distributions, build_registry
from privgate.testing import (
    check_attack,
    check_generator,
    check_metric,
    check_policy,
    check_report_sections,
    check_reporter,
)

#: Fast parameters for built-ins that do not declare ``contract_params`` themselves.
FALLBACK: dict[str, dict[str, Any]] = {
    "dpsgd-vae": {"epochs": 1, "batch_size": 64, "hidden": [16], "latent_dim": 4},
    "dpsgd-ctgan": {"epochs": 1, "batch_size": 64, "z_dim": 8, "generator_dims": [16],
                    "discriminator_dims": [16]},
    "dpsgd-diffusion": {"epochs": 1, "batch_size": 64, "steps": 10, "hidden": [16]},
    "gaussian-copula": {"n_quantiles": 101},
    "anonymeter-singling-out": {"n_attacks": 60},
    "anonymeter-linkability": {"n_attacks": 100},
    "anonymeter-inference": {"n_attacks": 100},
    "dcr-membership": {"n_resamples": 100},
    "distinguishability": {"n_resamples": 100, "folds": 3},
    "density-membership": {"n_resamples": 100},
    "dp-audit": {"n_canaries": 40},  # 300-row scenario: room for 20 real canaries
    "shadow-membership": {"n_targets": 20, "n_shadows": 2, "shadow_rows": 100,
                          "n_resamples": 100},
}
GENERATOR_EXAMPLES = 2

_REGISTRY = build_registry()


def _builtin(kind: str) -> list[Any]:
    table: dict[str, Provided[Any]] = getattr(_REGISTRY, kind)
    return [pytest.param(item.obj, id=name) for name, item in sorted(table.items())
            if item.distribution == BUILTIN_DISTRIBUTION]


def _params(cls: type) -> dict[str, Any] | None:
    if hasattr(cls, "contract_params"):
        return None  # the kit uses the class's own
    return FALLBACK.get(getattr(cls, "name", ""))


@pytest.mark.slow
@pytest.mark.parametrize("cls", _builtin("generators"))
def test_builtin_generator_honours_the_contract(cls: Any) -> None:
    check_generator(cls, _params(cls), max_examples=GENERATOR_EXAMPLES)


@pytest.mark.slow
@pytest.mark.parametrize("cls", _builtin("attacks"))
def test_builtin_attack_honours_the_contract(cls: Any) -> None:
    check_attack(cls, _params(cls), n=200)


@pytest.mark.parametrize("cls", _builtin("metrics"))
def test_builtin_metric_honours_the_contract(cls: Any) -> None:
    check_metric(cls, _params(cls))


@pytest.mark.parametrize("policy", _builtin("policies"))
def test_builtin_policy_honours_the_contract(policy: Any) -> None:
    check_policy(policy, max_examples=5)


def _builtin_reporters() -> list[Any]:
    return list(_builtin("reporters"))


def _builtin_report_sections() -> list[Any]:
    assert _REGISTRY.pm is not None
    dists = _distributions(_REGISTRY.pm)
    return [pytest.param(impl.function, id=impl.plugin_name)
            for impl in _REGISTRY.pm.hook.privgate_report_sections.get_hookimpls()
            if dists.get(id(impl.plugin), (None,))[0] == BUILTIN_DISTRIBUTION]


@pytest.mark.parametrize("cls", _builtin_reporters())
def test_builtin_reporter_honours_the_contract(cls: Any) -> None:
    check_reporter(cls)


@pytest.mark.parametrize("hook", _builtin_report_sections())
def test_builtin_report_sections_honour_the_contract(hook: Any) -> None:
    check_report_sections(hook)


def test_every_kind_has_builtins_under_test() -> None:
    for kind in ("generators", "attacks", "metrics", "policies", "reporters"):
        assert _builtin(kind), f"no built-in {kind} registered"
    assert _builtin_report_sections(), "no built-in report sections registered"
