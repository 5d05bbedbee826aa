"""Progress for long steps: done/total and an estimate, live in a terminal, plain lines in CI
logs; the DP trainer reports its steps through it."""

from __future__ import annotations

import io
import threading

import numpy as np
import pandas as pd
import pytest
import torch
from rich.console import Console

from privgate import progress
from privgate.dp import DPSettings, DPTrainer
from privgate.generator import PrivacyBudget
from privgate.progress import ConsoleProgress, Progress, duration
from privgate.schema import Column, Kind, Schema


def _plain() -> tuple[ConsoleProgress, io.StringIO]:
    out = io.StringIO()
    return ConsoleProgress(Console(file=out, force_terminal=False, width=200)), out


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_show_done_total_and_what_is_left(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock()
    monkeypatch.setattr(progress.time, "perf_counter", clock)
    shown, out = _plain()
    with shown.step("fit", "training dpsgd-vae on 1,000 rows"):
        progress.advance(0, 400, "training steps")  # starts the clock, prints nothing
        clock.now += 10
        progress.advance(40, 400, "training steps")  # before PLAIN_EVERY_S: nothing
        clock.now += progress.PLAIN_EVERY_S
        progress.advance(160, 400, "training steps")
    lines = out.getvalue().splitlines()
    assert lines[0] == ("  training dpsgd-vae on 1,000 rows: 160/400 training steps (40%), "
                        "about 1 min 0 s left")  # 160 steps in 40 s: 240 more take 60 s
    assert lines[1].startswith("  training dpsgd-vae on 1,000 rows: done")
    assert len(lines) == 2


def test_a_terminal_gets_a_live_line(monkeypatch: pytest.MonkeyPatch) -> None:
    updates: list[str] = []
    shown = ConsoleProgress(Console(file=io.StringIO(), force_terminal=True, width=200))
    with shown.step("fit", "training"):
        monkeypatch.setattr(shown._status, "update", updates.append)
        for done in range(0, 101, 50):
            progress.advance(done, 100)
            shown._counter.shown_at -= 1.0  # type: ignore[union-attr]  (past LIVE_EVERY_S)
    assert updates[0] == "training: 0/100 steps (0%)"
    assert updates[-1].startswith("training: 100/100 steps (100%)")


def test_reports_outside_a_step_or_from_other_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    progress.advance(1, 2)  # nothing running: ignored
    progress.note("nobody listens")
    monkeypatch.setattr(progress, "PLAIN_EVERY_S", 0.0)
    shown, out = _plain()
    with shown.step("fit", "training"):
        worker = threading.Thread(target=lambda: [progress.advance(i, 3) for i in range(4)])
        worker.start()
        worker.join()
        progress.note("a remark")
    text = out.getvalue()
    assert "training: 3/3 steps (100%)" in text and "note: a remark" in text
    silent = Progress()
    with silent.step("x", "silent"):
        progress.advance(1, 2)  # the silent progress ignores it
    assert set(silent.durations) == {"x"}


def test_durations_read_as_words() -> None:
    assert [duration(s) for s in (4.4, 65, 3725)] == ["4 s", "1 min 5 s", "1 h 2 min"]


def test_the_dp_trainer_reports_its_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "PLAIN_EVERY_S", 0.0)
    shown, out = _plain()
    schema = Schema((Column("x", Kind.CONTINUOUS, bounds=(-5.0, 5.0)),
                     Column("y", Kind.CONTINUOUS, bounds=(-5.0, 5.0))))
    data = pd.DataFrame(np.random.default_rng(0).normal(size=(200, 2)), columns=["x", "y"])
    trainer = DPTrainer("toy", DPSettings(epochs=2, batch_size=50), PrivacyBudget(1.0, 1e-5), 0)
    trainer.prepare(data, schema)
    trainer.plan(200)
    model = torch.nn.Linear(1, 1)
    with shown.step("fit", "training toy"):
        trainer.train(model, torch.optim.SGD(model.parameters(), lr=0.1),
                      torch.zeros((200, 2)), lambda m, b: (m(b[:, :1])[:, 0] - b[:, 1]) ** 2)
    assert "training toy: 8/8 training steps (100%)" in out.getvalue()
    seen: list[tuple[int, int]] = []
    again = DPTrainer("toy", DPSettings(epochs=1, batch_size=50), PrivacyBudget(1.0, 1e-5), 0)
    again.prepare(data, schema)
    again.plan(200)
    again.train(model, torch.optim.SGD(model.parameters(), lr=0.1), torch.zeros((200, 2)),
                lambda m, b: (m(b[:, :1])[:, 0] - b[:, 1]) ** 2,
                on_step=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
