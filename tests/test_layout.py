"""The architecture the folders promise: core knows the others only through hooks, and
plugins, attacks and reports depend on core, never on each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"core": "privgate", "plugins": "privgate.plugins", "attacks": "privgate.attacks",
            "reports": "privgate.reports"}
SUBPACKAGES = ("privgate.plugins", "privgate.attacks", "privgate.reports")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("folder", sorted(PACKAGES))
def test_folders_import_only_core_and_themselves(folder: str) -> None:
    own = PACKAGES[folder]
    for path in (ROOT / folder).rglob("*.py"):
        for module in _imports(path):
            for sub in SUBPACKAGES:
                if (module == sub or module.startswith(sub + ".")) and sub != own:
                    pytest.fail(f"{path.relative_to(ROOT)} imports {module}: {folder}/ may "
                                "reach other folders only through privgate's hooks")


def test_every_builtin_module_is_an_entry_point() -> None:
    import tomllib

    entry_points = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "entry-points"]["privgate"]
    registered = set(entry_points.values())
    for folder in ("plugins", "attacks", "reports"):
        for path in (ROOT / folder).glob("*.py"):
            text = path.read_text(encoding="utf-8")
            if "@hookimpl" in text:
                module = f"{PACKAGES[folder]}.{path.stem}"
                assert module in registered, f"{module} implements hooks but is no entry point"
