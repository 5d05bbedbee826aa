"""``pytest --privgate-contract`` on a small temporary plugin distribution (pytester): the
header counts the contract tests actually collected, ``--privgate-contract-timeout`` stops a
slow check, and a plugin's exception is shown with the plugin's own frames, not the kit's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from privgate import Policy
from privgate.registry import build_registry
from privgate.testing import check_policy
from privgate.testing_reports import contract_result

pytest_plugins = ["pytester"]

PLUGINS = '''"""A tiny privgate plugin distribution for the contract kit's own tests."""
import json
import time
from pathlib import Path

from privgate import Attack, Generator, Policy, hookimpl
from privgate.reporting import Paragraph, Reporter, ReportSection

STOP = Path(__file__).with_name("stop")


class SlowGenerator(Generator):
    name = "kitdemo-slow"
    is_private = False

    def fit(self, data, schema, budget, *, seed=0):
        while not STOP.exists():
            time.sleep(0.05)  # SLOW
        return self

    def sample(self, n, *, seed=0, conditions=None):
        raise NotImplementedError

    @property
    def privacy_spent(self):
        raise NotImplementedError


class CrashingAttack(Attack):
    name = "kitdemo-crash"
    risk_kind = "membership"

    def run(self, context):
        return self.score(context)

    def score(self, context):
        raise RuntimeError("kitdemo attack crashed")  # RAISES


class TextReporter(Reporter):
    format = "kitdemo-text"
    filename = "kitdemo.txt"

    def render(self, result, sections):
        return json.dumps(sorted(result)) + "\\n"


@hookimpl
def privgate_generators():
    return [SlowGenerator]


@hookimpl
def privgate_attacks():
    return [CrashingAttack]


@hookimpl
def privgate_policies():
    return [Policy("kitdemo-policy", "Kitdemo", "a test policy", {"membership": 0.1})]


@hookimpl
def privgate_reporters():
    return [TextReporter]


@hookimpl
def privgate_report_sections(result):
    return [ReportSection("kitdemo", "Kitdemo", (Paragraph("hello"),))]
'''


def _line(marker: str) -> int:
    lines = PLUGINS.splitlines()
    (number,) = [i for i, text in enumerate(lines, start=1) if text.endswith(f"# {marker}")]
    return number


@pytest.fixture(scope="module", autouse=True)
def _imported() -> None:
    """Pytester's in-process runs drop the modules imported since each test started, so the
    built-in plugins (torch among them, which cannot be imported twice in a process) and
    hypothesis are imported, and the kit's reference audit made, before any test starts."""
    build_registry()
    contract_result()
    check_policy(Policy("warm-up", "Warm-up", "imports hypothesis", {"membership": 0.1}),
                 max_examples=1)


@pytest.fixture
def kitdemo(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Iterator[
        pytest.Pytester]:
    """A folder holding the ``kitdemo`` distribution (dist-info with its ``privgate`` entry
    point, and the plugin module) on sys.path, plus one ordinary test of its own."""
    for var in ("PRIVGATE_LOAD_PLUGINS", "PRIVGATE_DISABLE_PLUGINS", "PRIVGATE_CONTRACT_TIMEOUT"):
        monkeypatch.delenv(var, raising=False)
    info = pytester.mkdir("kitdemo-0.1.dist-info")
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kitdemo\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[privgate]\nkitdemo = kitdemo_plugins\n")
    pytester.makepyfile(kitdemo_plugins=PLUGINS)
    pytester.makepyfile(test_own="def test_own():\n    assert True\n")
    pytester.syspathinsert()
    yield pytester
    (pytester.path / "stop").write_text("")  # the abandoned slow fit returns


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", "--privgate-contract",
                              "--privgate-contract-dist", "kitdemo", *args)


def test_the_header_counts_the_contract_tests_collected(kitdemo: pytest.Pytester) -> None:
    out = _run(kitdemo, "--collect-only")
    assert out.ret == 0, out.stdout.str()
    # pytest's own count includes the 5 contract tests (it used to say "collected 1 item")
    out.stdout.fnmatch_lines([
        "collected 6 items",
        "privgate contract: 5 contract tests for kitdemo (time limit 600 s per check)"])
    selected = _run(kitdemo, "--collect-only", "-k", "policy or reporter")
    selected.stdout.fnmatch_lines([
        "collected 6 items / 4 deselected / 2 selected",
        "privgate contract: 2 contract tests for kitdemo (time limit 600 s per check)"])
    plain = kitdemo.runpytest("-p", "no:cacheprovider", "--collect-only")
    plain.stdout.fnmatch_lines(["collected 1 item"])
    assert "privgate contract" not in plain.stdout.str()


def test_the_well_behaved_plugins_pass(kitdemo: pytest.Pytester) -> None:
    out = _run(kitdemo, "-v", "-k", "policy or reporter or report-sections or own")
    out.assert_outcomes(passed=4, deselected=2)
    out.stdout.fnmatch_lines([
        "privgate contract: 3 contract tests for kitdemo*",
        "*privgate-contract[[]policy:kitdemo-policy[]] PASSED*",
        "*privgate-contract[[]reporter:kitdemo-text[]] PASSED*",
        "*privgate-contract[[]report-sections:kitdemo[]] PASSED*"])


def test_the_timeout_option_stops_a_slow_check(kitdemo: pytest.Pytester) -> None:
    out = _run(kitdemo, "-k", "slow", "--privgate-contract-timeout", "0.5")
    out.assert_outcomes(failed=1, deselected=5)
    out.stdout.fnmatch_lines([
        "privgate contract: 1 contract test for kitdemo (time limit 0.5 s per check)",
        "contract violation: generator 'kitdemo-slow': check_generator did not finish within "
        f"the contract time limit of 0.5 s [[]at kitdemo_plugins.py:{_line('SLOW')} in fit:*"])


def test_a_plugin_exception_shows_the_plugins_own_frames(kitdemo: pytest.Pytester) -> None:
    out = _run(kitdemo, "-k", "crash")
    out.assert_outcomes(failed=1, deselected=5)
    out.stdout.fnmatch_lines([
        "*def score(self, context):",
        '>*raise RuntimeError("kitdemo attack crashed")  # RAISES',
        "E*RuntimeError: kitdemo attack crashed",
        f"kitdemo_plugins.py:{_line('RAISES')}: RuntimeError",
        "The above exception was the direct cause of the following exception:",
        "E*ContractViolation: attack 'kitdemo-crash': run() on a verbatim copy of the training "
        f"rows raised RuntimeError: kitdemo attack crashed [[]at kitdemo_plugins.py:"
        f"{_line('RAISES')} in score:*"])
    failure = out.stdout.str().split("FAILURES")[1].split("short test summary")[0]
    from privgate.testing import KIT_MODULES

    for internal in (*(f"{m}.py:" for m in KIT_MODULES), "_pytest", "pluggy", "threading.py"):
        assert internal not in failure, failure  # the kit's and pytest's frames are hidden
