"""Figures of the composition experiments (notebook 05; Sec. 3.2, App. C.2-C.4): the training sets' layouts
(Fig. 4 a-b, 9 e-h, 11a, 12 a-b), accuracy per test region (Fig. 4 c-e, 10 b, e), accuracy against a swept
value (Fig. 4g, 11b, 12 c-f) and samples in the test regions (Fig. 10 c, f). Scores averaged over several seeds
(:mod:`gdlib.seeds`) are drawn with their spread as error bars."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from gdlib.accuracy import ALL, OOD, Accuracy
from gdlib.datasets import training_labels
from gdlib.experiments.composition import CROSS_PARTS, ModelSpec
from gdlib.images import render
from gdlib.plots.data import plot_latent_layout
from gdlib.regions import IN_DISTRIBUTION, HoldOut
from gdlib.runs import Evaluation


def plot_layouts(models: Sequence[ModelSpec], display_d: float | None = None, ncols: int = 4,
                 size: float = 2.8) -> plt.Figure:
    """The training centres of every model on the latent plane, hold-outs in red (Fig. 4 a-b, 9 e-h, 11a, 12 a-b)."""

    nrows = math.ceil(len(models) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3), squeeze=False)
    for ax, m in zip(axes.flat, models):
        count = len(training_labels(m.data))
        shown = display_d if display_d is not None and display_d > max(m.data.d) else None
        plot_latent_layout(ax, m.data, f"{m.key}\n{count:,d} images", display_d=shown, point_size=1.5)
        ax.set_xlabel("")
        ax.set_ylabel("")
    for ax in list(axes.flat)[len(models):]:
        ax.axis("off")
    fig.tight_layout()
    return fig


_METRIC_STYLE = {"x": ("tab:blue", "x"), "y": ("tab:orange", "y"), "joint": ("tab:green", "x and y")}


def _values(models: Sequence[ModelSpec], scores: Mapping[str, Mapping[str, Accuracy]], region: str,
            metric: str) -> tuple[list[float], list[float] | None]:
    """One metric of one region per model, in percent, and its spread across seeds (None for a single seed)."""
    accs = [scores[m.key][region] for m in models]
    spread = [100 * a.spread(metric) for a in accs] if any(a.seeds > 1 for a in accs) else None
    return [100 * getattr(a, metric) for a in accs], spread


def plot_region_bars(models: Sequence[ModelSpec], scores: Mapping[str, Mapping[str, Accuracy]],
                     regions: Sequence[str] = CROSS_PARTS, size: float = 3.2) -> plt.Figure:
    """Fig. 4 c-e: per test region (one panel each), the x, y and joint accuracy of each model."""
    fig, axes = plt.subplots(1, len(regions), figsize=(size * len(regions), 3.0), sharey=True, squeeze=False)
    positions = np.arange(len(models))
    for ax, region in zip(axes[0], regions):
        for j, (metric, (colour, label)) in enumerate(_METRIC_STYLE.items()):
            vals, errs = _values(models, scores, region, metric)
            ax.bar(positions + (j - 1) * 0.27, vals, width=0.27, color=colour, label=label, yerr=errs, capsize=2)
        count = scores[models[0].key][region].count if models else 0
        ax.set_xticks(positions, [m.label for m in models])
        ax.set_title(f"{region} (n = {count})", fontsize=9)
        ax.set_ylim(0, 105)
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].set_ylabel("accuracy (%)")
    axes[0, -1].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def plot_accuracy_bars(ax: plt.Axes, models: Sequence[ModelSpec], scores: Mapping[str, Mapping[str, Accuracy]],
                       regions: Sequence[str] = (ALL, IN_DISTRIBUTION, OOD), metric: str = "joint") -> None:
    """Fig. 10 b, e: grouped bars of one accuracy (default joint) per region (overall, ID, OOD), one group per model."""
    positions = np.arange(len(models))
    width = 0.8 / max(1, len(regions))
    for j, region in enumerate(regions):
        vals, errs = _values(models, scores, region, metric)
        ax.bar(positions + (j - (len(regions) - 1) / 2) * width, vals, width=width, yerr=errs, capsize=2,
               label="overall" if region == ALL else region)
    ax.set_xticks(positions, [m.label for m in models])
    ax.set_ylim(0, 105)
    ax.set_ylabel(f"{metric} accuracy (%)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)


def plot_versus(ax: plt.Axes, models: Sequence[ModelSpec], scores: Mapping[str, Mapping[str, Accuracy]],
                regions: Sequence[str] = (ALL, IN_DISTRIBUTION, OOD), metric: str = "joint", xlabel: str = "",
                title: str = "", xscale: float = 1.0) -> None:
    """Accuracy (one metric) of each region against the swept value (Fig. 4g, Fig. 11b, Fig. 12 c-f).
    ``xscale`` multiplies the values on the axis (100 for fractions as percentages)."""
    ordered = sorted(models, key=lambda m: m.value)
    xs = [xscale * m.value for m in ordered]
    for region in regions:
        ys, errs = _values(ordered, scores, region, metric)
        ax.errorbar(xs, ys, yerr=errs, fmt="-o", ms=4, capsize=2, label="overall" if region == ALL else region)
    ax.set_xticks(xs)
    ax.set_ylim(-3, 103)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{metric} accuracy (%)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def pick_region_centres(labels: np.ndarray, holdout: HoldOut, n: int, per_part: int = 3, seed: int = 0) -> np.ndarray:
    """Indices of ``per_part`` evaluation centres drawn (seeded) from each held-out part, part by part."""
    codes = holdout.codes(labels, n)
    rng = np.random.default_rng(seed)
    picked = []
    for code in sorted(holdout.parts):
        idx = np.flatnonzero(codes == code)
        picked += sorted(rng.choice(idx, size=min(per_part, len(idx)), replace=False).tolist())
    return np.asarray(picked, dtype=int)


def plot_region_samples(models: Sequence[ModelSpec], evaluations: Mapping[str, Evaluation], per_part: int = 3,
                        seed: int = 0, size: float = 1.3) -> plt.Figure:
    """Fig. 10 c, f: generated samples in the test regions, one row per model, the same centres in every
    row (drawn from each held-out part of the first model's hold-out), plus the ground truth on top.
    Red +: the estimated centre; the title marks whether x and y count (App. A.3)."""
    first = models[0]
    n = first.data.n
    labels = evaluations[first.key].labels
    idx = pick_region_centres(labels, first.scoring, n, per_part, seed)
    codes = first.scoring.codes(labels, n)
    truth = render(first.data.family, labels[idx, 0].astype(float), labels[idx, 1].astype(float), n,
                   first.data.sigma_x, first.data.sigma_y)
    rows = [("truth", truth, None)] + [(m.key, evaluations[m.key].images[idx], evaluations[m.key].centres[idx])
                                       for m in models]
    fig, axes = plt.subplots(len(rows), len(idx), figsize=(size * len(idx), size * len(rows) + 0.4), squeeze=False)
    for r, (name, images, centres) in enumerate(rows):
        for c, i in enumerate(idx):
            ax = axes[r, c]
            ax.imshow(images[c], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if centres is None:
                part = first.scoring.parts.get(int(codes[i]), "")
                ax.set_title(f"{part}\n({labels[i, 0]:g}, {labels[i, 1]:g})", fontsize=7)
            else:
                ax.plot(centres[c, 0] - 1, centres[c, 1] - 1, "r+", ms=8)
                ok = np.abs(centres[c] - labels[i]) < 1
                ax.set_title(f"x{'✓' if ok[0] else '✗'} y{'✓' if ok[1] else '✗'}", fontsize=7)
            if c == 0:
                ax.set_ylabel(name, fontsize=8)
    fig.tight_layout()
    return fig

