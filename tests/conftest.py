"""Shared fixtures: real data from ../shared/data (skipped with a reason when absent) and small
synthetic-free tables built in memory."""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest

from privgate.schema import Column, Kind, Role, Schema

if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):  # pytest-xdist: the cores shared by workers
    _THREADS = max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_name, str(_THREADS))

SHARED_DATA = Path(os.environ.get("PRIVGATE_SHARED_DATA",
                                  Path(__file__).resolve().parents[2] / "shared" / "data"))
ADULT_CSV = SHARED_DATA / "adult.csv"

ADULT_CATEGORIES = {
    "workclass": None, "education": None, "marital_status": None, "occupation": None,
    "relationship": None, "race": None, "sex": None, "native_country": None,
    "income": ["<=50K", ">50K"],
}


@pytest.fixture(scope="session")
def adult_path() -> Path:
    if not ADULT_CSV.exists():
        pytest.skip(f"real data not found at {ADULT_CSV} (CI has it; a fresh clone does not)")
    return ADULT_CSV


@pytest.fixture(scope="session")
def adult_full(adult_path: Path) -> pd.DataFrame:
    return pd.read_csv(adult_path).drop(columns=["split"])


@pytest.fixture(scope="session")
def adult_schema(adult_full: pd.DataFrame) -> Schema:
    """A declared schema for adult: category lists are the census code book's, bounds public."""
    cols = []
    qi = {"age", "sex", "race", "marital_status", "native_country", "education"}
    sensitive = {"occupation", "capital_gain"}
    bounds = {"age": (17, 90), "fnlwgt": (10_000, 1_500_000), "education_num": (1, 16),
              "capital_gain": (0, 99_999), "capital_loss": (0, 4_356),
              "hours_per_week": (1, 99)}
    for name in adult_full.columns:
        role = (Role.QUASI_IDENTIFIER if name in qi else Role.SENSITIVE if name in sensitive
                else Role.TARGET if name == "income" else Role.OTHER)
        if name in bounds:
            cols.append(Column(name, Kind.INTEGER, role, bounds=tuple(map(float, bounds[name]))))
        else:
            cats = sorted(adult_full[name].dropna().unique())
            cols.append(Column(name, Kind.CATEGORICAL, role, categories=tuple(cats),
                               nullable=bool(adult_full[name].isna().any())))
    return Schema(tuple(cols))


@pytest.fixture(scope="session")
def adult_small(adult_full: pd.DataFrame) -> pd.DataFrame:
    """3,000 rows of adult, fixed sample."""
    return adult_full.sample(n=3000, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    """A small real demo run (2,500 rows, 3 epochs): exit code and output folder. Under
    pytest-xdist the first worker to need it runs it; the others wait and read the same
    folder (the folder is only read)."""
    from privgate.cli import main

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, shared by its workers
    out, code = root / "demo-shared", root / "demo-shared.exit-code"
    with _locked(root / "demo-shared.lock"):
        if not code.exists():
            out.mkdir(exist_ok=True)
            code.write_text(str(main(["demo", "--max-rows", "2500", "--epochs", "3", "--out",
                                      str(out)])))
    return int(code.read_text()), out


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` among this machine's processes."""
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session", autouse=True)
def _session_ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Session fixtures (demo_run) write to a temporary privacy ledger, never the user's."""
    path = tmp_path_factory.mktemp("ledger-session") / "ledger.sqlite"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PRIVGATE_LEDGER", str(path))
        mp.delenv("PRIVGATE_LEDGER_URL", raising=False)  # never a team's shared ledger
        yield path


@pytest.fixture(autouse=True)
def _private_ledger(tmp_path_factory: pytest.TempPathFactory,
                    monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own privacy ledger: tests never write into the user's data dir."""
    path = tmp_path_factory.mktemp("ledger") / "ledger.sqlite"
    monkeypatch.setenv("PRIVGATE_LEDGER", str(path))
    monkeypatch.delenv("PRIVGATE_LEDGER_URL", raising=False)
    return path


@pytest.fixture(scope="module")
def one_ray_at_a_time() -> Iterator[None]:
    """Held while a test module starts Ray on this machine: the suite runs in several
    processes (pytest-xdist), and two local Ray instances at once would compete for the same
    cores and object-store memory."""
    with _locked(Path(tempfile.gettempdir()) / "privgate-tests-ray.lock"):
        yield


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files with tests marked ``slow`` start first (each file stays whole, in its own order):
    under pytest-xdist (``--dist loadscope``: a file's tests run in one worker, which builds
    its module fixtures once) none of them is then left running alone at the end."""
    slow = {item.path for item in items if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: item.path not in slow)


@pytest.fixture(scope="session", autouse=True)
def _threads_per_worker() -> None:
    """Torch reads its thread count once; under pytest-xdist each worker gets its share of the
    cores, so that workers do not oversubscribe them."""
    if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
        import torch

        torch.set_num_threads(_THREADS)
