"""docs/plugins.md carries a hook reference generated from the hook specifications: it must be
current, and every hook must be documented."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import types
from pathlib import Path

import pluggy
import pytest

from privgate import hookspecs

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gen_plugin_docs.py"


def _generator() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("gen_plugin_docs", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generated_hook_reference_is_current() -> None:
    out = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_every_hook_is_in_the_reference_with_its_docstring() -> None:
    gen = _generator()
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    specs = gen.hookspecs(hookspecs)
    assert {f.__name__ for f in specs} == {
        name for name in dir(hookspecs) if name.startswith("privgate_")}
    for fn in specs:
        assert f"### `{fn.__name__}`" in text
        first_line = fn.__doc__.strip().splitlines()[0]
        assert first_line in text


def test_a_stale_reference_or_an_undocumented_hook_is_caught() -> None:
    gen = _generator()
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    fresh = gen.updated(text, gen.render(hookspecs))
    assert fresh == text
    stale = text.replace("Register privacy attacks.", "Register attacks.")
    assert gen.updated(stale, gen.render(hookspecs)) != stale

    fake = types.ModuleType("fake_hookspecs")
    fake.PROJECT = "privgate"
    fake.PLUGIN_API_VERSION = "1"
    marker = pluggy.HookspecMarker("privgate")

    def privgate_documented() -> None:
        """Has a docstring."""

    def privgate_silent() -> None:
        pass

    fake.privgate_documented = marker(privgate_documented)
    fake.privgate_silent = marker(privgate_silent)
    with pytest.raises(gen.DocError, match="privgate_silent.*no docstring"):
        gen.render(fake)
