"""A white-box audit of privgate's own DP-SGD (:mod:`privgate.dp`) with gradient canaries.

It audits the DP layer itself -- clipping, noise scale, Poisson sampling and the accounting
that promises epsilon -- not a generator: a bug there (noise switched off, a sample rate the
accountant does not see) shows here, whatever model trains on top. ``m`` Dirac canaries, one
per coordinate of a linear model without bias, are each inserted with probability 1/2 into a
table trained through :func:`privgate.dp.clipping.private_model` and
:func:`privgate.dp.loop.run_steps` -- the code every DP-SGD generator uses -- with the noise the
accountant calibrates for ``epsilon``. The auditor sees every intermediate model (white box).

Why each canary is a trial of its own (checked by ``tests/test_dp_audit_whitebox.py``):

* the loss of a row ``x`` is ``-w . x``, so its gradient is ``-x`` whatever the weights: canary
  ``i`` is the row ``1000 * e_i``, clipped to the constant ``C * e_i``; a canary whose coin says
  "out" is replaced by a zero row, whose gradient is exactly zero, so it adds nothing, and the
  table always has ``batches * (m + 1)`` rows: the Poisson sample rate ``1 / batches`` and the
  expected batch size ``B = m + 1`` that opacus divides by are the same whichever coins fall;
* every row is drawn into a step's batch independently (Poisson sampling), and opacus adds
  independent Gaussian noise ``N(0, sigma^2 C^2)`` to every coordinate;
* so in coordinate ``i`` a step moves the weight by ``(C * [canary i drawn] + N(0, sigma^2
  C^2)) / B`` and by nothing else: the sequence of moves of coordinate ``i`` -- a
  post-processing of the whole DP-SGD transcript -- depends on canary ``i``'s coin, its own
  Poisson draws and its own noise only, independent of every other canary. (Up to float32
  rounding of ``C * e_i`` in opacus' per-sample clipping, a relative error below 1e-6.)

Each canary is scored by the log-likelihood ratio of its coordinate's normalised moves (one
Poisson mixture of a shifted and a centred Gaussian per step, under "in" against "out").

``runs = 1`` (one run): guessing "in" for the highest scores gives counts that core bounds with
the one-run theorem of Steinke, Nasr & Jagielski (2023, :func:`privgate.dp_audit_bounds.
one_run_epsilon`), which needs no independence. ``runs = R >= 2``: ``R`` independent runs (own
coins, batches and noise), so by the argument above the ``R * m`` canaries are independent
trials of one epsilon-DP mechanism (add or remove one canary). One threshold on the score
flags a canary "in"; it is fixed BEFORE any run, from scores simulated under the mechanism the
audit declares (its noise multiplier, sample rate and steps; a seeded Monte Carlo, no audited
trial), as the threshold whose bound is largest at its 20th percentile over binomial draws of
the expected counts (:func:`threshold_for`). The counts over all
trials -- canaries flagged in ``k1`` of the ``n1`` trials that inserted them and in ``k0`` of the
``n0`` that did not -- are an :class:`~privgate.operating_points.OperatingPoint` over
independent trials that core bounds with one-sided Clopper-Pearson, ``epsilon >=
max(log((TPR_low - delta) / FPR_high), log((1 - FPR_high - delta) / (1 - TPR_low)))``
(:func:`privgate.dp_audit_bounds.multi_run_epsilon`; each binomial bound at ``1 - alpha / 2``,
nothing else chosen). A mechanism that differs from the declared one (less noise, another
sample rate) only moves the counts; the threshold never saw them, so the bound stays valid.

:func:`generator_whitebox_audit` runs the same canaries through a DP-SGD generator's OWN
trainer (:meth:`privgate.dp.DPSGDGenerator.trainer`: its accountant, calibration, sampling,
clipping and noise, subclass overrides included), calibrated for the epsilon the generator
claims: a generator whose trainer mis-calibrates (a sample rate the accountant does not see,
noise off) shows it, whatever its model. Measured tightness: ``benchmarks/dp_audit.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray
from scipy import stats
from torch.utils.data import DataLoader, TensorDataset

from privgate.dp.accounting import noise_multiplier_for, spent_epsilon
from privgate.dp.clipping import PrivateModel, private_model
from privgate.dp.generator import DPSGDGenerator
from privgate.dp.loop import run_steps
from privgate.dp_audit_bounds import multi_run_epsilon, one_run_epsilon
from privgate.generator import PrivacyBudget
from privgate.operating_points import CanaryGuesses, OperatingPoint
from privgate.randomness import child_seed, rng
from privgate.schema import Column, Kind, Schema

__all__ = ["WhiteBoxAudit", "generator_whitebox_audit", "threshold_for", "whitebox_audit"]

#: Shares of the canaries guessed "in" (highest scores first) in one run; fixed in advance.
GUESS_SHARES = (0.05, 0.1, 0.25)
#: Simulated scores per class that fix the threshold of a multi-run audit (at least, and at
#: most; ten times the expected trials per class in between).
MIN_SIMULATED, MAX_SIMULATED = 20_000, 2_000_000
#: Candidate thresholds tried on the simulated scores, and binomial draws of each one's counts.
CANDIDATES, DRAWS = 400, 200


@dataclass(frozen=True)
class WhiteBoxAudit:
    """What a white-box audit shows: the epsilon the accountant promised for the schedule, the
    evidence and the largest epsilon it refutes at ``level``. One run: canary guesses
    (Bonferroni over the guess sets); ``runs >= 2``: one operating point over the ``runs *
    canaries`` independent trials at the pre-fixed ``threshold``."""

    claimed_epsilon: float
    delta: float
    noise_multiplier: float
    sample_rate: float
    steps: int
    guesses: tuple[CanaryGuesses, ...]
    epsilon_lower_bound: float
    level: float
    runs: int = 1
    point: OperatingPoint | None = None
    threshold: float | None = None

    @property
    def refuted(self) -> bool:
        return self.epsilon_lower_bound > self.claimed_epsilon


def _scores(moves: NDArray[np.float64], sigma: float, q: float) -> NDArray[np.float64]:
    """Per canary: the log-likelihood ratio of its coordinate's normalised moves (one row per
    step; +1 when sampled, plus N(0, sigma^2)) under "in" against "out"."""
    if sigma <= 0.0:  # no noise: a sampled canary moves its coordinate, nothing else does
        counted: NDArray[np.float64] = (moves > 0.5).sum(axis=0).astype(np.float64)
        return counted
    shifted = (moves - 0.5) / sigma**2  # log N(z; 1, s) - log N(z; 0, s)
    if q >= 1.0:
        return np.asarray(shifted.sum(axis=0), dtype=np.float64)
    ratio: NDArray[np.float64] = np.logaddexp(math.log1p(-q), math.log(q) + shifted).sum(axis=0)
    return ratio


def _simulated(sigma: float, q: float, steps: int, n: int, draws: np.random.Generator,
               inserted: bool) -> NDArray[np.float64]:
    """``n`` scores of canaries in (or out) under the declared mechanism."""
    total = np.zeros(n)
    for _ in range(steps):
        move = draws.normal(0.0, sigma, n) if sigma > 0 else np.zeros(n)
        if inserted:
            move += draws.random(n) < q
        total += _scores(move[None, :], sigma, q)
    return total


def _bounds(k_in: NDArray[Any], n_in: int, k_out: NDArray[Any], n_out: int, delta: float,
            level: float) -> NDArray[np.float64]:
    """:func:`privgate.dp_audit_bounds.rates_epsilon`'s bound, vectorised over the counts of
    trials flagged "in" (0 where nothing is refuted)."""
    a = 1.0 - level
    k1, k0 = np.asarray(k_in, dtype=float), np.asarray(k_out, dtype=float)
    tpr_low = np.where(k1 > 0, stats.beta.ppf(a, np.maximum(k1, 1e-12), n_in - k1 + 1), 0.0)
    fpr_high = np.where(k0 < n_out, stats.beta.ppf(1 - a, k0 + 1, np.maximum(n_out - k0, 1e-12)),
                        1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        first = np.where((tpr_low - delta > 0) & (fpr_high > 0),
                         np.log((tpr_low - delta) / fpr_high), 0.0)
        second = np.where((1 - fpr_high - delta > 0) & (tpr_low < 1),
                          np.log((1 - fpr_high - delta) / (1 - tpr_low)), 0.0)
    return np.asarray(np.maximum(np.maximum(first, second), 0.0), dtype=np.float64)


def threshold_for(sigma: float, q: float, steps: int, n_in: int, n_out: int, delta: float,
                  level: float, seed: int) -> float:
    """The score threshold (flag "in" above it) fixed before any run, from scores simulated
    under the declared mechanism (noise multiplier ``sigma``, sample rate ``q``, ``steps``;
    ten times the trials): of candidate thresholds in both tails, the one whose bound at
    ``level`` is largest at its 20th percentile over binomial draws of ``n_in`` and
    ``n_out`` trials (a robust choice: a far tail with few expected counts is a gamble). A
    function of its arguments only."""
    n = int(min(MAX_SIMULATED, max(MIN_SIMULATED, 10 * max(n_in, n_out))))
    draws = rng(seed, "dp-whitebox", "threshold")
    ins = np.sort(_simulated(sigma, q, steps, n, draws, True))
    outs = np.sort(_simulated(sigma, q, steps, n, draws, False))
    tails = np.geomspace(0.5 / n, 0.5, CANDIDATES // 2)
    candidates = np.unique(np.r_[np.quantile(outs, 1.0 - tails), np.quantile(ins, tails),
                                 np.quantile(np.r_[ins, outs], np.linspace(0, 1, 41))])
    p_in = (n - np.searchsorted(ins, candidates, side="right")) / n
    p_out = (n - np.searchsorted(outs, candidates, side="right")) / n
    k_in = draws.binomial(n_in, p_in[:, None], (len(candidates), DRAWS))
    k_out = draws.binomial(n_out, p_out[:, None], (len(candidates), DRAWS))
    robust = np.quantile(_bounds(k_in, n_in, k_out, n_out, delta, level), 0.2, axis=1)
    median = _bounds(np.round(p_in * n_in), n_in, np.round(p_out * n_out), n_out, delta, 0.5)
    return float(candidates[np.lexsort((median, robust))[-1]])  # ties: the median bound


def _canary_rows(m: int, n_batches: int, seed: int) -> tuple[NDArray[np.float32],
                                                               NDArray[np.int64]]:
    """The training rows (``n_batches * (m + 1)``: each canary ``1000 * e_i`` on its coin, zero
    rows elsewhere) and the coins."""
    draws = rng(seed, "dp-whitebox", "canaries")
    inserted = draws.integers(0, 2, m)
    rows = np.zeros((n_batches * (m + 1), m), dtype=np.float32)
    rows[np.arange(int(inserted.sum())), np.nonzero(inserted)[0]] = 1000.0
    return rows[draws.permutation(len(rows))], inserted


def _watch(m: int) -> tuple[list[NDArray[np.float64]], list[float], Any]:
    """The models seen after each step, the expected batch size, and the hook that records."""
    seen, scale = [np.zeros(m)], [float(m + 1)]

    def watch(p: PrivateModel) -> None:
        seen.append(next(p.module.parameters()).detach().numpy().ravel().astype(float).copy())
        scale[0] = float(getattr(p.optimizer, "expected_batch_size", m + 1) or m + 1)

    return seen, scale, watch


def _run_scores(seen: list[NDArray[np.float64]], scale: float, max_grad_norm: float,
                sigma: float, q: float) -> NDArray[np.float64]:
    """Each canary's score from the models seen (moves normalised to ``+1`` per draw)."""
    return _scores(np.diff(np.stack(seen), axis=0) * scale / max_grad_norm, sigma, q)


