"""mypy over the whole import package, as configured in pyproject.toml ([tool.mypy]).

mypy sees privgate, privgate.plugins, .attacks, .reports and .dp under their import names
through ``.mypy/privgate``, a folder of links mirroring setuptools' package-dir mapping
(``.mypy/sync.py`` rebuilds it). Core (the DP layer included) is strict; the plugin folders
must annotate every function. A cold run takes under a minute; mypy's incremental cache
(``.mypy_cache``) makes later runs take seconds.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _sync() -> ModuleType:
    spec = importlib.util.spec_from_file_location("privgate_mypy_sync", ROOT / ".mypy" / "sync.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_mypy_mirror_matches_the_source_folders() -> None:
    problems = _sync().problems()
    assert not problems, ("the mypy mirror .mypy/privgate is out of date (run "
                          f"`python .mypy/sync.py`): {problems}")


def test_mypy_passes_on_the_whole_package() -> None:
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (pip install -e '.[test]' or '.[lint]')")
    if _sync().problems():
        pytest.skip("the mypy mirror is out of date; see the test above")
    done = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, f"mypy found problems:\n{done.stdout}{done.stderr}"
