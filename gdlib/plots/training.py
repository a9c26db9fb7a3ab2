"""Figures of a training run (notebook 02): loss and accuracy curves, generated samples beside the ground truth,
samples over training."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from gdlib.accuracy import correct
from gdlib.config import TrainConfig
from gdlib.controls import oracle_images
from gdlib.runs import Evaluation, load_metrics


def plot_training_curves(cfg: TrainConfig, name: str, axes: Sequence[plt.Axes] | None = None) -> plt.Figure:
    """Left: training loss (mean per logged interval) against step. Right: accuracy (joint, x, y;
    App. A.3) against epoch at the evaluation epochs, the final one included."""
    m = load_metrics(cfg, name)
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    else:
        fig = axes[0].figure
    ax = axes[0]
    ok = np.isfinite(m["loss"])
    ax.plot(m["step"][ok], m["loss"][ok], color="tab:blue", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss (MSE of eps)")
    ax.set_title("loss")
    ax.grid(alpha=0.3)
    ax = axes[1]
    ok = np.isfinite(m["accuracy"])
    for col, label, style in (("accuracy", "joint", "-o"), ("accuracy_x", "x only", "--"),
                              ("accuracy_y", "y only", ":")):
        ax.plot(m["epoch"][ok], 100 * m[col][ok], style, label=label, ms=4)
    ax.set_ylim(-3, 103)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"accuracy on the {cfg.data.n}x{cfg.data.n} grid of centres")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _pick(labels: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(len(labels), size=min(count, len(labels)), replace=False))


def plot_samples_vs_truth(cfg: TrainConfig, ev: Evaluation, count: int = 8, seed: int = 0) -> plt.Figure:
    """Generated samples (top row) beside the ground-truth image of the same centre (bottom row); a red
    cross marks the estimated centre, the title says the label and whether the sample counts."""
    idx = _pick(ev.labels, count, seed)
    truth = oracle_images(ev.labels[idx], cfg.data)
    ok = correct(ev.labels[idx], ev.centres[idx], cfg.data.n, cfg.data.periodic).all(axis=1)
    fig, axes = plt.subplots(2, len(idx), figsize=(1.6 * len(idx), 3.6), squeeze=False)
    for j, i in enumerate(idx):
        for row, img in ((0, ev.images[i]), (1, truth[j])):
            ax = axes[row, j]
            ax.imshow(img, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        cx, cy = ev.centres[i]
        axes[0, j].plot(cx - 1, cy - 1, "r+", ms=8)
        mu = ev.labels[i]
        axes[0, j].set_title(f"({mu[0]:.0f}, {mu[1]:.0f}) {'ok' if ok[j] else 'miss'}", fontsize=8,
                             color="black" if ok[j] else "red")
    axes[0, 0].set_ylabel("generated", fontsize=9)
    axes[1, 0].set_ylabel("ground truth", fontsize=9)
    fig.suptitle(f"epoch {ev.epoch}: joint accuracy {100 * ev.accuracy:.1f}%", fontsize=10)
    fig.tight_layout()
    return fig


def plot_samples_over_training(evaluations: Sequence[Evaluation], count: int = 8,
                               seed: int = 0) -> plt.Figure:
    """One row per evaluated checkpoint, the same centres in every row (the same noise too)."""
    idx = _pick(evaluations[0].labels, count, seed)
    rows = len(evaluations)
    fig, axes = plt.subplots(rows, len(idx), figsize=(1.3 * len(idx), 1.3 * rows + 0.4), squeeze=False)
    for r, ev in enumerate(evaluations):
        for j, i in enumerate(idx):
            ax = axes[r, j]
            ax.imshow(ev.images[i], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"({ev.labels[i, 0]:.0f}, {ev.labels[i, 1]:.0f})", fontsize=8)
        axes[r, 0].set_ylabel(f"ep {ev.epoch}\n{100 * ev.accuracy:.0f}%", fontsize=8)
    fig.tight_layout()
    return fig


