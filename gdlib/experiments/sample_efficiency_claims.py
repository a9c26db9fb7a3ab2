"""Claim C10 of notebook 06 (Sec. 3.2, Fig. 5c): how the data needed for 60% accuracy grows with N, decided on
the 2D bumps needed, with the gates and null worlds it is measured beside. The sweep and the models' accuracies
are :mod:`gdlib.experiments.sample_efficiency`.

Choices where the paper is silent (the notebook repeats them):

- **Threshold crossing**: the first sweep point at or above the threshold and the point before it,
  linear interpolation of accuracy in log(size); NaN when the curve never reaches the threshold, and a
  censored value (status ``"below_range"``, the smallest size as an upper bound) when already the
  smallest size reaches it. Only crossings inside the sweep enter the fit.
- **Slope**: ordinary least squares of log(size) on log(N) over every (N, seed) crossing; its standard
  error sqrt(RSS / (k - 2) / Sxx) (NaN with fewer than three points). With several seeds the scatter
  between seeds enters the residuals. The slope gap's 95% t interval combines both fits' errors.
- **Still learning** (:func:`still_learning_gates`): C10's crossings are read from every model's accuracy, so C10
  is decided only when every model of the sweep has stopped learning (:func:`gdlib.curves.still_learning`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.stats import linregress

from gdlib.checks import check_choice
from gdlib.claims import Gate, Outcome, Part
from gdlib.crossing import threshold_crossing
from gdlib.curves import STILL_LEARNING_TOLERANCE, Curve, still_learning
from gdlib.experiments.sample_efficiency import DATASETS, PAPER_SLOPES, THRESHOLD, SweepPoint
from gdlib.intervals import part_at_least, part_within, slope_difference, t_interval


def null_world(planned: pd.DataFrame, kind: str, column: str = "acc_all_strict", width: float = 0.5) -> pd.DataFrame:
    """A synthetic accuracy table on the sweep's real training sets, for C10's null worlds.

    Accuracy is a logistic function of log10(percent of bumps kept) alone, 50% at the geometric middle of
    the swept percentages, with ``width`` decades of spread. ``kind``: "stripes do nothing" (the augmented
    sets get the baseline's accuracy at the same percentage) or "stripes hurt" (the augmented sets need
    three times the percentage). Either way the bumps needed grow like the bump count at a fixed
    percentage, i.e. like N^2 for both data sets."""
    check_choice("kind", kind, NULL_WORLDS)
    logp = np.log10(planned["percent"].to_numpy(float))
    middle = (logp.min() + logp.max()) / 2
    shift = np.where((planned["dataset"] == "augmented") & (kind == "stripes hurt"), np.log10(3.0), 0.0)
    out = planned.copy()
    out[column] = 1.0 / (1.0 + np.exp(-(logp - middle - shift) / (width / 4)))
    return out


NULL_WORLDS = ("stripes do nothing", "stripes hurt")


# the 60% threshold -------------------------------------------------------------------------------
def crossings(results: pd.DataFrame, size_column: str = "images", accuracy_column: str = "acc_all_strict",
              threshold: float = THRESHOLD) -> pd.DataFrame:
    """One :func:`threshold_crossing` per (data set, N, seed), over the percentages of the sweep."""
    rows = []
    for (dataset, n, seed), g in results.groupby(["dataset", "N", "seed"], sort=True):
        c = threshold_crossing(g[size_column].to_numpy(float), g[accuracy_column].to_numpy(float), threshold)
        rows.append({"dataset": dataset, "N": int(n), "seed": int(seed), "size_needed": c.size,
                     "status": c.status, "bound": c.bound})
    return pd.DataFrame(rows, columns=["dataset", "N", "seed", "size_needed", "status", "bound"])


# the log-log slope -------------------------------------------------------------------------------
@dataclass(frozen=True)
class PowerLawFit:
    """size = exp(intercept) * N ** slope, fitted by least squares in log-log; ``stderr`` of the slope."""

    slope: float
    stderr: float
    intercept: float
    points: int

    def predict(self, n: np.ndarray | float) -> np.ndarray:
        return np.exp(self.intercept) * np.asarray(n, dtype=np.float64) ** self.slope

    def describe(self) -> str:
        if not math.isfinite(self.slope):
            return f"no fit ({self.points} point{'s' * (self.points != 1)})"
        if math.isfinite(self.stderr):
            return f"slope {self.slope:.2f} +- {self.stderr:.2f} ({self.points} points)"
        return f"slope {self.slope:.2f} ({self.points} points, no error)"


def fit_power_law(n: Sequence[float], size: Sequence[float]) -> PowerLawFit:
    """Least-squares line through (log N, log size) over the finite positive points (``scipy.stats.linregress``),
    with the slope's standard error; the error is NaN with two points, and the whole fit NaN with fewer than
    two distinct N."""
    x = np.asarray(n, dtype=np.float64)
    y = np.asarray(size, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    x, y = np.log(x[ok]), np.log(y[ok])
    k = len(x)
    if k < 2 or np.unique(x).size < 2:
        return PowerLawFit(math.nan, math.nan, math.nan, k)
    fit = linregress(x, y)
    return PowerLawFit(float(fit.slope), float(fit.stderr) if k > 2 else math.nan, float(fit.intercept), k)


def fit_slopes(cross: pd.DataFrame) -> dict[str, PowerLawFit]:
    """One :func:`fit_power_law` per data set over its crossings inside the sweep (status "crossed")."""
    out = {}
    for dataset in DATASETS:
        g = cross[(cross["dataset"] == dataset) & (cross["status"] == "crossed")]
        out[dataset] = fit_power_law(g["N"].to_numpy(float), g["size_needed"].to_numpy(float))
    return out


def _no_decision(name: str, reason: str, models: tuple[str, ...]) -> Part:
    """A part the sweep did not measure (``reason``: a slope without a standard error, crossings below the sweep):
    it straddles, so the claim cannot tell rather than fail."""
    return Part(f"{name} ({reason}: no decision)", False, models, straddles=True)


def bumps_needed(results: pd.DataFrame, column: str = "acc_all_strict", threshold: float = THRESHOLD,
                 min_gap: float = 0.7, tolerance: float = 0.5, paper: Mapping[str, float] = PAPER_SLOPES) -> Outcome:
    """C10, decided on the paper's mechanism: the number of 2D **bumps** needed for ``threshold`` accuracy
    grows like N^2 without stripes (baseline slope within ``tolerance`` of the paper's 2) and clearly more
    slowly with them (baseline slope minus augmented slope >= ``min_gap`` over the gap's 95% t interval from
    both fits' standard errors, :func:`gdlib.intervals.slope_difference`; an interval straddling ``min_gap``, or
    a fit of two points without an error, cannot tell). Slopes are fitted over the crossings inside the sweep;
    a slope that cannot be fitted fails. The baseline slope's tolerance is read on its 95% t interval (issue 22): it
    passes when the whole interval lies within ``tolerance`` of 2, cannot tell when the interval only overlaps that
    band (with 3 sizes and one seed, one degree of freedom, t = 12.7: nearly always), fails when it lies outside;
    a fit of two points has no interval and cannot tell. A slope that cannot be fitted because some of its data
    set's crossings lie below the sweep (its smallest percentage already reaches ``threshold``: censored, an upper
    bound) cannot tell either, for both parts that read it: the sweep did not measure it, which is no failure (a data
    set that never reaches ``threshold``, a blank generator's, still fails). The total-size
    slopes (Fig. 5c's axis) are reported beside them: the stripe count, fixed per N, pins the augmented total
    whatever the model does, so they cannot decide."""
    cross = crossings(results, "bumps", column, threshold)
    fits = fit_slopes(cross)
    totals = fit_slopes(crossings(results, "images", column, threshold))
    b, a = fits["baseline"], fits["augmented"]
    # a slope left unfitted by crossings below the sweep (censored: upper bounds) was not measured: no decision
    below = {d: int(((cross["dataset"] == d) & (cross["status"] == "below_range")).sum()) for d in DATASETS}
    unfitted = [d for d in DATASETS if not math.isfinite(fits[d].slope)]
    censored = "; ".join(f"{d}: {below[d]} crossing{'s' * (below[d] != 1)} below the sweep" for d in unfitted)
    gap = slope_difference(b.slope, b.stderr, b.points - 2, a.slope, a.stderr, a.points - 2)
    name = f"baseline - augmented bump slope {gap.text(lambda v: f'{v:.2f}')} >= {min_gap:g}"
    if math.isfinite(gap.value) and not gap.known:  # two points a fit: a slope without an error decides nothing
        gap_part = _no_decision(name, "no standard error", ("baseline", "augmented"))
    elif unfitted and all(below[d] for d in unfitted):
        gap_part = _no_decision(name, censored, ("baseline", "augmented"))
    else:
        gap_part = part_at_least(name, gap, min_gap, ("baseline", "augmented"))
    slope = t_interval(b.slope, b.stderr, b.points - 2)
    slope_name = f"baseline bump slope {slope.text(lambda v: f'{v:.2f}')} within {tolerance:g} of {paper['baseline']:g}"
    if math.isfinite(b.slope) and not slope.known:  # two points: a slope without an error decides nothing
        slope_part = _no_decision(slope_name, "no standard error", ("baseline",))
    elif not math.isfinite(b.slope) and below["baseline"]:
        slope_part = _no_decision(slope_name, f"baseline: {below['baseline']} crossing"
                                  f"{'s' * (below['baseline'] != 1)} below the sweep", ("baseline",))
    else:
        slope_part = part_within(slope_name, slope, paper["baseline"] - tolerance, paper["baseline"] + tolerance,
                                 ("baseline",))
    parts = (slope_part, gap_part)
    measured = (f"bumps needed: baseline {b.describe()}, augmented {a.describe()}; total images needed (Fig. 5c): "
                f"baseline {totals['baseline'].describe()}, augmented {totals['augmented'].describe()}")
    return Outcome(parts, measured)


def full_data_gates(results: pd.DataFrame, column: str = "acc_id_strict", threshold: float = 0.6) -> list[Gate]:
    """C10 rests on models that can learn the task: per data set, the worst in-distribution strict joint
    accuracy of its 100% models over the sizes (and seeds) must reach ``threshold``."""
    full = results[results["percent"] == results["percent"].max()]
    return [Gate(dataset, f"worst in-distribution strict joint accuracy at {full['percent'].max():g}% over N",
                 float(full.loc[full["dataset"] == dataset, column].min()), threshold) for dataset in DATASETS]


def still_learning_gates(points: Sequence[SweepPoint], curves: Mapping[str, Curve],
                         tolerance: float = STILL_LEARNING_TOLERANCE) -> list[Gate]:
    """C10's still-learning gates: one per model of the sweep, :func:`gdlib.curves.still_learning` of its curve
    (``curves`` by key: :func:`gdlib.experiments.sample_efficiency.learning_curves`, the accuracy the crossing reads).

    The choice (issue 20): every crossing, and so both slopes, is read from the accuracy of every model of its data
    set (which sweep point first reaches 60%, and the points around it, depend on all of them), so C10 is decided
    only when **every** model's accuracy moved by less than ``tolerance`` over the last doubling of its steps. A
    gate is named by the model's data set (``Gate.model``), since the parts of :func:`bumps_needed` rest on data
    sets, and names the sweep point in its metric: a model still learning leaves the parts of its data set "not
    decided: still learning at S steps" (:func:`gdlib.claims.verdict`), and a baseline part can still fail while an
    augmented model is learning."""
    gates = []
    for p in points:
        gate = still_learning(curves[p.key], tolerance)
        gates.append(replace(gate, model=p.dataset, metric=f"N={p.n} {p.percent:g}% seed {p.seed}, {gate.metric}"))
    return gates


def curve_results(planned: pd.DataFrame, curves: Mapping[str, Curve], index: int,
                  column: str = "acc_all_strict") -> pd.DataFrame:
    """``planned`` (:func:`gdlib.experiments.sample_efficiency.planned_table`) with ``column`` set to every model's
    value at the ``index``-th point of its learning curve (``-1``: the end), and ``steps`` to that point's steps: the
    sweep as it stood part-way through training, for the crossings and slopes of C10 along the runs."""
    out = planned.copy()
    out[column] = [curves[k].values[index] for k in out["key"]]
    out["steps"] = [curves[k].steps[index] for k in out["key"]]
    return out


def slopes_along(planned: pd.DataFrame, curves: Mapping[str, Curve], column: str = "acc_all_strict",
                 threshold: float = THRESHOLD) -> pd.DataFrame:
    """C10's numbers part-way through training: at each point of the learning curves (the same fraction of every
    model's steps), the bump slopes (:func:`fit_slopes` of the crossings) of both data sets and their gap."""
    count = min(len(c.steps) for c in curves.values())
    rows = []
    for i in range(-count, 0):
        table = curve_results(planned, curves, i, column)
        fits = fit_slopes(crossings(table, "bumps", column, threshold))
        rows.append({"steps": ", ".join(f"N={n}: {s:,}" for n, s in table.groupby("N")["steps"].first().items()),
                     **{f"{d} bump slope": fits[d].slope for d in DATASETS},
                     "gap": fits["baseline"].slope - fits["augmented"].slope})
    return pd.DataFrame(rows)


__all__ = [
    "still_learning_gates", "curve_results", "slopes_along",
    "NULL_WORLDS", "null_world", "crossings", "PowerLawFit", "fit_power_law", "fit_slopes", "bumps_needed",
    "full_data_gates",
]
