"""privgate's plugin contract kit, also shipped as a pytest plugin.

A plugin author runs ``pytest --privgate-contract`` in their repository and gets one test per
generator, attack, metric, policy and reporter, and per report-section plugin, that their
distribution registers in the ``privgate`` entry-point group (``--privgate-contract-dist NAME``
picks other distributions). Without the flag the plugin adds nothing to a pytest run.

The checks are plain functions, usable from any test suite::

    from privgate.testing import check_attack, check_generator, check_policy

    def test_my_generator_honours_the_contract():
        check_generator(MyGenerator)

Each raises :class:`ContractViolation` (an ``AssertionError``) saying which rule was broken.
When plugin code raises inside a check, the violation names the file and line of the plugin's
code where it raised and is chained to the original exception (``raise ... from exc``), so
pytest shows the plugin's own frames. The reporter and report-section checks
(:func:`check_reporter`, :func:`check_report_sections`) live in :mod:`privgate.testing_reports`
and are re-exported here; :class:`ContractViolation` and the time limit in
:mod:`privgate.testing_runtime`.

Time limit: every check runs in a worker thread and fails with a :class:`ContractViolation`
naming the plugin, the check and the limit when it runs longer than ``timeout_s`` seconds
(default: ``--privgate-contract-timeout``, else ``PRIVGATE_CONTRACT_TIMEOUT``, else 600; 0 means
no limit). Python cannot kill a thread: the kit stops *waiting* and the abandoned call finishes
in the background (as :mod:`privgate.isolation` does for audits).

Fast parameters: a generator, attack or metric class may declare
``contract_params: ClassVar[dict[str, Any]]`` -- constructor parameters that keep it quick on the
kit's small tables (e.g. ``{"epochs": 1}`` for a DP-SGD model). The kit instantiates
``cls(**contract_params)``; an explicit ``params=`` argument overrides it.

Hypothesis budget: ``PRIVGATE_CONTRACT_EXAMPLES`` (default 8) examples per generator, with no
deadline; tables have 1 to 5,000 rows, mostly small.
"""

from __future__ import annotations

import functools
import sys
import threading
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pluggy

from privgate.testing_attacks import check_attack, check_metric, check_policy
from privgate.testing_dp import check_dp_accounting
from privgate.testing_generators import check_generator, check_generator_case
from privgate.testing_reports import check_report_sections, check_reporter
from privgate.testing_runtime import (
    DEFAULT_TIMEOUT_S,
    KIT_DIR,
    TIMEOUT_ENV,
    ContractViolation,
    contract_timeout,
    under,
)
from privgate.testing_tables import (
    GeneratedCase,
    IndependentMarginals,
    VerbatimCopy,
    generated_cases,
    independent_marginals,
    make_case,
    scenario,
)

__all__ = [
    "ContractViolation", "GeneratedCase", "IndependentMarginals", "VerbatimCopy",
    "check_attack", "check_generator", "check_generator_case", "check_metric", "check_policy",
    "check_report_sections", "check_reporter", "contract_items", "contract_timeout",
    "generated_cases", "independent_marginals", "make_case", "scenario", "check_dp_accounting",
    "DEFAULT_TIMEOUT_S",
]

#: The contract kit's modules (their frames are hidden when a plugin's check fails).
KIT_MODULES = ("testing", "testing_attacks", "testing_dp", "testing_documents",
               "testing_evidence", "testing_generators", "testing_reports", "testing_runtime",
               "testing_tables")

# -- the pytest plugin -----------------------------------------------------------------------


@dataclass(frozen=True)
class ContractCase:
    """One contract test: a kind, a registered name, its distribution and the check to run."""

    kind: str
    name: str
    distribution: str | None
    run: Callable[[], object]


def _norm(name: str | None) -> str:
    return (name or "").lower().replace("_", "-").replace(".", "-")


