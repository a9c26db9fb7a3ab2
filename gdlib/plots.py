"""Figures of the data (notebook 01) and the one way every notebook saves a figure."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from gdlib.claims import ClaimLog
from gdlib.datasets import CATEGORIES, DatasetConfig, make_dataset
from gdlib.overlap import neighbour_overlap
from gdlib.paths import atomic_write_bytes, outputs_dir
from gdlib.regions import Cross, Lesion, Square

# Colours of Fig. 9 e-h: green 2D SOS, blue 1D, yellow 0D, magenta 2D bumps; the rim is 2D (App. C.1).
CATEGORY_COLOURS = {"2D": "tab:green", "rim": "darkgreen", "1D": "tab:blue", "0D": "gold"}
BUMP_COLOUR = "magenta"
HELD_OUT = dict(facecolor="red", alpha=0.25, edgecolor="none")


def save_figure(fig: plt.Figure, name: str, log: ClaimLog | None = None, paper_figure: str = "",
                caption: str = "") -> Path:
    """Save ``fig`` as outputs/figures/<name>.png (150 dpi) and record it in the notebook's report."""
    path = outputs_dir() / "figures" / f"{name}.png"
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())
    if log is not None:
        log.figure(paper_figure, path, caption)
    return path


def show_images(images: np.ndarray, titles: Sequence[str] | None = None, ncols: int | None = None,
                size: float = 2.0) -> plt.Figure:
    """A grid of grayscale images (0 black, 255 white) with optional titles."""
    count = len(images)
    ncols = ncols or count
    nrows = int(np.ceil(count / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= count:
            ax.axis("off")
            continue
        ax.imshow(images[i], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig


def _draw_holdout(ax: plt.Axes, cfg: DatasetConfig) -> None:
    n, h = cfg.n, cfg.holdout
    if isinstance(h, Cross):
        ax.add_patch(Rectangle((h.low, 0), h.high - h.low, n, **HELD_OUT))
        ax.add_patch(Rectangle((0, h.low), n, h.high - h.low, **HELD_OUT))
    elif isinstance(h, Lesion):
        ax.add_patch(Rectangle((n / 2 - h.width / 2, 0), h.width, n, **HELD_OUT))
    elif isinstance(h, Square):
        low, high = h.bounds(n)
        ax.add_patch(Rectangle((low, low), high - low, high - low, **HELD_OUT))
    elif h is not None:  # CentreSquare
        side = h.side(n)
        ax.add_patch(Rectangle((n / 2 - side / 2,) * 2, side, side, **HELD_OUT))


def plot_latent_layout(ax: plt.Axes, cfg: DatasetConfig, title: str = "", display_d: float | None = None,
                       point_size: float = 2.0) -> None:
    """The training centres of ``cfg`` on the latent plane, coloured by category, held-out regions in red.

    ``display_d`` draws the same set on a coarser grid so that points stay visible (the categories and
    regions are unchanged; only the density differs). The visible frame [0, N]^2 is outlined.
    """
    shown = cfg if display_d is None else replace(cfg, d=display_d)
    ds = make_dataset(shown)
    for i, name in enumerate(CATEGORIES):
        sel = ds.category == i
        if not sel.any():
            continue
        colour = BUMP_COLOUR if (cfg.family == "bump" and name in ("2D", "rim")) else CATEGORY_COLOURS[name]
        label = f"{name} {'bump' if colour == BUMP_COLOUR else 'SOS/stripe'}"
        ax.scatter(ds.labels[sel, 0], ds.labels[sel, 1], s=point_size, c=colour, label=label, linewidths=0)
    _draw_holdout(ax, cfg)
    ax.add_patch(Rectangle((0, 0), cfg.n, cfg.n, fill=False, edgecolor="black", linewidth=0.8))
    lo, hi = -cfg.margin - 0.5, cfg.n + cfg.margin + 0.5
    ax.set_xlim(lo, hi)
    ax.set_ylim(hi, lo)  # y grows downwards, as in the images (Sec. 2: (1, 1) is top left)
    ax.set_aspect("equal")
    ax.set_xlabel(r"$\mu_x$")
    ax.set_ylabel(r"$\mu_y$")
    ax.set_title(title, fontsize=9)


def plot_overlap_curves(ax: plt.Axes, sigmas: Sequence[float], increments: np.ndarray, n: int = 32,
                        centre: float = 16.0) -> dict[float, np.ndarray]:
    """Fig. 6b: neighbour overlap versus increment d for several sigma; returns the curves."""
    curves = {}
    for sigma in sigmas:
        curves[sigma] = neighbour_overlap(sigma, increments, n=n, centre=centre)
        ax.plot(increments, curves[sigma], label=fr"$\sigma$ = {sigma:g}")
    ax.axhline(1.0, color="grey", linewidth=0.5, linestyle=":")
    ax.set_xlabel("increment d")
    ax.set_ylabel(r"overlap $\|\sqrt{a b}\|_2 / \|a\|_2$")
    ax.legend(fontsize=7)
    return curves


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
