"""The exact step loop of DP-SGD: exactly the planned number of steps over Poisson batches.

The noise is calibrated for ``int(epochs / sample_rate)`` steps; the loop stops exactly there so
that the accountant's epsilon is the one the calibration promised. Poisson sampling can draw an
empty batch; it is still a step (see :meth:`privgate.dp.clipping.PrivateModel.step`).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from privgate.dp.clipping import PrivateModel, RowLoss, mean_of_rows


@dataclass
class TrainRun:
    """What the loop did: losses and cost (kept out of the privacy record, which must be
    reproducible).

    Attributes:
        losses: the mean per-row loss of every step whose batch had rows.
        after_losses: what ``after_step`` returned at each step (when it returned a number).
        rows_seen: real rows in all batches together.
        steps: steps taken (always the planned number).
        seconds, cpu_seconds: wall and this process's CPU time of the loop.
    """

    losses: list[float] = field(default_factory=list)
    after_losses: list[float] = field(default_factory=list)
    rows_seen: int = 0
    steps: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    def stats(self) -> dict[str, Any]:
        """Timing and throughput (``fit_stats_`` of the generators, read by the benchmark)."""
        return {"train_seconds": self.seconds, "train_cpu_seconds": self.cpu_seconds,
                "rows_seen": self.rows_seen, "steps": self.steps,
                "rows_per_second": self.rows_seen / max(self.seconds, 1e-9),
                "rows_per_cpu_second": self.rows_seen / max(self.cpu_seconds, 1e-9)}


def exact_batches(loader: Iterable[Any], steps: int) -> Iterator[torch.Tensor]:
    """Exactly ``steps`` batches from ``loader``, restarting it as often as needed."""
    done = 0
    while done < steps:
        for (batch,) in loader:
            if done >= steps:
                return
            yield batch
            done += 1


def run_steps(private: PrivateModel, loader: Iterable[Any], steps: int, loss: RowLoss,
              after_step: Callable[[PrivateModel], float | None] | None = None,
              on_step: Callable[[int], None] | None = None) -> TrainRun:
    """Run exactly ``steps`` private steps (then ``after_step``) and detach the hooks;
    ``on_step(done)`` is told the steps done so far after each (progress display).

    One intra-op thread: the matrices are small (batch x ~100-wide layers), where extra threads
    only synchronise; it also fixes the reduction order, which keeps fits bit-for-bit
    reproducible.
    """
    run = TrainRun()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    private.module.train()
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        with warnings.catch_warnings():
            # torch warns that backward hooks fire although the input needs no gradient:
            # expected, opacus hooks the layers, not the data.
            warnings.filterwarnings("ignore", message=".*Full backward hook is firing.*")
            for batch in exact_batches(loader, steps):
                per_row = private.step(batch, loss)
                run.steps += 1
                run.rows_seen += len(batch)
                if len(per_row):
                    run.losses.append(float(mean_of_rows(per_row).item()))
                if after_step is not None:
                    extra = after_step(private)
                    if extra is not None:
                        run.after_losses.append(float(extra))
                if on_step is not None:
                    on_step(run.steps)
    finally:
        torch.set_num_threads(threads)
        private.close()
    run.seconds = time.perf_counter() - started
    run.cpu_seconds = time.process_time() - cpu_started
    return run
