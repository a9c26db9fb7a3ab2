"""Every figure of the package, one module per topic, and the one way a notebook saves a figure.

- :mod:`gdlib.plots.data`: images and the training sets' latent layouts, the overlap curves (notebook 01);
- :mod:`gdlib.plots.training`: loss and accuracy over training, samples beside the ground truth (02);
- :mod:`gdlib.plots.geometry`: eigenspectra, PCA projections, UMAP, persistence diagrams, Fig. 3's torus tests
  (03, 04);
- :mod:`gdlib.plots.composition`, :mod:`gdlib.plots.sample_efficiency`, :mod:`gdlib.plots.percolation`: the
  figures of notebooks 05, 06 and 07;
- :mod:`gdlib.plots.curves`: the learning curves of the generalisation claims beside their controls.

Analysis modules never import matplotlib: they return numbers, and these functions draw them. A figure of record
is saved with :func:`save_figure`, which also records it in the notebook's report.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib.pyplot as plt

from gdlib.claims import ClaimLog
from gdlib.paths import atomic_write_bytes, outputs_dir


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


__all__ = ["save_figure"]
