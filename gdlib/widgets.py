"""ipywidgets browsers for a live kernel. Never the figure of record: notebooks save static figures too."""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from gdlib.datasets import CATEGORIES, Dataset, DatasetConfig, make_dataset
from gdlib.regions import nearest_indices


def dataset_browser(cfg: DatasetConfig | Dataset) -> widgets.Widget:
    """Sliders over (mu_x, mu_y) showing the training image nearest to that centre and its tag."""
    ds = cfg if isinstance(cfg, Dataset) else make_dataset(cfg)
    lo, hi = float(ds.labels.min()), float(ds.labels.max())
    step = float(min(ds.config.d))
    out = widgets.Output()

    def show(mu_x: float, mu_y: float) -> None:
        i = int(nearest_indices(np.array([[mu_x, mu_y]]), ds.labels, ds.config.n, ds.config.periodic)[0])
        with out:
            out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(3, 3))
            ax.imshow(ds.images[i], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_title(f"({ds.labels[i, 0]:.2f}, {ds.labels[i, 1]:.2f}) {CATEGORIES[ds.category[i]]}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
            plt.show()

    sliders = {name: widgets.FloatSlider(value=(lo + hi) / 2, min=lo, max=hi, step=step, description=name)
               for name in ("mu_x", "mu_y")}
    widgets.interactive_output(show, sliders)
    return widgets.VBox([widgets.HBox(list(sliders.values())), out])


def manifold_browser(reps) -> widgets.Widget:
    """Browse a model's representation: checkpoint slider, PC pair, colour by mu_x or mu_y.

    ``reps``: the list of :class:`gdlib.representation.CheckpointRepresentation` of notebook 03/04.
    """
    out = widgets.Output()
    checkpoint = widgets.IntSlider(value=len(reps) - 1, min=0, max=len(reps) - 1, description="checkpoint")
    pc_a = widgets.IntSlider(value=1, min=1, max=8, description="PC a")
    pc_b = widgets.IntSlider(value=3, min=1, max=8, description="PC b")
    colour = widgets.ToggleButtons(options=["x", "y"], description="colour by")

    def show(checkpoint: int, pc_a: int, pc_b: int, colour: str) -> None:
        r = reps[checkpoint]
        coords = r.pca.project(r.h, max(pc_a, pc_b))
        with out:
            out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(4, 4))
            ax.scatter(coords[:, pc_a - 1], coords[:, pc_b - 1], c=r.labels[:, 0 if colour == "x" else 1],
                       cmap="twilight", s=6)
            ax.set_xlabel(f"PC {pc_a}")
            ax.set_ylabel(f"PC {pc_b}")
            ax.set_title(f"epoch {r.epoch}, accuracy {100 * r.accuracy:.0f}%", fontsize=9)
            plt.show()

    widgets.interactive_output(show, {"checkpoint": checkpoint, "pc_a": pc_a, "pc_b": pc_b, "colour": colour})
    return widgets.VBox([widgets.HBox([checkpoint, colour]), widgets.HBox([pc_a, pc_b]), out])
