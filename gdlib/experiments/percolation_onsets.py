"""C11 of notebook 07 (Sec. 3.3, App. D; Fig. 6c, 13): the percolation simulation's onsets against numbers read off
the paper's figures, each read on its bootstrap interval over the simulation's repeats, and C11's null simulations.

Choice where the paper is silent: the onset of a curve is the first lambda whose mean mass ratio exceeds a level
(:func:`gdlib.crossing.threshold_crossing`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gdlib.checks import check_choice
from gdlib.claims import Outcome, Part
from gdlib.crossing import threshold_crossing
from gdlib.percolation import PercolationResult


def onset(lambdas: Sequence[float], curve: np.ndarray, level: float = 0.5) -> float:
    """The first lambda whose mass ratio in ``curve`` exceeds ``level``; inf where none does."""
    return threshold_crossing(lambdas, curve, level, inclusive=False).first


def percolation_onsets(result: PercolationResult, level: float = 0.5) -> np.ndarray:
    """Onset lambda (first mean mass ratio above ``level``) per (threshold, sigma); inf where it never is."""
    return np.array([[onset(result.lambdas, result.mean[i, j], level) for j in range(len(result.sigmas))]
                     for i in range(len(result.thresholds))])


def onset_table(result: PercolationResult, level: float = 0.5) -> pd.DataFrame:
    """:func:`percolation_onsets` as a table: one row per threshold, one column per sigma ("never" where none)."""
    onsets = percolation_onsets(result, level)
    return pd.DataFrame([{"threshold": t, **{f"sigma {s:g}": format_onset(v) for s, v in zip(result.sigmas, row)}}
                         for t, row in zip(result.thresholds, onsets)])


def format_onset(v: float) -> str:
    return "never" if math.isinf(v) else f"{v:g}"


def non_increasing(values: np.ndarray) -> bool:
    v = np.asarray(values, dtype=np.float64)
    return bool(np.all((v[1:] <= v[:-1]) | (np.isinf(v[1:]) & np.isinf(v[:-1]))))


#: Bootstrap draws of the repeats for an onset's interval (:func:`onset_interval`).
ONSET_DRAWS = 2000


def onset_interval(result: PercolationResult, i: int, j: int, level: float = 0.5, draws: int = ONSET_DRAWS,
                   seed: int = 0) -> tuple[float, float, float]:
    """(onset, low, high) of threshold ``i`` and sigma ``j`` (issue 22, item 5): the onset of the mean over repeats
    and the 2.5% and 97.5% quantiles of the onsets of ``draws`` bootstrap means (repeats drawn with replacement,
    seeded). The onset lies on the lambda grid, inf where a curve never percolates; without repeats the interval
    is the onset itself (a null world: nothing varies)."""
    point = onset(result.lambdas, result.mean[i, j], level)
    if result.ratios is None or result.ratios.shape[-1] < 2:
        return point, point, point
    per_repeat = result.ratios[i, j]  # (lambdas, repeats)
    r = per_repeat.shape[-1]
    pick = np.random.default_rng(seed).integers(0, r, size=(draws, r))
    boot = np.array([onset(result.lambdas, per_repeat[:, row].mean(axis=-1), level) for row in pick])
    # quantiles of values that may be inf: sort and index (np.percentile would interpolate inf into nan)
    boot.sort()
    return point, float(boot[int(0.025 * (draws - 1))]), float(boot[int(math.ceil(0.975 * (draws - 1)))])


@dataclass(frozen=True)
class Expectation:
    """A number read off the paper's Fig. 6c / Fig. 13 that the simulation must reproduce: at overlap
    ``threshold`` the onset lambda of ``sigma`` (first mean mass ratio above the percolation level) lies in
    [``low``, ``high``] (``high`` = inf and ``low`` = inf: it never percolates)."""

    threshold: float
    sigma: float
    low: float
    high: float

    def describe(self) -> str:
        if math.isinf(self.low):
            return f"sigma {self.sigma:g} never percolates at threshold {self.threshold:g}"
        return f"sigma {self.sigma:g} at threshold {self.threshold:g}: onset in [{self.low:g}, {self.high:g}]"


def _meets(e: Expectation, onset: float) -> bool:
    return math.isinf(onset) if math.isinf(e.low) else bool(e.low - 1e-9 <= onset <= e.high + 1e-9)


def simulation_reproduces(result: PercolationResult, expectations: Sequence[Expectation],
                          level: float = 0.5) -> Outcome:
    """C11, a reproduction of the simulation of Fig. 6c / 13 (not a measured finding about models): every
    expected onset (:class:`Expectation`) is met by the simulation's onsets (:func:`percolation_onsets`), read on
    the onset's bootstrap interval over the repeats (:func:`onset_interval`): a part passes when the whole interval
    lies in the expected range (for "never": every bootstrap onset is never), clearly fails when it lies wholly
    outside, and straddles otherwise."""
    onsets = percolation_onsets(result, level)
    parts = []
    for e in expectations:
        got, low, high = onset_interval(result, result.thresholds.index(e.threshold), result.sigmas.index(e.sigma),
                                        level)
        ok, outside = _meets(e, low) and _meets(e, high), not _meets(e, low) and not _meets(e, high)
        # an interval may also jump over a finite range ([0.05, never] around [0.1, 0.3]): that reaches it too
        across = not math.isinf(e.low) and low < e.low - 1e-9 and high > e.high + 1e-9
        text = format_onset(got) if low == high == got else \
            f"{format_onset(got)} [{format_onset(low)}, {format_onset(high)}]"
        parts.append(Part(f"{e.describe()} (simulated: {text})", ok, straddles=not ok and (not outside or across)))
    table = "; ".join(f"threshold {t:g}: " + ", ".join(f"sigma {s:g} -> {format_onset(onsets[i, j])}"
                                                         for j, s in enumerate(result.sigmas))
                      for i, t in enumerate(result.thresholds))
    return Outcome(tuple(parts), f"onset lambda (mean mass ratio > {level:g}): {table}")


NULL_SIMULATIONS = ("nothing overlaps", "everything overlaps")


def null_simulation(result: PercolationResult, kind: str, n: int) -> PercolationResult:
    """C11's null worlds on the same grid: no pair of bumps overlaps (the largest cluster is one point), or
    every pair does (one cluster holds everything)."""
    check_choice("kind", kind, NULL_SIMULATIONS)
    counts = np.array([max(1, int(round(lam * n * n))) for lam in result.lambdas], dtype=np.float64)
    mean = np.broadcast_to(1.0 / counts if kind == NULL_SIMULATIONS[0] else np.ones_like(counts),
                           result.mean.shape).copy()
    return PercolationResult(result.thresholds, result.sigmas, result.lambdas, mean, np.zeros_like(mean))


__all__ = ["format_onset", "non_increasing", "onset", "percolation_onsets", "onset_table", "ONSET_DRAWS",
           "onset_interval", "Expectation", "simulation_reproduces", "NULL_SIMULATIONS", "null_simulation"]