def contract_items(distributions: Sequence[str] | None, *,
                   timeout_s: float | None = None) -> Iterator[ContractCase]:
    """Contract cases for everything the given distributions register (``None``: every
    distribution but privgate itself): generators, attacks, metrics, policies, reporters and
    report-section plugins. A plugin of theirs that failed to load is a failing case; no plugin
    at all is a failing case too (so a misconfigured run cannot pass)."""
    from privgate.errors import PluginClashError
    from privgate.plugin_loading import BUILTIN_DISTRIBUTION
    from privgate.registry import _distributions, build_registry

    wanted = None if distributions is None else {_norm(d) for d in distributions}

    def selected(dist: str | None) -> bool:
        if wanted is None:
            return _norm(dist) != BUILTIN_DISTRIBUTION
        return _norm(dist) in wanted

    try:
        registry = build_registry()
    except PluginClashError as exc:
        message = str(exc)

        def clash() -> None:
            raise ContractViolation(message)

        yield ContractCase("registry", "name-clash", None, clash)
        return
    found = False
    for problem in registry.problems:
        if selected(problem.distribution) and problem.state == "broken":
            found = True

            def broken(p: Any = problem) -> None:
                raise ContractViolation(f"{p.origin} did not load: {p.reason}")

            yield ContractCase("plugin", problem.plugin, problem.distribution, broken)
    checks: dict[str, Callable[..., None]] = {
        "generators": check_generator, "attacks": check_attack, "metrics": check_metric,
        "policies": check_policy, "reporters": check_reporter}
    for kind, fn in checks.items():
        for name, item in sorted(getattr(registry, kind).items()):
            if selected(item.distribution):
                found = True
                yield ContractCase(kind[:-1] if kind != "policies" else "policy", name,
                                   item.distribution,
                                   functools.partial(fn, item.obj, timeout_s=timeout_s))
                if kind == "generators" and getattr(item.obj, "is_private", False):
                    # any DP generator's accounting is recomputed from what it recorded
                    yield ContractCase("generator-dp-accounting", name, item.distribution,
                                       functools.partial(check_dp_accounting, item.obj,
                                                         timeout_s=timeout_s))
    if registry.pm is not None:
        dists = _distributions(registry.pm)
        impls = registry.pm.hook.privgate_report_sections.get_hookimpls()
        for impl in sorted(impls, key=lambda i: i.plugin_name):
            dist = dists.get(id(impl.plugin), (None, None))[0]
            if selected(dist):
                found = True
                yield ContractCase("report-sections", impl.plugin_name, dist, functools.partial(
                    check_report_sections, impl.function, timeout_s=timeout_s))
    if not found:
        which = "any non-privgate distribution" if wanted is None else sorted(wanted)

        def nothing() -> None:
            raise ContractViolation(
                f"no privgate plugin registered by {which}: install the distribution "
                "(pip install -e .) and declare its [project.entry-points.privgate]")

        yield ContractCase("plugin", "none-found", None, nothing)


def _default_distributions(rootdir: Path) -> list[str] | None:
    """The project in ``rootdir/pyproject.toml`` when it declares privgate entry points."""
    pyproject = rootdir / "pyproject.toml"
    if not pyproject.is_file():
        return None
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    name = project.get("name")
    if name and "privgate" in project.get("entry-points", {}) and _norm(name) != "privgate":
        return [str(name)]
    return None


def _distributions_of(config: Any) -> list[str] | None:
    return (config.getoption("privgate_contract_dist")
            or _default_distributions(Path(str(config.rootpath))))


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("privgate", "privgate plugin contract")
    group.addoption("--privgate-contract", action="store_true", default=False,
                    help="check every generator, attack, metric, policy, reporter and report "
                    "section the plugin distribution registers against privgate's contract")
    group.addoption("--privgate-contract-dist", action="append", default=None, metavar="NAME",
                    help="distribution(s) to check (default: the project in the rootdir's "
                    "pyproject.toml, else every non-privgate distribution)")
    group.addoption("--privgate-contract-timeout", type=float, default=None, metavar="SECONDS",
                    help=f"time limit of one contract check (default: {TIMEOUT_ENV}, else "
                    f"{DEFAULT_TIMEOUT_S:g}; 0: no limit)")


