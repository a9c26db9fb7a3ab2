"""Figures of the data (notebook 01): images, the training sets' latent layouts, the overlap curves (Fig. 6b)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from gdlib.datasets import CATEGORIES, DatasetConfig, make_dataset
from gdlib.overlap import neighbour_overlap
from gdlib.regions import Cross, Lesion, Square

# Colours of Fig. 9 e-h: green 2D SOS, blue 1D, yellow 0D, magenta 2D bumps; the rim is 2D (App. C.1).
CATEGORY_COLOURS = {"2D": "tab:green", "rim": "darkgreen", "1D": "tab:blue", "0D": "gold"}
BUMP_COLOUR = "magenta"
HELD_OUT = dict(facecolor="red", alpha=0.25, edgecolor="none")


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


