"""The claims of notebook 07 about models (Sec. 3.3, App. D; Fig. 6e, 14c): C12 on the lattice centres a model
never saw; C12b on how wide a
generated sigma = 0.1 bump is; C12c on the final losses; and their controls (a flat-loss null world, and
:func:`gdlib.experiments.percolation.collect_results` with ``source=...``). C11, the simulation of Fig. 6c / 13
against numbers read off the paper's figures, is :mod:`gdlib.experiments.percolation_onsets`.

Choices where the paper is silent:
- Width of a bump: :func:`gdlib.accuracy.bump_width`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from gdlib.accuracy import BumpWidth, bump_width, correct, strict
from gdlib.checks import check_range
from gdlib.claims import Gate, Outcome, Part
from gdlib.config import TrainConfig
from gdlib.crossing import threshold_crossing
from gdlib.experiments.percolation import SweepTable
from gdlib.experiments.percolation_onsets import format_onset, non_increasing
from gdlib.images import render
from gdlib.intervals import Interval, bootstrap, linear_rise, median_interval, part_at_least
from gdlib.regions import nearest_indices
from gdlib.runs import evaluate
from gdlib.tables import pct


def sigma_name(sigma: float) -> str:
    return f"sigma {sigma:g}"


def training_gates(table: SweepTable, threshold: float = 0.6) -> list[Gate]:
    """C12's training-centre gates: for every sigma, the model at the largest lambda reaches ``threshold`` strict
    joint accuracy on its seen centres (every seed's). Its still-learning gates: :mod:`.percolation_curves`."""
    j = int(np.argmax(table.lambdas))
    seen = table.lowest.get("accuracy_seen", table.values["accuracy_seen"])
    return [Gate(sigma_name(s), f"strict accuracy on the training centres at lambda {table.lambdas[j]:g}",
                 float(seen[i, j]), threshold) for i, s in enumerate(table.sigmas)]


def _unseen_rise(table: SweepTable, i: int, first: int, last: int, cells: int | None) -> Interval:
    """Unseen accuracy at lambda ``last`` minus at ``first``, bootstrapped over the unseen centres (cells - n_train
    of them per seed; ``cells`` defaults to n_train / lambda, the lattice's size)."""
    acc, n_train = table.values["accuracy_unseen"], table.values["n_train"]
    total = cells if cells is not None else max(round(n_train[i, j] / table.lambdas[j]) for j in (first, last))
    n = [max(total - n_train[i, j], 0) * table.seeds for j in (first, last)]
    return bootstrap(lambda a, b: b - a, [(acc[i, first], n[0]), (acc[i, last], n[1])])


def learns_unseen(table: SweepTable, level: float, small_sigma: float, late_lambda: float,
                  cells: int | None = None) -> Outcome:
    """C12 on the centres a model never saw (a memoriser scores 0 there at every lambda): for every sigma
    the strict unseen accuracy at the largest lambda that leaves unseen centres exceeds that at the smallest;
    the onset (first lambda with unseen accuracy >= ``level``) never increases with sigma; and ``small_sigma``
    has a finite onset, no earlier than ``late_lambda`` (paper: learnt at lambda 0.8-0.9). The rise must clear 0
    over its 95% bootstrap interval (over the ``cells`` - n_train unseen centres); the onsets are point values."""
    acc = table.values["accuracy_unseen"]
    cols = [j for j in range(len(table.lambdas)) if np.all(np.isfinite(acc[:, j]))]
    lambdas = [table.lambdas[j] for j in cols]
    onsets = np.array([threshold_crossing(lambdas, acc[i, cols], level).first
                       for i in range(len(table.sigmas))])
    first, last = cols[0], cols[-1]
    rises = [_unseen_rise(table, i, first, last, cells) if len(cols) > 1 else Interval(math.nan, math.nan, math.nan)
             for i in range(len(table.sigmas))]
    parts = [part_at_least(f"{sigma_name(s)}: unseen rises {rises[i].text(lambda v: pct(v, 1))} from lambda "
                           f"{lambdas[0]:g} to {lambdas[-1]:g} > 0", rises[i], 1e-9, (sigma_name(s),))
             for i, s in enumerate(table.sigmas)]
    parts.append(Part("onset non-increasing in sigma (" + ", ".join(
        f"{s:g}: {format_onset(o)}" for s, o in zip(table.sigmas, onsets)) + ")", non_increasing(onsets),
        tuple(sigma_name(s) for s in table.sigmas)))
    small = onsets[table.sigmas.index(small_sigma)] if small_sigma in table.sigmas else math.inf
    parts.append(Part(f"{sigma_name(small_sigma)} onset {format_onset(small)} finite and >= {late_lambda:g}",
                      bool(math.isfinite(small) and small >= late_lambda - 1e-9), (sigma_name(small_sigma),)))
    measured = "; ".join(f"{sigma_name(s)}: unseen " + ", ".join(pct(acc[i, j], 1) for j in cols)
                         + f" (seen {', '.join(pct(table.values['accuracy_seen'][i, j], 1) for j in cols)})"
                         for i, s in enumerate(table.sigmas))
    at = ", ".join(f"{lam:g}" for lam in lambdas)
    return Outcome(tuple(parts), f"strict joint accuracy at lambda {at}: {measured}")


MIN_POINTS = 5  # issue 22: with three lambda points noise alone gives r >= 0.8 about 20% of the time


def losses_rise(table: SweepTable, min_r: float = 0.8, min_rise: float = 0.05) -> Outcome:
    """Fig. 14c: for every sigma both final losses grow with the number of training images, nearly linearly:
    Pearson r(image count, loss) >= ``min_r`` (a point value: it describes the shape) and the fitted rise from the
    fewest to the most images (:func:`gdlib.intervals.linear_rise`) at least ``min_rise`` over its 95% t interval.
    NaN losses (the validation loss at lambda = 1) are left out; flat losses fail; with fewer than
    :data:`MIN_POINTS` points the part cannot decide (it straddles)."""
    parts = []
    for i, sigma in enumerate(table.sigmas):
        for key in ("train_loss", "val_loss"):
            x, y = table.values["n_train"][i], table.values[key][i]
            keep = np.isfinite(y)
            name = f"{sigma_name(sigma)} {key.split('_')[0]}"
            flat = not keep.any() or np.ptp(y[keep]) == 0  # no rise at all: fails clearly
            if flat or keep.sum() < MIN_POINTS:
                parts.append(Part(f"{name}: {keep.sum()} points{', flat' if flat else ''} (fewer than {MIN_POINTS}: no "
                                  "decision)", False, (sigma_name(sigma),), straddles=not flat))
                continue
            r, rise = linear_rise(x[keep], y[keep])
            ok, straddles = rise.at_least(min_rise)
            parts.append(Part(f"{name}: r {r:.2f} >= {min_r:g}, fitted rise {rise.text(lambda v: f'{v:+.1%}')} >= "
                              f"{min_rise:.0%}", ok and r >= min_r, (sigma_name(sigma),), straddles and r >= min_r))
    measured = "; ".join(f"{sigma_name(s)} {key.split('_')[0]}: " + ", ".join(f"{v:.4f}" for v in table.values[key][i])
                         for i, s in enumerate(table.sigmas) for key in ("train_loss", "val_loss"))
    return Outcome(tuple(parts), measured)


def flat_losses(table: SweepTable) -> SweepTable:
    """C12c's null world: the same table with every loss replaced by its sigma's mean (losses that do not
    depend on the amount of data)."""
    vals = dict(table.values)
    for key in ("train_loss", "val_loss"):
        v = np.array(vals[key], dtype=np.float64)
        vals[key] = np.where(np.isfinite(v), np.nanmean(v, axis=1, keepdims=True), np.nan)
    return replace(table, values=vals)


@dataclass(frozen=True)
class WidthEvidence:
    """Fig. 6d: the ground truth and the generated bump at ``centre``, and the widths over all correctly
    placed final samples of the model (App. A.3), with their medians (NaN when none is correct)."""

    centre: tuple[float, float]
    truth_image: np.ndarray
    generated_image: np.ndarray
    truth: BumpWidth
    generated: BumpWidth
    placed: list[BumpWidth]
    median_half_max: float
    median_sigma: float


def width_evidence(cfg: TrainConfig, name: str, centre: tuple[float, float] | None = None,
                   window: int = 3, ev=None) -> WidthEvidence:
    """Measure how wide the trained model draws its bumps next to the training formula's (Fig. 6d).

    ``centre`` defaults to (N/2, N/2) (the paper's (16, 16) at N = 32). ``ev``: another evaluation of the
    same centres (a control generator's) instead of the model's."""
    n = cfg.data.n
    centre = (n / 2, n / 2) if centre is None else (float(centre[0]), float(centre[1]))
    ev = evaluate(cfg, name, "final", layers=()) if ev is None else ev
    i = int(nearest_indices(np.array([centre]), ev.labels)[0])
    truth_image = ground_truth_bump(n, cfg.data.sigma_x, centre)
    ok = correct(ev.labels, ev.centres, valid=strict(ev.method)).all(axis=1)
    placed = [bump_width(im, window) for im in ev.images[ok]]
    med = (lambda v: float(np.median(v)) if len(v) else float("nan"))
    return WidthEvidence(centre, truth_image, ev.images[i], bump_width(truth_image, window),
                         bump_width(ev.images[i], window), placed,
                         med([w.half_max_pixels for w in placed]), med([w.sigma for w in placed]))


def wider_than_truth(w: WidthEvidence) -> Outcome:
    """C12b: the median half-maximum area of the correctly placed (strict) samples exceeds the ground truth's
    (no correctly placed sample fails)."""
    median = median_interval([p.half_max_pixels for p in w.placed])
    return Outcome((part_at_least(f"median half-max {median.text(lambda v: f'{v:g}')} px over {len(w.placed)} "
                                  f"correctly placed samples > ground truth {w.truth.half_max_pixels} px", median,
                                  w.truth.half_max_pixels + 1e-9),),
                   f"median over {len(w.placed)} correctly placed samples: half-max {w.median_half_max:g} px, sigma "
                   f"{w.median_sigma:.2f}; at {w.centre}: half-max {w.generated.half_max_pixels} px (ground truth "
                   f"{w.truth.half_max_pixels} px, sigma {w.truth.sigma:.2f})")


def ground_truth_bump(n: int, sigma: float, centre: tuple[float, float]) -> np.ndarray:
    """The training formula's bump (uint8, N x N) at ``centre`` (plane)."""
    check_range("sigma", sigma, 0, math.inf, low_open=True)
    return render("bump", [centre[0]], [centre[1]], n, sigma, sigma)[0]


__all__ = ["sigma_name", "training_gates", "learns_unseen", "MIN_POINTS", "losses_rise", "flat_losses",
           "WidthEvidence", "width_evidence", "wider_than_truth", "ground_truth_bump"]