def _one_run(scores: NDArray[np.float64], inserted: NDArray[np.int64], delta: float,
             level: float) -> tuple[tuple[CanaryGuesses, ...], float]:
    """The guesses (highest likelihood ratios "in") and the largest epsilon they refute."""
    m = len(inserted)
    order = np.argsort(-scores, kind="mergesort")
    found = tuple(CanaryGuesses(f"'in' for the {k} highest likelihood ratios", m, k,
                                int(inserted[order[:k]].sum()))
                  for k in sorted({max(1, int(round(s * m))) for s in GUESS_SHARES}))
    alpha = (1.0 - level) / len(found)
    return found, max(one_run_epsilon(g.canaries, g.guesses, g.correct, delta, alpha)
                      for g in found)


def _audit(runs: list[tuple[NDArray[np.float64], NDArray[np.int64]]], sigma: float, q: float,
           steps: int, delta: float, level: float, threshold: float | None,
           **claim: Any) -> WhiteBoxAudit:
    """The audit of the runs' ``(scores, coins)``: one-run guesses, or the trials' point."""
    if len(runs) == 1:
        found, bound = _one_run(*runs[0], delta, level)
        return WhiteBoxAudit(guesses=found, epsilon_lower_bound=bound, level=level,
                             noise_multiplier=sigma, sample_rate=q, steps=steps, delta=delta,
                             **claim)
    assert threshold is not None
    scores = np.concatenate([s for s, _ in runs])
    coins = np.concatenate([c for _, c in runs]).astype(bool)
    flagged = scores > threshold
    point = OperatingPoint(
        f"likelihood-ratio threshold fixed in advance (simulated mechanism), counted on all "
        f"{len(runs)} x {len(runs[0][1])} canary trials", int(flagged[coins].sum()),
        int(coins.sum()), int(flagged[~coins].sum()), int((~coins).sum()))
    bound = multi_run_epsilon(point.members_flagged, point.members, point.nonmembers_flagged,
                              point.nonmembers, delta, 1.0 - level)
    return WhiteBoxAudit(guesses=(), epsilon_lower_bound=bound, level=level, runs=len(runs),
                         point=point, threshold=threshold, noise_multiplier=sigma,
                         sample_rate=q, steps=steps, delta=delta, **claim)


