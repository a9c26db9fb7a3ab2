"""Figures of a representation's geometry on given matplotlib axes (Fig. 2 d-g, Fig. 15).

The Fig. 3 torus-test histograms are :func:`gdlib.torus_geometry.plot_torus_tests`; persistence diagrams
are :func:`gdlib.topology.plot_persistence`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gdlib.checks import check_choice, check_int
from gdlib.spectrum import explained_variance_ratio, pca_project


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
