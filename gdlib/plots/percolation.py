"""Figures of the percolation experiment (notebook 07; Sec. 3.3, App. D): the simulated mass ratio (Fig. 6c, 13,
14b), terminal accuracy and losses against lambda (Fig. 6e, 14c), the learned representations (Fig. 15) and a
generated bump beside its ground truth (Fig. 6d)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from gdlib.accuracy import BumpWidth
from gdlib.config import TrainConfig
from gdlib.experiments.percolation import SweepTable, seen_mask
from gdlib.percolation import PercolationResult
from gdlib.runs import evaluate
from gdlib.spectrum import participation_ratio, pca_project


def plot_mass_ratio(ax: plt.Axes, result, threshold: float) -> None:
    """Fig. 6c / 14b / 13: largest-cluster mass ratio versus lambda, one curve per sigma (mean +- std)."""
    i = result.thresholds.index(threshold)
    lambdas = np.asarray(result.lambdas)
    for j, sigma in enumerate(result.sigmas):
        mean, std = result.mean[i, j], result.std[i, j]
        ax.plot(lambdas, mean, marker="o", markersize=3, label=fr"$\sigma$ = {sigma:g}")
        ax.fill_between(lambdas, mean - std, mean + std, alpha=0.2)
    ax.set_xlabel(r"fraction of data $\lambda$")
    ax.set_ylabel("largest cluster mass ratio")
    ax.set_title(f"overlap threshold {threshold:g}", fontsize=9)
    ax.set_ylim(-0.02, 1.02)


def plot_threshold_grid(result: PercolationResult, ncols: int = 3) -> plt.Figure:
    """Fig. 13: one mass-ratio panel (:func:`gdlib.plots.percolation.plot_mass_ratio`) per overlap threshold."""
    k = len(result.thresholds)
    ncols = min(ncols, k)
    nrows = math.ceil(k / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 3.0 * nrows), squeeze=False)
    for ax, t in zip(axes.flat, result.thresholds):
        plot_mass_ratio(ax, result, t)
    for ax in list(axes.flat)[k:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_vs_lambda(ax: plt.Axes, table: SweepTable, field_name: str, linestyle: str = "-", marker: str = "o",
                   label_suffix: str = "", colours: Mapping[float, object] | None = None) -> None:
    """One curve per sigma of ``table.values[field_name]`` versus lambda (Fig. 6e, Fig. 14c); over several seeds
    the mean, with the spread across seeds as error bars."""
    lambdas = np.asarray(table.lambdas)
    for i, sigma in enumerate(table.sigmas):
        colour = None if colours is None else colours[sigma]
        yerr = table.spread[field_name][i] if table.seeds > 1 else None
        ax.errorbar(lambdas, table.values[field_name][i], yerr=yerr, linestyle=linestyle, marker=marker, markersize=4,
                    capsize=2 if yerr is not None else 0, color=colour or f"C{i}",
                    label=fr"$\sigma$ = {sigma:g}{label_suffix}")
    ax.set_xlabel(r"fraction of data $\lambda$")


def plot_accuracy(table: SweepTable) -> plt.Figure:
    """Fig. 6e: terminal joint accuracy versus lambda per sigma (solid: all N^2 centres; dashed: unseen)."""
    fig, ax = plt.subplots(figsize=(4.8, 3.6))
    plot_vs_lambda(ax, table, "accuracy")
    plot_vs_lambda(ax, table, "accuracy_unseen", linestyle="--", marker="x", label_suffix=" (unseen)")
    ax.set_ylabel("terminal accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_losses(table: SweepTable) -> plt.Figure:
    """Fig. 14c: final training (solid) and validation (dashed) loss versus lambda per sigma."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
    plot_vs_lambda(axes[0], table, "train_loss")
    plot_vs_lambda(axes[1], table, "val_loss", linestyle="--")
    axes[0].set_title("training loss (training set)", fontsize=9)
    axes[1].set_title("validation loss (held-out lattice sites)", fontsize=9)
    axes[0].set_ylabel("diffusion MSE (fixed t and noise)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_representation(ax: plt.Axes, labels: np.ndarray, activations: np.ndarray, seen: np.ndarray | None = None,
                        title: str = "") -> float:
    """PCs 1 and 2 of a representation (N^2 samples) with the lattice drawn as a mesh (Fig. 15).

    Neighbouring centres (one pixel apart in x or y) are joined, so a faithful 2D sheet looks like a grid;
    points are coloured by mu_x; training centres are filled, unseen ones hollow. Returns the
    participation ratio of the representation.
    """
    h = np.asarray(activations, dtype=np.float64).reshape(len(activations), -1)
    pcs = pca_project(h, 2)
    lab = np.rint(np.asarray(labels)).astype(np.int64)
    where = {tuple(c): k for k, c in enumerate(lab)}
    for k, (x, y) in enumerate(lab):
        for nb in ((x + 1, y), (x, y + 1)):
            if nb in where:
                m = where[nb]
                ax.plot(pcs[[k, m], 0], pcs[[k, m], 1], color="0.75", linewidth=0.5, zorder=1)
    seen = np.ones(len(lab), dtype=bool) if seen is None else np.asarray(seen, dtype=bool)
    ax.scatter(pcs[seen, 0], pcs[seen, 1], c=lab[seen, 0], cmap="viridis", s=10, zorder=2,
               vmin=lab[:, 0].min(), vmax=lab[:, 0].max())
    ax.scatter(pcs[~seen, 0], pcs[~seen, 1], facecolors="none", s=10, zorder=2, linewidths=0.6,
               edgecolors=plt.get_cmap("viridis")((lab[~seen, 0] - lab[:, 0].min()) / max(1, np.ptp(lab[:, 0]))))
    pr = participation_ratio(h)
    ax.set_title(f"{title}\nPR {pr:.1f}", fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    return pr


def plot_representation_grid(configs: Mapping[tuple[float, float], TrainConfig], name: str,
                             sigmas: Sequence[float], lambdas: Sequence[float],
                             layer: str = "layer4") -> tuple[plt.Figure, dict[tuple[float, float], float]]:
    """Fig. 15: :func:`plot_representation` of ``layer`` at the last denoising step for each sigma (rows) x
    lambda (columns); returns the figure and each model's participation ratio."""
    fig, axes = plt.subplots(len(sigmas), len(lambdas), figsize=(2.4 * len(lambdas), 2.5 * len(sigmas)),
                             squeeze=False)
    prs = {}
    for i, sigma in enumerate(sigmas):
        for j, lam in enumerate(lambdas):
            cfg = configs[(float(sigma), float(lam))]
            ev = evaluate(cfg, name, "final", layers=(layer,))
            prs[(sigma, lam)] = plot_representation(
                axes[i, j], ev.labels, ev.activations[layer], seen_mask(cfg, ev.labels),
                fr"$\sigma$ {sigma:g}, $\lambda$ {lam:g}: acc {100 * ev.accuracy:.0f}%")
    fig.tight_layout()
    return fig, prs


def plot_bump_pair(truth: np.ndarray, generated: np.ndarray, truth_width: BumpWidth,
                   generated_width: BumpWidth, centre: tuple[float, float]) -> plt.Figure:
    """Fig. 6d: ground-truth bump (left) beside the generated one (right) with their measured widths."""
    fig, axes = plt.subplots(1, 2, figsize=(5.6, 3.0))
    for ax, im, title, w in ((axes[0], truth, "ground truth", truth_width),
                             (axes[1], generated, "generated", generated_width)):
        ax.imshow(im, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(f"{title}\nhalf-max {w.half_max_pixels} px, sigma {w.sigma:.2f}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"centre ({centre[0]:g}, {centre[1]:g})", fontsize=9)
    fig.tight_layout()
    return fig
