"""Figures of a representation's geometry (notebooks 03 and 04): eigenspectra and PCA projections (Fig. 2 d-g),
a 3D embedding (App. A.2), persistence diagrams (Fig. 2b) and the torus-test histograms (Fig. 3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from gdlib.checks import check_choice, check_int
from gdlib.spectrum import explained_variance_ratio, pca_project
from gdlib.topology import PersistenceResult
from gdlib.torus_geometry import FAMILIES, STATISTICS, TorusTestResult


def plot_eigenspectrum(h: np.ndarray, ax, k: int = 15, top: int = 4, title: str | None = None):
    """Bar plot of the explained-variance ratios of the top ``k`` PCs (Fig. 2d: k = 15).

    The title (or the text in the top right) gives the summed ratio of the top ``top`` PCs, as Fig. 2d does.
    """
    check_int("k", k, 1)
    check_int("top", top, 1, k)
    ratios = explained_variance_ratio(h)
    shown = ratios[:k]
    ax.bar(
        np.arange(1, len(shown) + 1),
        shown,
        color=["tab:red" if i < top else "tab:gray" for i in range(len(shown))],
    )
    ax.set_xlabel("PC")
    ax.set_ylabel("explained variance ratio")
    ax.text(0.97, 0.95, f"top {top}: {ratios[:top].sum():.0%}", transform=ax.transAxes, ha="right", va="top")
    if title is not None:
        ax.set_title(title)
    return ax


def plot_pca_projections(
    h: np.ndarray,
    labels: np.ndarray,
    axes: Sequence,
    pcs: Sequence[tuple[int, int]] = ((1, 3), (2, 4)),
    color_by: str = "x",
    s: float = 4.0,
):
    """Scatter the projections of ``h`` on the PC pairs ``pcs`` (1-based), one per axis (Fig. 2 e-g).

    Default pairs PCs 1 & 3 and 2 & 4, where the rings of a learned Clifford-like torus appear
    (App. B.2). Points are coloured by mu_x (``color_by="x"``) or mu_y ("y") with a cyclic colormap.
    """
    check_choice("color_by", color_by, ("x", "y"))
    if len(axes) != len(pcs):
        raise ValueError(f"axes has {len(axes)} entries but pcs asks for {len(pcs)} projections")
    needed = max(max(p) for p in pcs)
    coords = pca_project(h, needed)
    c = np.asarray(labels)[:, 0 if color_by == "x" else 1]
    for ax, (a, b) in zip(axes, pcs, strict=True):
        ax.scatter(coords[:, a - 1], coords[:, b - 1], c=c, cmap="twilight", s=s)
        ax.set_xlabel(f"PC {a}")
        ax.set_ylabel(f"PC {b}")
        ax.set_aspect("equal", adjustable="datalim")
    return axes


def plot_embedding_3d(embedding: np.ndarray, labels: np.ndarray, ax, color_by: str = "x", s: float = 4.0):
    """Scatter a 3D embedding (e.g. from :func:`gdlib.embedding.umap_3d`) on a 3D axis, by mu_x or mu_y."""
    check_choice("color_by", color_by, ("x", "y"))
    embedding = np.asarray(embedding)
    if embedding.ndim != 2 or embedding.shape[1] != 3:
        raise ValueError(f"embedding must have shape (n, 3), got {embedding.shape}")
    c = np.asarray(labels)[:, 0 if color_by == "x" else 1]
    ax.scatter(embedding[:, 0], embedding[:, 1], embedding[:, 2], c=c, cmap="twilight", s=s)
    return ax


COLORS = {"3d": "tab:blue", "model": "tab:green", "clifford": "tab:orange"}


TITLES = {"3d": "3D torus", "model": "model", "clifford": "Clifford torus"}


def plot_torus_tests(
    results: Mapping[str, TorusTestResult],
    fig=None,
    overlay: bool = False,
    bins: int = 30,
):
    """Draw the Fig. 3 grid of histograms onto ``fig`` (a new figure if None); returns the figure.

    Rows: x-on-y, x-on-x, y-on-y; columns: orthogonality (principal angles, degrees, 0..90) and
    parallelism (normalised error, 0..1). ``results`` maps a name to its result, e.g.
    ``{"3d": ..., "model": ..., "clifford": ...}``: side by side (a 2-column block per result, as in
    Fig. 3 a-c) or, with ``overlay=True``, overlaid in one 3 x 2 grid. Names "3d", "model" and
    "clifford" get the paper's colours (blue, green, orange).
    """
    if not results:
        raise ValueError("results is empty: nothing to plot")
    check_int("bins", bins, 1)
    names = list(results)
    n_blocks = 1 if overlay else len(names)
    if fig is None:
        fig = plt.figure(figsize=(3.2 * 2 * n_blocks, 7.5), layout="constrained")
    axes = fig.subplots(len(FAMILIES), 2 * n_blocks, squeeze=False)
    ranges = {"orthogonality": (0.0, 90.0), "parallelism": (0.0, 1.0)}
    edges = {s: np.linspace(*ranges[s], bins + 1) for s in STATISTICS}
    fallback = iter(plt.rcParams["axes.prop_cycle"].by_key()["color"][3:])
    colors = {name: COLORS.get(name) or next(fallback, "gray") for name in names}
    for k, name in enumerate(names):
        block = 0 if overlay else k
        for row, family in enumerate(FAMILIES):
            for col, stat in enumerate(STATISTICS):
                ax = axes[row, 2 * block + col]
                values = np.clip(results[name].statistic(family, stat), *ranges[stat])
                ax.hist(
                    values,
                    bins=edges[stat],
                    color=colors[name],
                    alpha=0.6 if overlay else 0.9,
                    label=TITLES.get(name, name),
                )
                ax.set_xlim(*ranges[stat])
                if row == 0:
                    title = stat if overlay else f"{TITLES.get(name, name)}\n{stat}"
                    ax.set_title(title, fontsize=9)
                if row == len(FAMILIES) - 1:
                    ax.set_xlabel(
                        "principal angle (deg)" if stat == "orthogonality" else "reconstruction error"
                    )
                if col == 0 and block == 0:
                    ax.set_ylabel(family)
    if overlay:
        axes[0, 0].legend(fontsize=8)
    return fig


def plot_persistence(
    diagrams: PersistenceResult | Sequence[np.ndarray],
    ax,
    title: str | None = None,
    labels: Sequence[str] | None = None,
):
    """Draw persistence diagrams (H0, H1, H2 in persim's colours) on the matplotlib axis ``ax`` (Fig. 2b)."""
    from persim import plot_diagrams

    dgms = diagrams.diagrams if isinstance(diagrams, PersistenceResult) else list(diagrams)
    if not dgms:
        raise ValueError("diagrams is empty: nothing to plot")
    names = list(labels) if labels is not None else [f"$H_{k}$" for k in range(len(dgms))]
    plot_diagrams(dgms, ax=ax, labels=names, show=False)
    if title is not None:
        ax.set_title(title)
    return ax