def _check(canaries: int, batches: int, epochs: int, runs: int) -> None:
    if canaries < 10 or batches < 2 or epochs < 1 or runs < 1:
        raise ValueError("need canaries >= 10, batches >= 2, epochs >= 1 and runs >= 1")


def _loss(module: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
    out: torch.Tensor = -module(batch).squeeze(-1)
    return out


def _linear(m: int, seed: int) -> torch.nn.Linear:
    torch.manual_seed(child_seed(seed, "dp-whitebox", "init"))
    model = torch.nn.Linear(m, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    return model


def _run_seeds(seed: int, runs: int) -> list[int]:
    """Run ``r``'s seed (one run: ``seed`` itself)."""
    return [seed] if runs == 1 else [child_seed(seed, "dp-whitebox", "run", r)
                                     for r in range(runs)]


def _fixed_threshold(sigma: float, q: float, steps: int, m: int, runs: int, delta: float,
                     level: float, seed: int) -> float | None:
    """The multi-run threshold, fixed before any run (``None`` for one run)."""
    if runs == 1:
        return None
    half = int(round(runs * m / 2))
    return threshold_for(sigma, q, steps, half, runs * m - half, delta,
                         1.0 - (1.0 - level) / 2.0, seed)


def whitebox_audit(epsilon: float, delta: float = 1e-5, *, canaries: int = 500,
                   batches: int = 10, epochs: int = 2, max_grad_norm: float = 1.0,
                   mode: str = "hooks", accountant: str = "rdp", seed: int = 0,
                   level: float = 0.95, noise_multiplier: float | None = None,
                   runs: int = 1) -> WhiteBoxAudit:
    """``runs`` white-box runs at the noise calibrated for ``epsilon`` (or at
    ``noise_multiplier``, to audit a broken setting against the ``epsilon`` still claimed)."""
    _check(canaries, batches, epochs, runs)
    m, n_batches = int(canaries), int(batches)
    q, steps = 1.0 / n_batches, int(epochs) * n_batches
    sigma = (noise_multiplier_for(epsilon, delta, q, steps, accountant)
             if noise_multiplier is None else float(noise_multiplier))
    threshold = _fixed_threshold(sigma, q, steps, m, runs, delta, level, seed)
    found = []
    for run_seed in _run_seeds(seed, runs):
        rows, inserted = _canary_rows(m, n_batches, run_seed)
        model = _linear(m, run_seed)
        loader = DataLoader(TensorDataset(torch.from_numpy(rows)), batch_size=m + 1,
                            generator=torch.Generator().manual_seed(
                                child_seed(run_seed, "dp-whitebox", "batches")))
        private, batched = private_model(
            model, torch.optim.SGD(model.parameters(), lr=1.0), loader, mode=mode,
            noise_multiplier=sigma, max_grad_norm=max_grad_norm, accountant=accountant,
            noise=torch.Generator().manual_seed(child_seed(run_seed, "dp-whitebox", "noise")),
            owner="white-box audit")
        seen, scale, watch = _watch(m)
        run_steps(private, batched, steps, _loss, after_step=watch)
        found.append((_run_scores(seen, scale[0], max_grad_norm, sigma, q), inserted))
    claimed = (spent_epsilon(sigma, q, steps, delta, accountant) if noise_multiplier is None
               else float(epsilon))
    return _audit(found, sigma, q, steps, delta, level, threshold, claimed_epsilon=claimed)


class _TrainerRun:
    """One run through the generator's trainer: planned on construction (the schedule is
    known before any step), trained by :meth:`scores`."""

    def __init__(self, generator: DPSGDGenerator, params: dict[str, Any],
                 budget: PrivacyBudget, m: int, n_batches: int, seed: int) -> None:
        self.m, self.seed = m, seed
        self.trainer = generator.trainer(params, budget, seed, batch_size=m + 1)
        self.rows, self.inserted = _canary_rows(m, n_batches, seed)
        self.trainer.prepare(pd.DataFrame({"x": np.zeros(len(self.rows))}),
                             Schema((Column("x", Kind.CONTINUOUS, bounds=(0.0, 1.0)),)))
        sch = self.trainer.plan(len(self.rows), batch_size=m + 1)
        self.declared = (float(sch.noise_multiplier), float(sch.sample_rate), int(sch.steps))

    def scores(self) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Train; each canary's score and the coins."""
        seen, scale, watch = _watch(self.m)
        model = _linear(self.m, self.seed)
        self.trainer.train(model, torch.optim.SGD(model.parameters(), lr=1.0),
                           torch.from_numpy(self.rows), _loss, after_step=watch,
                           on_step=lambda done, total: None)
        sigma, q, _ = self.declared
        return (_run_scores(seen, scale[0], self.trainer.settings.max_grad_norm, sigma, q),
                self.inserted)


def generator_whitebox_audit(generator: DPSGDGenerator, epsilon: float, delta: float, *,
                             canaries: int = 1000, batches: int = 10, epochs: int = 20,
                             seed: int = 0, level: float = 0.95, runs: int = 1,
                             on_run: Callable[[int, int], None] | None = None
                             ) -> WhiteBoxAudit:
    """Dirac canaries through ``generator``'s own trainer in ``runs`` runs, its noise
    calibrated for the (``epsilon``, ``delta``) it claims, ``epochs`` passes of ``batches``
    expected batches (the generator's other DP-SGD parameters as set); the claim audited is
    the epsilon the trainer then reports (the largest over the runs). ``on_run(done, runs)``
    is told after each run."""
    _check(canaries, batches, epochs, runs)
    m, n_batches = int(canaries), int(batches)
    params = {**generator.checked_params(), "epochs": int(epochs)}
    budget = PrivacyBudget(epsilon, delta)
    found: list[tuple[NDArray[np.float64], NDArray[np.int64]]] = []
    claimed, spent_delta = 0.0, float(delta)
    declared: tuple[float, float, int] | None = None
    threshold: float | None = None
    for done, run_seed in enumerate(_run_seeds(seed, runs), start=1):
        run = _TrainerRun(generator, params, budget, m, n_batches, run_seed)
        if declared is None:  # the threshold: from the declared schedule, before any step
            declared = run.declared
            threshold = _fixed_threshold(*declared, m, runs, delta, level, seed)
        elif run.declared != declared:
            raise RuntimeError("the trainer planned another schedule in another run")
        found.append(run.scores())
        spent = run.trainer.privacy_spent()
        claimed, spent_delta = max(claimed, float(spent.epsilon)), float(spent.delta)
        if on_run is not None:
            on_run(done, runs)
    assert declared is not None
    return _audit(found, *declared, spent_delta, level, threshold, claimed_epsilon=claimed)
