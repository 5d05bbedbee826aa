"""The architecture the folders promise (the README's "Layout" section is the map):

* ``core/`` (``privgate``) knows the others only through hooks: it imports nothing of
  ``plugins/``, ``attacks/`` or ``reports/``; those three depend on core, never on each other;
* every built-in module that implements hooks is an entry point, as a third-party one would be;
* one folder per generator family under ``plugins/generators/``: no family imports another's
  modules (what they share lives in core, or for the non-private baselines in
  ``plugins/generators/baseline.py``), and ``plugins/`` holds folders by kind, not loose
  private helpers;
* no module is over :data:`MAX_LINES` lines, except the few listed with their reason.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"core": "privgate", "plugins": "privgate.plugins", "attacks": "privgate.attacks",
            "reports": "privgate.reports"}
SUBPACKAGES = ("privgate.plugins", "privgate.attacks", "privgate.reports")
GENERATORS = "privgate.plugins.generators"
#: A module does one thing: a few hundred lines, not a thousand.
MAX_LINES = 400
#: Modules allowed to be longer, each with its reason (none today).
LONG_MODULES: dict[str, str] = {}


def _modules(folder: str) -> list[tuple[Path, str]]:
    """(path, import name) of every module under ``folder`` (one of :data:`PACKAGES`)."""
    out = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append((path, ".".join([PACKAGES[folder], *parts])))
    return out


def _imports(path: Path, module: str) -> set[str]:
    """Every module ``path`` (import name ``module``) imports, relative imports resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.mark.parametrize("folder", sorted(PACKAGES))
def test_folders_import_only_core_and_themselves(folder: str) -> None:
    own = PACKAGES[folder]
    for path, module in _modules(folder):
        for imported in _imports(path, module):
            for sub in SUBPACKAGES:
                if _within(imported, sub) and sub != own:
                    pytest.fail(f"{path.relative_to(ROOT)} imports {imported}: {folder}/ may "
                                "reach other folders only through privgate's hooks")


def test_every_builtin_module_with_hooks_is_an_entry_point() -> None:
    entry_points = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "entry-points"]["privgate"]
    registered = set(entry_points.values())
    for folder in ("plugins", "attacks", "reports"):
        for path, module in _modules(folder):
            if "@hookimpl" in path.read_text(encoding="utf-8"):
                assert module in registered, f"{module} implements hooks but is no entry point"


def test_every_entry_point_is_a_module_here() -> None:
    entry_points = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "entry-points"]["privgate"]
    known = {module for folder in PACKAGES for _, module in _modules(folder)}
    missing = {name: value for name, value in entry_points.items() if value not in known}
    assert not missing, f"entry points name modules that do not exist: {missing}"


def _family(module: str) -> str | None:
    """The generator family (folder under plugins/generators/) ``module`` belongs to."""
    if not _within(module, GENERATORS) or module == GENERATORS:
        return None
    name = module.split(".")[3]
    return name if (ROOT / "plugins" / "generators" / name).is_dir() else None


def test_no_generator_family_imports_another() -> None:
    """A family's modules (model, encoding, ...) are its own; what several families share lives
    in core (privgate.params, .encoding, .randomness, .dp) or, for the built-in non-private
    baselines, in a module of plugins/generators/ itself (baseline.py)."""
    for path, module in _modules("plugins"):
        for imported in _imports(path, module):
            other = _family(imported)
            assert other is None or other == _family(module), (
                f"{path.relative_to(ROOT)} imports {imported}: a generator family's modules "
                f"are private to {GENERATORS}.{other}")


def test_plugins_hold_folders_by_kind_not_loose_helpers() -> None:
    loose = sorted(p.name for p in (ROOT / "plugins").glob("_*.py") if p.name != "__init__.py")
    assert not loose, (f"plugins/ holds private helper modules {loose}: put each in the folder "
                       "of what uses it (plugins/generators/<family>/, plugins/metrics/, or "
                       "core's privgate.dp when several families share it)")


def test_generator_families_are_packages() -> None:
    for family in sorted(p for p in (ROOT / "plugins" / "generators").iterdir() if p.is_dir()):
        if family.name == "__pycache__":
            continue
        assert (family / "__init__.py").is_file(), f"{family} is no package (no __init__.py)"
        assert (family / "generator.py").is_file(), (f"{family} has no generator.py (the "
                                                     "module its entry point names)")


def test_packages_list_every_package() -> None:
    """setuptools installs only the packages pyproject lists: a new folder must be added."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"])
    for folder in PACKAGES:
        for path, module in _modules(folder):
            if path.name == "__init__.py":
                assert module in listed, (f"{module} is a package but not in pyproject's "
                                          "[tool.setuptools] packages (one line each)")


def test_no_module_is_over_the_line_limit() -> None:
    long = {}
    for folder in PACKAGES:
        for path, _ in _modules(folder):
            rel = str(path.relative_to(ROOT))
            n = len(path.read_text(encoding="utf-8").splitlines())
            if n > MAX_LINES and rel not in LONG_MODULES:
                long[rel] = n
    assert not long, (f"modules over {MAX_LINES} lines (split them by what they hold, or list "
                      f"one in LONG_MODULES with its reason): {dict(sorted(long.items()))}")


def test_long_module_exceptions_are_still_needed() -> None:
    for rel, reason in LONG_MODULES.items():
        assert reason, f"{rel}: an exception needs its reason"
        path = ROOT / rel
        assert path.is_file() and len(path.read_text(encoding="utf-8").splitlines()) > MAX_LINES, (
            f"{rel} is listed in LONG_MODULES but no longer needs to be")
