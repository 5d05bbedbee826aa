"""Keep ``.mypy/privgate`` in step with the source folders, so mypy sees the import package.

setuptools maps the import package onto folders (``[tool.setuptools] package-dir`` in
pyproject.toml: ``privgate`` = ``core/``, ``privgate.plugins`` = ``plugins/``, ...), which mypy
cannot read. So ``.mypy/privgate`` is a real folder that mirrors the package under its import
names with relative symbolic links: one per entry of ``core/`` (module, package folder,
``py.typed``) and one per mapped subpackage (``plugins``, ``attacks``, ``reports``), and
``[tool.mypy] mypy_path = ".mypy"`` points mypy at it.

A new top-level module in ``core/`` needs its link (a new file inside a linked folder does
not). ``tests/test_typecheck.py`` fails when the mirror is out of date; then run::

    python .mypy/sync.py           # rebuild the links
    python .mypy/sync.py --check   # only report (exit 1 when out of date)
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIRROR = ROOT / ".mypy" / "privgate"
#: Entries of a source folder that are not part of the package.
SKIP = ("__pycache__",)


def expected() -> dict[str, str]:
    """Link name in the mirror -> relative link target, from pyproject's package-dir."""
    package_dir: dict[str, str] = tomllib.loads((ROOT / "pyproject.toml").read_text(
        encoding="utf-8"))["tool"]["setuptools"]["package-dir"]
    links: dict[str, str] = {}
    root = ROOT / package_dir["privgate"]
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(".") or entry.name in SKIP:
            continue
        if entry.is_dir() or entry.suffix in (".py", ".pyi") or entry.name == "py.typed":
            links[entry.name] = os.path.join("..", "..", package_dir["privgate"], entry.name)
    for package, folder in package_dir.items():
        parent, _, name = package.rpartition(".")
        if parent == "privgate":
            links[name] = os.path.join("..", "..", folder)
    return links


def problems() -> list[str]:
    """What differs between the mirror and :func:`expected` (empty when in step)."""
    if MIRROR.is_symlink() or not MIRROR.is_dir():
        return [f"{MIRROR.relative_to(ROOT)} is not a folder of links"]
    want = expected()
    out: list[str] = []
    have = {p.name: p for p in MIRROR.iterdir()}
    for name, target in want.items():
        path = have.get(name)
        if path is None:
            out.append(f"missing link {name} -> {target}")
        elif not path.is_symlink() or os.readlink(path) != target:
            out.append(f"{name} should be a link to {target}")
    out.extend(f"stale entry {name}" for name in sorted(set(have) - set(want)))
    return out


def sync() -> list[str]:
    """Rebuild the mirror; returns what was changed."""
    if MIRROR.is_symlink():
        MIRROR.unlink()
    MIRROR.mkdir(parents=True, exist_ok=True)
    changed = problems()
    want = expected()
    for path in MIRROR.iterdir():
        if path.name not in want or not path.is_symlink() or os.readlink(path) != want[
                path.name]:
            if path.is_symlink() or path.is_file():
                path.unlink()
            else:
                raise SystemExit(f"{path} is a real folder; remove it by hand")
    for name, target in want.items():
        if not (MIRROR / name).is_symlink():
            (MIRROR / name).symlink_to(target)
    return changed


def main(argv: list[str]) -> int:
    if "--check" in argv:
        found = problems()
        for line in found:
            print(line)
        return 1 if found else 0
    for line in sync():
        print(f"fixed: {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