# Before pytest's own -k/-m deselection, which then applies to the contract items too.
@pluggy.HookimplMarker("pytest")(tryfirst=True)
def pytest_collection_modifyitems(session: Any, config: Any, items: list[Any]) -> None:
    if not config.getoption("privgate_contract"):
        return  # off by default: a normal pytest run gets nothing from privgate
    contract_timeout(config.getoption("privgate_contract_timeout"))  # a malformed env stops here
    # Collected through pytest's own machinery (collect report included), so that pytest's
    # "collected N items" line counts the contract tests.
    _item_class()  # defines the collector too
    collector = _COLLECTOR.from_parent(session, name="privgate-contract",
                                       nodeid="privgate-contract")
    items.extend(session.genitems(collector))


def pytest_report_collectionfinish(config: Any, start_path: Path, items: Sequence[Any]
                                   ) -> str | None:
    """The kit's header line, after collection: the contract tests that will actually run
    (after ``-k``/``-m``/``--deselect``), the distributions and the time limit."""
    if not config.getoption("privgate_contract"):
        return None
    n = sum(isinstance(item, _item_class()) for item in items)
    dists = _distributions_of(config)
    which = ", ".join(dists) if dists else "every non-privgate distribution"
    limit = contract_timeout(config.getoption("privgate_contract_timeout"))
    per_check = "no time limit" if limit is None else f"time limit {limit:g} s per check"
    return (f"privgate contract: {n} contract test{'s' if n != 1 else ''} for {which} "
            f"({per_check})")


_ITEM: Any = None
_COLLECTOR: Any = None


def _item_class() -> Any:
    """The pytest item type, built lazily so importing this module never needs pytest."""
    global _ITEM, _COLLECTOR
    if _ITEM is None:
        import pytest

        class ContractCollector(pytest.Collector):
            def collect(self) -> list[Any]:
                timeout_s = self.config.getoption("privgate_contract_timeout")
                return [ContractItem.from_parent(
                    self, name=f"privgate-contract[{case.kind}:{case.name}]", case=case)
                    for case in contract_items(_distributions_of(self.config),
                                               timeout_s=timeout_s)]

        # the kit's own frames, hidden from failures (the plugin's frames stay)
        kit = {str(Path(f).resolve()) for f in (
            *(str(KIT_DIR / f"{m}.py") for m in KIT_MODULES), str(threading.__file__))}
        runner = [Path(m.__file__).resolve().parent for m in (pluggy, sys.modules["_pytest"])
                  if m.__file__]

        class ContractItem(pytest.Item):
            def __init__(self, *, case: ContractCase, **kwargs: Any) -> None:
                super().__init__(**kwargs)
                self.case = case

            def runtest(self) -> None:
                __tracebackhide__ = True
                self.case.run()

            def repr_failure(self, excinfo: Any, style: Any = None) -> Any:
                exc = excinfo.value
                if isinstance(exc, ContractViolation) and exc.__cause__ is None:
                    # a rule broken: the message (and hypothesis's falsifying example) says all
                    return "\n".join([f"contract violation: {exc}",
                                      *getattr(exc, "__notes__", ())])
                # plugin code raised: its own frames (the kit's are hidden), then the violation
                return super().repr_failure(excinfo, style)

            def _traceback_filter(self, excinfo: Any) -> Any:
                tb = excinfo.traceback.filter(excinfo)  # honours __tracebackhide__
                return tb.filter(lambda e: str(Path(e.path).resolve()) not in kit
                                 and not under(Path(e.path).resolve(), runner))

            def reportinfo(self) -> tuple[str, int | None, str]:
                dist = self.case.distribution or "?"
                return "privgate-contract", None, f"{self.case.kind} {self.case.name} ({dist})"

        _ITEM, _COLLECTOR = ContractItem, ContractCollector
    return _ITEM
